/**
 * Admin API authentication and roles over real HTTP (supertest on the express router): JWTs with
 * pinned algorithms (HS256 secret, RS256 and ES256 public keys), `exp` required, `iss`/`aud`
 * checked, roles `viewer`/`admin`, and the static `api.tokens` as viewer tokens.
 */
import { expect } from 'chai';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import express from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { defaultConfig } from '../../../src/config/load.js';
import type { PushgateConfig } from '../../../src/config/types.js';
import type { Gate } from '../../../src/gate/gate.js';
import { createAdminApi, jwtVerifier } from '../../../src/server/admin-api.js';
import { openStore, type Store } from '../../../src/store/index.js';

const SECRET = 'admin-api-test-secret-0123456789';
const VIEWER = 'static-viewer-token-0123';
const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('admin API: JWT roles and viewer tokens', () => {
  let store: Store;
  before(async () => {
    store = await openStore('sqlite::memory:');
    await store.audit({ actor: 'pushgate', action: 'verdict:allow', repository: 'team/app' });
  });
  after(async () => store.close());

  const appWith = (jwtCfg: PushgateConfig['api']['jwt']) => {
    const config = defaultConfig();
    config.api.tokens = [VIEWER];
    if (jwtCfg) config.api.jwt = jwtCfg;
    const app = express();
    app.use('/api/v1', createAdminApi({ config, gate: {} as Gate, store, logger: silent }));
    return app;
  };
  const hs = (claims: object, opts: jwt.SignOptions = { expiresIn: '5m' }) => jwt.sign(claims, SECRET, { algorithm: 'HS256', ...opts });

  it('no credential → 401; a static token reads as viewer but cannot write', async () => {
    const app = appWith({ secret: SECRET });
    expect((await request(app).get('/api/v1/audit')).status).to.equal(401);
    const r = await request(app).get('/api/v1/audit').set('authorization', `Bearer ${VIEWER}`);
    expect(r.status).to.equal(200);
    expect(r.body[0]).to.include({ action: 'verdict:allow' });
    expect((await request(app).post('/api/v1/exceptions').set('authorization', `Bearer ${VIEWER}`).send({})).status).to.equal(403);
    expect((await request(app).get('/api/v1/audit').set('authorization', 'Bearer not-a-token')).status).to.equal(401);
  });

  it('every call that writes (every method but GET/HEAD, scans included) needs the admin role: a viewer gets 403 before its body is looked at', async () => {
    const config = defaultConfig();
    config.api.tokens = [VIEWER];
    config.api.jwt = { secret: SECRET };
    const router = createAdminApi({ config, gate: {} as Gate, store, logger: silent });
    const app = express();
    app.use('/api/v1', router);
    // the routes as the router holds them, so a call added later is covered without naming it here
    type Layer = { route?: { path: string | RegExp; methods: Record<string, boolean> } };
    const writes = (router as unknown as { stack: Layer[] }).stack.flatMap((l) =>
      l.route && typeof l.route.path === 'string' ? Object.keys(l.route.methods).filter((m) => m !== 'get' && m !== 'head').map((m) => [m, (l.route!.path as string).replace(/:[A-Za-z]+/g, 'x')] as const) : [],
    );
    expect(writes.map(([m, p]) => `${m} ${p}`)).to.include.members(['post /scans', 'post /exceptions', 'post /quarantine/release', 'post /monitor/runs']);
    const viewerJwt = hs({ sub: 'bob', role: 'viewer' });
    for (const [method, p] of writes) {
      for (const tok of [VIEWER, viewerJwt]) {
        const r = await (request(app) as unknown as Record<string, (u: string) => request.Test>)[method](`/api/v1${p}`).set('authorization', `Bearer ${tok}`).send({ image: '127.0.0.1:5000/lab/x:1' });
        expect(r.status, `${method} ${p}`).to.equal(403);
        expect(r.body.error, `${method} ${p}`).to.equal('this call needs the admin role');
      }
    }
  });

  it('HS256: admin passes the role check, viewer reads only; exp is required; expired, unsigned and mis-scoped tokens are refused', async () => {
    const app = appWith({ secret: SECRET, issuer: 'https://sso.example.test', audience: 'pushgate' });
    const good = { iss: 'https://sso.example.test', aud: 'pushgate' };
    const adminTok = hs({ ...good, sub: 'alice', role: 'admin' });
    const viewerTok = hs({ ...good, sub: 'bob', roles: ['viewer'] });
    // Admin passes authorization (the release itself needs policy control: 503 here).
    expect((await request(app).post('/api/v1/quarantine/release').set('authorization', `Bearer ${adminTok}`).send({})).status).to.equal(503);
    expect((await request(app).post('/api/v1/quarantine/release').set('authorization', `Bearer ${viewerTok}`).send({})).status).to.equal(403);
    expect((await request(app).get('/api/v1/audit').set('authorization', `Bearer ${viewerTok}`)).status).to.equal(200);
    const refused = {
      'no exp': hs({ ...good, role: 'admin' }, {}),
      expired: hs({ ...good, role: 'admin', exp: Math.floor(Date.now() / 1000) - 3600 }, {}),
      'wrong issuer': hs({ iss: 'https://evil.test', aud: 'pushgate', role: 'admin' }),
      'wrong audience': hs({ iss: good.iss, aud: 'other', role: 'admin' }),
      'wrong secret': jwt.sign({ ...good, role: 'admin' }, 'another-secret-0123456789abcdef', { algorithm: 'HS256', expiresIn: '5m' }),
      'alg none': jwt.sign({ ...good, role: 'admin', exp: Math.floor(Date.now() / 1000) + 300 }, '', { algorithm: 'none' }),
      'HS512 with the right secret': jwt.sign({ ...good, role: 'admin' }, SECRET, { algorithm: 'HS512', expiresIn: '5m' }),
    };
    for (const [why, tok] of Object.entries(refused)) {
      const r = await request(app).get('/api/v1/audit').set('authorization', `Bearer ${tok}`);
      expect(r.status, why).to.equal(401);
    }
    const noRole = await request(app).get('/api/v1/audit').set('authorization', `Bearer ${hs({ ...good, sub: 'eve' })}`);
    expect(noRole.status).to.equal(403);
  });

  it('RS256 and ES256 public keys pin their algorithm (no HS256 confusion with the public key as secret)', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const rsaPub = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const ecPub = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const vr = jwtVerifier({ publicKey: rsaPub, audience: 'pushgate' })!;
    const ve = jwtVerifier({ publicKey: ecPub, audience: 'pushgate' })!;
    expect(vr(jwt.sign({ sub: 'ci', role: 'viewer' }, rsa.privateKey, { algorithm: 'RS256', expiresIn: '1m', audience: 'pushgate' }))).to.deep.equal({ actor: 'ci', role: 'viewer' });
    expect(ve(jwt.sign({ sub: 'ops', role: 'admin' }, ec.privateKey, { algorithm: 'ES256', expiresIn: '1m', audience: 'pushgate' }))).to.deep.equal({ actor: 'ops', role: 'admin' });
    expect(() => vr(jwt.sign({ role: 'admin' }, ec.privateKey, { algorithm: 'ES256', expiresIn: '1m' }))).to.throw(/invalid algorithm/);
    // The classic confusion: an HS256 token whose secret is the public key text.
    const forged = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ role: 'admin', exp: Math.floor(Date.now() / 1000) + 60 })).toString('base64url')}`;
    const sig = createHmac('sha256', rsaPub).update(forged).digest('base64url');
    expect(() => vr(`${forged}.${sig}`)).to.throw(/invalid algorithm/);
    const ed = generateKeyPairSync('ed25519');
    expect(() => jwtVerifier({ publicKey: ed.publicKey.export({ type: 'spki', format: 'pem' }).toString() })).to.throw(/RSA key \(RS256\) or an EC P-256 key/);
  });
});
