/**
 * Scan limits and malformed input: every configured limit (layers per manifest, entries, bytes and
 * ratio per layer, lock-file and package-database sizes, the deadline, the shared temp space) ends
 * in a diagnostic that makes the scan incomplete; a parse failure of a package database or lock
 * file is incomplete, never "0 packages"; a real-sized lock file (200,000 packages) is read;
 * malformed descriptors, unknown manifest media types and unknown layout versions are refused
 * naming the field; a layer whose media type disagrees with its content is read with a diagnostic.
 * Inputs are real bytes: tar-stream/zlib/zstd(1) layers in OCI layouts, the rpm fixtures truncated,
 * and generated streams (100,000 layers, a million tar entries) that never touch the disk.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { defaultConfig, parseConfigText } from '../../../src/config/load.js';
import { isPushgateError, type Descriptor, type Diagnostic } from '../../../src/core/index.js';
import { parseManifestDocument } from '../../../src/core/manifest-parse.js';
import { scanImage, scanTarget, type ImageScan, type ScanOptions } from '../../../src/scan/engine.js';
import { DEFAULT_SCAN_LIMITS, ScanSlots } from '../../../src/scan/limits.js';
import type { ImageSource } from '../../../src/scan/source.js';
import { SpillBudget, SpillPool } from '../../../src/scan/spill.js';
import { runCli } from '../../helpers/cli.js';
import { gzLayer, makeTar, sha256, writeLayout, type LayerBlob, type TarEntry } from './layout-helper.js';

const RPM = path.resolve('test/fixtures/scan/parsers/rpm');
const OS_RELEASE: TarEntry = { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID=12\n' };
/** The os-release of the CBL-Mariner 2.0 rpmdb used below (a Debian one over it is an os-release-mismatch). */
const MARINER_RELEASE: TarEntry = { name: 'etc/os-release', content: 'ID=mariner\nVERSION_ID="2.0"\n' };
const TAR_MT = 'application/vnd.oci.image.layer.v1.tar';
const GZ_MT = 'application/vnd.oci.image.layer.v1.tar+gzip';
const ZSTD_MT = 'application/vnd.oci.image.layer.v1.tar+zstd';

const allDiags = (s: ImageScan): Diagnostic[] => [...s.diagnostics, ...s.platforms.flatMap((p) => p.inventory.diagnostics)];
const incomplete = (s: ImageScan): Diagnostic[] => allDiags(s).filter((d) => d.incomplete);
const codes = (s: ImageScan): string[] => incomplete(s).map((d) => d.code);

/** The ustar header of an empty regular file without its name, and the byte sum of it (checksum field as spaces). */
const HEADER = (() => {
  const h = Buffer.alloc(512);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write('00000000000\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  return { h, sum };
})();

/** Writes the 512-byte ustar header of an empty regular file `name` (ASCII) at `off` (POSIX.1-1988 ustar; checksum = byte sum with the field as spaces). */
function writeEmptyFileHeader(out: Buffer, off: number, name: string): void {
  HEADER.h.copy(out, off);
  let sum = HEADER.sum;
  for (let i = 0; i < name.length; i++) { out[off + i] = name.charCodeAt(i); sum += name.charCodeAt(i); }
  out.write(`${sum.toString(8).padStart(6, '0')}\0 `, off + 148, 'latin1');
}

/** A tar of `n` empty files as a stream of 1 MiB chunks, generated on the fly (never stored). */
function* manyEntriesTar(n: number): Generator<Buffer> {
  const per = 2048;
  for (let i = 0; i < n; i += per) {
    const k = Math.min(per, n - i);
    const chunk = Buffer.alloc(k * 512);
    for (let j = 0; j < k; j++) writeEmptyFileHeader(chunk, j * 512, `f/${i + j}`);
    yield chunk;
  }
  yield Buffer.alloc(1024);
}

/** An in-memory image: a manifest and blob factories (streams made anew for each read). */
function memSource(layers: Array<{ mediaType: string; digest: string; size: number }>, blobs: Map<string, () => Readable>, config: object = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }): ImageSource {
  const cfg = Buffer.from(JSON.stringify(config));
  const cfgDesc = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(cfg), size: cfg.length };
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: cfgDesc, layers }));
  return {
    target: 'mem:test',
    async root() { return { digest: sha256(bytes), mediaType: 'application/vnd.oci.image.manifest.v1+json', bytes }; },
    async manifest() { throw new Error('no child manifests'); },
    async blob(d: Descriptor) {
      if (d.digest === cfgDesc.digest) return Readable.from([cfg]);
      const f = blobs.get(d.digest);
      if (!f) throw new Error(`no blob ${d.digest}`);
      return f();
    },
  };
}

/** Rewrites the (single) manifest of a layout written by writeLayout; the index follows. */
function rewriteManifest(dir: string, edit: (m: Record<string, unknown>) => void, indexMediaType?: string): void {
  const idxPath = path.join(dir, 'index.json');
  const idx = JSON.parse(fs.readFileSync(idxPath, 'utf8')) as { manifests: Array<{ digest: string; size: number; mediaType: string }> };
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'blobs/sha256', idx.manifests[0].digest.slice(7)), 'utf8')) as Record<string, unknown>;
  edit(m);
  const b = Buffer.from(JSON.stringify(m));
  fs.writeFileSync(path.join(dir, 'blobs/sha256', sha256(b).slice(7)), b);
  idx.manifests[0] = { ...idx.manifests[0], digest: sha256(b), size: b.length, ...(indexMediaType !== undefined ? { mediaType: indexMediaType } : {}) };
  fs.writeFileSync(idxPath, JSON.stringify(idx));
}

describe('scan: limits and malformed input', function () {
  this.timeout(120_000);
  let tmp: string;
  let n = 0;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-scan-limits-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Writes a one-image layout from layers and scans it. */
  async function scanLayers(layers: LayerBlob[], opts: ScanOptions = {}): Promise<ImageScan> {
    const dir = path.join(tmp, `l${++n}`);
    writeLayout(dir, layers);
    return scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch'), ...opts });
  }
  const scanEntries = async (entries: TarEntry[], opts: ScanOptions = {}) => scanLayers([gzLayer(await makeTar(entries))], opts);

  describe('parse failures make the scan incomplete', () => {
    it('a truncated rpmdb.sqlite (cut at several points) is a parse-error, incomplete, never "0 packages, complete"', async () => {
      const db = fs.readFileSync(path.join(RPM, 'cbl-mariner-2.0/rpmdb.sqlite'));
      for (const cut of [4096, 65536, Math.floor(db.length / 2 / 4096) * 4096, db.length - 4096, db.length - 100]) {
        const s = await scanEntries([MARINER_RELEASE, { name: 'var/lib/rpm/rpmdb.sqlite', content: db.subarray(0, cut) }]);
        const d = incomplete(s).find((x) => x.path === '/var/lib/rpm/rpmdb.sqlite');
        expect(d?.code, `cut at ${cut}: ${JSON.stringify(allDiags(s))}`).to.equal('parse-error');
        expect(d?.message).to.match(/os\/rpm/);
      }
      // The whole database is read and complete (the same path, so the test can fail both ways).
      const ok = await scanEntries([MARINER_RELEASE, { name: 'var/lib/rpm/rpmdb.sqlite', content: db }]);
      expect(incomplete(ok)).to.deep.equal([]);
      expect(ok.platforms[0].inventory.packages.filter((p) => p.purl.startsWith('pkg:rpm/')).length).to.be.greaterThan(100);
    });

    it('a truncated Berkeley DB Packages and a zeroed NDB Packages.db: parse-error, incomplete', async () => {
      const bdb = fs.readFileSync(path.join(RPM, 'libuuid/Packages'));
      const ndb = fs.readFileSync(path.join(RPM, 'sle15-bci/Packages.db'));
      for (const [name, content] of [['var/lib/rpm/Packages', bdb.subarray(0, 8192)], ['var/lib/rpm/Packages', bdb.subarray(0, 100)], ['usr/lib/sysimage/rpm/Packages.db', Buffer.concat([ndb.subarray(0, 4096), Buffer.alloc(4096)])]] as const) {
        const s = await scanEntries([OS_RELEASE, { name, content }]);
        expect(codes(s), `${name} ${content.length}`).to.include('parse-error');
      }
    });

    it('package-lock.json with syntax errors (several kinds): parse-error, incomplete', async () => {
      const good = fs.readFileSync(path.resolve('test/fixtures/scan/parsers/npm-lock/trivy-package-lock_v3/package-lock.json'), 'utf8');
      const variants = [
        good.slice(0, Math.floor(good.length / 2)), // cut mid-file
        good.replace(/}\s*$/, ',}'), // trailing comma
        good.replace(/"/g, "'"), // single quotes
        '', // empty
        '{"lockfileVersion": 3, "packages": {"node_modules/a": {"version": "1.0.0"}}', // unclosed
      ];
      for (const [i, v] of variants.entries()) {
        const s = await scanEntries([{ name: 'app/package-lock.json', content: v }]);
        const d = incomplete(s).find((x) => x.path === '/app/package-lock.json');
        expect(d?.code, `variant ${i}`).to.equal('parse-error');
      }
      const ok = await scanEntries([{ name: 'app/package-lock.json', content: good }]);
      expect(incomplete(ok)).to.deep.equal([]);
    });

    it('property: any strict prefix of a valid lock file is incomplete (parse-error), never a quiet partial list', async () => {
      const good = fs.readFileSync(path.resolve('test/fixtures/scan/parsers/npm-lock/trivy-package-lock_v2/package-lock.json'), 'utf8').trimEnd();
      await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: good.length - 1 }), async (cut) => {
        const s = await scanEntries([{ name: 'srv/package-lock.json', content: good.slice(0, cut) }]);
        expect(codes(s)).to.include('parse-error');
      }), { numRuns: 15 });
    });

    it('a dpkg status stanza without a readable version is incomplete', async () => {
      const s = await scanEntries([OS_RELEASE, { name: 'var/lib/dpkg/status', content: 'Package: a\nStatus: install ok installed\nVersion: 1.0\n\nPackage: b\nStatus: install ok installed\n' }]);
      expect(incomplete(s).map((d) => `${d.code} ${d.path}`)).to.deep.equal(['parse-error /var/lib/dpkg/status']);
    });
  });

  describe('size limits of lock files and package databases', () => {
    it('a 200,000-package package-lock.json (~50 MB) is read, not skipped', async function () {
      this.timeout(240_000);
      // Written as npm writes it (2-space JSON, lockfileVersion 3), entry by entry.
      const parts = ['{\n  "name": "big",\n  "version": "1.0.0",\n  "lockfileVersion": 3,\n  "requires": true,\n  "packages": {\n    "": {\n      "name": "big",\n      "version": "1.0.0"\n    }'];
      const sri = crypto.createHash('sha512').update('x').digest('base64');
      for (let i = 0; i < 200_000; i++) {
        const name = `pkg-${i.toString(36)}-${'x'.repeat(i % 7)}`;
        const v = `${i % 13}.${i % 101}.${i % 7}`;
        parts.push(`,\n    "node_modules/${name}": {\n      "version": "${v}",\n      "resolved": "https://registry.npmjs.org/${name}/-/${name}-${v}.tgz",\n      "integrity": "sha512-${sri.slice(i % 20)}${i}",\n      "license": "MIT"\n    }`);
      }
      parts.push('\n  }\n}\n');
      const lock = Buffer.from(parts.join(''));
      expect(lock.length).to.be.greaterThan(40 * 2 ** 20); // bigger than the old fixed 32 MiB cap
      const t = await makeTar([{ name: 'app/package-lock.json', content: lock }]);
      const blob = zlib.gzipSync(t, { level: 1 });
      const rss0 = process.memoryUsage().rss;
      const t0 = process.hrtime.bigint();
      const s = await scanLayers([{ blob, tar: t, mediaType: GZ_MT }]);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const got = s.platforms[0].inventory.packages.filter((p) => p.path === '/app/package-lock.json');
      expect(got.length).to.equal(200_000);
      expect(allDiags(s).filter((d) => d.code === 'file-too-large')).to.deep.equal([]);
      expect(incomplete(s)).to.deep.equal([]);
      console.log(`      200,000-package lock (${(lock.length / 2 ** 20).toFixed(1)} MiB): ${ms.toFixed(0)} ms, RSS ${(rss0 / 2 ** 20).toFixed(0)} → ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB, max RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
    });

    it('a lock file over scan.limits.lockFileSize and a package database over scan.limits.packageDbSize: file-too-large, incomplete, naming the key', async () => {
      const lock = JSON.stringify({ lockfileVersion: 3, packages: { 'node_modules/a': { version: '1.0.0' }, 'node_modules/b': { version: '2.0.0', resolved: 'x'.repeat(2000) } } });
      const status = 'Package: a\nStatus: install ok installed\nVersion: 1.0\nDescription: ' + 'y'.repeat(3000) + '\n';
      const limits = { lockFileBytes: 1024, packageDbBytes: 2048 };
      const s = await scanEntries([OS_RELEASE, { name: 'app/package-lock.json', content: lock }, { name: 'var/lib/dpkg/status', content: status }], { limits });
      const big = incomplete(s).filter((d) => d.code === 'file-too-large');
      expect(big.map((d) => d.path).sort()).to.deep.equal(['/app/package-lock.json', '/var/lib/dpkg/status']);
      expect(big.find((d) => d.path === '/app/package-lock.json')!.message).to.match(/scan\.limits\.lockFileSize/);
      expect(big.find((d) => d.path === '/var/lib/dpkg/status')!.message).to.match(/scan\.limits\.packageDbSize/);
      // Raised limits: the same files are read, the scan is complete.
      const ok = await scanEntries([OS_RELEASE, { name: 'app/package-lock.json', content: lock }, { name: 'var/lib/dpkg/status', content: status }], { limits: { lockFileBytes: 4096, packageDbBytes: 4096 } });
      expect(incomplete(ok)).to.deep.equal([]);
      expect(ok.platforms[0].inventory.packages.map((p) => p.name).sort()).to.deep.equal(['a', 'a', 'b']);
    });
  });

  it('a layer analysis cut short by a limit is not cached: the same layer scanned again under a raised limit is read', async () => {
    const lock = JSON.stringify({ lockfileVersion: 3, packages: { 'node_modules/a': { version: '1.0.0', resolved: 'z'.repeat(2000) } } });
    const dir = path.join(tmp, `cache${++n}`);
    writeLayout(dir, [gzLayer(await makeTar([{ name: 'app/package-lock.json', content: lock }]))]);
    const stored = new Map<string, unknown>();
    const layerCache = { get: async (k: string) => stored.get(k) as never, set: async (k: string, v: unknown) => { stored.set(k, v); } };
    const small = await scanTarget(`oci:${dir}:test`, { layerCache, limits: { lockFileBytes: 1024 } });
    expect(codes(small)).to.deep.equal(['file-too-large']);
    expect(stored.size).to.equal(0);
    const raised = await scanTarget(`oci:${dir}:test`, { layerCache, limits: { lockFileBytes: 4096 } });
    expect(incomplete(raised)).to.deep.equal([]);
    expect(raised.platforms[0].inventory.packages.map((p) => p.name)).to.deep.equal(['a']);
    expect(stored.size).to.equal(1);
  });

  describe('layer limits', () => {
    it('entries per layer: at the limit complete, one past it layer-limit naming scan.limits.entriesPerLayer', async () => {
      const files = (k: number) => Array.from({ length: k }, (_, i) => ({ name: `d/f${i}`, content: '' }));
      expect(incomplete(await scanEntries(files(10), { limits: { maxEntries: 10 } }))).to.deep.equal([]);
      const s = await scanEntries(files(11), { limits: { maxEntries: 10 } });
      const d = incomplete(s).find((x) => x.code === 'layer-limit');
      expect(d?.message).to.match(/more than 10 entries.*scan\.limits\.entriesPerLayer/);
    });

    it('a layer of a million empty files (streamed, never stored) hits the entries limit; the default is below a million', async function () {
      this.timeout(240_000);
      // Reading to the default limit takes ~25 µs an entry here; the configured 100,000 keeps this fast.
      expect(DEFAULT_SCAN_LIMITS.maxEntries).to.be.below(1_000_000);
      const h = crypto.createHash('sha256');
      let size = 0;
      for (const c of manyEntriesTar(1_000_000)) { h.update(c); size += c.length; }
      const digest = `sha256:${h.digest('hex')}`;
      const src = memSource([{ mediaType: TAR_MT, digest, size }], new Map([[digest, () => Readable.from(manyEntriesTar(1_000_000))]]));
      const t0 = Date.now();
      const s = await scanImage(src, { tmpDir: path.join(tmp, 'scratch'), limits: { maxEntries: 100_000 } });
      const d = incomplete(s).find((x) => x.code === 'layer-limit');
      expect(d?.message, JSON.stringify(allDiags(s))).to.match(/more than 100000 entries.*scan\.limits\.entriesPerLayer/);
      console.log(`      1,000,000-entry layer (${(size / 2 ** 20).toFixed(0)} MiB tar): limit hit after ${Date.now() - t0} ms`);
    });

    it('uncompressed bytes per layer over scan.limits.layerSize: layer-limit', async () => {
      const big = crypto.randomBytes(200 * 1024);
      const s = await scanEntries([OS_RELEASE, { name: 'blob.bin', content: big }], { limits: { maxTarBytes: 64 * 1024 } });
      expect(incomplete(s).find((x) => x.code === 'layer-limit')?.message).to.match(/scan\.limits\.layerSize/);
      expect(incomplete(await scanEntries([OS_RELEASE, { name: 'blob.bin', content: big }], { limits: { maxTarBytes: 1024 * 1024 } }))).to.deep.equal([]);
    });

    it('decompression ratio over scan.limits.ratio (65 MiB of zeros): layer-limit', async () => {
      const s = await scanEntries([{ name: 'zeros', content: Buffer.alloc(65 * 2 ** 20) }], { limits: { maxRatio: 10 } });
      expect(incomplete(s).find((x) => x.code === 'layer-limit')?.message).to.match(/scan\.limits\.ratio/);
    });

    it('layers per manifest: at the limit read, past it nothing read and layer-limit naming scan.limits.layers', async () => {
      const l = gzLayer(await makeTar([OS_RELEASE]));
      expect(incomplete(await scanLayers([l, l, l], { limits: { maxLayers: 3 } }))).to.deep.equal([]);
      const s = await scanLayers([l, l, l, l], { limits: { maxLayers: 3 } });
      expect(incomplete(s).map((d) => d.code)).to.deep.equal(['layer-limit']);
      expect(incomplete(s)[0].message).to.match(/4 layers, over the limit of 3 \(config scan\.limits\.layers\)/);
      expect(s.platforms[0].inventory.os).to.equal(undefined);
    });

    it('a manifest of 100,000 layers hits the default layer limit without reading a blob', async () => {
      const t = await makeTar([OS_RELEASE]);
      const blob = zlib.gzipSync(t);
      const digest = sha256(blob);
      let reads = 0;
      const layers = Array.from({ length: 100_000 }, () => ({ mediaType: GZ_MT, digest, size: blob.length }));
      const s = await scanImage(memSource(layers, new Map([[digest, () => { reads++; return Readable.from([blob]); }]])), { tmpDir: path.join(tmp, 'scratch') });
      expect(incomplete(s).map((d) => d.code)).to.deep.equal(['layer-limit']);
      expect(reads).to.equal(0);
      expect(s.platforms[0].layers).to.have.length(100_000);
    });
  });

  describe('the deadline and the shared resources', () => {
    it('scan.deadline passing mid-layer: scan-deadline, incomplete, the scan returns', async () => {
      const t = await makeTar([OS_RELEASE, { name: 'x.bin', content: crypto.randomBytes(64 * 1024) }]);
      const digest = sha256(t);
      // A registry that sends 1 KiB every 20 ms.
      const slow = () => Readable.from((async function* () {
        for (let i = 0; i < t.length; i += 1024) { await new Promise((r) => setTimeout(r, 20)); yield t.subarray(i, i + 1024); }
      })());
      const t0 = Date.now();
      const s = await scanImage(memSource([{ mediaType: TAR_MT, digest, size: t.length }], new Map([[digest, slow]])), { tmpDir: path.join(tmp, 'scratch'), deadlineMs: 300 });
      expect(Date.now() - t0).to.be.lessThan(3000);
      expect(incomplete(s).map((d) => d.code)).to.include('scan-deadline');
      expect(incomplete(s).find((d) => d.code === 'scan-deadline')!.message).to.match(/scan\.deadline/);
    });

    it('the temp-space pool is shared: a spill that fits alone is refused while another scan holds the pool', async () => {
      const db = fs.readFileSync(path.join(RPM, 'cbl-mariner-2.0/rpmdb.sqlite'));
      const pool = new SpillPool(db.length + 1024 * 1024);
      const other = new SpillBudget(path.join(tmp, 'other'), pool);
      expect(other.take(2 * 1024 * 1024)).to.equal(true); // another scan's spilled archive
      const entries = [MARINER_RELEASE, { name: 'var/lib/rpm/rpmdb.sqlite', content: db }];
      const s = await scanEntries(entries, { spillPool: pool });
      expect(incomplete(s).find((d) => d.code === 'spill-limit')?.path).to.equal('/var/lib/rpm/rpmdb.sqlite');
      expect(pool.used).to.equal(2 * 1024 * 1024); // the scan gave back what it took
      other.releaseAll();
      expect(pool.used).to.equal(0);
      expect(incomplete(await scanEntries(entries, { spillPool: pool }))).to.deep.equal([]);
      expect(pool.used).to.equal(0);
    });

    it('property: ScanSlots never runs more than its size at once, runs every task, and an aborted waiter leaves the line', async () => {
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 20 }), async (size, delays) => {
        const slots = new ScanSlots(size);
        let now = 0;
        let peak = 0;
        let done = 0;
        await Promise.all(delays.map((d) => slots.run(async () => {
          now++;
          peak = Math.max(peak, now);
          await new Promise((r) => setTimeout(r, d));
          now--;
          done++;
        })));
        expect(peak).to.be.at.most(size);
        expect(done).to.equal(delays.length);
        expect(slots.running).to.equal(0);
      }), { numRuns: 30 });
      const slots = new ScanSlots(1);
      let release!: () => void;
      const first = slots.run(() => new Promise<void>((r) => { release = r; }));
      const ctl = new AbortController();
      const waiting = slots.run(async () => 'ran', ctl.signal);
      expect(slots.queued).to.equal(1);
      ctl.abort(new Error('caller gave up'));
      let err: unknown;
      try { await waiting; } catch (e) { err = e; }
      expect((err as Error).message).to.equal('caller gave up');
      expect(slots.queued).to.equal(0);
      release();
      await first;
      expect(await slots.run(async () => 'next')).to.equal('next');
    });
  });

  describe('malformed manifests and layouts', () => {
    it('property: a descriptor size that is negative, fractional, past 2^53 or not a number is refused naming the field', () => {
      const bad = fc.oneof(
        fc.integer({ max: -1 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
        fc.constantFrom(2 ** 53, 2 ** 63, 1e300, -0.5),
        fc.string(),
        fc.boolean(),
      );
      const d = (i: number, size: unknown = 10) => ({ mediaType: GZ_MT, digest: `sha256:${String(i).repeat(64).slice(0, 64)}`, size });
      fc.assert(fc.property(bad, fc.integer({ min: 0, max: 4 }), fc.boolean(), (size, at, inConfig) => {
        const m = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: d(9, inConfig ? size : 10), layers: Array.from({ length: 5 }, (_, i) => d(i, i === at && !inConfig ? size : 10)) };
        let err: unknown;
        try { parseManifestDocument(JSON.stringify(m)); } catch (e) { err = e; }
        expect(isPushgateError(err, 'MANIFEST_INVALID'), String(err)).to.equal(true);
        expect((err as Error).message).to.contain(inConfig ? 'config.size' : `layers[${at}].size`);
      }));
      fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (size) => {
        const m = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: d(9), layers: [d(1, size)] };
        expect(parseManifestDocument(JSON.stringify(m)).kind).to.equal('manifest');
      }));
    });

    it('a layer descriptor with a negative size in a real layout: manifest-invalid naming layers[0].size, incomplete', async () => {
      for (const size of [-1, 1.5, 2 ** 63, '12']) {
        const dir = path.join(tmp, `neg${++n}`);
        writeLayout(dir, [gzLayer(await makeTar([OS_RELEASE]))]);
        rewriteManifest(dir, (m) => { (m.layers as Array<{ size: unknown }>)[0].size = size; });
        const s = await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') });
        const d = incomplete(s).find((x) => x.code === 'manifest-invalid');
        expect(d?.message, String(size)).to.match(/layers\[0\]\.size/);
      }
    });

    it('an index entry with a negative or fractional size: manifest-invalid naming manifests[i].size, incomplete', async () => {
      for (const size of [-5, 0.5]) {
        const dir = path.join(tmp, `idx${++n}`);
        writeLayout(dir, [gzLayer(await makeTar([OS_RELEASE]))]);
        const idxPath = path.join(dir, 'index.json');
        const m = (JSON.parse(fs.readFileSync(idxPath, 'utf8')) as { manifests: Array<{ digest: string; size: number; mediaType: string }> }).manifests[0];
        const entry = (arch: string, sz: number) => ({ mediaType: m.mediaType, digest: m.digest, size: sz, platform: { os: 'linux', architecture: arch } });
        const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [entry('amd64', m.size), entry('arm64', size)] }));
        fs.writeFileSync(path.join(dir, 'blobs/sha256', sha256(index).slice(7)), index);
        fs.writeFileSync(idxPath, JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(index), size: index.length, annotations: { 'org.opencontainers.image.ref.name': 'test' } }] }));
        const s = await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') });
        expect(incomplete(s).map((d) => d.code), String(size)).to.deep.equal(['manifest-invalid']);
        expect(incomplete(s)[0].message).to.contain('manifests[1].size');
      }
    });

    it('a manifest of an unknown media type is refused naming mediaType (UNSUPPORTED), not scanned as if fine', async () => {
      for (const mt of ['application/vnd.example.thing+json', 'application/vnd.oci.image.index.v2+json', 'application/octet-stream', 'application/vnd.docker.container.image.v1+json']) {
        const dir = path.join(tmp, `mt${++n}`);
        writeLayout(dir, [gzLayer(await makeTar([OS_RELEASE]))]);
        rewriteManifest(dir, (m) => { m.mediaType = mt; }, mt);
        let err: unknown;
        try { await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') }); } catch (e) { err = e; }
        expect(isPushgateError(err, 'UNSUPPORTED'), `${mt}: ${String(err)}`).to.equal(true);
        expect((err as Error).message).to.contain(`media type ${JSON.stringify(mt)}`);
      }
    });

    it('an OCI layout of an unknown imageLayoutVersion: BAD_ARGUMENT naming the field; `pushgate scan` exits 2', async () => {
      const layer = gzLayer(await makeTar([OS_RELEASE]));
      for (const v of ['{"imageLayoutVersion":"2.0.0"}', '{"imageLayoutVersion":"1.0"}', '{"imageLayoutVersion":"1.1.0"}', '{"imageLayoutVersion":1}', '{}', '[]', 'not json']) {
        const dir = path.join(tmp, `ver${++n}`);
        writeLayout(dir, [layer]);
        fs.writeFileSync(path.join(dir, 'oci-layout'), v);
        let err: unknown;
        try { await scanTarget(`oci:${dir}:test`); } catch (e) { err = e; }
        expect(isPushgateError(err, 'BAD_ARGUMENT'), `${v}: ${String(err)}`).to.equal(true);
        expect((err as Error).message).to.match(/oci-layout/);
        if (v.startsWith('{"image')) expect((err as Error).message).to.match(/imageLayoutVersion/);
      }
      const dir = path.join(tmp, `ver${++n}`);
      writeLayout(dir, [layer]);
      fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
      const r = runCli(['scan', `oci:${dir}:test`], { timeoutMs: 60_000 });
      expect(r.status, r.stderr).to.equal(2);
      expect(r.stderr).to.match(/imageLayoutVersion is "2\.0\.0"/);
      fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      expect((await scanTarget(`oci:${dir}:test`)).platforms[0].inventory.os?.ecosystem).to.equal('Debian:12');
    });

    it('a layer whose media type disagrees with its content (gzip holding zstd or plain tar, tar holding gzip, zstd holding gzip) is read, with a diagnostic', async () => {
      const t = await makeTar([OS_RELEASE, { name: 'var/lib/dpkg/status', content: 'Package: a\nStatus: install ok installed\nVersion: 1.0\n' }]);
      const zst = execFileSync('zstd', ['-q', '-c'], { input: t });
      const gz = zlib.gzipSync(t);
      const cases: Array<[string, Buffer, string | undefined]> = [
        [GZ_MT, zst, 'zstd'], [GZ_MT, t, 'an uncompressed tar'], [TAR_MT, gz, 'gzip'], [ZSTD_MT, gz, 'gzip'],
        ['application/vnd.docker.image.rootfs.diff.tar.gzip', t, 'an uncompressed tar'],
        [GZ_MT, gz, undefined], [ZSTD_MT, zst, undefined], [TAR_MT, t, undefined],
      ];
      for (const [mediaType, blob, content] of cases) {
        const s = await scanLayers([{ blob, tar: t, mediaType }]);
        expect(s.platforms[0].inventory.packages.map((p) => p.name), mediaType).to.deep.equal(['a']);
        expect(incomplete(s), mediaType).to.deep.equal([]);
        const d = allDiags(s).filter((x) => x.code === 'layer-media-type-mismatch');
        if (content) {
          expect(d, `${mediaType} holding ${content}`).to.have.length(1);
          expect(d[0].message).to.contain(`the content is ${content}`);
        } else expect(d, mediaType).to.deep.equal([]);
      }
    });
  });

  describe('configuration', () => {
    it('the documented defaults are the engine defaults; scan.deadline and scan.limits.* load with units', () => {
      expect(defaultConfig().scan.limits).to.deep.equal(DEFAULT_SCAN_LIMITS);
      const c = parseConfigText('scan:\n  deadline: 90s\n  limits:\n    layers: 7\n    manifestsPerIndex: 12\n    entriesPerLayer: 1000\n    layerSize: 1GiB\n    ratio: 50\n    lockFileSize: 300MiB\n    packageDbSize: 2GiB\n', path.join(tmp, 'c.yaml'), {});
      expect(c.scan.deadlineMs).to.equal(90_000);
      expect(c.scan.limits).to.deep.equal({ maxLayers: 7, maxIndexManifests: 12, maxEntries: 1000, maxTarBytes: 2 ** 30, maxRatio: 50, lockFileBytes: 300 * 2 ** 20, packageDbBytes: 2 * 2 ** 30 });
      const partial = parseConfigText('scan:\n  limits:\n    layers: 9\n', path.join(tmp, 'c.yaml'), {});
      expect(partial.scan.limits).to.deep.equal({ ...DEFAULT_SCAN_LIMITS, maxLayers: 9 });
      for (const bad of ['scan:\n  deadline: soon\n', 'scan:\n  limits:\n    layers: 0\n', 'scan:\n  limits:\n    manifestsPerIndex: 0\n', 'scan:\n  limits:\n    bogus: 1\n', 'scan:\n  limits:\n    layerSize: lots\n']) {
        expect(() => parseConfigText(bad, path.join(tmp, 'c.yaml'), {}), bad).to.throw(/scan/);
      }
    });
  });
});
