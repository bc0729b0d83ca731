/**
 * `GET /v2/<name>/referrers/<digest>` through the proxy in front of Distribution 2.8 (no referrers API):
 * answered from the `sha256-<hex>` fallback index read upstream with the client's own credentials,
 * filtered on `artifactType` with `OCI-Filters-Applied`; a client without credentials gets the
 * registry's challenge, not the list.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import { startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { startProxy } from '../../../src/proxy/proxy.js';
import { GateDouble } from '../../unit/proxy/gate-double.js';
import { proxyTestConfig } from '../../unit/proxy/config.js';
import { bundleReferrer, dsseBundle, type Pushable } from '../../helpers/cosign.js';
import { makeImage } from '../../helpers/raw-push.js';
import type { Digest } from '../../../src/core/index.js';
import { referrerArtifact } from '../../../src/publish/documents.js';

const REG_PORT = 18065;
const PROXY_PORT = 18066;
const AUTH = `Basic ${Buffer.from('lab:labpass').toString('base64')}`;
const sha = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;

describe('proxy: referrers API answered from the fallback index', function () {
  this.timeout(120_000);
  let reg: LabRegistry;
  let proxy: { port: number; close(): Promise<void> };
  const img = makeImage('good', `proxy-referrers-${process.pid}`);
  const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });

  const pushBlob = async (repo: string, b: Buffer) => {
    const post = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { authorization: AUTH } });
    await post.arrayBuffer();
    const loc = new URL(post.headers.get('location')!, reg.url);
    loc.searchParams.set('digest', sha(b));
    const put = await fetch(loc, { method: 'PUT', headers: { authorization: AUTH, 'content-type': 'application/octet-stream' }, body: b });
    await put.arrayBuffer();
    expect(put.status).to.equal(201);
  };
  const pushManifest = async (repo: string, ref: string, m: Pick<Pushable, 'bytes' | 'mediaType'>) => {
    const r = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', headers: { authorization: AUTH, 'content-type': m.mediaType }, body: m.bytes });
    expect(r.status, await r.text()).to.equal(201);
  };

  before(async () => {
    reg = startRegistry(REG_PORT, { auth: 'htpasswd' });
    const gate = new GateDouble({ upstream: reg.url, creds: 'lab:labpass' });
    proxy = await startProxy({ gate, config: proxyTestConfig(reg.url, { listen: `127.0.0.1:${PROXY_PORT}` }) });
    const { referrer, fallbackIndex } = bundleReferrer(dsseBundle(key.privateKey, img.digest), { digest: img.digest, size: img.bytes.length, mediaType: img.mediaType });
    for (const b of [...img.blobs, ...referrer.blobs]) await pushBlob('r/app', b);
    await pushManifest('r/app', 'v1', img);
    await pushManifest('r/app', referrer.digest, referrer);
    // A second entry of another artifact type next to cosign's, as another tool would add it.
    const idx = JSON.parse(fallbackIndex.bytes.toString()) as { manifests: unknown[] };
    const sbom = referrerArtifact({ mediaType: img.mediaType, digest: img.digest as Digest, size: img.bytes.length }, 'application/vnd.cyclonedx+json', 'application/vnd.cyclonedx+json', Buffer.from('{"bomFormat":"CycloneDX"}'), {});
    for (const b of sbom.blobs) await pushBlob('r/app', b.bytes);
    await pushManifest('r/app', sbom.digest, { bytes: sbom.manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
    idx.manifests.push(sbom.descriptor);
    await pushManifest('r/app', img.digest.replace(':', '-'), { bytes: Buffer.from(JSON.stringify(idx)), mediaType: 'application/vnd.oci.image.index.v1+json' });
  });
  after(async () => {
    await proxy?.close();
    reg?.stop();
  });

  const get = (path: string, auth = true) => fetch(`http://127.0.0.1:${proxy.port}${path}`, { headers: auth ? { authorization: AUTH } : {} });

  it('the registry itself has no referrers API (the case the proxy covers)', async () => {
    const r = await fetch(`${reg.url}/v2/r/app/referrers/${img.digest}`, { headers: { authorization: AUTH } });
    expect(r.status).to.equal(404);
  });

  it('lists every entry of the fallback index; filtered on artifactType with OCI-Filters-Applied', async () => {
    const all = await get(`/v2/r/app/referrers/${img.digest}`);
    expect(all.status).to.equal(200);
    expect(all.headers.get('content-type')).to.equal('application/vnd.oci.image.index.v1+json');
    expect(all.headers.get('oci-filters-applied')).to.equal(null);
    const body = (await all.json()) as { schemaVersion: number; manifests: Array<{ artifactType: string }> };
    expect(body.schemaVersion).to.equal(2);
    expect(body.manifests.map((m) => m.artifactType)).to.deep.equal(['application/vnd.dev.sigstore.bundle.v0.3+json', 'application/vnd.cyclonedx+json']);

    const only = await get(`/v2/r/app/referrers/${img.digest}?artifactType=${encodeURIComponent('application/vnd.cyclonedx+json')}`);
    expect(only.status).to.equal(200);
    expect(only.headers.get('oci-filters-applied')).to.equal('artifactType');
    expect(((await only.json()) as { manifests: Array<{ artifactType: string }> }).manifests.map((m) => m.artifactType)).to.deep.equal(['application/vnd.cyclonedx+json']);
  });

  it('a digest without a fallback tag has an empty list; a client without credentials gets the registry\'s challenge', async () => {
    const none = await get(`/v2/r/app/referrers/sha256:${'0'.repeat(64)}`);
    expect(none.status).to.equal(200);
    expect(((await none.json()) as { manifests: unknown[] }).manifests).to.deep.equal([]);
    const anon = await get(`/v2/r/app/referrers/${img.digest}`, false);
    expect(anon.status).to.equal(401);
    expect(anon.headers.get('www-authenticate')).to.match(/^Basic realm=/);
    expect(await anon.text()).to.not.include('sigstore');
  });
});
