// Directory records the console shows by name everywhere (users, teams, mailboxes), loaded once
// per session and refreshed after an admin changes them; contacts and accounts by id, cached.
import { useEffect, useState } from 'preact/hooks';
import { api, ok } from './api/client';
import { type Account, type Article, type Calendar, type Contact, isStaffArticle, type Mailbox, type Team, type User } from './api/types';

interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

/** Every page of a list, up to `max` records. */
export async function fetchAll<T>(page: (cursor: string | undefined) => Promise<Page<T>>, max = 2000): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | undefined;
  do {
    const p = await page(cursor);
    all.push(...p.items);
    cursor = p.next_cursor ?? undefined;
  } while (cursor && all.length < max);
  return all;
}

export class ListCache<T extends { id: string }> {
  private items: T[] | null = null;
  private pending: Promise<T[]> | null = null;
  private listeners = new Set<() => void>();
  constructor(private readonly loader: () => Promise<T[]>) {}

  current(): T[] | null {
    return this.items;
  }
  load(): Promise<T[]> {
    if (this.items) return Promise.resolve(this.items);
    if (!this.pending) {
      this.pending = this.loader().then(
        (items) => {
          this.items = items;
          this.pending = null;
          this.emit();
          return items;
        },
        (e) => {
          this.pending = null;
          throw e;
        },
      );
    }
    return this.pending;
  }
  invalidate(): void {
    this.items = null;
    void this.load().catch(() => undefined);
  }
  /** Forgets everything (signed out: the next user may see other records). */
  clear(): void {
    this.items = null;
    this.pending = null;
  }
  /** Puts a record that was just created or changed. */
  put(record: T): void {
    if (!this.items) return;
    const i = this.items.findIndex((x) => x.id === record.id);
    this.items = i >= 0 ? this.items.map((x) => (x.id === record.id ? record : x)) : [...this.items, record];
    this.emit();
  }
  byId(id: string | null | undefined): T | undefined {
    return id ? this.items?.find((x) => x.id === id) : undefined;
  }
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  private emit(): void {
    for (const l of this.listeners) l();
  }
}

export function useList<T extends { id: string }>(cache: ListCache<T>): T[] | null {
  const [items, setItems] = useState<T[] | null>(cache.current());
  useEffect(() => {
    const unsubscribe = cache.subscribe(() => setItems(cache.current()));
    cache.load().then(setItems, () => setItems((old) => old ?? []));
    return unsubscribe;
  }, [cache]);
  return items;
}

export const users = new ListCache<User>(() =>
  fetchAll((cursor) => ok(api.GET('/users', { params: { query: { limit: 100, cursor } } }))),
);
export const teams = new ListCache<Team>(() =>
  fetchAll((cursor) => ok(api.GET('/teams', { params: { query: { limit: 100, cursor } } }))),
);
export const mailboxes = new ListCache<Mailbox>(() =>
  fetchAll((cursor) => ok(api.GET('/mailboxes', { params: { query: { limit: 100, cursor } } }))),
);
/** Business-hours calendars (admins only: the API refuses agents, so only admin screens load it). */
export const calendars = new ListCache<Calendar>(() =>
  fetchAll((cursor) => ok(api.GET('/calendars', { params: { query: { limit: 100, cursor } } }))),
);
/** For pickers: the API has no name search yet, so the console filters the first pages itself. */
export const contacts = new ListCache<Contact>(() =>
  fetchAll((cursor) => ok(api.GET('/contacts', { params: { query: { limit: 100, cursor } } })), 1000),
);
export const accounts = new ListCache<Account>(() =>
  fetchAll((cursor) => ok(api.GET('/accounts', { params: { query: { limit: 100, cursor } } })), 1000),
);

export const articles = new ListCache<Article>(async () =>
  (await fetchAll((cursor) => ok(api.GET('/articles', { params: { query: { limit: 100, cursor } } })), 1000)).filter(isStaffArticle),
);

/** Records by id, fetched one at a time and remembered. */
class ByIdCache<T> {
  private known = new Map<string, T | null>();
  private pending = new Map<string, Promise<T | null>>();
  constructor(private readonly fetchOne: (id: string) => Promise<T>) {}
  peek(id: string): T | null | undefined {
    return this.known.get(id);
  }
  set(id: string, value: T): void {
    this.known.set(id, value);
  }
  clear(): void {
    this.known.clear();
    this.pending.clear();
  }
  get(id: string): Promise<T | null> {
    if (this.known.has(id)) return Promise.resolve(this.known.get(id) ?? null);
    let p = this.pending.get(id);
    if (!p) {
      p = this.fetchOne(id).then(
        (v) => {
          this.known.set(id, v);
          this.pending.delete(id);
          return v;
        },
        () => {
          this.known.set(id, null);
          this.pending.delete(id);
          return null;
        },
      );
      this.pending.set(id, p);
    }
    return p;
  }
}

export const contactById = new ByIdCache<Contact>((id) => ok(api.GET('/contacts/{id}', { params: { path: { id } } })));
export const accountById = new ByIdCache<Account>((id) => ok(api.GET('/accounts/{id}', { params: { path: { id } } })));

export function useRecord<T>(cache: ByIdCache<T>, id: string | null | undefined): T | null | undefined {
  const [value, setValue] = useState<T | null | undefined>(id ? cache.peek(id) : null);
  useEffect(() => {
    if (!id) {
      setValue(null);
      return undefined;
    }
    let live = true;
    setValue(cache.peek(id));
    cache.get(id).then((v) => live && setValue(v));
    return () => {
      live = false;
    };
  }, [cache, id]);
  return value;
}

export function userName(list: User[] | null, id: string | null | undefined): string {
  if (!id) return '';
  return list?.find((u) => u.id === id)?.name ?? 'Unknown user';
}

/** Forgets every cached record, at sign-out. */
export function clearDirectory(): void {
  for (const c of [users, teams, mailboxes, calendars, contacts, accounts, articles]) c.clear();
  contactById.clear();
  accountById.clear();
}
