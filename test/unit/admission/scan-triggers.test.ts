import { expect } from 'chai';
import { ScanTriggers, type TriggerResult } from '../../../src/admission/scan-triggers.js';

function setup(limits = { maxPerReview: 3, ratePerSecond: 2, burst: 4 }, coalesceMs = 1000) {
  let t = 0;
  const results: TriggerResult[] = [];
  const triggers = new ScanTriggers({ limits, now: () => t, coalesceMs, onResult: (r) => results.push(r) });
  return { triggers, results, advance: (ms: number) => (t += ms) };
}
const ok = async () => undefined;

describe('admission/scan-triggers ScanTriggers', () => {
  it('caps the distinct keys one review may start; a new review starts afresh', async () => {
    const { triggers } = setup({ maxPerReview: 3, ratePerSecond: 0, burst: 100 });
    const b = triggers.review('c');
    const r = [];
    for (const k of ['a', 'b', 'c', 'd', 'e']) r.push(await triggers.queue(b, k, ok));
    expect(r).to.deep.equal(['queued', 'queued', 'queued', 'over-review-cap', 'over-review-cap']);
    expect(await triggers.queue(triggers.review('c'), 'd', ok)).to.equal('queued');
  });

  it('rate-limits per caller with a token bucket (burst, then ratePerSecond)', async () => {
    const { triggers, advance } = setup({ maxPerReview: 100, ratePerSecond: 2, burst: 4 });
    const b = triggers.review('apiserver');
    const r = [];
    for (let i = 0; i < 6; i++) r.push(await triggers.queue(b, `k${i}`, ok));
    expect(r).to.deep.equal(['queued', 'queued', 'queued', 'queued', 'rate-limited', 'rate-limited']);
    // Another caller has its own bucket.
    expect(await triggers.queue(triggers.review('other'), 'x1', ok)).to.equal('queued');
    advance(500); // +1 token
    expect(await triggers.queue(b, 'k6', ok)).to.equal('queued');
    expect(await triggers.queue(b, 'k7', ok)).to.equal('rate-limited');
    advance(60_000); // refills up to burst, not beyond
    const r2 = [];
    for (let i = 10; i < 16; i++) r2.push(await triggers.queue(b, `k${i}`, ok));
    expect(r2.filter((x) => x === 'queued')).to.have.length(4);
  });

  it('coalesces a key being queued and recently queued, for free; the window ends', async () => {
    const { triggers, advance, results } = setup({ maxPerReview: 100, ratePerSecond: 0, burst: 2 });
    let release!: () => void;
    const slow = () => new Promise<void>((r) => (release = r));
    const first = triggers.queue(triggers.review('c'), 'k', slow);
    const second = triggers.queue(triggers.review('c'), 'k', ok);
    release();
    expect(await first).to.equal('queued');
    expect(await second).to.equal('coalesced');
    expect(await triggers.queue(triggers.review('c'), 'k', ok)).to.equal('coalesced');
    advance(1001);
    expect(await triggers.queue(triggers.review('c'), 'k', ok)).to.equal('queued');
    expect(await triggers.queue(triggers.review('c'), 'k2', ok)).to.equal('rate-limited'); // only 2 tokens were spent on starts
    expect(results).to.deep.equal(['queued', 'coalesced', 'coalesced', 'queued', 'rate-limited']);
  });

  it('a failed enqueue is not remembered; a running scan is joined', async () => {
    const { triggers } = setup({ maxPerReview: 100, ratePerSecond: 0, burst: 100 });
    let err: unknown;
    try {
      await triggers.queue(triggers.review('c'), 'k', async () => {
        throw new Error('store down');
      });
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).to.equal('store down');
    expect(await triggers.queue(triggers.review('c'), 'k', ok)).to.equal('queued');
    let calls = 0;
    const a = triggers.scan(triggers.review('c'), 's', async () => ++calls);
    const b = triggers.scan(triggers.review('d'), 's', async () => ++calls);
    expect([a.result, b.result]).to.deep.equal(['scanned', 'coalesced']);
    expect(await a.promise).to.equal(1);
    expect(await b.promise).to.equal(1);
    expect(calls).to.equal(1);
  });
});
