// Bundles the console into dist/: content-hashed JS and CSS under dist/assets/ and an index.html
// that only references them (no inline script or style: the page is served under a strict CSP).
// Prints the compressed size of what a browser downloads; fails above the budget.
import * as esbuild from 'esbuild';
import { mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { basename } from 'node:path';

const BUDGET_GZIP_BYTES = 150 * 1024;
const dist = new URL('./dist/', import.meta.url);
const dev = process.argv.includes('--dev');

rmSync(dist, { recursive: true, force: true });
mkdirSync(new URL('./assets/', dist), { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: 'src/main.tsx' },
  bundle: true,
  minify: !dev,
  sourcemap: dev ? 'linked' : false,
  format: 'esm',
  // Screens most sessions never open (admin, directory, knowledge base) load when first opened,
  // so the case list and case view evaluate less script before they show.
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

const outputs = Object.keys(result.metafile.outputs);
const js = outputs.find((f) => f.endsWith('.js') && result.metafile.outputs[f].entryPoint);
const css = outputs.find((f) => f.endsWith('.css'));
if (!js || !css) throw new Error(`expected an entry script and one stylesheet, got ${outputs.join(', ')}`);

// The chunks the entry imports statically, fetched alongside it rather than after it.
const preloads = result.metafile.outputs[js].imports
  .filter((i) => i.kind === 'import-statement')
  .map((i) => `<link rel="modulepreload" href="/assets/${basename(i.path)}">`)
  .join('\n');

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Docket</title>
<link rel="icon" href="data:,">
<link rel="preload" href="/config.json" as="fetch" crossorigin="anonymous">
<link rel="stylesheet" href="/assets/${basename(css)}">
${preloads}
<script type="module" src="/assets/${basename(js)}"></script>
</head>
<body>
<div id="app"><noscript>Docket needs JavaScript.</noscript></div>
</body>
</html>
`;
writeFileSync(new URL('./index.html', dist), html);

let total = 0;
// Everything a session can download: the entry, its stylesheet and every lazily loaded chunk.
for (const file of outputs.filter((f) => f.endsWith('.js') || f.endsWith('.css'))) {
  const bytes = readFileSync(file);
  const gz = gzipSync(bytes, { level: 9 }).length;
  total += gz;
  console.log(`${file.padEnd(40)} ${(bytes.length / 1024).toFixed(1).padStart(7)} KB  gzip ${(gz / 1024).toFixed(1).padStart(6)} KB`);
}
console.log(`${'JS + CSS'.padEnd(40)} ${''.padStart(10)}  gzip ${(total / 1024).toFixed(1).padStart(6)} KB (budget ${BUDGET_GZIP_BYTES / 1024} KB)`);
if (total > BUDGET_GZIP_BYTES) {
  console.error('over the size budget');
  process.exit(1);
}
