/**
 * The layer engine's work against the floor's, counted in machine instructions (valgrind's
 * callgrind, every thread of the process: V8's compiler and GC threads too), which the machine's
 * load does not change: on a shared machine the CPU times of bench/scan-layer.ts move by ±10%
 * from one run to the next, more than most changes to the engine. The counts still vary with how
 * the threads interleave (when V8's optimized code arrives, when the GC runs): the engine's whole
 * process by up to ~2.5% between runs of the same code, so compare several runs (`--runs N`,
 * default 3; min, median and max are printed). Instructions are not time (cache misses, the other
 * core), so the goal's figure stays bench/scan-layer.ts's CPU ratio; this says whether a change
 * did less work.
 * Processes:
 * - the floor: scripts/lab/scan-floor.mjs on the Debian lab layer (sha256 + gunzip + tar header walk);
 * - the engine: bench/scan-layer-child.mjs on the same layer (the compiled dist/, gunzip on the
 *   calling thread, the floor's node flags), of this checkout and of `--baseline DIR` (built);
 * - each one's start alone (the floor's without a file: its usage error after its imports; the
 *   engine's with `--load-only`: its modules loaded), so that the work after the start is compared:
 *   ratio = (engine − engine's start) / (floor − floor's start).
 * Needs valgrind (apt-get install valgrind). Each process runs some 50× slower under it: a few minutes.
 * Usage: npx tsx bench/scan-layer-instructions.ts [--runs N] [--baseline DIR]
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, labImages } from '../test/helpers/lab.js';

const argv = process.argv.slice(2);
const at = argv.indexOf('--baseline');
const BASELINE = at >= 0 ? path.resolve(argv[at + 1] ?? '') : undefined;
const ri = argv.indexOf('--runs');
const RUNS = ri >= 0 ? Number(argv[ri + 1]) : 3;
if (!(RUNS >= 1)) throw new Error('--runs N: a number of runs, at least 1');
if (BASELINE && !fs.existsSync(path.join(BASELINE, 'dist/scan/walker.js'))) throw new Error(`--baseline ${BASELINE}: no built dist/ there (node scripts/build.mjs)`);

function firstLayer(image: string): string {
  const dir = path.join(labImages(), image);
  const idx = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'blobs/sha256', idx.manifests[0]!.digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
  return path.join(dir, 'blobs/sha256', m.layers[0]!.digest.slice(7));
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-ir-'));
let runs = 0;

/** Instructions callgrind counted for `node ARGS` (every thread); throws unless it exits with one of `ok`. */
function instructions(args: string[], ok: number[] = [0]): number {
  const out = path.join(tmp, `cg.${++runs}`);
  const r = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, '--smc-check=all-non-file', process.execPath, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`valgrind: ${r.error.message} (apt-get install valgrind)`);
  if (!ok.includes(r.status ?? -1)) throw new Error(`valgrind node ${args.join(' ')}: exit ${r.status}\n${r.stderr.slice(-2000)}`);
  const m = /Collected : (\d+)/.exec(r.stderr);
  if (!m) throw new Error(`valgrind node ${args.join(' ')}: no instruction count in its output`);
  fs.rmSync(out, { force: true });
  return Number(m[1]);
}

const G = (n: number) => `${(n / 1e9).toFixed(3)} G`;

try {
  const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--if-needed'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('scripts/build.mjs failed');
  const layer = firstLayer('debian-minbase');
  const digest = `sha256:${crypto.createHash('sha256').update(fs.readFileSync(layer)).digest('hex')}`;
  const floorScript = path.join(ROOT, 'scripts/lab/scan-floor.mjs');
  const child = path.join(ROOT, 'bench/scan-layer-child.mjs');
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  // The starts vary little: one run each. The whole processes: RUNS each, alternating, medians.
  const floorStart = instructions([floorScript], [2]);
  const engineStart = (dir: string) => instructions([child, path.join(dir, 'dist'), layer, digest, '--load-only']);
  const oursStart = engineStart(ROOT);
  const baseStart = BASELINE ? engineStart(BASELINE) : 0;
  const floors: number[] = [];
  const oursTotal: number[] = [];
  const baseTotal: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    floors.push(instructions([floorScript, layer]));
    oursTotal.push(instructions([child, path.join(ROOT, 'dist'), layer, digest, '--in-thread']));
    if (BASELINE) baseTotal.push(instructions([child, path.join(BASELINE, 'dist'), layer, digest, '--in-thread']));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const spread = (xs: number[]) => `[min ${G(Math.min(...xs))}, max ${G(Math.max(...xs))}]`;
  const floor = median(floors);
  const ours = { start: oursStart, total: median(oursTotal), work: median(oursTotal) - oursStart };
  const base = BASELINE ? { start: baseStart, total: median(baseTotal), work: median(baseTotal) - baseStart } : undefined;
  const floorWork = floor - floorStart;
  console.log(`bench/scan-layer-instructions: Debian lab layer ${path.basename(layer).slice(0, 12)}, instructions of every thread (callgrind); load average ${load} (does not change the counts)`);
  console.log(`  ${RUNS} run(s) of each whole process, medians`);
  console.log(`  floor (scan-floor.mjs): ${G(floor)} ${spread(floors)}, its start ${G(floorStart)}, work ${G(floorWork)}`);
  console.log(`  engine (dist/, gunzip on the calling thread): ${G(ours.total)} ${spread(oursTotal)}, its start ${G(ours.start)}, work ${G(ours.work)}`);
  console.log(`    work to the floor's: ${(ours.work / floorWork).toFixed(3)}; whole processes: ${(ours.total / floor).toFixed(3)}`);
  if (base) {
    console.log(`  baseline ${BASELINE}: ${G(base.total)} ${spread(baseTotal)}, its start ${G(base.start)}, work ${G(base.work)}`);
    console.log(`    work to the floor's: ${(base.work / floorWork).toFixed(3)}; this checkout's work to the baseline's: ${(ours.work / base.work).toFixed(3)}`);
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
