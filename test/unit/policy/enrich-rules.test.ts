/**
 * The rules on exploitation and end-of-life data: `vulnerability.kev`, `vulnerability.epss`, `eol` (with
 * allowExtendedSupport, gracePeriod, kinds, products), and `spec.severity.prefer`. Tables with each bound
 * just inside and just outside; the EPSS bounds also as a property over generated scores.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { stringify } from 'yaml';
import type { EolFinding } from '../../../src/core/finding.js';
import { compilePolicy, evaluate, type CompiledPolicy, type PolicyInput } from '../../../src/policy/index.js';
import { finding, input } from './inputs.js';

const NOW = new Date('2026-12-05T00:00:00Z');
const KEV = { cve: 'CVE-2023-44487', dateAdded: '2023-10-10', dueDate: '2023-10-31', knownRansomwareCampaignUse: 'Unknown' };

/** A policy whose only rule set holds one rule `r` (action reject) with `match`. */
function oneRule(match: object): CompiledPolicy {
  const doc = { apiVersion: 'pushgate.dev/v1', kind: 'Policy', metadata: { name: 't' }, spec: { ruleSets: { default: { onIncomplete: 'allow', rules: [{ name: 'r', action: 'reject', match }] } } } };
  return compilePolicy(stringify(doc), '<test>');
}

function fires(match: object, over: Partial<PolicyInput>): boolean {
  return evaluate(oneRule(match), input({ now: NOW, ...over })).reasons.some((r) => r.rule === 'r');
}

const debianEol = (over: Partial<EolFinding> = {}): EolFinding => ({
  id: 'os-eol', product: 'debian', cycle: '12', codename: 'Bookworm', version: '12', via: 'os-release',
  eol: '2026-07-11', extendedSupportUntil: '2028-06-30', inExtendedSupport: true, ...over,
});
const nodeEol: EolFinding = { id: 'runtime-eol', product: 'nodejs', cycle: '18', version: '18.20.8', via: 'config:Env NODE_VERSION', eol: '2025-04-30', inExtendedSupport: false };

describe('policy: kev and epss conditions', () => {
  const rows: Array<[string, object, Partial<PolicyInput>, boolean]> = [
    ['kev: true, finding in KEV', { vulnerability: { kev: true } }, { findings: [finding({ kev: KEV })] }, true],
    ['kev: true, finding not in KEV', { vulnerability: { kev: true } }, { findings: [finding()] }, false],
    ['kev: false, finding not in KEV', { vulnerability: { kev: false } }, { findings: [finding()] }, true],
    ['kev: false, finding in KEV', { vulnerability: { kev: false } }, { findings: [finding({ kev: KEV })] }, false],
    ['kev and minSeverity both hold', { vulnerability: { kev: true, minSeverity: 'high' } }, { findings: [finding({ kev: KEV, severity: 'high' })] }, true],
    ['kev holds, minSeverity does not', { vulnerability: { kev: true, minSeverity: 'critical' } }, { findings: [finding({ kev: KEV, severity: 'high' })] }, false],
    ['epss.min, finding without EPSS data', { vulnerability: { epss: { min: 0 } } }, { findings: [finding()] }, false],
    ['epss.minPercentile just reached', { vulnerability: { epss: { minPercentile: 0.95 } } }, { findings: [finding({ epss: { cve: 'CVE-1', score: 0.1, percentile: 0.95 } })] }, true],
    ['epss.minPercentile just missed', { vulnerability: { epss: { minPercentile: 0.95 } } }, { findings: [finding({ epss: { cve: 'CVE-1', score: 0.9, percentile: 0.9499 } })] }, false],
  ];
  for (const [name, match, over, expected] of rows) {
    it(`${expected ? 'fires' : 'does not fire'}: ${name}`, () => expect(fires(match, over)).to.equal(expected));
  }

  it('epss.min fires exactly on findings scored at or above it (property)', () => {
    fc.assert(fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (min, score) => {
      const f = finding({ epss: { cve: 'CVE-2024-1', score, percentile: 0.5 } });
      expect(fires({ vulnerability: { epss: { min } } }, { findings: [f] })).to.equal(score >= min);
    }));
  });

  it('the reason names the KEV date and the EPSS score', () => {
    const ev = evaluate(oneRule({ vulnerability: { kev: true } }), input({ now: NOW, findings: [finding({ kev: KEV, epss: { cve: KEV.cve, score: 0.94, percentile: 0.999 }, severitySource: 'NVD CVSS_V3.1 CVE-2023-44487' })] }));
    expect(ev.reasons[0].message).to.include('known exploited (CISA KEV)').and.include('CISA KEV since 2023-10-10').and.include('EPSS 0.940').and.include('(NVD CVSS_V3.1 CVE-2023-44487)');
  });

  it('refuses an empty epss condition and scores outside 0..1, naming the key', () => {
    expect(() => oneRule({ vulnerability: { epss: {} } })).to.throw(/match\.vulnerability\.epss: takes min and\/or minPercentile/);
    expect(() => oneRule({ vulnerability: { epss: { min: 1.5 } } })).to.throw(/match\.vulnerability\.epss\.min/);
  });
});

describe('policy: eol rule', () => {
  const rows: Array<[string, object, EolFinding[], boolean, string?]> = [
    ['any eol finding', {}, [debianEol()], true],
    ['no eol finding', {}, [], false],
    ['allowExtendedSupport, still in LTS', { allowExtendedSupport: true }, [debianEol()], false],
    ['allowExtendedSupport, LTS ended', { allowExtendedSupport: true }, [debianEol({ inExtendedSupport: false })], true, '2028-08-01T00:00:00Z'],
    ['allowExtendedSupport, no extended support at all', { allowExtendedSupport: true }, [nodeEol], true],
    // regular support ended 2026-07-11 (last supported day): 146 days before NOW
    ['gracePeriod 146d, just over', { gracePeriod: '146d' }, [debianEol()], true],
    ['gracePeriod 147d, not yet', { gracePeriod: '147d' }, [debianEol()], false],
    ['gracePeriod counts from the end of LTS when extended support is allowed: not yet', { allowExtendedSupport: true, gracePeriod: '30d' }, [debianEol({ inExtendedSupport: false })], false, '2028-07-30T00:00:00Z'],
    ['gracePeriod counts from the end of LTS when extended support is allowed: over', { allowExtendedSupport: true, gracePeriod: '30d' }, [debianEol({ inExtendedSupport: false })], true, '2028-07-31T00:00:01Z'],
    ['kinds: [runtime] on an OS finding', { kinds: ['runtime'] }, [debianEol()], false],
    ['kinds: [runtime] on a runtime finding', { kinds: ['runtime'] }, [nodeEol], true],
    ['products glob matches', { products: ['node*'] }, [debianEol(), nodeEol], true],
    ['products glob misses', { products: ['python'] }, [debianEol(), nodeEol], false],
    ['an unknown end date counts as long past', { gracePeriod: '3650d' }, [debianEol({ eol: 'unknown', extendedSupportUntil: undefined, inExtendedSupport: false })], true],
  ];
  for (const [name, match, eol, expected, now] of rows) {
    it(`${expected ? 'fires' : 'does not fire'}: ${name}`, () => {
      const ev = evaluate(oneRule({ eol: match }), input({ now: new Date(now ?? NOW), eol }));
      expect(ev.reasons.some((r) => r.rule === 'r')).to.equal(expected);
    });
  }

  it('the reason says which release, how it was found, and when support ended', () => {
    const ev = evaluate(oneRule({ eol: {} }), input({ now: NOW, eol: [debianEol(), nodeEol] }));
    expect(ev.reasons[0].findings).to.deep.equal(['os-eol', 'runtime-eol']);
    expect(ev.reasons[0].message).to.include('2 releases past end of life')
      .and.include('debian 12 (Bookworm), found by os-release: regular security support ended 2026-07-11; extended support until 2028-06-30')
      .and.include('nodejs 18, found by config:Env NODE_VERSION: regular security support ended 2025-04-30');
  });

  it('refuses unknown kinds and bad durations, naming the key', () => {
    expect(() => oneRule({ eol: { kinds: ['kernel'] } })).to.throw(/match\.eol\.kinds\[0\]/);
    expect(() => oneRule({ eol: { gracePeriod: 'a month' } })).to.throw(/match\.eol\.gracePeriod: must be a duration/);
  });
});

describe('policy: spec.severity.prefer', () => {
  const doc = (prefer: unknown) => stringify({ apiVersion: 'pushgate.dev/v1', kind: 'Policy', metadata: { name: 't' }, spec: { severity: { prefer }, ruleSets: { default: { rules: [] } } } });

  it('is compiled as given; absent, the matcher default applies', () => {
    expect(compilePolicy(doc(['nvd', 'vendor']), '<t>').severityPrefer).to.deep.equal(['nvd', 'vendor']);
    expect(compilePolicy(stringify({ apiVersion: 'pushgate.dev/v1', kind: 'Policy', metadata: { name: 't' }, spec: { ruleSets: { default: { rules: [] } } } }), '<t>').severityPrefer).to.equal(undefined);
  });

  it('refuses unknown sources and repeats, naming the key', () => {
    expect(() => compilePolicy(doc(['nvd', 'ghsa']), '<t>')).to.throw(/spec\.severity\.prefer.*vendor, advisory, nvd, osv/);
    expect(() => compilePolicy(doc(['nvd', 'nvd']), '<t>')).to.throw(/spec\.severity\.prefer/);
  });
});
