/**
 * The admin API over real HTTP (the router in an express app listening on 127.0.0.1:16700-16799,
 * real SQLite and PostgreSQL stores): JWT role claims, query parameter validation of the list
 * endpoints, and audit filters applied by the store before `limit`.
 */
import { expect } from 'chai';
import express from 'express';
import http from 'node:http';
import jwt from 'jsonwebtoken';
import { defaultConfig } from '../../../src/config/load.js';
import type { Gate } from '../../../src/gate/gate.js';
import { createAdminApi } from '../../../src/server/admin-api.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { silentLogger } from '../../helpers/gate.js';
import { freshDatabase } from '../../helpers/postgres.js';

const SECRET = 'admin-api-unit-secret-0123456789';
const VIEWER = 'admin-api-unit-viewer-token';

/** Serves the admin API of `store` on 127.0.0.1:`port`; resolves with its base URL and a closer. */
async function serveApi(store: Store, port: number): Promise<{ base: string; close(): Promise<void> }> {
  const config = defaultConfig();
  config.api.tokens = [VIEWER];
  config.api.jwt = { secret: SECRET };
  const app = express();
  app.use('/api/v1', createAdminApi({ config, gate: {} as Gate, store, logger: silentLogger }));
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { base: `http://127.0.0.1:${port}/api/v1`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const hs = (claims: object) => jwt.sign(claims, SECRET, { algorithm: 'HS256', expiresIn: '5m' });

async function get(url: string, token = VIEWER): Promise<{ status: number; body: unknown }> {
  const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, body: await r.json() };
}

describe('admin API: JWT role claims', () => {
  let store: Store;
  let srv: { base: string; close(): Promise<void> };
  before(async () => {
    store = await openStore('sqlite::memory:');
    srv = await serveApi(store, 16701);
  });
  after(async () => {
    await srv.close();
    await store.close();
  });

  it('a role the API does not know is refused as unknown, naming the accepted roles', async () => {
    for (const claims of [{ role: 'root' }, { roles: ['root', 'superuser'] }]) {
      const r = await get(`${srv.base}/audit`, hs({ sub: 'eve', ...claims }));
      expect(r.status, JSON.stringify(claims)).to.equal(403);
      const error = (r.body as { error: string }).error;
      expect(error, JSON.stringify(claims)).to.match(/unknown roles? "root"/);
      expect(error).to.include('"viewer"').and.include('"admin"');
      expect(error).to.not.match(/no role claim/);
    }
  });

  it('a token without any role claim still says so; a known role among unknown ones is taken', async () => {
    const none = await get(`${srv.base}/audit`, hs({ sub: 'eve' }));
    expect(none.status).to.equal(403);
    expect((none.body as { error: string }).error).to.match(/no role claim/);
    expect((await get(`${srv.base}/audit`, hs({ sub: 'bob', roles: ['root', 'viewer'] }))).status).to.equal(200);
  });
});

type AuditRow = { seq: number; actor: string; action: string; repository?: string; tag?: string };

function auditFilters(name: string, port: number, open: () => Promise<{ store: Store; done(): Promise<void> }>) {
  describe(`admin API: audit filters apply before limit (${name})`, () => {
    let store: Store;
    let done: () => Promise<void>;
    let srv: { base: string; close(): Promise<void> };
    const NEWER = 1200;
    before(async function () {
      this.timeout(60_000);
      ({ store, done } = await open());
      // Two old records a filter matches, then more newer records than limit * 10 that it does not.
      await store.audit({ actor: 'alice', action: 'release', registry: 'lab', repository: 'team/old', tag: 'v1' });
      await store.audit({ actor: 'pushgate', action: 'verdict:reject', registry: 'lab', repository: 'team/old', tag: 'v2' });
      for (let i = 0; i < NEWER; i++) await store.audit({ actor: 'pushgate', action: 'verdict:allow', registry: 'lab', repository: 'team/new', tag: `n${i}` });
      srv = await serveApi(store, port);
    });
    after(async () => {
      await srv.close();
      await done();
    });

    it('a filter that matches only records older than the newest limit * 10 still finds them', async () => {
      const byRepo = await get(`${srv.base}/audit?repository=team/old&limit=10`);
      expect(byRepo.status).to.equal(200);
      expect((byRepo.body as AuditRow[]).map((r) => r.tag)).to.deep.equal(['v2', 'v1']);
      const byAction = await get(`${srv.base}/audit?action=release&limit=1`);
      expect((byAction.body as AuditRow[]).map((r) => [r.actor, r.repository, r.tag])).to.deep.equal([['alice', 'team/old', 'v1']]);
      const both = await get(`${srv.base}/audit?repository=team/old&actor=pushgate&tag=v2`);
      expect((both.body as AuditRow[]).map((r) => r.action)).to.deep.equal(['verdict:reject']);
      expect((await get(`${srv.base}/audit?repository=team/none`)).body).to.deep.equal([]);
    });

    it('limit applies after filtering, newest first', async () => {
      const r = (await get(`${srv.base}/audit?repository=team/new&limit=3`)).body as AuditRow[];
      expect(r.map((x) => x.tag)).to.deep.equal([`n${NEWER - 1}`, `n${NEWER - 2}`, `n${NEWER - 3}`]);
      expect(r[0].seq).to.be.greaterThan(r[1].seq);
      const all = (await get(`${srv.base}/audit?limit=5`)).body as AuditRow[];
      expect(all).to.have.length(5);
      expect(all[0].tag).to.equal(`n${NEWER - 1}`);
    });
  });
}

auditFilters('sqlite', 16703, async () => {
  const store = await openStore('sqlite::memory:');
  return { store, done: () => store.close() };
});

auditFilters('postgres', 16704, async () => {
  const db = await freshDatabase('pushgate_adminapi');
  const store = await openStore(db.url);
  return { store, done: async () => { await store.close(); await db.drop(); } };
});
