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

    it('a batch of many images, its rows beyond one statement, one image superseded mid-batch: written as image-by-image commits write it', async () => {
      // Two stores of this kind with the same images: one gets the batch at once, the other one image per
      // commit (the unit the batch must equal). 803 images of 8 findings: more parameters than one
      // PostgreSQL statement takes, and groups of SQLite's multi-row statements with a remainder.
      const M = 803;
      // two fresh stores: the other tests' rows are not in what is compared (the suite's database stays the one later tests use)
      const suiteUrl = pgUrl;
      const one = await open();
      const other = await open();
      const store = one.store;
      try {
        const both = [store, other.store];
        const D = Array.from({ length: M }, (_, i) => digest(0x7000_0000 + i));
        const finding = (i: number, k: number, v: string) => ({
          id: `OSV-${k}`, aliases: [`CVE-2099-${i % 7}${k}`, `GHSA-${k}`], ecosystem: 'npm', package: `p${k}`, installedVersion: '1.0.0',
          fixedVersions: [v], severity: k % 2 ? 'high' : 'low', path: `/app/node_modules/p${k}/package.json`,
        });
        const fk = (k: number) => `key-${k}`;
        // stored: findings 0..5 (first seen at 1000 + k)
        const oldFindings = (i: number) => [0, 1, 2, 3, 4, 5].map((k) => ({ key: fk(k), pkg: `npm:p${k}`, finding: finding(i, k, '1.0.1') as never, firstSeen: 1000 + k }));
        for (const s of both) {
          for (const [i, d] of D.entries()) {
            await s.putReport(d, report(d, 'init'));
            await s.putVerdict({ ...verdict(d, 'app', 'init'), tags: ['stored'] });
            if (i % 5 === 0) await s.putVerdict(verdict(d, 'other', 'init'));
          }
          await s.monitor.putIndexes(D.map((d, i) => ({ digest: d, vulndbDigest: 'v1', reportAt: 0, findings: oldFindings(i) })));
        }
        const run = { id: 'run-many', owner: 'me', cursor: '', leaseMs: 600_000 };
        const at = Date.now();
        const reads: Array<{ verdicts: Verdict[]; marks: Map<Digest, ReadMarks> }> = [];
        for (const s of both) {
          expect(await s.monitor.claimRun(run.id, 'db', 'v2', run.owner, run.leaseMs, at)).to.not.equal(undefined);
          reads.push(await s.monitor.verdictsWithMarks(D));
        }
        // the image in the middle is pushed again after the read, in both stores
        const mid = D[401];
        for (const s of both) await s.putVerdict(verdict(mid, 'app', 'push'));
        const batchOf = (read: { verdicts: Verdict[]; marks: Map<Digest, ReadMarks> }) => {
          const rejudged: Array<Omit<Rejudgement, 'run'>> = [];
          const unchanged: Digest[] = [];
          const unchangedRead: ReadMarks[] = [];
          for (const [i, d] of D.entries()) {
            if (i % 11 === 3) {
              unchanged.push(d);
              unchangedRead.push(read.marks.get(d)!);
              continue;
            }
            // kept 0..2, re-rated 3, gone 4 and 5, new 6..9
            const findings = [0, 1, 2].map((k) => oldFindings(i)[k]);
            findings.push({ key: fk(3), pkg: 'npm:p3', finding: finding(i, 3, '2.0.0') as never, firstSeen: 5 });
            for (const k of [6, 7, 8, 9]) findings.push({ key: fk(k), pkg: `npm:p${k}`, finding: finding(i, k, '1.0.1') as never, firstSeen: at });
            const vs = read.verdicts.filter((v) => v.digest === d).map((v) => ({ ...v, tags: ['read'], evaluatedAt: `pass-${i}` }));
            rejudged.push({
              verdicts: vs,
              changes: vs.map((v) => ({ registry: v.registry, repository: v.repository, digest: d, tags: v.tags, run: run.id, at: `pass-${i}`, vulndb: { before: 'v1', after: 'v2' }, policy: { before: 'r1', after: 'r1' }, decision: { before: 'allow', after: 'block' }, new: [finding(i, 6, '1.0.1') as never], resolved: [], severityChanged: [] })),
              audits: vs.map((v) => ({ actor: 'pushgate', action: 'monitor:changed', registry: v.registry, repository: v.repository, digest: d, detail: { run: run.id, i } })),
              ...(i % 3 ? { reportPatch: { ...patchOf(d, `pass-${i}`), findings: findings.map((f) => f.finding) } } : { report: { digest: d, body: report(d, `pass-${i}`) } }),
              index: { digest: d, vulndbDigest: 'v2', reportAt: at, findings, ...(i % 2 ? { stored: { sig: 'not the stored one', findings: oldFindings(i) } } : {}) },
              holds: vs.map((v) => ({ registry: v.registry, repository: v.repository, digest: d, dueAt: i % 4 ? null : at + i })),
              notices: i % 9 ? [] : [{ event: 'new-findings', digest: d }],
              read: [read.marks.get(d)!],
            });
          }
          return { rejudged, unchanged, unchangedRead };
        };
        const a = batchOf(reads[0]);
        const outA = await store.monitor.commitBatch({ run: { ...run, cursor: D[M - 1] }, ...a, vulndbDigest: 'v2' }, at);
        expect(outA).to.deep.equal({ superseded: [mid] });
        const b = batchOf(reads[1]);
        const superseded: Digest[] = [];
        for (const [i, d] of D.entries()) {
          const one = { run: { ...run, cursor: d }, rejudged: b.rejudged.filter((r) => r.read![0].digest === d), unchanged: b.unchanged.filter((x) => x === d), unchangedRead: b.unchangedRead.filter((m) => m.digest === d), vulndbDigest: 'v2' };
          const out = await other.store.monitor.commitBatch(one, at);
          expect(out, `image ${i}`).to.not.equal(false);
          superseded.push(...(out as { superseded: Digest[] }).superseded);
        }
        expect(superseded).to.deep.equal([mid]);
        // every observable result alike: verdicts (their numbering too), change and audit records, reports,
        // index rows and states, alias lookups, holds and the outbox
        const seen = async (s: Store) => {
          const byDigest: Array<{ verdicts: Verdict[]; findings: Array<{ key: string; firstSeen?: number }>; [k: string]: unknown }> = [];
          for (const d of D) {
            byDigest.push({
              verdicts: await s.monitor.verdictsOf([d]),
              changes: await s.monitor.listChanges(d, 10),
              audit: (await s.listAudit(10, { action: 'monitor:changed', digest: d })).map(({ seq: _seq, at: _at, ...x }) => x),
              report: await s.getReport(d),
              findings: (await s.monitor.findingsOf(d)).sort((x, y) => (x.key < y.key ? -1 : 1)),
            });
          }
          const affected: unknown[] = [];
          for (let after: Digest | undefined; ;) {
            const page = await s.monitor.affectedBy('cve-2099-36', { after, limit: 1000 });
            affected.push(...page.hits);
            if (!page.more) break;
            after = page.hits[page.hits.length - 1].digest;
          }
          const outbox = (await s.monitor.claimOutbox('reader', 1000, 60_000, at)).map((n) => n.body);
          return { byDigest, affected, states: [...(await s.monitor.indexStates())].sort(), holds: await s.monitor.dueHolds(at + 10 * M), seqTop: await s.verdictSeqTop(), outbox };
        };
        const [x, y] = [await seen(store), await seen(other.store)];
        expect(x.byDigest[401].verdicts.find((v) => v.repository === 'app')?.evaluatedAt, 'the push stands').to.equal('push');
        expect(x.byDigest[400].verdicts[0].tags, 'stored tags kept').to.deep.equal(['stored']);
        expect(x.byDigest[400].findings.map((f) => [f.key, f.firstSeen])).to.deep.equal([['key-0', 1000], ['key-1', 1001], ['key-2', 1002], ['key-3', 1003], ['key-6', at], ['key-7', at], ['key-8', at], ['key-9', at]]);
        expect(x.affected.length, 'alias rows of new findings').to.be.greaterThan(100);
        expect(x.outbox.length).to.be.greaterThan(50);
        expect(x.holds.length).to.be.greaterThan(100);
        expect(x).to.deep.equal(y);
      } finally {
        pgUrl = suiteUrl;
        await one.done();
        await other.done();
      }
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
