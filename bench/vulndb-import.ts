/**
 * Benchmark: `db update` of every OSV folder of the shared vulndata (or the fixture set when it is
 * absent) beside a baseline measured in the same run: reading + `JSON.parse` of the same files,
 * nothing else. Each measurement runs in a fresh child process (modules loaded, caches cold), the two
 * alternate, and the best of ROUNDS is kept for each (the machine is shared: the minimum is the
 * least disturbed run). Prints both times and the ratio (goal: within 3×).
 * Run: `npx tsx bench/vulndb-import.ts [DIR...]`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { updateDb, type UpdateStats } from '../src/vulndb/index.js';

const SHARED = '/work/shared/vulndata';
const ROUNDS = 3;

function* walk(d: string): Generator<string> {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.name.endsWith('.json')) yield p;
  }
}

async function child(mode: string, dirs: string[]): Promise<void> {
  if (mode === 'baseline') {
    const t0 = performance.now();
    let n = 0;
    for (const f of dirs.flatMap((d) => [...walk(d)])) n += JSON.parse(fs.readFileSync(f, 'utf8')) ? 1 : 0;
    console.log(JSON.stringify({ ms: performance.now() - t0, n }));
    return;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-'));
  const t0 = performance.now();
  const st = await updateDb({ path: path.join(tmp, 'vulndb.sqlite'), sources: dirs });
  const ms = performance.now() - t0;
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log(JSON.stringify({ ms, st }));
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  await child(args[1], args.slice(2));
} else {
  const dirs = args.length
    ? args
    : fs.existsSync(SHARED)
      ? fs.readdirSync(SHARED).map((d) => path.join(SHARED, d, 'osv')).filter((d) => fs.existsSync(d))
      : ['test/fixtures/vulndb/osv'];
  const files = dirs.flatMap((d) => [...walk(d)]);
  for (const f of files) fs.readFileSync(f); // warm the page cache so every run reads from memory
  const self = fileURLToPath(import.meta.url);
  const run = (mode: string): { ms: number; n?: number; st?: UpdateStats } =>
    JSON.parse(execFileSync(process.execPath, [...process.execArgv, self, '--child', mode, ...dirs], { encoding: 'utf8', maxBuffer: 64 << 20 }).trim().split('\n').at(-1) ?? '{}') as { ms: number };
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
}
