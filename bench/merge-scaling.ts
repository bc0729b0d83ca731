/**
 * Layer-stack merge scaling (src/scan/merge.ts stackLayers, the code every scan runs after its layers are
 * analysed): two layers of 10,000 and of 40,000 files with 1,000 directory symlinks each, best of 5 runs per
 * size in the same process. Prints both times and the ratio: a merge linear in the entries gives about 4×, a
 * quadratic one about 16×. Goal: under 8×.
 * Usage: npx tsx bench/merge-scaling.ts
 */
import { ANALYZERS } from '../src/scan/analyzers/index.js';
import { stackLayers } from '../src/scan/merge.js';
import type { LayerAnalysis } from '../src/scan/walker.js';
import { scalingLayer } from '../test/unit/scan/scaling-layer.js';

function best(a: LayerAnalysis): number {
  let ms = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    stackLayers([{ analysis: a }, { analysis: a }], ANALYZERS);
    ms = Math.min(ms, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return ms;
}

const small = best(scalingLayer(10_000));
const large = best(scalingLayer(40_000));
const ratio = large / small;
console.log(`merge of 2 layers: 10,000 entries ${small.toFixed(1)} ms, 40,000 entries ${large.toFixed(1)} ms`);
console.log(`ratio ${ratio.toFixed(2)}× for 4× the entries (linear ≈ 4×, quadratic ≈ 16×; goal < 8×): ${ratio < 8 ? 'met' : 'MISSED'}`);
