/**
 * An index written with the stored findings its writer read (ImageIndex.stored: the store takes them as
 * the old rows rather than reading them again) leaves the store exactly as one written without them:
 * the same rows (identity, pair, body, first-seen time), the same signature and the same advisory-id
 * rows, also when another writer changed the image's index between the read and the write (the
 * stored signature no longer matches: the rows are read). Over generated finding sets, on both stores.
 * And migration 20: a patch kept in `reports.patch` before it moves to `report_patches` and still reads.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Digest, Finding, ScanReport } from '../../../src/core/index.js';
import { findingKey } from '../../../src/monitor/index.js';
import { openStore, type IndexedFinding, type Store } from '../../../src/store/index.js';
import { patchText } from '../../../src/store/report-patch.js';
import { digestOf } from '../../helpers/monitor.js';
import { freshDatabase } from '../../helpers/postgres.js';

const IDS = ['GEN-1', 'GEN-2', 'GEN-3'];
const ALIASES = ['CVE-2020-0001', 'CVE-2020-0002', 'GHSA-aaaa-bbbb-cccc'];

/** A finding on one of a few package instances; its content (severity, fix, aliases) varies. */
const finding = fc.record({
  id: fc.constantFrom(...IDS),
  name: fc.constantFrom('pa', 'pb'),
  version: fc.constantFrom('1.0.0', '2.0.0'),
  severity: fc.constantFrom('low', 'high', 'critical'),
  fixed: fc.constantFrom([], ['9.9.9']),
  aliases: fc.subarray(ALIASES, { maxLength: 2 }),
  firstSeen: fc.integer({ min: 1, max: 1000 }),
});
type Gen = fc.Arbitrary<IndexedFinding[]>;
const findings: Gen = fc.array(finding, { maxLength: 8 }).map((l) =>
  l.map((x) => {
    const f = { id: x.id, aliases: x.aliases, package: x.name, installedVersion: x.version, fixedVersions: x.fixed, severity: x.severity, path: `/app/node_modules/${x.name}/package.json` } as unknown as Finding;
    return { key: findingKey(f), pkg: `npm:${x.name}`, finding: f, firstSeen: x.firstSeen };
  }),
);

/** What the store holds for an image's index, digest left out. */
async function held(store: Store, d: Digest): Promise<unknown> {
  const rows = (await store.monitor.findingsOf(d)).map((f) => [f.key, f.pkg, JSON.stringify(f.finding), f.firstSeen]).sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1));
  const ids: unknown[] = [];
  for (const id of [...IDS, ...ALIASES]) {
    const { hits } = await store.monitor.affectedBy(id, { limit: 10 });
    ids.push([id, hits.filter((h) => h.digest === d).map((h) => JSON.stringify(h.finding)).sort()]);
  }
  return { rows, sig: (await store.monitor.findingSignatures([d])).get(d), ids };
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`monitor index write from the rows read (${kind})`, function () {
    this.timeout(300_000);
    let store: Store;
    let drop: (() => Promise<void>) | undefined;
    before(async () => {
      if (kind === 'sqlite') store = await openStore('sqlite::memory:');
      else {
        const db = await freshDatabase('pushgate_index_write');
        drop = db.drop;
        store = await openStore(db.url);
      }
    });
    after(async () => {
      await store.close();
      await drop?.();
    });

    it('property: equals the write that reads the rows, with or without a writer in between', async () => {
      let n = 0;
      const seen = { based: 0, interleaved: 0 };
      await fc.assert(
        fc.asyncProperty(findings, findings, fc.option(findings, { nil: undefined }), async (a, b, between) => {
          const fast = digestOf(++n);
          const slow = digestOf(++n);
          const index = (digest: Digest, list: IndexedFinding[]) => ({ digest, vulndbDigest: 'sha256:db', reportAt: 1, findings: list });
          for (const d of [fast, slow]) await store.monitor.putIndex(index(d, a));
          const read = await store.monitor.findingsAndSignatures([fast]);
          // (PostgreSQL reads the signature with the rows: none for an image without findings)
          const sig = read.signatures.get(fast);
          if (a.length) expect(sig, 'a signature is read with the rows').to.be.a('string');
          if (between) for (const d of [fast, slow]) await store.monitor.putIndex(index(d, between));
          await store.monitor.putIndexes([{ ...index(fast, b), ...(sig !== undefined ? { stored: { sig, findings: read.findings.get(fast) ?? [] } } : {}) }]);
          await store.monitor.putIndex(index(slow, b));
          expect(await held(store, fast)).to.deep.equal(await held(store, slow));
          if (sig !== undefined) {
            seen.based++;
            if (between) seen.interleaved++;
          }
        }),
        { numRuns: 60 },
      );
      expect(seen.based, 'writes from the rows read').to.be.greaterThan(30);
      expect(seen.interleaved, 'of them with a writer in between').to.be.greaterThan(5);
    });

    it('migration 20: a patch kept beside its report moves to report_patches and the report reads the same', async () => {
      const d = digestOf(100_000);
      const body = { target: 'x', digest: d, complete: true, findings: [], packages: [{ name: 'a' }], vulndb: { builtAt: null, digest: 'sha256:old' }, scannedAt: 't0', verdict: { decision: 'allow', reasons: [], policy: { name: 'p', revision: 'r' }, complete: true } } as unknown as ScanReport;
      const patch = patchText({ digest: d, findings: [{ id: 'GEN-1', aliases: [], package: 'a', installedVersion: '1', path: '/a', severity: 'high', fixedVersions: [] } as unknown as Finding], vulndb: { builtAt: null, digest: 'sha256:new' }, scannedAt: 't1', verdict: { decision: 'warn', reasons: [], policy: { name: 'p', revision: 'r' } } as never });
      const drops: Array<() => Promise<void>> = [];
      /** A store holding the report, with `sql` run on it directly before it is opened again. */
      const reopen = async (sql: Array<[string, unknown[]]>): Promise<Store> => {
        if (kind === 'sqlite') {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-patches-'));
          drops.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
          const file = path.join(dir, 'p.db');
          const s = await openStore(`sqlite:${file}`);
          await s.putReport(d, body);
          await s.close();
          const db = new Database(file);
          for (const [q, args] of sql) db.prepare(q).run(...args);
          db.close();
          return openStore(`sqlite:${file}`);
        }
        const fresh = await freshDatabase('pushgate_patches');
        drops.push(fresh.drop);
        const s = await openStore(fresh.url);
        await s.putReport(d, body);
        await s.close();
        const c = new pg.Client({ connectionString: fresh.url });
        await c.connect();
        for (const [q, args] of sql) {
          let i = 0;
          await c.query(q.replace(/\?/g, () => `$${++i}`), args);
        }
        await c.end();
        return openStore(fresh.url);
      };
      // the store as migration 19 left it: the patch in reports.patch, migration 20 not applied
      const s = await reopen([
        ['UPDATE reports SET patch = ? WHERE digest = ?', [patch, d]],
        ['DELETE FROM schema_migrations WHERE version = ?', [20]],
      ]);
      try {
        const r = await s.getReport(d);
        expect(r?.vulndb?.digest).to.equal('sha256:new');
        expect(r?.findings.map((f) => f.id)).to.deep.equal(['GEN-1']);
        expect(r?.verdict).to.deep.equal({ decision: 'warn', reasons: [], policy: { name: 'p', revision: 'r' }, complete: true });
        // a report written whole clears the moved patch
        await s.putReport(d, body);
        expect((await s.getReport(d))?.vulndb?.digest).to.equal('sha256:old');
      } finally {
        await s.close();
        for (const f of drops) await f();
      }
    });
  });
}
