/**
 * `grace` (per severity, in `spec.default` and `spec.mappings[]`) is at most MAX_GRACE_MS (3650 days): a
 * longer one ("never", `1000000000000w`) made a hold's due time overflow PostgreSQL's bigint and the ISO
 * date of the hold's reason, and the monitor's pass failed at every tick. The policy load says so, naming
 * the key and the maximum.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { isConfigError, type ConfigProblem } from '../../../src/config/errors.js';
import { parseDuration } from '../../../src/config/units.js';
import { compilePolicy, DEFAULT_POLICY_YAML, MAX_GRACE_MS } from '../../../src/policy/index.js';

const DEFAULT_KEYS = '  default:\n    ruleSet: default\n    mode: enforce\n';

/** The default policy with `grace` on the default mapping, or on a mapping before it. */
function policyText(where: 'default' | 'mapping', severity: string, duration: string): string {
  const grace = `    onNewFindings: quarantine\n    grace: { ${severity}: ${duration} }\n`;
  const text =
    where === 'default'
      ? DEFAULT_POLICY_YAML.replace(DEFAULT_KEYS, `${DEFAULT_KEYS}${grace}`)
      : DEFAULT_POLICY_YAML.replace('  mappings: []\n', `  mappings:\n    - name: team\n      repository: "team/*"\n      ruleSet: default\n      onNewFindings: quarantine\n      grace: { ${severity}: ${duration} }\n`);
  expect(text).to.not.equal(DEFAULT_POLICY_YAML);
  return text;
}

function problemsOf(text: string): ConfigProblem[] {
  try {
    compilePolicy(text, 'policy.yaml');
    return [];
  } catch (e) {
    if (!isConfigError(e)) throw e;
    return e.problems;
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

describe('policy: the longest grace', () => {
  it('MAX_GRACE_MS is 3650 days', () => {
    expect(MAX_GRACE_MS).to.equal(parseDuration('3650d'));
  });

  it('3650d and 521w load; 3651d, 522w and 1000000000000w are refused at the key, naming the maximum', () => {
    for (const ok of ['3650d', '521w', '87600h']) expect(problemsOf(policyText('default', 'high', ok)), ok).to.deep.equal([]);
    for (const bad of ['3651d', '522w', '1000000000000w']) {
      const p = problemsOf(policyText('default', 'high', bad));
      expect(p.map((x) => x.key), bad).to.deep.equal(['spec.default.grace.high']);
      expect(p[0].message).to.include(bad).and.include('3650d');
    }
    const p = problemsOf(policyText('mapping', 'critical', '1000000000000w'));
    expect(p.map((x) => x.key)).to.deep.equal(['spec.mappings[0].grace.critical']);
  });

  it('property: a grace loads exactly when it is at most 3650 days, on the default mapping or another', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('default' as const, 'mapping' as const),
        fc.constantFrom('critical', 'high', 'medium', 'low', 'unknown'),
        fc.constantFrom(...Object.keys(UNITS)),
        fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.constantFrom(3650, 3651, 521, 522, 87_600, 87_601)),
        (where, severity, unit, n) => {
          const p = problemsOf(policyText(where, severity, `${n}${unit}`));
          if (n * UNITS[unit] <= MAX_GRACE_MS) expect(p).to.deep.equal([]);
          else {
            expect(p).to.have.length(1);
            expect(p[0].key).to.match(new RegExp(`\\.grace\\.${severity}$`));
            expect(p[0].message).to.include('3650d');
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
