// The runtime configuration the server hands out at /config.json: how staff sign in and where the
// API lives (same origin; "" locally, "/api" behind API Gateway).

import type { CognitoConfig } from './cognito';

export type { CognitoConfig };

export type RuntimeConfig =
  | { auth: 'local'; api: string }
  | { auth: 'cognito'; api: string; cognito: CognitoConfig };

/** /config.json as the server wrote it (the console and the customer portal each read their part). */
export async function fetchConfig(what = 'console'): Promise<Record<string, unknown>> {
  // Preloaded by the page while the script loads; the server's no-cache revalidates it each time.
  const response = await fetch('/config.json', { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`The ${what} configuration could not be loaded (HTTP ${response.status}).`);
  const raw: unknown = await response.json();
  return raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
}

/** The API's prefix ("" locally, "/api" behind API Gateway), without a trailing slash. */
export function apiBase(raw: Record<string, unknown>): string {
  return typeof raw.api === 'string' ? raw.api.replace(/\/+$/, '') : '';
}

export async function loadConfig(): Promise<RuntimeConfig> {
  const raw = (await fetchConfig()) as Partial<{ auth: string; api: string; cognito: CognitoConfig }>;
  const api = apiBase(raw);
  if (raw.auth === 'cognito') {
    if (!raw.cognito) throw new Error('The console configuration names Cognito sign-in without its settings.');
    return { auth: 'cognito', api, cognito: raw.cognito };
  }
  return { auth: 'local', api };
}
