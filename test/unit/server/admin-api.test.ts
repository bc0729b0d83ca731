/**
 * The admin API over real HTTP (the router in an express app listening on 127.0.0.1:16700-16799,
 * real SQLite and PostgreSQL stores): JWT role claims, query parameter validation of the list
 * endpoints, and audit filters applied by the store before `limit`.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import express from 'express';
import http from 'node:http';
import jwt from 'jsonwebtoken';
import { defaultConfig } from '../../../src/config/load.js';
import type { Gate } from '../../../src/gate/gate.js';
import { createAdminApi } from '../../../src/server/admin-api.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { silentLogger } from '../../helpers/gate.js';
import { freshDatabase } from '../../helpers/postgres.js';
import type { PushEvent } from '../../../src/core/index.js';

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

describe('admin API: a token that is neither an api.tokens entry nor a JWT', () => {
  let store: Store;
  let srv: { base: string; close(): Promise<void> };
  before(async () => {
    store = await openStore('sqlite::memory:');
    srv = await serveApi(store, 16702);
  });
  after(async () => {
    await srv.close();
    await store.close();
  });

  it('is refused saying both readings failed, never with the JWT library\'s words or the token itself (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9._~+/-]{8,64}$/).filter((t) => t !== VIEWER && !jwt.decode(t)), async (token) => {
        const r = await get(`${srv.base}/audit`, token);
        expect(r.status).to.equal(401);
        const error = (r.body as { error: string }).error;
        expect(error).to.include('neither a token of api.tokens nor a JWT');
        expect(error).to.not.match(/jwt malformed/);
        expect(error).to.not.include(token);
      }),
      { numRuns: 40 },
    );
    // Shaped as a JWT whose header says `typ: JWT` over a payload that is not JSON: jwt.decode throws
    // (quoting the payload) instead of answering null; still a 401, never a 500 or the payload echoed.
    const b64 = (s: string) => Buffer.from(s).toString('base64url');
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 8, maxLength: 40 }).filter((p) => { try { JSON.parse(p); return false; } catch { return true; } }), async (payload) => {
        const token = `${b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64(payload)}.c2ln`;
        const r = await get(`${srv.base}/audit`, token);
        expect(r.status, payload).to.equal(401);
        const error = (r.body as { error: string }).error;
        expect(error).to.include('neither a token of api.tokens nor a JWT');
        expect(error).to.not.include(token).and.not.include(payload);
      }),
      { numRuns: 40 },
    );
    // A JWT that fails verification still says why.
    const forged = jwt.sign({ role: 'admin' }, 'another-secret-of-at-least-32-bytes!', { algorithm: 'HS256', expiresIn: '5m' });
    expect(((await get(`${srv.base}/audit`, forged)).body as { error: string }).error).to.equal('token refused: invalid signature');
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

describe('admin API: query parameters of the list endpoints are validated', () => {
  let store: Store;
  let srv: { base: string; close(): Promise<void> };
  const D = `sha256:${'c'.repeat(64)}`;
  before(async () => {
    store = await openStore('sqlite::memory:');
    await store.audit({ actor: 'alice', action: 'release', registry: 'lab', repository: 'team/app', digest: D, tag: 'v1' });
    const q = await store.recordQuarantine({ registry: 'lab', repository: 'team/app', tag: 'v1', digest: D, quarantineRepository: 'quarantine/team/app' });
    await store.setQuarantineState(q.id, 'released');
    srv = await serveApi(store, 16705);
  });
  after(async () => {
    await srv.close();
    await store.close();
  });

  /** Expects 400 with one problem per entry of `want`, each matching all of its patterns. */
  async function refused(pathAndQuery: string, ...want: RegExp[][]) {
    const r = await get(`${srv.base}${pathAndQuery}`);
    expect(r.status, pathAndQuery).to.equal(400);
    const body = r.body as { error: string; problems: string[] };
    expect(body.problems, pathAndQuery).to.have.length(want.length);
    want.forEach((patterns, i) => {
      for (const re of patterns) expect(body.problems[i], pathAndQuery).to.match(re);
    });
    expect(body.error).to.equal(body.problems.join('; '));
  }

  it('audit limit: negative, not a number, too large, zero or fractional → 400 naming limit, what it got and the range', async () => {
    for (const bad of ['-5', 'abc', '100000000', '0', '1.5', '1e3', '']) {
      await refused(`/audit?limit=${encodeURIComponent(bad)}`, [/^query parameter limit: /, new RegExp(`got ${JSON.stringify(bad).replace(/[.+]/g, '\\$&')}`), /an integer from 1 to 10000/]);
    }
    expect((await get(`${srv.base}/audit?limit=10000`)).status).to.equal(200);
    expect((await get(`${srv.base}/audit?limit=1`)).body).to.have.length(1);
  });

  it('quarantine state and limit: an unknown state or a limit out of 1..1000 → 400 naming the allowed values', async () => {
    await refused('/quarantine?state=foo', [/^query parameter state: got "foo"; use one of quarantined, released, expired/]);
    await refused('/quarantine?limit=5000', [/^query parameter limit: got "5000"; use an integer from 1 to 1000/]);
    const released = await get(`${srv.base}/quarantine?state=released&limit=1000`);
    expect(released.status).to.equal(200);
    expect((released.body as Array<{ tag: string }>).map((q) => q.tag)).to.deep.equal(['v1']);
    expect((await get(`${srv.base}/quarantine`)).body).to.deep.equal([]);
  });

  it('unknown, repeated and empty parameters and a malformed digest are refused, every problem at once', async () => {
    await refused('/audit?since=2024-01-01', [/^unknown query parameter "since": GET \/api\/v1\/audit accepts limit, actor, action, registry, repository, digest, tag, after$/]);
    await refused('/quarantine?status=released', [/^unknown query parameter "status": GET \/api\/v1\/quarantine accepts state, limit, registry, repository, tag, after$/]);
    await refused('/exceptions?expired=false', [/^unknown query parameter "expired": GET \/api\/v1\/exceptions accepts limit, after$/]);
    await refused('/audit?limit=1&limit=2', [/^query parameter limit: given 2 times; give it once$/]);
    await refused('/audit?repository=', [/^query parameter repository: got an empty value/]);
    await refused('/audit?digest=abc', [/^query parameter digest: got "abc"; use a digest/]);
    await refused('/audit?limit=-1&state=x&action=', [/^unknown query parameter "state"/], [/^query parameter limit: got "-1"/], [/^query parameter action: got an empty value/]);
    const ok = await get(`${srv.base}/audit?digest=${D}&repository=team/app&limit=5`);
    expect((ok.body as Array<{ actor: string }>).map((a) => a.actor)).to.deep.equal(['alice']);
  });
});

describe('admin API: POST /scans never hands the gate a tag it did not resolve', () => {
  // The gate enforces on the tag an event names (quarantine copy, restore of that tag). Beside a digest
  // (`repo:tag@sha256:…`) the tag is only the caller's word, as in an AdmissionReview.
  const RESOLVED = `sha256:${'c'.repeat(64)}`;
  const ingested: PushEvent[] = [];
  let server: http.Server;
  let base: string;
  before(async () => {
    const config = defaultConfig();
    config.api.tokens = [VIEWER];
    config.api.jwt = { secret: SECRET };
    const gate = {
      registryForHost: (h: string) => (h === 'registry.example.test' ? { name: 'lab' } : undefined),
      client: () => ({ resolve: async () => ({ digest: RESOLVED }) }),
      ingest: async (ev: PushEvent) => {
        ingested.push(ev);
      },
    } as unknown as Gate;
    const app = express();
    app.use('/api/v1', createAdminApi({ config, gate, store: {} as Store, logger: silentLogger }));
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(16790, '127.0.0.1', () => resolve()));
    base = 'http://127.0.0.1:16790/api/v1';
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('property: repo:tag@digest is queued by digest without the tag; repo:tag with the digest pushgate resolved and the tag', async () => {
    const tag = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/);
    const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
    await fc.assert(
      fc.asyncProperty(tag, fc.option(hex, { nil: undefined }), async (t, h) => {
        ingested.length = 0;
        const image = `registry.example.test/team/app:${t}${h ? `@sha256:${h}` : ''}`;
        // a scan is enforced as a push: the admin role
        const r = await fetch(`${base}/scans`, { method: 'POST', headers: { authorization: `Bearer ${hs({ sub: 'ops', role: 'admin' })}`, 'content-type': 'application/json' }, body: JSON.stringify({ image }) });
        expect(r.status, await r.text()).to.equal(202);
        expect(ingested).to.have.length(1);
        if (h) expect(ingested[0]).to.include({ digest: `sha256:${h}`, tag: undefined });
        else expect(ingested[0]).to.include({ digest: RESOLVED, tag: t });
      }),
      { numRuns: 60 },
    );
  });
});
