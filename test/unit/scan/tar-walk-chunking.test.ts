/**
 * The tar walk's queue (src/scan/tar-walk.ts) must not make what a layer shows depend on how its bytes
 * arrive: whatever the source's chunk sizes (1 byte to 64 KiB), the compression (none, gzip on this
 * thread or in an inflate worker) and analyzers answering synchronously or with a promise, a layer
 * read through {@link readLayer} shows what the same layer read in one chunk shows, including a layer
 * cut part-way (an entry skipped or a chunk lost or reordered would differ), and no read leaves an
 * inflate worker busy.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { Digest } from '../../../src/core/index.js';
import { ANALYZERS } from '../../../src/scan/analyzers/index.js';
import type { Analyzer } from '../../../src/scan/analyzers/types.js';
import { analyzerSetVersion } from '../../../src/scan/engine.js';
import { readLayer } from '../../../src/scan/layer-stream.js';
import { busyInflateWorkers } from '../../../src/scan/inflate-pool.js';
import { LayerWalker } from '../../../src/scan/walker.js';
import { makeTar } from './layout-helper.js';

/** An analyzer of /data/ files that answers on a later timer turn, naming the file's size. */
const asyncAnalyzer: Analyzer = {
  name: 'test/async',
  version: 1,
  maxSize: 1 << 20,
  wants: (e) => e.path.startsWith('/data/'),
  analyze: async (input) => {
    await new Promise((r) => setTimeout(r, 1));
    const name = `a${input.content.length}`;
    return { packages: [{ name, version: '1', ecosystem: 'npm', path: '/data', purl: `pkg:npm/${name}@1` }] };
  },
};

describe('scan: a layer shows the same whatever the chunking of its bytes', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-tar-chunking-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function shown(blob: Buffer, chunk: number, worker: boolean, cut: number | undefined): Promise<string> {
    const digest = `sha256:${crypto.createHash('sha256').update(blob).digest('hex')}` as Digest;
    const walker = new LayerWalker([...ANALYZERS, asyncAnalyzer], { version: analyzerSetVersion(), digest, tmpDir: tmp });
    const bytes = cut === undefined ? blob : blob.subarray(0, cut);
    const parts: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
    let error = '';
    await readLayer(Readable.from(parts), { digest, size: cut === undefined ? blob.length : undefined }, walker, { worker })
      .catch((e: Error) => { error = e.message; });
    const { tarBytes: _t, ...rest } = walker.result();
    return JSON.stringify({ error, rest });
  }

  const entry = fc.record({
    // long names take PAX records, which then span chunks
    name: fc.tuple(fc.constantFrom('data/', 'etc/', 'usr/lib/node_modules/x/', 'data/' + 'p'.repeat(140) + '/'), fc.integer({ min: 0, max: 999 }))
      .map(([d, n]) => (d.startsWith('usr') ? `${d}package.json` : `${d}f${n}`)),
    content: fc.oneof(fc.constant('{"name":"x","version":"1.0.0"}'), fc.string({ maxLength: 2000 })),
  });

  it('chunk sizes, compression, inflate worker and promise-answering analyzers change nothing (property)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(entry, { maxLength: 40 }), fc.integer({ min: 0, max: 400 }), fc.constantFrom(1, 511, 4096, 65536),
      fc.boolean(), fc.boolean(), fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
      async (entries, tiny, chunk, gzip, worker, cutAt) => {
        const tar = await makeTar([...entries, ...Array.from({ length: tiny }, (_, i) => ({ name: `t/${i}`, content: String(i) }))]);
        const blob = gzip ? zlib.gzipSync(tar) : tar;
        const cut = cutAt === null ? undefined : Math.floor(blob.length * cutAt);
        const whole = await shown(blob, Math.max(1, blob.length), false, cut);
        expect(await shown(blob, chunk, worker, cut)).to.equal(whole);
      },
    ), { numRuns: 60 });
    // every read ended, however it failed: no inflate worker is left busy (a busy worker is referenced
    // and keeps the process from exiting; a blob failing its check before the pipeline started used to)
    expect(busyInflateWorkers()).to.have.length(0);
  });

  it('a gzip blob cut anywhere and read through an inflate worker leaves no worker busy, however early it fails (property)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(entry, { maxLength: 10 }), fc.constantFrom(1, 7, 511, 65536), fc.double({ min: 0, max: 1, noNaN: true }),
      async (entries, chunk, cutAt) => {
        const blob = zlib.gzipSync(await makeTar(entries));
        await shown(blob, chunk, true, Math.floor(blob.length * cutAt));
        expect(busyInflateWorkers()).to.have.length(0);
      },
    ), { numRuns: 40 });
  });
});
