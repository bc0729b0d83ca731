/**
 * The affected-images query is bounded: pages of at most `limit` images in digest order with a cursor
 * (`after` = the previous page's `next`), on SQLite and PostgreSQL (127.0.0.1:5432), through
 * Monitor.affected and over real HTTP (the admin API on port 0); ids that are not advisory ids,
 * limits out of range and cursors that are not digests are refused with a clear 400; the catch-up
 * before a query is bounded and says when it left reports unindexed.
 */
import { expect } from 'chai';
import express from 'express';
import fc from 'fast-check';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig } from '../../../src/config/load.js';
import { PushgateError, type Digest } from '../../../src/core/index.js';
import type { Gate } from '../../../src/gate/gate.js';
import { ADVISORY_ID_MAX, advisoryIdProblem, Monitor, type AffectedAnswer } from '../../../src/monitor/index.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { createAdminApi } from '../../../src/server/admin-api.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { VulnDb } from '../../../src/vulndb/index.js';
import { silentLogger } from '../../helpers/gate.js';
import { buildDb, digestOf, npmPackage, osvRecord, scanOf, storeImage } from '../../helpers/monitor.js';
import { freshDatabase } from '../../helpers/postgres.js';

const ADM_ZIP = osvRecord('npm/NSWG-NPM-458.json'); // adm-zip < 0.4.9, alias CVE-2018-1002204
const CVE = 'CVE-2018-1002204';
const VIEWER = 'affected-pages-unit-viewer-token';

/** Every page of `id`, `limit` images each, following `next`; fails on a page that breaks the contract. */
async function allPages(mon: Monitor, id: string, limit: number): Promise<AffectedAnswer[]> {
  const pages: AffectedAnswer[] = [];
  let after: Digest | undefined;
  for (;;) {
    const p = await mon.affected(id, { limit, after });
    pages.push(p);
    expect(p.images.length, 'a page holds at most limit images').to.be.at.most(limit);
    if (!p.more) {
      expect(p.next).to.equal(undefined);
      return pages;
    }
    expect(p.images.length, 'a page with more after it is full').to.equal(limit);
    expect(p.next).to.equal(p.images[p.images.length - 1].digest);
    after = p.next;
    expect(pages.length, 'pages end').to.be.below(1000);
  }
}

function contract(name: string, open: () => Promise<{ store: Store; done(): Promise<void> }>) {
  describe(`affected images, paged: ${name}`, function () {
    this.timeout(120_000);
    let store: Store;
    let done: () => Promise<void>;
    let dir: string;
    let db: VulnDb;
    const policy = defaultPolicy();
    beforeEach(async () => {
      ({ store, done } = await open());
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-affected-'));
      db = await buildDb(path.join(dir, 'vulndb.sqlite'), [ADM_ZIP]);
    });
    afterEach(async () => {
      db.close();
      await done();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** Stores image `n`: affected (adm-zip 0.4.7, at one or two paths) or not (adm-zip 0.4.9). */
    async function put(n: number, kind: 'none' | 'one' | 'two'): Promise<void> {
      const pkgs = kind === 'none'
        ? [npmPackage('adm-zip', '0.4.9')]
        : [npmPackage('adm-zip', '0.4.7'), ...(kind === 'two' ? [npmPackage('adm-zip', '0.4.7', '/srv/node_modules/adm-zip/package.json')] : [])];
      await storeImage(store, { repository: `team/app${n % 3}`, tag: `v${n}`, scan: scanOf(digestOf(n), pkgs), db, policy });
    }

    it('the pages hold every affected image exactly once, in digest order, whole (all its findings on one page), for any image set and limit', async () => {
      const mon = new Monitor({ store, logger: silentLogger, vulndb: () => db, policy: () => policy });
      const stored = new Map<Digest, 'none' | 'one' | 'two'>();
      // images accumulate across runs (one store): each run adds some and pages through all of them
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(fc.record({ n: fc.integer({ min: 1, max: 1_000_000 }), kind: fc.constantFrom('none' as const, 'one' as const, 'two' as const) }), { selector: (x) => x.n, maxLength: 12 }),
          fc.integer({ min: 1, max: 8 }),
          fc.constantFrom(CVE, CVE.toLowerCase(), 'NSWG-NPM-458'),
          async (add, limit, id) => {
            for (const { n, kind } of add) {
              if (stored.has(digestOf(n))) continue;
              await put(n, kind);
              stored.set(digestOf(n), kind);
            }
            const pages = await allPages(mon, id, limit);
            const seen = pages.flatMap((p) => p.images.map((i) => i.digest));
            const want = [...stored].filter(([, k]) => k !== 'none').map(([d]) => d).sort();
            expect(seen, 'every affected image once, in order').to.deep.equal(want);
            for (const img of pages.flatMap((p) => p.images)) {
              expect(img.findings.map((f) => f.id), img.digest).to.deep.equal(stored.get(img.digest) === 'two' ? ['NSWG-NPM-458', 'NSWG-NPM-458'] : ['NSWG-NPM-458']);
              expect(img.verdicts, 'its verdict, not another image\'s').to.have.length(1);
              expect(img.verdicts[0].tags).to.deep.equal([`v${parseInt(img.digest.slice(7), 16)}`]);
            }
            for (const p of pages) expect(p.id).to.equal(id);
          },
        ),
        { numRuns: 25 },
      );
      expect(stored.size).to.be.above(20);
    });

    it('each verdict says the enforcement done on it (quarantine, delete, label), not one failed, skipped or pending', async () => {
      const mon = new Monitor({ store, logger: silentLogger, vulndb: () => db, policy: () => policy });
      const cases = [
        [{ action: 'quarantine', status: 'done' }, 'quarantine'], [{ action: 'delete', status: 'done' }, 'delete'], [{ action: 'label', status: 'done' }, 'label'],
        [{ action: 'quarantine', status: 'failed' }, undefined], [{ action: 'delete', status: 'pending' }, undefined], [{ action: 'none', status: 'done' }, undefined],
        [{ action: 'restore', status: 'done' }, undefined], [undefined, undefined],
      ] as const;
      for (let n = 0; n < cases.length; n++) {
        await put(n + 1, 'one');
        const v = (await store.getVerdict('lab', `team/app${(n + 1) % 3}`, digestOf(n + 1)))!;
        const e = cases[n][0];
        await store.putVerdict({ ...v, ...(e ? { enforcement: { ...e, detail: 'test' } } : {}) });
      }
      const answer = await mon.affected('CVE-2018-1002204', { limit: 1000 });
      for (let n = 0; n < cases.length; n++) {
        const img = answer.images.find((i) => i.digest === digestOf(n + 1))!;
        expect(img.verdicts[0].enforced, JSON.stringify(cases[n][0])).to.equal(cases[n][1]);
      }
    });

    it('limit defaults to 100 and is bounded to 1..1000; after must be a digest; ids must be advisory ids', async () => {
      const mon = new Monitor({ store, logger: silentLogger, vulndb: () => db, policy: () => policy });
      for (let n = 1; n <= 3; n++) await put(n, 'one');
      const first = await mon.affected(CVE);
      expect(first.images).to.have.length(3);
      expect(first.more).to.equal(false);
      expect((await mon.affected(CVE, { limit: 1000 })).images).to.have.length(3);
      expect((await mon.affected(CVE, { limit: 2, after: digestOf(1) })).images.map((i) => i.digest)).to.deep.equal([digestOf(2), digestOf(3)]);
      expect((await mon.affected(CVE, { after: digestOf(3) })).images, 'after the last one: nothing').to.deep.equal([]);
      for (const [page, re] of [
        [{ limit: 0 }, /limit 0: use an integer from 1 to 1000/],
        [{ limit: 1001 }, /limit 1001/],
        [{ limit: 2.5 }, /limit 2.5/],
        [{ after: 'sha256:zz' as Digest }, /after: "sha256:zz" is not a digest/],
      ] as const) {
        const e = await mon.affected(CVE, page).then(() => undefined, (x: unknown) => x);
        expect(e, JSON.stringify(page)).to.be.instanceOf(PushgateError);
        expect((e as PushgateError).code).to.equal('BAD_ARGUMENT');
        expect((e as Error).message).to.match(re);
      }
      const bad = await mon.affected("CVE-1' OR '1'='1").then(() => undefined, (x: unknown) => x);
      expect((bad as PushgateError).code).to.equal('BAD_ARGUMENT');
    });

    it('the catch-up before a query is bounded; indexBehind says reports were left for the next call or tick', async () => {
      const mon = new Monitor({ store, logger: silentLogger, vulndb: () => db, policy: () => policy, affectedCatchUp: 2 });
      for (let n = 1; n <= 5; n++) await put(n, 'one');
      const a = await mon.affected(CVE);
      expect(a.indexBehind).to.equal(true);
      expect(a.images, 'the two oldest reports indexed').to.have.length(2);
      expect((await mon.affected(CVE)).images).to.have.length(4);
      const c = await mon.affected(CVE);
      expect(c.images).to.have.length(5);
      expect(c.indexBehind).to.equal(false);
      // concurrent queries share one catch-up: six at once index at most two images between them
      for (let n = 6; n <= 12; n++) await put(n, 'one');
      const burst = await Promise.all(Array.from({ length: 6 }, () => mon.affected(CVE)));
      expect(burst.map((b) => b.images.length)).to.deep.equal(Array(6).fill(7));
      expect((await mon.catchUp()) , 'the rest is still stale').to.equal(5);
    });

    it('over HTTP: pages with limit and after; bad ids, limits and cursors are 400 with a reason', async () => {
      const mon = new Monitor({ store, logger: silentLogger, vulndb: () => db, policy: () => policy });
      for (let n = 1; n <= 5; n++) await put(n, n === 4 ? 'none' : 'one');
      const config = defaultConfig();
      config.api.tokens = [VIEWER];
      const app = express();
      app.use('/api/v1', createAdminApi({ config, gate: {} as Gate, store, logger: silentLogger, monitor: mon }));
      const server = http.createServer(app);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
      const get = async (p: string) => {
        const r = await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${VIEWER}` } });
        return { status: r.status, body: (await r.json()) as AffectedAnswer & { error?: string } };
      };
      try {
        const p1 = await get(`/vulnerabilities/${CVE}/images?limit=2`);
        expect(p1.status).to.equal(200);
        expect(p1.body).to.include({ more: true, next: digestOf(2), indexBehind: false });
        expect(p1.body.images.map((i) => i.digest)).to.deep.equal([digestOf(1), digestOf(2)]);
        const p2 = await get(`/vulnerabilities/${CVE}/images?limit=2&after=${p1.body.next}`);
        expect(p2.body.images.map((i) => i.digest)).to.deep.equal([digestOf(3), digestOf(5)]);
        expect(p2.body.more).to.equal(false);
        expect((await get(`/vulnerabilities/${CVE.toLowerCase()}/images`)).body.images).to.have.length(4);
        const bad: Array<[string, RegExp]> = [
          [`/vulnerabilities/${CVE}/images?limit=0`, /limit: got "0"; use an integer from 1 to 1000/],
          [`/vulnerabilities/${CVE}/images?limit=1001`, /limit: got "1001"/],
          [`/vulnerabilities/${CVE}/images?after=sha256:12`, /after: got "sha256:12"; use a digest/],
          [`/vulnerabilities/${CVE}/images?cursor=x`, /unknown query parameter "cursor"/],
          [`/vulnerabilities/${'A'.repeat(ADVISORY_ID_MAX + 1)}/images`, /is 129 characters long; ids are at most 128/],
          [`/vulnerabilities/${encodeURIComponent('CVE-2018-1002204 ')}/images`, /has characters ids do not have/],
          [`/vulnerabilities/${encodeURIComponent('../../etc')}/images`, /has characters ids do not have/],
          [`/vulnerabilities/${encodeURIComponent('%')}/images`, /has characters ids do not have/],
          [`/vulnerabilities/-x/images`, /starting with a letter or digit/],
        ];
        for (const [p, re] of bad) {
          const r = await get(p);
          expect(r.status, p).to.equal(400);
          expect(r.body.error, p).to.match(re);
        }
      } finally {
        await new Promise<void>((r) => server.close(() => r()));
      }
    });
  });
}

describe('advisory ids', () => {
  it('letters, digits and . _ : - after a letter or digit, at most 128: accepted; anything else refused with the reason', () => {
    for (const id of ['CVE-2024-3094', 'cve-2024-3094', 'GHSA-jfh8-c2jp-5v3q', 'DSA-5678-1', 'RHSA-2024:1234', 'PYSEC-2021.1', 'GO-2022-0001', 'openSUSE-SU-2024:0001-1', 'A'.repeat(128)]) {
      expect(advisoryIdProblem(id), id).to.equal(undefined);
    }
    const idChar = fc.constantFrom(...'ABCXYZabcxyz0189._:-'.split(''));
    // Ids up to the bound (`size: 'max'`: fast-check's default size stops the array at 10).
    fc.assert(fc.property(fc.constantFrom(...'AZaz09'.split('')), fc.array(idChar, { maxLength: 127, size: 'max' }), (h, t) => advisoryIdProblem(h + t.join('')) === undefined));
    // any id with a character outside the set, or too long, or empty, is refused
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ minLength: 1, maxLength: 3 }).filter((x) => /[^A-Za-z0-9._:-]/.test(x)), fc.string({ maxLength: 40 }), (a, bad, b) => {
        expect(advisoryIdProblem(`${a}${bad}${b}`)).to.match(/has characters ids do not have|at most 128|starting with/);
      }),
    );
    expect(advisoryIdProblem('')).to.match(/required/);
    expect(advisoryIdProblem('A'.repeat(129))).to.match(/129 characters long/);
    expect(advisoryIdProblem(':CVE-1')).to.match(/starting with a letter or digit/);
  });
});

contract('sqlite', async () => {
  const store = await openStore('sqlite::memory:');
  return { store, done: () => store.close() };
});

contract('postgres', async () => {
  const pg = await freshDatabase('pushgate_affected_pages');
  const store = await openStore(pg.url);
  return {
    store,
    async done() {
      await store.close();
      await pg.drop();
    },
  };
});
