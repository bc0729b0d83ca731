#!/usr/bin/env node
// The layer engine's answer on every layer of every lab image, from the compiled dist/ of one or two
// checkouts, to show that a change to the engine (layer-stream.ts, tar-walk.ts, tar-headers.ts,
// walker.ts, analyzers/) leaves what it finds as it was.
//   node scripts/lab/walker-results.mjs DIST [IMAGES_DIR]            prints one JSON line per layer
//   node scripts/lab/walker-results.mjs --compare DIST_A DIST_B [IMAGES_DIR]
//                                                                    exits 1 when any layer differs
// Each layer is read as engine.ts reads it (readLayer into a LayerWalker with every analyzer), once with
// gunzip on the calling thread and once in an inflate worker; the line holds the walker's whole
// result (changeset, links, whiteouts, analyzer results, diagnostics, counts) and readLayer's own
// answer or error. The two placements must agree with each other too. IMAGES_DIR defaults to
// .cache/lab-images (scripts/lab/build-images.sh builds it).
/* global process, console */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every layer descriptor of every manifest in the OCI layouts under `images`, each once, in a stable order. */
function labLayers(images) {
  const out = [];
  const seen = new Set();
  for (const image of fs.readdirSync(images).sort()) {
    const blobs = path.join(images, image, 'blobs', 'sha256');
    if (!fs.existsSync(blobs)) continue;
    for (const hex of fs.readdirSync(blobs).sort()) {
      const file = path.join(blobs, hex);
      if (fs.statSync(file).size > 1 << 20) continue;
      let doc;
      try {
        doc = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch {
        continue;
      }
      if (!Array.isArray(doc?.layers)) continue;
      for (const l of doc.layers) {
        if (seen.has(l.digest)) continue;
        seen.add(l.digest);
        out.push({ image, digest: l.digest, size: l.size, file: path.join(blobs, l.digest.slice(7)) });
      }
    }
  }
  return out;
}

async function results(dist, images) {
  const load = (p) => import(pathToFileURL(path.join(path.resolve(dist), p)).href);
  const { ANALYZERS } = await load('scan/analyzers/index.js');
  const { analyzerSetVersion } = await load('scan/engine.js');
  const { CHUNK, readLayer } = await load('scan/layer-stream.js');
  const { LayerWalker } = await load('scan/walker.js');
  const lines = [];
  for (const l of labLayers(images)) {
    const per = [];
    for (const worker of [false, true]) {
      const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-walker-results-'));
      try {
        const walker = new LayerWalker(ANALYZERS, { version: analyzerSetVersion(), digest: l.digest, tmpDir });
        let read;
        try {
          read = await readLayer(fs.createReadStream(l.file, { highWaterMark: CHUNK }), { digest: l.digest, size: l.size }, walker, { worker });
        } catch (e) {
          read = { error: `${e?.code ?? ''} ${e?.message ?? String(e)}` };
        }
        per.push(JSON.stringify({ read, result: walker.result() }));
      } finally {
        fs.rmSync(tmpDir, { recursive: true, force: true });
      }
    }
    if (per[0] !== per[1]) throw new Error(`${l.image} ${l.digest}: the walker's result differs between gunzip on the calling thread and in a worker`);
    lines.push(`{"image":${JSON.stringify(l.image)},"layer":${JSON.stringify(l.digest)},"scan":${per[0]}}`);
  }
  return lines;
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  // One checkout per process: the two dist/ trees never share module state. Written to a file, not
  // to a pipe: process.exit() (the inflate worker pool holds the event loop) would cut a pipe's tail.
  fs.writeFileSync(args[3], (await results(args[1], args[2])).join('\n'));
  process.exit();
}
if (args[0] === '--compare') {
  const [a, b, images = path.join(ROOT, '.cache', 'lab-images')] = args.slice(1);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-walker-results-'));
  const run = (dist, name) => {
    const out = path.join(tmp, name);
    execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', dist, images, out], { stdio: 'inherit' });
    return fs.readFileSync(out, 'utf8').split('\n');
  };
  const la = run(a, 'a');
  const lb = run(b, 'b');
  fs.rmSync(tmp, { recursive: true, force: true });
  let differ = 0;
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    const x = la[i] ?? '';
    const y = lb[i] ?? '';
    const name = /^\{"image":("[^"]*"),"layer":("[^"]*")/.exec(x || y) ?? ['', '"?"', '"?"'];
    name.image = JSON.parse(name[1]);
    name.layer = JSON.parse(name[2]);
    if (x === y) {
      console.log(`same     ${name.image} ${name.layer} (${(x.length / 1024).toFixed(0)} KiB of JSON)`);
      continue;
    }
    differ++;
    let at = 0;
    while (at < x.length && x[at] === y[at]) at++;
    console.log(`DIFFERS  ${name.image} ${name.layer} from character ${at}:\n  ${a}: …${x.slice(Math.max(0, at - 80), at + 160)}\n  ${b}: …${y.slice(Math.max(0, at - 80), at + 160)}`);
  }
  console.log(`${la.length} layers: ${differ === 0 ? 'every result identical' : `${differ} differ`}`);
  process.exit(differ === 0 && la.length > 0 ? 0 : 1);
}
if (!args[0]) {
  console.error('usage: walker-results.mjs DIST [IMAGES_DIR] | --compare DIST_A DIST_B [IMAGES_DIR]');
  process.exit(2);
}
process.stdout.write(`${(await results(args[0], args[1] ?? path.join(ROOT, '.cache', 'lab-images'))).join('\n')}\n`, () => process.exit());
