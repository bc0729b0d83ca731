/**
 * A monitor batch never writes over a judgement stored after the pass read the image
 * (MonitorStore.verdictsWithMarks / commitBatch), on real SQLite and PostgreSQL:
 *
 * - property: generated interleavings of passes' reads and commits with pushes' report and verdict writes
 *   (each its own transaction, as the gate writes them) over several digests. Every digest ends with the
 *   verdicts, report and index mark of the last writer in commit order, where a pass's commit counts only
 *   for images whose stored report and verdicts no write touched since its read (its own earlier commits
 *   and other passes' included); such images are named `superseded` and get no change or audit record;
 * - PostgreSQL: a push whose report write is still in flight (its transaction holds the report row) when the
 *   batch checks: the batch waits for it, sees it, and leaves the image as the push wrote it.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import pg from 'pg';
import type { Digest, ScanReport, Verdict } from '../../../src/core/index.js';
import { openStore, type ReadMarks, type Rejudgement, type Store } from '../../../src/store/index.js';
import type { ReportPatch } from '../../../src/store/report-patch.js';
import { freshDatabase } from '../../helpers/postgres.js';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}` as Digest;
const REPOS = ['app', 'other'] as const;

function report(d: Digest, label: string): ScanReport {
  return {
    target: `reg.example/app@${d}`, digest: d, mediaType: 'application/vnd.oci.image.manifest.v1+json', platforms: [], packages: [],
    findings: [], secrets: [], config: [], diagnostics: [], complete: true,
    verdict: { decision: 'allow', reasons: [], policy: { name: 'default', revision: 'r1' }, complete: true },
    vulndb: { builtAt: null, digest: null }, scannedAt: label,
  } as unknown as ScanReport;
}

function verdict(d: Digest, repository: string, label: string): Verdict {
  return {
    registry: 'reg.example', repository, digest: d, tags: [], decision: 'allow', complete: true, reasons: [], mode: 'enforce',
    policy: { name: 'default', revision: 'r1' }, vulndb: { builtAt: null, digest: null }, evaluatedAt: label,
  };
}

function patchOf(d: Digest, label: string): ReportPatch {
  return { digest: d, findings: [], vulndb: { builtAt: null, digest: null }, scannedAt: label, verdict: { decision: 'allow', reasons: [], policy: { name: 'default', revision: 'r1' } } } as unknown as ReportPatch;
}

const N = 4;
type Op =
  | { t: 'read'; p: number; ds: number[] }
  | { t: 'pushReport'; d: number }
  | { t: 'pushVerdict'; d: number; repo: number }
  | { t: 'commit'; p: number; rejudge: boolean[]; patch: boolean };
const digests = Array.from({ length: N }, (_, i) => i);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('read' as const), p: fc.nat(1), ds: fc.subarray(digests, { minLength: 1 }) }),
  fc.record({ t: fc.constant('pushReport' as const), d: fc.nat(N - 1) }),
  fc.record({ t: fc.constant('pushVerdict' as const), d: fc.nat(N - 1), repo: fc.nat(1) }),
  fc.record({ t: fc.constant('commit' as const), p: fc.nat(1), rejudge: fc.array(fc.boolean(), { minLength: N, maxLength: N }), patch: fc.boolean() }),
);

/** What the store must hold for one digest. */
interface Model {
  /** Bumped by every write of its report or verdicts (pushes' and passes'). */
  version: number;
  report: string;
  verdicts: Map<string, string>;
  index: string;
  changes: number;
}

function suite(name: string, runs: number, open: () => Promise<{ store: Store; done(): Promise<void> }>) {
  describe(`store (${name}): monitor batches and concurrent judgements`, function () {
    this.timeout(600_000);
    let store: Store;
    let done: () => Promise<void>;
    before(async () => ({ store, done } = await open()));
    after(async () => done?.());

    it('every digest ends as its last writer left it; a batch never writes over a judgement made after its read (property)', async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 24 }), async (ops) => {
          const base = ++n * 16;
          const D = digests.map((i) => digest(base + i));
          const model: Model[] = [];
          let labels = 0;
          const label = (who: string) => `${who}-${n}-${++labels}`;
          for (const [i, d] of D.entries()) {
            await store.putReport(d, report(d, 'init'));
            await store.putVerdict(verdict(d, 'app', 'init'));
            await store.monitor.putIndex({ digest: d, vulndbDigest: 'init', reportAt: 0, findings: [] });
            model[i] = { version: 0, report: 'init', verdicts: new Map([['app', 'init']]), index: 'init', changes: 0 };
          }
          // two passes, each its own run; a pass holds at most one read not yet committed
          const runs = [0, 1].map((p) => ({ id: `run-${n}-${p}`, owner: `owner-${p}`, cursor: '', leaseMs: 600_000 }));
          for (const r of runs) expect(await store.monitor.claimRun(r.id, 'all', null, r.owner, r.leaseMs, Date.now())).to.not.equal(undefined);
          const pending: Array<{ ds: number[]; versions: number[]; verdicts: Verdict[]; marks: Map<Digest, ReadMarks> } | undefined> = [undefined, undefined];
          const commit = async (p: number, rejudge: boolean[], patch: boolean) => {
            const r = pending[p]!;
            pending[p] = undefined;
            const by = label(`pass${p}`);
            const rejudged: Array<Omit<Rejudgement, 'run'>> = [];
            const unchanged: Digest[] = [];
            const unchangedRead: ReadMarks[] = [];
            for (const i of r.ds) {
              const d = D[i];
              if (rejudge[i]) {
                const vs = r.verdicts.filter((v) => v.digest === d).map((v) => ({ ...v, evaluatedAt: by }));
                rejudged.push({
                  verdicts: vs,
                  changes: vs.map((v) => ({ registry: v.registry, repository: v.repository, digest: d, tags: [], run: runs[p].id, at: by, vulndb: { before: null, after: null }, policy: { before: 'r1', after: 'r1' }, decision: { before: 'allow', after: 'allow' }, new: [], resolved: [], severityChanged: [] })),
                  audits: vs.map((v) => ({ actor: 'pushgate', action: 'monitor:changed', registry: v.registry, repository: v.repository, digest: d, detail: { run: runs[p].id } })),
                  ...(patch ? { reportPatch: patchOf(d, by) } : { report: { digest: d, body: report(d, by) } }),
                  read: [r.marks.get(d)!],
                });
              } else {
                unchanged.push(d);
                unchangedRead.push(r.marks.get(d)!);
              }
            }
            const expected: Digest[] = [];
            for (const i of r.ds) {
              const m = model[i];
              if (m.version !== r.versions[i]) {
                expected.push(D[i]);
                continue;
              }
              if (!rejudge[i]) {
                m.index = by;
                continue;
              }
              m.version++;
              m.report = by;
              for (const v of r.verdicts.filter((x) => x.digest === D[i])) m.verdicts.set(v.repository, by);
              m.changes += r.verdicts.filter((x) => x.digest === D[i]).length;
            }
            const out = await store.monitor.commitBatch({ run: { ...runs[p], cursor: by }, rejudged, unchanged, unchangedRead, vulndbDigest: by }, Date.now());
            expect(out, 'the run is held').to.not.equal(false);
            expect([...(out as { superseded: Digest[] }).superseded].sort(), `superseded by ${by}`).to.deep.equal(expected.sort());
          };
          for (const o of ops) {
            if (o.t === 'read') {
              if (pending[o.p]) continue;
              const ds = o.ds.map((i) => D[i]);
              const got = await store.monitor.verdictsWithMarks(ds);
              pending[o.p] = { ds: o.ds, versions: model.map((m) => m.version), verdicts: got.verdicts, marks: got.marks };
            } else if (o.t === 'pushReport') {
              const by = label('push');
              await store.putReport(D[o.d], report(D[o.d], by));
              model[o.d].version++;
              model[o.d].report = by;
            } else if (o.t === 'pushVerdict') {
              const by = label('push');
              await store.putVerdict(verdict(D[o.d], REPOS[o.repo], by));
              model[o.d].version++;
              model[o.d].verdicts.set(REPOS[o.repo], by);
            } else if (pending[o.p]) {
              await commit(o.p, o.rejudge, o.patch);
            }
          }
          for (const p of [0, 1]) if (pending[p]) await commit(p, Array(N).fill(true), p === 1);
          const states = await store.monitor.indexStates();
          for (const [i, d] of D.entries()) {
            const m = model[i];
            expect((await store.getReport(d))?.scannedAt, `report of ${i}`).to.equal(m.report);
            for (const repo of REPOS) expect((await store.getVerdict('reg.example', repo, d))?.evaluatedAt, `verdict of ${i} in ${repo}`).to.equal(m.verdicts.get(repo));
            expect(states.get(d), `index mark of ${i}`).to.equal(m.index);
            expect(await store.monitor.listChanges(d, 100), `change records of ${i}`).to.have.length(m.changes);
            expect(await store.listAudit(100, { action: 'monitor:changed', digest: d }), `audit records of ${i}`).to.have.length(m.changes);
          }
        }),
        { numRuns: runs },
      );
    });

    it('a re-judgement that rewrites a child manifest\'s verdict is left out when that child was judged again since its read', async () => {
      const I = digest(0xff00);
      const C = digest(0xff01);
      for (const d of [I, C]) {
        await store.putReport(d, report(d, 'first'));
        await store.putVerdict(verdict(d, 'app', 'first'));
      }
      const run = { id: 'run-child', owner: 'me', cursor: C, leaseMs: 600_000 };
      expect(await store.monitor.claimRun(run.id, 'all', null, run.owner, run.leaseMs, Date.now())).to.not.equal(undefined);
      const image = await store.monitor.verdictsWithMarks([I]);
      const child = await store.monitor.verdictsWithMarks([C]);
      // the child is pushed by digest and judged again (its verdict only) before the pass writes
      await store.putVerdict(verdict(C, 'app', 'push'));
      const out = await store.monitor.commitBatch({
        run,
        rejudged: [{ verdicts: [...image.verdicts, ...child.verdicts].map((v) => ({ ...v, evaluatedAt: 'pass' })), changes: [], audits: [], report: { digest: I, body: report(I, 'pass') }, read: [image.marks.get(I)!, child.marks.get(C)!] }],
        unchanged: [],
        vulndbDigest: null,
      }, Date.now());
      expect(out, 'named by the image').to.deep.equal({ superseded: [I] });
      expect((await store.getVerdict('reg.example', 'app', C))?.evaluatedAt).to.equal('push');
      expect((await store.getVerdict('reg.example', 'app', I))?.evaluatedAt).to.equal('first');
      expect((await store.getReport(I))?.scannedAt).to.equal('first');
    });

    it('a tag moved away after the pass read the verdict stays away: a re-judgement keeps the stored tags, whatever tags it read', async () => {
      const A = digest(0xfe00);
      const B = digest(0xfe01);
      for (const d of [A, B]) await store.putReport(d, report(d, 'first'));
      await store.putVerdict({ ...verdict(A, 'app', 'first'), tags: ['v1', 'v2'] });
      await store.putVerdict(verdict(B, 'app', 'first'));
      const run = { id: 'run-tags', owner: 'me', cursor: A, leaseMs: 600_000 };
      expect(await store.monitor.claimRun(run.id, 'all', null, run.owner, run.leaseMs, Date.now())).to.not.equal(undefined);
      const read = await store.monitor.verdictsWithMarks([A, B]);
      expect(read.verdicts.find((v) => v.digest === A)?.tags).to.deep.equal(['v1', 'v2']);
      // v1 is pushed again, now at B, between the read and the write
      await store.moveTag('reg.example', 'app', 'v1', B);
      const out = await store.monitor.commitBatch({
        run,
        rejudged: [A, B].map((d) => ({ verdicts: read.verdicts.filter((v) => v.digest === d).map((v) => ({ ...v, evaluatedAt: 'pass', tags: d === A ? ['v1', 'v2', 'v3'] : [] })), changes: [], audits: [], report: { digest: d, body: report(d, 'pass') }, read: [read.marks.get(d)!] })),
        unchanged: [],
        vulndbDigest: null,
      }, Date.now());
      expect(out).to.not.equal(false);
      const a = await store.getVerdict('reg.example', 'app', A);
      const b = await store.getVerdict('reg.example', 'app', B);
      // The pass's judgement is written (moveTag renumbers nothing), with the tags as the store has them.
      expect([a?.evaluatedAt, b?.evaluatedAt]).to.deep.equal(['pass', 'pass']);
      expect(a?.tags).to.deep.equal(['v2']);
      expect(b?.tags).to.deep.equal(['v1']);
      expect((await store.tagHolders('reg.example', 'app', 'v1')).sort()).to.deep.equal([B]);
    });

    if (name === 'postgres') {
      it('a push whose report write is in flight when the batch checks: the batch waits, sees it, and leaves the image to it', async () => {
        const url = pgUrl!;
        const D = digest(0xfff0);
        await store.putReport(D, report(D, 'first'));
        await store.putVerdict(verdict(D, 'app', 'first'));
        const run = { id: 'run-inflight', owner: 'me', cursor: D, leaseMs: 600_000 };
        expect(await store.monitor.claimRun(run.id, 'all', null, run.owner, run.leaseMs, Date.now())).to.not.equal(undefined);
        // a patch row for the push's DELETE to wait on
        expect(await store.monitor.commitBatch({ run, rejudged: [{ verdicts: [], changes: [], audits: [], reportPatch: patchOf(D, 'earlier-pass') }], unchanged: [], vulndbDigest: null }, Date.now())).to.deep.equal({ superseded: [] });
        // the pass reads the image
        const read = await store.monitor.verdictsWithMarks([D]);
        const holder = new pg.Client({ connectionString: url });
        const admin = new pg.Client({ connectionString: url });
        await holder.connect();
        await admin.connect();
        try {
          await holder.query('BEGIN');
          await holder.query('SELECT 1 FROM report_patches WHERE digest = $1 FOR UPDATE', [D]);
          // the push: its report row written, its transaction waiting (on the patch row) before it commits
          const push = store.putReport(D, report(D, 'push'));
          expect(await blocked(admin, url, 1), 'the push holds the report row').to.equal(1);
          const pass = store.monitor.commitBatch({
            run,
            rejudged: [{
              verdicts: read.verdicts.map((v) => ({ ...v, evaluatedAt: 'pass' })),
              changes: [{ registry: 'reg.example', repository: 'app', digest: D, tags: [], run: run.id, at: 'pass', vulndb: { before: null, after: null }, policy: { before: 'r1', after: 'r1' }, decision: { before: 'allow', after: 'allow' }, new: [], resolved: [], severityChanged: [] }],
              audits: [{ actor: 'pushgate', action: 'monitor:changed', registry: 'reg.example', repository: 'app', digest: D }],
              reportPatch: patchOf(D, 'pass'),
              read: [read.marks.get(D)!],
            }],
            unchanged: [],
            vulndbDigest: null,
          }, Date.now());
          expect(await blocked(admin, url, 2), 'the batch waits on the push').to.equal(2);
          await holder.query('ROLLBACK');
          await push;
          expect(await pass, 'the image is left to the push').to.deep.equal({ superseded: [D] });
        } finally {
          await holder.end();
          await admin.end();
        }
        expect((await store.getReport(D))?.scannedAt, 'the push\'s report, no patch over it').to.equal('push');
        expect((await store.getVerdict('reg.example', 'app', D))?.evaluatedAt).to.equal('first');
        expect(await store.monitor.listChanges(D, 10)).to.deep.equal([]);
        expect(await store.listAudit(10, { action: 'monitor:changed', digest: D })).to.deep.equal([]);
      });
    }
  });
}

let pgUrl: string | undefined;

/** Resolves once `n` sessions of the database at `url` wait on a lock, or after 5 s. */
async function blocked(admin: pg.Client, url: string, n: number): Promise<number> {
  const name = new URL(url).pathname.slice(1);
  let w = 0;
  for (let i = 0; i < 100; i++) {
    w = Number((await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", [name])).rows[0].n);
    if (w >= n) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  return w;
}

suite('sqlite', 500, async () => {
  const store = await openStore('sqlite::memory:');
  return { store, done: () => store.close() };
});

suite('postgres', 150, async () => {
  const db = await freshDatabase('pushgate_superseded_prop');
  pgUrl = db.url;
  const store = await openStore(db.url);
  return { store, async done() {
    await store.close();
    await db.drop();
  } };
});
