/**
 * Compiling policy documents: every problem with its line and column, the default policy embedded
 * identically to config/policy.yaml, revisions, and withSeverityThreshold.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { ConfigError, formatProblem } from '../../../src/config/errors.js';
import { parseLocated, toJSLocated } from '../../../src/config/yaml-doc.js';
import { compileShippedPolicy } from '../../../src/policy/compile.js';
import { DEFAULT_POLICY_DOCUMENT } from '../../../src/policy/default-policy-document.js';
import {
  DEFAULT_POLICY_YAML,
  compilePolicy,
  defaultPolicy,
  evaluate,
  isPolicyText,
  loadPolicy,
  withSeverityThreshold,
} from '../../../src/policy/index.js';
import { ROOT } from '../../helpers/lab.js';
import { FIXTURES, finding, input } from './inputs.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    expect((e as ConfigError).code).to.equal('BAD_CONFIG');
    return (e as ConfigError).problems.map(formatProblem);
  }
  expect.fail('expected a ConfigError');
}

describe('policy compile: problems with positions', () => {
  it('reports every schema problem of bad.yaml with its line, column and key, then the compiler\'s checks of the parts that passed the schema', () => {
    const lines = problemsOf(() => loadPolicy(path.join(FIXTURES, 'bad.yaml')));
    const f = 'test/fixtures/policy/bad.yaml';
    expect(lines).to.deep.equal([
      `${f}:1:13: apiVersion: must be "pushgate.dev/v1" (got string "pushgate.dev/v2")`,
      `${f}:4:9: metadata.name: must be a lowercase name of letters, digits, ".", "_" and "-" (it becomes a metric label) (got string "Bad Name")`,
      `${f}:8:21: spec.ruleSets.default.onIncomplete: must be one of: reject, quarantine, warn, allow (got string "explode")`,
      `${f}:11:19: spec.ruleSets.default.rules[0].action: must be one of: reject, quarantine, warn (got string "block")`,
      `${f}:14:28: spec.ruleSets.default.rules[0].match.vulnerability.minSeverity: must be one of: unknown, negligible, low, medium, high, critical (got string "severe")`,
      `${f}:15:31: spec.ruleSets.default.rules[0].match.vulnerability.fixGracePeriod: must be a duration with a unit, e.g. 12h, 7d, 2w (got string "2 weeks")`,
      `${f}:19:13: spec.ruleSets.default.rules[1].match: must hold exactly one of: vulnerability, packages, secret, image, baseImage, eol`,
      `${f}:29:11: spec.ruleSets.default.rules[2].colour: unknown key (allowed here: name, description, action, excludeBase, match)`,
      `${f}:36:16: spec.exceptions[0].expires: must be a date (2026-12-31) or an RFC 3339 date-time (got string "someday")`,
      // Rules 0 and 1 are invalid, their names are not; rule 2 (unknown key) is skipped, so its bad npm range is not reported yet.
      `${f}:16:17: spec.ruleSets.default.rules[1].name: duplicate rule name (also rules[0])`,
      `${f}:32:16: spec.mappings[0].ruleSet: no rule set named "nope" (defined: default)`,
      `${f}:37:7: spec.exceptions[1]: an exception needs a scope: ids, packages, repository or digest`,
    ]);
  });

  it('a part the schema rejects as a whole adds no guesses: no rule set list, no rule set references checked', () => {
    const head = 'apiVersion: pushgate.dev/v1\nkind: Policy\nmetadata:\n  name: p\nspec:\n';
    expect(problemsOf(() => compilePolicy(`${head}  ruleSets: [a]\n  mappings:\n    - ruleSet: nope\n  exceptions:\n    - { reason: r, owner: o, expires: 2030-01-01 }\n`, '<t>'))).to.deep.equal([
      '<t>:6:13: spec.ruleSets: must be a mapping (got a list)',
      '<t>:10:7: spec.exceptions[0]: an exception needs a scope: ids, packages, repository or digest',
    ]);
    expect(problemsOf(() => compilePolicy(`${head}  ruleSets:\n    main: 7\n  default: { ruleSet: main }\n  mappings:\n    - ruleSet: other\n`, '<t>'))).to.deep.equal([
      '<t>:7:11: spec.ruleSets.main: must be a mapping (got number 7)',
      '<t>:10:16: spec.mappings[0].ruleSet: no rule set named "other" (defined: main)',
    ]);
    expect(problemsOf(() => compilePolicy('apiVersion: pushgate.dev/v1\nkind: Policy\nmetadata:\n  name: p\nspec: 1\n', '<t>'))).to.deep.equal([
      '<t>:5:7: spec: must be a mapping (got number 1)',
    ]);
  });

  it('reports what only the compiler can see (names, ranges, ports, rule sets, scopes)', () => {
    const lines = problemsOf(() => loadPolicy(path.join(FIXTURES, 'bad-semantic.yaml')));
    const keys = lines.map((l) => l.split(': ')[0].replace(/^[^:]+:/, '') + ' ' + l.split(': ')[1]);
    expect(keys).to.deep.equal([
      '6:3 spec.default',
      '13:17 spec.ruleSets.main.rules[1].name',
      '18:17 spec.ruleSets.main.rules[2].name',
      '28:27 spec.ruleSets.main.rules[3].match.packages[0].versions',
      '33:32 spec.ruleSets.main.rules[4].match.image.forbiddenPorts[0]',
      '36:16 spec.mappings[0].ruleSet',
      '38:7 spec.exceptions[0]',
    ]);
  });

  it('reports YAML syntax errors and duplicate keys with positions', () => {
    expect(problemsOf(() => compilePolicy('kind: Policy\nkind: Policy\n', '<t>'))[0]).to.match(/^<t>:2:1: \(document\): YAML syntax: .*[Uu]nique/);
    expect(problemsOf(() => compilePolicy('spec: [unclosed\n', '<t>'))[0]).to.match(/^<t>:\d+:\d+: \(document\): YAML syntax/);
  });

  it('an unknown ecosystem in a rule is a problem at its position, with a close spelling and the known ones', () => {
    const text = [
      'apiVersion: pushgate.dev/v1',
      'kind: Policy',
      'metadata:',
      '  name: p',
      'spec:',
      '  ruleSets:',
      '    default:',
      '      rules:',
      '        - name: deny',
      '          action: reject',
      '          match:',
      '            packages:',
      '              - ecosystem: npmm',
      '                name: left-pad',
      '              - { ecosystem: "Debian:12", name: xz-utils }',
      '              - { ecosystem: Fedora, name: xz }',
      '        - name: vulns',
      '          action: warn',
      '          match:',
      '            vulnerability:',
      '              ecosystems: [pypi, cargo, RPM, "Red Hat:enterprise_linux:9"]',
      '',
    ].join('\n');
    const lines = problemsOf(() => compilePolicy(text, '<t>'));
    expect(lines.map((l) => l.split(': ').slice(0, 3).join(': '))).to.deep.equal([
      '<t>:13:28: spec.ruleSets.default.rules[0].match.packages[0].ecosystem: unknown ecosystem "npmm" (did you mean "npm"?)',
      '<t>:21:34: spec.ruleSets.default.rules[1].match.vulnerability.ecosystems[1]: unknown ecosystem "cargo"',
    ]);
    for (const l of lines) expect(l).to.include('use one of Debian, Ubuntu, Alpine,').and.include(', npm, ').and.include(', Fedora, ');
    // The known ones, in any case and with a release suffix, compile.
    expect(() => compilePolicy(text.replace('npmm', 'NPM').replace('cargo, ', ''), '<t>')).to.not.throw();
  });

  it('an alias without an anchor is a problem at the alias (FILE:LINE:COL), not a crash', () => {
    const text = 'apiVersion: pushgate.dev/v1\nkind: Policy\nmetadata:\n  name: p\nspec:\n  ruleSets:\n    default:\n      rules: *shared\n';
    expect(problemsOf(() => compilePolicy(text, '<t>'))).to.deep.equal([
      '<t>:8:14: spec.ruleSets.default.rules: YAML alias *shared names no anchor: define &shared before this alias, or write the value out (quoted, if it is no alias)',
    ]);
    expect(isPolicyText(text)).to.equal(true);
  });

  it('a missing file is one problem, not a crash', () => {
    expect(problemsOf(() => loadPolicy('/nonexistent/policy.yaml'))).to.deep.equal(['/nonexistent/policy.yaml: (file): cannot read the policy: file not found']);
  });
});

describe('policy: the default policy', () => {
  it('src/policy/default-policy.ts embeds config/policy.yaml byte for byte (UPDATE_GOLDEN=1 rewrites it)', () => {
    const file = fs.readFileSync(path.join(ROOT, 'config/policy.yaml'), 'utf8');
    if (process.env.UPDATE_GOLDEN === '1' && file !== DEFAULT_POLICY_YAML) {
      const ts = path.join(ROOT, 'src/policy/default-policy.ts');
      const old = fs.readFileSync(ts, 'utf8');
      const escaped = file.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${');
      fs.writeFileSync(ts, old.replace(/export const DEFAULT_POLICY_YAML = `[\s\S]*`;\n$/, () => `export const DEFAULT_POLICY_YAML = \`${escaped}\`;\n`));
      return;
    }
    expect(DEFAULT_POLICY_YAML).to.equal(file);
  });

  it('defaultPolicy() compiles the embedded text, with the same revision as loading the file', () => {
    const d = defaultPolicy();
    const f = loadPolicy(path.join(ROOT, 'config/policy.yaml'));
    expect(d.name).to.equal('default');
    expect(d.source).to.equal('<built-in>');
    expect(d.revision).to.match(/^[0-9a-f]{12}$/).and.equal(f.revision);
    expect(d.ruleSets.default.rules.map((r) => [r.name, r.action, r.kind])).to.deep.equal([
      ['secrets', 'reject', 'secret'],
      ['fixable-high-vulns', 'quarantine', 'vulnerability'],
      ['runs-as-root', 'warn', 'image'],
    ]);
    expect([d.ruleSets.default.onIncomplete, d.ruleSets.default.unknownSeverity]).to.deep.equal(['quarantine', 'ignore']);
  });

  it('default-policy-document.ts is the embedded text parsed (UPDATE_GOLDEN=1 rewrites it); defaultPolicy() compiles it to what the checked text compiles to', () => {
    const parsed = toJSLocated(parseLocated(DEFAULT_POLICY_YAML, '<built-in>'))!.value;
    if (process.env.UPDATE_GOLDEN === '1' && !isDeepStrictEqual(parsed, DEFAULT_POLICY_DOCUMENT)) {
      const ts = path.join(ROOT, 'src/policy/default-policy-document.ts');
      const old = fs.readFileSync(ts, 'utf8');
      const json = JSON.stringify(parsed, null, 2).replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${');
      fs.writeFileSync(ts, old.replace(/JSON\.parse\(`[\s\S]*`\) as PolicyDocument;\n$/, () => `JSON.parse(\`\n${json}\n\`) as PolicyDocument;\n`));
      return;
    }
    expect(DEFAULT_POLICY_DOCUMENT).to.deep.equal(parsed);
    // compilePolicy checks the text against the schema; defaultPolicy() skips that (and the YAML
    // parser). Compiled rules hold matcher functions: compare what serializes.
    const plain = (p: unknown) => JSON.parse(JSON.stringify(p)) as unknown;
    expect(plain(defaultPolicy())).to.deep.equal(plain(compilePolicy(DEFAULT_POLICY_YAML, '<built-in>')));
  });

  it('compileShippedPolicy runs the compiler\'s own checks: a broken shipped document is an INTERNAL error', () => {
    const doc = structuredClone(DEFAULT_POLICY_DOCUMENT);
    doc.spec.default = { ruleSet: 'nonexistent' };
    expect(() => compileShippedPolicy(doc, 'x', '<t>')).to.throw(/<t> policy does not compile: spec\.default\.ruleSet: no rule set named "nonexistent"/);
  });

  it('the revision changes with the text', () => {
    const changed = compilePolicy(DEFAULT_POLICY_YAML.replace('minSeverity: high', 'minSeverity: critical'), '<t>');
    expect(changed.revision).not.to.equal(defaultPolicy().revision);
  });
});

describe('policy: withSeverityThreshold (scan --severity-threshold)', () => {
  const medium = finding({ id: 'M-1', severity: 'medium', fixedVersions: [] });
  const high = finding({ id: 'H-1', severity: 'high' });
  const root = { imageConfig: {} };

  it('replaces the vulnerability rules with "any finding at or above LEVEL → reject"', () => {
    const p = withSeverityThreshold(defaultPolicy(), 'medium');
    expect(p.ruleSets.default.rules.map((r) => r.name)).to.deep.equal(['secrets', 'severity-threshold', 'runs-as-root']);
    const ev = evaluate(p, input({ findings: [medium], ...root }));
    expect(ev.decision).to.equal('reject');
    expect(ev.reasons[0]).to.include({ rule: 'severity-threshold', action: 'reject' });
    expect(ev.reasons[0].findings).to.deep.equal(['M-1']);
    // No fix needed any more: the default policy alone only warns here.
    expect(evaluate(defaultPolicy(), input({ findings: [medium], ...root })).decision).to.equal('warn');
  });

  it('below the threshold does not fire; other rules stay', () => {
    const p = withSeverityThreshold(defaultPolicy(), 'critical');
    expect(evaluate(p, input({ findings: [high], ...root })).decision).to.equal('warn');
    expect(evaluate(p, input({ secrets: [{ rule: 'private-key', severity: 'critical', path: '/k', redacted: 'x' }] })).decision).to.equal('reject');
  });

  it('changes the revision and leaves the original policy untouched', () => {
    const p = withSeverityThreshold(defaultPolicy(), 'high');
    expect(p.revision).not.to.equal(defaultPolicy().revision);
    expect(defaultPolicy().ruleSets.default.rules.map((r) => r.name)).to.include('fixable-high-vulns');
  });
});
