/**
 * A layer blob whose check (digest, size) fails before the decoding pipeline started (a small blob that
 * arrives whole while its first bytes are sniffed) is refused with that check's error, whatever its
 * compression: the decoder made for it is destroyed without an error escaping it (a `zstd`/`xz`/`bzip2`
 * decoder destroyed without a listener threw an uncaught AbortError, which ends the process), and
 * nothing is left running (no inflate worker busy, no decoder child).
 */
import { expect } from 'chai';
import { execFileSync, execSync } from 'node:child_process';
import crypto from 'node:crypto';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { PushgateError, type Digest } from '../../../src/core/index.js';
import { ANALYZERS } from '../../../src/scan/analyzers/index.js';
import { analyzerSetVersion } from '../../../src/scan/engine.js';
import { busyInflateWorkers } from '../../../src/scan/inflate-pool.js';
import { readLayer } from '../../../src/scan/layer-stream.js';
import { LayerWalker } from '../../../src/scan/walker.js';

const sha = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}` as Digest;
const hasZstd = (() => { try { execSync('zstd --version', { stdio: 'ignore' }); return true; } catch { return false; } })();
const children = (): string => { try { return execSync(`pgrep -P ${process.pid} -l || true`).toString().trim(); } catch { return ''; } };

describe('scan: a layer failing its check before decoding starts is refused, and nothing escapes or stays running', function () {
  this.timeout(120_000);
  let tmp: string;
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => { uncaught.push(e); };
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-verify-early-'));
    // mocha's own handler stays; this one counts what escaped during a property run
    process.on('uncaughtException', onUncaught);
  });
  after(() => {
    process.off('uncaughtException', onUncaught);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('property: wrong digest or a descriptor size past the blob, any compression, any small chunking', async function () {
    if (!hasZstd) this.skip();
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 2048 }),
        fc.constantFrom('zstd', 'gzip', 'none'),
        fc.boolean(),
        fc.integer({ min: 0, max: 24 }),
        fc.constantFrom('digest', 'size'),
        fc.integer({ min: 1, max: 16 }),
        async (data, compression, worker, keep, wrong, chunk) => {
          const full = compression === 'zstd' ? execFileSync('zstd', ['-c', '-q'], { input: Buffer.from(data) }) : compression === 'gzip' ? zlib.gzipSync(Buffer.from(data)) : Buffer.from(data);
          // sometimes only the compressed stream's head (a blob cut short, its digest its own)
          const blob = keep > 0 && keep < full.length ? full.subarray(0, keep) : full;
          const desc = wrong === 'digest' ? { digest: sha(Buffer.from('other')), size: blob.length } : { digest: sha(blob), size: blob.length + 5 };
          const walker = new LayerWalker([...ANALYZERS], { version: analyzerSetVersion(), digest: desc.digest, tmpDir: tmp });
          const parts: Buffer[] = [];
          for (let i = 0; i < blob.length; i += chunk) parts.push(blob.subarray(i, i + chunk));
          const err = await readLayer(Readable.from(parts), desc, walker, { worker }).then(() => undefined, (e: unknown) => e);
          await new Promise((r) => setTimeout(r, 20));
          expect(uncaught, 'an error escaped the read').to.deep.equal([]);
          expect(err).to.be.instanceOf(PushgateError);
          expect((err as PushgateError).code).to.equal(wrong === 'digest' ? 'DIGEST_MISMATCH' : 'SIZE_MISMATCH');
          expect(busyInflateWorkers()).to.have.length(0);
          for (let i = 0; i < 50 && children().includes('zstd'); i++) await new Promise((r) => setTimeout(r, 20));
          expect(children()).to.not.include('zstd');
        },
      ),
      { numRuns: 150 },
    );
  });
});
