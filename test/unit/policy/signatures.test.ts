/**
 * Policy `spec.signatures`: what compiles (keys, keyless identities, anchored expressions, globs) and
 * every malformed rule refused with its position; a covered push records "signature pending" and
 * is never blocked by it.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import { ConfigError, formatProblem } from '../../../src/config/errors.js';
import { compilePolicy, evaluate, SIGNATURE_PENDING_RULE } from '../../../src/policy/index.js';
import { input } from './inputs.js';

const key = String(crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
const indented = key.trim().split('\n').map((l) => `            ${l}`).join('\n');
const head = 'apiVersion: pushgate.dev/v1\nkind: Policy\nmetadata: { name: t }\nspec:\n  ruleSets:\n    default: { rules: [] }\n  signatures:\n';

function problems(text: string): string[] {
  try {
    compilePolicy(text, '<t>');
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    return (e as ConfigError).problems.map(formatProblem);
  }
  return [];
}

describe('policy signatures', () => {
  it('compiles key and keyless authorities; repository and registry globs; defaults anyOf and enforce', () => {
    const p = compilePolicy(
      `${head}    - name: prod
      registry: lab
      repository: "prod/**"
      authorities:
        - name: release
          key: |
${indented}
        - name: ci
          keyless: { issuer: "https://token.actions.githubusercontent.com", subjectRegExp: "https://github.com/org/.+" }
`,
      '<t>',
    );
    const [r] = p.signatures;
    expect(r).to.include({ name: 'prod', require: 'anyOf', mode: 'enforce' });
    expect(r.authorities.map((a) => a.kind)).to.deep.equal(['key', 'keyless']);
    expect(r.matches('lab', 'prod/api')).to.equal(true);
    expect(r.matches('lab', 'dev/api')).to.equal(false);
    expect(r.matches('other', 'prod/api')).to.equal(false);
    const ci = r.authorities[1];
    expect(ci.kind === 'keyless' && ci.subjectRegExp?.test('https://github.com/org/x')).to.equal(true);
    // Anchored: a longer identity that merely contains the pattern does not match.
    expect(ci.kind === 'keyless' && ci.subjectRegExp?.test('https://evil.example/https://github.com/org/x')).to.equal(false);
  });

  it('refuses malformed rules with their positions', () => {
    const out = problems(`${head}    - name: a
      repository: "x/**"
      authorities:
        - name: k
          key: "-----BEGIN PUBLIC KEY-----\\nnot base64\\n-----END PUBLIC KEY-----"
        - name: k
          keyless: { issuer: "https://i", subjectRegExp: "(" }
    - name: a
      repository: "y/**"
      authorities:
        - name: both
          key: "-----BEGIN PUBLIC KEY-----"
          keyless: { issuer: "https://i", subject: s }
    - name: b
      repository: "z/**"
      authorities:
        - name: neither-subject
          keyless: { issuer: "https://i" }
`);
    const text = out.join('\n');
    expect(text).to.match(/spec\.signatures\[0\]\.authorities\[0\]\.key: is not a PEM public key/);
    expect(text).to.match(/spec\.signatures\[0\]\.authorities\[1\]\.name: duplicate authority name/);
    expect(text).to.match(/spec\.signatures\[0\]\.authorities\[1\]\.keyless\.subjectRegExp: is not a regular expression/);
    expect(text).to.match(/spec\.signatures\[1\]\.authorities\[0\].*exactly one of key/);
    expect(text).to.match(/spec\.signatures\[2\]\.authorities\[0\]\.keyless.*exactly one of subject or subjectRegExp/);
  });

  it('a covered push records signature pending and stays allowed; an uncovered one records nothing', () => {
    const p = compilePolicy(`${head}    - name: prod\n      repository: "prod/**"\n      mode: warn\n      require: allOf\n      authorities:\n        - name: release\n          key: |\n${indented}\n`, '<t>');
    const covered = evaluate(p, input({ registry: 'lab', repository: 'prod/api' }));
    expect(covered.decision).to.equal('allow');
    expect(covered.reasons).to.deep.equal([{ rule: SIGNATURE_PENDING_RULE, action: 'allow', message: 'signature pending: signature rule prod (warn, allOf of release) is checked at admission, not at push' }]);
    expect(evaluate(p, input({ registry: 'lab', repository: 'dev/api' })).reasons).to.deep.equal([]);
  });
});

describe('policy spec.vex authorities', () => {
  const vexHead = 'apiVersion: pushgate.dev/v1\nkind: Policy\nmetadata: { name: t }\nspec:\n  ruleSets:\n    default: { rules: [] }\n  vex:\n    authorities:\n';
  const vexKey = key.trim().split('\n').map((l) => `          ${l}`).join('\n');

  it('compiles key and keyless authorities; none without spec.vex', () => {
    const p = compilePolicy(`${vexHead}      - name: sec\n        key: |\n${vexKey}\n      - name: ci\n        keyless: { issuer: "https://issuer.example", subjectRegExp: "https://github.com/org/.*" }\n`, '<t>');
    expect(p.vexAuthorities.map((a) => [a.name, a.kind])).to.deep.equal([['sec', 'key'], ['ci', 'keyless']]);
    const ci = p.vexAuthorities[1]!;
    expect(ci.kind === 'keyless' && ci.subjectRegExp?.test('https://github.com/org/x/y')).to.equal(true);
    expect(compilePolicy('apiVersion: pushgate.dev/v1\nkind: Policy\nmetadata: { name: t }\nspec:\n  ruleSets:\n    default: { rules: [] }\n', '<t>').vexAuthorities).to.deep.equal([]);
  });

  it('names what is wrong: duplicate names, a key that is no public key, an empty list, unknown keys', () => {
    const bad = `${vexHead}      - name: sec\n        key: |\n${vexKey}\n      - name: sec\n        key: "-----BEGIN PUBLIC KEY-----\\nxx\\n-----END PUBLIC KEY-----"\n`;
    const text = problems(bad).join('\n');
    expect(text).to.match(/spec\.vex\.authorities\[1\]\.name: duplicate authority name/);
    expect(text).to.match(/spec\.vex\.authorities\[1\]\.key: is not a PEM public key/);
    expect(problems(`${vexHead.replace('    authorities:\n', '    authorities: []\n')}`).join('\n')).to.match(/spec\.vex\.authorities/);
    expect(problems(`${vexHead}      - name: sec\n        key: |\n${vexKey}\n    paths: [x]\n`).join('\n')).to.match(/spec\.vex/);
  });
});
