import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, asApiError, ok, type ApiError } from './api/client';
import { onSignedOut } from './api/credentials';
import type { User } from './api/types';
import { authMode, signOut } from './auth';
import type { RuntimeConfig } from './config';
import { navigate, useRoute, type Route } from './router';
import { SessionContext, type Session } from './session';
import { ErrorAlert, Loading, SignOutButton } from './ui/controls';
import { clearDirectory } from './directory';
import { SignIn, SignInLink } from './pages/SignIn';
import { CaseList } from './pages/CaseList';
import { CaseView } from './pages/CaseView';
import { NewCase } from './pages/NewCase';

type State =
  | { kind: 'loading' }
  | { kind: 'signed-out'; reason?: string | undefined }
  | { kind: 'portal' }
  | { kind: 'error'; error: ApiError }
  | { kind: 'in'; me: User };

/** Who is signed in (401 when nobody). */
export function fetchMe() {
  return ok(api.GET('/me'));
}
type MeRequest = ReturnType<typeof fetchMe>;

export function App({ config, notice, me: firstMe }: { config: RuntimeConfig; notice?: string | undefined; me?: MeRequest | undefined }) {
  const route = useRoute();
  const [state, setState] = useState<State>({ kind: 'loading' });
  const signInNotice = useRef(notice);
  const pendingMe = useRef(firstMe);

  const loadMe = useCallback(async () => {
    try {
      // The request main.tsx started before the first render, once; later loads ask anew.
      const request = pendingMe.current ?? fetchMe();
      pendingMe.current = undefined;
      const me = await request;
      setState(me.kind === 'user' ? { kind: 'in', me: me.user } : { kind: 'portal' });
    } catch (e) {
      const err = asApiError(e);
      setState(err.status === 401 ? { kind: 'signed-out', reason: signInNotice.current } : { kind: 'error', error: err });
      signInNotice.current = undefined;
    }
  }, []);

  const onSignInLink = route.parts[0] === 'signin' && route.parts.length > 1;
  useEffect(() => {
    if (!onSignInLink) void loadMe();
  }, [onSignInLink, loadMe]);
  useEffect(() => onSignedOut(() => setState((s) => (s.kind === 'in' ? { kind: 'signed-out', reason: 'Your session has ended. Please sign in again.' } : s))), []);
  useEffect(() => {
    if (state.kind === 'signed-out') clearDirectory();
  }, [state.kind]);

  if (onSignInLink) {
    return (
      <SignInLink
        key={route.parts.slice(1).join('/')}
        token={route.parts.slice(1).join('/')}
        onSignedIn={() => {
          setState({ kind: 'loading' });
          navigate('#/', true);
        }}
      />
    );
  }
  switch (state.kind) {
    case 'loading':
      return (
        <div class="boot">
          <Loading label="Loading Docket…" />
        </div>
      );
    case 'signed-out':
      return <SignIn mode={config.auth} reason={state.reason} />;
    case 'portal':
      return (
        <main class="boot-error">
          <h1>This console is for staff</h1>
          <p>You are signed in as a customer. Use the customer portal instead.</p>
          <SignOutButton signOut={signOut} look="btn-quiet" test="signout" onDone={() => setState({ kind: 'signed-out' })} />
        </main>
      );
    case 'error':
      return (
        <main class="boot-error">
          <h1>Docket could not load your account</h1>
          <ErrorAlert error={state.error} />
          <button type="button" class="btn" onClick={() => void loadMe()}>
            Try again
          </button>
        </main>
      );
    case 'in': {
      const session: Session = { me: state.me, isAdmin: state.me.role === 'admin' };
      return (
        <SessionContext.Provider value={session}>
          <Shell route={route} onSignedOut={() => setState({ kind: 'signed-out' })}>
            <Page route={route} />
          </Shell>
        </SessionContext.Provider>
      );
    }
  }
}

const NAV: { key: string; label: string; href: string; admin?: boolean }[] = [
  { key: 'cases', label: 'Cases', href: '#/cases' },
  { key: 'contacts', label: 'Contacts', href: '#/contacts' },
  { key: 'accounts', label: 'Accounts', href: '#/accounts' },
  { key: 'kb', label: 'Knowledge base', href: '#/kb' },
  { key: 'admin', label: 'Admin', href: '#/admin', admin: true },
];

function Shell({ route, children, onSignedOut: done }: { route: Route; children: ComponentChildren; onSignedOut: () => void }) {
  return (
    <SessionContext.Consumer>
      {(session) => {
        const section = route.parts[0] ?? 'cases';
        return (
          <div class="shell">
            <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
              Skip to content
            </a>
            <header class="topbar">
              <a class="brand" href="#/cases">
                <span class="brand-mark" aria-hidden="true">D</span> Docket
              </a>
              <nav aria-label="Main" class="mainnav">
                <ul>
                  {NAV.filter((n) => !n.admin || session?.isAdmin).map((n) => (
                    <li key={n.key}>
                      <a href={n.href} aria-current={section === n.key ? 'page' : undefined} data-test={`nav-${n.key}`}>
                        {n.label}
                      </a>
                    </li>
                  ))}
                </ul>
              </nav>
              <a class="btn btn-primary btn-sm newcase" href="#/cases/new" data-test="new-case">
                New case
              </a>
              <div class="whoami">
                <span class="who" data-test="me">
                  {session?.me.name}
                  <span class="who-role">{session?.isAdmin ? 'Admin' : 'Agent'}</span>
                </span>
                <SignOutButton signOut={signOut} look="btn-quiet" test="signout" onDone={() => authMode() === 'local' && done()} />
              </div>
            </header>
            <main id="main" tabIndex={-1}>
              {children}
            </main>
          </div>
        );
      }}
    </SessionContext.Consumer>
  );
}

function Page({ route }: { route: Route }) {
  const [section = 'cases', id, ...rest] = route.parts;
  switch (section) {
    case 'signin': // a sign-in link opened while signed in
      return <CaseList query={route.query} />;
    case 'cases':
      if (!id) return <CaseList query={route.query} />;
      if (id === 'new') return <NewCase query={route.query} />;
      return <CaseView caseRef={id} key={id} />;
    case 'contacts':
      return <Lazy load={loadContacts} render={({ Contacts }) => <Contacts id={id} query={route.query} />} />;
    case 'accounts':
      return <Lazy load={loadAccounts} render={({ Accounts }) => <Accounts id={id} query={route.query} />} />;
    case 'kb':
      return <Lazy load={loadKnowledge} render={({ Knowledge }) => <Knowledge id={id} query={route.query} />} />;
    case 'admin':
      return <Lazy load={loadAdmin} render={({ Admin }) => <Admin section={id} id={rest[0]} query={route.query} />} />;
    default:
      return (
        <div class="page">
          <h1>Not found</h1>
          <p>
            There is no page here. <a href="#/cases">Go to the case list</a>.
          </p>
        </div>
      );
  }
}

// Screens loaded when first opened (their own chunks; see build.mjs).
const loadContacts = () => import('./pages/Contacts');
const loadAccounts = () => import('./pages/Accounts');
const loadKnowledge = () => import('./pages/Knowledge');
const loadAdmin = () => import('./admin/Admin');

/** Renders a lazily loaded module's screen once it is there; a failed load says so. */
function Lazy<M>({ load, render }: { load: () => Promise<M>; render: (module: M) => ComponentChildren }) {
  const [module, setModule] = useState<M | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    load().then(
      (m) => live && setModule(() => m),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [load]);
  if (failed) {
    return (
      <div class="page">
        <p role="alert">This screen could not be loaded. Check your connection and reload the page.</p>
      </div>
    );
  }
  return module ? <>{render(module)}</> : <div class="page"><Loading label="Loading…" /></div>;
}
