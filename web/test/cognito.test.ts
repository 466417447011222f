// Tests of web/src/cognito.ts with Node's own runner: the pure helpers, and the redirect flow
// with sessionStorage, history, location and fetch stubbed (Node 20 has crypto.subtle, URL,
// Response and btoa). Bundle with esbuild, then `node --test` the bundle.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  type CognitoConfig,
  type Tokens,
  STORAGE_KEYS,
  SignInError,
  authorizeUrl,
  base64url,
  beginSignIn,
  codeChallenge,
  completeSignIn,
  expiresSoon,
  formBody,
  parseTokenResponse,
  randomString,
  readCallback,
  refresh,
  signOutUrl,
  tokenUrl,
  withoutCallbackParams,
} from '../src/cognito';

const cfg: CognitoConfig = {
  domain: 'https://docket-prod-123456789012.auth.eu-west-1.amazoncognito.com/',
  client_id: 'console-client-id',
  redirect_uri: 'https://d111.cloudfront.net/',
  scopes: ['openid', 'email', 'profile'],
};
const DOMAIN = 'https://docket-prod-123456789012.auth.eu-west-1.amazoncognito.com';
const BASE64URL = /^[A-Za-z0-9_-]+$/;

// ----- stubs of the browser globals -----

class MemoryStorage {
  readonly items = new Map<string, string>();
  get length(): number {
    return this.items.size;
  }
  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }
  getItem(key: string): string | null {
    return this.items.has(key) ? (this.items.get(key) as string) : null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, String(value));
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
  clear(): void {
    this.items.clear();
  }
}

/** localStorage must never be written: any write fails the test. */
class ForbiddenStorage extends MemoryStorage {
  override setItem(key: string): void {
    throw new Error(`localStorage.setItem(${key}) called`);
  }
}

interface FetchCall {
  url: string;
  method: string;
  contentType: string | null;
  body: URLSearchParams;
}

const g = globalThis as unknown as Record<string, unknown>;
let storage: MemoryStorage;
let replaced: string[];
let assigned: string[];
let fetchCalls: FetchCall[];
let fetchAnswer: () => Response;

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

beforeEach(() => {
  storage = new MemoryStorage();
  replaced = [];
  assigned = [];
  fetchCalls = [];
  fetchAnswer = () => json(200, { id_token: 'id.jwt', access_token: 'access.jwt', refresh_token: 'refresh-1', expires_in: 3600, token_type: 'Bearer' });
  g.sessionStorage = storage;
  g.localStorage = new ForbiddenStorage();
  g.history = {
    state: { route: 'kept' },
    replaceState(_state: unknown, _title: string, url: string) {
      replaced.push(url);
    },
  };
  g.location = {
    href: 'https://d111.cloudfront.net/',
    assign(url: string) {
      assigned.push(url);
    },
  };
  g.fetch = async (input: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    fetchCalls.push({
      url: String(input),
      method: init.method ?? 'GET',
      contentType: headers.get('content-type'),
      body: new URLSearchParams(String(init.body ?? '')),
    });
    return fetchAnswer();
  };
});

afterEach(() => {
  for (const name of ['sessionStorage', 'localStorage', 'history', 'location', 'fetch']) delete g[name];
});

/** Starts a sign-in and returns what went into storage and the authorize URL. */
async function startSignIn(): Promise<{ state: string; verifier: string; authorize: URL }> {
  await beginSignIn(cfg);
  assert.equal(assigned.length, 1);
  return {
    state: storage.getItem(STORAGE_KEYS.state) as string,
    verifier: storage.getItem(STORAGE_KEYS.verifier) as string,
    authorize: new URL(assigned[0] as string),
  };
}

// ----- pure helpers -----

describe('base64url', () => {
  test('uses the URL-safe alphabet and drops padding', () => {
    assert.equal(base64url(new Uint8Array([0xfb, 0xff, 0xfe])), '-__-');
    assert.equal(base64url(new Uint8Array([0xff])), '_w');
    assert.equal(base64url(new Uint8Array([0x66, 0x6f])), 'Zm8');
    assert.equal(base64url(new Uint8Array([])), '');
  });
});

describe('codeChallenge', () => {
  test('matches the S256 example of RFC 7636 (appendix B)', async () => {
    assert.equal(
      await codeChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'),
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });
});

describe('randomString', () => {
  test('is URL-safe, of the expected length, and never the same twice', () => {
    const a = randomString();
    const b = randomString();
    assert.match(a, BASE64URL);
    assert.equal(a.length, 64);
    assert.equal(randomString(32).length, 43);
    assert.notEqual(a, b);
  });
});

describe('URLs', () => {
  test('authorizeUrl asks for a code with an S256 challenge', () => {
    const url = new URL(authorizeUrl(cfg, 'the-state', 'the-challenge'));
    assert.equal(`${url.origin}${url.pathname}`, `${DOMAIN}/oauth2/authorize`);
    assert.deepEqual(Object.fromEntries(url.searchParams), {
      response_type: 'code',
      client_id: 'console-client-id',
      redirect_uri: 'https://d111.cloudfront.net/',
      scope: 'openid email profile',
      state: 'the-state',
      code_challenge: 'the-challenge',
      code_challenge_method: 'S256',
    });
  });

  test('tokenUrl and signOutUrl are on the Cognito domain (one slash)', () => {
    assert.equal(tokenUrl(cfg), `${DOMAIN}/oauth2/token`);
    const url = new URL(signOutUrl(cfg));
    assert.equal(`${url.origin}${url.pathname}`, `${DOMAIN}/logout`);
    assert.deepEqual(Object.fromEntries(url.searchParams), {
      client_id: 'console-client-id',
      logout_uri: 'https://d111.cloudfront.net/',
    });
  });

  test('formBody encodes as application/x-www-form-urlencoded', () => {
    assert.equal(formBody({ a: 'x y', b: 'ä&=' }), 'a=x+y&b=%C3%A4%26%3D');
  });

  test('readCallback and withoutCallbackParams', () => {
    const url = 'https://d111.cloudfront.net/?code=C&state=S&lang=de#/cases/12';
    assert.deepEqual(readCallback(url), { code: 'C', state: 'S', error: null, errorDescription: null });
    assert.equal(withoutCallbackParams(url), '/?lang=de#/cases/12');
    assert.equal(withoutCallbackParams('https://d111.cloudfront.net/?error=access_denied&error_description=no&state=S'), '/');
  });
});

describe('parseTokenResponse', () => {
  test('computes the expiry and keeps a refresh token the answer does not repeat', () => {
    const tokens = parseTokenResponse({ id_token: 'i', access_token: 'a', expires_in: 300 }, 1_000, 'r-old');
    assert.deepEqual(tokens, { idToken: 'i', accessToken: 'a', expiresAt: 301_000, refreshToken: 'r-old' });
    assert.equal(parseTokenResponse({ id_token: 'i', access_token: 'a', expires_in: 60 }, 0).refreshToken, undefined);
    assert.equal(expiresSoon(tokens, 240_000), false);
    assert.equal(expiresSoon(tokens, 241_000), true);
  });

  test('refuses an answer without tokens', () => {
    assert.throws(() => parseTokenResponse({ access_token: 'a' }, 0), SignInError);
    assert.throws(() => parseTokenResponse(null, 0), SignInError);
  });
});

// ----- the flow -----

describe('beginSignIn', () => {
  test('stores a state and a verifier and goes to the authorize endpoint with their challenge', async () => {
    const { state, verifier, authorize } = await startSignIn();
    assert.match(state, BASE64URL);
    assert.match(verifier, BASE64URL);
    assert.ok(verifier.length >= 43 && verifier.length <= 128, 'RFC 7636 verifier length');
    assert.equal(`${authorize.origin}${authorize.pathname}`, `${DOMAIN}/oauth2/authorize`);
    assert.equal(authorize.searchParams.get('state'), state);
    assert.equal(authorize.searchParams.get('code_challenge'), await codeChallenge(verifier));
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(authorize.searchParams.get('code_verifier'), null, 'the verifier never leaves the browser before the exchange');
    assert.deepEqual([...storage.items.keys()].sort(), [STORAGE_KEYS.state, STORAGE_KEYS.verifier].sort());
  });
});

describe('completeSignIn', () => {
  test('exchanges the code with the verifier, cleans up and keeps tokens out of storage', async () => {
    const { state, verifier } = await startSignIn();
    const before = Date.now();
    const tokens = (await completeSignIn(cfg, `https://d111.cloudfront.net/?code=the-code&state=${state}#/cases`)) as Tokens;

    assert.equal(fetchCalls.length, 1);
    const call = fetchCalls[0] as FetchCall;
    assert.equal(call.url, `${DOMAIN}/oauth2/token`);
    assert.equal(call.method, 'POST');
    assert.equal(call.contentType, 'application/x-www-form-urlencoded');
    assert.deepEqual(Object.fromEntries(call.body), {
      grant_type: 'authorization_code',
      client_id: 'console-client-id',
      code: 'the-code',
      redirect_uri: 'https://d111.cloudfront.net/',
      code_verifier: verifier,
    });

    assert.equal(tokens.idToken, 'id.jwt');
    assert.equal(tokens.accessToken, 'access.jwt');
    assert.equal(tokens.refreshToken, 'refresh-1');
    assert.ok(tokens.expiresAt >= before + 3_600_000 && tokens.expiresAt <= Date.now() + 3_600_000);

    assert.equal(storage.length, 0, 'verifier and state removed, no tokens stored');
    assert.deepEqual(replaced, ['/#/cases'], 'code and state taken out of the address bar');
  });

  test('uses location.href when no URL is given', async () => {
    const { state } = await startSignIn();
    (g.location as { href: string }).href = `https://d111.cloudfront.net/?state=${state}&code=c2`;
    const tokens = await completeSignIn(cfg);
    assert.equal(tokens?.idToken, 'id.jwt');
    assert.equal((fetchCalls[0] as FetchCall).body.get('code'), 'c2');
  });

  test('returns null when the address carries no answer from Cognito', async () => {
    await startSignIn();
    assert.equal(await completeSignIn(cfg, 'https://d111.cloudfront.net/#/cases'), null);
    assert.equal(await completeSignIn(cfg, 'https://d111.cloudfront.net/?code=only-a-code'), null);
    assert.equal(fetchCalls.length, 0);
    assert.equal(replaced.length, 0);
    assert.equal(storage.length, 2, 'a sign-in under way is left alone');
  });

  test('refuses an answer whose state is not ours, without exchanging the code', async () => {
    await startSignIn();
    await assert.rejects(completeSignIn(cfg, 'https://d111.cloudfront.net/?code=c&state=forged'), SignInError);
    assert.equal(fetchCalls.length, 0);
    assert.equal(storage.length, 0);
    assert.deepEqual(replaced, ['/']);
  });

  test('refuses an answer when no sign-in was started in this tab', async () => {
    await assert.rejects(completeSignIn(cfg, 'https://d111.cloudfront.net/?code=c&state=s'), SignInError);
    assert.equal(fetchCalls.length, 0);
  });

  test('a code is used once: the second attempt is refused', async () => {
    const { state } = await startSignIn();
    const url = `https://d111.cloudfront.net/?code=c&state=${state}`;
    await completeSignIn(cfg, url);
    await assert.rejects(completeSignIn(cfg, url), SignInError);
    assert.equal(fetchCalls.length, 1);
  });

  test('reports an error Cognito sent back', async () => {
    const { state } = await startSignIn();
    await assert.rejects(
      completeSignIn(cfg, `https://d111.cloudfront.net/?error=access_denied&error_description=User+is+disabled&state=${state}`),
      (error: unknown) => error instanceof SignInError && /User is disabled/.test(error.message),
    );
    assert.equal(fetchCalls.length, 0);
    assert.equal(storage.length, 0);
  });

  test('reports a refused exchange and still cleans up', async () => {
    const { state } = await startSignIn();
    fetchAnswer = () => json(400, { error: 'invalid_grant' });
    await assert.rejects(
      completeSignIn(cfg, `https://d111.cloudfront.net/?code=c&state=${state}`),
      (error: unknown) => error instanceof SignInError && /invalid_grant/.test(error.message),
    );
    assert.equal(storage.length, 0);
    assert.deepEqual(replaced, ['/']);
  });
});

describe('refresh', () => {
  const tokens: Tokens = { idToken: 'old-id', accessToken: 'old-access', expiresAt: 0, refreshToken: 'refresh-1' };

  test('trades the refresh token for new tokens and keeps it', async () => {
    fetchAnswer = () => json(200, { id_token: 'new-id', access_token: 'new-access', expires_in: 3600 });
    const renewed = await refresh(cfg, tokens);
    assert.equal(renewed?.idToken, 'new-id');
    assert.equal(renewed?.refreshToken, 'refresh-1');
    const call = fetchCalls[0] as FetchCall;
    assert.equal(call.url, `${DOMAIN}/oauth2/token`);
    assert.equal(call.contentType, 'application/x-www-form-urlencoded');
    assert.deepEqual(Object.fromEntries(call.body), {
      grant_type: 'refresh_token',
      client_id: 'console-client-id',
      refresh_token: 'refresh-1',
    });
    assert.equal(storage.length, 0);
  });

  test('null without a refresh token, or when Cognito no longer accepts it', async () => {
    assert.equal(await refresh(cfg, { ...tokens, refreshToken: undefined }), null);
    assert.equal(fetchCalls.length, 0);
    fetchAnswer = () => json(400, { error: 'invalid_grant' });
    assert.equal(await refresh(cfg, tokens), null);
  });

  test('throws on other failures', async () => {
    fetchAnswer = () => new Response('bad gateway', { status: 502 });
    await assert.rejects(refresh(cfg, tokens), SignInError);
  });
});
