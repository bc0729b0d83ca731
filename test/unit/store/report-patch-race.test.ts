/**
 * A report written whole (a push or re-evaluation judging the image again, `Store.putReport`) while a
 * monitor pass's batch that patches the same report is in flight (PostgreSQL, READ COMMITTED): the
 * whole write commits last, so the report reads as written whole. The patch lives in a row of its own
 * (`report_patches`, migration 20): a whole write that looked for the patch row in a snapshot taken
 * before the pass committed did not see it, and the pass's older findings and verdict were then laid
 * over the newer body (Harbor's scan report and published reports would show the older, possibly
 * cleaner, judgement). The real store's statements race; a third connection holds the batch open
 * after its patch is written (it waits on a grace-period hold row the third connection inserted).
 */
import { expect } from 'chai';
import pg from 'pg';
import type { Digest, ScanReport } from '../../../src/core/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { ReportPatch } from '../../../src/store/report-patch.js';
import { freshDatabase } from '../../helpers/postgres.js';

const D = `sha256:${'ab'.repeat(32)}` as Digest;

function report(decision: 'allow' | 'reject', findings: string[]): ScanReport {
  return {
    target: 'reg.example/app@' + D, digest: D, mediaType: 'application/vnd.oci.image.manifest.v1+json', platforms: [], packages: [],
    findings: findings.map((id) => ({ id, aliases: [], ecosystem: 'npm', package: 'p', installedVersion: '1.0.0', fixedVersions: [], severity: 'critical', path: '/app/package.json' })),
    secrets: [], config: [], diagnostics: [], complete: true,
    verdict: { decision, reasons: [], policy: { name: 'default', revision: 'r1' }, complete: true },
    vulndb: { builtAt: null, digest: null }, scannedAt: '2026-01-01T00:00:00.000Z',
  } as unknown as ScanReport;
}

/** Resolves once `n` sessions of the database at `url` wait on a lock (their statements are blocked), or after 5 s. */
async function blocked(admin: pg.Client, url: string, n: number): Promise<number> {
  let w = 0;
  for (let i = 0; i < 100 && (w = await waiters(admin, url)) < n; i++) await new Promise((res) => setTimeout(res, 50));
  return w;
}

/** How many sessions of the database at `url` wait on a lock. */
async function waiters(admin: pg.Client, url: string): Promise<number> {
  const name = new URL(url).pathname.slice(1);
  const r = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", [name]);
  return Number(r.rows[0].n);
}

describe('store (postgres): a whole report write racing a monitor patch', function () {
  this.timeout(60_000);
  let db: { url: string; drop(): Promise<void> };
  let store: Store;
  before(async () => {
    db = await freshDatabase('pushgate_patch_race');
    store = await openStore(db.url);
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  for (const patchedBefore of [false, true]) {
    it(`the whole write, committed last, wins (${patchedBefore ? 'a patch stored before' : 'first patch'})`, async () => {
      await store.putReport(D, report('allow', []));
      const run = await store.monitor.claimRun(`db:race-${patchedBefore}`, 'db', null, 'me', 60_000, Date.now());
      expect(run).to.not.equal(undefined);
      const patch = (decision: 'allow' | 'reject'): ReportPatch => ({ digest: D, findings: [], vulndb: { builtAt: null, digest: null }, scannedAt: '2026-01-02T00:00:00.000Z', verdict: { decision, reasons: [], policy: { name: 'default', revision: 'r1' } } } as unknown as ReportPatch);
      const runRef = { id: run!.id, owner: 'me', cursor: '', leaseMs: 60_000 };
      if (patchedBefore) {
        expect(await store.monitor.commitBatch({ run: runRef, rejudged: [{ verdicts: [], changes: [], audits: [], holds: [], reportPatch: patch('allow') }], unchanged: [], vulndbDigest: null }, Date.now())).to.deep.equal({ superseded: [] });
      }
      const holder = new pg.Client({ connectionString: db.url });
      const admin = new pg.Client({ connectionString: db.url });
      await holder.connect();
      await admin.connect();
      try {
        await holder.query('DELETE FROM monitor_holds');
        await holder.query('BEGIN');
        await holder.query("INSERT INTO monitor_holds (registry, repository, digest, due_at) VALUES ('reg.example', 'app', $1, 1)", [D]);
        // the pass's batch: the patch (the older judgement: clean, allowed) is written, then it waits on the hold
        const pass = store.monitor.commitBatch({ run: runRef, rejudged: [{ verdicts: [], changes: [], audits: [], holds: [{ registry: 'reg.example', repository: 'app', digest: D, dueAt: 5 }], reportPatch: patch('allow') }], unchanged: [], vulndbDigest: null }, Date.now());
        expect(await blocked(admin, db.url, 1), 'the pass waits, its patch written').to.equal(1);
        // meanwhile a push judges the image again: a critical finding, rejected
        const push = store.putReport(D, report('reject', ['CVE-2026-0001']));
        expect(await blocked(admin, db.url, 2), 'the push waits on the report row the pass updated').to.equal(2);
        await holder.query('ROLLBACK');
        expect(await pass).to.deep.equal({ superseded: [] });
        await push;
      } finally {
        await holder.end();
        await admin.end();
      }
      const got = await store.getReport(D);
      expect(got?.verdict.decision).to.equal('reject');
      expect(got?.findings.map((f) => f.id)).to.deep.equal(['CVE-2026-0001']);
    });
  }
});
