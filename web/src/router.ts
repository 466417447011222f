// A small hash router: `#/cases/42?status=New`. The hash is never sent to a server, so a sign-in
// token in `#/signin/<token>` stays in the browser.
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  /** Path segments, decoded: `#/cases/42` gives ["cases", "42"]. */
  parts: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [path = '', search = ''] = raw.split('?', 2);
  const parts = path
    .split('/')
    .filter((p) => p.length > 0)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
  return { parts, query: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

/** Builds `#/a/b?x=1`, encoding each segment and dropping empty query values. */
export function href(parts: (string | number)[], query?: Record<string, string | undefined | null>): string {
  const path = parts.map((p) => encodeURIComponent(String(p))).join('/');
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v) params.set(k, v);
  const qs = params.toString();
  return `#/${path}${qs ? `?${qs}` : ''}`;
}

export function navigate(target: string, replace = false): void {
  if (replace) {
    history.replaceState(null, '', target);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = target.replace(/^#/, '');
  }
}
