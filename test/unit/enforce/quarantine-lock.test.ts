/**
 * The in-process quarantine lock (src/enforce/actions/quarantine-lock.ts), the default when enforce() is
 * called without a store: copies into one quarantine repository never overlap, copies into different ones
 * do not wait for each other, and a copy that throws releases the lock. (The store-held lock the gate uses is
 * shown across two replicas by test/integration/enforce/quarantine-shared-child.test.ts.)
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { inProcessQuarantineLock } from '../../../src/enforce/index.js';

describe('enforce: the in-process quarantine lock', () => {
  it('property: whatever the targets, durations and failures, no two holders of one target overlap, and every holder runs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ target: fc.constantFrom('q/a', 'q/b', 'q/c'), ms: fc.integer({ min: 0, max: 5 }), fails: fc.boolean() }), { minLength: 1, maxLength: 12 }), async (jobs) => {
        const inside = new Map<string, number>();
        let ran = 0;
        const results = await Promise.allSettled(
          jobs.map((j) =>
            inProcessQuarantineLock(j.target, async (held) => {
              expect(await held()).to.equal(true);
              inside.set(j.target, (inside.get(j.target) ?? 0) + 1);
              expect(inside.get(j.target), `two holders of ${j.target}`).to.equal(1);
              await new Promise((r) => setTimeout(r, j.ms));
              inside.set(j.target, inside.get(j.target)! - 1);
              ran++;
              if (j.fails) throw new Error('copy failed');
              return j.target;
            }),
          ),
        );
        expect(ran).to.equal(jobs.length);
        results.forEach((r, i) => expect(r.status).to.equal(jobs[i]!.fails ? 'rejected' : 'fulfilled'));
      }),
      { numRuns: 100 },
    );
  });

  it('a holder of one target does not hold up another target', async () => {
    let release!: () => void;
    const long = inProcessQuarantineLock('q/slow', () => new Promise<void>((r) => (release = r)));
    expect(await inProcessQuarantineLock('q/other', async () => 'ran')).to.equal('ran');
    release();
    await long;
  });
});
