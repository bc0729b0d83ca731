/**
 * The store queries behind the console's server-side paging, on SQLite and PostgreSQL alike:
 * verdict search pages (filters AND, repository substring, a tag the verdict lists now, keyset cursor
 * over write order), audit pages below a seq with action sets and a start time, quarantine pages
 * below an id and counts, and exception revocation (kept and listed, once).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Verdict } from '../../../src/core/index.js';
import { openStore, type Store, type VerdictQuery } from '../../../src/store/index.js';
import { freshDatabase } from '../../helpers/postgres.js';

const REPOS = ['team/app', 'team/api', 'other/app', 'lab/zip'];
const TAGS = ['v1', 'v2', 'latest'];
const DECISIONS = ['allow', 'warn', 'quarantine', 'reject'] as const;
/** One character of client text as JSON.stringify escapes it: NUL, lone surrogates, backslashes and quotes among any code point. */
const HOSTILE_CHAR = fc.oneof(fc.constantFrom('\u0000', '\ud800', '\udfff', '\\', '"', 'u', '0'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}` as const;

function verdictFor(i: number): Verdict {
  return {
    registry: i % 5 === 0 ? 'other' : 'lab',
    repository: REPOS[i % REPOS.length],
    digest: digest(i),
    tags: i % 3 === 0 ? [] : [TAGS[i % TAGS.length]],
    decision: DECISIONS[(i * 7) % DECISIONS.length],
    complete: true,
    reasons: [],
    mode: 'enforce',
    policy: { name: 'p', revision: 'r' },
    vulndb: { builtAt: null },
    evaluatedAt: new Date(1_700_000_000_000 + i).toISOString(),
  };
}

/** What a search should answer, from the verdicts as written (newest write first). */
function expected(all: Verdict[], q: Omit<VerdictQuery, 'limit' | 'after'>): string[] {
  return [...all]
    .reverse()
    .filter((v) => (!q.registry || v.registry === q.registry) && (!q.repository || v.repository.includes(q.repository)) && (!q.digest || v.digest === q.digest) && (!q.decision || v.decision === q.decision) && (!q.tag || v.tags.includes(q.tag)))
    .map((v) => `${v.registry}/${v.repository}@${v.digest}`);
}

async function walk(store: Store, q: Omit<VerdictQuery, 'limit' | 'after'>, limit: number): Promise<string[]> {
  const out: string[] = [];
  let after: VerdictQuery['after'];
  for (let pages = 0; pages < 1000; pages++) {
    const p = await store.pageVerdicts({ ...q, limit, after });
    expect(p.items.length).to.be.at.most(limit);
    out.push(...p.items.map((v) => `${v.registry}/${v.repository}@${v.digest}`));
    if (!p.next) return out;
    after = p.next;
  }
  throw new Error('paging did not end');
}

function contract(name: string, open: () => Promise<{ store: Store; done(): Promise<void> }>) {
  describe(`store console queries: ${name}`, function () {
    this.timeout(60_000);
    let store: Store;
    let done: () => Promise<void>;
    const all: Verdict[] = [];
    before(async () => {
      ({ store, done } = await open());
      for (let i = 1; i <= 60; i++) {
        const v = verdictFor(i);
        all.push(v);
        await store.putVerdict(v);
      }
    });
    after(async () => done());

    it('verdict pages: every filter combination and page size walks exactly the matching verdicts, newest write first, each once', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            registry: fc.option(fc.constantFrom('lab', 'other', 'none'), { nil: undefined }),
            repository: fc.option(fc.constantFrom('team', 'app', 'lab/zip', 'x'), { nil: undefined }),
            tag: fc.option(fc.constantFrom(...TAGS, 'nope'), { nil: undefined }),
            decision: fc.option(fc.constantFrom(...DECISIONS), { nil: undefined }),
            digest: fc.option(fc.integer({ min: 1, max: 61 }).map(digest), { nil: undefined }),
          }),
          fc.integer({ min: 1, max: 25 }),
          async (q, limit) => {
            expect(await walk(store, q, limit)).to.deep.equal(expected(all, q));
          },
        ),
        { numRuns: 40 },
      );
    });

    it('a rewritten verdict moves to the front; a tag filter follows the tag where it moved', async () => {
      const v = { ...all[0], tags: ['moved'] };
      await store.putVerdict(v);
      all.push(all.shift()!);
      all[all.length - 1] = v;
      expect((await store.pageVerdicts({ limit: 1 })).items[0].digest).to.equal(v.digest);
      expect((await walk(store, { tag: 'moved' }, 5))).to.deep.equal([`${v.registry}/${v.repository}@${v.digest}`]);
      // A repository substring holding LIKE wildcards matches them literally.
      expect(await walk(store, { repository: '%' }, 10)).to.deep.equal([]);
      expect(await walk(store, { repository: '_' }, 10)).to.deep.equal([]);
    });

    it('audit pages: below a seq, by a set of actions, from a start time', async () => {
      for (let i = 0; i < 30; i++) await store.audit({ actor: 'gate', action: ['verdict:quarantine', 'verdict:allow', 'verdict:reject'][i % 3], registry: 'lab', repository: 'team/app', detail: { reasons: ['r'] } });
      const every = await store.listAudit(1000);
      const seqs: number[] = [];
      let before: number | undefined;
      for (;;) {
        const page = await store.listAudit(7, before ? { beforeSeq: before } : {});
        seqs.push(...page.map((a) => a.seq));
        if (page.length < 7) break;
        before = page.at(-1)!.seq;
      }
      expect(seqs).to.deep.equal(every.map((a) => a.seq));
      const blocked = await store.listAudit(1000, { actions: ['verdict:quarantine', 'verdict:reject'] });
      expect(blocked).to.have.length(20);
      expect(await store.listAudit(1000, { actions: [] })).to.deep.equal([]);
      expect(await store.listAudit(1000, { actions: ['verdict:reject'], since: new Date(Date.now() + 60_000).toISOString() })).to.deep.equal([]);
      expect(await store.listAudit(1000, { actions: ['verdict:reject'], since: new Date(Date.now() - 60_000).toISOString() })).to.have.length(10);
    });

    it('blocked pushes counted per UTC day or hour, registry and rule in the store; a record without rules under null', async () => {
      const since = new Date(Date.now() - 3_600_000).toISOString();
      const actions = ['test:blocked-a', 'test:blocked-b'];
      await store.audit({ actor: 'x', action: 'test:blocked-a', registry: 'lab', detail: { reasons: ['r1', 'r2'] } });
      await store.audit({ actor: 'x', action: 'test:blocked-b', registry: 'lab', detail: { reasons: ['r1'] } });
      await store.audit({ actor: 'x', action: 'test:blocked-b', registry: 'edge', detail: { reasons: [] } });
      await store.audit({ actor: 'x', action: 'test:blocked-b', detail: { other: 1 } });
      await store.audit({ actor: 'x', action: 'test:other', registry: 'lab', detail: { reasons: ['r1'] } });
      const day = new Date().toISOString().slice(0, 10);
      const c = await store.countAuditRules(actions, since, 10);
      expect(c.records).to.equal(4);
      const key = (g: { bucket: string; registry: string | null; rule: string | null; count: number }) => `${g.bucket} ${g.registry} ${g.rule} ${g.count}`;
      expect(c.groups.map(key).sort()).to.deep.equal([`${day} edge null 1`, `${day} lab r1 2`, `${day} lab r2 1`, `${day} null null 1`].sort());
      const hours = await store.countAuditRules(actions, since, 13);
      expect(hours.groups.every((g) => /^\d{4}-\d\d-\d\dT\d\d$/.test(g.bucket))).to.equal(true);
      expect(hours.groups.reduce((a, g) => a + g.count, 0)).to.equal(5);
      expect((await store.countAuditRules(actions, new Date(Date.now() + 60_000).toISOString(), 10)).records).to.equal(0);
      expect(await store.countAuditRules([], since, 10)).to.deep.equal({ groups: [], records: 0 });
    });

    it('a refusal whose detail carries client text (NUL, a lone surrogate) is counted, and does not stop the count of others', async () => {
      // The push proxy audits a refused manifest with the parser's message, which quotes the pusher's
      // bytes (a descriptor's "digest" value): a string PostgreSQL's jsonb cannot hold must not make the
      // whole count fail, or one push hides every refusal from the console's chart.
      const since = new Date(Date.now() - 3_600_000).toISOString();
      const actions = ['test:hostile-refuse'];
      await store.audit({ actor: 'x', action: 'test:hostile-refuse', registry: 'lab', detail: { error: '.digest "\u0000" is not a digest', reasons: ['manifest-invalid'] } });
      await store.audit({ actor: 'x', action: 'test:hostile-refuse', registry: 'lab', detail: { error: '.digest "\ud800" is not a digest', reasons: ['manifest-invalid'] } });
      await store.audit({ actor: 'x', action: 'test:hostile-refuse', registry: 'edge', detail: { reasons: ['r1'] } });
      const c = await store.countAuditRules(actions, since, 10);
      expect(c.records).to.equal(3);
      const day = new Date().toISOString().slice(0, 10);
      expect(c.groups.map((g) => `${g.bucket} ${g.registry} ${g.rule} ${g.count}`).sort()).to.deep.equal([`${day} edge r1 1`, `${day} lab manifest-invalid 2`]);
    });

    it('property: rules counted from `blocking` when a record has it, else `reasons`; any other string values leave the count per registry and rule exact', async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              registry: fc.constantFrom('lab', 'edge'),
              rules: fc.uniqueArray(fc.constantFrom('r1', 'r2', 'manifest-invalid'), { maxLength: 3 }),
              // a verdict record names the rules that blocked apart from every rule that fired (warnings)
              blocking: fc.option(fc.uniqueArray(fc.constantFrom('r1', 'r2', 'secrets'), { maxLength: 3 }), { nil: undefined }),
              noise: fc.dictionary(fc.string({ unit: HOSTILE_CHAR, maxLength: 8 }).filter((k) => k !== 'reasons' && k !== 'blocking'), fc.string({ unit: HOSTILE_CHAR, maxLength: 12 }), { maxKeys: 3 }),
            }),
            { minLength: 1, maxLength: 4 },
          ),
          async (recs) => {
            const action = `test:hostile-prop-${n++}`;
            for (const r of recs) await store.audit({ actor: 'x', action, registry: r.registry, detail: { ...r.noise, reasons: r.rules, ...(r.blocking ? { blocking: r.blocking } : {}) } });
            const c = await store.countAuditRules([action], new Date(Date.now() - 3_600_000).toISOString(), 10);
            expect(c.records).to.equal(recs.length);
            const want = new Map<string, number>();
            for (const r of recs) for (const rule of (r.blocking ?? r.rules).length ? (r.blocking ?? r.rules) : [null]) want.set(`${r.registry} ${rule}`, (want.get(`${r.registry} ${rule}`) ?? 0) + 1);
            const got = new Map<string, number>();
            for (const g of c.groups) got.set(`${g.registry} ${g.rule}`, (got.get(`${g.registry} ${g.rule}`) ?? 0) + g.count);
            expect(got).to.deep.equal(want);
          },
        ),
        { numRuns: 40 },
      );
    });

    it('quarantine pages below an id, and counts by state', async () => {
      const recs = [];
      for (let i = 0; i < 9; i++) recs.push(await store.recordQuarantine({ registry: 'lab', repository: 'lab/zip', tag: `t${i}`, digest: digest(i + 1), quarantineRepository: 'quarantine/lab/zip' }));
      await store.setQuarantineState(recs[0].id, 'released');
      expect(await store.countQuarantine({ state: 'quarantined' })).to.equal(8);
      expect(await store.countQuarantine({ state: 'released', beforeId: 1 })).to.equal(1);
      const page1 = await store.listQuarantine({ state: 'quarantined', limit: 5 });
      const page2 = await store.listQuarantine({ state: 'quarantined', limit: 5, beforeId: page1.at(-1)!.id });
      expect([...page1, ...page2].map((r) => r.tag)).to.deep.equal(['t8', 't7', 't6', 't5', 't4', 't3', 't2', 't1']);
    });

    it('revoking an exception keeps it listed with who and when; a second revoke keeps the first; an unknown id is undefined', async () => {
      const e = await store.addException('alice', { reason: 'r', owner: 'team', expires: '2099-01-01', ids: ['CVE-1'] });
      const r = await store.revokeException(e.id, 'bob');
      expect(r).to.include({ id: e.id, revokedBy: 'bob' });
      expect(Date.parse(r!.revokedAt!)).to.be.closeTo(Date.now(), 60_000);
      const again = await store.revokeException(e.id, 'carol');
      expect(again).to.deep.equal(r);
      expect((await store.listExceptions()).find((x) => x.id === e.id)).to.deep.equal(r);
      expect(await store.revokeException(999_999, 'bob')).to.equal(undefined);
    });

    it('property: a verdict whose body quotes hostile text (NUL, lone surrogates) does not break the tag search of other verdicts', async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(fc.string({ unit: HOSTILE_CHAR, minLength: 1, maxLength: 12 }), async (text) => {
          const tag = `hostile-${n++}`;
          const clean: Verdict = { ...verdictFor(10_000 + n * 2), registry: 'hostile', tags: [tag] };
          const quoting: Verdict = { ...verdictFor(10_001 + n * 2), registry: 'hostile', tags: ['other'], reasons: [{ rule: text, action: 'reject', message: `package ${text}`, findings: [text] }] };
          await store.putVerdict(clean);
          await store.putVerdict(quoting);
          expect((await store.pageVerdicts({ registry: 'hostile', tag, limit: 10 })).items.map((v) => v.digest)).to.deep.equal([clean.digest]);
          expect((await store.pageVerdicts({ registry: 'hostile', tag: 'other', limit: 1 })).items.map((v) => v.digest)).to.deep.equal([quoting.digest]);
        }),
        { numRuns: 25 },
      );
    });
  });
}

contract('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-console-store-'));
  const store = await openStore(`sqlite:${path.join(dir, 'p.db')}`);
  return { store, done: async () => { await store.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
});

contract('postgres', async () => {
  const db = await freshDatabase('pushgate_console');
  const store = await openStore(db.url);
  return { store, done: async () => { await store.close(); await db.drop(); } };
});
