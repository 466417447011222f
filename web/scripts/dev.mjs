// Development server (not shipped): serves dist/ (the console at /, the customer portal at
// /portal/) and proxies the API to a running `docket serve`,
// adding `Authorization: Bearer $DOCKET_TOKEN`, so the console can be tried before the server
// embeds it.
//
//   DOCKET_TOKEN=$(docket --data DIR token) node scripts/dev.mjs
//
// Environment: DOCKET_API (default http://127.0.0.1:8099), DOCKET_TOKEN (required), PORT (default
// 5173), DOCKET_DEV_AUTH=proxy to pass /auth/* through to the server once it has them (otherwise
// they are emulated here: a sign-in link is printed on this console), DOCKET_DEV_SIGNED_OUT=1 to
// start signed out, DOCKET_DEV_CONFIG to answer /config.json with other JSON (a Cognito setup). With emulated sign-in, GET /__dev/last-link tells scripts the last link's token.
import { createServer, request as httpRequest } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../dist/', import.meta.url));
const api = new URL(process.env.DOCKET_API ?? 'http://127.0.0.1:8099');
const token = process.env.DOCKET_TOKEN ?? '';
const port = Number(process.env.PORT ?? 5173);
const emulateAuth = process.env.DOCKET_DEV_AUTH !== 'proxy';
let signedIn = process.env.DOCKET_DEV_SIGNED_OUT !== '1';
const links = new Set();
let lastLink = null;

if (!token) {
  console.error('DOCKET_TOKEN is not set: run `docket --data DIR token` and export it.');
  process.exit(1);
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self' https://*.amazoncognito.com; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";
// The portal also shows the company's logo from https: and calls Cognito's regional API.
const PORTAL_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; connect-src 'self' https://cognito-idp.*.amazonaws.com; frame-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

async function serveFile(res, path) {
  const file = normalize(join(root, path));
  if (!file.startsWith(root)) return notFound(res);
  try {
    if (!(await stat(file)).isFile()) return notFound(res);
    const body = await readFile(file);
    const headers = { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' };
    if (path === 'index.html' || path === 'portal.html') {
      headers['content-security-policy'] = path === 'portal.html' ? PORTAL_CSP : CSP;
      headers['cache-control'] = 'no-cache';
      headers['x-content-type-options'] = 'nosniff';
    } else {
      headers['cache-control'] = 'public, max-age=31536000, immutable';
    }
    res.writeHead(200, headers).end(body);
  } catch {
    notFound(res);
  }
}

function notFound(res) {
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
}

function problem(res, status, title, detail) {
  res.writeHead(status, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ type: 'about:blank', title, status, detail }));
}

async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

async function auth(req, res, path) {
  if (req.headers['x-docket-csrf'] !== '1') return problem(res, 403, 'Forbidden', 'missing X-Docket-Csrf header');
  if (path === '/auth/link' || path === '/auth/portal/link') {
    const { email } = JSON.parse((await body(req)) || '{}');
    const t = randomBytes(16).toString('hex');
    links.add(t);
    lastLink = t;
    const page = path === '/auth/portal/link' ? '/portal/' : '/';
    console.log(`[dev] sign-in link for ${email}: http://${req.headers.host}${page}#/signin/${t}`);
    return res.writeHead(202).end();
  }
  if (path === '/auth/session') {
    const { token: t } = JSON.parse((await body(req)) || '{}');
    if (!links.delete(t)) return problem(res, 401, 'Unauthorized', 'This sign-in link has expired or was already used.');
    signedIn = true;
    return res.writeHead(204).end();
  }
  if (path === '/auth/signout') {
    signedIn = false;
    return res.writeHead(204).end();
  }
  return notFound(res);
}

function proxy(req, res) {
  const unsafe = !['GET', 'HEAD', 'OPTIONS'].includes(req.method ?? 'GET');
  if (unsafe && req.headers['x-docket-csrf'] !== '1') {
    console.warn(`[dev] ${req.method} ${req.url} without X-Docket-Csrf`);
    return problem(res, 403, 'Forbidden', 'missing X-Docket-Csrf header');
  }
  const headers = { ...req.headers, host: api.host };
  delete headers.cookie;
  if (signedIn && !headers.authorization) headers.authorization = `Bearer ${token}`;
  const upstream = httpRequest(
    { hostname: api.hostname, port: api.port, path: req.url, method: req.method, headers },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  upstream.on('error', (e) => problem(res, 502, 'Bad Gateway', `API unreachable: ${e.message}`));
  req.pipe(upstream);
}

createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (path === '/' || path === '/index.html') return serveFile(res, 'index.html');
  if (path === '/portal') return res.writeHead(308, { location: '/portal/' }).end();
  if (path === '/portal/') return serveFile(res, 'portal.html');
  if (path.startsWith('/assets/')) return serveFile(res, path.slice(1));
  if (path === '/config.json') {
    const cfg = process.env.DOCKET_DEV_CONFIG ?? JSON.stringify({ auth: 'local', api: '' });
    return res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(cfg);
  }
  if (emulateAuth && path.startsWith('/auth/')) return auth(req, res, path);
  // For scripted checks of the sign-in flow: the token of the last emulated link.
  if (emulateAuth && path === '/__dev/last-link') {
    return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: lastLink }));
  }
  return proxy(req, res);
}).listen(port, '127.0.0.1', () => {
  console.log(`[dev] console on http://127.0.0.1:${port}/ (API ${api.origin}${emulateAuth ? ', sign-in emulated' : ''})`);
});
