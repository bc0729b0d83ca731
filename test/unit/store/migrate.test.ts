/**
 * `pushgate store migrate` (src/store/migrate.ts): a real SQLite store filled through the Store API is
 * copied into a fresh PostgreSQL database and read back through PostgresStore: every record equal, the
 * queue claims the same events in the same order, new numbers come after the copied ones; back into
 * SQLite too. A non-empty target is refused. Property: any generated verdicts, audit records and queue
 * contents survive the copy unchanged.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../../src/store/index.js';
import { MIGRATED_TABLES, migrateStore, UNCOPIED_TABLES } from '../../../src/store/migrate.js';
import { MIGRATIONS } from '../../../src/store/sql.js';
import type { Finding, PushEvent, Verdict } from '../../../src/core/index.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { oneLine, runCli } from '../../helpers/cli.js';

const dig = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

function ev(id: string, over: Partial<PushEvent> = {}): PushEvent {
  return { id, source: 'distribution', registry: 'lab', action: 'push', repository: 'team/app', digest: dig(1), tag: 'v1', ...over };
}
function verdict(over: Partial<Verdict> = {}): Verdict {
  return {
    registry: 'lab', repository: 'team/app', digest: dig(1), tags: ['v1'], decision: 'warn', complete: true, reasons: [],
    mode: 'enforce', policy: { name: 'default', revision: 'r1' }, vulndb: { builtAt: null, digest: 'db1' }, evaluatedAt: '2026-01-01T00:00:00.000Z', ...over,
  } as Verdict;
}
const finding: Finding = {
  id: 'DEBIAN-CVE-2024-1', aliases: ['CVE-2024-1'], ecosystem: 'Debian:12', package: 'openssl', installedVersion: '3.0.1-1',
  fixedVersions: ['3.0.2-1'], severity: 'high', path: 'var/lib/dpkg/status',
};

/** Everything a store shows through its API, for comparison. */
async function snapshot(s: Store) {
  return {
    verdicts: await s.listVerdicts({ limit: 10_000 }),
    audit: await s.listAudit(10_000),
    exceptions: await s.listExceptions(),
    vex: await s.listVexDocuments(),
    workloads: [...(await s.workloads.workloadsOf([dig(1)], 20)).entries()],
    quarantine: await s.listQuarantine({ limit: 10_000 }),
    counts: await s.queueCounts(),
    verdictCounts: (await s.countVerdicts()).sort((a, b) => `${a.registry}${a.decision}`.localeCompare(`${b.registry}${b.decision}`)),
    lastAllowed: await s.lastAllowed('lab', 'team/app', 'v1'),
    report: await s.getReport(dig(1)),
    layer: await s.getLayer('layer:v1:x'),
    packages: await s.monitor.packagesOf(dig(1)),
    findings: await s.monitor.findingsOf(dig(1)),
    runs: await s.monitor.listRuns(100),
    changes: await s.monitor.listChanges(dig(1), 100),
    holds: await s.monitor.dueHolds(Number.MAX_SAFE_INTEGER),
    catalog: await s.baseCatalog.listEntries(),
    catalogTags: await s.baseCatalog.listTags(),
  };
}

/** Claims every claimable event (long lease), returning (seq, sender id) in claim order. */
async function drainOrder(s: Store): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  for (let c = await s.claim('drain', 600_000); c; c = await s.claim('drain', 600_000)) {
    out.push([c.seq, c.event.id]);
    await s.complete(c.seq, 'drain');
  }
  return out;
}

describe('store migrate', function () {
  this.timeout(120_000);
  let dir: string;
  const drops: Array<() => Promise<void>> = [];
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-migrate-'))));
  after(async () => {
    for (const d of drops) await d();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  async function freshPg(): Promise<string> {
    const db = await freshDatabase('pg_migrate');
    drops.push(db.drop);
    return db.url;
  }
  let n = 0;
  const sqliteUrl = () => `sqlite:${path.join(dir, `s${n++}.db`)}`;

  it('copies every table the migrations create (a new table must be added to MIGRATED_TABLES)', () => {
    const created = new Set<string>();
    for (const m of MIGRATIONS) for (const x of `${m.sql}${m.sqlite ?? ''}`.matchAll(/CREATE TABLE IF NOT EXISTS (\w+)/g)) created.add(x[1]);
    expect([...created].sort()).to.deep.equal([...MIGRATED_TABLES.map((t) => t.name), ...UNCOPIED_TABLES].sort());
  });

  it('moves a filled SQLite store into PostgreSQL and back: every record, the queue order and the numbering kept', async () => {
    const from = sqliteUrl();
    const src = await openStore(from);
    // verdicts (one written twice: its tags merged, its write number moved), tag history, reports, layers
    await src.putVerdict(verdict());
    await src.putVerdict(verdict({ digest: dig(2), decision: 'reject', tags: ['v2'] }));
    await src.putVerdict(verdict({ registry: 'other', repository: 'Team/Ünïcode', digest: dig(3), decision: 'allow', tags: [] }));
    await src.putVerdict(verdict({ tags: ['latest'], decision: 'allow' }));
    await src.recordTag('lab', 'team/app', 'v1', dig(1), true);
    await src.recordTag('lab', 'team/app', 'v1', dig(2), false);
    await src.recordTag('lab', 'team/app', 'v1', dig(2), false); // a duplicate row: tags has no key
    await src.putReport(dig(1), { digest: dig(1), packages: [] } as never);
    await src.putLayer('layer:v1:x', { files: 3 });
    // audit, exceptions (one revoked), quarantine (one released)
    await src.audit({ actor: 'gate', action: 'block', registry: 'lab', repository: 'team/app', digest: dig(2), tag: 'v2', detail: { reasons: [{ rule: 'cve' }] } });
    await src.audit({ actor: 'admin', action: 'exception.add' });
    const ex1 = await src.addException('alice', { reason: 'vendor fix pending', owner: 'team-a', expires: '2099-01-01', ids: ['CVE-2024-1'] });
    await src.addException('bob', { reason: 'false positive', owner: 'team-b', expires: '2099-02-01', digest: dig(1) });
    await src.revokeException(ex1.id, 'carol');
    const vexBody = JSON.stringify({ '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://example.test/vex/m', author: 'sec@example.test', timestamp: '2026-01-01T00:00:00Z', version: 1, statements: [] });
    await src.addVexDocument('alice', { author: 'sec@example.test', statements: 1, body: vexBody });
    const gone = await src.addVexDocument('bob', { author: 'other', statements: 2, body: vexBody });
    await src.deleteVexDocument(gone.id);
    await src.workloads.recordUsage([{ digest: dig(1), cluster: 'eu-1', namespace: 'shop', kind: 'ReplicaSet', name: 'web-5d8f', firstSeen: 1_700_000_000_000, lastSeen: 1_700_000_600_000 }]);
    const q1 = await src.recordQuarantine({ registry: 'lab', repository: 'team/app', tag: 'v2', digest: dig(2), quarantineRepository: 'quarantine/team/app' });
    await src.recordQuarantine({ registry: 'lab', repository: 'team/app', tag: 'v3', digest: dig(3), quarantineRepository: 'quarantine/team/app' });
    await src.setQuarantineState(q1.id, 'released');
    await src.rememberOwnWrite({ registry: 'lab', repository: 'quarantine/team/app', digest: dig(2), tag: 'v2' }, Date.now() + 3_600_000);
    // the queue: done, running (claimed), failed, blocked, due later, and pending ones of two tags
    const seqs: number[] = [];
    // events 0-4 are claimed below (one tag each: an open event holds its tag's later ones back); 5-11 stay pending
    const tagOf = ['done', 'run', 'fail', 'block', 'later', 'p0', 'p1', 'p0', undefined, 'p1', 'p2', 'p0'];
    for (let i = 0; i < 12; i++) seqs.push((await src.enqueue(ev(`e${i}`, { digest: dig(10 + i), tag: tagOf[i] }))).seq);
    const done = await src.claim('w1', 600_000);
    await src.complete(done!.seq, 'w1');
    const running = await src.claim('w1', 600_000); // still held by w1 after the copy
    const failed = await src.claim('w2', 600_000);
    await src.retry(failed!.seq, 'w2', { error: 'manifest unknown', retryInMs: 0, state: 'failed' });
    const blocked = await src.claim('w2', 600_000);
    await src.retry(blocked!.seq, 'w2', { error: 'registry down', retryInMs: 0, state: 'blocked-on-registry' });
    const later = await src.claim('w2', 600_000);
    await src.retry(later!.seq, 'w2', { error: 'timeout', retryInMs: 3_600_000 });
    // a pending event handed back twice to wait for its tag's link: the count comes along
    const handedBack = await src.claim('w2', 600_000);
    expect(handedBack?.event.id).to.equal('e5');
    for (let i = 0; i < 2; i++) {
      await src.retry(handedBack!.seq, 'w2', { error: 'not linked yet', retryInMs: 0, refund: true, linkHandBack: true });
      if (i === 0) expect((await src.claim('w2', 600_000))?.seq).to.equal(handedBack!.seq);
    }
    // monitor tables and the base catalog
    await src.monitor.putIndex({ digest: dig(1), vulndbDigest: 'db1', reportAt: 1000, packages: [{ pkg: 'Debian:12:openssl', packages: [] }], findings: [{ key: 'k1', pkg: 'Debian:12:openssl', finding, firstSeen: 500 }] });
    const run = await src.monitor.claimRun('db:db2', 'db', 'db2', 'replica-a', 600_000, Date.now());
    expect(run).to.not.equal(undefined);
    await src.monitor.commit({
      run: { id: 'db:db2', owner: 'replica-a', cursor: dig(1), leaseMs: 600_000 },
      verdicts: [],
      changes: [{ registry: 'lab', repository: 'team/app', digest: dig(1), tags: ['v1'], run: 'db:db2', at: '2026-01-02T00:00:00.000Z', vulndb: { before: 'db1', after: 'db2' }, policy: { before: 'r1', after: 'r1' }, decision: { before: 'allow', after: 'warn' }, new: [finding], resolved: [], severityChanged: [] }],
      audits: [{ actor: 'monitor', action: 'rejudge', registry: 'lab', repository: 'team/app', digest: dig(1) }],
      holds: [{ registry: 'lab', repository: 'team/app', digest: dig(1), dueAt: 123_456 }],
      notices: [{ kind: 'new-findings', digest: dig(1) }],
    }, Date.now());
    await src.claimJob('reconcile', 'replica-a', 60_000);
    await src.baseCatalog.putEntry({ registry: 'lab', repository: 'base/debian', digest: dig(40), platform: 'linux/amd64', diffIDs: [dig(41)], created: '2026-01-01T00:00:00Z', firstSeen: 900 });
    await src.baseCatalog.putTag({ registry: 'lab', repository: 'base/debian', tag: '12', digest: dig(40) }, 1000);
    const expected = await snapshot(src);
    await src.close();

    const to = await freshPg();
    const summary = await migrateStore({ from, to, batch: 2 }); // tiny batches: keyset paging across pages
    expect(summary.find((t) => t.table === 'events')?.rows).to.equal(12);
    expect(summary.find((t) => t.table === 'tags')?.rows).to.equal(3);
    expect(summary.find((t) => t.table === 'exceptions')?.rows).to.equal(2);

    const pgStore = await openStore(to);
    try {
      expect(await snapshot(pgStore)).to.deep.equal(expected);
      expect(await pgStore.consumeOwnWrite({ registry: 'lab', repository: 'quarantine/team/app', digest: dig(2), tag: 'v2' }, 'evt', Date.now())).to.equal(true);
      expect(await pgStore.claimJob('reconcile', 'replica-b', 60_000)).to.equal(undefined); // replica-a's lease came along
      expect(await pgStore.monitor.claimOutbox('n', 10, 60_000, Date.now())).to.have.length(1);
      // the same pending events, in the same order, as the source would have given
      const srcAgain = await openStore(from);
      expect((await srcAgain.claim('peek', 1))?.linkHandBacks, 'source').to.equal(2);
      await srcAgain.retry(handedBack!.seq, 'peek', { error: 'x', retryInMs: 0 });
      const want = await drainOrder(srcAgain);
      await srcAgain.close();
      expect(want.map(([, id]) => id)).to.deep.equal(['e5', 'e6', 'e7', 'e8', 'e9', 'e10', 'e11']);
      const first = await pgStore.claim('peek', 1);
      expect([first?.event.id, first?.linkHandBacks], 'the count of tag-link hand-backs is copied').to.deep.equal(['e5', 2]);
      await pgStore.retry(first!.seq, 'peek', { error: 'x', retryInMs: 0 });
      expect(await drainOrder(pgStore)).to.deep.equal(want);
      // the claim held by w1 is still w1's: it can complete it
      expect(await pgStore.complete(running!.seq, 'w1')).to.equal(true);
      // numbering continues after every copied row
      const fresh = await pgStore.enqueue(ev('after-copy', { digest: dig(99) }));
      expect(fresh.inserted).to.equal(true);
      expect(fresh.seq).to.be.greaterThan(Math.max(...seqs));
      const vex2 = await pgStore.addVexDocument('dave', { author: 'a', statements: 1, body: '{}' });
      expect(vex2.id, 'numbering continues past a deleted document too').to.be.greaterThan(gone.id);
      const ex3 = await pgStore.addException('dave', { reason: 'r', owner: 'o', expires: '2099-03-01', ids: ['CVE-9'] });
      expect(ex3.id).to.be.greaterThan(Math.max(...expected.exceptions.map((e) => e.id)));
      await pgStore.audit({ actor: 'x', action: 'after-copy' });
      const [newest] = await pgStore.listAudit(1);
      expect(newest.action).to.equal('after-copy');
      expect(newest.seq).to.be.greaterThan(Math.max(...expected.audit.map((a) => a.seq)));
      expect((await pgStore.recordQuarantine({ registry: 'lab', repository: 'r', tag: 't', digest: dig(5), quarantineRepository: 'q/r' })).id).to.be.greaterThan(q1.id + 1);
    } finally {
      await pgStore.close();
    }

    // PostgreSQL → SQLite: the same rows (checksums equal to the first copy's for untouched tables)
    const back = sqliteUrl();
    const again = await migrateStore({ from: to, to: back, batch: 3 });
    const byName = new Map(summary.map((t) => [t.table, t]));
    for (const t of again.filter((x) => ['verdicts', 'tags', 'reports', 'layers', 'image_findings', 'base_catalog'].includes(x.table))) {
      expect(t.sha256, t.table).to.equal(byName.get(t.table)!.sha256);
    }
    const lite = await openStore(back);
    try {
      const ev2 = await lite.enqueue(ev('after-second-copy', { digest: dig(98) }));
      expect(ev2.seq).to.be.greaterThan(again.find((t) => t.table === 'events')!.nextAfter!);
      expect((await lite.listExceptions()).map((e) => e.revokedBy)).to.deep.equal(['carol', undefined, undefined]);
    } finally {
      await lite.close();
    }
  });

  it('refuses a target that holds rows, and a missing source, saying what to do', async () => {
    const from = sqliteUrl();
    const s = await openStore(from);
    await s.enqueue(ev('e1'));
    await s.close();
    const to = await freshPg();
    const t = await openStore(to);
    await t.audit({ actor: 'someone', action: 'test' });
    await t.close();
    const err = await migrateStore({ from, to }).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/already holds rows: audit \(1\); migrate into a new, empty database/);
    // nothing was copied
    const t2 = await openStore(to);
    expect(await t2.queueDepth()).to.equal(0);
    await t2.close();
    const missing = await migrateStore({ from: `sqlite:${path.join(dir, 'nope.db')}`, to }).then(() => undefined, (e: Error) => e);
    expect(missing?.message).to.match(/no such SQLite file/);
    expect(fs.existsSync(path.join(dir, 'nope.db'))).to.equal(false);
  });

  it('refuses, before copying a row, a source whose text PostgreSQL cannot hold (NUL)', async () => {
    const from = sqliteUrl();
    const s = await openStore(from);
    await s.enqueue(ev('e1'));
    await s.audit({ actor: 'a\u0000b', action: 'x' });
    await s.close();
    const to = await freshPg();
    const err = await migrateStore({ from, to }).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/audit: 1 row\(s\) hold a NUL character, .*PostgreSQL text cannot hold/);
    const t = await openStore(to);
    expect(await t.queueDepth()).to.equal(0);
    await t.close();
  });

  it('pushgate store migrate: copies, prints the summary, and refuses a second run into the same target in one line', async () => {
    const from = sqliteUrl();
    const s = await openStore(from);
    await s.enqueue(ev('e1'));
    await s.putVerdict(verdict());
    await s.close();
    const to = sqliteUrl();
    const ok = runCli(['store', 'migrate', '--from', from, '--to', to, '--batch', '10', '--format', 'json'], { timeoutMs: 60_000 });
    expect(ok.status, ok.stderr).to.equal(0);
    const out = JSON.parse(ok.stdout) as { tables: Array<{ table: string; rows: number }>; rows: number; verified: boolean };
    expect(out.verified).to.equal(true);
    expect(out.tables.filter((t) => t.rows > 0).map((t) => t.table)).to.deep.equal(['events', 'verdicts']);
    expect(oneLine(runCli(['store', 'migrate', '--from', from, '--to', to], { timeoutMs: 60_000 }), 'second run')).to.match(/^pushgate: the target sqlite:.* already holds rows: events \(1\), verdicts \(1\); migrate into a new, empty database/);
    expect(oneLine(runCli(['store', 'migrate', '--from', from, '--to', sqliteUrl(), '--batch', 'x'], { timeoutMs: 60_000 }), 'bad batch')).to.match(/--batch "x": give a whole number/);
    expect(runCli(['store', 'migrate', '--help']).stdout).to.match(/Stop every `pushgate serve`/);
  });

  it('copies batches larger than one statement can bind (5,000 events of 15 columns into SQLite)', async () => {
    const from = sqliteUrl();
    const s = await openStore(from);
    await s.enqueueMany(Array.from({ length: 5000 }, (_, i) => ev(`big${i}`, { digest: dig(i), tag: `t${i}` })));
    await s.close();
    const summary = await migrateStore({ from, to: sqliteUrl(), batch: 5000 });
    expect(summary.find((t) => t.table === 'events')).to.include({ rows: 5000, nextAfter: 5000 });
  });

  it('refuses while another process writes to the SQLite source', async () => {
    const from = sqliteUrl();
    await (await openStore(from)).close();
    const writer = new Database(from.slice('sqlite:'.length));
    writer.exec('BEGIN IMMEDIATE');
    try {
      const err = await migrateStore({ from, to: sqliteUrl() }).then(() => undefined, (e: Error) => e);
      expect(err?.message).to.match(/cannot hold the source .* still .* stop every `pushgate serve`/);
    } finally {
      writer.exec('ROLLBACK');
      writer.close();
    }
  });

  it('keeps any generated verdicts, audit records and queue contents (property)', async () => {
    // any Unicode but NUL, which PostgreSQL text cannot hold (refused before the copy: the test below)
    const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter((x) => !x.includes('\u0000'));
    const content = fc.record({
      verdicts: fc.uniqueArray(fc.record({ repo: text, d: fc.integer({ min: 0, max: 50 }), decision: fc.constantFrom('allow', 'warn', 'reject', 'quarantine'), tag: text }), { selector: (v) => `${v.repo}@${v.d}`, maxLength: 8 }),
      audit: fc.array(fc.record({ actor: text, action: text, detail: fc.option(fc.dictionary(text, text, { maxKeys: 3 }), { nil: undefined }) }), { maxLength: 8 }),
      events: fc.array(fc.record({ tag: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }), d: fc.integer({ min: 0, max: 50 }), claim: fc.constantFrom('no', 'complete', 'fail', 'hold') }), { maxLength: 10 }),
    });
    await fc.assert(
      fc.asyncProperty(content, fc.integer({ min: 1, max: 4 }), async (c, batch) => {
        const from = sqliteUrl();
        const s = await openStore(from);
        for (const v of c.verdicts) await s.putVerdict(verdict({ repository: v.repo, digest: dig(v.d), decision: v.decision as Verdict['decision'], tags: [v.tag] }));
        for (const a of c.audit) await s.audit({ actor: a.actor, action: a.action, ...(a.detail ? { detail: a.detail } : {}) });
        let i = 0;
        for (const e of c.events) {
          await s.enqueue(ev(`p${i++}`, { digest: dig(e.d), tag: e.tag }));
          if (e.claim === 'no') continue;
          const got = await s.claim('w', 600_000);
          if (!got) continue;
          if (e.claim === 'complete') await s.complete(got.seq, 'w');
          else if (e.claim === 'fail') await s.retry(got.seq, 'w', { error: 'x', retryInMs: 0, state: 'failed' });
        }
        const want = await snapshot(s);
        await s.close();
        const to = await freshPg();
        await migrateStore({ from, to, batch });
        const p = await openStore(to);
        try {
          expect(await snapshot(p)).to.deep.equal(want);
          const again = await openStore(from);
          const order = await drainOrder(again);
          await again.close();
          expect(await drainOrder(p)).to.deep.equal(order);
        } finally {
          await p.close();
        }
      }),
      { numRuns: 6 },
    );
  });
});
