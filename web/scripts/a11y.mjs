// Dev-time accessibility check: opens every screen of a running console (scripts/dev.mjs or
// `docket serve`) in the system Chromium and runs axe-core; fails on serious or critical
// violations. Usage: node scripts/a11y.mjs [BASE_URL] (default http://127.0.0.1:5173).
// Signs out at the end to check the sign-in screen too.
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { startDriver, session, axe } from './webdriver.mjs';

const base = (process.argv[2] ?? 'http://127.0.0.1:5173').replace(/\/$/, '');
const shots = process.env.SHOTS; // a folder to save screenshots in, if set
const source = readFileSync(new URL('../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
const get = async (path) => (await fetch(`${base}${path}`)).json();

// Signed out of the dev server (an earlier run)? Sign in through an emulated link first.
if ((await fetch(`${base}/me`)).status === 401) {
  await fetch(`${base}/auth/link`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-docket-csrf': '1' }, body: '{"email":"admin@docket.localhost"}' });
  const { token } = await (await fetch(`${base}/__dev/last-link`)).json();
  await fetch(`${base}/auth/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-docket-csrf': '1' }, body: JSON.stringify({ token }) });
}

const firstId = async (path, pick = () => true) => (await get(path)).items?.find(pick)?.id;
const routes = ['#/cases', '#/cases?assignee=me', '#/cases/new'];
const cases = (await get('/cases?limit=50')).items ?? [];
const mailCase = cases.find((c) => c.source === 'email');
if (cases[0]) routes.push(`#/cases/${cases[0].number}`);
if (mailCase) routes.push(`#/cases/${mailCase.number}`);
routes.push('#/contacts', '#/contacts/new', '#/accounts', '#/accounts/new', '#/kb', '#/kb/new');
for (const [path, route] of [
  ['/contacts', 'contacts'],
  ['/accounts', 'accounts'],
  ['/articles', 'kb'],
]) {
  const id = await firstId(path);
  if (id) routes.push(`#/${route}/${id}`);
}
routes.push('#/admin/users', '#/admin/teams', '#/admin/mailboxes', '#/admin/settings', '#/admin/rules', '#/admin/rules/new', '#/admin/forms', '#/admin/forms/new', '#/admin/calendars', '#/admin/calendars/new', '#/admin/agreements', '#/admin/agreements/new', '#/admin/inbound');
const rule = await firstId('/workflow-rules');
if (rule) routes.push(`#/admin/rules/${rule}`);
const form = await firstId('/forms');
if (form) routes.push(`#/admin/forms/${form}`);
const calendar = await firstId('/calendars');
if (calendar) routes.push(`#/admin/calendars/${calendar}`);
const agreement = await firstId('/service-agreements');
if (agreement) routes.push(`#/admin/agreements/${agreement}`);

const driver = await startDriver(Number(process.env.DRIVER_PORT ?? 9555));
const s = await session(driver.base, { width: 1280, height: 800 });
let failures = 0;
const check = async (label) => {
  const violations = await axe(s, source);
  if (shots) {
    mkdirSync(shots, { recursive: true });
    writeFileSync(`${shots}/${label.replace(/[^a-z0-9]+/gi, '_')}.png`, await s.screenshot());
  }
  if (violations.length) {
    failures += violations.length;
    console.log(`✗ ${label}`);
    for (const v of violations) console.log(`   ${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(' | ')}`);
  } else {
    console.log(`✓ ${label}`);
  }
};
try {
  for (const route of routes) {
    await s.go(`${base}/${route}`);
    await s.waitFor('main h1, main .page-header h1');
    await new Promise((r) => setTimeout(r, 700));
    await check(route);
    if (route === `#/cases/${mailCase?.number}`) {
      for (const t of ['show-quoted', 'show-html']) {
        if ((await s.findAll(`[data-test=${t}]`)).length) await s.click(`[data-test=${t}]`);
      }
      await new Promise((r) => setTimeout(r, 500));
      await check(`${route} (mail opened)`);
    }
  }
  await s.click('[data-test=signout]');
  await s.waitFor('[data-test=signin-form]');
  await check('sign-in');
  await s.type('[data-test=signin-email]', 'admin@docket.localhost');
  await s.click('[data-test=signin-submit]');
  await s.waitFor('[data-test=signin-sent]');
  await check('sign-in link sent');
  await s.go(`${base}/#/signin/not-a-valid-token`);
  await s.waitFor('[data-test=signin-link-error]');
  await check('sign-in link refused');
  // With the dev server's emulated sign-in, follow the link that was mailed: back in.
  const last = await fetch(`${base}/__dev/last-link`).then((r) => (r.ok ? r.json() : null), () => null);
  if (last?.token) {
    await s.go(`${base}/#/signin/${last.token}`);
    await s.waitFor('[data-test=case-table], .empty');
    console.log(`✓ signed in again by the link (${await s.exec('return location.hash')})`);
  }
} finally {
  await s.quit();
  driver.stop();
}
console.log(failures ? `${failures} serious or critical violations` : 'no serious or critical violations');
process.exit(failures ? 1 : 0);
