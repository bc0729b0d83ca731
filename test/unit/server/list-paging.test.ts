/**
 * The list calls of `/api/v1` answer as README "Paging" says, over real HTTP on the server `pushgate
 * serve` starts: the shape (object or array, and the object's keys), the order, and the recipe for the
 * next page and the last one. Each paged call is walked with small pages by the README's recipe alone
 * and must hand out every record once. The table is read from the README, so the documentation and the
 * server cannot drift apart silently (the shapes are kept as published: the console and scripts read them).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import type { Verdict } from '../../../src/core/index.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { labGateConfig, silentLogger } from '../../helpers/gate.js';
import { ROOT } from '../../helpers/lab.js';

const SECRET = 'list-paging-test-secret-0123456789';
const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}` as const;

/** One row of README "Paging": the call and its cells as written. */
interface PagingRow { calls: string[]; answer: string; order: string; next: string; last: string }

/** The rows of the table under `#### Paging` in the README (empty when there is none). */
function pagingTable(): PagingRow[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('\n#### Paging\n');
  if (at < 0) return [];
  const rows = readme.slice(at).split('\n').filter((l) => l.startsWith('| `GET '));
  return rows.map((l) => {
    const cells = l.split(' | ').map((c) => c.replace(/^\| ?| ?\|$/g, '').trim());
    return { calls: [...cells[0].matchAll(/`GET (\/api\/v1\/[^`]+)`/g)].map((m) => m[1]), answer: cells[1], order: cells[2], next: cells[3], last: cells[4] };
  });
}

describe('admin API: list calls answer and page as README "Paging" says', function () {
  this.timeout(60_000);
  let dir: string;
  let srv: RunningServer;
  let base: string;
  const token = (role: string) => jwt.sign({ sub: 'pager', role }, SECRET, { algorithm: 'HS256', expiresIn: '5m' });
  const call = async (p: string, opts: { method?: string; body?: string; role?: string } = {}) => {
    const r = await fetch(`${base}${p}`, { method: opts.method ?? 'GET', headers: { authorization: `Bearer ${token(opts.role ?? 'viewer')}`, 'content-type': 'application/json' }, body: opts.body });
    const text = await r.text();
    expect(r.status, `${p}: ${text}`).to.be.oneOf([200, 201]);
    return JSON.parse(text) as unknown;
  };
  const rows = pagingTable();
  const row = (call: string): PagingRow => {
    const r = rows.find((x) => x.calls.includes(call));
    expect(r, `README "Paging" has a row for GET ${call}`).to.not.equal(undefined);
    return r!;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-list-paging-'));
    const config = labGateConfig(dir, []);
    config.api.jwt = { secret: SECRET };
    srv = await startServer(config, silentLogger);
    base = `http://127.0.0.1:${srv.port}`;
    for (let i = 1; i <= 7; i++) {
      await srv.store.putVerdict({
        registry: 'lab', repository: 'team/app', digest: digest(i), tags: [`v${i}`], decision: 'allow', complete: true, reasons: [],
        mode: 'enforce', policy: { name: 'p', revision: 'r' }, vulndb: { builtAt: null }, evaluatedAt: new Date().toISOString(),
      } as Verdict);
      await srv.store.audit({ actor: 'lab', action: 'paging-test', registry: 'lab', repository: 'team/app', digest: digest(i), tag: `v${i}`, detail: {} });
      await srv.store.recordQuarantine({ registry: 'lab', repository: 'team/app', tag: `q${i}`, digest: digest(i), quarantineRepository: 'quarantine/team/app' });
    }
    for (let i = 1; i <= 5; i++) {
      await call('/api/v1/exceptions', { method: 'POST', role: 'admin', body: JSON.stringify({ reason: `r${i}`, owner: 'sec', expires: '2099-01-01', ids: [`CVE-2099-000${i}`] }) });
      await call('/api/v1/vex', {
        method: 'POST', role: 'admin', body: JSON.stringify({
          '@context': 'https://openvex.dev/ns/v0.2.0', '@id': `https://example.test/vex/${i}`, author: 'sec@example.test', timestamp: '2026-01-01T00:00:00Z', version: 1,
          statements: [{ vulnerability: { name: `CVE-2099-100${i}` }, products: [{ '@id': 'pkg:npm/adm-zip' }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' }],
        }),
      });
    }
  });
  after(async () => {
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the README has the table, one row per list call', () => {
    expect(rows.length, 'README "#### Paging" table').to.be.at.least(7);
    for (const c of ['/api/v1/images', '/api/v1/vulnerabilities/{id}/images', '/api/v1/packages/{purl}/images', '/api/v1/audit', '/api/v1/quarantine', '/api/v1/exceptions', '/api/v1/vex', '/api/v1/images/{digest}/changes', '/api/v1/monitor/runs']) row(c);
  });

  /**
   * Walks `endpoint` page by page (`limit=2`) by the README row's recipe alone; answers every item handed
   * out, in order, and checks the shape of each page.
   */
  async function walk(endpoint: string, filter = ''): Promise<Array<Record<string, unknown>>> {
    const r = row(endpoint);
    const isArray = r.answer === 'array';
    const keys = isArray ? [] : (/`\{([^}]*)\}`/.exec(r.answer)?.[1] ?? '').split(',').map((k) => k.trim());
    const itemsKey = keys.find((k) => k === 'items' || k === 'images');
    const seen: Array<Record<string, unknown>> = [];
    let after: string | undefined;
    for (let pages = 0; pages < 50; pages++) {
      const body = await call(`${endpoint}?limit=2${filter}${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      let items: Array<Record<string, unknown>>;
      if (isArray) {
        expect(Array.isArray(body), `${endpoint}: README says an array`).to.equal(true);
        items = body as Array<Record<string, unknown>>;
      } else {
        expect(Array.isArray(body), `${endpoint}: README says an object`).to.equal(false);
        const o = body as Record<string, unknown>;
        // every key the object has is documented; every documented key without `?` is there
        for (const k of Object.keys(o)) expect(keys.map((x) => x.replace(/\?$/, '')), `${endpoint}: key ${k}`).to.include(k);
        for (const k of keys.filter((x) => !x.endsWith('?'))) expect(o, `${endpoint}: key ${k}`).to.have.property(k);
        items = o[itemsKey!] as Array<Record<string, unknown>>;
      }
      seen.push(...items);
      // the last page, as the README tells it
      const last = /no `next`/.test(r.last) ? !(body as { next?: string }).next
        : /`more` is false/.test(r.last) ? !(body as { more: boolean }).more
        : /fewer than `limit`/.test(r.last) ? items.length < 2
        : expect.fail(`${endpoint}: no recipe for the last page in "${r.last}"`);
      if (last) return seen;
      // the next page, as the README tells it
      const field = /`after=<next>`/.test(r.next) ? 'next' : /`after=<seq>` of the page's last record/.test(r.next) ? 'seq' : /`after=<id>` of the page's last record/.test(r.next) ? 'id' : undefined;
      expect(field, `${endpoint}: a recipe for the next page in "${r.next}"`).to.not.equal(undefined);
      after = field === 'next' ? String((body as { next: string }).next) : String(items[items.length - 1][field!]);
    }
    return expect.fail(`${endpoint}: more than 50 pages of 2`);
  }

  it('images: an object with a cursor; every stored verdict once, newest write first', async () => {
    const items = await walk('/api/v1/images');
    expect(items.map((v) => v.digest)).to.deep.equal([7, 6, 5, 4, 3, 2, 1].map(digest));
    expect(row('/api/v1/images').order).to.equal('newest write first');
  });

  it('audit and quarantine: arrays, newest first; every record once', async () => {
    const audit = await walk('/api/v1/audit', '&action=paging-test');
    expect(audit.map((a) => a.tag)).to.deep.equal(['v7', 'v6', 'v5', 'v4', 'v3', 'v2', 'v1']);
    const q = await walk('/api/v1/quarantine');
    expect(q.map((x) => x.tag)).to.deep.equal(['q7', 'q6', 'q5', 'q4', 'q3', 'q2', 'q1']);
    for (const c of ['/api/v1/audit', '/api/v1/quarantine']) expect(row(c).order, c).to.equal('newest first');
  });

  it('exceptions and VEX documents: arrays, oldest first; every one once', async () => {
    const ex = await walk('/api/v1/exceptions');
    expect(ex.map((e) => (e.spec as { reason: string }).reason)).to.deep.equal(['r1', 'r2', 'r3', 'r4', 'r5']);
    const vex = await walk('/api/v1/vex');
    expect(vex.map((d) => d.id)).to.deep.equal([...vex.map((d) => d.id as number)].sort((a, b) => a - b));
    expect(vex).to.have.length(5);
    for (const c of ['/api/v1/exceptions', '/api/v1/vex']) expect(row(c).order, c).to.equal('oldest first');
  });

  it('the monitor\'s lists: affected and package images are objects with more/next; changes and runs are arrays', async () => {
    const affected = await call('/api/v1/vulnerabilities/CVE-2099-0001/images?limit=2') as Record<string, unknown>;
    const pkg = await call(`/api/v1/packages/${encodeURIComponent('pkg:npm/adm-zip')}/images?limit=2`) as Record<string, unknown>;
    for (const [c, body] of [['/api/v1/vulnerabilities/{id}/images', affected], ['/api/v1/packages/{purl}/images', pkg]] as const) {
      const keys = (/`\{([^}]*)\}`/.exec(row(c).answer)?.[1] ?? '').split(',').map((k) => k.trim());
      expect(Object.keys(body).sort(), c).to.deep.equal(keys.filter((k) => !k.endsWith('?') || Object.hasOwn(body, k.slice(0, -1))).map((k) => k.replace(/\?$/, '')).sort());
    }
    expect(await call(`/api/v1/images/${digest(1)}/changes?limit=2`), 'changes').to.be.an('array');
    expect(await call('/api/v1/monitor/runs?limit=2'), 'runs').to.be.an('array');
    for (const c of ['/api/v1/images/{digest}/changes', '/api/v1/monitor/runs']) expect(row(c).answer, c).to.equal('array');
  });
});
