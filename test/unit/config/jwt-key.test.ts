/**
 * api.jwt.publicKey given as a path: config reads the PEM file, so the verifier serve builds from the loaded
 * config accepts tokens signed with the matching private key; keys no verifier can use are config problems
 * located at the key, never a crash of serve.
 */
import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { ConfigError, parseConfigText } from '../../../src/config/load.js';
import { jwtVerifier } from '../../../src/server/admin-api.js';

describe('config: api.jwt.publicKey as a file', () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-jwtkey-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const load = (publicKey: string) => parseConfigText(`api: { jwt: { publicKey: ${JSON.stringify(publicKey)}, audience: pushgate } }\n`, path.join(dir, 'pushgate.yaml'), {});
  const problem = (publicKey: string): string => {
    try {
      load(publicKey);
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigError);
      return (e as Error).message;
    }
    return expect.fail('expected a ConfigError') as never;
  };

  for (const [name, gen, alg] of [
    ['RSA', () => generateKeyPairSync('rsa', { modulusLength: 2048 }), 'RS256'],
    ['EC P-256', () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }), 'ES256'],
  ] as const) {
    it(`${name}: a relative and an absolute path both verify tokens signed with the private key`, () => {
      const { publicKey, privateKey } = gen();
      const file = `${name.replace(/\W/g, '')}.pem`;
      fs.writeFileSync(path.join(dir, file), publicKey.export({ type: 'spki', format: 'pem' }));
      for (const p of [file, path.join(dir, file)]) {
        const cfg = load(p);
        const verify = jwtVerifier(cfg.api.jwt)!;
        const token = jwt.sign({ role: 'viewer', sub: 'ops' }, privateKey.export({ type: 'pkcs8', format: 'pem' }), { algorithm: alg, expiresIn: 60, audience: 'pushgate' });
        expect(verify(token)).to.include({ role: 'viewer' });
      }
    });
  }

  it('refuses, at the key, a file that is not a PEM public key, a key of an unusable type, and a directory', () => {
    fs.writeFileSync(path.join(dir, 'junk.pem'), 'not a key\n');
    expect(problem('junk.pem')).to.match(/api\.jwt\.publicKey: is not a PEM public key/);
    const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' });
    fs.writeFileSync(path.join(dir, 'ed.pem'), ed);
    expect(problem('ed.pem')).to.match(/api\.jwt\.publicKey: is a ed25519 key; use an RSA key/);
    fs.mkdirSync(path.join(dir, 'keys.d'));
    expect(problem('keys.d')).to.match(/is not a regular file/);
    expect(problem('missing.pem')).to.match(/does not exist/);
  });
});
