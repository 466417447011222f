// The customer portal's start: configuration, the brand (before anything shows), who is signed
// in, then the app. Served at /portal/ (dist/portal.html).
import { render } from 'preact';
import './portal.css';
import { api, initApi } from '../api/client';
import { fetchConfig } from '../config';
import { initPortalAuth, portalConfig } from './auth';
import { applyBrand, readBrand } from './brand';
import { fetchMe, PortalApp } from './App';

async function start(root: HTMLElement): Promise<void> {
  try {
    const config = portalConfig(await fetchConfig('portal'));
    initApi(config.api);
    initPortalAuth(config);
    const branding = api.GET('/branding').then(
      ({ data }) => readBrand(data),
      () => readBrand(null),
    );
    // Who is signed in, asked together with the brand (a sign-in link asks after spending its
    // token; on AWS nobody is signed in before a code is typed: tokens live in memory only).
    const me = config.auth === 'local' && !location.hash.startsWith('#/signin/') ? fetchMe() : undefined;
    me?.catch(() => undefined);
    const brand = await branding;
    applyBrand(brand);
    render(<PortalApp brand={brand} me={me} />, root);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    render(
      <main class="boot-error">
        <h1>The support portal could not start</h1>
        <p role="alert">{message}</p>
        <p>
          <a href="">Try again</a>
        </p>
      </main>,
      root,
    );
  }
}

const root = document.getElementById('app');
if (root) void start(root);
