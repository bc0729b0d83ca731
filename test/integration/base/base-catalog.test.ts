/**
 * Base images end to end on a real Distribution registry (loopback port 24810) notifying an in-process
 * `pushgate serve` (ephemeral port) with `baseImages.repositories: [lab/debian]`, on the base-image lab
 * (scripts/lab/build-images.sh LAB_BASES=1): the buildah-built base-app:1.0 pushed while the catalog is
 * empty is named by history; the real bookworm base debian-base:12-archive (= debian-minbase:bookworm)
 * pushed as lab/debian:12 enters the catalog; base-app:1.0 (no base annotations) is then named by diffID
 * chain, base-app:1.0-annotated by annotation, node-app:vuln (same debootstrap layer) by chain with its
 * packages and findings split base/app; lab/debian:12 moved to debian-base:12-security makes the
 * recommendation a `refresh` with its (fewer) counts, in GET /api/v1/images/{digest}, and still after a
 * restart on the same store; the proxy's DENIED message for base-app names the refreshed base.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ScanReport } from '../../../src/core/index.js';
import { reevaluateStored } from '../../../src/gate/reevaluate.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../../helpers/gate.js';
import { runCli } from '../../helpers/cli.js';
import { labBaseImages, labOci, ROOT, skopeoCopy, skopeoCopyAsync, startRegistry, type LabBaseImages, type LabRegistry } from '../../helpers/lab.js';
import { DEBIAN_12_OS_RELEASE, dpkgStatus, writeOciImage } from '../../helpers/oci-image.js';
import { OCI_INDEX, OCI_MANIFEST, Raw, sha } from '../../helpers/raw-push.js';

const REG_PORT = 24810;
const PROXY_PORT = 24811;
const TOKEN = 'base-catalog-webhook';
const API = 'base-catalog-api';

/** The manifest digest of an `oci:DIR:TAG` lab image (the descriptor its index.json names TAG by). */
function ociDigest(ref: string): string {
  const m = /^oci:(.*):([^:/]+)$/.exec(ref);
  if (!m) throw new Error(`not an oci: reference: ${ref}`);
  const index = JSON.parse(fs.readFileSync(path.join(m[1], 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const d = index.manifests.find((x) => x.annotations?.['org.opencontainers.image.ref.name'] === m[2]) ?? (index.manifests.length === 1 ? index.manifests[0] : undefined);
  if (!d) throw new Error(`${ref}: no such tag`);
  return d.digest;
}

describe('integration: base image catalog, detection by chain, attribution, refresh recommendation', function () {
  this.timeout(240_000);
  let dir: string;
  let reg: LabRegistry;
  let srv: RunningServer;
  let config: ReturnType<typeof labGateConfig>;
  let imgs: LabBaseImages;

  async function start(): Promise<void> {
    srv = await startServer(config, silentLogger, { policyWatchMs: 0 });
  }

  async function report(digest: string): Promise<ScanReport | undefined> {
    const r = await fetch(`http://127.0.0.1:${srv.port}/api/v1/images/${digest}`, { headers: { authorization: `Bearer ${API}` } });
    return r.status === 200 ? ((await r.json()) as ScanReport) : undefined;
  }

  async function until<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const v = await fn();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  before(async () => {
    imgs = labBaseImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-base-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    config = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.api.tokens = [API];
    config.baseImages = { repositories: [{ registry: 'lab', repositories: ['lab/debian'] }], refreshIntervalMs: 0 };
    // Audit mode: the gate judges and stores but deletes nothing, so the CLI case below finds lab/app:vuln.
    config.policy = path.join(dir, 'policy.yaml');
    // strict/**: enforced, rejected while the base's tag has moved on (the proxy's DENIED case).
    fs.writeFileSync(config.policy, [
      'apiVersion: pushgate.dev/v1', 'kind: Policy', 'metadata: {name: base-test}', 'spec:', '  ruleSets:',
      '    default:', '      rules:', '        - {name: secrets, action: reject, match: {secret: {}}}',
      '    based:', '      onIncomplete: allow', '      rules:', '        - {name: base-current, action: reject, match: {baseImage: {upToDate: {}}}}',
      '  mappings:', '    - {name: strict, repository: "strict/**", ruleSet: based, mode: enforce}',
      '  default: {ruleSet: default, mode: audit}', '',
    ].join('\n'));
    config.proxy = { ...config.proxy, listen: `127.0.0.1:${PROXY_PORT}`, upstream: `http://127.0.0.1:${REG_PORT}`, timeoutMs: 120_000, onTimeout: 'reject', onError: 'reject' };
    await start();
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${srv.port}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}` });
  });

  after(async () => {
    reg?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('names the base by history (catalog empty), then by chain and by annotation, splits base and app, and recommends the refresh with its counts once the tag moves', async () => {
    // Before the base is in the catalog, only the app's history can say which layers are the base's.
    const appDigest0 = ociDigest(imgs.app);
    skopeoCopy(imgs.app, `${reg.host}/lab/early:1.0`);
    const h = await until('the early app report', () => report(appDigest0));
    expect(h.bases![0]).to.deep.include({ method: 'history', tags: [] });
    expect(h.bases![0].repository).to.equal(undefined);
    expect(h.bases![0].layers, 'the debootstrap layer, from the base\'s CMD in the history').to.have.length(1);

    const baseDigest = ociDigest(imgs.archive);
    expect(baseDigest, 'debian-base:12-archive is debian-minbase:bookworm').to.equal(ociDigest(labOci('debian-minbase', 'bookworm')));
    skopeoCopy(imgs.archive, `${reg.host}/lab/debian:12`);
    await until('the base in the catalog', async () => (srv.gate.baseImages.catalog.has('lab', 'lab/debian', baseDigest) ? true : undefined));
    const baseEntry = srv.gate.baseImages.catalog.byDigest(baseDigest)[0];

    // The same app, unannotated: its layers begin with the catalog base's whole chain.
    const before = (await srv.store.getVerdict('lab', 'lab/early', appDigest0 as never))!;
    await reevaluateStored({ store: srv.store, policy: srv.gate.currentPolicy, vulndb: srv.gate.currentVulnDb(), bases: (x) => srv.gate.baseImages.bases(x), verdicts: [before], force: true });
    const c = (await report(appDigest0))!;
    expect(c.bases![0]).to.deep.include({ method: 'chain', repository: 'lab/debian', digest: baseDigest });
    expect(c.bases![0].tags).to.deep.equal(['12']);
    // Annotated with the base's name and digest: named by annotation, checked against the catalog's chain.
    const annotatedDigest = ociDigest(imgs.appAnnotated);
    skopeoCopy(imgs.appAnnotated, `${reg.host}/lab/app:1.0-annotated`);
    const a = await until('the annotated app report', () => report(annotatedDigest));
    expect(a.bases![0]).to.deep.include({ method: 'annotation', repository: 'lab/debian', digest: baseDigest });
    expect(a.bases![0].note).to.include('org.opencontainers.image.base.digest');

    const appDigest = ociDigest(labOci('node-app', 'vuln'));
    skopeoCopy(labOci('node-app', 'vuln'), `${reg.host}/lab/app:vuln`);
    const r1 = await until('the app report', () => report(appDigest));

    expect(r1.bases, 'one base').to.have.length(1);
    const b = r1.bases![0];
    expect(b.method).to.equal('chain');
    expect(b.repository).to.equal('lab/debian');
    expect(b.tags).to.deep.equal(['12']);
    expect(b.digest).to.equal(baseDigest);
    expect(b.layers).to.deep.equal(baseEntry.diffIDs);
    expect(b.summary, 'the base\'s stored counts').to.be.an('object');
    expect(b.recommendations ?? []).to.deep.equal([]);
    // Attribution: the debootstrap layer's packages are the base's, the app layer's npm packages the app's.
    expect(r1.packages.every((p) => p.origin === 'base' || p.origin === 'app')).to.equal(true);
    const deb = r1.packages.filter((p) => p.ecosystem === 'Debian');
    const npm = r1.packages.filter((p) => p.ecosystem === 'npm');
    expect(deb.length).to.be.greaterThan(50);
    expect(deb.every((p) => p.origin === 'base')).to.equal(true);
    expect(npm.length).to.be.greaterThan(0);
    expect(npm.every((p) => p.origin === 'app')).to.equal(true);
    const lodash = r1.findings.filter((f) => f.package === 'lodash');
    expect(lodash.length).to.be.greaterThan(0);
    expect(lodash.every((f) => f.origin === 'app')).to.equal(true);
    expect(r1.findings.every((f) => f.origin === (f.ecosystem.startsWith('Debian') ? 'base' : 'app'))).to.equal(true);

    // lab/debian:12 moved to the security-updated bookworm: the app's base is out of date, the refresh is
    // first, with its counts (fewer findings than the base the app was built on).
    const newer = { digest: ociDigest(imgs.security) };
    skopeoCopy(imgs.security, `${reg.host}/lab/debian:12`);
    await until('the tag moved in the catalog', async () => (srv.gate.baseImages.catalog.currentTags('lab', 'lab/debian').some((t) => t.tag === '12' && t.digest === newer.digest) ? true : undefined));
    const total = (x: { counts: Record<string, number> }) => Object.values(x.counts).reduce((n, v) => n + v, 0);
    for (const d of [appDigest, appDigest0]) {
      const r2 = (await report(d))!;
      const rec = r2.bases![0].recommendations![0];
      expect(rec.kind).to.equal('refresh');
      expect(rec.tag).to.equal('12');
      expect(rec.digest).to.equal(newer.digest);
      expect(rec.summary, 'counts of the refreshed base').to.be.an('object');
      expect(total(rec.summary!), 'the refreshed base has fewer findings').to.be.lessThan(total(r2.bases![0].summary!));
      expect(rec.fixes ?? [], 'what the refresh fixes').to.not.deep.equal([]);
      expect(rec.since).to.be.a('string');
    }

    // The catalog is the store's: a restart on the same store recommends the same.
    await srv.close();
    config.server.listen = `127.0.0.1:${srv.port}`;
    await start();
    const r3 = (await report(appDigest))!;
    expect(r3.bases![0].recommendations![0]).to.deep.include({ kind: 'refresh', digest: newer.digest });
  });

  it('names the base by provenance: an index with a BuildKit attestation manifest whose SLSA v0.2 materials name the base (the gate, and pushgate scan)', async () => {
    const raw = new Raw(reg.host);
    const baseDigest = ociDigest(imgs.archive);
    const appDigest = ociDigest(imgs.app);
    const layoutDir = imgs.app.slice('oci:'.length).replace(/:[^:/]+$/, '');
    const blob = (d: string) => fs.readFileSync(path.join(layoutDir, 'blobs', 'sha256', d.slice('sha256:'.length)));
    const appBytes = blob(appDigest);
    const cfg = JSON.parse(blob((JSON.parse(appBytes.toString('utf8')) as { config: { digest: string } }).config.digest).toString('utf8')) as { os: string; architecture: string };
    // The app's manifest and blobs under a scratch tag (skopeo keeps the OCI manifest bytes).
    skopeoCopy(imgs.app, `${reg.host}/lab/prov:scratch`);
    expect(await raw.served('lab/prov', 'scratch')).to.equal(appDigest);
    // What BuildKit writes with --provenance (docs.docker.com/build/metadata/attestations/attestation-storage).
    const attestation = (material: string) => {
      const statement = Buffer.from(JSON.stringify({
        _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://slsa.dev/provenance/v0.2',
        subject: [{ name: 'pkg:docker/lab/prov@1.0?platform=linux%2Famd64', digest: { sha256: appDigest.slice(7) } }],
        predicate: { builder: { id: '' }, buildType: 'https://mobyproject.org/buildkit@v1', materials: [{ uri: 'pkg:docker/lab/debian@12?platform=linux%2Famd64', digest: { sha256: material.slice(7) } }] },
      }));
      const config = Buffer.from(JSON.stringify({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [sha(statement)] } }));
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.in-toto+json', digest: sha(statement), size: statement.length, annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' } }],
      }));
      const index = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: OCI_INDEX,
        manifests: [
          { mediaType: OCI_MANIFEST, digest: appDigest, size: appBytes.length, platform: { architecture: cfg.architecture, os: cfg.os } },
          { mediaType: OCI_MANIFEST, digest: sha(manifest), size: manifest.length, annotations: { 'vnd.docker.reference.digest': appDigest, 'vnd.docker.reference.type': 'attestation-manifest' }, platform: { architecture: 'unknown', os: 'unknown' } },
        ],
      }));
      return { blobs: [statement, config], manifest, index, digest: sha(index) };
    };
    const push = async (tag: string, a: ReturnType<typeof attestation>) => {
      await raw.pushBlobs('lab/prov', a.blobs);
      expect((await raw.putManifest('lab/prov', sha(a.manifest), { bytes: a.manifest, mediaType: OCI_MANIFEST })).status).to.equal(201);
      expect((await raw.putManifest('lab/prov', tag, { bytes: a.index, mediaType: OCI_INDEX })).status).to.equal(201);
    };
    const good = attestation(baseDigest);
    await push('1.0', good);
    const r = await until('the provenance index report', () => report(good.digest));
    expect(r.bases).to.have.length(1);
    expect(r.bases![0]).to.deep.include({ method: 'provenance', repository: 'lab/debian', digest: baseDigest });
    expect(r.bases![0].note).to.include('provenance attestation');
    // Materials naming an image outside the catalog: refused with a diagnostic; the chain still names the base.
    const stranger = attestation(`sha256:${'0'.repeat(64)}`);
    await push('1.1', stranger);
    const r2 = await until('the refused-provenance report', () => report(stranger.digest));
    expect(r2.bases![0]).to.deep.include({ method: 'chain', repository: 'lab/debian', digest: baseDigest });
    expect(r2.diagnostics.map((d) => d.code)).to.include('base-provenance-refused');

    // pushgate scan reads the same attestations from the registry (its catalog is the registry's tags now:
    // lab/debian:12 has moved on, so the base is tagged 12.0 as well, as the next case has it).
    skopeoCopy(imgs.archive, `${reg.host}/lab/debian:12.0`);
    const cli = path.join(dir, 'prov.yaml');
    fs.writeFileSync(cli, `registries:\n  - name: lab\n    url: http://${reg.host}\nbaseImages:\n  repositories:\n    - registry: lab\n      repositories: [lab/debian]\n`);
    const out = runCli(['scan', `${reg.host}/lab/prov:1.0`, '--config', cli, '--db', path.join(dir, 'vulndb.sqlite'), '--cache-dir', path.join(dir, 'cli-cache'), '--offline', '--format', 'json'], { timeoutMs: 120_000 });
    expect([0, 1], out.stderr).to.include(out.status);
    expect((JSON.parse(out.stdout) as ScanReport).bases![0]).to.deep.include({ method: 'provenance', repository: 'lab/debian', digest: baseDigest });
  });

  it('pushgate scan reads the catalog from the registry, scans the candidate on demand, and prints two sections and the recommendations', async () => {
    // lab/debian:12.0 is the lab base, 12.1 a newer tag of the line (the adm-zip image: one high finding).
    skopeoCopy(labOci('debian-minbase', 'bookworm'), `${reg.host}/lab/debian:12.0`);
    skopeoCopy(labOci('adm-zip', '0.4.7'), `${reg.host}/lab/debian:12.1`);
    const cfg = path.join(dir, 'cli.yaml');
    fs.writeFileSync(cfg, `registries:\n  - name: lab\n    url: http://${reg.host}\nbaseImages:\n  repositories:\n    - registry: lab\n      repositories: [lab/debian]\n`);
    const args = ['scan', `${reg.host}/lab/app:vuln`, '--config', cfg, '--db', path.join(dir, 'vulndb.sqlite'), '--cache-dir', path.join(dir, 'cli-cache'), '--offline'];
    const json = runCli([...args, '--format', 'json'], { timeoutMs: 120_000 });
    expect(json.status, json.stderr).to.equal(1);
    const r = JSON.parse(json.stdout) as ScanReport;
    expect(r.bases![0]).to.deep.include({ method: 'chain', repository: 'lab/debian', tags: ['12.0'] });
    const update = r.bases![0].recommendations!.find((x) => x.kind === 'update');
    expect(update, 'an update to 12.1').to.deep.include({ tag: '12.1' });
    expect(update!.summary!.counts.high, 'scanned on demand: adm-zip 0.4.7').to.equal(1);
    expect(r.findings.find((f) => f.package === 'lodash')!.origin).to.equal('app');
    // --exclude-base hides exactly the findings attributed to the base.
    const ex = runCli([...args, '--format', 'json', '--exclude-base'], { timeoutMs: 120_000 });
    const rx = JSON.parse(ex.stdout) as ScanReport;
    expect(rx.findings.map((f) => f.id).sort()).to.deep.equal(r.findings.filter((f) => f.origin === 'app').map((f) => f.id).sort());
    expect(rx.diagnostics.map((x) => x.message)).to.include(`${r.findings.filter((f) => f.origin === 'base').length} finding(s) from the base image were excluded (--exclude-base)`);
    const table = runCli(args, { timeoutMs: 120_000 });
    expect(table.stdout).to.include('BASE IMAGE [linux/amd64]: lab/debian:12.0@');
    expect(table.stdout).to.include('Recommendations for base image upgrade:');
    expect(table.stdout).to.match(/update\s+lab\/debian:12\.1\s+0\s+1\s/);
    expect(table.stdout).to.match(/VULNERABILITIES FROM THE BASE IMAGE lab\/debian:12\.0 \(\d+\)/);
    expect(table.stdout).to.include("VULNERABILITIES FROM THE IMAGE'S OWN LAYERS (1)");
    // --file: a Dockerfile naming the detected base agrees; another tag of it, or another repository, is a warning.
    const dfDiag = (from: string): string[] => {
      const df = path.join(dir, `Dockerfile.${from.replace(/[^a-z0-9]/gi, '_')}`);
      fs.writeFileSync(df, `ARG TAG\nFROM ${from} AS runtime\nFROM runtime\nCOPY app/ /app/\n`);
      const out = runCli([...args, '--format', 'json', '--exclude-base', '--file', df], { timeoutMs: 120_000 });
      expect([0, 1], out.stderr).to.include(out.status);
      return (JSON.parse(out.stdout) as ScanReport).diagnostics.filter((d) => d.code === 'dockerfile-base').map((d) => d.message);
    };
    expect(dfDiag('lab/debian:12.0')).to.deep.equal([]);
    expect(dfDiag(`${reg.host}/lab/debian:12.0`), 'the registry the base was read from').to.deep.equal([]);
    const moved = dfDiag('lab/debian:12.1');
    expect(moved).to.have.length(1);
    expect(moved[0], moved[0]).to.match(/Dockerfile\.\S+: the Dockerfile's base \(line 2\) is lab\/debian:12\.1, but the image's base layers are 127\.0\.0\.1:24810\/lab\/debian:12\.0@sha256:\S+ \(found by chain\), another tag/);
    const other = dfDiag('lab/ubuntu:24.04');
    expect(other).to.have.length(1);
    expect(other[0]).to.include(`is lab/ubuntu:24.04, but the image is built on ${reg.host}/lab/debian:12.0@`);
    expect(dfDiag('127.0.0.1:1/lab/debian:12.0')[0], 'another registry named').to.include('the image was not built from this Dockerfile');
    const tbl = runCli([...args, '--exclude-base', '--file', path.join(dir, 'Dockerfile.lab_debian_12_1')], { timeoutMs: 120_000 });
    expect(tbl.stdout).to.match(/dockerfile-base.*is lab\/debian:12\.1, but the image's base layers are 127\.0\.0\.1:24810\/lab\/debian:12\.0@/);

    // The gate was notified of both pushes too (the next case counts on it).
    await until('12.1 notified into the gate catalog', async () => (srv.gate.baseImages.catalog.currentTags('lab', 'lab/debian').some((t) => t.tag === '12.1') ? true : undefined));
  });

  it('the periodic tag listing records tags the gate was never notified of, judging new digests on demand', async () => {
    // Restarted on another port: the registry's notifications go nowhere, so only the listing can see this push.
    await srv.close();
    config.server.listen = '127.0.0.1:0';
    await start();
    const next = writeOciImage(dir, 'debian-13', [{ files: { 'etc/os-release': DEBIAN_12_OS_RELEASE.replace(/12/g, '13'), 'var/lib/dpkg/status': dpkgStatus(['bash 5.2.37-1']) }, gzip: true }], { tag: '13.0' });
    skopeoCopy(next.ref, `${reg.host}/lab/debian:13.0`);
    expect(srv.gate.baseImages.catalog.has('lab', 'lab/debian', next.digest)).to.equal(false);
    const r = await srv.gate.baseImages.refresh(srv.gate.baseImagesHost());
    expect(r.judged, 'the digest no notification announced, and only it').to.equal(1);
    expect(r.tags).to.be.at.least(4);
    expect(srv.gate.baseImages.catalog.byDigest(next.digest)[0].summary, 'judged on demand').to.be.an('object');
    expect(srv.gate.baseImages.catalog.currentTags('lab', 'lab/debian').map((t) => t.tag).sort()).to.deep.equal(['12', '12.0', '12.1', '13.0']);
    // The app's base (12.0 now names it too) gets the other major as an alternative, and 12.1 as an update.
    const appLayout = JSON.parse(fs.readFileSync(path.join(labOci('node-app', 'vuln').slice(4).replace(/:vuln$/, ''), 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const recs = (await report(appLayout.manifests[0].digest))!.bases![0].recommendations!;
    expect(recs.map((x) => `${x.kind}:${x.tag}`)).to.include.members(['refresh:12', 'update:12.1', 'alternative:13.0']);
    expect(recs[0].kind).to.equal('refresh');
    // A re-judgement from the stored scan (policy reload) keeps the base and its attribution.
    const before = (await srv.store.getVerdict('lab', 'lab/app', appLayout.manifests[0].digest as never))!;
    await reevaluateStored({ store: srv.store, policy: srv.gate.currentPolicy, vulndb: srv.gate.currentVulnDb(), bases: (x) => srv.gate.baseImages.bases(x), verdicts: [before], force: true });
    const again = (await srv.store.getReport(appLayout.manifests[0].digest as never))!;
    expect(again.bases![0]).to.deep.include({ method: 'chain', repository: 'lab/debian' });
    expect(again.findings.find((f) => f.package === 'lodash')!.origin).to.equal('app');
  });

  it('the proxy refuses an image whose base tag moved on, naming the base to rebuild on', async () => {
    // base-app is built on debian-base:12-archive, which lab/debian:12 named before it moved to 12-security.
    const r = await skopeoCopyAsync(imgs.app, `127.0.0.1:${PROXY_PORT}/strict/app:1`);
    expect(r.code, r.stderr).to.not.equal(0);
    expect(r.stderr).to.match(/DENIED|denied/);
    expect(r.stderr).to.include(`rebuild on lab/debian:12 (refreshed ${ociDigest(imgs.security).slice(0, 19)}`);
    expect(r.stderr).to.match(/rebuild on lab\/debian:12 \(refreshed [^)]*\): \d+ high/);
  });
});

