// Tests of web/src/portal/otp.ts (Cognito's passwordless email code for the customer portal):
// the requests it builds, how it reads the pool's answers and refusals, and the calls with a
// stubbed fetch.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  type PortalCognitoConfig,
  OtpError,
  endpoint,
  errorMessage,
  errorType,
  initiateAuthRequest,
  normaliseCode,
  parseChallenge,
  parseTokens,
  refreshRequest,
  refreshTokens,
  requestCode,
  respondRequest,
  revoke,
  verifyCode,
} from '../src/portal/otp';

const cfg: PortalCognitoConfig = { region: 'eu-west-1', client_id: 'portal-client' };
const NOW = 1_700_000_000_000;

function answer(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? '' : JSON.stringify(body), { status, headers: { 'content-type': 'application/x-amz-json-1.1', ...headers } });
}

function stub(...responses: (Response | Error)[]) {
  const calls: { url: string; init: RequestInit }[] = [];
  const doFetch = async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const next = responses.shift();
    if (!next) throw new Error('no more answers');
    if (next instanceof Error) throw next;
    return next;
  };
  return { calls, doFetch };
}

describe('requests', () => {
  test('the endpoint is the regional cognito-idp host', () => {
    assert.equal(endpoint(cfg), 'https://cognito-idp.eu-west-1.amazonaws.com/');
    assert.equal(endpoint({ region: 'us-gov-west-1', client_id: 'x' }), 'https://cognito-idp.us-gov-west-1.amazonaws.com/');
  });

  test('a region that is not one cannot steer the request elsewhere', () => {
    assert.throws(() => endpoint({ region: 'evil.example/', client_id: 'x' }), OtpError);
    assert.throws(() => endpoint({ region: '', client_id: 'x' }), OtpError);
  });

  test('InitiateAuth asks for USER_AUTH with the EMAIL_OTP challenge', () => {
    const r = initiateAuthRequest(cfg, 'ann@example.com');
    assert.equal(r.url, 'https://cognito-idp.eu-west-1.amazonaws.com/');
    assert.equal(r.init.method, 'POST');
    assert.deepEqual(r.init.headers, {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': 'AWSCognitoIdentityProviderService.InitiateAuth',
    });
    assert.deepEqual(JSON.parse(r.init.body), {
      AuthFlow: 'USER_AUTH',
      ClientId: 'portal-client',
      AuthParameters: { USERNAME: 'ann@example.com', PREFERRED_CHALLENGE: 'EMAIL_OTP' },
    });
  });

  test('RespondToAuthChallenge answers EMAIL_OTP with the session and the code', () => {
    const r = respondRequest(cfg, 'ann@example.com', 'SESSION', '12345678');
    assert.equal(r.init.headers['X-Amz-Target'], 'AWSCognitoIdentityProviderService.RespondToAuthChallenge');
    assert.deepEqual(JSON.parse(r.init.body), {
      ChallengeName: 'EMAIL_OTP',
      ClientId: 'portal-client',
      Session: 'SESSION',
      ChallengeResponses: { USERNAME: 'ann@example.com', EMAIL_OTP_CODE: '12345678' },
    });
  });

  test('a refresh is InitiateAuth with REFRESH_TOKEN_AUTH', () => {
    const r = refreshRequest(cfg, 'RT');
    assert.equal(r.init.headers['X-Amz-Target'], 'AWSCognitoIdentityProviderService.InitiateAuth');
    assert.deepEqual(JSON.parse(r.init.body), { AuthFlow: 'REFRESH_TOKEN_AUTH', ClientId: 'portal-client', AuthParameters: { REFRESH_TOKEN: 'RT' } });
  });

  test('codes are typed with spaces or dashes sometimes', () => {
    assert.equal(normaliseCode(' 123 456 '), '123456');
    assert.equal(normaliseCode('1234-5678'), '12345678');
  });
});

describe('answers', () => {
  test('the challenge carries the session', () => {
    assert.deepEqual(parseChallenge({ ChallengeName: 'EMAIL_OTP', Session: 'S1', ChallengeParameters: {} }), { session: 'S1' });
  });

  test('another challenge is refused readably', () => {
    assert.throws(() => parseChallenge({ ChallengeName: 'SELECT_CHALLENGE', Session: 'S' }), (e: unknown) => e instanceof OtpError && /SELECT_CHALLENGE/.test(e.message));
    assert.throws(() => parseChallenge(null), OtpError);
  });

  test('tokens: the ID token, the refresh token and when they expire', () => {
    const t = parseTokens({ AuthenticationResult: { IdToken: 'ID', AccessToken: 'AT', RefreshToken: 'RT', ExpiresIn: 3600, TokenType: 'Bearer' } }, NOW);
    assert.deepEqual(t, { idToken: 'ID', refreshToken: 'RT', expiresAt: NOW + 3_600_000 });
  });

  test('a refresh answer keeps the refresh token it was given; a missing expiry counts as an hour', () => {
    assert.deepEqual(parseTokens({ AuthenticationResult: { IdToken: 'ID2' } }, NOW, 'RT'), { idToken: 'ID2', refreshToken: 'RT', expiresAt: NOW + 3_600_000 });
  });

  test('an answer without an ID token is an error', () => {
    assert.throws(() => parseTokens({ AuthenticationResult: { AccessToken: 'AT' } }, NOW), OtpError);
    assert.throws(() => parseTokens({}, NOW), OtpError);
  });

  test('error types with or without a namespace', () => {
    assert.equal(errorType({ __type: 'CodeMismatchException', message: 'Invalid code' }), 'CodeMismatchException');
    assert.equal(errorType({ __type: 'com.amazonaws.cognito.identity.idp.model#ExpiredCodeException' }), 'ExpiredCodeException');
    assert.equal(errorType(null, 'NotAuthorizedException:http://internal.amazon.com/coral/'), 'NotAuthorizedException');
    assert.equal(errorType(null, null), 'Unknown');
  });

  test('refusals read as what to do next', () => {
    assert.match(errorMessage('CodeMismatchException', 'verify'), /not right/);
    assert.match(errorMessage('ExpiredCodeException', 'verify'), /expired/);
    assert.match(errorMessage('NotAuthorizedException', 'verify'), /new code/);
    assert.match(errorMessage('NotAuthorizedException', 'request'), /cannot sign in/);
    assert.match(errorMessage('TooManyRequestsException', 'request'), /Wait a few minutes/);
    assert.match(errorMessage('LimitExceededException', 'verify'), /Wait a few minutes/);
    assert.match(errorMessage('SomethingNew', 'request'), /SomethingNew/);
  });
});

describe('calls', () => {
  test('requestCode posts InitiateAuth and returns the session', async () => {
    const { calls, doFetch } = stub(answer(200, { ChallengeName: 'EMAIL_OTP', Session: 'S1' }));
    assert.deepEqual(await requestCode(cfg, 'ann@example.com', doFetch), { session: 'S1' });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.url, 'https://cognito-idp.eu-west-1.amazonaws.com/');
  });

  test('an unknown user looks like a code on its way (no session)', async () => {
    const { doFetch } = stub(answer(400, { __type: 'UserNotFoundException', message: 'User does not exist.' }));
    assert.deepEqual(await requestCode(cfg, 'nobody@example.com', doFetch), { session: null });
  });

  test('too many requests is an OtpError with a readable message', async () => {
    const { doFetch } = stub(answer(400, { __type: 'TooManyRequestsException', message: 'Rate exceeded' }));
    await assert.rejects(requestCode(cfg, 'ann@example.com', doFetch), (e: unknown) => e instanceof OtpError && e.type === 'TooManyRequestsException' && /Wait/.test(e.message));
  });

  test('no network is an OtpError too', async () => {
    const { doFetch } = stub(new TypeError('Failed to fetch'));
    await assert.rejects(requestCode(cfg, 'ann@example.com', doFetch), (e: unknown) => e instanceof OtpError && e.type === 'Network');
  });

  test('verifyCode sends the code and returns the tokens', async () => {
    const { calls, doFetch } = stub(answer(200, { AuthenticationResult: { IdToken: 'ID', RefreshToken: 'RT', ExpiresIn: 60 } }));
    const t = await verifyCode(cfg, 'ann@example.com', { session: 'S1' }, ' 123 456 ', doFetch, () => NOW);
    assert.deepEqual(t, { idToken: 'ID', refreshToken: 'RT', expiresAt: NOW + 60_000 });
    assert.equal(JSON.parse(String(calls[0]!.init.body)).ChallengeResponses.EMAIL_OTP_CODE, '123456');
  });

  test('a wrong code and an expired code', async () => {
    const wrong = stub(answer(400, { __type: 'CodeMismatchException', message: 'Invalid code received for user' }));
    await assert.rejects(verifyCode(cfg, 'a@x.com', { session: 'S' }, '1', wrong.doFetch), (e: unknown) => e instanceof OtpError && e.type === 'CodeMismatchException');
    const expired = stub(answer(400, { __type: 'ExpiredCodeException', message: 'Invalid code provided, please request a code again.' }));
    await assert.rejects(verifyCode(cfg, 'a@x.com', { session: 'S' }, '1', expired.doFetch), (e: unknown) => e instanceof OtpError && e.type === 'ExpiredCodeException');
    const session = stub(answer(400, { __type: 'NotAuthorizedException', message: 'Invalid session for the user, session is expired.' }));
    await assert.rejects(verifyCode(cfg, 'a@x.com', { session: 'S' }, '1', session.doFetch), (e: unknown) => e instanceof OtpError && /new code/.test(e.message));
  });

  test('without a session (unknown address) any code is refused without asking the pool', async () => {
    const { calls, doFetch } = stub();
    await assert.rejects(verifyCode(cfg, 'nobody@x.com', { session: null }, '123456', doFetch), (e: unknown) => e instanceof OtpError && e.type === 'CodeMismatchException');
    assert.equal(calls.length, 0);
  });

  test('an empty code is refused without asking the pool', async () => {
    const { calls, doFetch } = stub();
    await assert.rejects(verifyCode(cfg, 'a@x.com', { session: 'S' }, '  ', doFetch), OtpError);
    assert.equal(calls.length, 0);
  });

  test('refresh: new tokens, null once the refresh token is refused', async () => {
    const ok = stub(answer(200, { AuthenticationResult: { IdToken: 'ID2', ExpiresIn: 3600 } }));
    assert.deepEqual(await refreshTokens(cfg, { idToken: 'ID', refreshToken: 'RT', expiresAt: NOW }, ok.doFetch, () => NOW), {
      idToken: 'ID2',
      refreshToken: 'RT',
      expiresAt: NOW + 3_600_000,
    });
    const refused = stub(answer(400, { __type: 'NotAuthorizedException', message: 'Refresh Token has expired' }));
    assert.equal(await refreshTokens(cfg, { idToken: 'ID', refreshToken: 'RT', expiresAt: NOW }, refused.doFetch), null);
    assert.equal(await refreshTokens(cfg, { idToken: 'ID', expiresAt: NOW }, stub().doFetch), null);
  });

  test('revoke is best effort', async () => {
    const { calls, doFetch } = stub(answer(400, { __type: 'UnsupportedTokenTypeException' }));
    await revoke(cfg, { idToken: 'ID', refreshToken: 'RT', expiresAt: NOW }, doFetch);
    assert.equal(calls[0]!.init.headers && (calls[0]!.init.headers as Record<string, string>)['X-Amz-Target'], 'AWSCognitoIdentityProviderService.RevokeToken');
    assert.deepEqual(JSON.parse(String(calls[0]!.init.body)), { Token: 'RT', ClientId: 'portal-client' });
  });
});
