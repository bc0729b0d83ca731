/**
 * The registry client against the real CNCF Distribution 2.8 (Debian docker-registry) with images
 * pushed by real skopeo from the lab OCI layouts. Ports 15000-15019.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { labImages, labOci, skopeoCopy, startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { RegistryError } from '../../../src/registry/errors.js';
import { parseManifest, nonImageArtifactType } from '../../../src/registry/manifest.js';
import { MediaTypes, type ImageIndex, type ImageManifest } from '../../../src/core/manifest.js';
import { rejects } from '../../helpers/registry.js';

const sha = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;

/** The manifest digest the OCI layout gives a tag (what the registry must serve byte-identically). */
function layoutDigest(name: string, tag: string): string {
  const idx = JSON.parse(fs.readFileSync(path.join(labImages(), name, 'index.json'), 'utf8')) as ImageIndex;
  const d = idx.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!d) throw new Error(`${name}:${tag} not in layout`);
  return d.digest;
}

async function drain(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}


describe('registry client against Distribution 2.8 (no auth)', function () {
  this.timeout(120_000);
  let reg: LabRegistry;
  let c: RegistryClient;
  const calls: string[] = [];

  before(() => {
    reg = startRegistry(15000);
    skopeoCopy(labOci('debian-minbase', 'bookworm'), `${reg.host}/lab/base:bookworm`);
    skopeoCopy(labOci('multiarch', '1.0'), `${reg.host}/lab/multi:1.0`, { all: true });
    skopeoCopy(labOci('zstd', '1.0'), `${reg.host}/lab/zstd:1.0`);
    // Docker schema 2 (what `docker push` sends): skopeo converts with --format v2s2
    const v2s2 = (src: string, dst: string, all = false) =>
      execFileSync('skopeo', ['copy', '-q', '--format', 'v2s2', ...(all ? ['--all'] : []), '--dest-tls-verify=false', src, `docker://${dst}`], { stdio: 'ignore' });
    v2s2(labOci('node-app', 'vuln'), `${reg.host}/lab/v2s2:vuln`);
    v2s2(labOci('multiarch', '1.0'), `${reg.host}/lab/v2s2-list:1.0`, true);
    c = new RegistryClient({ name: 'lab', url: reg.url, onRequest: (e) => calls.push(`${e.method} ${e.code}`) });
  });
  after(() => reg?.stop());
  afterEach(() => expect(c.inFlight, 'requests still holding a slot').to.equal(0));

  it('gets an OCI manifest by tag and by digest; the digest is the layout digest', async () => {
    const want = layoutDigest('debian-minbase', 'bookworm');
    const byTag = await c.getManifest('lab/base', 'bookworm');
    expect(byTag.digest).to.equal(want);
    expect(sha(byTag.bytes)).to.equal(want);
    expect(byTag.mediaType).to.equal(MediaTypes.ociManifest);
    const byDigest = await c.getManifest('lab/base', want);
    expect(byDigest.bytes.equals(byTag.bytes)).to.equal(true);
    const p = parseManifest(byTag.bytes, byTag.mediaType);
    expect(p.kind).to.equal('manifest');
    expect(nonImageArtifactType(p)).to.equal(undefined);
  });

  it('gets an index and each child; streams every blob and its digest verifies', async () => {
    const idx = await c.getManifest('lab/multi', '1.0');
    expect(idx.mediaType).to.equal(MediaTypes.ociIndex);
    expect(idx.digest).to.equal(layoutDigest('multiarch', '1.0'));
    const p = parseManifest(idx.bytes, idx.mediaType);
    if (p.kind !== 'index') throw new Error('not an index');
    expect(p.index.manifests.map((m) => m.platform?.architecture).sort()).to.deep.equal(['amd64', 'arm64']);
    for (const child of p.index.manifests) {
      const m = await c.getManifest('lab/multi', child.digest);
      expect(m.bytes.length).to.equal(child.size);
      const mm = parseManifest(m.bytes, m.mediaType);
      if (mm.kind !== 'manifest') throw new Error('not a manifest');
      for (const d of [mm.manifest.config, ...mm.manifest.layers]) {
        const bytes = await drain(await c.getBlob('lab/multi', d.digest));
        expect(bytes.length).to.equal(d.size);
        expect(sha(bytes)).to.equal(d.digest);
        await drain(await c.getBlob('lab/multi', d.digest, { verify: true, size: d.size }));
      }
    }
  });

  it('streams a 50 MB gzip layer and a zstd layer with verification', async () => {
    for (const [repo, tag] of [
      ['lab/base', 'bookworm'],
      ['lab/zstd', '1.0'],
    ]) {
      const m = parseManifest((await c.getManifest(repo, tag)).bytes, MediaTypes.ociManifest).kind === 'manifest' ? JSON.parse((await c.getManifest(repo, tag)).bytes.toString()) as ImageManifest : undefined;
      for (const l of m!.layers) {
        const bytes = await drain(await c.getBlob(repo, l.digest, { verify: true, size: l.size }));
        expect(sha(bytes)).to.equal(l.digest);
        if (repo === 'lab/zstd') expect(l.mediaType).to.equal(MediaTypes.ociLayerZstd);
      }
    }
  });

  it('reads Docker schema 2 manifests and manifest lists (skopeo --format v2s2)', async () => {
    const m = await c.getManifest('lab/v2s2', 'vuln');
    expect(m.mediaType).to.equal(MediaTypes.dockerManifest);
    const p = parseManifest(m.bytes, m.mediaType);
    if (p.kind !== 'manifest') throw new Error('not a manifest');
    expect(p.manifest.layers.every((l) => l.mediaType === MediaTypes.dockerLayerGzip)).to.equal(true);
    const l = await c.getManifest('lab/v2s2-list', '1.0');
    expect(l.mediaType).to.equal(MediaTypes.dockerManifestList);
    const pl = parseManifest(l.bytes, l.mediaType);
    if (pl.kind !== 'index') throw new Error('not a list');
    for (const ch of pl.index.manifests) expect((await c.getManifest('lab/v2s2-list', ch.digest)).mediaType).to.equal(MediaTypes.dockerManifest);
    expect((await c.resolve('lab/v2s2-list', '1.0'))?.mediaType).to.equal(MediaTypes.dockerManifestList);
  });

  it('resolves a tag with HEAD and returns undefined for an unknown tag', async () => {
    calls.length = 0;
    const r = await c.resolve('lab/multi', '1.0');
    expect(r).to.deep.equal({ digest: layoutDigest('multiarch', '1.0'), mediaType: MediaTypes.ociIndex, size: (await c.getManifest('lab/multi', '1.0')).bytes.length });
    expect(calls[0]).to.equal('HEAD 200');
    expect(await c.resolve('lab/multi', 'nope')).to.equal(undefined);
    expect(await c.resolve('lab/nothing-here', 'x')).to.equal(undefined);
  });

  it('a missing manifest is a typed 404 with the registry code and a readable message', async () => {
    const e = await rejects(c.getManifest('lab/base', 'missing-tag'));
    expect(e.status).to.equal(404);
    expect(e.code).to.equal('NOT_FOUND');
    expect(e.retryable).to.equal(false);
    expect(e.registryCodes).to.deep.equal(['MANIFEST_UNKNOWN']);
    expect(e.url).to.equal(`${reg.url}/v2/lab/base/manifests/missing-tag`);
    expect(e.message).to.match(/^registry lab: GET manifest lab\/base:missing-tag: 404 MANIFEST_UNKNOWN: manifest unknown/);
  });

  it('lists tags across Link pages (relative links) and the catalog', async () => {
    const m = await c.getManifest('lab/base', 'bookworm');
    const tags = ['a1', 'a2', 'b1', 'b2', 'c1'];
    for (const t of tags) await c.putManifest('lab/paged', t, m.bytes, m.mediaType).catch(async (err) => {
      // blobs must exist in the repository first
      if (!(err instanceof RegistryError) || !err.registryCodes.includes('MANIFEST_BLOB_UNKNOWN')) throw err;
      const mm = JSON.parse(m.bytes.toString()) as ImageManifest;
      for (const d of [mm.config, ...mm.layers]) await c.copyBlob('lab/base', 'lab/paged', d);
      await c.putManifest('lab/paged', t, m.bytes, m.mediaType);
    });
    // Distribution 2.8 ignores `n` on tags/list (one page, storage order); its catalog paginates with Link
    expect((await c.listTags('lab/paged')).sort()).to.deep.equal(tags);
    expect(await c.listTags('lab/never-pushed')).to.deep.equal([]);
    calls.length = 0;
    const small = new RegistryClient({ name: 'lab', url: reg.url, pageSize: 2, onRequest: (e) => calls.push(`${e.method} ${e.code}`) });
    const cat = await small.catalog();
    expect(cat).to.include.members(['lab/base', 'lab/multi', 'lab/paged', 'lab/zstd', 'lab/v2s2', 'lab/v2s2-list']);
    expect(new Set(cat).size).to.equal(cat.length);
    expect(calls.filter((x) => x === 'GET 200').length).to.be.greaterThanOrEqual(3);
  });

  it('copies an image to another repository by mount (no blob bytes uploaded)', async () => {
    const d = layoutDigest('debian-minbase', 'bookworm');
    calls.length = 0;
    await c.copyImage('lab/base', d, 'quarantine/lab/base', 'bookworm');
    expect(calls).to.include('POST 201');
    expect(calls.filter((x) => x.startsWith('PUT'))).to.deep.equal(['PUT 201']); // the manifest only
    expect(calls.some((x) => x.startsWith('PATCH'))).to.equal(false);
    expect(await c.listTags('quarantine/lab/base')).to.deep.equal(['bookworm']);
    expect((await c.getManifest('quarantine/lab/base', 'bookworm')).digest).to.equal(d);
    // the blobs really are in the new repository
    const mm = JSON.parse((await c.getManifest('quarantine/lab/base', d)).bytes.toString()) as ImageManifest;
    for (const l of mm.layers) expect(await c.blobExists('quarantine/lab/base', l.digest)).to.equal(true);
  });

  it('copies an index with its children', async () => {
    const d = layoutDigest('multiarch', '1.0');
    await c.copyImage('lab/multi', d, 'quarantine/lab/multi', '1.0');
    const idx = await c.getManifest('quarantine/lab/multi', '1.0');
    expect(idx.digest).to.equal(d);
    const p = parseManifest(idx.bytes, idx.mediaType) as { kind: 'index'; index: ImageIndex };
    for (const ch of p.index.manifests) expect((await c.resolve('quarantine/lab/multi', ch.digest))?.digest).to.equal(ch.digest);
  });

  it('deletes by digest, which removes every tag on that digest; tag delete is unsupported on 2.8', async () => {
    const d = layoutDigest('debian-minbase', 'bookworm');
    await c.copyImage('lab/base', d, 'lab/del', 'one');
    await c.copyImage('lab/base', d, 'lab/del', 'two');
    const other = layoutDigest('zstd', '1.0');
    await c.copyImage('lab/zstd', other, 'lab/del', 'other');
    expect((await c.listTags('lab/del')).sort()).to.deep.equal(['one', 'other', 'two']);
    const e = await rejects(c.deleteTag('lab/del', 'one'));
    expect(e.code).to.equal('UNSUPPORTED');
    expect(e.status).to.equal(400);
    expect(e.registryCodes).to.include('DIGEST_INVALID');
    await c.deleteManifest('lab/del', d);
    expect(await c.listTags('lab/del')).to.deep.equal(['other']);
    expect(await c.resolve('lab/del', d)).to.equal(undefined);
    const gone = await rejects(c.deleteManifest('lab/del', d));
    expect(gone.status).to.equal(404);
  });

  it('referrers: Distribution has no API, the sha256-<hex> fallback tag is read', async () => {
    const subject = await c.resolve('lab/base', 'bookworm');
    expect(await c.referrers('lab/base', subject!.digest)).to.deep.equal([]);
    // an SBOM-like artifact manifest referring to the image, pushed with the client
    const empty = Buffer.from('{}');
    const sbom = Buffer.from('{"spdxVersion":"SPDX-2.3"}');
    await c.uploadBlob('lab/base', sha(empty), empty.length, empty);
    await c.uploadBlob('lab/base', sha(sbom), sbom.length, sbom);
    const art: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType: 'application/spdx+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(empty), size: 2 },
      layers: [{ mediaType: 'application/spdx+json', digest: sha(sbom), size: sbom.length }],
      subject: { mediaType: subject!.mediaType, digest: subject!.digest, size: subject!.size },
    };
    const artBytes = Buffer.from(JSON.stringify(art));
    const artDigest = await c.putManifest('lab/base', sha(artBytes), artBytes, MediaTypes.ociManifest);
    const got = await c.getManifest('lab/base', artDigest);
    expect(nonImageArtifactType(parseManifest(got.bytes, got.mediaType))).to.equal('application/spdx+json');
    const fallback: ImageIndex = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: [{ mediaType: MediaTypes.ociManifest, digest: artDigest, size: artBytes.length, artifactType: 'application/spdx+json' }],
    };
    const tag = `sha256-${subject!.digest.slice(7)}`;
    await c.putManifest('lab/base', tag, Buffer.from(JSON.stringify(fallback)), MediaTypes.ociIndex);
    const refs = await c.referrers('lab/base', subject!.digest);
    expect(refs.map((r) => r.digest)).to.deep.equal([artDigest]);
    expect(await c.referrers('lab/base', subject!.digest, 'application/spdx+json')).to.have.length(1);
    expect(await c.referrers('lab/base', subject!.digest, 'application/vnd.dev.sigstore.bundle.v0.3+json')).to.deep.equal([]);
  });

  it('refuses path-injection in names and references before any request', async () => {
    calls.length = 0;
    for (const [repo, ref] of [
      ['../etc', 'x'],
      ['lab/base', '../../x'],
      ['Lab/Upper', 'x'],
      ['lab/base', 'sha256:abc'],
    ]) {
      let err: unknown;
      try {
        await c.getManifest(repo, ref);
      } catch (e) {
        err = e;
      }
      expect((err as { code?: string }).code).to.equal('BAD_REFERENCE');
    }
    expect(calls).to.deep.equal([]);
  });
});
