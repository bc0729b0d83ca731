/**
 * `admission.unpinnedTags` follows the mode of the reference's mapping. `audit` mode's contract is that
 * admission refuses nothing (it records), and `warn` mode turns a refusal into a warning (DESIGN.md,
 * Verdict): a tag reference the node may run from its cache is then admitted with the rule's warning, its
 * advice unchanged. Only a mapping in `enforce` mode lets `unpinnedTags: deny` refuse it. A namespace rule
 * `unknown: allow` is no mode: it admits the never-scanned digest the tag names now, not a blocked one the
 * node may have cached under the tag, so there the mapping's mode decides too.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { validateReview } from '../../../src/admission/review.js';
import { createDigestCache } from '../../../src/admission/digest-cache.js';
import type { AdmissionNamespaceRule } from '../../../src/config/types.js';
import type { Decision, PolicyMode } from '../../../src/core/index.js';
import { FakeGate, admissionConfig, dg, verdict } from './fake-gate.js';

const H = 'registry.example.test';
const cut = (w: string) => (w.length <= 120 ? w : `${w.slice(0, 119)}…`);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

interface Case {
  mode: PolicyMode;
  rule: 'deny' | 'warn' | 'allow';
  /** The stored verdict of the digest the tag names, or none (then the namespace rule decides). */
  stored: Decision | 'none';
  unknown: AdmissionNamespaceRule['unknown'];
  /** What a `scan` namespace rule's scan finds. */
  scanned: Decision;
  tag: 'v1' | 'latest';
  policy: 'Always' | 'IfNotPresent' | 'Never' | undefined;
}

/** The outcome of a verdict under a mode, stated plainly (enforce denies a blocking verdict, warn warns, audit admits). */
function verdictOutcome(d: Decision, mode: PolicyMode): 'allow' | 'warn' | 'deny' {
  if (d === 'allow') return 'allow';
  if (d === 'warn') return 'warn';
  return mode === 'enforce' ? 'deny' : mode === 'warn' ? 'warn' : 'allow';
}

async function run(c: Case): Promise<Json> {
  const gate = new FakeGate();
  gate.assessDelayMs = 0;
  const D = dg(21);
  gate.tags.set(`team/app:${c.tag}`, D);
  gate.modes.set('team/app', c.mode);
  if (c.stored !== 'none') gate.put(verdict('team/app', D, c.stored, c.stored === 'allow' ? [] : [['rule-x', 'finding']]));
  gate.scanResults.set(`team/app@${D}`, verdict('team/app', D, c.scanned, c.scanned === 'allow' ? [] : [['rule-x', 'finding']]));
  const config = admissionConfig({ unpinnedTags: c.rule, namespaces: [{ match: '*', unknown: c.unknown }] });
  const deps = { gate, config, digestCache: createDigestCache(gate, config.digestCacheTtlMs) };
  const container = { name: 'a', image: `${H}/team/app:${c.tag}`, ...(c.policy === undefined ? {} : { imagePullPolicy: c.policy }) };
  const body = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u', kind: { kind: 'Pod' }, operation: 'CREATE', namespace: 'team-app', userInfo: { username: 'alice' }, object: { metadata: { name: 'p' }, spec: { containers: [container] } } },
  };
  return ((await validateReview(body, deps)).body as Json).response;
}

const cases = fc.record<Case>({
  mode: fc.constantFrom<PolicyMode>('enforce', 'warn', 'audit'),
  rule: fc.constantFrom<Case['rule']>('deny', 'warn', 'allow'),
  stored: fc.constantFrom<Case['stored']>('none', 'allow', 'warn', 'quarantine', 'reject'),
  unknown: fc.constantFrom<Case['unknown']>('deny', 'allow', 'scan'),
  scanned: fc.constantFrom<Decision>('allow', 'warn', 'quarantine', 'reject'),
  tag: fc.constantFrom<Case['tag']>('v1', 'latest'),
  policy: fc.constantFrom<Case['policy']>(undefined, 'Always', 'IfNotPresent', 'Never'),
});

describe('admission.unpinnedTags follows the mapping mode (enforce refuses, warn and audit warn)', () => {
  it('property over modes × unpinnedTags × verdicts × namespace rules × pull policies', async function () {
    this.timeout(180_000);
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const r = await run(c);
        const image = `${H}/team/app:${c.tag}`;
        const effective = c.policy ?? (c.tag === 'latest' ? 'Always' : 'IfNotPresent');
        const cacheable = effective !== 'Always';
        const before: 'allow' | 'warn' | 'deny' =
          c.stored !== 'none' ? verdictOutcome(c.stored, c.mode) : c.unknown === 'deny' ? 'deny' : c.unknown === 'allow' ? 'warn' : verdictOutcome(c.scanned, c.mode);
        const applies = before !== 'deny' && cacheable && c.rule !== 'allow';
        const refused = applies && c.rule === 'deny' && c.mode === 'enforce';
        expect(r.allowed, JSON.stringify(r)).to.equal(before !== 'deny' && !refused);
        const advice = cut(`tag may run from node cache; pin by digest or set imagePullPolicy: Always: ${image}`);
        if (refused) {
          expect(r.status.message).to.contain(`: unpinned-tag — tag without digest and imagePullPolicy ${effective}: the node may run an image it cached under this tag`);
          return;
        }
        if (!r.allowed) {
          expect(r.status.message).not.to.contain('unpinned-tag');
          return;
        }
        expect(r.warnings ?? [], JSON.stringify(r)).to.have.length(applies ? 1 + (before === 'warn' ? 1 : 0) : before === 'warn' ? 1 : 0);
        if (!applies) {
          expect(JSON.stringify(r)).not.to.contain('node cache');
          return;
        }
        // The same warning as `unpinnedTags: warn` gives, first; the annotation says why it was admitted.
        expect(r.warnings[0]).to.equal(advice);
        const note: string = r.auditAnnotations['unpinned-tag'];
        expect(note).to.contain(`pin it by digest (${image}@${dg(21)}`);
        if (c.rule === 'deny') expect(note).to.contain(`admitted: its mapping is in ${c.mode} mode`);
        else expect(note).not.to.contain('admitted: its mapping');
        // A blocking verdict in audit mode is still recorded as such.
        const blocking = (d: Decision | 'none') => d === 'quarantine' || d === 'reject';
        if (c.mode === 'audit' && (blocking(c.stored) || (c.stored === 'none' && c.unknown === 'scan' && blocking(c.scanned)))) expect(r.auditAnnotations['audit-mode']).to.contain('(audit mode)');
      }),
      { numRuns: 400 },
    );
  });

  it('audit mode with the default deny: admitted with the warning unpinnedTags: warn gives', async () => {
    for (const stored of ['allow', 'quarantine', 'none'] as const) {
      const r = await run({ mode: 'audit', rule: 'deny', stored, unknown: 'allow', scanned: 'allow', tag: 'v1', policy: 'IfNotPresent' });
      expect(r.allowed, stored).to.equal(true);
      expect(r.warnings[0]).to.equal(`tag may run from node cache; pin by digest or set imagePullPolicy: Always: ${H}/team/app:v1`);
    }
  });

  it('enforce mode keeps refusing, also under a namespace rule that admits never-scanned images', async () => {
    for (const stored of ['allow', 'none'] as const) {
      const r = await run({ mode: 'enforce', rule: 'deny', stored, unknown: 'allow', scanned: 'allow', tag: 'v1', policy: 'IfNotPresent' });
      expect(r.allowed, stored).to.equal(false);
      expect(r.status.message).to.contain('unpinned-tag');
    }
  });
});
