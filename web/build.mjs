// Bundles the two pages of the web app into dist/: the agent console (entry `app`, src/main.tsx,
// dist/index.html) and the customer portal (entry `portal`, src/portal/main.tsx,
// dist/portal.html, served at /portal/). Content-hashed JS and CSS go under dist/assets/; each
// HTML page references only its own entry, its own stylesheet and the chunks its entry imports
// statically (no inline script or style: the pages are served under a strict CSP).
// Prints the compressed size of what a browser downloads; fails above the budgets.
import * as esbuild from 'esbuild';
import { mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { basename } from 'node:path';

const BUDGET_GZIP_BYTES = 150 * 1024;
/** What the portal's first visit downloads (entry, its static imports, its CSS). */
const PORTAL_INITIAL_BUDGET_GZIP_BYTES = 60 * 1024;
const dist = new URL('./dist/', import.meta.url);
const dev = process.argv.includes('--dev');

rmSync(dist, { recursive: true, force: true });
mkdirSync(new URL('./assets/', dist), { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: 'src/main.tsx', portal: 'src/portal/main.tsx' },
  bundle: true,
  minify: !dev,
  sourcemap: dev ? 'linked' : false,
  format: 'esm',
  // Screens most sessions never open (admin, directory, knowledge base) load when first opened,
  // so the case list and case view evaluate less script before they show. Code both entries use
  // (Preact, the API client) lands in shared chunks.
  splitting: true,
  chunkNames: 'chunk-[hash]',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  outdir: 'dist/assets',
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  metafile: true,
  legalComments: 'none',
  define: { 'process.env.NODE_ENV': dev ? '"development"' : '"production"' },
  logLevel: 'warning',
});

writeFileSync(new URL('./build-meta.json', import.meta.url), JSON.stringify(result.metafile));

const { outputs } = result.metafile;
const gzipSize = (file) => gzipSync(readFileSync(file), { level: 9 }).length;

/** The output of an entry point: its script, its stylesheet, the chunks it imports statically (transitively). */
function entry(source) {
  const js = Object.keys(outputs).find((f) => f.endsWith('.js') && outputs[f].entryPoint === source);
  const css = js && outputs[js].cssBundle;
  if (!js || !css) throw new Error(`expected an entry script and a stylesheet for ${source}, got ${Object.keys(outputs).join(', ')}`);
  const statics = [];
  const walk = (file) => {
    for (const i of outputs[file].imports) {
      if (i.kind !== 'import-statement' || i.external || statics.includes(i.path)) continue;
      statics.push(i.path);
      walk(i.path);
    }
  };
  walk(js);
  return { js, css, statics };
}

/** Every output a page can load: its statics and, transitively, its dynamic imports. */
function reachable(js) {
  const seen = new Set([js]);
  const queue = [js];
  while (queue.length) {
    for (const i of outputs[queue.pop()].imports) {
      if (i.external || seen.has(i.path) || !outputs[i.path]) continue;
      seen.add(i.path);
      queue.push(i.path);
    }
  }
  return [...seen];
}

function page({ title, entry: e, noscript }) {
  // The chunks the entry imports, fetched alongside it rather than after it.
  const preloads = e.statics.map((p) => `<link rel="modulepreload" href="/assets/${basename(p)}">`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="icon" href="data:,">
<link rel="preload" href="/config.json" as="fetch" crossorigin="anonymous">
<link rel="stylesheet" href="/assets/${basename(e.css)}">
${preloads}
<script type="module" src="/assets/${basename(e.js)}"></script>
</head>
<body>
<div id="app"><noscript>${noscript}</noscript></div>
</body>
</html>
`;
}

const console_ = entry('src/main.tsx');
const portal = entry('src/portal/main.tsx');
writeFileSync(new URL('./index.html', dist), page({ title: 'Docket', entry: console_, noscript: 'Docket needs JavaScript.' }));
writeFileSync(new URL('./portal.html', dist), page({ title: 'Support', entry: portal, noscript: 'The support portal needs JavaScript.' }));

// The portal must not carry the console's screens, not even as lazily loaded chunks.
const consoleOnly = /^src\/(pages|admin)\/|^src\/(App|main|auth|cognito|directory|session)\.tsx?$/;
const leaked = reachable(portal.js)
  .flatMap((f) => Object.keys(outputs[f].inputs ?? {}))
  .filter((input) => consoleOnly.test(input));
if (leaked.length) {
  console.error(`the portal bundle pulls in console modules: ${[...new Set(leaked)].join(', ')}`);
  process.exit(1);
}

let total = 0;
// Everything a session of either page can download: entries, stylesheets and every chunk.
for (const file of Object.keys(outputs).filter((f) => f.endsWith('.js') || f.endsWith('.css'))) {
  const bytes = readFileSync(file).length;
  const gz = gzipSize(file);
  total += gz;
  console.log(`${file.padEnd(40)} ${(bytes / 1024).toFixed(1).padStart(7)} KB  gzip ${(gz / 1024).toFixed(1).padStart(6)} KB`);
}
const initial = (e) => [e.js, e.css, ...e.statics].reduce((sum, f) => sum + gzipSize(f), 0);
const consoleInitial = initial(console_);
const portalInitial = initial(portal);
console.log(`${'Console initial load'.padEnd(40)} ${''.padStart(10)}  gzip ${(consoleInitial / 1024).toFixed(1).padStart(6)} KB`);
console.log(
  `${'Portal initial load'.padEnd(40)} ${''.padStart(10)}  gzip ${(portalInitial / 1024).toFixed(1).padStart(6)} KB (budget ${PORTAL_INITIAL_BUDGET_GZIP_BYTES / 1024} KB)`,
);
console.log(`${'JS + CSS'.padEnd(40)} ${''.padStart(10)}  gzip ${(total / 1024).toFixed(1).padStart(6)} KB (budget ${BUDGET_GZIP_BYTES / 1024} KB)`);
if (total > BUDGET_GZIP_BYTES) {
  console.error('over the size budget');
  process.exit(1);
}
if (portalInitial > PORTAL_INITIAL_BUDGET_GZIP_BYTES) {
  console.error("the portal's initial load is over its size budget");
  process.exit(1);
}
