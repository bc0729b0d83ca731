/**
 * BuildKit's attestation layout (docs.docker.com/build/metadata/attestations/attestation-storage), written
 * here as BuildKit writes it: an index with the image manifest and an `attestation-manifest` entry naming it,
 * whose in-toto layer holds SLSA provenance v0.2 materials.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import type { Digest } from '../../../src/core/index.js';
import { indexProvenance } from '../../../src/base/provenance.js';

const sha = (b: Buffer): Digest => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}` as Digest;

function layout(predicateType: string) {
  const blobs = new Map<string, Buffer>();
  const put = (o: unknown) => {
    const b = Buffer.from(JSON.stringify(o));
    blobs.set(sha(b), b);
    return { digest: sha(b), size: b.length };
  };
  const image = put({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 2 }, layers: [] });
  const statement = put({
    _type: 'https://in-toto.io/Statement/v0.1', predicateType, subject: [{ name: 'pkg:docker/lab/app@1', digest: { sha256: image.digest.slice(7) } }],
    predicate: { builder: { id: '' }, materials: [{ uri: 'pkg:docker/lab/debian@12?platform=linux%2Famd64', digest: { sha256: 'a'.repeat(64) } }, { uri: 'https://example.test/ctx.tar' }] },
  });
  const att = put({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'d'.repeat(64)}`, size: 2 }, layers: [{ mediaType: 'application/vnd.in-toto+json', ...statement, annotations: { 'in-toto.io/predicate-type': predicateType } }] });
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...image, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...att, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': image.digest } },
    ],
  }));
  const get = async (d: Digest) => {
    const b = blobs.get(d);
    if (!b) throw new Error(`no ${d}`);
    return b;
  };
  return { index, image: image.digest, fetch: { manifest: get, blob: get } };
}

describe('base: provenance attestations of an index', () => {
  it('reads the SLSA materials of the image an attestation manifest names', async () => {
    const l = layout('https://slsa.dev/provenance/v0.2');
    const got = await indexProvenance(l.index, l.fetch);
    expect([...got.keys()]).to.deep.equal([l.image]);
    expect(got.get(l.image)![0]).to.deep.equal({ uri: 'pkg:docker/lab/debian@12?platform=linux%2Famd64', digest: { sha256: 'a'.repeat(64) } });
  });

  it('ignores other statements (an SBOM), an image manifest root, and unreadable attestations', async () => {
    const sbom = layout('https://spdx.dev/Document');
    expect((await indexProvenance(sbom.index, sbom.fetch)).size).to.equal(0);
    const l = layout('https://slsa.dev/provenance/v0.2');
    const broken = { manifest: async () => Buffer.from('{'), blob: l.fetch.blob };
    expect((await indexProvenance(l.index, broken)).size).to.equal(0);
    expect((await indexProvenance(Buffer.from('not json'), l.fetch)).size).to.equal(0);
  });
});
