// Child process of bench/vulndb-import.ts, plain Node (no TypeScript loader in the timed code):
//   node bench/vulndb-import-child.mjs baseline SOURCE...        read + JSON.parse every *.json file of the sources (their
//                                                              `nvd:`/`kev:`/`epss:`/`eol:` prefix dropped); other files
//                                                              (endoflife.date pages, the EPSS CSV) read and split into lines
//   node bench/vulndb-import-child.mjs update DIST_DIR SOURCE...  `db update` of the SOURCEs with the compiled build in DIST_DIR
// Prints one JSON line: {"ms": …, "cpuMs": …} (wall time and the process's CPU time, user + system, all
// threads: the main thread, libuv's and V8's GC helpers) (+ the update's stats).
/* global process, console, performance */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import zlib from 'node:zlib';

function* walk(d) {
  if (!fs.statSync(d).isDirectory()) {
    yield d;
    return;
  }
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (/\.(json|md|csv|csv\.gz)$/.test(e.name)) yield p;
  }
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'baseline') {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  for (const f of rest.flatMap((d) => [...walk(d.replace(/^(nvd|kev|epss|eol):/, ''))])) {
    if (f.endsWith('.json')) n += JSON.parse(fs.readFileSync(f, 'utf8')) ? 1 : 0;
    else if (f.endsWith('.gz')) n += zlib.gunzipSync(fs.readFileSync(f)).toString('utf8').split('\n').length;
    else n += fs.readFileSync(f, 'utf8').split('\n').length;
  }
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ ms, cpuMs: (c.user + c.system) / 1000, n }));
} else {
  const [dist, ...dirs] = rest;
  const { updateDb } = await import(pathToFileURL(path.join(dist, 'vulndb', 'index.js')).href);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-'));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const st = await updateDb({ path: path.join(tmp, 'vulndb.sqlite'), sources: dirs });
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log(JSON.stringify({ ms, cpuMs: (c.user + c.system) / 1000, st }));
}
