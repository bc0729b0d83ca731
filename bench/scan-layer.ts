/**
 * Layer-scan benchmark, each case beside its floor on the same file, in the same run, alternating,
 * several rounds (medians of wall and CPU time; CPU = user + system of every thread, which on a
 * shared machine says more than the wall time; the load average is printed):
 * 1. the Debian base layer (gzip): the full layer scan (verify, one tar pass and every analyzer on the
 *    calling thread) vs scripts/lab/scan-floor.mjs (sha256 + gunzip + tar header walk, its own CPU
 *    time from the start of the read). Goal ≤ 1.1× in CPU, measured as the floor is: the engine as
 *    it ships (compiled dist/, built first when not current) in a fresh process started with the
 *    same node flags as the floor's, timed from the start of its read (bench/scan-layer-child.mjs),
 *    so that the two processes differ only by the work done. The engine timed warm inside this
 *    process (tsx's build of the sources, this process's bigger heap) is printed too, labelled, as
 *    it was the goal's figure before. The engine with the command line's V8 flags (bin/pushgate.js
 *    JIT_FLAGS) is printed too, beside the floor with the same flags, both set as `pushgate scan`
 *    sets them: at run time (v8.setFlagsFromString, bench/v8-flags-at-run-time.cjs), after Node's
 *    start, not on node's command line. Both gunzip placements are timed in-process: in an inflate
 *    worker thread and on the calling thread (zlib's thread pool); the engine's pick here
 *    (`inflateWorker: auto`, engine.ts useInflateWorker) is the one the fresh process uses.
 *    `--baseline DIR`: another checkout of pushgate, built (`node scripts/build.mjs` there), whose
 *    engine is timed in fresh processes in the same rounds (before/after figures side by side).
 * 2. its zstd variant (lab image zstd:1.0): our scan vs `zstd -dcq FILE | tar -t` (no hashing).
 * 3. a generated layer of at least 500 MB of mixed files (random binaries, text, node_modules
 *    package.json, ELF-looking executables, a dpkg status, .env files), written to a temp dir and
 *    deleted after: our scan in a child process (peak RSS of that process; goal under 256 MiB
 *    whatever the layer size) vs scan-floor.mjs.
 * Usage: npx tsx bench/scan-layer.ts [layer.tar.gz|layer.tar.zst] [rounds] [--big-mb N] [--no-big] [--baseline DIR]
 *        (internal: --child FILE [--in-thread|--worker] prints one measurement as JSON)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { ANALYZERS } from '../src/scan/analyzers/index.js';
import { analyzerSetVersion, useInflateWorker } from '../src/scan/engine.js';
import { CHUNK, readLayer } from '../src/scan/layer-stream.js';
import { LayerWalker } from '../src/scan/walker.js';
import { ROOT, labImages } from '../test/helpers/lab.js';

function firstLayer(image: string): string {
  const dir = path.join(labImages(), image);
  const idx = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'blobs/sha256', idx.manifests[0].digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
  return path.join(dir, 'blobs/sha256', m.layers[0].digest.slice(7));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function fileDigest(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const c of fs.createReadStream(file, { highWaterMark: CHUNK })) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

interface Ours { ms: number; cpuMs: number; entries: number; results: number; tarBytes: number }

/**
 * One layer scan: the gzip inflated where the engine's `inflateWorker: auto` puts it
 * (useInflateWorker), or on the calling thread (`inThread: true`) or in a worker (`inThread: false`).
 */
async function ours(file: string, digest: string, size: number, tmpDir: string, inThread?: boolean): Promise<Ours> {
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const walker = new LayerWalker(ANALYZERS, { version: analyzerSetVersion(), digest, tmpDir });
  await readLayer(fs.createReadStream(file, { highWaterMark: CHUNK }), { digest, size }, walker, { worker: inThread === undefined ? useInflateWorker('auto', size) : !inThread });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  const r = walker.result();
  if (!r.complete || r.diagnostics.some((d) => d.incomplete)) throw new Error(`layer scan incomplete: ${JSON.stringify(r.diagnostics.slice(0, 5))}`);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, entries: r.entries, results: r.results.length, tarBytes: r.tarBytes };
}

/** One floor run: wall ms and CPU ms (user + system, every thread) of the read, as the floor process measures them. */
interface Timing { ms: number; cpuMs?: number }

/** scripts/lab/scan-floor.mjs on `file` in a fresh process, with `v8Flags` set as the command line sets its own ({@link atRunTime}). */
function gzipFloor(file: string, v8Flags: string[] = []): Timing {
  const out = execFileSync(process.execPath, [...atRunTime(v8Flags), path.join(ROOT, 'scripts/lab/scan-floor.mjs'), file], { encoding: 'utf8', env: v8FlagsEnv(v8Flags) });
  return JSON.parse(out) as Timing;
}

function zstdFloor(file: string): Timing {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', 'zstd -dcq "$1" | tar -t >/dev/null', 'sh', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`zstd -dc | tar -t failed: ${r.stderr.toString()}`);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

function isGzip(file: string): boolean {
  const head = Buffer.alloc(2);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, head, 0, 2, 0);
  fs.closeSync(fd);
  return head.toString('hex') === '1f8b';
}

const list = (xs: number[]) => `[${xs.map((x) => x.toFixed(0)).join(' ')}]`;
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

/**
 * The engine of the compiled checkout `dir` (its dist/) on `file`, in a fresh process started as the
 * floor's is (bench/scan-layer-child.mjs): wall and CPU ms from the start of its read.
 */
function engineProcess(dir: string, file: string, digest: string, v8Flags: string[] = []): Ours {
  const out = execFileSync(process.execPath, [...atRunTime(v8Flags), path.join(ROOT, 'bench/scan-layer-child.mjs'), path.join(dir, 'dist'), file, digest], { encoding: 'utf8', env: v8FlagsEnv(v8Flags) });
  return JSON.parse(out.trim().split('\n').pop()!) as Ours;
}

/**
 * The node arguments that set `v8Flags` the way bin/pushgate.js sets its JIT_FLAGS: at run time
 * (v8.setFlagsFromString, by the preload bench/v8-flags-at-run-time.cjs, with {@link v8FlagsEnv}),
 * after Node's start and before the script is compiled, not as node command-line flags, which would
 * also govern Node's own bootstrap and V8's set-up (no `pushgate` process runs under those).
 */
function atRunTime(v8Flags: string[]): string[] {
  return v8Flags.length ? ['-r', path.join(ROOT, 'bench/v8-flags-at-run-time.cjs')] : [];
}

/** The environment for {@link atRunTime}: this process's, with BENCH_V8_FLAGS naming `v8Flags`. */
function v8FlagsEnv(v8Flags: string[]): NodeJS.ProcessEnv {
  return v8Flags.length ? { ...process.env, BENCH_V8_FLAGS: v8Flags.join(' ') } : process.env;
}

/**
 * The V8 flags bin/pushgate.js sets for `pushgate scan` (its JIT_FLAGS), read from that file: the
 * engine as the command line runs it, beside the floor's flags.
 */
function cliV8Flags(): string[] {
  const m = /^const JIT_FLAGS = '([^']*)';$/m.exec(fs.readFileSync(path.join(ROOT, 'bin/pushgate.js'), 'utf8'));
  return m ? m[1]!.split(' ').filter(Boolean) : [];
}

/** `--baseline DIR` (absolute), or undefined. */
let BASELINE: string | undefined;

const cpuOf = (xs: Array<{ cpuMs?: number }>) => median(xs.map((x) => x.cpuMs!));
const wallOf = (xs: Array<{ ms: number }>) => median(xs.map((x) => x.ms));

/**
 * Runs one case: ours vs `floor`, alternating. Wall and CPU time (user + system of every thread: on
 * a shared machine the CPU time says more than the wall time, which includes waiting for a core).
 * gzip: ours in a fresh process from dist/ (and the baseline's, with --baseline), and in this
 * process. Returns the CPU ratio of the fresh process (gzip) or of this process to the floor when
 * the floor reports CPU time, else the wall ratio.
 */
async function compare(label: string, file: string, rounds: number, floor: (f: string) => Timing, floorLabel: string, tmpDir: string): Promise<number> {
  const digest = await fileDigest(file);
  const size = fs.statSync(file).size;
  const o: Ours[] = [];
  const f: Timing[] = [];
  // gzip: the other placement of gunzip than the engine's pick, timed beside it.
  const t: Ours[] = [];
  // gzip: the engine from dist/ in a fresh process (the goal's figure), and the baseline's.
  const p: Ours[] = [];
  const b: Ours[] = [];
  // gzip: the same fresh process with the command line's V8 flags (information, not the goal), and
  // the floor with those flags too: a ratio between processes that differ only by the work done.
  const j: Ours[] = [];
  const jf: Timing[] = [];
  const jitFlags = cliV8Flags();
  const gzip = isGzip(file);
  const auto = gzip && useInflateWorker('auto', size);
  const where = (worker: boolean) => (worker ? 'gunzip in an inflate worker thread' : 'gunzip on the calling thread (zlib\'s thread pool)');
  await ours(file, digest, size, tmpDir); // warm-up (JIT, page cache)
  if (gzip) await ours(file, digest, size, tmpDir, auto); // warm-up of the other placement (the inflate worker)
  if (gzip) engineProcess(ROOT, file, digest);
  if (gzip && BASELINE) engineProcess(BASELINE, file, digest);
  const load0 = load();
  for (let i = 0; i < rounds; i++) {
    f.push(floor(file));
    if (gzip) p.push(engineProcess(ROOT, file, digest));
    if (gzip && jitFlags.length) {
      j.push(engineProcess(ROOT, file, digest, jitFlags));
      jf.push(gzipFloor(file, jitFlags));
    }
    if (gzip && BASELINE) {
      f.push(floor(file));
      b.push(engineProcess(BASELINE, file, digest));
    }
    o.push(await ours(file, digest, size, tmpDir));
    if (gzip) t.push(await ours(file, digest, size, tmpDir, auto));
  }
  const info = o[0]!;
  const om = wallOf(o);
  const fm = wallOf(f);
  const oc = cpuOf(o);
  const fcpu = f.every((x) => x.cpuMs !== undefined) ? cpuOf(f) : undefined;
  const ratio = (xs: Ours[]) => `wall ${(wallOf(xs) / fm).toFixed(2)}${fcpu !== undefined ? `, cpu ${(cpuOf(xs) / fcpu).toFixed(2)}` : ''}`;
  const row = (xs: Array<{ ms: number; cpuMs?: number }>) => `wall ${wallOf(xs).toFixed(0)} ms ${list(xs.map((x) => x.ms))}${xs.every((x) => x.cpuMs !== undefined) ? `, cpu ${cpuOf(xs).toFixed(0)} ms ${list(xs.map((x) => x.cpuMs!))}` : ''}`;
  console.log(`\n[${label}] ${file}\n  ${(size / 2 ** 20).toFixed(1)} MiB compressed, ${(info.tarBytes / 2 ** 20).toFixed(0)} MiB tar, ${info.entries} entries, ${info.results} analyzer results`);
  console.log(`  load average ${load0} at the start, ${load()} at the end (${os.availableParallelism()} cores); ${rounds} rounds, medians`);
  console.log(`  floor (${floorLabel}): ${row(f)}`);
  if (p.length) {
    console.log(`  ours, fresh process (dist/, the floor's node flags, timed from the read as the floor is; ${where(auto)}): ${row(p)}`);
    console.log(`    ratio to the floor: ${ratio(p)}`);
  }
  if (j.length) {
    console.log(`  ours, fresh process with the command line's V8 flags (${jitFlags.join(' ')}, set at run time as bin/pushgate.js sets them; not the goal's figure): ${row(j)}`);
    console.log(`    ratio to the floor: ${ratio(j)}`);
    console.log(`  floor with those flags (set at run time too): ${row(jf)}`);
    console.log(`    ours with the command line's flags to it: wall ${(wallOf(j) / wallOf(jf)).toFixed(2)}, cpu ${(cpuOf(j) / cpuOf(jf)).toFixed(2)}`);
  }
  if (b.length) {
    console.log(`  baseline ${BASELINE}, fresh process: ${row(b)}`);
    console.log(`    ratio to the floor: ${ratio(b)}; this checkout to the baseline: wall ${(wallOf(p) / wallOf(b)).toFixed(2)}, cpu ${(cpuOf(p) / cpuOf(b)).toFixed(2)}`);
  }
  console.log(`  ours, in this process (tsx, warm; the goal's figure before the fresh process: verify + decompress + tar walk + ${ANALYZERS.length} analyzers${gzip ? `, ${where(auto)}` : ''}): ${row(o)}`);
  console.log(`    ratio to the floor: ${ratio(o)}`);
  if (t.length) {
    console.log(`  ours, in this process, ${where(!auto)}: ${row(t)}`);
    console.log(`    ratio to the floor: ${ratio(t)}`);
  }
  if (fcpu === undefined) return om / fm;
  return p.length ? cpuOf(p) / fcpu : oc / fcpu;
}

/** Deterministic pseudo-random bytes (fast: a sha256 chain expanded with xorshift). */
function noise(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i + 4 <= n; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

/** Writes a gzip layer of at least `mb` MiB of tar content made of mixed files; returns its path. */
async function generateLayer(dir: string, mb: number): Promise<string> {
  const file = path.join(dir, 'big-layer.tar.gz');
  const pack = tar.pack();
  const done = pipeline(pack, zlib.createGzip({ level: 1, chunkSize: CHUNK }), fs.createWriteStream(file));
  const add = (name: string, body: Buffer, mode = 0o644) => new Promise<void>((resolve, reject) => {
    pack.entry({ name, size: body.length, mode, mtime: new Date(0) }, body, (e) => (e ? reject(e) : resolve()));
  });
  const text = Buffer.from('lorem ipsum dolor sit amet, consectetur adipiscing elit; sed do eiusmod tempor.\n'.repeat(2048));
  const elfHead = Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01\0', 'latin1'), Buffer.alloc(56)]);
  await add('etc/os-release', Buffer.from('ID=debian\nVERSION_ID="12"\n'));
  await add('var/lib/dpkg/status', Buffer.from(Array.from({ length: 400 }, (_, i) => `Package: pkg${i}\nStatus: install ok installed\nVersion: 1.${i}-1\nArchitecture: amd64\n`).join('\n')));
  let written = 0;
  let i = 0;
  const target = mb * 2 ** 20;
  while (written < target) {
    const k = i % 10;
    let name: string;
    let body: Buffer;
    let mode = 0o644;
    if (k === 0) { name = `opt/data/blob${i}.bin`; body = noise(8 * 2 ** 20, i); }
    else if (k === 1) { name = `usr/bin/tool${i}`; body = Buffer.concat([elfHead, noise(2 * 2 ** 20, i)]); mode = 0o755; }
    else if (k === 2) { name = `usr/share/doc/pkg${i}/README`; body = text.subarray(0, 32 * 1024); }
    else if (k === 3) { name = `app/node_modules/dep${i}/package.json`; body = Buffer.from(JSON.stringify({ name: `dep${i}`, version: `1.0.${i}` })); }
    else if (k === 4) { name = `app/src/file${i}.js`; body = text.subarray(0, 64 * 1024); }
    else if (k === 5) { name = `srv/conf${i}/.env`; body = Buffer.from(`DB_HOST=db\nDB_PASS=changeme\nAPI_URL=http://x\n`); }
    else if (k === 6) { name = `var/cache/big${i}.dat`; body = Buffer.concat([text, noise(4 * 2 ** 20, i)]); }
    else if (k === 7) { name = `usr/lib/python3/dist-packages/m${i}-1.0.dist-info/METADATA`; body = Buffer.from(`Metadata-Version: 2.1\nName: m${i}\nVersion: 1.0\n`); }
    else if (k === 8) { name = `usr/lib/x86_64-linux-gnu/lib${i}.so.1`; body = Buffer.concat([elfHead, noise(1024 * 1024, i)]); mode = 0o755; }
    else { name = `home/user/notes${i}.txt`; body = text.subarray(0, 8 * 1024); }
    await add(name, body, mode);
    written += body.length + 512;
    i++;
  }
  pack.finalize();
  await done;
  return file;
}

async function child(file: string, inThread: boolean | undefined): Promise<void> {
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-'));
  try {
    const r = await ours(file, await fileDigest(file), fs.statSync(file).size, tmpDir, inThread);
    console.log(JSON.stringify({ ...r, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
  } finally {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1], args[2] === '--in-thread' ? true : args[2] === '--worker' ? false : undefined);
  const flags = new Set(args.filter((a) => a.startsWith('--')));
  const bigMbIdx = args.indexOf('--big-mb');
  const bigMb = bigMbIdx >= 0 ? Number(args[bigMbIdx + 1]) : 520;
  const baselineIdx = args.indexOf('--baseline');
  if (baselineIdx >= 0) {
    BASELINE = path.resolve(args[baselineIdx + 1] ?? '');
    if (!fs.existsSync(path.join(BASELINE, 'dist/scan/walker.js'))) throw new Error(`--baseline ${BASELINE}: no built dist/ there (node scripts/build.mjs)`);
  }
  const pos = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--big-mb' && args[i - 1] !== '--baseline');
  // The fresh-process figure runs the compiled engine: dist/ as the sources are.
  const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--if-needed'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('scripts/build.mjs failed');
  const rounds = Number(pos[1] ?? 7);
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-'));
  try {
    if (pos[0]) {
      const f = pos[0];
      await compare('given layer', f, rounds, isGzip(f) ? gzipFloor : zstdFloor, isGzip(f) ? 'scan-floor.mjs' : 'zstd -dc | tar -t', tmpDir);
    } else {
      const r1 = await compare('Debian base layer, gzip', firstLayer('debian-minbase'), rounds, gzipFloor, 'scan-floor.mjs: sha256 + gunzip + header walk', tmpDir);
      console.log(`  goal ≤ 1.10 (cpu, fresh process): ${r1 <= 1.1 ? 'met' : 'NOT met'}`);
      await compare('Debian base layer, zstd', firstLayer('zstd'), rounds, zstdFloor, 'zstd -dcq | tar -t, no hashing', tmpDir);
    }
    if (!flags.has('--no-big')) {
      const t0 = Date.now();
      const big = await generateLayer(tmpDir, bigMb);
      console.log(`\n[generated layer] ${bigMb} MiB of mixed files written in ${((Date.now() - t0) / 1000).toFixed(1)} s (${(fs.statSync(big).size / 2 ** 20).toFixed(0)} MiB gzip)`);
      type ChildOut = { ms: number; maxRssMiB: number; entries: number; tarBytes: number };
      const runChild = (...extra: string[]): ChildOut => {
        const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/scan-layer.ts'), '--child', big, ...extra], { encoding: 'utf8', cwd: ROOT });
        return JSON.parse(out.trim().split('\n').pop()!) as ChildOut;
      };
      const bigAuto = useInflateWorker('auto', fs.statSync(big).size);
      const o: ChildOut[] = [];
      const t: ChildOut[] = [];
      const f: Timing[] = [];
      for (let i = 0; i < Math.max(1, Math.min(3, rounds)); i++) {
        f.push(gzipFloor(big));
        o.push(runChild());
        t.push(runChild(bigAuto ? '--in-thread' : '--worker'));
      }
      const om = median(o.map((x) => x.ms));
      const fm = median(f.map((x) => x.ms));
      const rss = Math.max(...o.map((x) => x.maxRssMiB));
      console.log(`  ${(o[0].tarBytes / 2 ** 20).toFixed(0)} MiB tar, ${o[0].entries} entries`);
      console.log(`  ours (child process, ${bigAuto ? 'inflate worker thread' : 'gunzip on the calling thread'}: the engine's pick): median ${om.toFixed(0)} ms [${o.map((x) => x.ms.toFixed(0)).join(' ')}]; floor median ${fm.toFixed(0)} ms ${list(f.map((x) => x.ms))}; ratio ${(om / fm).toFixed(2)}`);
      console.log(`  ours, ${bigAuto ? 'gunzip on the calling thread' : 'inflate worker thread'}: median ${median(t.map((x) => x.ms)).toFixed(0)} ms [${t.map((x) => x.ms.toFixed(0)).join(' ')}], peak RSS ${Math.max(...t.map((x) => x.maxRssMiB)).toFixed(0)} MiB`);
      console.log(`  peak RSS of the scanning process: ${rss.toFixed(0)} MiB (goal < 256 MiB): ${rss < 256 ? 'met' : 'NOT met'}`);
    }
  } finally {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
  console.log(`\npeak RSS (this process): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
