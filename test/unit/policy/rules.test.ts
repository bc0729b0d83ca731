/**
 * One table per rule kind: each row is a match, an input, and whether the rule fires. Rows come in
 * pairs where possible (just inside / just outside a bound), so every condition is shown to both hold
 * and fail.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { compilePolicy, evaluate, type CompiledPolicy, type PolicyInput, type RuleSetSpec } from '../../../src/policy/index.js';
import { finding, input, labConfig, labSize } from './inputs.js';

const NOW = new Date('2026-12-01T00:00:00Z');
const DAY = 86_400_000;
const ago = (days: number) => new Date(NOW.getTime() - days * DAY).toISOString();
const BASE = 'sha256:4e2a77cd3b0789492d034ad52d9731dd9bb1fe12f44f8e55772fb7183ac9867a';
const TOP = 'sha256:093f6d0416fc5c1b7b67be0b5d69950961ef79e8de5c3bc2ca29e00e1378bbe8';

/** A policy whose only rule set holds one rule `r` (action reject) with `match`. */
export function oneRule(match: object, set: Partial<RuleSetSpec> = {}, rule: object = {}): CompiledPolicy {
  const doc = {
    apiVersion: 'pushgate.dev/v1',
    kind: 'Policy',
    metadata: { name: 't' },
    spec: { ruleSets: { default: { onIncomplete: 'allow', ...set, rules: [{ name: 'r', action: 'reject', ...rule, match }] } } },
  };
  return compilePolicy(stringify(doc), '<test>');
}

function fires(p: CompiledPolicy, over: Partial<PolicyInput>): boolean {
  const ev = evaluate(p, input({ now: NOW, ...over }));
  return ev.reasons.some((r) => r.rule === 'r');
}

type Row = [string, object, Partial<PolicyInput>, boolean, Partial<RuleSetSpec>?];

function table(rows: Row[]): void {
  for (const [name, match, over, expected, set] of rows) {
    it(`${expected ? 'fires' : 'does not fire'}: ${name}`, () => {
      expect(fires(oneRule(match, set), over)).to.equal(expected);
    });
  }
}

describe('policy rules: vulnerability', () => {
  const v = (m: object) => ({ vulnerability: m });
  const f = (o: Parameters<typeof finding>[0]) => ({ findings: [finding(o)] });
  table([
    ['severity high ≥ high', v({ minSeverity: 'high' }), f({ severity: 'high' }), true],
    ['severity medium < high', v({ minSeverity: 'high' }), f({ severity: 'medium' }), false],
    ['critical ≥ high', v({ minSeverity: 'high' }), f({ severity: 'critical' }), true],
    ['unknown, unknownSeverity ignore', v({ minSeverity: 'low' }), f({ severity: 'unknown' }), false],
    ['unknown treated as high', v({ minSeverity: 'high' }), f({ severity: 'unknown' }), true, { unknownSeverity: 'high' }],
    ['unknown treated as low < high', v({ minSeverity: 'high' }), f({ severity: 'unknown' }), false, { unknownSeverity: 'low' }],
    ['CVSS 8.2 ≥ 7', v({ minCvss: 7 }), f({ cvss: { score: 8.2, vector: 'x', version: '3.0' } }), true],
    ['CVSS 6.9 < 7', v({ minCvss: 7 }), f({ cvss: { score: 6.9, vector: 'x', version: '3.0' } }), false],
    ['no CVSS score with minCvss', v({ minCvss: 0 }), f({}), false],
    ['fix available, wanted', v({ fixAvailable: true }), f({ fixedVersions: ['2'] }), true],
    ['no fix, fix wanted', v({ fixAvailable: true }), f({ fixedVersions: [] }), false],
    ['no fix, no fix wanted', v({ fixAvailable: false }), f({ fixedVersions: [] }), true],
    ['fix, no fix wanted', v({ fixAvailable: false }), f({ fixedVersions: ['2'] }), false],
    ['fix public 8d, grace 7d', v({ fixGracePeriod: '7d' }), f({ published: ago(8) }), true],
    ['fix public 6d, grace 7d', v({ fixGracePeriod: '7d' }), f({ published: ago(6) }), false],
    ['grace uses modified when published is the 1970 placeholder', v({ fixGracePeriod: '7d' }), f({ published: '1970-01-01T00:00:00Z', modified: ago(3) }), false],
    ['grace without any date: the grace is over', v({ fixGracePeriod: '7d' }), f({ published: undefined }), true],
    ['grace needs a fix', v({ fixGracePeriod: '7d' }), f({ published: ago(30), fixedVersions: [] }), false],
    ['advisory 400d old, minAge 365d', v({ minAge: '365d' }), f({ published: ago(400) }), true],
    ['advisory 300d old, minAge 365d', v({ minAge: '365d' }), f({ published: ago(300) }), false],
    ['advisory 10d old, maxAge 30d', v({ maxAge: '30d' }), f({ published: ago(10) }), true],
    ['advisory 40d old, maxAge 30d', v({ maxAge: '30d' }), f({ published: ago(40) }), false],
    ['id by alias, case-insensitive', v({ ids: ['cve-2099-0001'] }), f({}), true],
    ['id by own id', v({ ids: ['TEST-1'] }), f({}), true],
    ['other id', v({ ids: ['CVE-2000-1'] }), f({}), false],
    ['ecosystem with release', v({ ecosystems: ['Debian'] }), f({ ecosystem: 'Debian:12' }), true],
    ['other ecosystem', v({ ecosystems: ['Debian'] }), f({ ecosystem: 'npm' }), false],
    ['package glob', v({ packages: ['lib*'] }), f({ package: 'libssl3' }), true],
    ['package glob via advisory (source) name', v({ packages: ['openssl'] }), f({ package: 'libssl3', advisoryPackage: 'openssl' }), true],
    ['package glob miss', v({ packages: ['lib*'] }), f({ package: 'zlib1g' }), false],
    ['AND of conditions: high but no fix', v({ minSeverity: 'high', fixAvailable: true }), f({ fixedVersions: [] }), false],
  ]);
});

describe('policy rules: package denylist', () => {
  const pkg = (ecosystem: string, name: string, version: string) => ({
    packages: [{ ecosystem, name, version, purl: `pkg:x/${name}@${version}`, path: '/p', analyzer: 't' }],
  });
  const deny = (e: object) => ({ packages: [e] });
  table([
    ['npm semver range hit', deny({ ecosystem: 'npm', name: 'event-stream', versions: '>=3.3.6 <4.0.0' }), pkg('npm', 'event-stream', '3.3.6'), true],
    ['npm semver range miss', deny({ ecosystem: 'npm', name: 'event-stream', versions: '>=3.3.6 <4.0.0' }), pkg('npm', 'event-stream', '3.3.5'), false],
    ['npm prerelease inside the range', deny({ ecosystem: 'npm', name: 'x', versions: '>=1.0.0' }), pkg('npm', 'x', '2.0.0-beta.1'), true],
    ['Debian exact version hit', deny({ ecosystem: 'Debian', name: 'xz-utils', versions: ['5.6.0-0.1', '5.6.1-1'] }), pkg('Debian', 'xz-utils', '5.6.1-1'), true],
    ['Debian: a range string is an exact version, not a range', deny({ ecosystem: 'Debian', name: 'xz-utils', versions: '>=5.6.0' }), pkg('Debian', 'xz-utils', '5.6.1-1'), false],
    ['any version when versions omitted', deny({ name: 'left-pad' }), pkg('npm', 'left-pad', '0.0.1'), true],
    ['scoped name glob', deny({ name: '@evil/*' }), pkg('npm', '@evil/thing', '1.0.0'), true],
    ['other ecosystem', deny({ ecosystem: 'PyPI', name: 'left-pad' }), pkg('npm', 'left-pad', '1.0.0'), false],
  ]);
});

describe('policy rules: secrets', () => {
  const s = (rule: string, severity = 'critical') => ({ secrets: [{ rule, severity, path: '/app/.env', redacted: 'x***' }] });
  table([
    ['any secret', { secret: {} }, s('github-token'), true],
    ['no secret', { secret: {} }, {}, false],
    ['rule glob aws-*', { secret: { rules: ['aws-*'] } }, s('aws-access-key-id'), true],
    ['rule glob miss', { secret: { rules: ['aws-*'] } }, s('private-key'), false],
    ['minSeverity critical, high secret', { secret: { minSeverity: 'critical' } }, s('slack-token', 'high'), false],
  ]);
});

describe('policy rules: image configuration', () => {
  const cfg = (c: object, over: object = {}) => ({ imageConfig: { config: c, ...over } });
  table([
    ['no USER', { image: { runsAsRoot: true } }, cfg({}), true],
    ['USER 0:0', { image: { runsAsRoot: true } }, cfg({ User: '0:0' }), true],
    ['USER root', { image: { runsAsRoot: true } }, cfg({ User: 'root' }), true],
    ['USER 10001', { image: { runsAsRoot: true } }, cfg({ User: '10001' }), false],
    ['scanner check runs-as-root (USER app is uid 0)', { image: { runsAsRoot: true } }, { ...cfg({ User: 'app' }), config: [{ check: 'runs-as-root', severity: 'medium', message: 'm' }] }, true],
    ['lab node-app runs as root', { image: { runsAsRoot: true } }, { imageConfig: labConfig('node-app') }, true],
    ['created 100d ago, maxAge 90d', { image: { maxAge: '90d' } }, cfg({}, { created: ago(100) }), true],
    ['created 80d ago, maxAge 90d', { image: { maxAge: '90d' } }, cfg({}, { created: ago(80) }), false],
    ['no created date', { image: { maxAge: '90d' } }, cfg({}), false],
    ['lab adm-zip larger than 1MiB', { image: { maxSize: '1MiB' } }, { imageSize: labSize('adm-zip') }, true],
    ['lab adm-zip within 1GiB', { image: { maxSize: '1GiB' } }, { imageSize: labSize('adm-zip') }, false],
    ['size in bytes', { image: { maxSize: 100 } }, { imageSize: 101 }, true],
    ['missing required label', { image: { requiredLabels: ['org.opencontainers.image.source'] } }, { imageConfig: labConfig('adm-zip') }, true],
    ['required label present', { image: { requiredLabels: ['org.opencontainers.image.title'] } }, { imageConfig: labConfig('adm-zip') }, false],
    ['forbidden port 22 (any protocol)', { image: { forbiddenPorts: [22] } }, cfg({ ExposedPorts: { '22/tcp': {} } }), true],
    ['forbidden range 6000-6063/tcp', { image: { forbiddenPorts: ['6000-6063/tcp'] } }, cfg({ ExposedPorts: { '6010/tcp': {} } }), true],
    ['udp port vs tcp entry', { image: { forbiddenPorts: ['53/tcp'] } }, cfg({ ExposedPorts: { '53/udp': {} } }), false],
    ['allowed port', { image: { forbiddenPorts: [22] } }, cfg({ ExposedPorts: { '8080/tcp': {} } }), false],
  ]);
});

describe('policy rules: base image allowlist', () => {
  const allowed = { baseImage: { allowed: [{ name: 'docker.io/library/debian:*' }, { diffIDs: [BASE] }] } };
  const withLabel = (label: string) => ({ imageConfig: { config: { Labels: { 'org.opencontainers.image.base.name': label } }, rootfs: { type: 'layers', diff_ids: [TOP] } } });
  table([
    ['label matches a name glob, author trusted (CLI)', allowed, { ...withLabel('docker.io/library/debian:bookworm-slim'), baseVerified: true }, false],
    ['label of another base, author trusted (CLI)', allowed, { ...withLabel('docker.io/library/alpine:3.20'), baseVerified: true }, true],
    // At the gate the label is the pusher's word: it must not pass the allowlist alone.
    ['label matches a name glob, author not trusted (gate)', allowed, withLabel('docker.io/library/debian:bookworm-slim'), true],
    ['no label, layers begin with an allowed base (lab adm-zip)', allowed, { imageConfig: labConfig('adm-zip') }, false],
    ['no label, other layers', allowed, { imageConfig: { rootfs: { type: 'layers', diff_ids: [TOP] } } }, true],
    ['baseLayers given by the caller', allowed, { baseLayers: [BASE], imageConfig: { rootfs: { type: 'layers', diff_ids: [TOP] } } }, false],
  ]);
});

describe('policy rules: excludeBase and onIncomplete', () => {
  const inBase = finding({ id: 'BASE-1', layer: BASE });
  const inTop = finding({ id: 'TOP-1', layer: TOP });
  it('drops findings from the base image layers only when excludeBase applies', () => {
    const on = oneRule({ vulnerability: { minSeverity: 'high' } }, { excludeBase: true });
    const ev = evaluate(on, input({ findings: [inBase, inTop], baseLayers: [BASE], baseVerified: true }));
    expect(ev.reasons[0].findings).to.deep.equal(['TOP-1']);
    expect(evaluate(on, input({ findings: [inBase], baseLayers: [BASE], baseVerified: true })).decision).to.equal('allow');
    const off = oneRule({ vulnerability: { minSeverity: 'high' } });
    expect(evaluate(off, input({ findings: [inBase, inTop], baseLayers: [BASE], baseVerified: true })).reasons[0].findings).to.deep.equal(['BASE-1', 'TOP-1']);
    // A rule may override its set.
    const overridden = oneRule({ vulnerability: { minSeverity: 'high' } }, { excludeBase: true }, { excludeBase: false });
    expect(evaluate(overridden, input({ findings: [inBase], baseLayers: [BASE], baseVerified: true })).decision).to.equal('reject');
  });

  it('excludeBase drops nothing when the base is only the image author\'s word (history, labels): any layers, any origins', () => {
    // The pusher writes the history that names the base layers: unverified, every finding is judged.
    const on = oneRule({ vulnerability: { minSeverity: 'high' } }, { excludeBase: true });
    fc.assert(fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }), fc.boolean(), (marks, withOrigin) => {
      const findings = marks.map((b, i) => finding({ id: `F-${i}`, layer: b ? BASE : TOP, ...(withOrigin ? { origin: b ? 'base' as const : 'app' as const } : {}) }));
      const ev = evaluate(on, input({ findings, baseLayers: [BASE] }));
      expect(ev.reasons[0].findings).to.deep.equal(findings.map((f) => f.id));
      const verified = evaluate(on, input({ findings, baseLayers: [BASE], baseVerified: true }));
      expect(verified.reasons[0]?.findings ?? []).to.deep.equal(findings.filter((_, i) => !marks[i]).map((f) => f.id));
    }));
  });

  for (const [onIncomplete, decision] of [['reject', 'reject'], ['quarantine', 'quarantine'], ['warn', 'warn'], ['allow', 'allow']] as const) {
    it(`onIncomplete ${onIncomplete} → ${decision}`, () => {
      const p = oneRule({ secret: {} }, { onIncomplete });
      const ev = evaluate(p, input({ complete: false, diagnostics: [{ code: 'blob-missing', message: 'layer sha256:ab… missing', incomplete: true }] }));
      expect(ev.decision).to.equal(decision);
      expect(ev.reasons.map((r) => r.rule)).to.deep.equal(onIncomplete === 'allow' ? [] : ['incomplete-scan']);
    });
  }
});

describe('policy reasons', () => {
  it('name the first five items and count the rest; list every id in findings', () => {
    const p = oneRule({ vulnerability: {} });
    const findings = Array.from({ length: 7 }, (_, i) => finding({ id: `T-${i}`, package: `p${i}` }));
    const [r] = evaluate(p, input({ findings })).reasons;
    expect(r.message).to.match(/^7 vulnerabilities: /).and.include('p4 1.0.0').and.include('and 2 more');
    expect(r.message).not.to.include('p5 1.0.0');
    expect(r.findings).to.have.length(7);
  });

  it('decision is the worst action; reasons worst first', () => {
    const doc = {
      apiVersion: 'pushgate.dev/v1',
      kind: 'Policy',
      metadata: { name: 't' },
      spec: {
        ruleSets: {
          default: {
            rules: [
              { name: 'w', action: 'warn', match: { image: { runsAsRoot: true } } },
              { name: 'q', action: 'quarantine', match: { vulnerability: {} } },
            ],
          },
        },
      },
    };
    const ev = evaluate(compilePolicy(stringify(doc), '<t>'), input({ findings: [finding()], imageConfig: {} }));
    expect(ev.decision).to.equal('quarantine');
    expect(ev.reasons.map((r) => r.rule)).to.deep.equal(['q', 'w']);
    expect(evaluate(compilePolicy(stringify(doc), '<t>'), input()).decision).to.equal('allow');
  });
});
