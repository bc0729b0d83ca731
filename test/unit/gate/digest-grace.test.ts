/**
 * The grace of a manifest pushed by digest only (src/gate/digest-pushes.ts `graceWaitMs`) when the
 * store's clock steps: the age is read on that clock at every claim, so a clock set back read 0 for as
 * long as the step and the event was put back every grace for that long (an hour's step: the blocked
 * manifest pullable by digest for an hour). The hand-backs are counted with the event; past
 * GRACE_HAND_BACKS the grace is over. Simulated claims with generated graces, clock steps and queue
 * delays (a claim up to 5 ms early: replicas' clocks differ by that much), as the queue makes them: due
 * `wait` ms after the put-back. The real-registry case is in test/integration/enforce/tag-link-faults.test.ts.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { GRACE_HAND_BACKS, graceWaitMs } from '../../../src/gate/digest-pushes.js';

/** Claims of one event until its grace is over: the real time acted at and the hand-backs used. */
function simulate(graceMs: number, stepMs: number, delays: number[]): { actedAt: number; handBacks: number } {
  let real = 0;
  let handBacks = 0;
  for (let claim = 0; ; claim++) {
    // the store's clock is `stepMs` behind the clock the event was stored by
    const age = Math.max(0, real - stepMs);
    const wait = graceWaitMs(graceMs, age, handBacks);
    if (wait === 0) return { actedAt: real, handBacks };
    handBacks++;
    real += wait + (delays[claim % delays.length] ?? 0);
    if (claim > 1000) throw new Error('never acted');
  }
}

describe('gate: the grace of a push by digest only under a stepped store clock', () => {
  it('property: acted on after at most GRACE_HAND_BACKS put-backs, within that many graces, whatever the step', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 600_000 }), fc.integer({ min: 0, max: 24 * 3_600_000 }), fc.array(fc.integer({ min: -5, max: 500 }), { minLength: 1, maxLength: 8 }), (grace, step, delays) => {
        const r = simulate(grace, step, delays);
        expect(r.handBacks).to.be.at.most(GRACE_HAND_BACKS);
        expect(r.actedAt).to.be.at.most(GRACE_HAND_BACKS * (grace + 500));
      }),
      { numRuns: 500 },
    );
  });

  it('property: with a clock that does not step, never acted on before the grace is over (a claim a few ms early is put back again)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 600_000 }), fc.array(fc.integer({ min: -5, max: 500 }), { minLength: 1, maxLength: 8 }), (grace, delays) => {
        const r = simulate(grace, 0, delays);
        const early = Math.min(0, ...delays);
        // at most the early margin of each put-back before the grace's end; on time when no claim is early
        expect(r.actedAt).to.be.at.least(grace + GRACE_HAND_BACKS * early);
        if (early === 0) expect(r.actedAt).to.be.at.least(grace);
      }),
      { numRuns: 500 },
    );
  });

  it('no grace configured, or the cap reached: nothing to wait for', () => {
    expect(graceWaitMs(0, 0, 0)).to.equal(0);
    expect(graceWaitMs(60_000, 0, GRACE_HAND_BACKS)).to.equal(0);
    expect(graceWaitMs(60_000, 0, GRACE_HAND_BACKS - 1)).to.equal(60_000);
    expect(graceWaitMs(60_000, 70_000, 0)).to.equal(0);
  });
});
