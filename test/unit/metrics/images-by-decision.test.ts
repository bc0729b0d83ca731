/**
 * pushgate_images_by_decision: a gauge set from the store's grouped count, labels bounded by the
 * configuration, refreshed at most one at a time after bursts of verdict writes.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Coalesced, Metrics, OTHER_REGISTRY } from '../../../src/metrics/index.js';
import { DECISIONS } from '../../../src/core/index.js';

function series(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of text.split('\n')) {
    const m = /^pushgate_images_by_decision\{(.*)\} (\d+)$/.exec(l);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

describe('metrics: pushgate_images_by_decision', () => {
  it('every configured registry has every decision (0 when none); other registries fold to (other); other decisions are left out', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.setImagesByDecision(
      [
        { registry: 'lab', decision: 'allow', count: 7 },
        { registry: 'lab', decision: 'reject', count: 2 },
        { registry: 'gone-a', decision: 'reject', count: 1 },
        { registry: 'gone-b', decision: 'reject', count: 3 },
        { registry: 'lab', decision: 'pending', count: 9 },
      ],
      ['lab', 'harbor'],
    );
    const s = series(await m.text());
    expect(s.get('registry="lab",decision="allow"')).to.equal(7);
    expect(s.get('registry="lab",decision="reject"')).to.equal(2);
    expect(s.get('registry="lab",decision="warn"')).to.equal(0);
    expect(s.get('registry="harbor",decision="quarantine"')).to.equal(0);
    expect(s.get(`registry="${OTHER_REGISTRY}",decision="reject"`)).to.equal(4);
    expect(s.size).to.equal(2 * 4 + 1);
  });

  it('a refresh replaces every series (an image no longer rejected leaves 0, a registry removed leaves nothing)', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.setImagesByDecision([{ registry: 'lab', decision: 'reject', count: 1 }, { registry: 'old', decision: 'allow', count: 1 }], ['lab', 'old']);
    m.setImagesByDecision([{ registry: 'lab', decision: 'allow', count: 1 }], ['lab']);
    const s = series(await m.text());
    expect(s.get('registry="lab",decision="reject"')).to.equal(0);
    expect([...s.keys()].some((k) => k.includes('"old"'))).to.equal(false);
  });

  it('property: the series count is bounded by the configuration whatever the store holds, and totals are kept', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ registry: fc.oneof(fc.string({ maxLength: 6 }), fc.stringMatching(/^[a-z]{1,3}$/)), decision: fc.constantFrom(...DECISIONS, 'x'), count: fc.nat(1000) }), { maxLength: 40 }),
        fc.uniqueArray(fc.stringMatching(/^[a-z]{1,3}$/), { maxLength: 4 }),
        async (counts, registries) => {
          const m = new Metrics({ defaultMetrics: false });
          m.setImagesByDecision(counts, registries);
          const s = series(await m.text());
          expect(s.size).to.be.at.most((registries.length + 1) * DECISIONS.length);
          const total = [...s.values()].reduce((a, b) => a + b, 0);
          expect(total).to.equal(counts.filter((c) => c.decision !== 'x').reduce((a, c) => a + c.count, 0));
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('metrics: Coalesced refresh', () => {
  it('a burst of requests during a run makes exactly one more run, and every request settles after a run that saw it', async () => {
    let runs = 0;
    let release!: () => void;
    const c = new Coalesced(async () => {
      runs++;
      if (runs === 1) await new Promise<void>((r) => (release = r));
    }, () => {});
    const first = c.request();
    const burst = Array.from({ length: 20 }, () => c.request());
    expect(runs).to.equal(1);
    release();
    await Promise.all([first, ...burst]);
    expect(runs).to.equal(2);
    await c.request();
    expect(runs).to.equal(3);
  });

  it('an error goes to onError and the next request runs again', async () => {
    const errors: unknown[] = [];
    let fail = true;
    let runs = 0;
    const c = new Coalesced(async () => {
      runs++;
      if (fail) throw new Error('store down');
    }, (e) => errors.push(e));
    await c.request();
    fail = false;
    await c.request();
    expect(runs).to.equal(2);
    expect(errors.map((e) => (e as Error).message)).to.deep.equal(['store down']);
  });
});
