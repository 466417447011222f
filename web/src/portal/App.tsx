// The customer portal: who is signed in, the branded shell (header, navigation, main) and the
// routes. Screens: my cases, a case, a new case, the help articles, sign-in.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, asApiError, ok, type ApiError } from '../api/client';
import { onSignedOut } from '../api/credentials';
import { navigate, useRoute, type Route } from '../router';
import { ErrorAlert, Loading, SignOutButton } from '../ui/controls';
import { mayBeSignedIn, signOut } from './auth';
import type { Brand } from './brand';
import { PortalContext, type PortalSession } from './session';
import { SignIn, SignInLink } from './SignIn';
import { MyCases } from './Cases';
import { PortalCaseView } from './CaseView';
import { NewPortalCase } from './NewCase';
import { ArticleList, ArticleView } from './Knowledge';

/** Who is signed in (401 when nobody). */
export function fetchMe() {
  return ok(api.GET('/me'));
}
type MeRequest = ReturnType<typeof fetchMe>;

type State =
  | { kind: 'loading' }
  | { kind: 'signed-out'; reason?: string | undefined }
  | { kind: 'staff' }
  | { kind: 'error'; error: ApiError }
  | { kind: 'in'; session: PortalSession };

export function PortalApp({ brand, me: firstMe }: { brand: Brand; me?: MeRequest | undefined }) {
  const route = useRoute();
  const [state, setState] = useState<State>({ kind: 'loading' });
  const pendingMe = useRef(firstMe);
  // Set between a completed sign-in and the answer of /me: a 401 then is a refusal worth saying.
  const justSignedIn = useRef(false);

  const loadMe = useCallback(async () => {
    if (!pendingMe.current && !mayBeSignedIn()) return setState({ kind: 'signed-out' });
    try {
      const request = pendingMe.current ?? fetchMe();
      pendingMe.current = undefined;
      const me = await request;
      if (me.kind === 'user') return setState({ kind: 'staff' });
      const portal = me.contact.portal ?? null;
      return setState({ kind: 'in', session: { contact: me.contact, canCreate: portal?.can_create_cases === true, accountCases: portal?.role === 'account_cases' } });
    } catch (e) {
      const err = asApiError(e);
      if (err.status !== 401) return setState({ kind: 'error', error: err });
      const reason = justSignedIn.current ? 'You signed in, but the portal did not accept the sign-in. Please try again, or contact support.' : undefined;
      return setState({ kind: 'signed-out', reason });
    } finally {
      justSignedIn.current = false;
    }
  }, []);

  const onSignInLink = route.parts[0] === 'signin' && route.parts.length > 1;
  useEffect(() => {
    if (!onSignInLink) void loadMe();
  }, [onSignInLink, loadMe]);
  useEffect(
    () => onSignedOut(() => setState((s) => (s.kind === 'in' ? { kind: 'signed-out', reason: 'Your session has ended. Please sign in again.' } : s))),
    [],
  );

  const signedOut = () => {
    setState({ kind: 'signed-out' });
    navigate('#/signin', true);
  };
  const signedIn = (home: boolean) => {
    justSignedIn.current = true;
    setState({ kind: 'loading' });
    if (home) navigate('#/', true);
    else void loadMe();
  };

  if (onSignInLink) {
    const token = route.parts.slice(1).join('/');
    return (
      <Shell brand={brand} route={route}>
        <SignInLink key={token} token={token} onSignedIn={() => signedIn(true)} />
      </Shell>
    );
  }
  switch (state.kind) {
    case 'loading':
      return (
        <Shell brand={brand} route={route}>
          <Loading label="Loading…" />
        </Shell>
      );
    case 'signed-out':
      return (
        <Shell brand={brand} route={route}>
          <SignIn brand={brand} reason={state.reason} onSignedIn={() => signedIn(route.parts[0] === 'signin')} />
        </Shell>
      );
    case 'staff':
      return (
        <Shell brand={brand} route={route} onSignedOut={signedOut}>
          <h1 tabIndex={-1}>This portal is for customers</h1>
          <p>You are signed in as a member of staff. Customers use this portal to follow their cases; staff work in the agent console.</p>
          <p>
            <a href="/">Go to the agent console</a>, or sign out to sign in as a customer.
          </p>
        </Shell>
      );
    case 'error':
      return (
        <Shell brand={brand} route={route}>
          <h1 tabIndex={-1}>Your account could not be loaded</h1>
          <ErrorAlert error={state.error} />
          <button type="button" class="btn" onClick={() => void loadMe()}>
            Try again
          </button>
        </Shell>
      );
    case 'in':
      return (
        <PortalContext.Provider value={state.session}>
          <Shell brand={brand} route={route} session={state.session} onSignedOut={signedOut}>
            <Page route={route} session={state.session} />
          </Shell>
        </PortalContext.Provider>
      );
  }
}

function Shell({
  brand,
  route,
  session,
  onSignedOut: done,
  children,
}: {
  brand: Brand;
  route: Route;
  session?: PortalSession;
  onSignedOut?: () => void;
  children: ComponentChildren;
}) {
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  const path = route.parts.join('/');
  // A new screen: move focus to its heading (or the main region), so keyboard and screen reader
  // users start there. Not on the first load, and not when only the query changes (a search).
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const el = main.current;
    if (!el) return;
    const focus = () => {
      const heading = el.querySelector<HTMLElement>('h1[tabindex]');
      (heading ?? el).focus();
    };
    // After the screen rendered its heading.
    window.requestAnimationFrame(focus);
  }, [path]);
  const section = route.parts[0] ?? '';
  return (
    <div class="p-shell">
      <a class="skip" href="#main" onClick={(e) => {
        e.preventDefault();
        main.current?.focus();
      }}>
        Skip to content
      </a>
      <header class="p-header">
        <div class="p-header-in">
          <a class="p-brand" href="#/" data-test="portal-brand">
            {brand.logo_url ? <img class="p-logo" src={brand.logo_url} alt={brand.company_name} /> : null}
            <span class="p-brand-name">{brand.company_name}</span>
          </a>
          {session ? (
            <nav aria-label="Portal" class="p-nav">
              <ul>
                <li>
                  <a href="#/" data-test="portal-nav-cases" aria-current={section === '' || section === 'cases' ? 'page' : undefined}>
                    My cases
                  </a>
                </li>
                {session.canCreate ? (
                  <li>
                    <a href="#/new" data-test="portal-nav-new" aria-current={section === 'new' ? 'page' : undefined}>
                      New case
                    </a>
                  </li>
                ) : null}
                <li>
                  <a href="#/kb" data-test="portal-nav-kb" aria-current={section === 'kb' ? 'page' : undefined}>
                    Help articles
                  </a>
                </li>
              </ul>
            </nav>
          ) : null}
          {done ? (
            <div class="p-who">
              {session ? <span class="p-who-name">{session.contact.name}</span> : null}
              <SignOutButton signOut={signOut} look="btn-on-accent" test="portal-signout" onDone={done} />
            </div>
          ) : null}
        </div>
      </header>
      <main id="main" class="p-main" tabIndex={-1} ref={main}>
        {children}
      </main>
    </div>
  );
}

function Page({ route, session }: { route: Route; session: PortalSession }) {
  const [section = '', id] = route.parts;
  switch (section) {
    case '':
    case 'signin': // a sign-in link opened while signed in
      return <MyCases />;
    case 'cases':
      if (!id) return <MyCases />;
      return <PortalCaseView key={id} caseRef={id} notice={route.query.get('attach') === 'failed' ? 'attach-failed' : null} />;
    case 'new':
      if (!session.canCreate) {
        return (
          <>
            <h1 tabIndex={-1}>New case</h1>
            <p>Your account cannot open cases in the portal. Please contact support by email.</p>
          </>
        );
      }
      return <NewPortalCase />;
    case 'kb':
      return id ? <ArticleView key={id} id={id} /> : <ArticleList query={route.query} />;
    default:
      return (
        <>
          <h1 tabIndex={-1}>Page not found</h1>
          <p>
            There is nothing here. <a href="#/">Go to your cases</a>.
          </p>
        </>
      );
  }
}
