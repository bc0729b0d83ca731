/**
 * The tar side of a layer read queues what inflate hands it and reads it on later turns of the event
 * loop (src/scan/tar-walk.ts), so that inflating (zlib's thread pool) and the tar parser and
 * analyzers (this thread) overlap. What a layer shows must not depend on that timing:
 * - a layer whose gzip fails part-way (truncated, a flipped byte) shows exactly what reading every
 *   chunk inflate produced before its error shows (the reading order of a synchronous walk), whatever
 *   the source's chunk sizes and however slow the analyzers are, when inflated on this thread; inflated
 *   in a worker (which runs ahead), a prefix of it;
 * - the queue holds at most {@link TAR_WALK_BUFFER} bytes plus one chunk before the writer waits;
 * - an analyzer failing, or answering with a promise, stops or holds the reading in order.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { Digest } from '../../../src/core/index.js';
import { ANALYZERS } from '../../../src/scan/analyzers/index.js';
import type { Analyzer } from '../../../src/scan/analyzers/types.js';
import { analyzerSetVersion } from '../../../src/scan/engine.js';
import { readLayer } from '../../../src/scan/layer-stream.js';
import { TAR_WALK_BUFFER, TarWalk } from '../../../src/scan/tar-walk.js';
import { LayerWalker, type LayerAnalysis } from '../../../src/scan/walker.js';
import { makeTar } from './layout-helper.js';

/** An analyzer that spends `ms` of this thread on every regular file, so that inflate runs ahead. */
function slowAnalyzer(ms: number): Analyzer {
  return {
    name: 'test/slow',
    version: 1,
    maxSize: 64 << 20,
    wants: (e) => e.path.startsWith('/data/'),
    analyze: () => {
      const end = Date.now() + ms;
      while (Date.now() < end) { /* hold the thread */ }
      return undefined;
    },
  };
}

/** The analysis without what only the reading's ending adds (how it ended, the tar byte count). */
function shown(a: LayerAnalysis): Omit<LayerAnalysis, 'diagnostics' | 'tarBytes'> {
  const { diagnostics: _d, tarBytes: _t, ...rest } = a;
  return rest;
}

describe('scan: the tar walk reads queued chunks as inflate produces them', function () {
  this.timeout(180_000);
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-tar-queue-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const walkerFor = (digest: Digest, extra: Analyzer[] = []) =>
    new LayerWalker([...ANALYZERS, ...extra], { version: analyzerSetVersion(), digest, tmpDir: tmp });

  /** Every chunk a gunzip of `file` (read in `hwm`-byte chunks) hands on before it ends or fails. */
  async function inflatedBeforeEnd(file: string, hwm: number): Promise<Buffer[]> {
    const out: Buffer[] = [];
    await pipeline(fs.createReadStream(file, { highWaterMark: hwm }), zlib.createGunzip({ chunkSize: 1 << 20 }), new Writable({
      write(c: Buffer, _e, cb) { out.push(c); cb(); },
    })).catch(() => undefined);
    return out;
  }

  /** The analysis of `chunks` read one after another, each when it arrives (the synchronous order). */
  async function readInOrder(chunks: Buffer[], digest: Digest, extra: Analyzer[]): Promise<LayerAnalysis> {
    const walker = walkerFor(digest, extra);
    await pipeline(Readable.from(chunks, { objectMode: false }), new TarWalk(walker, 2_000_000)).catch(() => undefined);
    return walker.result();
  }

  it('a gzip failing part-way shows what every chunk inflated before the failure shows (property)', async () => {
    const big = (seed: number, n: number) => crypto.createHash('sha512').update(String(seed)).digest().toString('hex').repeat(Math.ceil(n / 128)).slice(0, n);
    const noise = (seed: number, n: number) => {
      const b = Buffer.alloc(n);
      let x = seed | 1;
      for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x & 0xff; }
      return b;
    };
    let n = 0;
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ kind: fc.constantFrom('noise', 'text', 'small'), kib: fc.integer({ min: 1, max: 1024 }), seed: fc.integer() }), { minLength: 2, maxLength: 24 }),
      fc.oneof(fc.record({ cut: fc.double({ min: 0.05, max: 0.98, noNaN: true }) }), fc.record({ flip: fc.double({ min: 0.05, max: 0.98, noNaN: true }) }), fc.constant({})),
      fc.constantFrom(64 << 10, 256 << 10, 1 << 20),
      fc.constantFrom(0, 2, 8),
      fc.boolean(),
      async (files, damage, hwm, slowMs, worker) => {
        const entries = [{ name: 'etc/os-release', content: 'ID=debian\nVERSION_ID=12\n' }];
        files.forEach((f, i) => entries.push({
          name: `data/f${i}.${f.kind === 'noise' ? 'bin' : 'txt'}`,
          content: (f.kind === 'noise' ? noise(f.seed, f.kib * 1024) : f.kind === 'text' ? big(f.seed, f.kib * 1024) : `small ${f.seed}\n`) as string,
        }));
        entries.push({ name: 'usr/lib/os-release', content: 'ID=debian\nVERSION_ID=12\n' });
        let gz = zlib.gzipSync(await makeTar(entries), { level: 1 });
        if ('cut' in damage) gz = gz.subarray(0, Math.max(20, Math.floor(gz.length * (damage.cut as number))));
        if ('flip' in damage) { gz = Buffer.from(gz); gz[Math.max(20, Math.floor(gz.length * (damage.flip as number)))] ^= 0x5a; }
        const file = path.join(tmp, `layer-${n++}.gz`);
        fs.writeFileSync(file, gz);
        const digest = `sha256:${crypto.createHash('sha256').update(gz).digest('hex')}` as Digest;
        const extra = slowMs ? [slowAnalyzer(slowMs)] : [];
        const walker = walkerFor(digest, extra);
        const error = await readLayer(fs.createReadStream(file, { highWaterMark: hwm }), { digest, size: gz.length }, walker, { worker })
          .then(() => undefined, (e: Error) => e.message);
        const expected = await readInOrder(await inflatedBeforeEnd(file, hwm), digest, extra);
        fs.rmSync(file);
        const what = `${JSON.stringify(damage)} hwm ${hwm} slow ${slowMs} worker ${worker}: ${error}`;
        if (!worker || !error) expect(shown(walker.result()), what).to.deep.equal(shown(expected));
        else {
          // An inflate worker runs ahead of the tar side, and the chunks it inflated before its error that
          // still wait between the stages when the error arrives are dropped by the pipeline (as any
          // stream's buffer is on destroy): a failing layer read that way shows a prefix of the entries,
          // never an entry past the failure nor one read differently.
          const got = shown(walker.result());
          const all = shown(expected);
          expect(got.paths, what).to.deep.equal(all.paths.slice(0, got.paths.length));
          expect(all.kinds.startsWith(got.kinds), what).to.equal(true);
          for (const r of got.results) expect(all.results, what).to.deep.include(r);
        }
        if (!('cut' in damage) && !('flip' in damage)) expect(error).to.equal(undefined);
      },
    ), { numRuns: 24 });
  });

  it('holds the writer once TAR_WALK_BUFFER bytes are queued, and reads everything in order', async () => {
    const chunk = 256 << 10;
    const files = Array.from({ length: 24 }, (_, i) => ({ name: `data/f${i}.bin`, content: Buffer.alloc(chunk - 512, i) as unknown as string }));
    const tarBytes = await makeTar(files);
    const digest = `sha256:${'0'.repeat(64)}` as Digest;
    const walker = walkerFor(digest, [slowAnalyzer(3)]);
    const walk = new TarWalk(walker, 1000);
    let written = 0;
    let maxAhead = 0;
    // write as fast as the stream takes it; how far the writer gets ahead of the reading is bounded
    for (let off = 0; off < tarBytes.length; off += chunk) {
      const c = tarBytes.subarray(off, off + chunk);
      await new Promise<void>((resolve, reject) => walk.write(c, (e) => (e ? reject(e) : resolve())));
      written += c.length;
      maxAhead = Math.max(maxAhead, written - walk.tarBytes);
    }
    await new Promise<void>((resolve, reject) => walk.end((e?: Error | null) => (e ? reject(e) : resolve())));
    expect(maxAhead).to.be.greaterThan(chunk); // it did run ahead: reading is queued, not done in write()
    expect(maxAhead).to.be.at.most(TAR_WALK_BUFFER + chunk);
    expect(walk.tarBytes).to.equal(tarBytes.length);
    expect(walker.result().paths).to.deep.equal(files.map((f) => `/${f.name}`));
  });

  it('an analyzer answering with a promise holds the reading: later entries are read after it settles, in order', async () => {
    const events: string[] = [];
    const late: Analyzer = {
      name: 'test/late',
      version: 1,
      maxSize: 1 << 20,
      wants: (e) => e.path.startsWith('/data/'),
      analyze: (input) => {
        events.push(`read ${input.path}`);
        if (input.path !== '/data/f2.txt') return undefined;
        return new Promise((resolve) => setTimeout(() => { events.push('f2 settled'); resolve(undefined); }, 30));
      },
    };
    const files = Array.from({ length: 6 }, (_, i) => ({ name: `data/f${i}.txt`, content: `file ${i}\n`.repeat(30_000) }));
    const tarBytes = await makeTar(files);
    const walker = walkerFor(`sha256:${'1'.repeat(64)}` as Digest, [late]);
    const chunks = Array.from({ length: Math.ceil(tarBytes.length / 65536) }, (_, i) => tarBytes.subarray(i * 65536, (i + 1) * 65536));
    await pipeline(Readable.from(chunks), new TarWalk(walker, 1000));
    expect(events).to.deep.equal(['read /data/f0.txt', 'read /data/f1.txt', 'read /data/f2.txt', 'f2 settled', 'read /data/f3.txt', 'read /data/f4.txt', 'read /data/f5.txt']);
    expect(walker.result().paths).to.deep.equal(files.map((f) => `/${f.name}`));
  });
});
