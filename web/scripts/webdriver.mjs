// A minimal WebDriver client over fetch (dev-time checks only): enough to open pages in the
// system Chromium through chromedriver, click, type and run axe-core.
import { spawn } from 'node:child_process';

export async function startDriver(port = 9515) {
  const proc = spawn(process.env.CHROMEDRIVER ?? 'chromedriver', [`--port=${port}`], { stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 50; i++) {
    try {
      const r = await fetch(`${base}/status`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base, stop: () => proc.kill() };
}

export async function session(base, { width = 1280, height = 800 } = {}) {
  const caps = {
    capabilities: {
      alwaysMatch: {
        browserName: 'chrome',
        'goog:chromeOptions': {
          binary: process.env.CHROMIUM ?? '/usr/bin/chromium',
          args: ['--headless=new', '--no-sandbox', '--disable-gpu', `--window-size=${width},${height}`],
        },
      },
    },
  };
  const created = await (await fetch(`${base}/session`, { method: 'POST', body: JSON.stringify(caps) })).json();
  const id = created.value.sessionId;
  const call = async (method, path, body) => {
    const r = await fetch(`${base}/session/${id}${path}`, { method, body: body ? JSON.stringify(body) : undefined });
    const json = await r.json();
    if (json.value && json.value.error) throw new Error(`${path}: ${json.value.error}: ${json.value.message}`);
    return json.value;
  };
  const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
  const s = {
    go: (url) => call('POST', '/url', { url }),
    exec: (script, ...args) => call('POST', '/execute/sync', { script, args }),
    execAsync: (script, ...args) => call('POST', '/execute/async', { script, args }),
    find: async (css) => (await call('POST', '/element', { using: 'css selector', value: css }))[ELEMENT],
    findAll: async (css) => (await call('POST', '/elements', { using: 'css selector', value: css })).map((e) => e[ELEMENT]),
    click: async (css) => call('POST', `/element/${await s.find(css)}/click`, {}),
    type: async (css, text) => call('POST', `/element/${await s.find(css)}/value`, { text }),
    clear: async (css) => call('POST', `/element/${await s.find(css)}/clear`, {}),
    text: async (css) => call('GET', `/element/${await s.find(css)}/text`),
    screenshot: async () => Buffer.from(await call('GET', '/screenshot'), 'base64'),
    waitFor: async (css, timeout = 8000) => {
      const end = Date.now() + timeout;
      for (;;) {
        const found = await call('POST', '/elements', { using: 'css selector', value: css });
        if (found.length) return found[0][ELEMENT];
        if (Date.now() > end) throw new Error(`timed out waiting for ${css}`);
        await new Promise((r) => setTimeout(r, 150));
      }
    },
    quit: () => fetch(`${base}/session/${id}`, { method: 'DELETE' }),
  };
  s.timeouts = call('POST', '/timeouts', { script: 30000 });
  return s;
}

/** Runs axe-core in the page; returns violations of the given impacts. */
export async function axe(s, source, impacts = ['serious', 'critical']) {
  await s.exec(source + '\n;return true;');
  const result = await s.execAsync('const done = arguments[arguments.length - 1]; axe.run(document, { resultTypes: ["violations"] }).then((r) => done(r.violations), (e) => done(String(e)));');
  if (typeof result === 'string') throw new Error(result);
  return result.filter((v) => impacts.includes(v.impact));
}
