/**
 * The API calls the console (/ui/) needs, over real HTTP on the server `pushgate serve` starts
 * (startServer: real SQLite store, PolicyControl, JWT roles): image search pages, audit, quarantine
 * and exception pages, blocked pushes over time by rule and registry, the overview, exception
 * revocation (admin only, audited with the subject), and the console's static files (no token, a
 * strict Content Security Policy; the API behind them still needs one).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import type { Verdict } from '../../../src/core/index.js';
import { decodeCursor, seriesOf, encodeCursor, newlyFailing } from '../../../src/server/console-api.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import type { AuditRecord } from '../../../src/store/index.js';
import { labGateConfig, silentLogger } from '../../helpers/gate.js';

const SECRET = 'console-api-test-secret-0123456789';
const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}` as const;

describe('console API: pages, blocked pushes, overview, revocation, static files', function () {
  this.timeout(30_000);
  let dir: string;
  let srv: RunningServer;
  let base: string;
  const token = (role: string, sub = 'alice') => jwt.sign({ sub, role }, SECRET, { algorithm: 'HS256', expiresIn: '5m' });
  const call = async (p: string, opts: { role?: string; method?: string; body?: unknown; auth?: boolean } = {}) => {
    const r = await fetch(`${base}${p}`, {
      method: opts.method ?? 'GET',
      headers: { ...(opts.auth === false ? {} : { authorization: `Bearer ${token(opts.role ?? 'viewer')}` }), ...(opts.body ? { 'content-type': 'application/json' } : {}) },
      body: opts.body ? JSON.stringify(opts.body) : undefined,
      redirect: 'manual',
    });
    const text = await r.text();
    let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.status, json, text, headers: r.headers };
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-console-api-'));
    const config = labGateConfig(dir, []);
    config.api.jwt = { secret: SECRET };
    srv = await startServer(config, silentLogger);
    base = `http://127.0.0.1:${srv.port}`;
    for (let i = 1; i <= 30; i++) {
      const v: Verdict = {
        registry: 'lab', repository: i % 2 ? 'team/app' : 'lab/zip', digest: digest(i), tags: [`v${i}`], decision: i % 3 ? 'allow' : 'quarantine', complete: true, reasons: [],
        mode: 'enforce', policy: { name: 'p', revision: 'r' }, vulndb: { builtAt: null }, evaluatedAt: new Date().toISOString(),
      };
      await srv.store.putVerdict(v);
    }
    for (let i = 0; i < 12; i++) {
      await srv.store.audit({ actor: 'lab', action: i % 2 ? 'verdict:quarantine' : 'verdict:reject', registry: i % 3 ? 'lab' : 'edge', repository: 'lab/zip', digest: digest(i + 1), tag: 't', detail: { reasons: i % 4 ? ['adm-zip'] : ['adm-zip', 'secrets'] } });
    }
    await srv.store.audit({ actor: 'lab', action: 'verdict:allow', registry: 'lab', repository: 'team/app', detail: { reasons: [] } });
    // Pushes the push proxy refused: never in the registry, so no verdict record; counted as blocked.
    await srv.store.audit({ actor: 'ci', action: 'proxy.refuse', registry: 'edge', repository: 'team/app', tag: 'p1', detail: { decision: 'reject', rules: ['secrets'], reasons: ['secrets'] } });
    await srv.store.audit({ actor: 'ci', action: 'proxy.timeout-refuse', registry: 'edge', repository: 'team/app', tag: 'p2', detail: { timeoutMs: 1000, reasons: ['scan-timeout'] } });
    await srv.store.audit({ actor: 'ci', action: 'proxy.error-allow', registry: 'edge', repository: 'team/app', tag: 'p3', detail: { error: 'x' } });
    for (let i = 0; i < 4; i++) await srv.store.recordQuarantine({ registry: 'lab', repository: 'lab/zip', tag: `t${i}`, digest: digest(i + 1), quarantineRepository: 'quarantine/lab/zip' });
  });
  after(async () => {
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('GET /images pages through every stored verdict once, newest first, with filters; a foreign cursor is 400', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const r = await call(`/api/v1/images?limit=7${after ? `&after=${after}` : ''}`);
      expect(r.status, r.text).to.equal(200);
      seen.push(...(r.json.items as Verdict[]).map((v) => v.digest));
      if (!r.json.next) break;
      after = r.json.next;
    }
    expect(seen).to.deep.equal(Array.from({ length: 30 }, (_, i) => digest(30 - i)));
    const q = await call('/api/v1/images?decision=quarantine&repository=zip');
    expect((q.json.items as Verdict[]).map((v) => v.digest)).to.deep.equal([30, 24, 18, 12, 6].map(digest));
    expect((await call('/api/v1/images?tag=v7')).json.items.map((v: Verdict) => v.digest)).to.deep.equal([digest(7)]);
    const bad = await call('/api/v1/images?after=bm90LWEtY3Vyc29y');
    expect(bad.status).to.equal(400);
    expect(bad.json.error).to.match(/after: not a cursor of this endpoint/);
    expect((await call('/api/v1/images?decision=maybe')).status).to.equal(400);
    expect((await call('/api/v1/images', { auth: false })).status).to.equal(401);
    expect(decodeCursor(encodeCursor([5, 'a', 'b', 'c']))).to.deep.equal([5, 'a', 'b', 'c']);
  });

  it('GET /audit?after=SEQ and /quarantine?after=ID continue where the previous page ended', async () => {
    const all = (await call('/api/v1/audit?limit=1000')).json as AuditRecord[];
    const p1 = (await call('/api/v1/audit?limit=5')).json as AuditRecord[];
    const p2 = (await call(`/api/v1/audit?limit=5&after=${p1.at(-1)!.seq}`)).json as AuditRecord[];
    expect([...p1, ...p2].map((a) => a.seq)).to.deep.equal(all.slice(0, 10).map((a) => a.seq));
    const f = (await call(`/api/v1/audit?action=verdict:reject&limit=2&after=${all[0].seq}`)).json as AuditRecord[];
    expect(f.every((a) => a.action === 'verdict:reject' && a.seq < all[0].seq)).to.equal(true);
    expect((await call('/api/v1/audit?after=0')).status).to.equal(400);
    const q1 = (await call('/api/v1/quarantine?limit=3')).json as Array<{ id: number; tag: string }>;
    const q2 = (await call(`/api/v1/quarantine?limit=3&after=${q1.at(-1)!.id}`)).json as Array<{ id: number; tag: string }>;
    expect([...q1, ...q2].map((r) => r.tag)).to.deep.equal(['t3', 't2', 't1', 't0']);
  });

  it('GET /stats/blocked counts blocked pushes per day, registry and rule; the overview counts quarantine and lists newly failing images', async () => {
    const b = await call('/api/v1/stats/blocked?days=7');
    expect(b.status, b.text).to.equal(200);
    expect(b.json.pushes).to.equal(14);
    const sum = (registry: string, rule: string) => (b.json.series as Array<{ registry: string; rule: string; count: number }>).filter((x) => x.registry === registry && x.rule === rule).reduce((a, x) => a + x.count, 0);
    expect(sum('lab', 'adm-zip')).to.equal(8);
    expect(sum('edge', 'adm-zip')).to.equal(4);
    expect(sum('lab', 'secrets') + sum('edge', 'secrets')).to.equal(4);
    expect(sum('edge', 'scan-timeout')).to.equal(1);
    expect(b.json.rules).to.have.members(['adm-zip', 'secrets', 'scan-timeout']);
    expect((await call('/api/v1/stats/blocked?days=0')).status).to.equal(400);
    expect((await call('/api/v1/stats/blocked?bucket=week')).status).to.equal(400);
    const o = await call('/api/v1/overview');
    expect(o.status, o.text).to.equal(200);
    expect(o.json.quarantined).to.equal(4);
    expect(o.json.newlyFailing.map((f: { digest: string }) => f.digest)).to.deep.equal(Array.from({ length: 12 }, (_, i) => digest(12 - i)));
    expect(o.json.verdicts.reduce((a: number, v: { count: number }) => a + v.count, 0)).to.equal(30);
  });

  it('the blocked-pushes chart and the overview need a valid token (none, a forged one, another scheme or a query spelling: 401)', async () => {
    const forged = jwt.sign({ sub: 'mallory', role: 'admin' }, 'not-the-secret-0123456789abcdef', { algorithm: 'HS256', expiresIn: '5m' });
    for (const p of ['/api/v1/stats/blocked', '/api/v1/stats/blocked?days=90&bucket=hour', '/api/v1/overview', '/api/v1//overview', '/api/v1/stats/blocked/', '/api/v1/Overview']) {
      for (const headers of [{} as Record<string, string>, { authorization: `Bearer ${forged}` }, { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` }, { authorization: 'Bearer ' }]) {
        const r = await fetch(`${base}${p}`, { headers, redirect: 'manual' });
        await r.arrayBuffer();
        expect(r.status, `${p} ${JSON.stringify(headers)}`).to.equal(401);
      }
    }
  });

  it('seriesOf turns day and hour buckets into instants, a push without rules under (none); newlyFailing keeps only blocking turns of the monitor', () => {
    const start = Date.UTC(2026, 0, 1);
    const rec = (at: number, over: Partial<AuditRecord> = {}): AuditRecord => ({ seq: 1, at: new Date(at).toISOString(), actor: 'x', action: 'verdict:reject', registry: 'lab', detail: { reasons: ['a'] }, ...over });
    const c = seriesOf([{ bucket: '2026-01-02', registry: 'lab', rule: null, count: 1 }, { bucket: '2026-01-01T07', registry: null, rule: 'a', count: 2 }]);
    expect(c.series).to.deep.equal([
      { t: '2026-01-01T07:00:00.000Z', registry: '(unknown)', rule: 'a', count: 2 },
      { t: '2026-01-02T00:00:00.000Z', registry: 'lab', rule: '(none)', count: 1 },
    ]);
    expect(c.rules).to.deep.equal(['(none)', 'a']);
    const n = newlyFailing([
      rec(start, { action: 'monitor:changed', digest: digest(1), detail: { decision: { before: 'allow', after: 'reject' } } }),
      rec(start, { action: 'monitor:changed', digest: digest(2), detail: { decision: { before: 'reject', after: 'quarantine' } } }),
      rec(start, { action: 'monitor:changed', digest: digest(3), detail: { decision: { before: 'warn', after: 'allow' } } }),
      rec(start, { digest: digest(1) }),
    ]);
    expect(n.map((x) => [x.digest, x.via])).to.deep.equal([[digest(1), 'monitor']]);
  });

  it('exceptions: paged by id; revoking is admin only, audited with the subject, listed with who revoked it, and takes it out of force', async () => {
    const add = async (n: number) => (await call('/api/v1/exceptions', { role: 'admin', method: 'POST', body: { reason: `r${n}`, owner: 'team', expires: '2099-01-01', ids: [`CVE-2099-000${n}`] } })).json as { id: number };
    const e1 = await add(1);
    const e2 = await add(2);
    const e3 = await add(3);
    const page = (await call(`/api/v1/exceptions?limit=2&after=${e1.id}`)).json as Array<{ id: number }>;
    expect(page.map((e) => e.id)).to.deep.equal([e2.id, e3.id]);
    const withAll = srv.control.effective().revision;
    const viewer = await call(`/api/v1/exceptions/${e2.id}/revoke`, { method: 'POST', body: { reason: 'no' } });
    expect(viewer.status).to.equal(403);
    expect((await call(`/api/v1/exceptions/${e2.id}/revoke`, { role: 'admin', method: 'POST', body: {} })).status).to.equal(400);
    const ok = await call(`/api/v1/exceptions/${e2.id}/revoke`, { role: 'admin', method: 'POST', body: { reason: 'fixed upstream' } });
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.json).to.include({ id: e2.id, revokedBy: 'alice' });
    expect(srv.control.effective().revision).to.not.equal(withAll);
    const listed = ((await call('/api/v1/exceptions')).json as Array<{ id: number; revokedBy?: string }>).find((e) => e.id === e2.id);
    expect(listed?.revokedBy).to.equal('alice');
    const audit = (await call('/api/v1/audit?action=exception-revoked')).json as AuditRecord[];
    expect(audit[0]).to.include({ actor: 'alice' });
    expect(audit[0].detail).to.include({ id: e2.id, reason: 'fixed upstream' });
    expect((await call(`/api/v1/exceptions/${e2.id}/revoke`, { role: 'admin', method: 'POST', body: { reason: 'again' } })).status).to.equal(400);
    expect((await call('/api/v1/exceptions/99999/revoke', { role: 'admin', method: 'POST', body: { reason: 'x' } })).status).to.equal(404);
    expect((await call('/api/v1/exceptions/abc/revoke', { role: 'admin', method: 'POST', body: { reason: 'x' } })).status).to.equal(400);
  });

  it('/ui redirects to /ui/; the console files need no token and carry a strict CSP; writes are refused', async () => {
    const r = await call('/ui', { auth: false });
    expect(r.status).to.equal(301);
    expect(r.headers.get('location')).to.equal('/ui/');
    // the server's root, as a browser opens it, leads to the console (302: a browser keeps no 301 of it)
    for (const [p, method] of [['/', 'GET'], ['/', 'HEAD'], ['/?x=1', 'GET']] as const) {
      const root = await call(p, { auth: false, method });
      expect(root.status, `${method} ${p}`).to.equal(302);
      expect(root.headers.get('location'), `${method} ${p}`).to.equal('/ui/');
    }
    expect((await call('/', { auth: false, method: 'POST' })).status).to.equal(404);
    expect((await call('/nothing', { auth: false })).status).to.equal(404);
    const page = await call('/ui/', { auth: false });
    expect(page.headers.get('content-security-policy')).to.match(/script-src 'self'; style-src 'self'/);
    expect(page.headers.get('x-frame-options')).to.equal('DENY');
    // Built by `npm run build` (and npm ci's prepare): the page and its script.
    expect(page.status, 'dist/ui is built by npm run build').to.equal(200);
    expect(page.text).to.match(/<script type="module" src="\.\/app\.js"><\/script>/);
    expect((await call('/ui/app.js', { auth: false })).status).to.equal(200);
    expect((await call('/ui/', { auth: false, method: 'POST' })).status).to.equal(405);
    expect((await call('/ui/nothing.js', { auth: false })).status).to.equal(404);
  });
});
