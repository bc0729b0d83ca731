/**
 * The CLI as a user times it: whole processes of the compiled CLI (bin/pushgate.js running dist/,
 * built first when it is not current), each beside its floor in the same run, in an order shuffled within each round, several
 * rounds, medians:
 * 1. `pushgate --version` beside a bare `node -e ""` (the start of any Node process), an ES module
 *    that only prints a string, and the scan floor process. Goal ≤ 0.15 s.
 * 2. `pushgate scan oci:LAB/debian-minbase:bookworm --format json` with an offline database built from
 *    test/fixtures/vulndb/osv, beside scripts/lab/scan-floor.mjs on the image's layer (sha256 + gunzip +
 *    tar header walk in its own Node process). Goal ≤ 1.3× the floor. Once as a user types it (no
 *    --config: the database where `pushgate db update` put it) and once with `--config FILE` naming
 *    the database (its YAML parsed and validated); and once as the container image starts
 *    it (the node flags of the Dockerfile's ENTRYPOINT, read from the Dockerfile).
 * Every run starts from the same state: whatever a scan leaves in the working directory or the cache
 * directory (a layer cache) is removed before the next one, so no run reuses an earlier analysis;
 * but for the code cache of bin/pushgate.js (compiled code, dist/chunks/cli.cjs on Node 20), which
 * stays as it does in use (written by the warm-up run of each kind of scan).
 * `--baseline DIR`: another checkout of pushgate, built (e.g. `git worktree add DIR main` and
 * `node scripts/build.mjs` there), whose `scan` (plain and with `--config FILE`) is timed in the same rounds: before/after figures
 * measured back to back, with the ratio of each to the floor and to each other.
 * Usage: npx tsx bench/cli.ts [rounds] [--baseline DIR]   (default 7 rounds)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labImages, ROOT } from '../test/helpers/lab.js';

const argv = process.argv.slice(2);
const baselineAt = argv.indexOf('--baseline');
const BASELINE = baselineAt >= 0 ? path.resolve(argv[baselineAt + 1] ?? '') : undefined;
const rounds = Number(argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--baseline')[0] ?? 7);
const BIN = path.join(ROOT, 'bin/pushgate.js');
const BASELINE_BIN = BASELINE && path.join(BASELINE, 'bin/pushgate.js');
if (BASELINE_BIN && !fs.existsSync(BASELINE_BIN)) throw new Error(`--baseline ${BASELINE}: no bin/pushgate.js there`);
const FLOOR = path.join(ROOT, 'scripts/lab/scan-floor.mjs');

/**
 * The node flags the container image passes before bin/pushgate.js (the Dockerfile's exec-form
 * ENTRYPOINT: the arguments between `node` and the script).
 */
function imageNodeFlags(): string[] {
  const line = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').split('\n').find((l) => l.startsWith('ENTRYPOINT ['));
  const argv = line ? JSON.parse(line.slice('ENTRYPOINT '.length)) as string[] : [];
  const from = argv.indexOf('node');
  const to = argv.findIndex((a) => a.endsWith('/bin/pushgate.js'));
  return from >= 0 && to > from ? argv.slice(from + 1, to) : [];
}
const IMAGE_FLAGS = imageNodeFlags();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms  [${xs.map((x) => x.toFixed(0)).join(' ')}]`;
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

// GNU time, when installed, adds the CPU time (user + system, all threads) of each process: on a
// shared machine under load it says more than the wall time, which includes waiting for a core.
const GNU_TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
let cpuFile = '';

/**
 * Wall time and CPU time (undefined without GNU time) of one whole process, in ms; throws when it
 * exits other than `okStatus`.
 */
function timed(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; okStatus?: number[] } = {}): { ms: number; cpu?: number; stdout: string } {
  const [cmd, argv] = GNU_TIME ? [GNU_TIME, ['-f', '%U %S', '-o', cpuFile, process.execPath, ...args]] : [process.execPath, args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { cwd: opts.cwd, env: opts.env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (!(opts.okStatus ?? [0]).includes(r.status ?? -1)) throw new Error(`${args.join(' ')}: exit ${r.status ?? r.signal}\n${r.stderr}`);
  let cpu: number | undefined;
  if (GNU_TIME) {
    const [u, sys] = fs.readFileSync(cpuFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    cpu = (u + sys) * 1000;
  }
  return { ms, cpu, stdout: r.stdout };
}

/** Wall and CPU samples of one kind of process. */
class Samples {
  wall: number[] = [];
  cpu: number[] = [];
  add(r: { ms: number; cpu?: number }): void {
    this.wall.push(r.ms);
    if (r.cpu !== undefined) this.cpu.push(r.cpu);
  }
  show(): string {
    return `wall ${fmt(this.wall)}${this.cpu.length ? `\n${' '.repeat(10)}cpu  ${fmt(this.cpu)}` : ''}`;
  }
  ratio(to: Samples): string {
    const w = median(this.wall) / median(to.wall);
    return `wall ${w.toFixed(2)}${this.cpu.length ? `, cpu ${(median(this.cpu) / median(to.cpu)).toFixed(2)}` : ''}`;
  }
}

/** Every path under `dir` (files and directories), relative. */
function tree(dir: string): Set<string> {
  if (!fs.existsSync(dir)) return new Set();
  return new Set(fs.readdirSync(dir, { recursive: true }).map(String));
}

/**
 * Removes what appeared under `dir` since `before` was taken, but what `keep` matches (a path
 * relative to `dir`).
 */
function restore(dir: string, before: Set<string>, keep?: RegExp): void {
  for (const p of [...tree(dir)].sort((a, b) => b.length - a.length)) {
    if (!before.has(p) && !keep?.test(p.split(path.sep).join('/'))) fs.rmSync(path.join(dir, p), { recursive: true, force: true });
  }
}

function firstLayer(layout: string): string {
  const idx = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const m = JSON.parse(fs.readFileSync(path.join(layout, 'blobs/sha256', idx.manifests[0].digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
  if (m.layers.length !== 1) throw new Error(`${layout}: expected a one-layer image, found ${m.layers.length} layers`);
  return path.join(layout, 'blobs/sha256', m.layers[0].digest.slice(7));
}

function main(): void {
  const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--if-needed'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('scripts/build.mjs failed');
  const layout = path.join(labImages(), 'debian-minbase');
  const layer = firstLayer(layout);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-cli-'));
  cpuFile = path.join(tmp, 'cpu.txt');
  // The least a Node CLI can do for --version: an ES module that prints a string.
  const versionScript = path.join(tmp, 'version.mjs');
  fs.writeFileSync(versionScript, 'process.stdout.write("0.0.0\\n");\n');
  try {
    const work = path.join(tmp, 'work');
    const home = path.join(tmp, 'home');
    fs.mkdirSync(work, { recursive: true });
    // PUSHGATE_USE_DIST: the build made above, even when a source file changes during the run (else
    // bin/pushgate.js would switch to the TypeScript sources mid-run and time tsx).
    const env = { ...process.env, HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), PUSHGATE_CACHE_DIR: path.join(home, 'pushgate-cache'), PUSHGATE_USE_DIST: '1' };
    // The database where `db update` puts it by default, then the same file named by a config.
    timed([BIN, 'db', 'update', '--source', path.join(ROOT, 'test/fixtures/vulndb/osv')], { cwd: work, env });
    const status = JSON.parse(timed([BIN, 'db', 'status', '--format', 'json'], { cwd: work, env }).stdout) as { path: string };
    const config = path.join(tmp, 'pushgate.yaml');
    fs.writeFileSync(config, `vulndb:\n  path: ${status.path}\n`);
    // The baseline keeps its code cache in a cache directory of its own (with its own database): a
    // build's cache file replaces another build's for the same command and runtime, so two builds
    // sharing a directory would each compile from scratch on every run.
    const baselineEnv = { ...env, PUSHGATE_CACHE_DIR: path.join(home, 'pushgate-cache-baseline') };
    if (BASELINE_BIN) timed([BASELINE_BIN, 'db', 'update', '--source', path.join(ROOT, 'test/fixtures/vulndb/osv')], { cwd: work, env: baselineEnv });
    const clean = { work: tree(work), home: tree(home) };
    const target = `oci:${layout}:bookworm`;
    const scan = (extra: string[], bin = BIN, nodeFlags: string[] = []) => {
      const r = timed([...nodeFlags, bin, 'scan', target, '--format', 'json', ...extra], { cwd: work, env: bin === BIN ? env : baselineEnv, okStatus: [0, 1] });
      restore(work, clean.work);
      // The code cache of bin/pushgate.js (compiled code, kept as in use: the warm-up run below
      // writes it) is no analysis: kept.
      restore(home, clean.home, /^pushgate-cache(-baseline)?\/code-cache(\/|$)/);
      const report = JSON.parse(r.stdout) as { complete: boolean; diagnostics: Array<{ code: string }>; packages: unknown[] };
      const missing = report.diagnostics.find((d) => d.code.startsWith('vulndb'));
      if (missing) throw new Error(`scan ${extra.join(' ')}: the database was not used (${missing.code})`);
      return { ms: r.ms, cpu: r.cpu, packages: report.packages.length };
    };
    scan([]); // warm-up: page cache, the database file, the code cache
    scan(['--config', config]); // its own code cache (a run with a configuration file compiles more)
    if (IMAGE_FLAGS.length) scan([], BIN, IMAGE_FLAGS); // its own code cache (other node flags)
    if (BASELINE_BIN) {
      scan([], BASELINE_BIN);
      scan(['--config', config], BASELINE_BIN);
    }
    const floor = new Samples();
    const bare = new Samples();
    const script = new Samples();
    const version = new Samples();
    const plain = new Samples();
    const withConfig = new Samples();
    const baseline = new Samples();
    const baselineConfig = new Samples();
    const image = new Samples();
    let packages = 0;
    const load0 = load();
    // Each round runs its jobs in a shuffled order (seeded: a run can be repeated): under load, a fixed
    // order moved the figures of whichever job ran after another by about ±10 %. A floor run precedes
    // each kind of scan, so the floor is sampled as often as the scans and beside them.
    let seed = 0x2545f491;
    const rand = () => ((seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
    for (let i = 0; i < rounds; i++) {
      const jobs: Array<() => void> = [
        () => bare.add(timed(['-e', ''])),
        () => script.add(timed([versionScript])),
        () => version.add(timed([BIN, '--version'], { env })),
        () => {
          floor.add(timed([FLOOR, layer]));
          const s = scan([]);
          plain.add(s);
          packages = s.packages;
        },
        () => {
          floor.add(timed([FLOOR, layer]));
          withConfig.add(scan(['--config', config]));
        },
      ];
      if (IMAGE_FLAGS.length) jobs.push(() => { floor.add(timed([FLOOR, layer])); image.add(scan([], BIN, IMAGE_FLAGS)); });
      if (BASELINE_BIN) {
        jobs.push(() => { floor.add(timed([FLOOR, layer])); baseline.add(scan([], BASELINE_BIN)); });
        jobs.push(() => { floor.add(timed([FLOOR, layer])); baselineConfig.add(scan(['--config', config], BASELINE_BIN)); });
      }
      for (let j = jobs.length - 1; j > 0; j--) {
        const k = Math.floor(rand() * (j + 1));
        [jobs[j], jobs[k]] = [jobs[k], jobs[j]];
      }
      for (const job of jobs) job();
    }
    const v = median(version.wall);
    const r = median(plain.wall) / median(floor.wall);
    console.log(`\nbench/cli: ${rounds} rounds, shuffled within each round; load average ${load0} at the start, ${load()} at the end (${os.availableParallelism()} cores)`);
    console.log(`layer ${path.basename(layer).slice(0, 12)}: ${(fs.statSync(layer).size / 2 ** 20).toFixed(1)} MiB gzip; ${packages} packages in the report`);
    console.log(`floor: scan-floor.mjs process (sha256 + gunzip + tar header walk)\n          ${floor.show()}`);
    console.log(`bare node -e "" process\n          ${bare.show()}`);
    console.log(`node version.mjs (an ES module printing a string: the least a Node CLI can do)\n          ${script.show()}`);
    console.log(`pushgate --version\n          ${version.show()}`);
    console.log(`  ratio to bare node: ${version.ratio(bare)}; to version.mjs: ${version.ratio(script)}; to the floor: ${version.ratio(floor)}`);
    console.log(`  goal wall ≤ 150 ms: ${v <= 150 ? 'met' : 'NOT met'}${version.cpu.length ? ` (cpu ${median(version.cpu).toFixed(0)} ms; under load the wall time is mostly waiting for a core: compare bare node's wall ${median(bare.wall).toFixed(0)} ms)` : ''}`);
    console.log(`pushgate scan oci:…/debian-minbase:bookworm --format json (no --config)\n          ${plain.show()}`);
    console.log(`  ratio to the floor: ${plain.ratio(floor)}; goal ≤ 1.30: ${r <= 1.3 ? 'met' : 'NOT met'}`);
    console.log(`pushgate scan … --config FILE (YAML parsed, validated)\n          ${withConfig.show()}`);
    console.log(`  ratio to the floor: ${withConfig.ratio(floor)}`);
    if (IMAGE_FLAGS.length) {
      console.log(`node ${IMAGE_FLAGS.join(' ')} bin/pushgate.js scan … (the container image's command line)\n          ${image.show()}`);
      console.log(`  ratio to the floor: ${image.ratio(floor)}; to the plain command line: ${image.ratio(plain)}`);
    }
    if (BASELINE) {
      console.log(`baseline ${BASELINE}: pushgate scan … --format json (no --config)\n          ${baseline.show()}`);
      console.log(`  ratio to the floor: ${baseline.ratio(floor)}; this checkout to the baseline: ${plain.ratio(baseline)}`);
      console.log(`baseline ${BASELINE}: pushgate scan … --config FILE\n          ${baselineConfig.show()}`);
      console.log(`  ratio to the floor: ${baselineConfig.ratio(floor)}; this checkout to the baseline: ${withConfig.ratio(baselineConfig)}`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main();
