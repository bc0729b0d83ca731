/**
 * BuildKit's attestation layout (docs.docker.com/build/metadata/attestations/attestation-storage), written
 * here as BuildKit writes it: an index with the image manifest and an `attestation-manifest` entry naming it,
 * whose in-toto layer holds SLSA provenance v0.2 materials.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fc from 'fast-check';
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

/**
 * Indexes whose attestation manifests list provenance statements from a pool, repeats allowed (a crafted
 * index lists one large statement thousands of times). The fetcher counts what it is asked for.
 */
function crafted(pool: number[], attestations: number[][]) {
  const blobs = new Map<string, Buffer>();
  const put = (o: unknown) => {
    const b = Buffer.from(JSON.stringify(o));
    blobs.set(sha(b), b);
    return { digest: sha(b), size: b.length };
  };
  const cfg = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 2 };
  const statements = pool.map((pad, i) => put({
    _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://slsa.dev/provenance/v0.2', subject: [],
    predicate: { materials: [{ uri: `pkg:docker/lab/base${i}@1`, digest: { sha256: i.toString(16).padStart(64, '0') } }], pad: 'x'.repeat(pad) },
  }));
  const manifests: unknown[] = [];
  attestations.forEach((picks, i) => {
    const image = put({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: cfg, layers: [], n: i });
    const att = put({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: cfg,
      layers: picks.map((k) => ({ mediaType: 'application/vnd.in-toto+json', ...statements[k], annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' } })),
    });
    manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...image, platform: { os: 'linux', architecture: `a${i}` } });
    manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...att, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': image.digest } });
  });
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  const reads = { manifests: [] as string[], blobs: [] as string[], bytes: 0 };
  const get = (d: Digest) => {
    const b = blobs.get(d);
    if (!b) throw new Error(`no ${d}`);
    return b;
  };
  const fetch = {
    manifest: async (d: Digest) => (reads.manifests.push(d), get(d)),
    blob: async (d: Digest, size: number) => (reads.blobs.push(d), (reads.bytes += size), get(d)),
  };
  return { index, statements, fetch, reads };
}

describe('base: provenance reads are bounded per index', () => {
  it('reads a statement listed 20,000 times once, and adds its materials once', async () => {
    const c = crafted([64], [Array.from({ length: 20_000 }, () => 0)]);
    const got = await indexProvenance(c.index, c.fetch);
    expect(c.reads.blobs).to.have.length(1);
    expect([...got.values()].map((m) => m.length)).to.deep.equal([1]);
  });

  it('stops at the byte budget and says so', async () => {
    const c = crafted([1000, 1000, 1000], [[0], [1], [2]]);
    const notes: string[] = [];
    await indexProvenance(c.index, c.fetch, { limits: { maxBytes: 2 * c.statements[0].size + 10 }, onIncomplete: (m) => notes.push(m) });
    expect(c.reads.blobs).to.have.length(2);
    expect(notes).to.have.length(1);
    expect(notes[0]).to.match(/bytes; the rest of its provenance attestations were not read/);
  });

  it('property: reads stay within every bound, each statement at most once, and every statement within them is read', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.nat(300), { minLength: 1, maxLength: 6 }).chain((pool) => fc.record({
        pool: fc.constant(pool),
        atts: fc.array(fc.array(fc.nat(pool.length - 1), { maxLength: 8 }), { maxLength: 6 }),
        maxManifests: fc.integer({ min: 1, max: 6 }),
        maxStatements: fc.integer({ min: 1, max: 6 }),
        maxBytes: fc.integer({ min: 0, max: 2000 }),
      })),
      async ({ pool, atts, maxManifests, maxStatements, maxBytes }) => {
        const c = crafted(pool, atts);
        const notes: string[] = [];
        const got = await indexProvenance(c.index, c.fetch, { limits: { maxManifests, maxStatements, maxBytes }, onIncomplete: (m) => notes.push(m) });
        // The model: distinct statements in listing order within the first maxManifests attestations, read until one would exceed a bound.
        const want: string[] = [];
        let bytes = 0;
        let stopped = atts.length > maxManifests;
        outer: for (const picks of atts.slice(0, maxManifests)) {
          for (const k of picks) {
            const s = c.statements[k];
            if (want.includes(s.digest)) continue;
            if (want.length >= maxStatements || bytes + s.size > maxBytes) {
              stopped = true;
              break outer;
            }
            want.push(s.digest);
            bytes += s.size;
          }
        }
        expect(c.reads.blobs).to.deep.equal(want);
        expect(c.reads.blobs.length).to.be.at.most(maxStatements);
        expect(c.reads.bytes).to.be.at.most(maxBytes);
        expect(c.reads.manifests.length).to.be.at.most(maxManifests);
        expect(notes).to.have.length(stopped ? 1 : 0);
        for (const mats of got.values()) expect(new Set(mats.map((m) => m.uri)).size).to.equal(mats.length);
      },
    ), { numRuns: 300 });
  });
});
