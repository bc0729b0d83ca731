/**
 * A zstd layer that starts with a skippable frame (RFC 8878 section 3.1.2: magic 0x184D2A50 to
 * 0x184D2A5F, a 4-byte little-endian size, that many bytes) is zstd for containerd and moby: their
 * compression detection accepts a skippable frame as a zstd start, and the decoder skips it. pushgate
 * sniffed only the zstd frame magic, read such a blob as a plain tar, and named it `tar-invalid`
 * (incomplete): under `onIncomplete: warn` or `allow` every package in it went unjudged.
 *
 * Real blobs: the tar is compressed by Debian's `zstd` (the same program pushgate decodes with), the
 * skippable frames are written by hand, the layout is scanned by the real engine.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { scanTarget } from '../../src/scan/engine.js';
import { sniffCompression } from '../../src/scan/layer-stream.js';
import { ensureTools } from '../helpers/lab.js';
import { makeTar, writeLayout } from '../unit/scan/layout-helper.js';

const VULN = JSON.stringify({ name: 'adm-zip', version: '0.4.7' });

/** A skippable frame: magic 0x184D2A5`nibble`, the payload's size, the payload. */
function skippable(nibble: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32LE((0x184d2a50 | nibble) >>> 0, 0);
  h.writeUInt32LE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

function zstd(b: Buffer): Buffer {
  const r = spawnSync('zstd', ['-c', '-q'], { input: b, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`zstd failed: ${String(r.stderr)}`);
  return r.stdout;
}

describe('security: a zstd layer that starts with a skippable frame is read as zstd, as containerd and moby read it', function () {
  this.timeout(60_000);
  let tmp: string;
  let tar: Buffer;
  let n = 0;
  before(async () => {
    ensureTools([['zstd', 'zstd']]);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-zstd-skip-'));
    tar = await makeTar([{ name: 'app/node_modules/adm-zip/package.json', content: VULN }]);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function scan(blob: Buffer) {
    const layout = path.join(tmp, `l${++n}`);
    writeLayout(layout, [{ blob, tar, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }], { tag: 't' });
    return (await scanTarget(`oci:${layout}:t`, { inflateWorker: 'never' })).platforms[0];
  }

  it('sniffing: every skippable magic is zstd once 8 bytes are there; other magics and shorter heads are not', () => {
    for (let i = 0; i < 16; i++) expect(sniffCompression(skippable(i, Buffer.alloc(0))), `nibble ${i}`).to.equal('zstd');
    expect(sniffCompression(skippable(0, Buffer.alloc(0)).subarray(0, 7))).to.equal('none');
    const other = skippable(0, Buffer.alloc(0));
    other.writeUInt32LE(0x184d2a60, 0);
    expect(sniffCompression(other)).to.equal('none');
  });

  it('property: one or more skippable frames (any magic, any payload) before the zstd frame: the package is found, the scan complete (15 runs)', async () => {
    const frame = fc.record({ nibble: fc.integer({ min: 0, max: 15 }), payload: fc.uint8Array({ maxLength: 600 }) });
    await fc.assert(fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 3 }), async (frames) => {
      const blob = Buffer.concat([...frames.map((f) => skippable(f.nibble, Buffer.from(f.payload))), zstd(tar)]);
      const p = await scan(blob);
      expect(p.inventory.packages.map((x) => `${x.name}@${x.version}`)).to.deep.equal(['adm-zip@0.4.7']);
      expect(p.inventory.diagnostics.filter((d) => d.incomplete).map((d) => d.code)).to.deep.equal([]);
    }), { numRuns: 15 });
  });
});
