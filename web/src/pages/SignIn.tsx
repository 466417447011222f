import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { asApiError, type ApiError } from '../api/client';
import { beginCognitoSignIn, redeemLink, requestLink } from '../auth';
import { linkRefusal, useSpentLink, useTitle } from '../hooks';
import { ErrorAlert, Loading, Notice, TextField, fieldError } from '../ui/controls';

export function SignIn({ mode, reason }: { mode: 'local' | 'cognito'; reason?: string | undefined }) {
  useTitle('Sign in');
  return (
    <SignInCard>
      {reason ? <Notice kind="warning">{reason}</Notice> : null}
      {mode === 'cognito' ? <CognitoSignIn /> : <LinkRequest />}
    </SignInCard>
  );
}

/** The sign-in screens' page: the brand and the heading above their content. */
function SignInCard({ children }: { children: ComponentChildren }) {
  return (
    <main class="signin" id="main">
      <div class="signin-card">
        <div class="signin-brand">
          <span class="brand-mark" aria-hidden="true">D</span> Docket
        </div>
        <h1>Sign in</h1>
        {children}
      </div>
    </main>
  );
}

function CognitoSignIn() {
  const [error, setError] = useState<ApiError | null>(null);
  return (
    <>
      <p>Sign in with your company account.</p>
      <ErrorAlert error={error} />
      <button
        type="button"
        class="btn btn-primary btn-block"
        data-test="signin-cognito"
        onClick={() => beginCognitoSignIn().catch((e) => setError(asApiError(e)))}
      >
        Sign in
      </button>
    </>
  );
}

function LinkRequest({ intro }: { intro?: string }) {
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await requestLink(email.trim());
      setSent(email.trim());
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  };
  if (sent) {
    return (
      <div data-test="signin-sent">
        <Notice kind="success">
          If <strong>{sent}</strong> belongs to a user, a sign-in link is on its way. Open it in this browser; it works once and
          expires soon.
        </Notice>
        <button type="button" class="btn btn-quiet" onClick={() => setSent(null)}>
          Use another address
        </button>
      </div>
    );
  }
  return (
    <form onSubmit={submit} data-test="signin-form">
      <p>{intro ?? 'Enter your work email address and we will send you a one-time sign-in link.'}</p>
      <TextField
        label="Email address"
        type="email"
        autocomplete="email"
        required
        value={email}
        onValue={setEmail}
        test="signin-email"
        error={fieldError(error, 'email')}
      />
      <ErrorAlert error={error} shown={['email']} />
      <button type="submit" class="btn btn-primary btn-block" disabled={busy || !email.trim()} data-test="signin-submit">
        {busy ? 'Sending…' : 'Email me a sign-in link'}
      </button>
    </form>
  );
}

/** `#/signin/<token>`: trades the link's token for a session, once. */
export function SignInLink({ token, onSignedIn }: { token: string; onSignedIn: () => void }) {
  useTitle('Signing in');
  const error = useSpentLink(token, redeemLink, onSignedIn);
  return (
    <SignInCard>
      {!error ? (
        <Loading label="Signing you in…" />
      ) : (
        <>
          <div class="alert alert-error" role="alert" data-test="signin-link-error">
            {linkRefusal(error)}
          </div>
          <LinkRequest intro="Request a new link:" />
        </>
      )}
    </SignInCard>
  );
}
