// What every API request carries besides the session cookie: on AWS the Cognito ID token as a
// bearer token, held only here in memory (never in localStorage or sessionStorage).

let bearer: string | null = null;
const listeners = new Set<() => void>();

export function setBearer(token: string | null): void {
  bearer = token;
}

export function credentialHeaders(): Record<string, string> {
  return bearer ? { Authorization: `Bearer ${bearer}` } : {};
}

/** Called when the API answers 401: the session is gone (expired, signed out elsewhere). */
export function onSignedOut(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function signedOut(): void {
  for (const l of listeners) l();
}
