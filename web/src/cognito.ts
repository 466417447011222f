// Staff sign-in on AWS: OAuth 2.0 authorization code with PKCE (RFC 7636, S256) against the
// Cognito user pool's sign-in pages (/oauth2/authorize, /oauth2/token, /logout). The app client is
// public (no secret), so the code verifier is what proves that the code is ours.
//
// Storage: the code verifier and the state sit in sessionStorage only for the redirect round trip
// to Cognito and back, and are removed as soon as the browser returns. Tokens are returned to the
// caller and live in memory only: never in sessionStorage, localStorage or a cookie, so a reload
// signs in again (silently while Cognito's own session lasts).
//
// No dependencies: fetch, crypto.getRandomValues, crypto.subtle, URL and URLSearchParams.

export interface CognitoConfig {
  /** The user pool domain, https://<prefix>.auth.<region>.amazoncognito.com. */
  domain: string;
  client_id: string;
  /** The console's own address, https://<distribution>/: a callback and sign-out URL of the client. */
  redirect_uri: string;
  scopes: string[];
}

export interface Tokens {
  /** What the API wants: `Authorization: Bearer <idToken>` (only ID tokens carry custom:docket_id). */
  idToken: string;
  accessToken: string;
  /** When the tokens expire, in milliseconds since the epoch (as `Date.now()`). */
  expiresAt: number;
  refreshToken?: string;
}

/** A sign-in that cannot be completed: Cognito refused, or the answer is not ours. */
export class SignInError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignInError';
  }
}

/** The sessionStorage keys of a sign-in under way. */
export const STORAGE_KEYS = { verifier: 'docket.signin.verifier', state: 'docket.signin.state' } as const;

/** The query parameters Cognito adds to the redirect URI. */
const CALLBACK_PARAMS = ['code', 'state', 'error', 'error_description'];

// ----- pure helpers (exported for tests) -----

/** Base64url without padding (RFC 4648 §5), as PKCE and JWTs use it. */
export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A random URL-safe string made of `bytes` random bytes (48 bytes: 64 characters). */
export function randomString(bytes = 48): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The S256 code challenge of a verifier: base64url(SHA-256(verifier)). */
export async function codeChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

function endpoint(cfg: CognitoConfig, path: string): string {
  return cfg.domain.replace(/\/+$/, '') + path;
}

/** Where the browser goes to sign in. */
export function authorizeUrl(cfg: CognitoConfig, state: string, challenge: string): string {
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: cfg.client_id,
    redirect_uri: cfg.redirect_uri,
    scope: cfg.scopes.join(' '),
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  return `${endpoint(cfg, '/oauth2/authorize')}?${params}`;
}

/** The token endpoint (codes and refresh tokens are exchanged there). */
export function tokenUrl(cfg: CognitoConfig): string {
  return endpoint(cfg, '/oauth2/token');
}

/** Where the browser goes to sign out of Cognito; it then comes back to the console. */
export function signOutUrl(cfg: CognitoConfig): string {
  const params = new URLSearchParams({ client_id: cfg.client_id, logout_uri: cfg.redirect_uri });
  return `${endpoint(cfg, '/logout')}?${params}`;
}

/** An application/x-www-form-urlencoded body. */
export function formBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

/** What Cognito put on the redirect URI, if anything. */
export function readCallback(url: string): { code: string | null; state: string | null; error: string | null; errorDescription: string | null } {
  const params = new URL(url).searchParams;
  return {
    code: params.get('code'),
    state: params.get('state'),
    error: params.get('error'),
    errorDescription: params.get('error_description'),
  };
}

/** The same address without Cognito's parameters (path, other parameters and fragment kept), relative to the origin. */
export function withoutCallbackParams(url: string): string {
  const parsed = new URL(url);
  for (const name of CALLBACK_PARAMS) parsed.searchParams.delete(name);
  const search = parsed.searchParams.toString();
  return `${parsed.pathname}${search ? `?${search}` : ''}${parsed.hash}`;
}

/** The tokens of a token endpoint answer; `refreshToken` is kept when the answer has none (refreshes). */
export function parseTokenResponse(body: unknown, now: number, refreshToken?: string): Tokens {
  const fields = (body ?? {}) as Record<string, unknown>;
  const { id_token: idToken, access_token: accessToken, expires_in: expiresIn, refresh_token: newRefresh } = fields;
  if (typeof idToken !== 'string' || !idToken || typeof accessToken !== 'string' || !accessToken) {
    throw new SignInError('Cognito answered without an ID token and an access token.');
  }
  const seconds = typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn : 3600;
  const tokens: Tokens = { idToken, accessToken, expiresAt: now + seconds * 1000 };
  const refresh = typeof newRefresh === 'string' && newRefresh ? newRefresh : refreshToken;
  if (refresh) tokens.refreshToken = refresh;
  return tokens;
}

/** Whether the tokens expire within `marginMs` (default one minute). */
export function expiresSoon(tokens: Tokens, now = Date.now(), marginMs = 60_000): boolean {
  return tokens.expiresAt - marginMs <= now;
}

// ----- the flow -----

/** Sends the browser to Cognito's sign-in page; it comes back to `redirect_uri` with a code. */
export async function beginSignIn(cfg: CognitoConfig): Promise<void> {
  const state = randomString(32);
  const verifier = randomString(48);
  const challenge = await codeChallenge(verifier);
  sessionStorage.setItem(STORAGE_KEYS.verifier, verifier);
  sessionStorage.setItem(STORAGE_KEYS.state, state);
  location.assign(authorizeUrl(cfg, state, challenge));
}

/**
 * Finishes a sign-in when the browser has just come back from Cognito: checks the state,
 * exchanges the code (with the verifier) for tokens and takes Cognito's parameters out of the
 * address bar. Returns null when the address carries no answer from Cognito. Throws a
 * SignInError when Cognito refused, the answer is not for a sign-in started in this tab, or the
 * exchange failed; the user can then simply sign in again.
 */
export async function completeSignIn(cfg: CognitoConfig, url: string = location.href): Promise<Tokens | null> {
  const answer = readCallback(url);
  if (!answer.state || (!answer.code && !answer.error)) return null;

  // One use only, whatever happens next: the verifier and state leave storage, and the code
  // leaves the address bar (a reload must not present it again).
  const expectedState = sessionStorage.getItem(STORAGE_KEYS.state);
  const verifier = sessionStorage.getItem(STORAGE_KEYS.verifier);
  sessionStorage.removeItem(STORAGE_KEYS.state);
  sessionStorage.removeItem(STORAGE_KEYS.verifier);
  history.replaceState(history.state, '', withoutCallbackParams(url));

  if (!expectedState || !verifier || answer.state !== expectedState) {
    throw new SignInError('This sign-in was not started here (or was already completed). Please sign in again.');
  }
  if (answer.error || !answer.code) {
    throw new SignInError(`Sign-in was refused: ${answer.errorDescription || answer.error || 'no code'}.`);
  }
  const response = await fetch(tokenUrl(cfg), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: formBody({
      grant_type: 'authorization_code',
      client_id: cfg.client_id,
      code: answer.code,
      redirect_uri: cfg.redirect_uri,
      code_verifier: verifier,
    }),
  });
  const body = await readJson(response);
  if (!response.ok) throw new SignInError(`The sign-in could not be completed (${errorOf(body, response)}).`);
  return parseTokenResponse(body, Date.now());
}

/**
 * New ID and access tokens for a refresh token. Null when there is no refresh token or Cognito
 * no longer accepts it (expired, revoked): the user must sign in again. Throws on other failures.
 */
export async function refresh(cfg: CognitoConfig, tokens: Tokens): Promise<Tokens | null> {
  if (!tokens.refreshToken) return null;
  const response = await fetch(tokenUrl(cfg), {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: formBody({ grant_type: 'refresh_token', client_id: cfg.client_id, refresh_token: tokens.refreshToken }),
  });
  const body = await readJson(response);
  if (!response.ok) {
    if (errorOf(body, response) === 'invalid_grant') return null;
    throw new SignInError(`The session could not be renewed (${errorOf(body, response)}).`);
  }
  return parseTokenResponse(body, Date.now(), tokens.refreshToken);
}

async function readJson(response: Response): Promise<unknown> {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

function errorOf(body: unknown, response: Response): string {
  const error = body && typeof body === 'object' ? (body as Record<string, unknown>).error : undefined;
  return typeof error === 'string' && error ? error : `HTTP ${response.status}`;
}
