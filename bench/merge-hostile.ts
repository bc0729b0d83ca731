/**
 * Hostile layer shapes for the merge's symlink work (src/scan/merge.ts resolveInTree and the alias
 * check): link texts of PATH_MAX through 2,000 one-letter directories, and loops through 15
 * directories of 250-character names (the aliases the loops build reach 28 KiB). Each is a few KiB
 * of tar. Median of 5 runs per shape, in one process; compare with the same script run from a
 * worktree of the base commit, interleaved, under the same load.
 * Usage: npx tsx bench/merge-hostile.ts
 */
import os from 'node:os';
import { ANALYZERS } from '../src/scan/analyzers/index.js';
import { stackLayers } from '../src/scan/merge.js';
import type { LayerAnalysis } from '../src/scan/walker.js';

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

function median(layers: LayerAnalysis[]): number {
  const ms: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    stackLayers(layers.map((a) => ({ analysis: a })), ANALYZERS);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return ms.sort((a, b) => a - b)[2]!;
}

for (const [name, make] of [['deep link texts', deepLinks], ['long-name loops', longLoops]] as const) {
  console.log(`${name}: ${median(make()).toFixed(0)} ms (load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')})`);
}
