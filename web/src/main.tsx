import { render } from 'preact';
import './styles/app.css';
import { initApi } from './api/client';
import { initAuth } from './auth';
import { loadConfig } from './config';
import { App } from './App';

async function start(root: HTMLElement): Promise<void> {
  try {
    const config = await loadConfig();
    initApi(config.api);
    const { notice } = await initAuth(config);
    render(<App config={config} notice={notice} />, root);
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
