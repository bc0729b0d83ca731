/**
 * A layer blob whose bytes do not match its digest is reported as a digest mismatch, whatever the
 * decompressor says first: a changed byte makes inflate fail at that byte, often long before the last
 * byte has arrived (a slow registry, a worker thread ahead of the network). The blob's own
 * verification names the cause (`layer-digest-mismatch`); `corrupt-layer` is for a blob that is what
 * its digest says and still cannot be read.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { makeTar } from './layout-helper.js';
import type { Digest } from '../../../src/core/index.js';
import { isPushgateError } from '../../../src/core/errors.js';
import { ANALYZERS } from '../../../src/scan/analyzers/index.js';
import { analyzerSetVersion } from '../../../src/scan/engine.js';
import { readLayer } from '../../../src/scan/layer-stream.js';
import { LayerWalker } from '../../../src/scan/walker.js';

const sha256 = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}` as Digest;

/** The blob as a slow registry sends it: 16 KiB at a time, each after a pause. */
function slowly(blob: Buffer): Readable {
  let at = 0;
  return new Readable({
    read() {
      if (at >= blob.length) return void this.push(null);
      const chunk = blob.subarray(at, at + 16 * 1024);
      at += chunk.length;
      setTimeout(() => this.push(chunk), 2);
    },
  });
}

describe('scan: a layer that does not match its digest is a digest mismatch, not a decompression error', function () {
  this.timeout(120_000);
  let tmp: string;
  let blob: Buffer;
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-verify-'));
    // about 1.5 MB of gzip: incompressible file bodies, so the stream is long and a flip lands in data
    const entries = Array.from({ length: 24 }, (_, i) => ({ name: `usr/share/f${i}`, content: crypto.randomBytes(64 * 1024) }));
    blob = zlib.gzipSync(await makeTar(entries));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function read(bytes: Buffer, digest: Digest, worker: boolean): Promise<unknown> {
    const walker = new LayerWalker(ANALYZERS, { version: analyzerSetVersion(), digest, tmpDir: tmp });
    return readLayer(slowly(bytes), { digest, size: bytes.length }, walker, { worker }).then(() => undefined, (e: unknown) => e);
  }

  it('property: a byte changed anywhere in the gzip stream, sent slowly, is DIGEST_MISMATCH (calling thread and worker)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 20, max: blob.length - 1 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (at, x, worker) => {
      const bad = Buffer.from(blob);
      bad[at] ^= x;
      const e = await read(bad, sha256(blob), worker);
      expect(isPushgateError(e, 'DIGEST_MISMATCH'), `flip at ${at}: ${String(e)}`).to.equal(true);
    }), { numRuns: 25, examples: [[Math.floor(blob.length / 8), 0xff, false], [Math.floor(blob.length / 8), 0xff, true]] });
  });

  it('the same bytes under their own digest: the decompressor\'s error (CORRUPT_LAYER), the blob was what it said', async () => {
    const bad = Buffer.from(blob);
    bad[Math.floor(blob.length / 8)] ^= 0xff;
    for (const worker of [false, true]) {
      const e = await read(bad, sha256(bad), worker);
      expect(isPushgateError(e, 'CORRUPT_LAYER') || (e instanceof Error && /invalid|incorrect|unexpected/i.test(e.message)), String(e)).to.equal(true);
      expect(isPushgateError(e, 'DIGEST_MISMATCH')).to.equal(false);
    }
  });
});

describe('scan: hashing the rest of a failed layer stops at the scan deadline', () => {
  it('a source that stalls after the changed byte: readLayer returns once the signal aborts', async function () {
    this.timeout(20_000);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-verify-stall-'));
    try {
      const blob = zlib.gzipSync(await makeTar([{ name: 'a', content: crypto.randomBytes(256 * 1024) }]));
      const bad = Buffer.from(blob);
      bad[64] ^= 0xff;
      // the first 64 KiB, then nothing more, ever
      let sent = false;
      const stalled = new Readable({ read() {
        if (!sent) {
          sent = true;
          this.push(bad.subarray(0, 64 * 1024));
        }
      } });
      const ac = new AbortController();
      const walker = new LayerWalker(ANALYZERS, { version: analyzerSetVersion(), digest: sha256(blob), tmpDir: tmp });
      const t0 = Date.now();
      setTimeout(() => ac.abort(), 500);
      const e = await readLayer(stalled, { digest: sha256(blob), size: bad.length }, walker, { signal: ac.signal }).then(() => undefined, (x: unknown) => x);
      expect(e, 'an error, not a result').to.be.instanceOf(Error);
      expect(Date.now() - t0).to.be.below(10_000);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
