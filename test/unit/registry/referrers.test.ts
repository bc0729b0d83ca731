import { expect } from 'chai';
import fc from 'fast-check';
import type { Descriptor } from '../../../src/core/index.js';
import { mergeFallbackIndex, parseIndexJson, referrersResponse, type IndexJson } from '../../../src/registry/referrers.js';

const hex = fc.stringMatching(/^[a-f0-9]{64}$/);
const digest = hex.map((h) => `sha256:${h}` as Descriptor['digest']);
const artifactType = fc.constantFrom('application/vnd.dev.sigstore.bundle.v0.3+json', 'application/vnd.cyclonedx+json', 'application/spdx+json', 'application/vnd.pushgate.report.v1+json');
const entry = fc.record(
  {
    mediaType: fc.constant('application/vnd.oci.image.manifest.v1+json'),
    digest,
    size: fc.nat(10_000),
    artifactType,
    annotations: fc.dictionary(fc.constantFrom('a', 'b', 'dev.sigstore.bundle.predicateType'), fc.string({ maxLength: 8 })),
    extra: fc.string({ maxLength: 5 }),
  },
  { requiredKeys: ['mediaType', 'digest', 'size'] },
) as fc.Arbitrary<Descriptor & Record<string, unknown>>;
const uniqueEntries = (max: number) => fc.uniqueArray(entry, { selector: (e) => e.digest, maxLength: max });
const index = fc.option(
  fc.record({ entries: uniqueEntries(8), annotations: fc.option(fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 })), { nil: undefined }) }).map(
    ({ entries, annotations }): IndexJson => ({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries, ...(annotations ? { annotations } : {}) }),
  ),
  { nil: undefined },
);

describe('registry/referrers: fallback index merge', () => {
  it('keeps every other writer\'s entry exactly and in order, removes ours, adds the new ones once (property)', () => {
    fc.assert(
      fc.property(index, fc.array(fc.nat(20)), uniqueEntries(4), (existing, pick, add) => {
        const listed = existing?.manifests ?? [];
        const remove = new Set(pick.filter((i) => i < listed.length).map((i) => listed[i].digest as string));
        const merged = mergeFallbackIndex(existing, remove, add);
        const adding = new Set(add.map((d) => d.digest as string));
        const others = listed.filter((m) => !remove.has(m.digest) && !adding.has(m.digest));
        expect(merged.manifests.slice(0, others.length)).to.deep.equal(others);
        expect(merged.manifests.slice(others.length)).to.deep.equal(add);
        expect(merged.manifests.filter((m) => remove.has(m.digest) && !adding.has(m.digest))).to.deep.equal([]);
        expect(new Set(merged.manifests.map((m) => m.digest)).size).to.equal(merged.manifests.length);
        if (existing?.annotations) expect(merged.annotations).to.deep.equal(existing.annotations);
        // Idempotent: the same update applied to its own result changes nothing.
        expect(mergeFallbackIndex(merged, remove, add)).to.deep.equal(merged);
        // What is written reads back the same.
        expect(parseIndexJson(Buffer.from(JSON.stringify(merged)))).to.deep.equal(merged);
      }),
    );
  });

  it('starts an index when there is none, and replaces rather than doubles an entry already listed', () => {
    const d = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 3, artifactType: 'x' } as Descriptor;
    expect(mergeFallbackIndex(undefined, new Set(), [d])).to.deep.equal({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [d] });
    const again = mergeFallbackIndex(mergeFallbackIndex(undefined, new Set(), [d]), new Set(), [{ ...d, size: 4 }]);
    expect(again.manifests).to.deep.equal([{ ...d, size: 4 }]);
  });

  it('refuses bytes that are not an index, and drops entries without a digest', () => {
    expect(() => parseIndexJson(Buffer.from('{"layers":[]}'))).to.throw(/not an image index/);
    expect(() => parseIndexJson(Buffer.from('[]'))).to.throw(/not an image index/);
    expect(parseIndexJson(Buffer.from('{"manifests":[{"digest":5},null,{"digest":"sha256:x","mediaType":"m"}]}')).manifests).to.deep.equal([{ digest: 'sha256:x', mediaType: 'm' }]);
  });
});

describe('registry/referrers: referrers API answer from the fallback index', () => {
  it('lists exactly the entries of the asked artifact type, with OCI-Filters-Applied; all of them without a filter (property)', () => {
    fc.assert(
      fc.property(index, fc.option(artifactType, { nil: undefined }), (existing, at) => {
        const r = referrersResponse(existing, at);
        const all = existing?.manifests ?? [];
        expect(r.body.schemaVersion).to.equal(2);
        expect(r.body.mediaType).to.equal('application/vnd.oci.image.index.v1+json');
        expect(r.headers['content-type']).to.equal('application/vnd.oci.image.index.v1+json');
        if (at) {
          expect(r.headers['oci-filters-applied']).to.equal('artifactType');
          expect(r.body.manifests).to.deep.equal(all.filter((m) => m.artifactType === at));
        } else {
          expect(r.headers).to.not.have.property('oci-filters-applied');
          expect(r.body.manifests).to.deep.equal(all);
        }
      }),
    );
  });
});
