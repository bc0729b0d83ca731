/**
 * `onNewFindings` when several mappings of a verdict's references select the same rule set: the verdict
 * keeps one evaluation per rule set, so one cap serves every reference. It follows the strictest of those
 * mappings (and the shortest grace of that action). The most lenient let a tag anyone with push rights can
 * add (`dev-1`, mapped to `notify`, on the digest of `v1`, mapped to `reject`), or the bare digest's own
 * mapping, keep `v1` admitted after a database change its mapping says must block it.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Finding, Verdict } from '../../../src/core/index.js';
import { viewOf } from '../../../src/gate/verdict-view.js';
import { capNewFindings, governingMapping } from '../../../src/monitor/on-new-findings.js';
import { compilePolicy, DEFAULT_POLICY_YAML, type CompiledPolicy } from '../../../src/policy/index.js';
import type { CompiledMapping, OnNewFindings } from '../../../src/policy/types.js';
import { digestOf } from '../../helpers/monitor.js';

const NOW = Date.parse('2026-12-05T12:00:00Z');
const LENIENCY: OnNewFindings[] = ['notify', 'warn', 'quarantine', 'reject'];

/** The default policy with mappings of `app`: `v*` and `dev-*` tags on one rule set, and a default mapping. */
function policy(release: OnNewFindings, dev: OnNewFindings, dflt: OnNewFindings): CompiledPolicy {
  const text = DEFAULT_POLICY_YAML
    .replace('  mappings: []\n', `  mappings:\n    - { name: release, repository: app, tag: "v*", ruleSet: default, onNewFindings: ${release} }\n    - { name: dev, repository: app, tag: "dev-*", ruleSet: default, onNewFindings: ${dev} }\n`)
    .replace('  default:\n    ruleSet: default\n    mode: enforce\n', `  default:\n    ruleSet: default\n    mode: enforce\n    onNewFindings: ${dflt}\n`);
  return compilePolicy(text, '<test>');
}

function verdicts(p: CompiledPolicy, tags: string[]): { before: Verdict; after: Verdict } {
  const before: Verdict = {
    registry: 'lab', repository: 'app', digest: digestOf(1), tags, decision: 'allow', complete: true, reasons: [], mode: 'enforce',
    policy: { name: p.name, revision: p.revision }, vulndb: { builtAt: null }, evaluatedAt: new Date(NOW).toISOString(),
    evaluations: { default: { decision: 'allow', reasons: [] } },
  };
  const after: Verdict = { ...before, decision: 'reject', evaluations: { default: { decision: 'reject', reasons: [{ rule: 'critical', action: 'reject', message: 'critical finding' }] } } };
  return { before, after };
}

const finding = { id: 'CVE-2026-0001', severity: 'critical', package: { name: 'adm-zip', version: '0.4.7' } } as unknown as Finding;

/** The decision admission reads for `app:<tag>` after a database change brought a critical finding. */
function afterChange(p: CompiledPolicy, tags: string[], tag: string): string {
  const { before, after } = verdicts(p, tags);
  const cap = capNewFindings(p, before, after, [{ finding, firstSeen: NOW }], NOW);
  return viewOf(p, cap.verdict, tag).decision;
}

describe('onNewFindings across the mappings of one rule set', () => {
  it('a pusher adding a tag of a lenient mapping does not keep a release tag admitted', () => {
    const p = policy('reject', 'notify', 'reject');
    expect(afterChange(p, ['v1'], 'v1'), 'v1 alone').to.equal('reject');
    expect(afterChange(p, ['v1', 'dev-1'], 'v1'), 'v1 retagged dev-1 by the pusher').to.equal('reject');
  });

  it("the bare digest's lenient default mapping does not keep a release tag admitted", () => {
    // the default mapping's onNewFindings is notify unless set: the usual configuration
    expect(afterChange(policy('reject', 'notify', 'notify'), ['v1'], 'v1')).to.equal('reject');
    expect(afterChange(policy('quarantine', 'notify', 'notify'), ['v1'], 'v1')).to.equal('quarantine');
  });

  it('lenient mappings alone stay lenient', () => {
    expect(afterChange(policy('notify', 'notify', 'notify'), ['v1', 'dev-1'], 'v1')).to.equal('allow');
    expect(afterChange(policy('warn', 'notify', 'notify'), ['v1'], 'v1')).to.equal('warn');
  });

  it('any tags and actions: the decision is at least what the strictest involved mapping allows (property)', () => {
    const action = fc.constantFrom<OnNewFindings>(...LENIENCY);
    const tagArb = fc.constantFrom('v1', 'v2', 'dev-1', 'dev-2', 'latest');
    fc.assert(fc.property(action, action, action, fc.uniqueArray(tagArb, { minLength: 1, maxLength: 4 }), (r, d, x, tags) => {
      const p = policy(r, d, x);
      const involved = [undefined, ...tags].map((t) => (t === undefined ? x : t.startsWith('v') ? r : t.startsWith('dev-') ? d : x));
      const strictest = involved.reduce((a, b) => (LENIENCY.indexOf(b) > LENIENCY.indexOf(a) ? b : a));
      const expected = { notify: 'allow', warn: 'warn', quarantine: 'quarantine', reject: 'reject' }[strictest];
      for (const t of tags) expect(afterChange(p, tags, t), `${t} of ${tags.join(',')} under release ${r}, dev ${d}, default ${x}`).to.equal(expected);
    }), { numRuns: 300 });
  });

  it('the governing grace is the shortest among the strictest mappings', () => {
    const m = (name: string, onNewFindings: OnNewFindings, graceMs: CompiledMapping['graceMs']) => ({ name, onNewFindings, graceMs }) as CompiledMapping;
    const g = governingMapping([m('a', 'reject', { critical: 5 }), m('b', 'reject', { high: 7 }), m('c', 'notify', {})]);
    expect(g).to.deep.equal({ name: 'a, b', onNewFindings: 'reject', graceMs: { critical: 0, high: 0 } });
    expect(governingMapping([m('a', 'quarantine', { critical: 5 }), m('b', 'quarantine', { critical: 3 })]).graceMs).to.deep.equal({ critical: 3 });
  });
});
