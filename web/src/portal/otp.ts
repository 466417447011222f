// Customer sign-in on AWS: Cognito's passwordless email one-time code (choice-based sign-in,
// USER_AUTH with EMAIL_OTP) against the portal's user pool app client, called straight from the
// browser: InitiateAuth mails a code, RespondToAuthChallenge trades it for tokens, InitiateAuth
// with REFRESH_TOKEN_AUTH renews them. The app client is public (no secret). Tokens are returned
// to the caller, which keeps them in memory only.
//
// The request building and answer parsing are pure (tested in test/portal-otp.test.ts); the
// calls take a fetch function so they can be tested without a network.

export interface PortalCognitoConfig {
  /** The user pool's region, e.g. eu-west-1. */
  region: string;
  /** The portal's app client (public, no secret). */
  client_id: string;
}

export interface OtpTokens {
  /** What the API wants: `Authorization: Bearer <idToken>`. */
  idToken: string;
  refreshToken?: string;
  /** When the ID token expires, in milliseconds since the epoch (as `Date.now()`). */
  expiresAt: number;
}

/** A code requested: the session to answer it with. Null when the pool named no session (an unknown address). */
export interface OtpChallenge {
  session: string | null;
}

/** A refusal by Cognito (or no answer), worded for the person signing in. */
export class OtpError extends Error {
  /** Cognito's error type (`CodeMismatchException`), or `Network` when it could not be reached. */
  readonly type: string;
  constructor(type: string, message: string) {
    super(message);
    this.name = 'OtpError';
    this.type = type;
  }
}

type Fetch = (input: string, init: RequestInit) => Promise<Response>;

const TARGET_PREFIX = 'AWSCognitoIdentityProviderService.';

export function endpoint(cfg: PortalCognitoConfig): string {
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(cfg.region)) throw new OtpError('Config', 'The sign-in service is not configured correctly (region).');
  return `https://cognito-idp.${cfg.region}.amazonaws.com/`;
}

export interface CognitoRequest {
  url: string;
  init: { method: 'POST'; headers: Record<string, string>; body: string };
}

function request(cfg: PortalCognitoConfig, action: string, body: Record<string, unknown>): CognitoRequest {
  return {
    url: endpoint(cfg),
    init: {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': TARGET_PREFIX + action },
      body: JSON.stringify(body),
    },
  };
}

/** Asks the pool to email a one-time code to the address. */
export function initiateAuthRequest(cfg: PortalCognitoConfig, email: string): CognitoRequest {
  return request(cfg, 'InitiateAuth', {
    AuthFlow: 'USER_AUTH',
    ClientId: cfg.client_id,
    AuthParameters: { USERNAME: email, PREFERRED_CHALLENGE: 'EMAIL_OTP' },
  });
}

/** Answers the challenge with the code the person typed. */
export function respondRequest(cfg: PortalCognitoConfig, email: string, session: string, code: string): CognitoRequest {
  return request(cfg, 'RespondToAuthChallenge', {
    ChallengeName: 'EMAIL_OTP',
    ClientId: cfg.client_id,
    Session: session,
    ChallengeResponses: { USERNAME: email, EMAIL_OTP_CODE: code },
  });
}

/** New tokens for a refresh token. */
export function refreshRequest(cfg: PortalCognitoConfig, refreshToken: string): CognitoRequest {
  return request(cfg, 'InitiateAuth', {
    AuthFlow: 'REFRESH_TOKEN_AUTH',
    ClientId: cfg.client_id,
    AuthParameters: { REFRESH_TOKEN: refreshToken },
  });
}

/** Revokes a refresh token (sign-out); the pool answers 200 with `{}`. */
export function revokeRequest(cfg: PortalCognitoConfig, refreshToken: string): CognitoRequest {
  return request(cfg, 'RevokeToken', { Token: refreshToken, ClientId: cfg.client_id });
}

/** The code as typed, without spaces or dashes (emails show `123 456`). */
export function normaliseCode(code: string): string {
  return code.replace(/[\s-]/g, '');
}

/** The error type of a Cognito refusal: `__type` may be `NotAuthorizedException` or `…#NotAuthorizedException`. */
export function errorType(body: unknown, header?: string | null): string {
  const raw = (body && typeof body === 'object' && typeof (body as Record<string, unknown>).__type === 'string' ? ((body as Record<string, unknown>).__type as string) : '') || header || '';
  const afterHash = raw.slice(raw.lastIndexOf('#') + 1);
  return afterHash.split(':')[0]!.trim() || 'Unknown';
}

/** A readable sentence for a Cognito error type (what the person can do about it). */
export function errorMessage(type: string, step: 'request' | 'verify' | 'refresh'): string {
  switch (type) {
    case 'CodeMismatchException':
      return 'That code is not right. Check the code in the email and try again.';
    case 'ExpiredCodeException':
      return 'That code has expired. Ask for a new code.';
    case 'NotAuthorizedException':
      return step === 'verify'
        ? 'That code is not valid any more (too many tries, or it has expired). Ask for a new code.'
        : step === 'refresh'
          ? 'Your session has ended. Please sign in again.'
          : 'This address cannot sign in to the portal. Contact support if you think it should.';
    case 'TooManyRequestsException':
    case 'LimitExceededException':
    case 'TooManyFailedAttemptsException':
      return 'Too many attempts. Wait a few minutes, then try again.';
    case 'CodeDeliveryFailureException':
      return 'The code could not be emailed. Check the address or try again later.';
    case 'InvalidParameterException':
      return step === 'verify' ? 'Enter the code from the email.' : 'Enter a valid email address.';
    case 'UserNotConfirmedException':
    case 'PasswordResetRequiredException':
      return 'This address cannot sign in yet. Contact support.';
    case 'Network':
      return 'The sign-in service could not be reached. Check your connection and try again.';
    default:
      return `Signing in failed (${type}). Please try again.`;
  }
}

/** The pool's answer to InitiateAuth: the EMAIL_OTP challenge and its session. */
export function parseChallenge(body: unknown): OtpChallenge {
  const fields = (body ?? {}) as Record<string, unknown>;
  if (fields.ChallengeName !== 'EMAIL_OTP') {
    throw new OtpError(
      'UnexpectedChallenge',
      typeof fields.ChallengeName === 'string'
        ? `The sign-in service asked for ${fields.ChallengeName}, which the portal cannot answer. Contact support.`
        : 'The sign-in service gave an unexpected answer. Please try again.',
    );
  }
  return { session: typeof fields.Session === 'string' && fields.Session ? fields.Session : null };
}

/** The tokens of an AuthenticationResult; `refreshToken` is kept when the answer has none (refreshes). */
export function parseTokens(body: unknown, now: number, refreshToken?: string): OtpTokens {
  const fields = (body ?? {}) as Record<string, unknown>;
  const result = (fields.AuthenticationResult ?? null) as Record<string, unknown> | null;
  if (!result || typeof result.IdToken !== 'string' || !result.IdToken) {
    throw new OtpError('NoTokens', 'The sign-in service answered without a token. Please try again.');
  }
  const seconds = typeof result.ExpiresIn === 'number' && result.ExpiresIn > 0 ? result.ExpiresIn : 3600;
  const tokens: OtpTokens = { idToken: result.IdToken, expiresAt: now + seconds * 1000 };
  const refresh = typeof result.RefreshToken === 'string' && result.RefreshToken ? result.RefreshToken : refreshToken;
  if (refresh) tokens.refreshToken = refresh;
  return tokens;
}

async function call(doFetch: Fetch, req: CognitoRequest, step: 'request' | 'verify' | 'refresh'): Promise<unknown> {
  let response: Response;
  try {
    response = await doFetch(req.url, req.init);
  } catch {
    throw new OtpError('Network', errorMessage('Network', step));
  }
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const type = errorType(body, response.headers.get('x-amzn-ErrorType'));
    throw new OtpError(type, errorMessage(type, step));
  }
  return body;
}

const defaultFetch: Fetch = (input, init) => fetch(input, init);

/**
 * Asks for a code. An unknown address is not an error for the person signing in: the pool is set
 * to hide whether an address exists, and if it still says so the portal answers as if a code
 * were on its way (with no session: any code typed is then refused).
 */
export async function requestCode(cfg: PortalCognitoConfig, email: string, doFetch: Fetch = defaultFetch): Promise<OtpChallenge> {
  try {
    return parseChallenge(await call(doFetch, initiateAuthRequest(cfg, email), 'request'));
  } catch (e) {
    if (e instanceof OtpError && e.type === 'UserNotFoundException') return { session: null };
    throw e;
  }
}

/** Trades the code for tokens. */
export async function verifyCode(
  cfg: PortalCognitoConfig,
  email: string,
  challenge: OtpChallenge,
  code: string,
  doFetch: Fetch = defaultFetch,
  now: () => number = Date.now,
): Promise<OtpTokens> {
  const typed = normaliseCode(code);
  if (!typed) throw new OtpError('InvalidParameterException', errorMessage('InvalidParameterException', 'verify'));
  if (!challenge.session) throw new OtpError('CodeMismatchException', errorMessage('CodeMismatchException', 'verify'));
  return parseTokens(await call(doFetch, respondRequest(cfg, email, challenge.session, typed), 'verify'), now());
}

/** New tokens while the refresh token lasts; null when it no longer does (sign in again). */
export async function refreshTokens(cfg: PortalCognitoConfig, tokens: OtpTokens, doFetch: Fetch = defaultFetch, now: () => number = Date.now): Promise<OtpTokens | null> {
  if (!tokens.refreshToken) return null;
  try {
    return parseTokens(await call(doFetch, refreshRequest(cfg, tokens.refreshToken), 'refresh'), now(), tokens.refreshToken);
  } catch (e) {
    if (e instanceof OtpError && e.type === 'NotAuthorizedException') return null;
    throw e;
  }
}

/** Best effort: the refresh token stops working (the ID token simply expires). */
export async function revoke(cfg: PortalCognitoConfig, tokens: OtpTokens, doFetch: Fetch = defaultFetch): Promise<void> {
  if (!tokens.refreshToken) return;
  try {
    await call(doFetch, revokeRequest(cfg, tokens.refreshToken), 'refresh');
  } catch {
    // Revocation may be off for the client, or the network down: the tokens leave memory anyway.
  }
}
