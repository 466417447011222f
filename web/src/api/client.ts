// The typed API client. Types come from openapi.json (openapi-typescript), so a contract change
// breaks the type check, not the user. Every request is same-origin with the session cookie (or
// the bearer token on AWS); every unsafe request carries X-Docket-Csrf.
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema';
import { credentialHeaders, signedOut } from './credentials';

export type Schemas = components['schemas'];
export type Problem = Schemas['Problem'];

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

let base = '';
export let api: Client<paths> = makeClient('');

export function initApi(apiBase: string): void {
  base = apiBase;
  api = makeClient(apiBase);
}

export function apiUrl(path: string): string {
  return `${base}${path}`;
}

function decorate(request: Request): Request {
  for (const [k, v] of Object.entries(credentialHeaders())) request.headers.set(k, v);
  if (UNSAFE.has(request.method)) request.headers.set('X-Docket-Csrf', '1');
  return request;
}

function makeClient(baseUrl: string): Client<paths> {
  const client = createClient<paths>({ baseUrl, credentials: 'same-origin' });
  client.use({
    onRequest({ request }) {
      return decorate(request);
    },
    onResponse({ response }) {
      if (response.status === 401) signedOut();
      return response;
    },
  });
  return client;
}

/** A refusal by the API (its problem+json), or a failure to reach it (status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(status: number, problem: Problem) {
    super(problem.detail || problem.title);
    this.status = status;
    this.problem = problem;
  }
  get field(): string | null {
    return this.problem.field ?? null;
  }
}

function toProblem(status: number, body: unknown, statusText = ''): Problem {
  if (body && typeof body === 'object' && 'title' in body) {
    const p = body as Partial<Problem>;
    return {
      type: p.type ?? 'about:blank',
      title: p.title ?? statusText,
      status: p.status ?? status,
      detail: p.detail ?? p.title ?? statusText,
      field: p.field ?? null,
    };
  }
  const text = typeof body === 'string' && body.length > 0 && body.length < 300 ? body : '';
  const detail = text || (status === 0 ? 'The server could not be reached. Check your connection and try again.' : `The server answered ${status} ${statusText}.`);
  return { type: 'about:blank', title: statusText || 'Error', status, detail, field: null };
}

export function asApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new ApiError(0, { type: 'about:blank', title: 'Error', status: 0, detail: message || 'Something went wrong.', field: null });
}

interface Outcome<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a successful call, or an ApiError carrying the problem. */
export async function ok<T>(pending: Promise<Outcome<T>>): Promise<T> {
  return (await tagged(pending)).data;
}

/** Like ok(), with the record's ETag (for If-Match). */
export async function tagged<T>(pending: Promise<Outcome<T>>): Promise<{ data: T; etag: string | null }> {
  let outcome: Outcome<T>;
  try {
    outcome = await pending;
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(0, toProblem(0, null));
  }
  const { data, error, response } = outcome;
  if (!response.ok || error !== undefined) throw new ApiError(response.status, toProblem(response.status, error, response.statusText));
  return { data: data as T, etag: response.headers.get('ETag') };
}

/** A request outside the typed contract (sign-in, raw uploads), with the same headers. */
export async function rawFetch(path: string, init: RequestInit = {}, opts: { signOutOn401?: boolean } = {}): Promise<Response> {
  const request = decorate(new Request(apiUrl(path), { credentials: 'same-origin', ...init }));
  let response: Response;
  try {
    response = await fetch(request);
  } catch {
    throw new ApiError(0, toProblem(0, null));
  }
  if (response.status === 401 && opts.signOutOn401 !== false) signedOut();
  return response;
}

/**
 * POSTs to one of the local server's sign-in routes (`/auth/link`, `/auth/portal/link`,
 * `/auth/session`, `/auth/signout`; not in the API document): a refusal is thrown as its problem
 * and a 401 there never counts as being signed out.
 */
export async function postAuth(path: string, body?: Record<string, string>): Promise<void> {
  const init: RequestInit =
    body === undefined ? { method: 'POST' } : { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
  await check(await rawFetch(path, init, { signOutOn401: false }));
}

/** Throws the response's problem unless it succeeded. */
export async function check(response: Response): Promise<Response> {
  if (response.ok || response.status === 304) return response;
  let body: unknown = null;
  try {
    const text = await response.text();
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  } catch {
    body = null;
  }
  throw new ApiError(response.status, toProblem(response.status, body, response.statusText));
}

/** A download link for an attachment of a case: a short-lived presigned URL. */
export async function attachmentUrl(caseRef: string, attachmentId: string): Promise<string> {
  const data = await ok(api.GET('/cases/{case_ref}/attachments/{attachment_id}/url', { params: { path: { case_ref: caseRef, attachment_id: attachmentId } } }));
  return data.url;
}
