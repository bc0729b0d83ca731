/**
 * A verdict's audit record names the rules that blocked the push apart from every rule that fired: the
 * console's "blocked by rule" chart counts `detail.blocking`, so a warning rule (`runs-as-root: warn`) on a
 * push that a secret blocked is not counted as blocking it.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { DECISIONS, isBlocking, type Decision, type PushEvent, type Verdict } from '../../../src/core/index.js';
import { verdictAudit } from '../../../src/gate/queue-workers.js';

const ev = { registry: 'lab', repository: 'team/app', digest: `sha256:${'c'.repeat(64)}`, tag: 'v1', actor: 'alice' } as PushEvent;

describe('gate: the audit record of a verdict', () => {
  it('property: detail.blocking = the rules whose action blocks, once each, in order; reasons keep every rule', () => {
    const reason = fc.record({ rule: fc.constantFrom('secrets', 'runs-as-root', 'fixable-high-vulns', 'incomplete-scan'), action: fc.constantFrom(...(DECISIONS as readonly Decision[])) });
    fc.assert(
      fc.property(fc.array(reason, { maxLength: 6 }), (reasons) => {
        const verdict = { decision: 'quarantine', reasons: reasons.map((r) => ({ ...r, message: 'm' })) } as unknown as Verdict;
        const entry = verdictAudit(ev, verdict, { reasons: reasons.map((r) => r.rule) });
        const want = [...new Set(reasons.filter((r) => isBlocking(r.action)).map((r) => r.rule))];
        expect(entry.detail).to.deep.include({ blocking: want, reasons: reasons.map((r) => r.rule) });
        expect(entry.action).to.equal('verdict:quarantine');
      }),
    );
  });
  it('a warning rule beside a blocking one is not among the blocking rules', () => {
    const verdict = { decision: 'quarantine', reasons: [{ rule: 'runs-as-root', action: 'warn', message: 'm' }, { rule: 'secrets', action: 'quarantine', message: 'm' }] } as unknown as Verdict;
    expect(verdictAudit(ev, verdict, {}).detail).to.deep.equal({ blocking: ['secrets'] });
  });
});
