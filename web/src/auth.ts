// The one place that knows how staff sign in. Locally: a one-time link by email, redeemed for an
// HttpOnly session cookie. On AWS: Cognito's hosted sign-in (cognito.ts); its ID token is kept in
// memory only, sent as a bearer token and renewed before it expires.
import type { RuntimeConfig } from './config';
import { postAuth } from './api/client';
import { TokenHolder } from './api/tokens';
import * as cognito from './cognito';

let config: RuntimeConfig = { auth: 'local', api: '' };
let held: TokenHolder<cognito.Tokens> | null = null;

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
  const cognitoConfig = cfg.cognito;
  held = new TokenHolder((t) => cognito.refresh(cognitoConfig, t));
  try {
    const got = await cognito.completeSignIn(cfg.cognito);
    if (got) held.use(got);
    return {};
  } catch (e) {
    if (e instanceof cognito.SignInError) return { notice: e.message };
    throw e;
  }
}



/** Local mode: ask for a sign-in link. The server answers the same whether or not the address is a user's. */
export async function requestLink(email: string): Promise<void> {
  await postAuth('/auth/link', { email });
}

/** Local mode: trade the link's one-time token for a session cookie. */
export async function redeemLink(token: string): Promise<void> {
  await postAuth('/auth/session', { token });
}

/** AWS mode: go to the hosted sign-in page. */
export async function beginCognitoSignIn(): Promise<void> {
  if (config.auth !== 'cognito') return;
  await cognito.beginSignIn(config.cognito);
}

export async function signOut(): Promise<void> {
  if (config.auth === 'cognito') {
    held?.forget();
    location.assign(cognito.signOutUrl(config.cognito));
    return;
  }
  await postAuth('/auth/signout');
}
