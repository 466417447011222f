// The one place that knows how staff sign in. Locally: a one-time link by email, redeemed for an
// HttpOnly session cookie. On AWS: Cognito's hosted sign-in; its ID token is kept in memory only
// and sent as a bearer token.
import type { CognitoConfig, RuntimeConfig } from './config';
import { check, rawFetch } from './api/client';
import { setBearer } from './api/credentials';

/** What web/src/cognito.ts provides. */
export interface Tokens {
  id_token: string;
}
export interface CognitoModule {
  beginSignIn(cfg: CognitoConfig): void | Promise<void>;
  completeSignIn(cfg: CognitoConfig): Promise<Tokens | null>;
  signOutUrl(cfg: CognitoConfig): string;
}

let config: RuntimeConfig = { auth: 'local', api: '' };
let cognito: CognitoModule | null = null;

export function authMode(): RuntimeConfig['auth'] {
  return config.auth;
}

/** Call once at start: on AWS this finishes a sign-in the browser just came back from. */
export async function initAuth(cfg: RuntimeConfig, provider: CognitoModule | null): Promise<void> {
  config = cfg;
  cognito = provider;
  if (cfg.auth === 'cognito') {
    const tokens = await requireCognito().completeSignIn(cfg.cognito);
    if (tokens) setBearer(tokens.id_token);
  }
}

function requireCognito(): CognitoModule {
  if (!cognito) throw new Error('This build of the console has no Cognito sign-in.');
  return cognito;
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
  await requireCognito().beginSignIn(config.cognito);
}

export async function signOut(): Promise<void> {
  if (config.auth === 'cognito') {
    setBearer(null);
    location.assign(requireCognito().signOutUrl(config.cognito));
    return;
  }
  await check(await rawFetch('/auth/signout', { method: 'POST' }, { signOutOn401: false }));
}
