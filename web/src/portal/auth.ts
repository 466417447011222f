// How customers sign in to the portal. Locally: a one-time link by email (POST /auth/portal/link,
// then `#/signin/<token>` → POST /auth/session, an HttpOnly session cookie). On AWS: Cognito's
// passwordless email code (otp.ts) against the portal's app client; the ID token is kept in
// memory only, sent as a bearer token and renewed before it expires.
import { postAuth } from '../api/client';
import { TokenHolder } from '../api/tokens';
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
let held: TokenHolder<otp.OtpTokens> | null = null;

export function initPortalAuth(cfg: PortalConfig): void {
  config = cfg;
  if (cfg.auth === 'cognito') {
    const cognitoConfig = cfg.cognito;
    held = new TokenHolder((t) => otp.refreshTokens(cognitoConfig, t));
  }
}

export function authMode(): PortalConfig['auth'] {
  return config.auth;
}

/** Whether a request could be signed in: always locally (the cookie decides), on AWS only with tokens. */
export function mayBeSignedIn(): boolean {
  return config.auth === 'local' || held?.current != null;
}

/** Local mode: ask for a sign-in link (the server answers the same for any well-formed address). */
export async function requestLink(email: string): Promise<void> {
  await postAuth('/auth/portal/link', { email });
}

/** Local mode: trade the link's one-time token for a session cookie. */
export async function redeemLink(token: string): Promise<void> {
  await postAuth('/auth/session', { token });
}

/** AWS mode: email a one-time code. */
export async function requestCode(email: string): Promise<otp.OtpChallenge> {
  if (config.auth !== 'cognito') throw new Error('Codes are used on AWS only.');
  return otp.requestCode(config.cognito, email);
}

/** AWS mode: trade the code for tokens and use them. */
export async function verifyCode(email: string, challenge: otp.OtpChallenge, code: string): Promise<void> {
  if (config.auth !== 'cognito') throw new Error('Codes are used on AWS only.');
  held?.use(await otp.verifyCode(config.cognito, email, challenge, code));
}




export async function signOut(): Promise<void> {
  if (config.auth === 'cognito') {
    const had = held?.forget();
    if (had) await otp.revoke(config.cognito, had);
    return;
  }
  await postAuth('/auth/signout');
}
