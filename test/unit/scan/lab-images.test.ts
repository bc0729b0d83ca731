/**
 * The scan engine on the real lab images (scripts/lab/build-images.sh: debootstrap'd Debian 12,
 * real npm packages, umoci-written layers, zstd re-compression, a two-platform index).
 */
import { expect } from 'chai';
import { labImages, labOci } from '../../helpers/lab.js';
import { createMemoryLayerCache, scanTarget, type ImageScan, type LayerCache } from '../../../src/scan/engine.js';
import type { LayerAnalysis } from '../../../src/scan/walker.js';
import { ANALYZERS } from '../../../src/scan/analyzers/index.js';
import { npmLockAnalyzer } from '../../../src/scan/analyzers/npm-lock.js';
import { osReleaseAnalyzer } from '../../../src/scan/analyzers/os-release.js';
import fs from 'node:fs';
import path from 'node:path';

function only(s: ImageScan) {
  expect(s.platforms).to.have.length(1);
  return s.platforms[0].inventory;
}

describe('scan engine on the lab images', function () {
  this.timeout(180_000);
  let debian: ImageScan;
  let node: ImageScan;

  before(async () => {
    labImages();
    debian = await scanTarget(labOci('debian-minbase', 'bookworm'));
    node = await scanTarget(labOci('node-app', 'vuln'));
  });

  it('debian-minbase: Debian 12, ~90 dpkg packages with Source fields, runs as root, nothing incomplete', () => {
    const inv = only(debian);
    expect(inv.os).to.deep.include({ id: 'debian', versionId: '12', ecosystem: 'Debian:12' });
    const debs = inv.packages.filter((p) => p.analyzer === 'os/dpkg');
    expect(debs.length).to.be.within(80, 110);
    const withSource = debs.filter((p) => p.sourceName !== p.name);
    expect(withSource.length).to.be.greaterThan(20);
    const libc = debs.find((p) => p.name === 'libc6');
    expect(libc?.sourceName).to.equal('glibc');
    expect(libc?.purl).to.match(/^pkg:deb\/debian\/libc6@2\.36-[^?]+\?arch=amd64&distro=debian-12$/);
    expect(libc?.layer).to.equal(debian.platforms[0].layers[0].diffID);
    expect(inv.config.map((c) => c.check)).to.include('runs-as-root');
    expect(inv.secrets).to.deep.equal([]);
    expect(inv.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
    expect(debian.bytesRead).to.be.greaterThan(50_000_000);
  });

  it('node-app:vuln: lodash 4.17.15 and minimist 1.2.0 installed, secrets redacted', () => {
    const inv = only(node);
    const npm = inv.packages.filter((p) => p.ecosystem === 'npm').map((p) => `${p.name}@${p.version} ${p.path}`);
    expect(npm).to.include.members([
      'lodash@4.17.15 /app/node_modules/lodash/package.json',
      'minimist@1.2.0 /app/node_modules/minimist/package.json',
    ]);
    // Lock entries describing the installed artefacts are not reported twice.
    expect(inv.packages.filter((p) => p.analyzer === 'lang/npm-lock')).to.deep.equal([]);
    const lodash = inv.packages.find((p) => p.name === 'lodash')!;
    expect(lodash.purl).to.equal('pkg:npm/lodash@4.17.15');
    expect(lodash.layer).to.equal(node.platforms[0].layers[1].diffID);
    const rules = inv.secrets.map((s) => `${s.rule} ${s.path}:${s.line}`);
    expect(rules).to.include.members(['private-key /app/.ssh/id_rsa:1', 'aws-access-key-id /app/.env:2', 'aws-secret-access-key /app/.env:3']);
  });

  it('node-app:vuln: the secret values never appear in the scan JSON', async () => {
    // The planted values, read from the layer with GNU tar (never printed).
    const { execFileSync } = await import('node:child_process');
    const dir = path.join(labImages(), 'node-app');
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'blobs/sha256', node.platforms[0].manifestDigest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
    const blob = path.join(dir, 'blobs/sha256', m.layers[1].digest.slice(7));
    const env = execFileSync('tar', ['-xzOf', blob, 'app/.env'], { encoding: 'utf8' });
    const key = execFileSync('tar', ['-xzOf', blob, 'app/.ssh/id_rsa'], { encoding: 'utf8' });
    const akid = /AWS_ACCESS_KEY_ID=(\S+)/.exec(env)![1];
    const secret = /AWS_SECRET_ACCESS_KEY=(\S+)/.exec(env)![1];
    const keyBody = key.split('\n')[1];
    const json = JSON.stringify(node);
    expect(akid).to.match(/^AKIA/);
    expect(json.includes(akid)).to.equal(false);
    expect(json.includes(secret)).to.equal(false);
    expect(json.includes(keyBody)).to.equal(false);
    expect(json.includes(akid.slice(4))).to.equal(false);
  });

  it('node-app:vuln: the lock file alone yields the same lodash and minimist entries', async () => {
    const s = await scanTarget(labOci('node-app', 'vuln'), { analyzers: [osReleaseAnalyzer, npmLockAnalyzer] });
    const pk = only(s).packages.map((p) => `${p.name}@${p.version} ${p.path}`);
    expect(pk).to.include.members(['lodash@4.17.15 /app/package-lock.json', 'minimist@1.2.0 /app/package-lock.json']);
  });

  it('adm-zip:0.4.7: adm-zip 0.4.7 installed over the Debian base', async () => {
    const inv = only(await scanTarget(labOci('adm-zip', '0.4.7')));
    const z = inv.packages.find((p) => p.name === 'adm-zip');
    expect(z).to.deep.include({ ecosystem: 'npm', version: '0.4.7', path: '/app/node_modules/adm-zip/package.json', purl: 'pkg:npm/adm-zip@0.4.7' });
    expect(inv.os?.ecosystem).to.equal('Debian:12');
  });

  it('multiarch:1.0: two platforms, shared layers analyzed once (counted through the cache)', async () => {
    const mem = createMemoryLayerCache(16);
    let sets = 0;
    let hits = 0;
    const cache: LayerCache = {
      async get(k) { const v = await mem.get(k); if (v) hits++; return v; },
      async set(k, v: LayerAnalysis) { sets++; await mem.set(k, v); },
    };
    const s = await scanTarget(labOci('multiarch', '1.0'), { layerCache: cache });
    expect(s.platforms.map((p) => p.platform)).to.deep.equal(['linux/amd64', 'linux/arm64/v8']);
    const digests = new Set(s.platforms.flatMap((p) => p.layers.map((l) => l.digest)));
    const total = s.platforms.reduce((n, p) => n + p.layers.length, 0);
    expect(sets).to.equal(digests.size);
    expect(hits).to.equal(total - digests.size);
    expect(hits).to.be.greaterThan(0);
    for (const p of s.platforms) {
      expect(p.inventory.packages.find((x) => x.name === 'lodash')?.platform).to.equal(p.platform);
    }
    const arm = await scanTarget(labOci('multiarch', '1.0'), { layerCache: cache, platform: 'linux/arm64' });
    expect(arm.platforms.map((p) => p.platform)).to.deep.equal(['linux/arm64/v8']);
    expect(sets).to.equal(digests.size);
    expect(ANALYZERS.length).to.be.greaterThan(5);
  });

  it('zstd:1.0: zstd layers give the same findings as node-app:vuln', async () => {
    const z = await scanTarget(labOci('zstd', '1.0'));
    expect(z.platforms[0].layers.every((l) => l.mediaType.endsWith('+zstd'))).to.equal(true);
    const key = (inv: ReturnType<typeof only>) => ({
      os: inv.os,
      packages: inv.packages.map((p) => `${p.purl} ${p.path} ${p.layer}`).sort(),
      secrets: inv.secrets.map((s) => `${s.rule} ${s.path}:${s.line} ${s.layer}`).sort(),
    });
    expect(key(only(z))).to.deep.equal(key(only(node)));
    expect(only(z).diagnostics).to.deep.equal([]);
  });

  it('tar-noeof:1.0: a tar without end-of-archive blocks is read whole, with a tar-no-eof diagnostic', async () => {
    const inv = only(await scanTarget(labOci('tar-noeof', '1.0')));
    const d = inv.diagnostics.filter((x) => x.code === 'tar-no-eof');
    expect(d).to.have.length(1);
    expect(d[0].incomplete).to.not.equal(true);
    expect(inv.diagnostics.filter((x) => x.incomplete)).to.deep.equal([]);
    expect(inv.packages.filter((p) => p.analyzer === 'os/dpkg').length).to.be.greaterThan(80);
  });
});
