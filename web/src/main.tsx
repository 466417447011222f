import { render } from 'preact';
import './styles/app.css';
import { initApi } from './api/client';
import { initAuth } from './auth';
import { loadConfig } from './config';
import { App, fetchMe } from './App';

async function start(root: HTMLElement): Promise<void> {
  try {
    const config = await loadConfig();
    initApi(config.api);
    const { notice } = await initAuth(config);
    // Who is signed in is the first thing every screen needs: ask before the first render
    // rather than after it (a sign-in link asks after spending its token).
    const me = location.hash.startsWith('#/signin/') ? undefined : fetchMe();
    // Its failure (401: not signed in) is handled where the App awaits it.
    me?.catch(() => undefined);
    render(<App config={config} notice={notice} me={me} />, root);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    render(
      <main class="boot-error">
        <h1>Docket could not start</h1>
        <p role="alert">{message}</p>
        <p>
          <a href="/">Try again</a>
        </p>
      </main>,
      root,
    );
  }
}

const root = document.getElementById('app');
if (root) void start(root);
