/**
 * api.jwt against tokens pushgate was never meant to receive. An identity provider signs every
 * application's tokens with one key, and many put app roles in `roles` (`["admin"]` is a common role
 * name): with `publicKey` and no `audience`, a token the IdP issued for another application was an admin
 * token of pushgate's API. A short HS256 secret is recovered offline from one token. Both are refused
 * where the configuration is read and where the verifier is built; with `audience` set, only tokens whose
 * `aud` names it pass, over real HTTP through the API's middleware.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import express from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import path from 'node:path';
import os from 'node:os';
import jwt from 'jsonwebtoken';
import { ConfigError, defaultConfig, parseConfigText } from '../../../src/config/load.js';
import { MIN_HS256_SECRET_BYTES } from '../../../src/config/jwt.js';
import type { Gate } from '../../../src/gate/gate.js';
import { createAdminApi, jwtVerifier } from '../../../src/server/admin-api.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { silentLogger } from '../../helpers/gate.js';

const FILE = path.join(os.tmpdir(), 'pushgate-jwt-audience.yaml');

function configProblems(yaml: string): string[] {
  try {
    parseConfigText(yaml, FILE, {});
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    return (e as ConfigError).problems.map((p) => `${p.key}: ${p.message}`);
  }
  return [];
}

describe('api.jwt: tokens of other services and guessable secrets', () => {
  let rsa: { publicKey: KeyObject; privateKey: KeyObject };
  let pub: string;
  before(() => {
    rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    pub = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  });
  const idpToken = (claims: object, aud?: string | string[]) =>
    jwt.sign(claims, rsa.privateKey, { algorithm: 'RS256', expiresIn: '5m', issuer: 'https://idp.example.test', ...(aud !== undefined ? { audience: aud } : {}) });

  it('a public key without audience is a configuration problem at api.jwt.audience, and no verifier is built', () => {
    const found = configProblems(`api: { jwt: { publicKey: ${JSON.stringify(pub)}, issuer: "https://idp.example.test" } }\n`);
    expect(found).to.have.length(1);
    expect(found[0]).to.match(/^api\.jwt\.audience: is required with publicKey/);
    // Before: this token, issued by the same IdP for another application, was an admin token here.
    expect(() => jwtVerifier({ publicKey: pub, issuer: 'https://idp.example.test' })).to.throw(/api\.jwt\.audience: is required/);
    expect(() => jwtVerifier({ publicKey: pub, audience: '  ' })).to.throw(/api\.jwt\.audience: is required/);
    expect(configProblems(`api: { jwt: { publicKey: ${JSON.stringify(pub)}, audience: pushgate } }\n`)).to.deep.equal([]);
  });

  it('with audience: every token whose aud does not name pushgate is refused, whatever roles it carries (property)', () => {
    const verify = jwtVerifier({ publicKey: pub, audience: 'pushgate', issuer: 'https://idp.example.test' })!;
    const other = fc.string({ minLength: 0, maxLength: 24 }).filter((s) => s !== 'pushgate');
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(undefined), other, fc.array(other, { minLength: 1, maxLength: 4 })),
        fc.constantFrom<object>({ role: 'admin' }, { roles: ['admin'] }, { role: 'viewer', roles: ['admin', 'x'] }),
        (aud, claims) => {
          expect(() => verify(idpToken({ sub: 'grafana-sa', ...claims }, aud as string | string[] | undefined))).to.throw(/audience/);
        },
      ),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.array(other, { maxLength: 3 }), fc.nat(3), (others, at) => {
        const aud = [...others.slice(0, at), 'pushgate', ...others.slice(at)];
        expect(verify(idpToken({ sub: 'ops', role: 'admin' }, aud.length === 1 ? 'pushgate' : aud))).to.deep.equal({ actor: 'ops', role: 'admin' });
      }),
      { numRuns: 50 },
    );
  });

  it('HS256 secrets shorter than 32 bytes (UTF-8) are refused; 32 and more are taken (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 48 }).filter((s) => /^[\x21-\x7e\u00a0-\uffff]+$/u.test(s) && !s.includes('$')), (secret) => {
        const bytes = Buffer.byteLength(secret, 'utf8');
        const found = configProblems(`api: { jwt: { secret: ${JSON.stringify(secret)} } }\n`);
        if (bytes < MIN_HS256_SECRET_BYTES) {
          expect(found, secret).to.have.length(1);
          expect(found[0]).to.match(new RegExp(`^api\\.jwt\\.secret: is ${bytes} bytes; an HS256 secret needs at least 32`));
          expect(() => jwtVerifier({ secret })).to.throw(/api\.jwt\.secret/);
        } else {
          expect(found, secret).to.deep.equal([]);
          const token = jwt.sign({ sub: 'a', role: 'viewer' }, secret, { algorithm: 'HS256', expiresIn: '1m' });
          expect(jwtVerifier({ secret })!(token)).to.deep.equal({ actor: 'a', role: 'viewer' });
        }
      }),
      { numRuns: 300 },
    );
  });

  describe('over HTTP', () => {
    let store: Store;
    let server: http.Server;
    let base: string;
    before(async () => {
      store = await openStore('sqlite::memory:');
      const config = defaultConfig();
      config.api.jwt = { publicKey: pub, audience: 'pushgate', issuer: 'https://idp.example.test' };
      const app = express();
      app.use('/api/v1', createAdminApi({ config, gate: {} as Gate, store, logger: silentLogger }));
      server = http.createServer(app);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
    });
    after(async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await store.close();
    });

    it('another application\'s admin token gets 401 on an admin call; pushgate\'s own gets through', async () => {
      const call = (token: string) => fetch(`${base}/policy/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      for (const aud of ['grafana', ['grafana', 'argocd'], undefined]) {
        const r = await call(idpToken({ sub: 'grafana-sa', roles: ['admin'] }, aud));
        expect(r.status, JSON.stringify(aud)).to.equal(401);
        expect(((await r.json()) as { error: string }).error).to.match(/audience/);
      }
      // Authenticated and authorized: the call reaches the handler (no policy control in this process: 503).
      expect((await call(idpToken({ sub: 'ops', roles: ['admin'] }, 'pushgate'))).status).to.equal(503);
    });
  });
});
