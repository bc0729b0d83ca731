/**
 * Bad and hostile input: every layer problem ends in a diagnostic (incomplete) while the scan still
 * returns; a target that does not exist is a one-line PushgateError. Layouts are copies of the real
 * node-app image or small layouts written here with tar-stream + zlib.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { isPushgateError } from '../../../src/core/index.js';
import { scanTarget } from '../../../src/scan/engine.js';
import { openLocalSource } from '../../../src/scan/local-source.js';
import { labImages } from '../../helpers/lab.js';
import { gzLayer, makeTar, writeLayout } from './layout-helper.js';

function copyLayout(src: string, dst: string): void {
  fs.mkdirSync(path.join(dst, 'blobs', 'sha256'), { recursive: true });
  for (const f of ['index.json', 'oci-layout']) fs.copyFileSync(path.join(src, f), path.join(dst, f));
  for (const b of fs.readdirSync(path.join(src, 'blobs', 'sha256'))) fs.copyFileSync(path.join(src, 'blobs', 'sha256', b), path.join(dst, 'blobs', 'sha256', b));
}

function appLayerPath(dir: string): string {
  const idx = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'blobs/sha256', idx.manifests[0].digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
  return path.join(dir, 'blobs/sha256', m.layers[1].digest.slice(7));
}

describe('scan engine: bad input', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => { labImages(); tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-scan-bad-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a layer with one byte flipped: layer-digest-mismatch, incomplete, the other layer still scanned', async () => {
    const dir = path.join(tmp, 'flip');
    copyLayout(path.join(labImages(), 'node-app'), dir);
    const p = appLayerPath(dir);
    const b = fs.readFileSync(p);
    // Byte 5 is in the gzip header's MTIME, which inflate ignores: only the digest check can notice.
    b[5] ^= 0xff;
    fs.writeFileSync(p, b);
    const s = await scanTarget(`oci:${dir}:vuln`);
    const inv = s.platforms[0].inventory;
    const d = inv.diagnostics.find((x) => x.code === 'layer-digest-mismatch');
    expect(d, JSON.stringify(inv.diagnostics)).to.not.equal(undefined);
    expect(d!.incomplete).to.equal(true);
    expect(inv.os?.ecosystem).to.equal('Debian:12');
  });

  it('a flipped byte inside the deflate data: digest mismatch or corrupt layer, incomplete', async () => {
    const dir = path.join(tmp, 'flip-trailer');
    copyLayout(path.join(labImages(), 'node-app'), dir);
    const p = appLayerPath(dir);
    const b = fs.readFileSync(p);
    b[Math.floor(b.length / 2)] ^= 0xff;
    fs.writeFileSync(p, b);
    const inv = (await scanTarget(`oci:${dir}:vuln`)).platforms[0].inventory;
    expect(inv.diagnostics.some((x) => x.incomplete && (x.code === 'layer-digest-mismatch' || x.code === 'corrupt-layer'))).to.equal(true);
  });

  it('a missing blob: blob-missing, incomplete', async () => {
    const dir = path.join(tmp, 'missing');
    copyLayout(path.join(labImages(), 'node-app'), dir);
    fs.rmSync(appLayerPath(dir));
    const inv = (await scanTarget(`oci:${dir}:vuln`)).platforms[0].inventory;
    const d = inv.diagnostics.find((x) => x.code === 'blob-missing');
    expect(d?.incomplete).to.equal(true);
    expect(d?.message).to.match(/missing/);
    expect(inv.packages.some((p) => p.name === 'lodash')).to.equal(false);
  });

  it('a truncated gzip (digest and size of the truncated bytes): corrupt-layer, entries before the cut kept', async () => {
    const files = Array.from({ length: 40 }, (_, i) => ({ name: `data/f${i}.bin`, content: zlib.deflateSync(Buffer.alloc(20000, i)).toString('base64') }));
    const t = await makeTar([{ name: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.19.1\n' }, ...files]);
    const gz = zlib.gzipSync(t);
    const dir = path.join(tmp, 'truncated');
    writeLayout(dir, [{ blob: gz.subarray(0, Math.floor(gz.length / 2)), tar: t }]);
    const inv = (await scanTarget(`oci:${dir}`)).platforms[0].inventory;
    const d = inv.diagnostics.find((x) => x.code === 'corrupt-layer');
    expect(d?.incomplete, JSON.stringify(inv.diagnostics)).to.equal(true);
    expect(d?.message).to.match(/unexpected end of file/i);
    expect(inv.os?.ecosystem).to.equal('Alpine:v3.19');
  });

  it('a blob longer than its descriptor: layer-size-mismatch', async () => {
    const t = await makeTar([{ name: 'a', content: 'x' }]);
    const dir = path.join(tmp, 'size');
    const [d] = writeLayout(dir, [gzLayer(t)]);
    // Rewrite the manifest's layer size to one byte less.
    const idx = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; size: number }> };
    const mp = path.join(dir, 'blobs/sha256', idx.manifests[0].digest.slice(7));
    const m = JSON.parse(fs.readFileSync(mp, 'utf8')) as { layers: Array<{ digest: string; size: number }> };
    expect(m.layers[0].digest).to.equal(d);
    m.layers[0].size -= 1;
    const mb = Buffer.from(JSON.stringify(m));
    const { sha256 } = await import('./layout-helper.js');
    const md = sha256(mb);
    fs.writeFileSync(path.join(dir, 'blobs/sha256', md.slice(7)), mb);
    idx.manifests[0] = { ...idx.manifests[0], digest: md, size: mb.length };
    fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(idx));
    const inv = (await scanTarget(`oci:${dir}`)).platforms[0].inventory;
    expect(inv.diagnostics.map((x) => x.code)).to.include('layer-size-mismatch');
  });

  it('a target that does not exist: PushgateError NOT_FOUND with one line', async () => {
    for (const t of [`oci:${tmp}/nope:1.0`, `archive:${tmp}/nope.tar`, `dir:${tmp}/nope`]) {
      const err = await scanTarget(t).then(() => undefined, (e: unknown) => e);
      expect(isPushgateError(err, 'NOT_FOUND'), String(err)).to.equal(true);
      expect((err as Error).message).to.not.include('\n');
    }
  });

  it('a wrong tag lists the tags; an unknown scheme is BAD_ARGUMENT', async () => {
    const err = await openLocalSource(`oci:${path.join(labImages(), 'node-app')}:nope`).then(() => undefined, (e: unknown) => e);
    expect(isPushgateError(err, 'NOT_FOUND')).to.equal(true);
    expect((err as Error).message).to.include('vuln');
    const e2 = await openLocalSource('ftp://x').then(() => undefined, (e: unknown) => e);
    expect(isPushgateError(e2, 'BAD_ARGUMENT')).to.equal(true);
  });

  it('a manifest whose bytes do not match the index: the root read throws DIGEST_MISMATCH', async () => {
    const dir = path.join(tmp, 'badroot');
    copyLayout(path.join(labImages(), 'node-app'), dir);
    const idx = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const mp = path.join(dir, 'blobs/sha256', idx.manifests[0].digest.slice(7));
    fs.writeFileSync(mp, fs.readFileSync(mp, 'utf8').replace('"schemaVersion":2', '"schemaVersion": 2'));
    const err = await scanTarget(`oci:${dir}`).then(() => undefined, (e: unknown) => e);
    expect(isPushgateError(err)).to.equal(true);
    expect((err as { code: string }).code).to.be.oneOf(['DIGEST_MISMATCH', 'SIZE_MISMATCH']);
  });
});
