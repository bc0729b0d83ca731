/**
 * Benchmark: `db update` of every OSV folder of the shared vulndata (or the fixture set when it is
 * absent) beside a baseline measured in the same run: reading + `JSON.parse` of the same files,
 * nothing else. Prints both times and the ratio (goal: within 3×).
 * Run: `npx tsx bench/vulndb-import.ts [DIR...]`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { updateDb } from '../src/vulndb/index.js';

const SHARED = '/work/shared/vulndata';
const dirs = process.argv.slice(2).length
  ? process.argv.slice(2)
  : fs.existsSync(SHARED)
    ? fs.readdirSync(SHARED).map((d) => path.join(SHARED, d, 'osv')).filter((d) => fs.existsSync(d))
    : ['test/fixtures/vulndb/osv'];

function* walk(d: string): Generator<string> {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.name.endsWith('.json')) yield p;
  }
}

const files = dirs.flatMap((d) => [...walk(d)]);
// warm the page cache so both runs read from memory
for (const f of files) fs.readFileSync(f);

let t0 = performance.now();
let n = 0;
for (const f of files) n += JSON.parse(fs.readFileSync(f, 'utf8')) ? 1 : 0;
const baseline = performance.now() - t0;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-'));
t0 = performance.now();
const st = await updateDb({ path: path.join(tmp, 'vulndb.sqlite'), sources: dirs });
const ours = performance.now() - t0;
fs.rmSync(tmp, { recursive: true, force: true });

console.log(`files ${files.length} (${n} parsed), records imported ${st.imported}, bad ${st.badRecords.length}, by ecosystem ${JSON.stringify(st.byEcosystem)}`);
for (const b of st.badRecords.slice(0, 5)) console.log(`  bad: ${b.file}: ${b.error}`);
console.log(`baseline read+JSON.parse: ${baseline.toFixed(0)} ms`);
console.log(`pushgate db update:       ${ours.toFixed(0)} ms`);
console.log(`ratio: ${(ours / baseline).toFixed(2)}x (goal <= 3x)`);
