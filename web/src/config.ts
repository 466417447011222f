// The runtime configuration the server hands out at /config.json: how staff sign in and where the
// API lives (same origin; "" locally, "/api" behind API Gateway).

import type { CognitoConfig } from './cognito';

export type { CognitoConfig };

export type RuntimeConfig =
  | { auth: 'local'; api: string }
  | { auth: 'cognito'; api: string; cognito: CognitoConfig };

export async function loadConfig(): Promise<RuntimeConfig> {
  // Preloaded by index.html while the script loads; the server's no-cache revalidates it each time.
  const response = await fetch('/config.json', { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`The console configuration could not be loaded (HTTP ${response.status}).`);
  const raw = (await response.json()) as Partial<{ auth: string; api: string; cognito: CognitoConfig }>;
  const api = typeof raw.api === 'string' ? raw.api.replace(/\/+$/, '') : '';
  if (raw.auth === 'cognito') {
    if (!raw.cognito) throw new Error('The console configuration names Cognito sign-in without its settings.');
    return { auth: 'cognito', api, cognito: raw.cognito };
  }
  return { auth: 'local', api };
}
