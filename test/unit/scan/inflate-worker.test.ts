/**
 * Inflate worker threads (src/scan/inflate-pool.ts, inflate-worker.ts): a gzip layer inflated in a
 * worker gives the same analysis as on the calling thread (the real lab layers, a tar without end
 * blocks, multi-member gzip, a truncated gzip and a corrupt one with zlib's own messages); a worker
 * killed in the middle of a layer costs nothing but time (the layer is read again on the calling
 * thread); more concurrent scans than workers fall back to the calling thread; `inflateWorker: auto`
 * uses a worker only for big layers with a core to spare.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { labImages, labOci } from '../../helpers/lab.js';
import { makeTar } from './layout-helper.js';
import type { Digest } from '../../../src/core/index.js';
import { ANALYZERS } from '../../../src/scan/analyzers/index.js';
import { INFLATE_WORKER_MIN_BYTES, INFLATE_WORKER_MIN_CORES, analyzerSetVersion, scanTarget, useInflateWorker } from '../../../src/scan/engine.js';
import { CHUNK, readLayer } from '../../../src/scan/layer-stream.js';
import { busyInflateWorkers, inflateWorkerStats } from '../../../src/scan/inflate-pool.js';
import { LayerWalker } from '../../../src/scan/walker.js';

/** Every layer blob of a lab OCI layout's first manifest. */
function layersOf(image: string): string[] {
  const dir = path.join(labImages(), image);
  const idx = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'blobs/sha256', idx.manifests[0].digest.slice(7)), 'utf8')) as { layers?: Array<{ digest: string }>; manifests?: Array<{ digest: string }> };
  const man = m.layers ? m : JSON.parse(fs.readFileSync(path.join(dir, 'blobs/sha256', m.manifests![0].digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
  return man.layers!.map((l) => path.join(dir, 'blobs/sha256', l.digest.slice(7)));
}

describe('scan: inflate worker threads', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => { labImages(); tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-tar-worker-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Reads a layer blob (a file, or bytes written to one) on the calling thread or through a worker. */
  async function read(file: string, worker: boolean) {
    const digest = `sha256:${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')}` as Digest;
    const walker = new LayerWalker(ANALYZERS, { version: analyzerSetVersion(), digest, tmpDir: tmp });
    let error: string | undefined;
    const r = await readLayer(fs.createReadStream(file, { highWaterMark: CHUNK }), { digest, size: fs.statSync(file).size }, walker, { worker })
      .catch((e: Error) => { error = e.message; return undefined; });
    return { r, error, analysis: walker.result() };
  }

  function blobFile(name: string, bytes: Buffer): string {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, bytes);
    return f;
  }

  it('gives the same bytes and analysis as the calling thread for every gzip lab layer', async () => {
    const files = ['debian-minbase', 'tar-noeof', 'node-app', 'adm-zip', 'multiarch'].flatMap(layersOf)
      .filter((f) => fs.readFileSync(f).subarray(0, 2).toString('hex') === '1f8b');
    expect(files.length).to.be.greaterThan(5);
    for (const f of files) {
      const jobs = inflateWorkerStats().jobs;
      const here = await read(f, false);
      const there = await read(f, true);
      expect(inflateWorkerStats().jobs, `${f} went through a worker`).to.equal(jobs + 1);
      expect(there.error, f).to.equal(undefined);
      expect(there.r, f).to.deep.equal(here.r);
      expect(there.analysis, f).to.deep.equal(here.analysis);
      expect(here.analysis.entries, f).to.be.greaterThan(0);
    }
    expect(await Promise.all(layersOf('tar-noeof').map(async (f) => (await read(f, true)).r?.noEof))).to.include(true);
  });

  it('multi-member, truncated and corrupt gzip: the same result and zlib messages as the calling thread', async () => {
    const t = await makeTar([{ name: 'etc/os-release', content: 'ID=debian\nVERSION_ID=12\n' }, { name: 'big', content: Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251)) }]);
    const half = Math.floor(t.length / 1024) * 512;
    const gz = zlib.gzipSync(t);
    const flipped = Buffer.from(gz);
    flipped[Math.floor(gz.length / 2)] ^= 0xff;
    const cases = {
      members: blobFile('members.gz', Buffer.concat([zlib.gzipSync(t.subarray(0, half)), zlib.gzipSync(t.subarray(half))])),
      truncated: blobFile('truncated.gz', gz.subarray(0, Math.floor(gz.length * 0.6))),
      corrupt: blobFile('corrupt.gz', flipped),
    };
    for (const [name, f] of Object.entries(cases)) {
      const here = await read(f, false);
      const there = await read(f, true);
      expect(there.error, name).to.equal(here.error);
      // A worker runs ahead of the tar side; what waits between the stages when its error arrives is
      // dropped, so a failing gzip read through it shows a prefix of what the calling thread shows.
      if (!here.error) expect(there.analysis, name).to.deep.equal(here.analysis);
      else {
        expect(there.analysis.paths, name).to.deep.equal(here.analysis.paths.slice(0, there.analysis.paths.length));
        expect(here.analysis.kinds.startsWith(there.analysis.kinds), name).to.equal(true);
        for (const r of there.analysis.results) expect(here.analysis.results, name).to.deep.include(r);
      }
    }
    const members = await read(cases.members, true);
    expect(members.error).to.equal(undefined);
    expect(members.analysis.paths).to.deep.equal(['/etc/os-release', '/big']);
    const truncated = await read(cases.truncated, true);
    expect(truncated.error).to.match(/unexpected end of file/);
    expect(truncated.analysis.paths).to.include('/etc/os-release');
    expect((await read(cases.corrupt, true)).error).to.be.a('string');
  });

  it('a worker killed in the middle of a layer: the layer is read again on the calling thread, the scan is complete', async () => {
    const expected = await scanTarget(labOci('debian-minbase', 'bookworm'), { inflateWorker: 'never' });
    await scanTarget(labOci('debian-minbase', 'bookworm'), { inflateWorker: 'always', layerCache: { get: async () => undefined, set: async () => undefined } }); // this worker has done a job
    const before = inflateWorkerStats();
    expect(before.broken).to.equal(false);
    const running = scanTarget(labOci('debian-minbase', 'bookworm'), { inflateWorker: 'always', layerCache: { get: async () => undefined, set: async () => undefined } });
    let killed = false;
    const until = Date.now() + 30_000;
    while (!killed && Date.now() < until) {
      const [w] = busyInflateWorkers();
      // Killed once it is into the layer: a worker terminated while its job's gunzip is being made
      // (the job's first message) trips an assertion in Node's zlib clean-up that aborts this process.
      if (w) { await new Promise((r) => setTimeout(r, 100)); if (busyInflateWorkers().includes(w)) { await w.terminate(); killed = true; } } else await new Promise((r) => setTimeout(r, 2));
    }
    const s = await running;
    expect(killed, 'a busy worker was seen and killed').to.equal(true);
    expect(s.platforms[0].inventory.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
    expect(s.platforms[0].inventory.packages).to.deep.equal(expected.platforms[0].inventory.packages);
    expect(s.platforms[0].inventory.diagnostics).to.deep.equal(expected.platforms[0].inventory.diagnostics);
    // A worker that had proven itself may die without disabling the pool: the next layer uses a new one.
    expect(inflateWorkerStats().broken).to.equal(false);
    const jobs = inflateWorkerStats().jobs;
    await read(layersOf('debian-minbase')[0], true);
    expect(inflateWorkerStats().jobs).to.equal(jobs + 1);
  });

  it('more concurrent scans than workers: the rest read on the calling thread, every result the same', async () => {
    const noCache = () => ({ get: async () => undefined, set: async () => undefined });
    const expected = await scanTarget(labOci('node-app', 'vuln'), { inflateWorker: 'never' });
    const all = await Promise.all(Array.from({ length: 4 }, () => scanTarget(labOci('node-app', 'vuln'), { inflateWorker: 'always', layerCache: noCache() })));
    for (const s of all) {
      expect(s.platforms[0].inventory.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
      expect(s.platforms[0].inventory.packages).to.deep.equal(expected.platforms[0].inventory.packages);
      expect(s.platforms[0].inventory.secrets).to.deep.equal(expected.platforms[0].inventory.secrets);
    }
    expect(inflateWorkerStats().busy).to.equal(0);
  });

  it('inflateWorker auto: a worker only for a layer of at least 4 MiB with at least 3 cores; always and never as named', () => {
    // The Debian base layer (51 MiB) on a 2-core machine: the calling thread (bench/scan-layer.ts).
    expect(useInflateWorker('auto', 51 << 20, 2)).to.equal(false);
    expect(useInflateWorker(undefined, 51 << 20, 2)).to.equal(false);
    expect(useInflateWorker('auto', 51 << 20, 4)).to.equal(true);
    expect(useInflateWorker('auto', (4 << 20) - 1, 64)).to.equal(false);
    expect(useInflateWorker('auto', undefined, 64)).to.equal(false);
    fc.assert(fc.property(
      fc.constantFrom('auto' as const, 'always' as const, 'never' as const, undefined),
      fc.option(fc.nat({ max: 2 ** 40 }), { nil: undefined }),
      fc.integer({ min: 1, max: 256 }),
      (mode, size, cores) => {
        const want = mode === 'always' || mode !== 'never' && (size ?? 0) >= INFLATE_WORKER_MIN_BYTES && cores >= INFLATE_WORKER_MIN_CORES;
        expect(useInflateWorker(mode, size, cores)).to.equal(want);
      },
    ));
  });
});
