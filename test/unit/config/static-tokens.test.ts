/**
 * Static bearer tokens (registries[].webhook.token and previousTokens, api.tokens, harborAdapter.tokens) are
 * refused at load when shorter than MIN_STATIC_TOKEN_CHARS, counted after `${VAR}` expansion: a guessable
 * token lets anyone post notifications or read the API. The problem names the key and how to make a
 * token, never the token.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { ConfigError, formatProblem, parseConfigText } from '../../../src/config/load.js';
import { MIN_STATIC_TOKEN_CHARS } from '../../../src/config/tokens.js';
import { ROOT } from '../../helpers/lab.js';

const REG = 'registries:\n  - name: r\n    url: http://127.0.0.1:5000\n';
const GOOD = 'good-token-0123456789abcdef';

/** Documents with the token `v` (a YAML scalar) at one key, that key's path, and where the loaded value is. */
const PLACES: Array<{ key: string; doc: (v: string) => string; loaded: (c: ReturnType<typeof parseConfigText>) => string | undefined }> = [
  { key: 'registries[0].webhook.token', doc: (v) => `${REG}    webhook:\n      token: ${v}\n`, loaded: (c) => c.registries[0]!.webhook.token },
  { key: 'registries[0].webhook.previousTokens[1]', doc: (v) => `${REG}    webhook:\n      token: ${GOOD}\n      previousTokens: [old-token-0123456789abcdef, ${v}]\n`, loaded: (c) => c.registries[0]!.webhook.previousTokens?.[1] },
  { key: 'api.tokens[0]', doc: (v) => `api:\n  tokens: [${v}]\n`, loaded: (c) => c.api.tokens[0] },
  { key: 'api.tokens[1]', doc: (v) => `api:\n  tokens: [${GOOD}, ${v}]\n`, loaded: (c) => c.api.tokens[1] },
  { key: 'harborAdapter.tokens[0]', doc: (v) => `harborAdapter:\n  tokens: [${v}]\n`, loaded: (c) => c.harborAdapter?.tokens[0] },
];

/** Problem lines of `text`, or the loaded configuration. */
function load(text: string, env: Record<string, string>): { problems: string[] } | { config: ReturnType<typeof parseConfigText> } {
  try {
    return { config: parseConfigText(text, 'c.yaml', env) };
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    return { problems: (e as ConfigError).problems.map(formatProblem) };
  }
}

// Printable ASCII and other code points, no `$` (a literal would be read as ${VAR}) and no quote or backslash.
const char = fc.oneof(
  fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~+/=!@#%^&*()'.split('')),
  fc.constantFrom('é', 'ß', '€', '😀', '中'),
);

describe('config: static tokens have a minimum length', () => {
  it(`property: a token under ${MIN_STATIC_TOKEN_CHARS} characters (literal or \${VAR}) is one problem at its key, without the token; ${MIN_STATIC_TOKEN_CHARS}+ loads`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: PLACES.length - 1 }), fc.array(char, { minLength: 1, maxLength: 40 }), fc.boolean(), (at, chars, viaEnv) => {
        const token = chars.join('');
        const place = PLACES[at]!;
        const r = load(place.doc(viaEnv ? '"${TOK}"' : JSON.stringify(token)), { TOK: token });
        if (chars.length >= MIN_STATIC_TOKEN_CHARS) {
          expect(r, JSON.stringify(r)).to.have.property('config');
          expect(place.loaded((r as { config: ReturnType<typeof parseConfigText> }).config)).to.equal(token);
        } else {
          expect(r).to.have.property('problems');
          const problems = (r as { problems: string[] }).problems;
          expect(problems, problems.join('\n')).to.have.length(1);
          // the whole message is fixed text and the count: the token is not in it
          expect(problems[0]!.replace(/^c\.yaml:\d+:\d+: /, '')).to.equal(
            `${place.key}: is ${chars.length} characters; a static token needs at least ${MIN_STATIC_TOKEN_CHARS}, or it can be guessed and then used to post notifications or read the API: generate one with \`openssl rand -hex 32\``,
          );
        }
      }),
      { numRuns: 400 },
    );
  });

  it('counts characters after ${VAR} expansion, not the text written in the file', () => {
    const doc = `${REG}    webhook:\n      token: "\${A}\${B}"\n`;
    expect(load(doc, { A: 'x'.repeat(8), B: 'y'.repeat(7) })).to.have.property('problems');
    expect(load(doc, { A: 'x'.repeat(8), B: 'y'.repeat(8) })).to.have.property('config');
  });

  it('pushgate config check refuses a short webhook token: exit 1, the key, how to make one, not the token', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-short-token-'));
    try {
      const file = path.join(dir, 'c.yaml');
      fs.writeFileSync(file, `${REG}    webhook: { token: Zq9x }\n`);
      const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), 'config', 'check', file], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stdout).to.match(/c\.yaml:4:23: registries\[0\]\.webhook\.token: is 4 characters; a static token needs at least 16/);
      expect(r.stdout).to.include('openssl rand -hex 32');
      expect(r.stdout + r.stderr).to.not.include('Zq9x');
      fs.writeFileSync(file, `${REG}    webhook: { token: Zq9x0123456789ab }\n`);
      const ok = spawnSync(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), 'config', 'check', file], { encoding: 'utf8', timeout: 60_000 });
      expect(ok.stdout, ok.stderr).to.equal(`${file}: ok\n`);
      expect(ok.status).to.equal(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
