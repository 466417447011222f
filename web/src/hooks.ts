import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { asApiError, type ApiError } from './api/client';

export interface Async<T> {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
  setData: (update: T | ((old: T | undefined) => T)) => void;
}

/** Loads data when the deps change; stale answers (of older deps) are dropped. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const generation = useRef(0);
  useEffect(() => {
    const mine = ++generation.current;
    setLoading(true);
    setError(null);
    load().then(
      (d) => {
        if (generation.current !== mine) return;
        setData(() => d);
        setLoading(false);
      },
      (e) => {
        if (generation.current !== mine) return;
        setError(asApiError(e));
        setLoading(false);
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload, setData: setData as Async<T>['setData'] };
}

export interface Pages<T> {
  /** The items of the pages loaded so far; null until the first page is there. */
  items: T[] | null;
  /** The cursor of the next page, if there is one. */
  next: string | null;
  error: ApiError | null;
  /** Loads the next page and appends its items. */
  more: () => Promise<void>;
}

/**
 * A list read page by page with a cursor: the first page whenever the deps change (answers for
 * older deps are dropped), the next ones on `more()`.
 */
export function usePages<T>(load: (cursor?: string) => Promise<{ items: T[]; next: string | null }>, deps: unknown[]): Pages<T> {
  const [items, setItems] = useState<T[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    let live = true;
    setItems(null);
    setError(null);
    load().then(
      (p) => {
        if (!live) return;
        setItems(p.items);
        setNext(p.next);
      },
      (e) => live && setError(asApiError(e)),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  const more = async () => {
    if (!next) return;
    try {
      const p = await load(next);
      setItems((o) => [...(o ?? []), ...p.items]);
      setNext(p.next);
    } catch (e) {
      setError(asApiError(e));
    }
  };
  return { items, next, error, more };
}

export interface Save {
  busy: boolean;
  error: ApiError | null;
  setError: (error: ApiError | null) => void;
  /** Runs the save: busy meanwhile, a failure as `error`. */
  save: (action: () => Promise<unknown>) => Promise<void>;
  /** A form's submit handler that runs `action` as the save. */
  onSubmit: (action: () => Promise<unknown>) => (e: Event) => void;
}

/**
 * A form's save: `busy` while it runs, the API's refusal as `error` (a 412 reworded as `conflict`
 * when given). A form that `leaves` once saved (closed, or navigated away from) stays busy until
 * it is gone.
 */
export function useSave({ conflict, leaves = false }: { conflict?: string; leaves?: boolean } = {}): Save {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const save = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      if (!leaves) setBusy(false);
    } catch (err) {
      const a = asApiError(err);
      setError(conflict && a.status === 412 ? Object.assign(a, { message: conflict }) : a);
      setBusy(false);
    }
  };
  const onSubmit = (action: () => Promise<unknown>) => (e: Event) => {
    e.preventDefault();
    void save(action);
  };
  return { busy, error, setError, save, onSubmit };
}

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Docket` : 'Docket';
  }, [title]);
}

/** Runs the callback every `ms` while the tab is visible. */
export function useInterval(callback: () => void, ms: number | null): void {
  const saved = useRef(callback);
  saved.current = callback;
  useEffect(() => {
    if (ms === null) return undefined;
    const id = window.setInterval(() => {
      if (document.visibilityState === 'visible') saved.current();
    }, ms);
    return () => window.clearInterval(id);
  }, [ms]);
}

/** The value after it stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const id = window.setTimeout(() => setDebounced(value), ms);
    return () => window.clearTimeout(id);
  }, [value, ms]);
  return debounced;
}

/** A stable id for label/control pairs. */
let counter = 0;
export function useId(prefix = 'f'): string {
  const ref = useRef<string | null>(null);
  if (ref.current === null) ref.current = `${prefix}-${++counter}`;
  return ref.current;
}

/**
 * `#/signin/<token>`: trades a sign-in link's token for a session, once (the page's explicit
 * POST; a mail scanner fetching the link spends nothing). The token is taken out of the address
 * bar and history first. Returns the refusal, if any.
 */
export function useSpentLink(token: string, redeem: (token: string) => Promise<void>, onSignedIn: () => void): ApiError | null {
  const started = useRef(false);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    history.replaceState(null, '', '#/signin');
    redeem(token).then(onSignedIn, (e) => setError(asApiError(e)));
  }, [token, redeem, onSignedIn]);
  return error;
}

/** Why a sign-in link was refused, in words. */
export function linkRefusal(error: ApiError): string {
  return error.status === 401 || error.status === 404 || error.status === 410
    ? 'This sign-in link has expired or has already been used.'
    : `Signing in failed: ${error.message}`;
}
