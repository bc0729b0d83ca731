/**
 * src/base/detect: an author's claim (annotation, provenance) may pick among catalog images with the
 * chain the layers prove, never a shorter one than the longest catalog chain beginning the image: a
 * pusher building on a disallowed (or outdated) catalog base would otherwise name that base's own base
 * and be judged on it. Property: whatever catalog image the claim names, the detected base is as long as
 * the longest catalog prefix.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fc from 'fast-check';
import type { Digest } from '../../../src/core/index.js';
import { ChainIndex } from '../../../src/base/chain.js';
import { BASE_DIGEST, detectBase, type CatalogView } from '../../../src/base/detect.js';
import type { CatalogEntry } from '../../../src/base/types.js';

const d = (s: string): Digest => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}` as Digest;
const entry = (repo: string, diffIDs: Digest[]): CatalogEntry => ({ registry: 'lab', repository: repo, digest: d(repo), platform: 'linux/amd64', diffIDs, firstSeen: 1 });
function view(entries: CatalogEntry[]): CatalogView {
  return { index: new ChainIndex(entries), byDigest: (x) => entries.filter((e) => e.digest === x), byName: () => [], tagsOf: () => [] };
}
const layers = (ids: Digest[]) => ids.map((x) => ({ digest: x, diffID: x }));

describe('base: a claim never picks a shorter base than the layers prove', () => {
  const [A, B, C] = [d('A'), d('B'), d('C')];
  const debian = entry('lab/debian', [A]);
  const oldnode = entry('lab/oldnode', [A, B]);
  const cat = view([debian, oldnode]);

  it('annotation naming the base\'s own base is refused; the longer chain wins', () => {
    const r = detectBase({ layers: layers([A, B, C]), annotations: { [BASE_DIGEST]: debian.digest } }, cat);
    expect(r.base.repository).to.equal('lab/oldnode');
    expect(r.base.method).to.equal('chain');
    expect(r.refused.map((x) => x.code)).to.include('base-annotation-refused');
  });

  it('provenance naming the base\'s own base is refused; the longer chain wins', () => {
    const r = detectBase({ layers: layers([A, B, C]), provenance: [{ uri: 'pkg:docker/lab/debian@12', digest: { sha256: debian.digest.slice(7) } }] }, cat);
    expect(r.base.repository).to.equal('lab/oldnode');
    expect(r.refused.map((x) => x.code)).to.include('base-provenance-refused');
  });

  it('a claim naming the longest base is kept', () => {
    const r = detectBase({ layers: layers([A, B, C]), annotations: { [BASE_DIGEST]: oldnode.digest } }, cat);
    expect(r.base.repository).to.equal('lab/oldnode');
    expect(r.base.method).to.equal('annotation');
  });

  it('property: whatever catalog image is claimed, the base is the longest catalog prefix', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 5 }), fc.boolean(), (n, pick, viaProv) => {
      const ids = Array.from({ length: n + 1 }, (_, i) => d(`L${i}`));
      const entries = Array.from({ length: n }, (_, i) => entry(`lab/b${i}`, ids.slice(0, i + 1)));
      const claimed = entries[pick % n];
      const input = viaProv
        ? { layers: layers(ids), provenance: [{ uri: `pkg:docker/${claimed.repository}@1`, digest: { sha256: claimed.digest.slice(7) } }] }
        : { layers: layers(ids), annotations: { [BASE_DIGEST]: claimed.digest } };
      const r = detectBase(input, view(entries));
      expect(r.base.layers).to.have.length(n);
    }));
  });
});
