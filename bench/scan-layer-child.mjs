// Child process of bench/scan-layer.ts: the layer engine as it ships (the compiled dist/ of a
// checkout, plain Node, no TypeScript loader), in a fresh process started with the same node flags
// as scripts/lab/scan-floor.mjs, timed the way that floor times itself: wall and CPU time (user +
// system, every thread) from the start of the read, after the modules are loaded.
//   node bench/scan-layer-child.mjs DIST_DIR LAYER DIGEST [--in-thread|--worker|--load-only]
// (--load-only: exits once the modules are loaded, its start alone: bench/scan-layer-instructions.ts)
// One layer read as engine.ts analyzeLayer reads it (readLayer into a LayerWalker with every
// analyzer; gunzip placed by useInflateWorker unless told); prints one JSON line
// {"ms", "cpuMs", "entries", "results", "tarBytes"}; exits 1 when the scan is incomplete.
/* global process, console */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [dist, file, digest, where] = process.argv.slice(2);
const load = (p) => import(pathToFileURL(path.join(dist, p)).href);
const { ANALYZERS } = await load('scan/analyzers/index.js');
const { analyzerSetVersion, useInflateWorker } = await load('scan/engine.js');
const { CHUNK, readLayer } = await load('scan/layer-stream.js');
const { LayerWalker } = await load('scan/walker.js');
if (where === '--load-only') process.exit();
const size = fs.statSync(file).size;
const worker = where === '--in-thread' ? false : where === '--worker' ? true : useInflateWorker('auto', size);
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-'));
try {
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const walker = new LayerWalker(ANALYZERS, { version: analyzerSetVersion(), digest, tmpDir });
  await readLayer(fs.createReadStream(file, { highWaterMark: CHUNK }), { digest, size }, walker, { worker });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  const r = walker.result();
  if (!r.complete || r.diagnostics.some((d) => d.incomplete)) {
    console.error(`layer scan incomplete: ${JSON.stringify(r.diagnostics.slice(0, 5))}`);
    process.exitCode = 1;
  }
  console.log(JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, entries: r.entries, results: r.results.length, tarBytes: r.tarBytes }));
} finally {
  fs.rmSync(tmpDir, { recursive: true, force: true });
}
// The inflate worker pool (when used) keeps the event loop alive; the measurement is done.
process.exit();
