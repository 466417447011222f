// How customers sign in to the portal. Locally: a one-time link by email (POST /auth/portal/link,
// then `#/signin/<token>` → POST /auth/session, an HttpOnly session cookie). On AWS: Cognito's
// passwordless email code (otp.ts) against the portal's app client; the ID token is kept in
// memory only, sent as a bearer token and renewed before it expires.
import { check, rawFetch } from '../api/client';
import { setBearer, signedOut } from '../api/credentials';
import { apiBase } from '../config';
import * as otp from './otp';

export type PortalConfig = { auth: 'local'; api: string } | { auth: 'cognito'; api: string; cognito: otp.PortalCognitoConfig };

/** The portal's part of /config.json. */
export function portalConfig(raw: Record<string, unknown>): PortalConfig {
  const api = apiBase(raw);
  if (raw.auth !== 'cognito') return { auth: 'local', api };
  const pc = raw.portal_cognito as Partial<otp.PortalCognitoConfig> | undefined;
  if (!pc || typeof pc.region !== 'string' || typeof pc.client_id !== 'string') {
    throw new Error('The portal configuration names Cognito sign-in without its portal_cognito settings.');
  }
  return { auth: 'cognito', api, cognito: { region: pc.region, client_id: pc.client_id } };
}

let config: PortalConfig = { auth: 'local', api: '' };
let tokens: otp.OtpTokens | null = null;
let renewal: number | undefined;

export function initPortalAuth(cfg: PortalConfig): void {
  config = cfg;
}

export function authMode(): PortalConfig['auth'] {
  return config.auth;
}

/** Whether a request could be signed in: always locally (the cookie decides), on AWS only with tokens. */
export function mayBeSignedIn(): boolean {
  return config.auth === 'local' || tokens !== null;
}

/** Local mode: ask for a sign-in link (the server answers the same for any well-formed address). */
export async function requestLink(email: string): Promise<void> {
  await check(
    await rawFetch(
      '/auth/portal/link',
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

/** AWS mode: email a one-time code. */
export async function requestCode(email: string): Promise<otp.OtpChallenge> {
  if (config.auth !== 'cognito') throw new Error('Codes are used on AWS only.');
  return otp.requestCode(config.cognito, email);
}

/** AWS mode: trade the code for tokens and use them. */
export async function verifyCode(email: string, challenge: otp.OtpChallenge, code: string): Promise<void> {
  if (config.auth !== 'cognito') throw new Error('Codes are used on AWS only.');
  useTokens(await otp.verifyCode(config.cognito, email, challenge, code));
}

function useTokens(t: otp.OtpTokens): void {
  tokens = t;
  setBearer(t.idToken);
  window.clearTimeout(renewal);
  // Renew two minutes before expiry while the refresh token lasts; else the next 401 shows the
  // sign-in screen.
  const wait = Math.max(t.expiresAt - Date.now() - 120_000, 10_000);
  renewal = window.setTimeout(() => void renew(), wait);
}

async function renew(): Promise<void> {
  if (config.auth !== 'cognito' || !tokens) return;
  try {
    const next = await otp.refreshTokens(config.cognito, tokens);
    if (next) return useTokens(next);
  } catch {
    // Network trouble: try again shortly while the token still lasts.
    if (tokens.expiresAt > Date.now()) {
      renewal = window.setTimeout(() => void renew(), 30_000);
      return undefined;
    }
  }
  forget();
  signedOut();
  return undefined;
}

function forget(): void {
  window.clearTimeout(renewal);
  tokens = null;
  setBearer(null);
}

export async function signOut(): Promise<void> {
  if (config.auth === 'cognito') {
    const had = tokens;
    forget();
    if (had) await otp.revoke(config.cognito, had);
    return;
  }
  await check(await rawFetch('/auth/signout', { method: 'POST' }, { signOutOn401: false }));
}
