/**
 * Benchmark: `db update` of every OSV folder of the shared vulndata (or the fixture set when it is
 * absent) beside a baseline measured in the same run: reading + `JSON.parse` of the same files,
 * nothing else. Each measurement runs in a fresh plain-Node child process (bench/vulndb-import-child.mjs;
 * modules loaded, caches cold), the two alternate, and the best of ROUNDS is kept for each (the
 * machine is shared: the minimum is the least disturbed run). Prints both times and the ratio
 * (goal: within 3×). pushgate is measured as it ships (the container image runs the tsc build), so
 * the sources are compiled with tsconfig.build.json into .cache/bench-dist-* first; no TypeScript loader runs
 * in the timed code (under tsx the same import took about 25% longer here).
 * Run: `npx tsx bench/vulndb-import.ts [DIR...]`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { UpdateStats } from '../src/vulndb/index.js';

const SHARED = '/work/shared/vulndata';
const ROUNDS = 7;

function* walk(d: string): Generator<string> {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.name.endsWith('.json')) yield p;
  }
}

const args = process.argv.slice(2);
{
  const dirs = args.length
    ? args
    : fs.existsSync(SHARED)
      ? fs.readdirSync(SHARED).map((d) => path.join(SHARED, d, 'osv')).filter((d) => fs.existsSync(d))
      : ['test/fixtures/vulndb/osv'];
  const files = dirs.flatMap((d) => [...walk(d)]);
  for (const f of files) fs.readFileSync(f); // warm the page cache so every run reads from memory
  const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
  // inside the checkout, so the build resolves node_modules (.cache is git-ignored)
  fs.mkdirSync(path.join(root, '.cache'), { recursive: true });
  const dist = fs.mkdtempSync(path.join(root, '.cache', 'bench-dist-'));
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json'), '--outDir', dist], { stdio: 'inherit' });
  const childScript = path.join(root, 'bench/vulndb-import-child.mjs');
  const run = (mode: string): { ms: number; n?: number; st?: UpdateStats } =>
    JSON.parse(execFileSync(process.execPath, [childScript, mode, ...(mode === 'update' ? [dist] : []), ...dirs], { encoding: 'utf8', maxBuffer: 64 << 20 }).trim().split('\n').at(-1) ?? '{}') as { ms: number };
  let base = Infinity;
  let ours = Infinity;
  let st: UpdateStats | undefined;
  for (let r = 0; r < ROUNDS; r++) {
    base = Math.min(base, run('baseline').ms);
    const o = run('update');
    ours = Math.min(ours, o.ms);
    st = o.st;
  }
  console.log(`files ${files.length}, records imported ${st?.imported}, bad ${st?.badRecords.length}, by ecosystem ${JSON.stringify(st?.byEcosystem)}`);
  for (const b of st?.badRecords.slice(0, 5) ?? []) console.log(`  bad: ${b.file}: ${b.error}`);
  console.log(`baseline read+JSON.parse: ${base.toFixed(0)} ms (best of ${ROUNDS}, fresh process each)`);
  console.log(`pushgate db update:       ${ours.toFixed(0)} ms (best of ${ROUNDS}, fresh process each)`);
  console.log(`ratio: ${(ours / base).toFixed(2)}x (goal <= 3x)`);
  fs.rmSync(dist, { recursive: true, force: true });
}
