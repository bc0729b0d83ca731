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
if (!writeStamp(root, before)) {
  say(`the sources changed while compiling: ${STAMP} not written; run the build again`);
  process.exit(1);
}
say(`dist/ built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
