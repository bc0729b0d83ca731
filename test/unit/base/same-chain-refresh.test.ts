/**
 * src/base/catalog: among catalog images with exactly the same layers (a pinned copy of a base in another
 * repository, a re-push), which one an annotation or the chain picks must not decide whether the base is
 * outdated. When any tag that named those layers moved on to a newer image, the detected base has a
 * `refresh` recommendation, so `baseImage.upToDate` fires whichever copy was picked.
 * Property: for any set of copies, any claimed copy and any subset of moved tags, a refresh is
 * recommended exactly when some copy's tag moved on.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fc from 'fast-check';
import type { Digest } from '../../../src/core/index.js';
import { BaseCatalog } from '../../../src/base/catalog.js';
import { BASE_DIGEST } from '../../../src/base/detect.js';
import { MemoryBaseCatalogStore } from '../../../src/base/memory-store.js';

const d = (s: string): Digest => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}` as Digest;
const [L1, APP] = [d('L1'), d('app')];
const layers = [{ digest: d('b1'), diffID: L1 }, { digest: d('b2'), diffID: APP }];

/** A catalog with `copies` repositories holding the same base (digest per repository), tag `12` each. */
async function catalog(copies: number, moved: boolean[]): Promise<{ cat: BaseCatalog; digests: Digest[] }> {
  const cat = new BaseCatalog(new MemoryBaseCatalogStore(), [{ registry: 'lab', repositories: ['lab/**'] }]);
  await cat.load();
  const digests: Digest[] = [];
  for (let i = 0; i < copies; i++) {
    const repo = `lab/base${i}`;
    const digest = d(`copy${i}`);
    digests.push(digest);
    await cat.record('lab', repo, digest, [{ digest, platform: 'linux/amd64', diffIDs: [L1], created: '2024-01-01T00:00:00Z', findings: [] }], '12', 1000 + i);
    if (moved[i]) {
      const next = d(`copy${i}-rebuilt`);
      await cat.record('lab', repo, next, [{ digest: next, platform: 'linux/amd64', diffIDs: [d(`L1-rebuilt${i}`)], created: '2024-06-01T00:00:00Z', findings: [] }], '12', 5000 + i);
    }
  }
  return { cat, digests };
}

describe('base: a refresh of any catalog copy with the same layers counts', () => {
  it('an annotation naming the pinned copy whose tag never moved still gets the refresh of the moved copy', async () => {
    const { cat, digests } = await catalog(2, [true, false]);
    const det = cat.detect({ platform: 'linux/amd64', layers, annotations: { [BASE_DIGEST]: digests[1] } });
    expect(det.base).to.include({ method: 'annotation', repository: 'lab/base1', digest: digests[1] });
    expect(det.base.recommendations!.filter((r) => r.kind === 'refresh').map((r) => [r.repository, r.tag])).to.deep.equal([['lab/base0', '12']]);
  });

  it('no copy moved: no refresh', async () => {
    const { cat, digests } = await catalog(3, [false, false, false]);
    const det = cat.detect({ platform: 'linux/amd64', layers, annotations: { [BASE_DIGEST]: digests[2] } });
    expect(det.base.recommendations!.filter((r) => r.kind === 'refresh')).to.deep.equal([]);
  });

  it('property: a refresh is recommended exactly when some copy\'s tag moved on, whichever copy is claimed', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }), fc.nat(), fc.boolean(), async (moved, pick, annotate) => {
      const { cat, digests } = await catalog(moved.length, moved);
      const det = cat.detect({ platform: 'linux/amd64', layers, ...(annotate ? { annotations: { [BASE_DIGEST]: digests[pick % digests.length] } } : {}) });
      const refreshes = det.base.recommendations!.filter((r) => r.kind === 'refresh');
      expect(refreshes.map((r) => r.repository).sort()).to.deep.equal(moved.flatMap((m, i) => (m ? [`lab/base${i}`] : [])).sort());
      // One per digest, and never the base itself.
      expect(new Set(refreshes.map((r) => r.digest)).size).to.equal(refreshes.length);
      expect(refreshes.map((r) => r.digest)).to.not.include(det.base.digest);
    }), { numRuns: 60 });
  });
});
