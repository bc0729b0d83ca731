/**
 * An envelope naming many distinct `source.instanceID`s (Distribution sends one per envelope) yields at
 * most MAX_INSTANCES_PER_ENVELOPE of them, the first ones in order: each new instance costs a store
 * read, an audit row and a registry reconcile, so one envelope must not cost thousands of each.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { MAX_INSTANCES_PER_ENVELOPE, parseDistributionEnvelope } from '../../../src/webhooks/distribution.js';

/** Whatever the constant says, a handful (an envelope is sent by one process). */
const BOUND = 16;

const ev = (i: number, instance: string) => ({
  id: `e${i}`,
  action: 'pull',
  target: { repository: 'team/app', digest: `sha256:${'a'.repeat(64)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json' },
  source: { addr: 'registry:5000', instanceID: instance },
});

describe('webhooks/distribution: instances taken from one envelope are bounded', () => {
  it('property: the first MAX_INSTANCES_PER_ENVELOPE distinct valid instances, in order, however many the envelope names', () => {
    const id = fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/);
    fc.assert(
      fc.property(fc.array(id, { maxLength: 60, size: 'max' }), (ids) => {
        const parsed = parseDistributionEnvelope({ events: ids.map((x, i) => ev(i, x)) }, 'lab');
        const want = [...new Set(ids)].slice(0, MAX_INSTANCES_PER_ENVELOPE);
        expect(parsed.instances ?? []).to.deep.equal(want);
        expect((parsed.instances ?? []).length).to.be.at.most(BOUND);
        expect(parsed.events.length + parsed.ignored.length).to.equal(ids.length);
      }),
      { numRuns: 300 },
    );
  });

  it('an envelope of 20000 distinct instances names at most a handful', () => {
    const parsed = parseDistributionEnvelope({ events: Array.from({ length: 20_000 }, (_, i) => ev(i, `inst-${i}`)) }, 'lab');
    expect(parsed.instances!.length).to.be.at.most(BOUND);
    expect(parsed.instances).to.deep.equal(['inst-0', 'inst-1', 'inst-2', 'inst-3'].slice(0, MAX_INSTANCES_PER_ENVELOPE));
  });
});
