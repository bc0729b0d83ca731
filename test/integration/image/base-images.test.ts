/**
 * The base-image lab on a real registry: two real bookworm bases (scripts/lab/build-images.sh: the main
 * archive only, and the same rootfs with bookworm-updates and -security applied by `apt-get upgrade`)
 * pushed with skopeo as lab/debian:12 (first the older digest, then moved to the newer) and
 * lab/debian:12-slim, and an app built with buildah from test/fixtures/base/Dockerfile on the older base.
 * `pushgate scan` (the real CLI, the offline OSV fixtures) shows: the app's Debian packages come from the
 * base's layer and its npm package from its own; `--exclude-base --file Dockerfile` leaves exactly the
 * app's own findings; the newer base has the same packages, some newer, and fewer findings, none new.
 * Port 23410.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Finding, Package, ScanReport } from '../../../src/core/index.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { runCli } from '../../helpers/cli.js';
import { ROOT, labBaseImages, skopeoCopy, startRegistry, type LabBaseImages, type LabRegistry } from '../../helpers/lab.js';

const PORT = 23410;

/** The manifest digest, manifest annotations and diffIDs of an `oci:DIR:TAG` lab image. */
function layout(ref: string): { digest: string; annotations: Record<string, string>; diffIds: string[] } {
  const m = /^oci:(.*):([^:/]+)$/.exec(ref);
  if (!m) throw new Error(`not an oci: reference: ${ref}`);
  const [, dir, tag] = m;
  const blob = (d: string) => JSON.parse(fs.readFileSync(path.join(dir, 'blobs', 'sha256', d.slice('sha256:'.length)), 'utf8'));
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const desc = index.manifests.find((x) => x.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!desc) throw new Error(`${ref}: no such tag`);
  const manifest = blob(desc.digest) as { config: { digest: string }; annotations?: Record<string, string> };
  return { digest: desc.digest, annotations: manifest.annotations ?? {}, diffIds: (blob(manifest.config.digest) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids };
}

const deb = (r: ScanReport): Package[] => r.packages.filter((p) => p.ecosystem.startsWith('Debian'));
const versions = (r: ScanReport): Map<string, string> => new Map(deb(r).map((p) => [p.name, p.version]));
const fkey = (f: Finding): string => `${f.id} ${f.package} ${f.installedVersion}`;

describe('base images: real bookworm bases and a buildah-built app on a real registry, scanned by pushgate', function () {
  this.timeout(600_000);
  let dir: string;
  let db: string;
  let reg: LabRegistry;
  let imgs: LabBaseImages;
  const reports = new Map<string, ScanReport>();

  /** `pushgate scan REF --format json`, once per command line unless `fresh` (a tag that moved). */
  function scan(ref: string, extra: string[] = [], fresh = false): ScanReport {
    const key = [ref, ...extra].join(' ');
    const hit = reports.get(key);
    if (hit && !fresh) return hit;
    const r = runCli(['scan', ref, '--format', 'json', '--quiet', '--offline', '--db', db, ...extra], { timeoutMs: 180_000 });
    expect(r.signal, `scan ${key}: killed at the deadline`).to.equal(null);
    expect([0, 1], `scan ${key}: ${r.stderr}`).to.include(r.status);
    const report = JSON.parse(r.stdout) as ScanReport;
    expect(report.complete, `scan ${key}: incomplete: ${JSON.stringify(report.diagnostics)}`).to.equal(true);
    reports.set(key, report);
    return report;
  }

  before(async () => {
    imgs = labBaseImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-base-images-'));
    db = path.join(dir, 'vulndb.sqlite');
    await updateDb({ path: db, sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    reg = startRegistry(PORT);
    skopeoCopy(imgs.archive, `${reg.host}/lab/debian:12`);
    skopeoCopy(imgs.archiveSlim, `${reg.host}/lab/debian:12-slim`);
    skopeoCopy(imgs.app, `${reg.host}/lab/app:1.0`);
  });
  after(() => {
    reg?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the app is the base\'s layer plus its own: its Debian packages are the base\'s, from the base\'s layer; its npm package is from its own layer', () => {
    const base = layout(imgs.archive);
    const app = layout(imgs.app);
    expect(base.diffIds).to.have.length(1);
    expect(app.diffIds.slice(0, 1), 'the app starts with the base\'s layer').to.deep.equal(base.diffIds);
    expect(app.diffIds.length).to.be.greaterThan(1);
    // 1.0 says nothing about its base (only its layers can); 1.0-annotated names it, as builders do.
    expect(Object.keys(app.annotations).filter((k) => k.startsWith('org.opencontainers.image.base.'))).to.deep.equal([]);
    const annotated = layout(imgs.appAnnotated);
    expect(annotated.diffIds).to.deep.equal(app.diffIds);
    expect(annotated.annotations['org.opencontainers.image.base.digest']).to.equal(base.digest);
    expect(annotated.annotations['org.opencontainers.image.base.name']).to.match(/lab\/debian:12$/);
    const b = scan(`${reg.host}/lab/debian:12`);
    const a = scan(`${reg.host}/lab/app:1.0`);
    expect(b.digest).to.equal(base.digest);
    expect(deb(b).length).to.be.greaterThan(50);
    expect([...versions(a)].sort(), 'the app has exactly the base\'s Debian packages').to.deep.equal([...versions(b)].sort());
    for (const p of deb(a)) expect(p.layer, `${p.name}`).to.equal(base.diffIds[0]);
    const own = a.packages.filter((p) => !p.ecosystem.startsWith('Debian'));
    expect(own.map((p) => `${p.ecosystem} ${p.name} ${p.version}`)).to.deep.equal(['npm lodash 4.17.15']);
    expect(app.diffIds.slice(1)).to.include(own[0].layer);
    // Findings: the base's, on the base's layer, and lodash's on the app's own.
    const baseKeys = new Set(b.findings.map(fkey));
    expect(b.findings.length, 'the older base has Debian findings').to.be.greaterThan(0);
    for (const f of a.findings) {
      if (f.package === 'lodash') expect(f.layer).to.equal(own[0].layer);
      else {
        expect(baseKeys.has(fkey(f)), `${fkey(f)} is a base finding`).to.equal(true);
        expect(f.layer).to.equal(base.diffIds[0]);
      }
    }
    expect(a.findings.filter((f) => f.package === 'lodash').length).to.be.greaterThan(0);
  });

  it('--exclude-base --file Dockerfile (global ARGs, stage chain) leaves exactly the app\'s own findings, naming lab/debian:12', () => {
    const a = scan(`${reg.host}/lab/app:1.0`);
    const x = scan(`${reg.host}/lab/app:1.0`, ['--exclude-base', '--file', imgs.dockerfile]);
    expect(x.findings.map(fkey).sort()).to.deep.equal(a.findings.filter((f) => f.package === 'lodash').map(fkey).sort());
    const note = x.diagnostics.filter((d) => d.code === 'exclude-base').map((d) => d.message).join('\n');
    expect(note).to.match(/base lab\/debian:12 \(.*Dockerfile:6\).*the first 1 of 4 layer\(s\) are the base's \(method: dockerfile\)/);
  });

  it('lab/debian:12 moved to the security-updated digest: the same packages, some newer, fewer findings and none new; -slim has the same packages', () => {
    const older = scan(`${reg.host}/lab/debian:12`);
    skopeoCopy(imgs.security, `${reg.host}/lab/debian:12`);
    skopeoCopy(imgs.securitySlim, `${reg.host}/lab/debian:12-slim`);
    const newer = scan(`${reg.host}/lab/debian:12`, [], true);
    expect(newer.digest).to.equal(layout(imgs.security).digest);
    expect(newer.digest).to.not.equal(older.digest);
    // The older digest is still there by digest.
    expect(scan(`${reg.host}/lab/debian@${older.digest}`).findings.map(fkey).sort()).to.deep.equal(older.findings.map(fkey).sort());

    const vo = versions(older);
    const vn = versions(newer);
    expect([...vn.keys()].sort()).to.deep.equal([...vo.keys()].sort());
    const changed = [...vn].filter(([n, v]) => vo.get(n) !== v).map(([n]) => n).sort();
    expect(changed.length, 'the security upgrade changed packages').to.be.greaterThan(0);
    const newerKeys = new Set(newer.findings.map(fkey));
    const olderIds = new Set(older.findings.map((f) => `${f.id} ${f.package}`));
    expect(newer.findings.length).to.be.lessThan(older.findings.length);
    for (const f of newer.findings) expect(olderIds.has(`${f.id} ${f.package}`), `${fkey(f)} is new in the newer base`).to.equal(true);
    // Every finding the upgrade removed was on an upgraded package.
    for (const f of older.findings.filter((g) => !newerKeys.has(fkey(g)))) expect(changed, fkey(f)).to.include(f.package);

    const slim = scan(`${reg.host}/lab/debian:12-slim`);
    expect(slim.digest).to.equal(layout(imgs.securitySlim).digest);
    expect([...versions(slim)].sort()).to.deep.equal([...vn].sort());
    expect(slim.findings.map(fkey).sort()).to.deep.equal(newer.findings.map(fkey).sort());
  });
});
