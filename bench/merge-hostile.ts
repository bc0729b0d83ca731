/**
 * Hostile layer shapes for the walker and the merge (src/scan/walker.ts, src/scan/merge.ts): link
 * texts of PATH_MAX through 2,000 one-letter directories, loops through 15 directories of
 * 250-character names (the aliases the loops build reach 28 KiB), 1,000 files and 1,000 whiteouts
 * in a directory 1,900 segments deep; 300 entries that each start a new chain 1,900 directories
 * deep (`x<i>/a/…/a/f`: 4 MB of directory paths each), walked, and merged over a lower layer;
 * one 4 KB name written 70,000 times as a file and then as a directory (each listed as replaced).
 * Each is a few KiB of gzip. Median of 5 runs per shape, in one process; compare with the same
 * script run from a worktree of the base commit, interleaved, under the same load. With
 * `--expose-gc`, the heap each shape's result keeps (the walker or the merged tree held) is printed
 * too, and the diagnostic codes it has.
 * Usage: [RUNS=5] [CHAINS=300] [REWRITES=70000] npx tsx --expose-gc bench/merge-hostile.ts [shape-substring]
 */
import fs from 'node:fs';
import os from 'node:os';
import { ANALYZERS } from '../src/scan/analyzers/index.js';
import { stackLayers } from '../src/scan/merge.js';
import { LayerWalker, type LayerAnalysis } from '../src/scan/walker.js';

type Entry = [path: string, kind: string, link?: string];

function analysis(entries: Entry[]): LayerAnalysis {
  return {
    version: 'bench', paths: entries.map((e) => e[0]), kinds: entries.map((e) => e[1]).join(''),
    links: Object.fromEntries(entries.filter((e) => e[2] !== undefined).map((e) => [e[0], e[2]!])),
    whiteouts: [], opaqueDirs: [], replaced: [], transient: [], results: [], diagnostics: [], entries: entries.length, tarBytes: 0, complete: true,
  };
}

/** 2,000 nested one-letter directories and 300 symlinks whose text walks all of them. */
function deepLinks(): LayerAnalysis[] {
  const e: Entry[] = [];
  let p = '';
  for (let i = 0; i < 2000; i++) { p += '/a'; e.push([p, 'd']); }
  for (let j = 0; j < 300; j++) e.push([`/l${j}`, 'l', `${p.slice(1)}/x`]);
  return [analysis(e)];
}

/** 15 nested directories of 250-character names, 7 links at the bottom back to the top. */
function longLoops(): LayerAnalysis[] {
  const e: Entry[] = [['/t', 'd']];
  let p = '/t';
  for (let i = 0; i < 15; i++) { p += `/${String.fromCharCode(97 + i).repeat(250)}`; e.push([p, 'd']); }
  for (let j = 0; j < 7; j++) e.push([`${p}/u${j}`, 'l', '/t']);
  e.push(['/s', 'l', '/t']);
  return [analysis(e)];
}

const DEEP = Array.from({ length: 1900 }, () => 'a').join('/');
const tmp = fs.mkdtempSync(`${os.tmpdir()}/merge-hostile-`);

/** Walks `names` (header-only entries) into a layer analysis. */
function walk(names: Array<[string, 'file' | 'directory']>): LayerAnalysis {
  const w = new LayerWalker(ANALYZERS, { version: 'bench', tmpDir: tmp });
  for (const [name, type] of names) w.open({ name, type, size: 0, mode: 0o644 });
  return w.result();
}

/** 1,000 files in one directory 1,900 segments deep (the walker). */
function deepFiles(): void {
  walk(Array.from({ length: 1000 }, (_, i) => [`${DEEP}/f${i}`, 'file'] as [string, 'file']));
}

/** 1,000 whiteouts in that directory of a lower layer (the merge). */
const lowerDeep = walk([[`${DEEP}/`, 'directory']]);
const upperWhiteouts = walk(Array.from({ length: 1000 }, (_, i) => [`${DEEP}/.wh.f${i}`, 'file'] as [string, 'file']));

/** 300 entries (env CHAINS), each the first of a new chain of 1,900 directories (the walker). */
const CHAINS = Number(process.env.CHAINS ?? 300);
const chainNames = Array.from({ length: CHAINS }, (_, i) => [`x${i}/${DEEP}/f`, 'file'] as [string, 'file']);
const chains = (): { walker: LayerWalker; diagnostics: unknown[] } => {
  // The walker itself is held: its bookkeeping is what the chains cost.
  const w = new LayerWalker(ANALYZERS, { version: 'bench', tmpDir: tmp });
  for (const [name, type] of chainNames) w.open({ name, type, size: 0, mode: 0o644 });
  return { walker: w, diagnostics: w.result().diagnostics };
};
/** Those chains as a layer analysis of their own (what the merge gets when the walker keeps them all). */
const chainLayer = analysis(chainNames.map(([n]) => [`/${n}`, 'f']));

/**
 * For scale, a layer as large as a real one gets: 500,000 files in 60,000 package directories of a
 * node_modules tree, names averaging ~190 characters (the walker; it stays within LAYER_BUDGET).
 */
const bigNames = Array.from({ length: 500_000 }, (_, i) => {
  const d = i % 60_000;
  return [`opt/application/node_modules/@scope-${d % 300}/package-name-${d}/lib/internal/components/${'x'.repeat(60)}/file-${i}-${'y'.repeat(20)}.js`, 'file'] as [string, 'file'];
});
const bigLayer = (): { walker: LayerWalker; diagnostics: unknown[] } => {
  const w = new LayerWalker(ANALYZERS, { version: 'bench', tmpDir: tmp });
  for (const [name, type] of bigNames) w.open({ name, type, size: 0, mode: 0o644 });
  return { walker: w, diagnostics: w.result().diagnostics };
};

/** One 4 KB name (16 segments) written 70,000 times (env REWRITES) as a file and then as a directory (the walker). */
const REWRITES = Number(process.env.REWRITES ?? 70_000);
const longName = Array.from({ length: 16 }, (_, i) => String.fromCharCode(97 + i).repeat(249)).join('/');
const rewrites = (): { walker: LayerWalker; diagnostics: unknown[] } => {
  const w = new LayerWalker(ANALYZERS, { version: 'bench', tmpDir: tmp });
  for (let i = 0; i < REWRITES; i++) {
    w.open({ name: longName, type: 'file', size: 0, mode: 0o644 });
    w.open({ name: longName, type: 'directory', size: 0, mode: 0o644 });
  }
  return { walker: w, diagnostics: w.result().diagnostics };
};

const gc = (globalThis as { gc?: () => void }).gc;
/** `run`'s result and the heap growth while it is held, MB (after a full GC), when GC is exposed. */
function held(run: () => unknown): { keep: unknown; mem: string } {
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const keep = run();
  if (!gc) return { keep, mem: '' };
  gc();
  return { keep, mem: `, holds +${((process.memoryUsage().heapUsed - before) / 2 ** 20).toFixed(0)} MB` };
}

/** Runs per shape (env RUNS, default 5; odd). */
const RUNS = Number(process.env.RUNS ?? 5);

function median(run: () => unknown): number {
  const ms: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    run();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return ms.sort((a, b) => a - b)[RUNS >> 1]!;
}

/** The diagnostic codes a shape's result has, for the record. */
function codes(x: unknown): string {
  const d = (x as { diagnostics?: Array<{ code: string }> } | undefined)?.diagnostics ?? [];
  const set = [...new Set(d.map((y) => y.code))];
  return set.length ? ` [${set.join(', ')}]` : '';
}

const merge = (layers: LayerAnalysis[]) => () => stackLayers(layers.map((a) => ({ analysis: a })), ANALYZERS);
const shapes: Array<[string, () => unknown]> = [
  ['deep link texts (merge)', merge(deepLinks())],
  ['long-name loops (merge)', merge(longLoops())],
  ['1,000 files 1,900 deep (walker)', deepFiles],
  ['1,000 whiteouts 1,900 deep (merge)', merge([lowerDeep, upperWhiteouts])],
  [`${CHAINS} new chains 1,900 deep (walker)`, chains],
  [`${CHAINS} new chains 1,900 deep (merge)`, merge([lowerDeep, chainLayer])],
  [`one 4 KB name ${REWRITES} times file then directory (walker)`, rewrites],
  ['real-sized: 500,000 files, ~190-character names (walker)', bigLayer],
];
const only = process.argv[2];
for (const [name, run] of shapes) {
  if (only && !name.includes(only)) continue;
  const { keep, mem } = held(run);
  console.log(`${name}: ${median(run).toFixed(0)} ms${mem}${codes(keep)} (load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')})`);
}
fs.rmSync(tmp, { recursive: true, force: true });
