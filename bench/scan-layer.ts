/**
 * Layer-scan benchmark: the full layer scan (verify + decompress + tar walk + every analyzer) beside
 * scripts/lab/scan-floor.mjs (sha256 + gunzip + tar header walk, nothing else) on the same file, in
 * the same run, alternating, several rounds. Prints medians, the ratio ours/floor (goal ≤ 1.2) and
 * peak RSS. Usage: npx tsx bench/scan-layer.ts [layer.tar.gz|layer.tar.zst] [rounds]
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ANALYZERS } from '../src/scan/analyzers/index.js';
import { analyzerSetVersion } from '../src/scan/engine.js';
import { CHUNK, readLayer } from '../src/scan/layer-stream.js';
import { LayerWalker } from '../src/scan/walker.js';
import { ROOT, labImages } from '../test/helpers/lab.js';

function defaultLayer(): string {
  const dir = path.join(labImages(), 'debian-minbase');
  const idx = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'blobs/sha256', idx.manifests[0].digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
  return path.join(dir, 'blobs/sha256', m.layers[0].digest.slice(7));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function ours(file: string, digest: string, size: number, tmpDir: string): Promise<{ ms: number; entries: number; results: number }> {
  const t0 = process.hrtime.bigint();
  const walker = new LayerWalker(ANALYZERS, { version: analyzerSetVersion(), digest, tmpDir });
  await readLayer(fs.createReadStream(file, { highWaterMark: CHUNK }), { digest, size }, walker);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const r = walker.result();
  if (!r.complete || r.diagnostics.some((d) => d.incomplete)) throw new Error(`layer scan incomplete: ${JSON.stringify(r.diagnostics)}`);
  return { ms, entries: r.entries, results: r.results.length };
}

function floor(file: string): { ms: number; entries: number } | undefined {
  const head = Buffer.alloc(2);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, head, 0, 2, 0);
  fs.closeSync(fd);
  if (head.toString('hex') !== '1f8b') return undefined;
  const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts/lab/scan-floor.mjs'), file], { encoding: 'utf8' });
  return JSON.parse(out) as { ms: number; entries: number };
}

async function main(): Promise<void> {
  const file = process.argv[2] ?? defaultLayer();
  const rounds = Number(process.argv[3] ?? 7);
  const h = crypto.createHash('sha256');
  for await (const c of fs.createReadStream(file, { highWaterMark: CHUNK })) h.update(c as Buffer);
  const digest = `sha256:${h.digest('hex')}`;
  const size = fs.statSync(file).size;
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-'));
  const o: number[] = [];
  const f: number[] = [];
  let info = { entries: 0, results: 0 };
  await ours(file, digest, size, tmpDir); // warm-up (JIT, page cache)
  for (let i = 0; i < rounds; i++) {
    const fl = floor(file);
    if (fl) f.push(fl.ms);
    const r = await ours(file, digest, size, tmpDir);
    o.push(r.ms);
    info = r;
  }
  fs.rmSync(tmpDir, { recursive: true, force: true });
  const om = median(o);
  console.log(`layer: ${file} (${(size / 2 ** 20).toFixed(1)} MiB compressed, ${info.entries} entries, ${info.results} analyzer results)`);
  console.log(`ours  (verify + decompress + tar-stream walk + ${ANALYZERS.length} analyzers): median ${om.toFixed(0)} ms  [${o.map((x) => x.toFixed(0)).join(' ')}]`);
  if (f.length) {
    const fm = median(f);
    console.log(`floor (scan-floor.mjs: sha256 + gunzip + header walk):            median ${fm.toFixed(0)} ms  [${f.join(' ')}]`);
    console.log(`ratio ours/floor: ${(om / fm).toFixed(2)} (goal ≤ 1.20)`);
  } else {
    console.log('floor: scan-floor.mjs reads gzip only; no ratio for this layer');
  }
  console.log(`peak RSS (this process): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
