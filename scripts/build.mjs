#!/usr/bin/env node
// Compiles src/ into dist/ (tsc -p tsconfig.build.json, after emptying dist/) and writes
// dist/.build-stamp.json, by which bin/pushgate.js knows that dist/ is the build of the sources as
// they are (bin/build-stamp.js). `npm run build` runs it; `npm ci` / `npm install` run it through
// the `prepare` script with --if-needed.
//
// --if-needed: do nothing when dist/ is already current, and skip (exit 0, one line on stderr)
// where no build is possible: no src/ (a packaged copy) or no TypeScript compiler (an install with
// --omit=dev). bin/pushgate.js never runs a dist/ that does not match the sources, so a skipped
// build costs start-up time, never correctness.
/* global process */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInputs, contentFingerprint, distIsCurrent, STAMP, writeStamp } from '../bin/build-stamp.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const ifNeeded = process.argv.includes('--if-needed');
const say = (s) => process.stderr.write(`build: ${s}\n`);

if (!fs.existsSync(path.join(root, 'src'))) {
  if (ifNeeded) { say('no src/: nothing to build'); process.exit(0); }
  say('no src/ to build'); process.exit(2);
}
if (ifNeeded && distIsCurrent(root)) {
  say('dist/ is current');
  process.exit(0);
}
let tsc;
try {
  tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  if (ifNeeded) { say('typescript is not installed (production install?): dist/ not built; bin/pushgate.js runs only a current dist/'); process.exit(0); }
  say('typescript is not installed: run npm ci'); process.exit(2);
}
const before = contentFingerprint(root, buildInputs(root));
const t0 = Date.now();
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
if (r.status !== 0) {
  say(`tsc failed (exit ${r.status ?? r.signal}); dist/ has no stamp, so bin/pushgate.js runs the sources`);
  process.exit(r.status ?? 1);
}
// The console (/ui/ of the main listener): ui/src bundled by esbuild into one ES module, beside
// its page and style sheet. No CDN, no runtime fetch of anything but /api/v1: it works air-gapped.
try {
  await buildUi();
} catch (e) {
  say(`console (ui/) build failed: ${e.message}`);
  process.exit(1);
}
if (!writeStamp(root, before)) {
  say(`the sources changed while compiling: ${STAMP} not written; run the build again`);
  process.exit(1);
}
say(`dist/ built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

/** Bundles ui/src/main.ts into dist/ui/app.js and copies ui/index.html and ui/app.css beside it. */
async function buildUi() {
  const ui = path.join(root, 'ui');
  if (!fs.existsSync(ui)) return;
  let esbuild;
  try {
    esbuild = await import(createRequire(path.join(root, 'package.json')).resolve('esbuild'));
  } catch {
    if (ifNeeded) { say('esbuild is not installed (production install?): the console (/ui/) is not built'); return; }
    throw new Error('esbuild is not installed: run npm ci');
  }
  const out = path.join(root, 'dist', 'ui');
  fs.mkdirSync(out, { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(ui, 'src', 'main.ts')],
    outfile: path.join(out, 'app.js'),
    bundle: true,
    format: 'esm',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'app.css']) fs.copyFileSync(path.join(ui, f), path.join(out, f));
}
