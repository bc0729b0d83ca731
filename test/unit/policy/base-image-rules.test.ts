/**
 * The base image rules with a detected base (src/base): allowed by catalog name, upToDate after its
 * grace, maxAge; excludeBase by attribution (`origin`) over layers; reasons naming the rebuild.
 */
import { expect } from 'chai';
import type { BaseImage } from '../../../src/core/index.js';
import { stringify } from 'yaml';
import { compilePolicy, evaluate, type CompiledPolicy, type PolicyInput, type RuleSetSpec } from '../../../src/policy/index.js';
import { finding, input } from './inputs.js';

/** A policy of one rule (action reject) in its default rule set. */
function oneRule(match: object, set: Partial<RuleSetSpec> = {}): CompiledPolicy {
  const doc = { apiVersion: 'pushgate.dev/v1', kind: 'Policy', metadata: { name: 't' }, spec: { ruleSets: { default: { onIncomplete: 'allow', ...set, rules: [{ name: 'r', action: 'reject', match }] } } } };
  return compilePolicy(stringify(doc), '<test>');
}

const NOW = new Date('2026-12-01T00:00:00Z');
const DAY = 86_400_000;
const ago = (days: number) => new Date(NOW.getTime() - days * DAY).toISOString();
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const L = `sha256:${'a'.repeat(64)}`;

function base(over: Partial<BaseImage> = {}): BaseImage {
  return { method: 'chain', registry: 'lab', repository: 'lab/debian', tags: ['12'], digest: D1 as never, layers: [L as never], note: 'n', created: ago(30), ...over };
}
const refresh = (sinceDays: number) => ({ kind: 'refresh' as const, repository: 'lab/debian', tag: '12', digest: D2 as never, since: ago(sinceDays), fixes: ['DEBIAN-CVE-1'], summary: { counts: { unknown: 0, negligible: 0, low: 0, medium: 2, high: 0, critical: 0 }, fixable: { unknown: 0, negligible: 0, low: 0, medium: 0, high: 0, critical: 0 } } });
const decide = (match: object, over: Partial<PolicyInput>) => evaluate(oneRule(match), input({ now: NOW, ...over }));

describe('policy rules: base image with a detected base', () => {
  it('upToDate fires only after its grace, naming the newer digest and what it fixes', () => {
    const rule = { baseImage: { upToDate: { grace: '7d' } } };
    expect(decide(rule, { base: base() }).decision).to.equal('allow');
    expect(decide(rule, { base: base({ recommendations: [refresh(3)] }) }).decision).to.equal('allow');
    const ev = decide(rule, { base: base({ recommendations: [refresh(8)] }) });
    expect(ev.decision).to.equal('reject');
    expect(ev.reasons[0].message).to.include(D2).and.include('DEBIAN-CVE-1').and.include('rebuild on lab/debian:12 (refreshed');
    // excludeBase is about findings: it never silences the rule about the base itself.
    expect(evaluate(oneRule(rule, { excludeBase: true }), input({ now: NOW, base: base({ recommendations: [refresh(8)] }) })).decision).to.equal('reject');
  });

  it('maxAge fires on the base\'s creation time', () => {
    expect(decide({ baseImage: { maxAge: '60d' } }, { base: base() }).decision).to.equal('allow');
    expect(decide({ baseImage: { maxAge: '10d' } }, { base: base() }).decision).to.equal('reject');
    expect(decide({ baseImage: { maxAge: '10d' } }, {}).decision, 'no base known: nothing to judge').to.equal('allow');
  });

  it('allowed matches the detected base by repository:tag', () => {
    expect(decide({ baseImage: { allowed: [{ name: 'lab/debian:12*' }] } }, { base: base() }).decision).to.equal('allow');
    const ev = decide({ baseImage: { allowed: [{ name: 'lab/alpine:*' }] } }, { base: base() });
    expect(ev.decision).to.equal('reject');
    expect(ev.reasons[0].message).to.include('lab/debian:12 (found by chain)');
  });

  it('allowed never takes the author\'s base.name label over, or instead of, the verified base', () => {
    const rule = { baseImage: { allowed: [{ name: 'lab/debian:12*' }] } };
    const lie = { imageConfig: { config: { Labels: { 'org.opencontainers.image.base.name': 'lab/debian:12' } }, rootfs: { type: 'layers' as const, diff_ids: [`sha256:${'e'.repeat(64)}`] } } };
    // The catalog verified the base as lab/evil: the label's claim must not allow it.
    const verified = decide(rule, { ...lie, base: base({ repository: 'lab/evil', tags: ['1'] }), baseVerified: true });
    expect(verified.decision).to.equal('reject');
    expect(verified.reasons[0].message).to.include('lab/evil:1 (found by chain)').and.include("author's word");
    // No base found (or history only) at the gate: the label alone is not evidence.
    const unverified = decide(rule, { ...lie, base: base({ method: 'history', repository: undefined, tags: [], digest: undefined }), baseVerified: false });
    expect(unverified.decision).to.equal('reject');
    expect(unverified.reasons[0].message).to.include('unverified');
    expect(decide(rule, { ...lie }).decision).to.equal('reject');
    // The CLI trusting the author (baseVerified from trustAuthorBase, base only from history): the label names it.
    expect(decide(rule, { ...lie, base: base({ method: 'history', repository: undefined, tags: [], digest: undefined }), baseVerified: true }).decision).to.equal('allow');
  });

  it('excludeBase follows the attribution, and a reason with base findings names the rebuild', () => {
    const fromBase = finding({ id: 'BASE-1', layer: `sha256:${'f'.repeat(64)}`, origin: 'base' });
    const fromApp = finding({ id: 'APP-1', layer: L, origin: 'app' });
    const on = oneRule({ vulnerability: { minSeverity: 'high' } }, { excludeBase: true });
    // origin wins over the layer: APP-1 sits in a base layer by diffID, but the attribution says app.
    expect(evaluate(on, input({ findings: [fromBase, fromApp], baseLayers: [L], baseVerified: true })).reasons[0].findings).to.deep.equal(['APP-1']);
    const off = decide({ vulnerability: { minSeverity: 'high' } }, { findings: [fromBase, fromApp], base: base({ recommendations: [refresh(1)] }) });
    expect(off.reasons[0].message).to.include('1 of 2 come from the base image lab/debian:12: rebuild on lab/debian:12');
    expect(off.reasons[0].message).to.include('0 high, 2 medium');
  });

  it('a rule with two base checks is refused', () => {
    expect(() => oneRule({ baseImage: { maxAge: '1d', upToDate: {} } })).to.throw(/exactly one check/);
  });
});
