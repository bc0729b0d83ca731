/**
 * Configuration problems never repeat a value that may be a credential (src/config/yaml-doc.ts
 * SECRET_KEYS): `config check` and a refused start print them, and both end up in CI and pod logs. A
 * wrong type or shape at a token, password, secret, header or URL key names the type it got only.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ConfigError, formatProblem, parseConfigText } from '../../../src/config/load.js';

/** The problem lines of `text` as a configuration (it must not load). */
function lines(text: string): string[] {
  try {
    parseConfigText(text, 'c.yaml', {});
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    return [(e as ConfigError).message, ...(e as ConfigError).problems.map(formatProblem)];
  }
  throw new Error(`loaded:\n${text}`);
}

const REG = 'registries:\n  - name: r\n    url: http://127.0.0.1:5000\n';

/** Documents with a secret `s` (a string) or `n` (a number) written where the schema refuses it. */
const PLACES: Array<(s: string, n: number) => string> = [
  (s) => `${REG}    webhook:\n      token: new-token-0123456789abcdef\n      previousTokens: "${s}"\n`,
  (_s, n) => `${REG}    webhook:\n      token: new-token-0123456789abcdef\n      previousTokens: [${n}]\n`,
  (_s, n) => `${REG}    webhook:\n      token: ${n}\n`,
  (_s, n) => `${REG}    auth: { username: u, password: ${n} }\n`,
  (s) => `${REG}    auth: "${s}"\n`,
  (s) => `api:\n  tokens: "${s}"\n`,
  (_s, n) => `api:\n  jwt: { secret: ${n} }\n`,
  (s) => `notify:\n  - url: "htp://hooks.example.com/services/${s}"\n`,
  (_s, n) => `notify:\n  - url: https://hooks.example.com/x\n    headers: { Authorization: ${n} }\n`,
  (_s, n) => `store:\n  url: ${n}\n`,
  (_s, n) => `vulndb:\n  nvdApiKey: ${n}\n`,
  (s) => `proxy:\n  upstream: "127.0.0.1:5000/?p=${s}"\n`,
  // an unquoted token starting with '*' is read as a YAML alias, named by the value
  (s) => `${REG}    webhook:\n      token: *${s}\n`,
  // the upstream matching no registry: the registries' URLs (credentials in them) are not listed
  (s) => `registries:\n  - name: r\n    url: https://admin:${s}@reg.example\nproxy:\n  upstream: https://other.example\n`,
];

describe('config: problems never show secret values', () => {
  it('a wrong type or shape at a secret key names the type, not the value (generated secrets and places)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: PLACES.length - 1 }),
        fc.stringMatching(/^[A-Za-z0-9]{12,24}$/),
        fc.integer({ min: 10_000_000, max: 2 ** 40 }),
        (at, s, n) => {
          const out = lines(PLACES[at]!(s, n)).join('\n');
          expect(out).to.not.include(s);
          expect(out).to.not.include(String(n));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('still shows the value it got at a key that holds none', () => {
    expect(lines('scan:\n  workers: "lots"\n').join('\n')).to.include('(got string "lots")');
  });

  it('a previousTokens that is not a list is one problem, not one per repeated character', () => {
    const out = lines(`${REG}    webhook:\n      token: abcd0123456789abcdef\n      previousTokens: "aabbccdd"\n`);
    expect(out.filter((l) => l.startsWith('c.yaml:'))).to.have.length(1);
  });
});
