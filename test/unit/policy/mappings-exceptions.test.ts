/**
 * Mappings (first match wins, default), modes (enforce, warn, audit), exceptions (active, expired,
 * scopes) on test/fixtures/policy/full.yaml.
 */
import { expect } from 'chai';
import path from 'node:path';
import fc from 'fast-check';
import { ConfigError, isConfigError } from '../../../src/config/errors.js';
import { defaultPolicy, loadPolicy, withExceptions, evaluate, type PolicyInput } from '../../../src/policy/index.js';
import { FIXTURES, finding, input } from './inputs.js';

const full = loadPolicy(path.join(FIXTURES, 'full.yaml'));
const key = { rule: 'private-key', severity: 'critical', path: '/app/.ssh/id_rsa', redacted: '-----BEGIN (redacted)' };
const admZip = finding({ id: 'NSWG-NPM-458', aliases: ['CVE-2018-1002204'], package: 'adm-zip', installedVersion: '0.4.7', fixedVersions: ['0.4.9'], severity: 'high', published: '2018-08-12T00:00:00Z' });
const ev = (over: Partial<PolicyInput>) => evaluate(full, input({ now: new Date('2026-12-01T00:00:00Z'), ...over }));

describe('policy mappings and modes', () => {
  const rows: Array<[string, Partial<PolicyInput>, string, string, string]> = [
    // [what, ref, mapping, ruleSet, mode]
    ['sandbox repository → relaxed, audit', { registry: 'local', repository: 'sandbox/team/app', tag: 'v1' }, 'sandbox', 'relaxed', 'audit'],
    ['release candidate tag → strict, warn', { registry: 'local', repository: 'prod/app', tag: '1.2-rc1' }, 'staging-tags', 'strict', 'warn'],
    ['prod repository → strict, enforce', { registry: 'local', repository: 'prod/app', tag: '1.2' }, 'prod', 'strict', 'enforce'],
    ['first match wins: sandbox before rc tags', { registry: 'local', repository: 'sandbox/x', tag: '1-rc1' }, 'sandbox', 'relaxed', 'audit'],
    ['other registry → default', { registry: 'harbor', repository: 'prod/app', tag: '1.2' }, 'default', 'strict', 'enforce'],
    ['a glob on tag needs a tag (digest push) → next mapping', { registry: 'local', repository: 'prod/app' }, 'prod', 'strict', 'enforce'],
    ['no reference at all (pushgate scan oci:…) → default', {}, 'default', 'strict', 'enforce'],
  ];
  for (const [what, ref, mapping, ruleSet, mode] of rows) {
    it(what, () => {
      const e = ev(ref);
      expect([e.mapping, e.ruleSet, e.mode]).to.deep.equal([mapping, ruleSet, mode]);
    });
  }

  it('enforce keeps the blocking decision', () => {
    const e = ev({ registry: 'local', repository: 'prod/app', tag: '1', secrets: [key] });
    expect(e.decision).to.equal('reject');
    expect(e.reasons.find((r) => r.rule === 'any-secret')?.action).to.equal('reject');
  });

  it('warn downgrades a blocking decision to warn; reasons keep the original action', () => {
    const e = ev({ registry: 'local', repository: 'prod/app', tag: '1-rc2', secrets: [key] });
    expect(e.decision).to.equal('warn');
    expect(e.reasons.find((r) => r.rule === 'any-secret')?.action).to.equal('reject');
  });

  it('audit records the decision as computed (callers neither enforce nor deny)', () => {
    const e = ev({ registry: 'local', repository: 'sandbox/app', tag: '1', secrets: [key] });
    expect(e.mode).to.equal('audit');
    expect(e.decision).to.equal('warn'); // relaxed: secrets → warn
    expect(e.reasons.map((r) => r.rule)).to.deep.equal(['secrets']);
  });

  it('each rule set has its own onIncomplete: strict rejects, relaxed allows', () => {
    const incomplete = { complete: false, diagnostics: [{ code: 'corrupt-layer', message: 'truncated gzip', incomplete: true }] };
    expect(ev({ ...incomplete, registry: 'local', repository: 'prod/a', tag: '1' }).decision).to.equal('reject');
    expect(ev({ ...incomplete, registry: 'local', repository: 'sandbox/a', tag: '1' }).decision).to.equal('allow');
  });
});

describe('policy exceptions', () => {
  it('an active exception removes the items it covers, and is named in appliedExceptions', () => {
    const e = ev({ repository: 'legacy/zipper', findings: [admZip] });
    expect(e.reasons.map((r) => r.rule)).not.to.include('known-bad');
    expect(e.appliedExceptions).to.include('legacy-adm-zip');
    // The same finding elsewhere still fires.
    const other = ev({ repository: 'team/zipper', findings: [admZip] });
    expect(other.reasons.map((r) => r.rule)).to.include('known-bad');
    expect(other.decision).to.equal('reject');
  });

  it('matches the exception id against aliases', () => {
    const e = ev({ repository: 'legacy/zipper', findings: [admZip] });
    expect(e.reasons.flatMap((r) => r.findings ?? [])).not.to.include('NSWG-NPM-458');
  });

  it('an expired exception stops applying and is listed in expiredExceptions', () => {
    const e = ev({ repository: 'legacy/vendor', imageConfig: {} });
    expect(e.reasons.map((r) => r.rule)).to.include('root');
    expect(e.expiredExceptions).to.deep.equal(['old-root']);
    // Before its expiry (through the end of that day, UTC) it applied.
    const before = evaluate(full, input({ repository: 'legacy/vendor', imageConfig: {}, now: new Date('2020-01-31T23:00:00Z') }));
    expect(before.reasons.map((r) => r.rule)).not.to.include('root');
    expect(before.expiredExceptions).to.deep.equal([]);
    // Expired exceptions for other images are not listed.
    expect(ev({ repository: 'team/app', imageConfig: {} }).expiredExceptions).to.deep.equal([]);
  });

  it('a digest-scoped exception limited to one rule covers only that rule on that digest', () => {
    const digest = 'sha256:1111111111111111111111111111111111111111111111111111111111111111';
    const e = ev({ digest, secrets: [key], findings: [admZip] });
    expect(e.reasons.map((r) => r.rule)).not.to.include('any-secret');
    expect(e.reasons.map((r) => r.rule)).to.include('known-bad');
    expect(ev({ digest: digest.replace(/1/g, '2'), secrets: [key] }).reasons.map((r) => r.rule)).to.include('any-secret');
    // Date-time expiry: one second after, it no longer applies.
    const late = evaluate(full, input({ digest, secrets: [key], now: new Date('2030-06-01T12:00:01Z') }));
    expect(late.reasons.map((r) => r.rule)).to.include('any-secret');
    expect(late.expiredExceptions).to.deep.equal(['one-digest']);
  });

  it('property: a registry-scoped exception covers its registry only; without one, every registry; registry alone is no scope', () => {
    const digest = `sha256:${'3'.repeat(64)}`;
    const registries = ['dev', 'prod', 'harbor-eu', '127.0.0.1:5000'];
    fc.assert(
      fc.property(
        fc.constantFrom(undefined, 'dev', 'prod', 'harbor-*', '*'),
        fc.constantFrom(...registries, undefined),
        fc.constantFrom<Array<'ids' | 'digest' | 'repository'>>(['ids'], ['digest'], ['repository'], ['digest', 'repository']),
        (registry, pushedTo, scopes) => {
          const spec = {
            name: 'x', reason: 'r', owner: 'o', expires: '2099-01-01',
            ...(registry !== undefined ? { registry } : {}),
            ...(scopes.includes('ids') ? { ids: ['private-key'] } : {}),
            ...(scopes.includes('digest') ? { digest } : {}),
            ...(scopes.includes('repository') ? { repository: 'team/*' } : {}),
          };
          const policy = withExceptions(full, [spec]);
          const e = evaluate(policy, input({ now: new Date('2026-12-01T00:00:00Z'), registry: pushedTo, repository: 'team/app', tag: '1', digest, secrets: [key] }));
          const covered = registry === undefined || (pushedTo !== undefined && (registry === '*' || registry === pushedTo || (registry === 'harbor-*' && pushedTo.startsWith('harbor-'))));
          expect(e.reasons.some((r) => r.rule === 'any-secret'), JSON.stringify({ registry, pushedTo, scopes })).to.equal(!covered);
        },
      ),
      { numRuns: 200 },
    );
    expect(() => withExceptions(full, [{ name: 'only-registry', reason: 'r', owner: 'o', expires: '2099-01-01', registry: 'dev' }])).to.throw(/needs a scope/);
  });

  it('withExceptions adds validated exceptions (admin API) and refuses invalid ones with every problem', () => {
    const more = withExceptions(full, [{ name: 'api-1', ids: ['private-key'], reason: 'r', owner: 'o', expires: '2030-01-01' }]);
    expect(evaluate(more, input({ secrets: [key] })).reasons.map((r) => r.rule)).not.to.include('any-secret');
    expect(evaluate(full, input({ secrets: [key] })).reasons.map((r) => r.rule)).to.include('any-secret');
    try {
      withExceptions(full, [{ reason: 'r', owner: 'o', expires: 'soon', colour: 'red' } as never]);
      expect.fail('should throw');
    } catch (e) {
      expect(isConfigError(e)).to.equal(true);
      const msgs = (e as { problems: Array<{ key: string }> }).problems.map((p) => p.key).sort();
      expect(msgs).to.deep.equal(['(document)', 'colour', 'expires']);
    }
  });
});

describe('policy: exceptions of any shape are problems, never crashes (property)', () => {
  it('withExceptions throws only ConfigError, naming the field, for arbitrary JSON in every field', () => {
    const anyJson = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }));
    const field = (good: fc.Arbitrary<unknown>) => fc.option(fc.oneof(good, anyJson), { nil: undefined });
    const spec = fc.record(
      {
        reason: field(fc.constant('accepted risk')),
        owner: field(fc.constant('team-a')),
        expires: field(fc.constant('2099-01-01')),
        ids: field(fc.constant(['CVE-2024-1'])),
        packages: field(fc.constant(['lodash'])),
        repository: field(fc.constant('team/*')),
        registry: field(fc.constant('dev')),
        digest: field(fc.constant(`sha256:${'a'.repeat(64)}`)),
        rules: field(fc.constant(['vulnerabilities'])),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(spec, (s) => {
        try {
          withExceptions(defaultPolicy(), [s as never], { now: Date.now() });
        } catch (e) {
          expect(e, String(e)).to.be.instanceOf(ConfigError);
          expect((e as ConfigError).problems.length).to.be.greaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
  });
});
