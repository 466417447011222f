// The one place that knows how staff sign in. Locally: a one-time link by email, redeemed for an
// HttpOnly session cookie. On AWS: Cognito's hosted sign-in (cognito.ts); its ID token is kept in
// memory only, sent as a bearer token and renewed before it expires.
import type { RuntimeConfig } from './config';
import { check, rawFetch } from './api/client';
import { setBearer, signedOut } from './api/credentials';
import * as cognito from './cognito';

let config: RuntimeConfig = { auth: 'local', api: '' };
let tokens: cognito.Tokens | null = null;
let renewal: number | undefined;

export function authMode(): RuntimeConfig['auth'] {
  return config.auth;
}

/**
 * Call once at start. On AWS this finishes a sign-in the browser just came back from; a refused
 * or foreign answer is returned as a message for the sign-in screen.
 */
export async function initAuth(cfg: RuntimeConfig): Promise<{ notice?: string }> {
  config = cfg;
  if (cfg.auth !== 'cognito') return {};
  try {
    const got = await cognito.completeSignIn(cfg.cognito);
    if (got) useTokens(got);
    return {};
  } catch (e) {
    if (e instanceof cognito.SignInError) return { notice: e.message };
    throw e;
  }
}

function useTokens(t: cognito.Tokens): void {
  tokens = t;
  setBearer(t.idToken);
  window.clearTimeout(renewal);
  // Renew a minute or two before expiry while the refresh token lasts; else the next 401 shows
  // the sign-in screen.
  const wait = Math.max(t.expiresAt - Date.now() - 120_000, 10_000);
  renewal = window.setTimeout(() => void renew(), wait);
}

async function renew(): Promise<void> {
  if (config.auth !== 'cognito' || !tokens) return;
  try {
    const next = await cognito.refresh(config.cognito, tokens);
    if (next) return useTokens(next);
  } catch {
    // Network trouble: try once more shortly, unless the token has run out meanwhile.
    if (!cognito.expiresSoon(tokens, Date.now(), 0)) {
      renewal = window.setTimeout(() => void renew(), 30_000);
      return undefined;
    }
  }
  tokens = null;
  setBearer(null);
  signedOut();
  return undefined;
}

/** Local mode: ask for a sign-in link. The server answers the same whether or not the address is a user's. */
export async function requestLink(email: string): Promise<void> {
  await check(
    await rawFetch(
      '/auth/link',
      { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email }) },
      { signOutOn401: false },
    ),
  );
}

/** Local mode: trade the link's one-time token for a session cookie. */
export async function redeemLink(token: string): Promise<void> {
  await check(
    await rawFetch(
      '/auth/session',
      { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) },
      { signOutOn401: false },
    ),
  );
}

/** AWS mode: go to the hosted sign-in page. */
export async function beginCognitoSignIn(): Promise<void> {
  if (config.auth !== 'cognito') return;
  await cognito.beginSignIn(config.cognito);
}

export async function signOut(): Promise<void> {
  if (config.auth === 'cognito') {
    window.clearTimeout(renewal);
    tokens = null;
    setBearer(null);
    location.assign(cognito.signOutUrl(config.cognito));
    return;
  }
  await check(await rawFetch('/auth/signout', { method: 'POST' }, { signOutOn401: false }));
}
