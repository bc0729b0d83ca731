/**
 * The admission tag → digest cache and the gate's push notifications: a tag the registry moved and
 * notified is resolved again on the next review, not answered from the cache until the TTL runs out
 * (pod author who re-pushes a tag right after a review, when the mutating webhook does not pin).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { createDigestCache } from '../../../src/admission/digest-cache.js';
import { FakeGate, REG, dg } from './fake-gate.js';

const REPOS = ['team/a', 'team/b'];
const TAGS = ['1', '2'];

type Op =
  | { op: 'resolve'; repo: string; tag: string }
  | { op: 'retag'; repo: string; tag: string; to: number; notify: boolean }
  | { op: 'delete'; repo: string; tag: string };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('resolve' as const), repo: fc.constantFrom(...REPOS), tag: fc.constantFrom(...TAGS) }),
  fc.record({ op: fc.constant('retag' as const), repo: fc.constantFrom(...REPOS), tag: fc.constantFrom(...TAGS), to: fc.integer({ min: 1, max: 5 }), notify: fc.constant(true) }),
  fc.record({ op: fc.constant('delete' as const), repo: fc.constantFrom(...REPOS), tag: fc.constantFrom(...TAGS) }),
);

describe('admission/digest-cache: notified pushes and deletes drop what they make stale', () => {
  it('a notified re-push of the tag is resolved again within the TTL; another tag keeps its entry', async () => {
    const gate = new FakeGate();
    const cache = createDigestCache(gate, 60_000);
    gate.tags.set('team/a:1', dg(1));
    gate.tags.set('team/a:2', dg(2));
    expect(await cache.resolve(REG.name, 'team/a', '1')).to.equal(dg(1));
    expect(await cache.resolve(REG.name, 'team/a', '2')).to.equal(dg(2));
    gate.tags.set('team/a:1', dg(9));
    expect(await cache.resolve(REG.name, 'team/a', '1'), 'not notified yet: the TTL bounds it').to.equal(dg(1));
    gate.emitPush({ id: 'e1', source: 'distribution', registry: REG.name, action: 'push', repository: 'team/a', tag: '1', digest: dg(9) });
    expect(await cache.resolve(REG.name, 'team/a', '1')).to.equal(dg(9));
    expect(await cache.resolve(REG.name, 'team/a', '2')).to.equal(dg(2));
    expect(gate.resolveCalls).to.deep.equal(['team/a:1', 'team/a:2', 'team/a:1']);
  });

  it('a lookup in flight when the push arrives answers its callers but is not kept', async () => {
    const gate = new FakeGate();
    gate.resolveDelayMs = 30;
    const cache = createDigestCache(gate, 60_000);
    gate.tags.set('team/a:1', dg(1));
    const first = cache.resolve(REG.name, 'team/a', '1');
    // the notification arrives while the HEAD is out; the HEAD still answers what it read before the push
    gate.emitPush({ id: 'e1', source: 'distribution', registry: REG.name, action: 'push', repository: 'team/a', tag: '1', digest: dg(9) });
    expect(await first).to.equal(dg(1));
    gate.tags.set('team/a:1', dg(9));
    expect(await cache.resolve(REG.name, 'team/a', '1')).to.equal(dg(9));
  });

  it('property: after every notified change, a resolve answers what the registry serves now', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const gate = new FakeGate();
        const cache = createDigestCache(gate, 60_000);
        for (const r of REPOS) for (const t of TAGS) gate.tags.set(`${r}:${t}`, dg(1));
        for (const o of ops) {
          if (o.op === 'resolve') {
            expect(await cache.resolve(REG.name, o.repo, o.tag), `${o.repo}:${o.tag}`).to.equal(gate.tags.get(`${o.repo}:${o.tag}`));
          } else if (o.op === 'retag') {
            gate.tags.set(`${o.repo}:${o.tag}`, dg(o.to));
            gate.emitPush({ id: `p${o.to}`, source: 'distribution', registry: REG.name, action: 'push', repository: o.repo, tag: o.tag, digest: dg(o.to) });
          } else {
            // Distribution deletes by digest: every tag of the repository on that digest goes, and the event names no tag.
            const d = gate.tags.get(`${o.repo}:${o.tag}`);
            for (const t of TAGS) if (gate.tags.get(`${o.repo}:${t}`) === d) gate.tags.delete(`${o.repo}:${t}`);
            if (d) gate.emitPush({ id: 'd', source: 'distribution', registry: REG.name, action: 'delete', repository: o.repo, digest: d });
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
