/**
 * Hostile layers: traversal names, symlink escapes and loops, hard links out of the root, a gzip
 * bomb (1 GiB of zeros, ~1 MB compressed, built here as concatenated gzip members), a truncated
 * gzip, tar headers claiming huge sizes, the per-scan deadline. Each ends in a diagnostic within the
 * limits, memory stays flat, and the process goes on scanning afterwards.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { labImages, labOci } from '../../helpers/lab.js';
import { scanDirectory, scanTarget } from '../../../src/scan/engine.js';
import { gzLayer, makeTar, writeLayout, type LayerBlob } from './layout-helper.js';

/** Sets a tar header's size field (octal, or base-256 when `big`) and fixes its checksum. */
function setSize(header: Buffer, size: bigint, big = false): void {
  if (big) {
    header.fill(0, 124, 136);
    header[124] = 0x80;
    let v = size;
    for (let i = 135; i > 124; i--) { header[i] = Number(v & 0xffn); v >>= 8n; }
  } else {
    header.write(size.toString(8).padStart(11, '0') + '\0', 124, 12, 'latin1');
  }
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += header[i];
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
}

// Every case runs twice: gzip inflated on the calling thread, and in an inflate worker thread (inflate-pool.ts).
for (const inflateWorker of ['never', 'always'] as const) describe(`scan: hostile layers (gzip ${inflateWorker === 'always' ? 'inflated in a worker thread' : 'on the calling thread'})`, function () {
  this.timeout(90_000);
  let tmp: string;
  before(() => { labImages(); tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-scan-hostile-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function scanLayers(name: string, layers: LayerBlob[], opts: Parameters<typeof scanTarget>[1] = {}) {
    const dir = path.join(tmp, name);
    writeLayout(dir, layers);
    return (await scanTarget(`oci:${dir}:test`, { inflateWorker, ...opts })).platforms[0].inventory;
  }

  it('traversal names are placed where containerd places them (`..` stops at the root), and the scan is incomplete: runtimes disagree', async () => {
    const inv = await scanLayers('trav', [gzLayer(await makeTar([
      { name: '../../../etc/os-release', content: 'ID=alpine\nVERSION_ID=3.19.0\n' },
      { name: 'a/../../var/lib/dpkg/status', content: 'Package: evil\nStatus: install ok installed\nVersion: 1\n' },
      { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID=12\n' },
      { name: 'hl', type: 'link', linkname: '../../../etc/shadow' },
    ]))]);
    // /etc/os-release twice: the last entry wins.
    expect(inv.os?.id).to.equal('debian');
    // containerd's RootPath keeps `..` at the root: the runtime has /var/lib/dpkg/status, so pushgate reads it.
    expect(inv.packages.map((p) => `${p.name} ${p.path}`)).to.deep.equal(['evil /var/lib/dpkg/status']);
    const t = inv.diagnostics.filter((d) => d.code === 'path-traversal');
    expect(t.map((d) => d.path)).to.have.members(['../../../etc/os-release', 'a/../../var/lib/dpkg/status', '/hl']);
    expect(t.every((d) => d.incomplete)).to.equal(true);
    expect(fs.existsSync(path.join(tmp, 'etc'))).to.equal(false);
  });

  it('symlink escapes and loops are recorded, never followed (layers and dir:)', async () => {
    const inv = await scanLayers('links', [gzLayer(await makeTar([
      { name: 'etc', type: 'directory' },
      { name: 'etc/os-release', type: 'symlink', linkname: '../../../../../etc/os-release' },
      { name: 'var/lib/dpkg', type: 'symlink', linkname: '/proc/self/root/var/lib/dpkg' },
      { name: 'loop/a', type: 'symlink', linkname: 'b' },
      { name: 'loop/b', type: 'symlink', linkname: 'a' },
      { name: 'self', type: 'symlink', linkname: '.' },
    ]))]);
    expect(inv.os).to.equal(undefined);
    expect(inv.packages).to.deep.equal([]);
    const root = path.join(tmp, 'rootfs');
    fs.mkdirSync(path.join(root, 'loop'), { recursive: true });
    fs.symlinkSync('b', path.join(root, 'loop/a'));
    fs.symlinkSync('a', path.join(root, 'loop/b'));
    fs.symlinkSync('/', path.join(root, 'host'));
    fs.symlinkSync('..', path.join(root, 'loop/up'));
    fs.symlinkSync('/etc/os-release', path.join(root, 'os-release'));
    const d = await scanDirectory(root);
    expect(d.platforms[0].inventory.os).to.equal(undefined);
    expect(d.bytesRead).to.equal(0);
  });

  it('a layer whose every entry starts a new directory chain 1,900 deep (a few KiB of gzip): layer-too-complex, the layers below judged, the rest of it left out', async () => {
    const deep = 'a/'.repeat(1900);
    const status = (v: string) => `Package: apt\nStatus: install ok installed\nVersion: ${v}\n`;
    const inv = await scanLayers('chains', [
      gzLayer(await makeTar([{ name: 'var/lib/dpkg/status', content: status('1') }])),
      gzLayer(await makeTar([...Array.from({ length: 80 }, (_, i) => ({ name: `x${i}/${deep}f`, content: '' })), { name: 'var/lib/dpkg/status', content: status('2') }])),
    ]);
    expect(inv.packages.map((p) => `${p.name}@${p.version}`)).to.deep.equal(['apt@1']);
    expect(inv.diagnostics.filter((d) => d.incomplete).map((d) => d.code)).to.deep.equal(['layer-too-complex']);
  });

  it('a gzip bomb (1 GiB of zeros in ~1 MB): layer-limit diagnostic after 64 MiB, memory flat', async () => {
    const zeros64 = zlib.gzipSync(Buffer.alloc(64 << 20));
    const hdr = (await makeTar([{ name: 'var/log/lastlog', content: 'x' }])).subarray(0, 512);
    setSize(hdr, 1n << 30n);
    const blob = Buffer.concat([zlib.gzipSync(hdr), ...Array.from({ length: 16 }, () => zeros64), zlib.gzipSync(Buffer.alloc(1024))]);
    expect(blob.length).to.be.below(2 << 20);
    const rss0 = process.memoryUsage().rss;
    const t0 = Date.now();
    const inv = await scanLayers('bomb', [{ blob, tar: Buffer.alloc(0) }]);
    const d = inv.diagnostics.find((x) => x.code === 'layer-limit');
    expect(d?.incomplete, JSON.stringify(inv.diagnostics)).to.equal(true);
    expect(d!.message).to.match(/decompression bomb/);
    expect(Date.now() - t0).to.be.below(10_000);
    expect(process.memoryUsage().rss - rss0).to.be.below(200 << 20);
  });

  it('a truncated gzip: corrupt-layer (incomplete), entries before the cut kept', async () => {
    const t = await makeTar([{ name: 'etc/os-release', content: 'ID=debian\nVERSION_ID=12\n' }, { name: 'big', content: Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251)) }]);
    const gz = zlib.gzipSync(t);
    const inv = await scanLayers('trunc', [{ blob: gz.subarray(0, Math.floor(gz.length * 0.6)), tar: t }]);
    expect(inv.diagnostics.find((x) => x.code === 'corrupt-layer')?.incomplete).to.equal(true);
    expect(inv.os?.id).to.equal('debian');
  });

  it('tar headers claiming huge sizes (octal 8 GiB, base-256 2^60): a diagnostic, no allocation, no spill', async () => {
    for (const [i, [size, big]] of ([[8n * 2n ** 30n - 1n, false], [1n << 60n, true]] as Array<[bigint, boolean]>).entries()) {
      const t = await makeTar([{ name: 'etc/os-release', content: 'ID=debian\nVERSION_ID=12\n' }, { name: 'var/lib/rpm/rpmdb.sqlite', content: 'SQLite format 3\0' }]);
      setSize(t.subarray(1024, 1536), size, big);
      const rss0 = process.memoryUsage().rss;
      const inv = await scanLayers(`huge-${i}`, [gzLayer(t)], { tmpDir: path.join(tmp, 'scratch') });
      const codes = inv.diagnostics.map((d) => d.code);
      expect(codes, JSON.stringify(inv.diagnostics)).to.include('file-too-large');
      expect(inv.diagnostics.some((d) => d.incomplete && d.code === 'corrupt-layer')).to.equal(true);
      expect(inv.os?.id).to.equal('debian');
      expect(process.memoryUsage().rss - rss0).to.be.below(100 << 20);
      expect(fs.readdirSync(path.join(tmp, 'scratch'))).to.deep.equal([]);
    }
  });

  it('per-scan deadline: scan-deadline (incomplete) soon after it passes; the next scan works', async () => {
    const t0 = Date.now();
    const s = await scanTarget(labOci('debian-minbase', 'bookworm'), { deadlineMs: 80, inflateWorker });
    const el = Date.now() - t0;
    const d = s.platforms[0].inventory.diagnostics.find((x) => x.code === 'scan-deadline');
    expect(d?.incomplete, JSON.stringify(s.platforms[0].inventory.diagnostics)).to.equal(true);
    expect(el).to.be.below(2000);
    const again = await scanTarget(labOci('node-app', 'vuln'), { deadlineMs: 60_000, inflateWorker });
    expect(again.platforms[0].inventory.diagnostics.filter((x) => x.incomplete)).to.deep.equal([]);
  });
});
