// Signing in to the portal: locally an emailed one-time link, on AWS an emailed one-time code.
// Both answer the same whatever the address, so the screen never tells whether it may sign in.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { asApiError, type ApiError } from '../api/client';
import { linkRefusal, useSpentLink } from '../hooks';
import { ErrorAlert, Loading, Notice, TextField } from '../ui/controls';
import { authMode, redeemLink, requestCode, requestLink, verifyCode } from './auth';
import type { Brand } from './brand';
import type { OtpChallenge } from './otp';

export const SENT_LINK = 'If this address may use the portal, a sign-in link is on its way.';
export const SENT_CODE = 'If this address may use the portal, a sign-in code is on its way.';

export function SignIn({ brand, reason, onSignedIn }: { brand: Brand; reason?: string | undefined; onSignedIn: () => void }) {
  return (
    <div class="p-signin">
      <h1 tabIndex={-1}>Sign in to {brand.company_name}</h1>
      {reason ? <Notice kind="warning">{reason}</Notice> : null}
      {authMode() === 'cognito' ? <CodeSignIn onSignedIn={onSignedIn} /> : <LinkRequest />}
    </div>
  );
}

/** A refusal of the address: a malformed one under the field, too many requests as an alert. */
function addressProblem(err: ApiError): { field: string | null; alert: ApiError | null } {
  if ((err.status === 400 || err.status === 422) && (!err.field || err.field === 'email')) {
    return { field: err.message || 'Enter a valid email address.', alert: null };
  }
  if (err.status === 429) {
    return { field: null, alert: Object.assign(err, { message: 'Too many sign-in requests. Wait a few minutes, then try again.' }) };
  }
  return { field: null, alert: err };
}

function EmailForm({
  intro,
  busy,
  fieldError,
  alert,
  submitLabel,
  onSubmit,
}: {
  intro: string;
  busy: boolean;
  fieldError: string | null;
  alert: ComponentChildren;
  submitLabel: string;
  onSubmit: (email: string) => void;
}) {
  const [email, setEmail] = useState('');
  return (
    <form
      class="p-card"
      aria-label="Sign in"
      onSubmit={(e) => {
        e.preventDefault();
        if (email.trim()) onSubmit(email.trim());
      }}
    >
      <p>{intro}</p>
      <TextField label="Email address" type="email" autocomplete="email" required value={email} onValue={setEmail} test="portal-signin-email" error={fieldError} />
      {alert}
      <button type="submit" class="btn btn-primary" disabled={busy || !email.trim()} data-test="portal-signin-submit">
        {busy ? 'Sending…' : submitLabel}
      </button>
    </form>
  );
}

function LinkRequest({ intro }: { intro?: string }) {
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [alert, setAlert] = useState<ApiError | null>(null);
  const submit = async (email: string) => {
    setBusy(true);
    setFieldError(null);
    setAlert(null);
    try {
      await requestLink(email);
      setSent(true);
    } catch (err) {
      const p = addressProblem(asApiError(err));
      setFieldError(p.field);
      setAlert(p.alert);
    } finally {
      setBusy(false);
    }
  };
  if (sent) {
    return (
      <div class="p-card">
        <div class="alert alert-success" role="status" data-test="portal-signin-sent">
          {SENT_LINK}
        </div>
        <p>Open the link in this browser. It works once and expires soon. If nothing arrives, check your spam folder or ask your contact at support.</p>
        <button type="button" class="btn" onClick={() => setSent(false)}>
          Use another address
        </button>
      </div>
    );
  }
  return (
    <EmailForm
      intro={intro ?? 'Enter your email address and we will send you a one-time sign-in link.'}
      busy={busy}
      fieldError={fieldError}
      alert={<ErrorAlert error={alert} />}
      submitLabel="Email me a sign-in link"
      onSubmit={(email) => void submit(email)}
    />
  );
}

/** `#/signin/<token>`: trades the link's token for a session, once. */
export function SignInLink({ token, onSignedIn }: { token: string; onSignedIn: () => void }) {
  const error = useSpentLink(token, redeemLink, onSignedIn);
  return (
    <div class="p-signin">
      <h1 tabIndex={-1}>Sign in</h1>
      {!error ? (
        <Loading label="Signing you in…" />
      ) : (
        <>
          <div class="alert alert-error" role="alert" data-test="portal-signin-error">
            {linkRefusal(error)} Ask for a new one below.
          </div>
          <LinkRequest intro="Enter your email address to get a new sign-in link." />
        </>
      )}
    </div>
  );
}

/** AWS: the address, then the code emailed to it. */
function CodeSignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [email, setEmail] = useState<string | null>(null);
  const [challenge, setChallenge] = useState<OtpChallenge | null>(null);
  const [busy, setBusy] = useState(false);
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [alert, setAlert] = useState<string | null>(null);
  const [code, setCode] = useState('');

  const ask = async (address: string) => {
    setBusy(true);
    setFieldError(null);
    setAlert(null);
    try {
      setChallenge(await requestCode(address));
      setEmail(address);
      setCode('');
    } catch (e) {
      const type = (e as { type?: string }).type;
      if (type === 'InvalidParameterException') setFieldError(messageOf(e));
      else setAlert(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  const verify = async (e: Event) => {
    e.preventDefault();
    if (!email || !challenge) return;
    setBusy(true);
    setFieldError(null);
    setAlert(null);
    try {
      await verifyCode(email, challenge, code);
      onSignedIn();
    } catch (err) {
      const type = (err as { type?: string }).type;
      if (type === 'CodeMismatchException' || type === 'InvalidParameterException') setFieldError(messageOf(err));
      else setAlert(messageOf(err));
      setBusy(false);
    }
  };

  if (!email || !challenge) {
    return (
      <EmailForm
        intro="Enter your email address and we will send you a one-time sign-in code."
        busy={busy}
        fieldError={fieldError}
        alert={alert ? <AlertText text={alert} /> : null}
        submitLabel="Email me a sign-in code"
        onSubmit={(address) => void ask(address)}
      />
    );
  }
  return (
    <form class="p-card" aria-label="Enter the sign-in code" onSubmit={verify}>
      <div class="alert alert-success" role="status" data-test="portal-signin-sent">
        {SENT_CODE}
      </div>
      <p>
        We sent it to <strong>{email}</strong>. Type it below; it works once and expires in a few minutes.
      </p>
      <TextField
        label="Sign-in code"
        autocomplete="one-time-code"
        value={code}
        onValue={setCode}
        test="portal-signin-code"
        error={fieldError}
        maxLength={12}
        autoFocus
      />
      {alert ? <AlertText text={alert} /> : null}
      <div class="p-actions">
        <button type="submit" class="btn btn-primary" disabled={busy || !code.trim()} data-test="portal-signin-verify">
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <button type="button" class="btn" disabled={busy} onClick={() => void ask(email)}>
          Send a new code
        </button>
        <button
          type="button"
          class="btn btn-quiet"
          onClick={() => {
            setEmail(null);
            setChallenge(null);
            setAlert(null);
            setFieldError(null);
          }}
        >
          Use another address
        </button>
      </div>
    </form>
  );
}

function messageOf(e: unknown): string {
  return e instanceof Error && e.message ? e.message : 'Signing in failed. Please try again.';
}

function AlertText({ text }: { text: string }) {
  return (
    <div class="alert alert-error" role="alert" data-test="error">
      {text}
    </div>
  );
}
