/**
 * Grace-period holds (`onNewFindings` `grace`, `monitor_holds.due_at`) when the process clock steps and
 * the policy's grace changes. A hold's due time is on the clock that set it, and the monitor finds holds
 * due by comparing with its clock at every tick (10 s): a clock set back by S held the image at `warn`,
 * admitted, S longer (a reset to 1970: for good). A hold due later than `now` + the longest grace of the
 * policy in force + HOLD_MARGIN_MS is due now (src/monitor/on-new-findings.ts `holdLatestDue`, the
 * store's `dueHolds(now, latest)`).
 *
 * Simulated ticks against the real store (SQLite, PostgreSQL): a hold set at pass time 0 by a clock
 * reading c0 (2026 give or take years: a clock ahead when it was set), due c0 + grace; then up to 3
 * clock steps (back or forward up to 3 years, or a reset to 1970) and up to 3 policy grace changes at
 * generated pass times; a tick every `tick` ms of pass time. Properties:
 * - the hold is found due no later than the longest grace (of any policy in force) + the margin + two ticks
 *   after the later of its setting and the clock's last step before then (every step can only restart
 *   that bound: a clock-only check cannot tell a clock set back by less than the grace from one that was
 *   not, so a step back within the bound holds to the due time it reads);
 * - a clock that does not step, under graces never shortened below the hold's, finds it due at its first
 *   tick at or after the grace, and never before.
 * The monitor's own use of it (a real re-judgement enforcing the block) is in monitor.test.ts.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Digest, Finding, Verdict } from '../../../src/core/index.js';
import { capNewFindings, HOLD_MARGIN_MS, holdLatestDue } from '../../../src/monitor/on-new-findings.js';
import { compilePolicy, defaultPolicy, DEFAULT_POLICY_YAML, type CompiledPolicy } from '../../../src/policy/index.js';
import type { Store } from '../../../src/store/index.js';
import { digestOf } from '../../helpers/monitor.js';
import { openTestStore } from '../../helpers/postgres.js';

const DAY = 86_400_000;
const YEAR = 365 * DAY;
const T2026 = Date.parse('2026-12-05T12:00:00Z');

/** The default policy with `grace: { high: graceMs }` on its default mapping (all `holdLatestDue` reads). */
function policyWithGrace(graceMs: number): CompiledPolicy {
  const p = defaultPolicy();
  return { ...p, defaultMapping: { ...p.defaultMapping, graceMs: { high: graceMs } } };
}

/** A clock step at pass time `at`: by `by` ms (floored at the epoch), or a reset to 1970. */
type Step = { at: number; by: number } | { at: number; reset: true };

interface Case {
  graceMs: number;
  c0: number;
  steps: Step[];
  policies: Array<{ at: number; graceMs: number }>;
  tick: number;
}

const graceArb = fc.integer({ min: 1_000, max: 30 * DAY });
const caseArb: fc.Arbitrary<Case> = graceArb.chain((graceMs) => {
  const horizon = 3 * graceMs + 2 * HOLD_MARGIN_MS;
  return fc.record({
    graceMs: fc.constant(graceMs),
    c0: fc.integer({ min: T2026 - 3 * YEAR, max: T2026 + 3 * YEAR }),
    steps: fc.array(
      fc.oneof(
        fc.record({ at: fc.integer({ min: 0, max: horizon }), by: fc.integer({ min: -3 * YEAR, max: 3 * YEAR }) }),
        // a step back by about the grace: the largest a tick's bound lets through
        fc.record({ at: fc.integer({ min: 0, max: horizon }), by: fc.integer({ min: -graceMs - HOLD_MARGIN_MS, max: 0 }) }),
        fc.record({ at: fc.integer({ min: 0, max: horizon }), reset: fc.constant(true as const) }),
      ),
      { maxLength: 3 },
    ),
    policies: fc.array(fc.record({ at: fc.integer({ min: 0, max: horizon }), graceMs: graceArb }), { maxLength: 3 }),
    // ticks: every 10 s in the server; coarser here so a 30-day grace takes ~100 ticks, not 500,000
    tick: fc.integer({ min: Math.max(10_000, Math.ceil(graceMs / 40)), max: Math.max(10_000, Math.ceil(graceMs / 10)) }),
  });
});

function contract(name: string, open: () => Promise<{ store: Store; done(): Promise<void> }>) {
  describe(`monitor holds on a stepped clock: ${name}`, function () {
    this.timeout(120_000);
    let store: Store;
    let done: () => Promise<void>;
    let n = 0;
    const run = { id: 'hold-clock', owner: 'hold-clock', cursor: '', leaseMs: 3_600_000 };
    before(async () => {
      ({ store, done } = await open());
      expect(await store.monitor.claimRun(run.id, 'all', null, run.owner, run.leaseMs, Date.now())).to.not.equal(undefined);
    });
    after(() => done());

    async function setHold(digest: Digest, dueAt: number | null): Promise<void> {
      const ok = await store.monitor.commitBatch({ run: { ...run, cursor: digest }, rejudged: [{ verdicts: [], changes: [], audits: [], holds: [{ registry: 'lab', repository: 'app', digest, dueAt }] }], unchanged: [], vulndbDigest: null }, Date.now());
      expect(ok).to.not.equal(false);
    }

    /**
     * Ticks until the store finds the hold due (or a cap well past the bound).
     * @returns the pass time of the first tick that found it due, and the time of the clock's last step before it.
     */
    async function simulate(c: Case): Promise<{ dueAt: number; foundAt: number | undefined; lastStep: number; longest: number }> {
      const digest = digestOf(1_000_000 + ++n);
      const dueAt = c.c0 + c.graceMs;
      await setHold(digest, dueAt);
      const steps = [...c.steps].sort((a, b) => a.at - b.at);
      const policies = [...c.policies].sort((a, b) => a.at - b.at);
      const longest = Math.max(c.graceMs, ...policies.map((p) => p.graceMs));
      const cap = Math.max(c.graceMs, ...steps.map((s) => s.at)) + longest + HOLD_MARGIN_MS + 3 * c.tick;
      let foundAt: number | undefined;
      let lastStep = 0;
      // the clock: `base` read at pass time `since`
      let base = c.c0;
      let since = 0;
      let si = 0;
      for (let p = c.tick; p <= cap; p += c.tick) {
        while (si < steps.length && steps[si].at <= p) {
          const s = steps[si++];
          const reading = base + (s.at - since);
          base = 'reset' in s ? 0 : Math.max(0, reading + s.by);
          since = s.at;
          lastStep = s.at;
        }
        const now = base + (p - since);
        let grace = c.graceMs;
        for (const q of policies) if (q.at <= p) grace = q.graceMs;
        const due = await store.monitor.dueHolds(now, holdLatestDue(policyWithGrace(grace), now));
        if (due.some((h) => h.digest === digest)) {
          foundAt = p;
          break;
        }
      }
      await setHold(digest, null);
      return { dueAt, foundAt, lastStep, longest };
    }

    it('a hold is due no later than the longest grace + margin (+ two ticks) after it was set or the clock last stepped, whatever the steps (back, forward, to 1970) and grace changes', async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const r = await simulate(c);
          expect(r.foundAt, `never found due (due ${r.dueAt})`).to.not.equal(undefined);
          // two ticks: the first after the step reads the due time within the bound; the hold is then
          // found at the first tick at or after that due time
          expect(r.foundAt!, 'pass time held').to.be.at.most(r.lastStep + r.longest + HOLD_MARGIN_MS + 2 * c.tick);
        }),
        { numRuns: name === 'sqlite' ? 300 : 100 },
      );
    });

    it('a clock that does not step, under graces never shortened below the hold\'s: due at the first tick at or after the grace, never before', async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const policies = c.policies.map((q) => ({ ...q, graceMs: Math.max(q.graceMs, c.graceMs) }));
          const r = await simulate({ ...c, steps: [], policies });
          expect(r.foundAt).to.equal(Math.ceil(c.graceMs / c.tick) * c.tick);
        }),
        { numRuns: name === 'sqlite' ? 300 : 100 },
      );
    });

    it('a grace written as "never" (up to 1e25 ms) still lets the store find due holds (the bound stays a safe integer, a bigint on PostgreSQL)', async () => {
      const digest = digestOf(2_000_000 + ++n);
      await setHold(digest, T2026);
      await fc.assert(
        fc.asyncProperty(fc.double({ min: 0, max: 1e25, noNaN: true }), fc.integer({ min: T2026, max: T2026 + 3 * YEAR }), async (graceMs, now) => {
          const latest = holdLatestDue(policyWithGrace(Math.round(graceMs)), now);
          expect(Number.isSafeInteger(latest)).to.equal(true);
          const due = await store.monitor.dueHolds(now, latest);
          expect(due.some((h) => h.digest === digest)).to.equal(true);
        }),
        { numRuns: 50 },
      );
      await setHold(digest, null);
    });

    it('the fault tester\'s case: a clock set back right after the hold was set (an hour, a year, to 1970) holds it no longer than the grace + margin (+ two ticks)', async () => {
      for (const step of [{ at: 0, by: -3_600_000 }, { at: 0, by: -YEAR }, { at: 0, reset: true as const }]) {
        const c: Case = { graceMs: 2 * 3_600_000, c0: T2026, steps: [step], policies: [], tick: 60_000 };
        const r = await simulate(c);
        expect(r.foundAt, JSON.stringify(step)).to.be.at.most(c.graceMs + HOLD_MARGIN_MS + 2 * c.tick);
      }
    });
  });
}

describe('monitor holds: a new finding first seen on a clock since set back', () => {
  it('holds for its grace from now, not from a first-seen time in the future (a due time never further ahead than the grace)', () => {
    const text = DEFAULT_POLICY_YAML.replace('  default:\n    ruleSet: default\n    mode: enforce\n', '  default:\n    ruleSet: default\n    mode: enforce\n    onNewFindings: quarantine\n    grace: { high: 2h }\n');
    const policy = compilePolicy(text, '<test>');
    const grace = 2 * 3_600_000;
    const base: Verdict = {
      registry: 'lab', repository: 'app', digest: digestOf(1), tags: ['v1'], decision: 'allow', complete: true, reasons: [], mode: 'enforce',
      policy: { name: policy.name, revision: policy.revision }, vulndb: { builtAt: null }, evaluatedAt: new Date(T2026).toISOString(),
      evaluations: { default: { decision: 'allow', reasons: [] } },
    };
    const after: Verdict = { ...base, decision: 'quarantine', evaluations: { default: { decision: 'quarantine', reasons: [{ rule: 'fixable-high', action: 'quarantine', message: 'x' }] } } };
    const finding = { id: 'NSWG-NPM-458', severity: 'high', package: { name: 'adm-zip', version: '0.4.7' } } as unknown as Finding;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: T2026 + 3 * YEAR }), fc.integer({ min: -3 * YEAR, max: 3 * YEAR }), (now, ahead) => {
        const firstSeen = Math.max(0, now + ahead);
        const cap = capNewFindings(policy, base, after, [{ finding, firstSeen }], now);
        if (firstSeen + grace <= now) {
          expect(cap.effect).to.equal('enforced');
          return;
        }
        expect(cap.effect).to.equal('held');
        expect(cap.enforceAfter).to.equal(Math.min(firstSeen, now) + grace);
        expect(cap.enforceAfter! - now).to.be.at.most(grace);
      }),
      { numRuns: 300 },
    );
  });
});

contract('sqlite', () => openTestStore('sqlite', 'pushgate_hold_clock'));
contract('postgres', () => openTestStore('postgres', 'pushgate_hold_clock'));

describe('monitor holds: findings arriving during a grace do not restart it', () => {
  const text = DEFAULT_POLICY_YAML.replace('  default:\n    ruleSet: default\n    mode: enforce\n', '  default:\n    ruleSet: default\n    mode: enforce\n    onNewFindings: quarantine\n    grace: { high: 2h }\n');
  const policy = compilePolicy(text, '<test>');
  const grace = 2 * 3_600_000;
  const allowed: Verdict = {
    registry: 'lab', repository: 'app', digest: digestOf(2), tags: ['v1'], decision: 'allow', complete: true, reasons: [], mode: 'enforce',
    policy: { name: policy.name, revision: policy.revision }, vulndb: { builtAt: null }, evaluatedAt: new Date(T2026).toISOString(),
    evaluations: { default: { decision: 'allow', reasons: [] } },
  };
  /** The judgement of the image with its findings: blocked by the rule, before the cap. */
  const judged: Verdict = { ...allowed, decision: 'quarantine', evaluations: { default: { decision: 'quarantine', reasons: [{ rule: 'fixable-high', action: 'quarantine', message: 'x' }] } } };
  const finding = (id: string) => ({ id, severity: 'high', package: { name: 'adm-zip', version: '0.4.7' } }) as unknown as Finding;

  /** Re-judges `stored` at `now` with the `fresh` findings first seen then; returns the stored verdict after it and the cap. */
  const pass = (stored: Verdict, fresh: string[], now: number) => {
    const cap = capNewFindings(policy, stored, judged, fresh.map((id) => ({ finding: finding(id), firstSeen: now })), now);
    return { cap, stored: cap.verdict };
  };

  it('a second new finding an hour into the grace keeps the first hold\'s due time; a pass with nothing new does not end it', () => {
    const first = pass(allowed, ['A'], T2026);
    expect(first.cap.effect).to.equal('held');
    expect(first.cap.enforceAfter).to.equal(T2026 + grace);
    const second = pass(first.stored, ['B'], T2026 + 3_600_000);
    expect(second.cap.effect).to.equal('held');
    expect(second.cap.enforceAfter).to.equal(T2026 + grace);
    const quiet = pass(second.stored, [], T2026 + 3_600_000 + 1);
    expect(quiet.cap.effect).to.equal('held');
    expect(quiet.cap.enforceAfter).to.equal(T2026 + grace);
    expect(pass(quiet.stored, [], T2026 + grace).cap.effect).to.equal('enforced');
  });

  it('property: whatever findings arrive and whenever passes run, the block is enforced at the first hold\'s due time, never before', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ after: fc.integer({ min: 1, max: 3 * grace }), fresh: fc.array(fc.constantFrom('B', 'C', 'D', 'E'), { maxLength: 2 }) }), { minLength: 1, maxLength: 8 }),
        (passes) => {
          let stored = pass(allowed, ['A'], T2026).stored;
          let now = T2026;
          for (const p of passes) {
            now += p.after;
            const r = pass(stored, p.fresh, now);
            if (now >= T2026 + grace) {
              expect(r.cap.effect, `pass at +${now - T2026} ms`).to.equal('enforced');
              return;
            }
            expect(r.cap.effect).to.equal('held');
            expect(r.cap.enforceAfter).to.equal(T2026 + grace);
            stored = r.stored;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a stored due time further ahead than the policy allows (a clock since set back) is due now', () => {
    const first = pass(allowed, ['A'], T2026 + 5 * YEAR);
    expect(pass(first.stored, [], T2026).cap.effect).to.equal('enforced');
    expect(pass(first.stored, ['B'], T2026).cap.effect).to.equal('enforced');
  });
});
