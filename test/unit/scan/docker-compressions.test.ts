/**
 * Layers are read in every compression Docker Engine unpacks (moby DecompressStream: bzip2, gzip, xz,
 * zstd, or a plain tar), whatever their media type says: a fast-check property over generated npm
 * packages, compressions and layer media types finds the same packages as the plain tar. The real
 * gzip (zlib), bzip2, xz and zstd programs make the blobs.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { scanTarget } from '../../../src/scan/engine.js';
import { sniffBlob } from '../../../src/scan/classify.js';
import { sniffCompression } from '../../../src/scan/layer-stream.js';
import { makeTar, writeLayout } from './layout-helper.js';

const COMPRESS: Record<string, (t: Buffer) => Buffer> = {
  none: (t) => t,
  gzip: (t) => zlib.gzipSync(t),
  bzip2: (t) => execFileSync('bzip2', ['-c'], { input: t }),
  xz: (t) => execFileSync('xz', ['-c'], { input: t }),
  zstd: (t) => execFileSync('zstd', ['-c', '-q'], { input: t }),
};

describe('scan: layers in every compression Docker Engine unpacks', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-compress-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('sniffs bzip2 and xz as moby does (bzip2 "BZh" first), and calls them archives', () => {
    const t = Buffer.from('hello');
    expect(sniffCompression(COMPRESS.bzip2!(t))).to.equal('bzip2');
    expect(sniffCompression(COMPRESS.xz!(t))).to.equal('xz');
    expect(sniffBlob(COMPRESS.bzip2!(t))).to.equal('archive');
    expect(sniffBlob(COMPRESS.xz!(t))).to.equal('archive');
    expect(sniffCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a]))).to.equal('none');
    expect(sniffCompression(Buffer.from('BZ'))).to.equal('none');
  });

  it('finds the same npm packages in every compression and under every media type (fast-check)', async () => {
    let n = 0;
    const pkg = fc.record({ name: fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/), version: fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20)).map((v) => v.join('.')) });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(pkg, { minLength: 1, maxLength: 4, selector: (p) => p.name }),
        fc.constantFrom('none', 'gzip', 'bzip2', 'xz', 'zstd'),
        fc.constantFrom('application/octet-stream', 'application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.docker.image.rootfs.diff.tar.gzip'),
        async (pkgs, compression, mediaType) => {
          const tar = await makeTar(pkgs.map((p) => ({ name: `app/node_modules/${p.name}/package.json`, content: JSON.stringify(p) })));
          const dir = path.join(tmp, `l${n++}`);
          writeLayout(dir, [{ blob: COMPRESS[compression]!(tar), tar, mediaType }]);
          const s = await scanTarget(`oci:${dir}:test`);
          const inv = s.platforms[0]!.inventory;
          expect(inv.diagnostics.filter((d) => d.incomplete), JSON.stringify(inv.diagnostics)).to.deep.equal([]);
          const found = inv.packages.filter((p) => p.ecosystem === 'npm').map((p) => `${p.name}@${p.version}`).sort();
          expect(found, `${compression} ${mediaType}`).to.deep.equal(pkgs.map((p) => `${p.name}@${p.version}`).sort());
        },
      ),
      { numRuns: 30 },
    );
  });
});
