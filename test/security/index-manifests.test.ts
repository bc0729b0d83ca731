/**
 * An image index is judged by reading every manifest it lists, while a runtime pulls one of them; so
 * the number an index may list is bounded (`scan.limits.manifestsPerIndex`), counted before any child
 * is read. Without the bound, one push of a 4 MiB index listing one small image 25,000 times (Distribution
 * accepts it: it only checks each listed manifest exists) held a scan slot for minutes and, for an image of
 * a few hundred packages, built a report of gigabytes; a queued event that ends the process is claimed
 * again after every restart. The index's platforms together are also bounded by the package records
 * pushgate judges for one image: one small layer of 60,000 records listed by twenty platforms made a
 * report of 1.2 million (2.7 GB of memory), each platform within its own bound.
 *
 * Real components: Distribution 2.8 (Debian docker-registry), raw OCI distribution API pushes, the gate's
 * registry source and scan engine, and a real in-process `pushgate serve` whose registry notifies it.
 * Ports 22970-22972.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../src/config/types.js';
import type { Verdict } from '../../src/core/index.js';
import { registrySource } from '../../src/gate/registry-source.js';
import { RegistryClient } from '../../src/registry/client.js';
import { scanImage } from '../../src/scan/engine.js';
import { DEFAULT_SCAN_LIMITS } from '../../src/scan/limits.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { updateDb } from '../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, metricValue, silentLogger } from '../helpers/gate.js';
import { ROOT, startRegistry, type LabRegistry } from '../helpers/lab.js';
import { makeImage, OCI_INDEX, OCI_MANIFEST, Raw, sha, sleep, type Image } from '../helpers/raw-push.js';
import { MAX_PACKAGE_RECORDS } from '../../src/scan/walker.js';
import { gzLayer, makeTar, storedZip, type TarEntry } from '../unit/scan/layout-helper.js';

const REG_PORT = 22970;
const API_PORT = 22971;
/** A registry without notifications, for the engine's property. */
const PLAIN_PORT = 22972;
const TOKEN = 'index-manifests-webhook-token';
const API = 'index-manifests-api-token';

/** An index listing `children` in that order (repeats kept), each with a platform, as a client builds one. */
function indexOf(children: Image[]): { digest: string; bytes: Buffer; mediaType: string } {
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: children.map((c, i) => ({ mediaType: c.mediaType, digest: c.digest, size: c.bytes.length, platform: { architecture: ['amd64', 'arm64'][i % 2], os: 'linux' } })),
  }));
  return { digest: sha(bytes), bytes, mediaType: OCI_INDEX };
}

describe('security: an index listing more manifests than scan.limits.manifestsPerIndex is judged without reading them (real registry)', function () {
  this.timeout(300_000);
  let dir: string;
  let reg: LabRegistry;
  let raw: Raw;
  let plain: LabRegistry;
  let plainRaw: Raw;
  let srv: RunningServer;
  /** Images already in `lab/pool` (by digest): good, good, secret. */
  let pool: Image[];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-index-manifests-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.server.listen = `127.0.0.1:${API_PORT}`;
    config.api.tokens = [API];
    srv = await startServer(config, silentLogger);
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${API_PORT}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}` });
    raw = new Raw(reg.host);
    plain = startRegistry(PLAIN_PORT);
    plainRaw = new Raw(plain.host);
    pool = [makeImage('good', 'pool-a'), makeImage('good', 'pool-b'), makeImage('secret', 'pool-c')];
    for (const img of pool) {
      await plainRaw.pushBlobs('lab/pool', img.blobs);
      expect((await plainRaw.putManifest('lab/pool', img.digest, img)).status).to.equal(201);
    }
  });

  after(async () => {
    reg?.stop();
    plain?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the engine reads no listed manifest past the limit, and every one up to it (generated limits and children, repeats included)', async () => {
    const client = new RegistryClient({ name: 'plain', url: plain.url, retries: 0 });
    let over = 0;
    let within = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 12 }),
        async (limit, picks) => {
          const children = picks.map((i) => pool[i]!);
          const idx = indexOf(children);
          expect((await plainRaw.putManifest('lab/pool', idx.digest, idx)).status).to.equal(201);
          const scan = await scanImage(registrySource(client, 'lab/pool', idx.digest), { limits: { maxIndexManifests: limit } });
          const hit = scan.diagnostics.filter((d) => d.code === 'index-limit');
          if (children.length > limit) {
            over++;
            expect(hit, JSON.stringify(scan.diagnostics)).to.have.length(1);
            expect(hit[0]).to.include({ incomplete: true });
            expect(hit[0]!.message).to.contain(`lists ${children.length} manifests, over the limit of ${limit}`).and.contain('scan.limits.manifestsPerIndex');
            expect(scan.platforms).to.deep.equal([]);
            // Only the index itself was read.
            expect(scan.bytesRead).to.equal(idx.bytes.length);
          } else {
            within++;
            expect(hit).to.deep.equal([]);
            expect(scan.platforms).to.have.length(children.length);
            expect(scan.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
          }
        },
      ),
      { numRuns: 40 },
    );
    // Both sides of the bound were reached.
    expect(over).to.be.greaterThan(3);
    expect(within).to.be.greaterThan(3);
  });

  it('the platforms of an index together keep at most the package records of one image (generated records per platform and platform counts)', async function () {
    this.timeout(600_000);
    const client = new RegistryClient({ name: 'plain', url: plain.url, retries: 0 });
    const poms: Record<string, string> = {};
    for (let i = 0; i < 1000; i++) poms[`META-INF/maven/g${i}/a${i}/pom.properties`] = `groupId=g${i}\nartifactId=a${i}\nversion=1.0.${i}\n`;
    const jar = storedZip(poms);
    /** A one-layer image whose layer is a jar of 1,000 packages and `links` hard links to it: 1,000 × (links + 1) records. */
    const recordsImage = async (links: number): Promise<Image> => {
      const entries: TarEntry[] = [{ name: 'opt/', type: 'directory' }, { name: 'opt/fat.jar', content: jar }];
      for (let i = 0; i < links; i++) entries.push({ name: `opt/l${i}.jar`, type: 'link', linkname: 'opt/fat.jar' });
      const layer = gzLayer(await makeTar(entries));
      const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { User: '65534' }, rootfs: { type: 'layers', diff_ids: [sha(layer.tar)] } }));
      const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer.blob), size: layer.blob.length }] }));
      return { kind: 'good', digest: sha(bytes), bytes, mediaType: OCI_MANIFEST, blobs: [config, layer.blob] };
    };
    const images = new Map<number, Image>();
    let over = 0;
    let within = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.constantFrom(99, 149, 249), async (platforms, links) => {
        let img = images.get(links);
        if (!img) {
          img = await recordsImage(links);
          await plainRaw.pushBlobs('lab/records', img.blobs);
          expect((await plainRaw.putManifest('lab/records', img.digest, img)).status).to.equal(201);
          images.set(links, img);
        }
        const idx = indexOf(Array.from({ length: platforms }, () => img));
        expect((await plainRaw.putManifest('lab/records', idx.digest, idx)).status).to.equal(201);
        const scan = await scanImage(registrySource(client, 'lab/records', idx.digest), { inflateWorker: 'never' });
        const kept = scan.platforms.reduce((n, p) => n + p.inventory.packages.length, 0);
        const perPlatform = 1000 * (links + 1);
        const tooMany = scan.diagnostics.concat(scan.platforms.flatMap((p) => p.inventory.diagnostics)).filter((d) => d.code === 'too-many-packages' && d.incomplete);
        if (platforms * perPlatform > MAX_PACKAGE_RECORDS) {
          over++;
          expect(tooMany.length, `${platforms} × ${perPlatform} records`).to.be.greaterThan(0);
          // At most the bound and the one layer that crossed it, as for one image's layers.
          expect(kept).to.be.at.most(MAX_PACKAGE_RECORDS + perPlatform);
        } else {
          within++;
          expect(tooMany).to.deep.equal([]);
          expect(kept).to.equal(platforms * perPlatform);
        }
      }),
      { numRuns: 6, examples: [[1, 99], [4, 249]] },
    );
    expect(over).to.be.greaterThan(0);
    expect(within).to.be.greaterThan(0);
  });

  it('a blob that is not a layer is read once per scan however many descriptors name it; an attestation over the layer limit is not one (generated manifests)', async function () {
    this.timeout(300_000);
    const client = new RegistryClient({ name: 'plain', url: plain.url, retries: 0 });
    // In-toto statements of 256 KiB: data, not archives.
    const statements = [0, 1, 2].map((i) => Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://slsa.dev/provenance/v0.2', subject: [], predicate: { pad: `${i}`.repeat(256 * 1024) } })));
    await plainRaw.pushBlobs('lab/data', statements);
    const img = makeImage('good', 'data-host');
    await plainRaw.pushBlobs('lab/data', img.blobs);
    expect((await plainRaw.putManifest('lab/data', img.digest, img)).status).to.equal(201);
    const emptyConfig = Buffer.from(JSON.stringify({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [] } }));
    await plainRaw.pushBlobs('lab/data', [emptyConfig]);
    let limited = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 14 }),
        fc.integer({ min: 2, max: 8 }),
        fc.boolean(),
        async (picks, maxLayers, attestation) => {
          const layers = picks.map((i) => ({ mediaType: attestation ? 'application/vnd.in-toto+json' : 'application/octet-stream', digest: sha(statements[i]!), size: statements[i]!.length }));
          const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(emptyConfig), size: emptyConfig.length }, layers }));
          const m: Image = { kind: 'good', digest: sha(bytes), bytes, mediaType: OCI_MANIFEST, blobs: [] };
          expect((await plainRaw.putManifest('lab/data', m.digest, m)).status).to.equal(201);
          let root = m.digest;
          if (attestation) {
            const idx = indexOf([img, m]);
            expect((await plainRaw.putManifest('lab/data', idx.digest, idx)).status).to.equal(201);
            root = idx.digest;
          }
          const source = registrySource(client, 'lab/data', root);
          const reads = new Map<string, number>();
          const counted = { ...source, blob: async (d: Parameters<typeof source.blob>[0]) => (reads.set(d.digest, (reads.get(d.digest) ?? 0) + 1), source.blob(d)) };
          const scan = await scanImage(counted, { limits: { maxLayers } });
          const dataReads = statements.map((b) => reads.get(sha(b)) ?? 0);
          const all = scan.diagnostics.concat(scan.platforms.flatMap((p) => p.inventory.diagnostics));
          if (picks.length > maxLayers) {
            limited++;
            // Over the layer limit: scanned as an image, so incomplete, and no layer of it read.
            expect(all.some((d) => d.code === 'layer-limit' && d.incomplete), JSON.stringify(all)).to.equal(true);
            expect(dataReads).to.deep.equal([0, 0, 0]);
          } else {
            expect(Math.max(...dataReads), `reads per statement ${JSON.stringify(dataReads)} for ${picks.length} descriptors`).to.equal(1);
            expect(all.filter((d) => d.incomplete)).to.deep.equal([]);
            if (attestation) expect(all.some((d) => d.code === 'attestation-skipped')).to.equal(true);
          }
        },
      ),
      { numRuns: 40, examples: [[[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 4, true], [[1, 1, 1, 2], 8, false], [[0, 0, 1, 1], 8, true]] },
    );
    expect(limited).to.be.greaterThan(0);
  });

  it('the default bound: one small clean image listed 2,000 times is quarantined as incomplete, its copy made with one child', async () => {
    const img = makeImage('good', 'repeated');
    await raw.pushBlobs('lab/repeated', img.blobs);
    expect((await raw.putManifest('lab/repeated', img.digest, img)).status).to.equal(201);
    const puts = async () => metricValue(await (await fetch(`http://127.0.0.1:${API_PORT}/metrics`)).text(), 'pushgate_registry_requests_total', { registry: 'lab', method: 'PUT' });
    const putsBefore = await puts();
    const idx = indexOf(Array.from({ length: 2000 }, () => img));
    expect((await raw.putManifest('lab/repeated', '1', idx)).status).to.equal(201);
    let v: Verdict | undefined;
    for (const until = Date.now() + 120_000; Date.now() < until; await sleep(100)) {
      const r = await fetch(`http://127.0.0.1:${API_PORT}/api/v1/verdicts?image=${encodeURIComponent(`${reg.host}/lab/repeated:1`)}`, { headers: { authorization: `Bearer ${API}` } });
      if (r.status === 200) {
        v = (await r.json()) as Verdict;
        if (v.digest === idx.digest && v.enforcement) break;
      }
    }
    expect(v?.digest, 'a verdict of the index').to.equal(idx.digest);
    expect(v!.complete).to.equal(false);
    expect(v!.decision).to.equal('quarantine');
    expect(v!.enforcement).to.include({ action: 'quarantine', status: 'done' });
    const report = await srv.store.getReport(idx.digest);
    expect(report?.diagnostics.find((d) => d.code === 'index-limit')?.message).to.contain('lists 2000 manifests, over the limit of 256');
    expect(report?.platforms ?? []).to.deep.equal([]);
    expect(await raw.served('lab/repeated', '1')).to.equal(undefined);
    expect(await raw.served('quarantine/lab/repeated', '1')).to.equal(idx.digest);
    // The copy into quarantine wrote the child once and the index: a child listed again is not copied again.
    expect(await puts() - putsBefore).to.be.within(2, 4);
    expect(DEFAULT_SCAN_LIMITS.maxIndexManifests).to.equal(256);
  });
});
