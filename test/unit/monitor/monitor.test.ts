import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PushgateError, type Digest, type Verdict } from '../../../src/core/index.js';
import type { NewFindingsBody } from '../../../src/gate/notify.js';
import { Monitor } from '../../../src/monitor/index.js';
import { compilePolicy, defaultPolicy, DEFAULT_POLICY_YAML, type CompiledPolicy } from '../../../src/policy/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { updateDb, VulnDb } from '../../../src/vulndb/index.js';
import { buildDb, digestOf, OSV, npmPackage, osvRecord, scanOf, storeImage } from '../../helpers/monitor.js';
import { freshDatabase } from '../../helpers/postgres.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** The default policy with more keys in `spec.default` (onNewFindings, grace). */
function policyWith(extra: string): CompiledPolicy {
  const text = DEFAULT_POLICY_YAML.replace('  default:\n    ruleSet: default\n    mode: enforce\n', `  default:\n    ruleSet: default\n    mode: enforce\n${extra}`);
  expect(text).to.not.equal(DEFAULT_POLICY_YAML);
  return compilePolicy(text, '<test>');
}

const ADM_ZIP = osvRecord('npm/NSWG-NPM-458.json'); // adm-zip < 0.4.9, CVSS 8.2 (high), CVE-2018-1002204
const LODASH_OLD = osvRecord('npm/NSWG-NPM-368.json'); // lodash < 4.17.5
const LODASH_516 = osvRecord('npm/NSWG-NPM-516.json'); // lodash 4.17.15 .. 4.17.19 (medium)

function contract(name: string, open: () => Promise<{ store: Store; done(): Promise<void> }>) {
  describe(`monitor: ${name}`, function () {
    this.timeout(60_000);
    let store: Store;
    let done: () => Promise<void>;
    let dir: string;
    let dbPath: string;
    let db: VulnDb | undefined;
    beforeEach(async () => {
      ({ store, done } = await open());
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-monitor-'));
      dbPath = path.join(dir, 'vulndb.sqlite');
    });
    afterEach(async () => {
      db?.close();
      db = undefined;
      await done();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    async function swap(records: Array<Record<string, unknown>>): Promise<VulnDb> {
      db?.close();
      db = await buildDb(dbPath, records);
      return db;
    }

    it('a database that comes back right after a change (an advisory added, then withdrawn: the first content again) gets its own pass, with no tick between', async () => {
      const policy = defaultPolicy();
      const first = await swap([LODASH_OLD]);
      const firstDigest = first.contentDigest;
      await storeImage(store, { repository: 'team/zip', tag: 'v1', scan: scanOf(digestOf(700), [npmPackage('adm-zip', '0.4.7')]), db, policy });
      const mon = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy });
      expect(await mon.tick(), 'settled on the first database').to.equal(undefined);
      await swap([LODASH_OLD, ADM_ZIP]);
      expect((await mon.tick())?.changed, 'the added advisory').to.equal(1);
      // withdrawn at once: the database's content is the first one's again
      await swap([LODASH_OLD, { ...ADM_ZIP, withdrawn: '2026-12-05T00:00:00Z' }]);
      expect(db!.contentDigest).to.equal(firstDigest);
      const back = await mon.tick();
      expect(back?.changed, 'the withdrawal resolves the finding').to.equal(1);
      const changes = await store.monitor.listChanges(digestOf(700), 10);
      expect(changes.map((c) => [c.new.length, c.resolved.length])).to.deep.equal([[0, 1], [1, 0]]);
      expect(await mon.tick(), 'then nothing more').to.equal(undefined);
    });

    it('after a database change re-judges only the images holding a changed package; a change record and one notice name the new finding; a withdrawal resolves it', async () => {
      const policy = defaultPolicy();
      await swap([LODASH_OLD]);
      // 3 images hold adm-zip 0.4.7, 5 do not; all hold lodash 4.17.15 (no finding under the old set)
      for (let i = 0; i < 8; i++) {
        const pkgs = [npmPackage('lodash', '4.17.15'), ...(i < 3 ? [npmPackage('adm-zip', '0.4.7')] : [npmPackage('left-pad', '1.3.0')])];
        await storeImage(store, { repository: `team/app${i}`, tag: 'v1', scan: scanOf(digestOf(i + 1), pkgs), db, policy });
      }
      const notices: NewFindingsBody[] = [];
      const judged: Verdict[] = [];
      const mon = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy, notifier: { newFindings: (n) => void notices.push(n) }, onJudged: (v) => judged.push(v) });
      // the first database with a digest: everything indexed, nothing judged by another database
      expect(await mon.tick(), 'nothing judged by another database').to.equal(undefined);
      expect([...(await store.monitor.indexStates()).values()]).to.deep.equal(Array(8).fill(db!.contentDigest));

      const v2 = await swap([LODASH_OLD, ADM_ZIP]);
      const stats = await mon.tick();
      expect(stats?.patched, 'only the adm-zip images, patched from their stored verdicts').to.equal(3);
      expect(stats?.rejudged, 'no scan read').to.equal(0);
      expect(stats?.matched).to.equal(3);
      expect(judged.map((v) => v.digest).sort()).to.deep.equal([digestOf(1), digestOf(2), digestOf(3)]);
      const changes = await store.monitor.listChanges(digestOf(1), 10);
      expect(changes).to.have.length(1);
      expect(changes[0].new.map((f) => f.id)).to.deep.equal(['NSWG-NPM-458']);
      expect(changes[0].resolved).to.deep.equal([]);
      expect(changes[0].decision).to.deep.equal({ before: 'allow', after: 'allow' });
      expect(changes[0].onNewFindings).to.include({ action: 'notify', effect: 'kept' });
      expect(changes[0].vulndb.after).to.equal(v2.contentDigest);
      await mon.outboxIdle();
      expect(notices).to.have.length(3);
      expect(notices[0].advisories.map((a) => a.id)).to.deep.equal(['NSWG-NPM-458']);
      expect(notices[0].advisories[0].packages).to.deep.equal([{ name: 'adm-zip', installedVersion: '0.4.7', fixedVersions: ['0.4.9'], path: '/app/node_modules/adm-zip/package.json' }]);
      const after = await store.getVerdict('lab', 'team/app0', digestOf(1));
      expect(after?.vulndb.digest).to.equal(v2.contentDigest);
      // the finding is in the stored report; the verdict keeps the previous decision (notify), its reason says why
      expect((await store.getReport(digestOf(1)))?.findings.map((f) => f.id)).to.include('NSWG-NPM-458');
      expect(after?.evaluations?.default?.reasons[0].rule).to.equal('on-new-findings');
      // the affected query finds it by id and by alias, any case
      const byCve = await mon.affected('cve-2018-1002204');
      expect(byCve.images.map((i) => i.digest)).to.deep.equal([digestOf(1), digestOf(2), digestOf(3)]);
      expect(byCve.images[0].verdicts).to.deep.equal([{ registry: 'lab', repository: 'team/app0', tags: ['v1'], decision: 'allow' }]);
      expect((await mon.affected('NSWG-NPM-458')).images).to.have.length(3);
      // the pass ran once: another tick (or replica) does nothing
      judged.length = 0;
      expect((await mon.tick())).to.equal(undefined);
      const other = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy, onJudged: (v) => judged.push(v) });
      expect(await other.tick(), 'every image is judged by this database').to.equal(undefined);
      expect(judged).to.deep.equal([]);

      // withdrawn: the finding is resolved
      await swap([LODASH_OLD, { ...ADM_ZIP, withdrawn: '2026-12-01T00:00:00Z' }]);
      notices.length = 0;
      const s3 = await mon.tick();
      expect(s3?.patched).to.equal(3);
      const c3 = await store.monitor.listChanges(digestOf(2), 10);
      expect(c3[0].resolved.map((f) => f.id)).to.deep.equal(['NSWG-NPM-458']);
      expect(c3[0].new).to.deep.equal([]);
      await mon.outboxIdle();
      expect(notices).to.deep.equal([]);
      expect((await mon.affected('CVE-2018-1002204')).images).to.deep.equal([]);
    });

    it('a range change reaches only the images whose version it changes', async () => {
      const policy = defaultPolicy();
      await swap([ADM_ZIP]);
      await storeImage(store, { repository: 'a', tag: 'v1', scan: scanOf(digestOf(1), [npmPackage('lodash', '4.17.15')]), db, policy });
      await storeImage(store, { repository: 'b', tag: 'v1', scan: scanOf(digestOf(2), [npmPackage('lodash', '4.17.20')]), db, policy });
      const judged: string[] = [];
      const mon = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy, onJudged: (v) => judged.push(v.repository) });
      await mon.tick();
      await swap([ADM_ZIP, LODASH_516]);
      const s = await mon.tick();
      expect(s?.matched, 'both hold lodash').to.equal(2);
      expect(judged, 'only 4.17.15 is in the new range').to.deep.equal(['a']);
    });

    it('a fix that moves while the version stays affected is written to the report and index (patched or judged in full), with no change record', async () => {
      const policy = defaultPolicy();
      await swap([ADM_ZIP, LODASH_516]);
      // image 1 is patched; image 2 holds one package instance twice, so it is judged in full from its scan
      await storeImage(store, { repository: 'a', tag: 'v1', scan: scanOf(digestOf(1), [npmPackage('lodash', '4.17.15')]), db, policy });
      await storeImage(store, { repository: 'b', tag: 'v1', scan: scanOf(digestOf(2), [npmPackage('lodash', '4.17.15'), npmPackage('lodash', '4.17.15')]), db, policy });
      const mon = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy });
      await mon.tick();
      const fixedOf = async (d: Digest) => ({
        report: (await store.getReport(d))?.findings.filter((f) => f.id === 'NSWG-NPM-516').map((f) => f.fixedVersions),
        index: (await store.monitor.findingsOf(d)).filter((f) => f.finding.id === 'NSWG-NPM-516').map((f) => f.finding.fixedVersions),
      });
      expect(await fixedOf(digestOf(1))).to.deep.equal({ report: [['4.17.19']], index: [['4.17.19']] });
      // the same advisory, the same severity, now without a fix: no finding is new, resolved or re-rated
      const unfixed = { ...LODASH_516, affected: [{ package: { ecosystem: 'npm', name: 'lodash' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '4.17.15' }] }] }] };
      await swap([ADM_ZIP, unfixed]);
      const s = await mon.tick();
      expect(s?.patched, 'image 1').to.equal(1);
      expect(s?.rejudged, 'image 2').to.equal(1);
      expect(s?.changed, 'no change record: nothing new, resolved or re-rated, no decision changed').to.equal(0);
      expect(await fixedOf(digestOf(1))).to.deep.equal({ report: [[]], index: [[]] });
      expect(await fixedOf(digestOf(2))).to.deep.equal({ report: [[], []], index: [[]] });
      for (const d of [digestOf(1), digestOf(2)]) {
        expect(await store.monitor.listChanges(d, 10)).to.deep.equal([]);
        expect((await store.monitor.indexStates()).get(d)).to.equal(db!.contentDigest);
      }
    });

    it('onNewFindings quarantine waits for the grace period of the severity, then enforces', async () => {
      const policy = policyWith('    onNewFindings: quarantine\n    grace: { high: 2h }\n');
      let now = Date.parse('2026-12-05T12:00:00Z');
      await swap([LODASH_OLD]);
      await storeImage(store, { repository: 'team/zip', tag: 'v1', scan: scanOf(digestOf(7), [npmPackage('adm-zip', '0.4.7')]), db, policy });
      const acted: string[] = [];
      const mon = new Monitor({
        store, logger: quiet, vulndb: () => db, policy: () => policy, now: () => now,
        act: async (_b, a, views) => {
          acted.push(`${a.repository}:${views.map((v) => v.tag).join(',')}:${a.decision}`);
          return { action: 'quarantine', status: 'done', detail: 'test' };
        },
      });
      await mon.tick();
      await swap([LODASH_OLD, ADM_ZIP]);
      await mon.tick();
      let v = await store.getVerdict('lab', 'team/zip', digestOf(7));
      expect(v?.decision, 'held: warn during the grace').to.equal('warn');
      expect((await store.monitor.listChanges(digestOf(7), 1))[0].onNewFindings).to.include({ action: 'quarantine', effect: 'held', enforceAfter: '2026-12-05T14:00:00.000Z' });
      expect(acted).to.deep.equal([]);
      now += 60 * 60_000;
      await mon.tick();
      expect(acted, 'an hour in: still held').to.deep.equal([]);
      now += 61 * 60_000;
      await mon.tick();
      v = await store.getVerdict('lab', 'team/zip', digestOf(7));
      expect(v?.decision).to.equal('quarantine');
      expect(acted).to.deep.equal(['team/zip:v1:quarantine']);
      expect(await store.monitor.dueHolds(now + 86_400_000)).to.deep.equal([]);
    });

    /**
     * A held image (high finding, grace 2h, hold due at 14:00) whose monitor's clock is then moved by
     * `step`; @returns the monitor, the clock setter, and what was acted on.
     */
    async function heldImage(n: number, policyOf: () => CompiledPolicy, start = Date.parse('2026-12-05T12:00:00Z')) {
      let now = start;
      await swap([LODASH_OLD]);
      await storeImage(store, { repository: `team/held${n}`, tag: 'v1', scan: scanOf(digestOf(n), [npmPackage('adm-zip', '0.4.7')]), db, policy: policyOf() });
      const acted: string[] = [];
      const mon = new Monitor({
        store, logger: quiet, vulndb: () => db, policy: policyOf, now: () => now,
        act: async (_b, a, views) => {
          acted.push(`${a.repository}:${views.map((v) => v.tag).join(',')}:${a.decision}`);
          return { action: 'quarantine', status: 'done', detail: 'test' };
        },
      });
      await mon.tick();
      await swap([LODASH_OLD, ADM_ZIP]);
      await mon.tick();
      expect((await store.getVerdict('lab', `team/held${n}`, digestOf(n)))?.decision, 'held: warn during the grace').to.equal('warn');
      expect(acted).to.deep.equal([]);
      return { mon, acted, set: (t: number) => void (now = t), get now() { return now; } };
    }

    for (const [what, to] of [['a day', Date.parse('2026-12-04T12:00:00Z')], ['to 1970', 0], ['by the grace and 2 minutes', Date.parse('2026-12-05T09:58:00Z')]] as const) {
      it(`a hold whose clock is then set back (${what}) is due at once and enforced, not held for as long as the step`, async () => {
        // The due time (14:00) is on the clock that set the hold; a clock set back read it as hours (a day,
        // 56 years) away, and the image stayed admitted at warn for that long.
        const policy = policyWith('    onNewFindings: quarantine\n    grace: { high: 2h }\n');
        const h = await heldImage(8, () => policy);
        h.set(to);
        await h.mon.tick();
        expect((await store.getVerdict('lab', 'team/held8', digestOf(8)))?.decision, 'the block is enforced').to.equal('quarantine');
        expect(h.acted).to.deep.equal(['team/held8:v1:quarantine']);
        expect(await store.monitor.dueHolds(Number.MAX_SAFE_INTEGER), 'no hold left').to.deep.equal([]);
      });
    }

    it('a clock set back by less than the grace holds no longer than to its due time, and a clock that does not step is not enforced early', async () => {
      const policy = policyWith('    onNewFindings: quarantine\n    grace: { high: 2h }\n');
      const h = await heldImage(9, () => policy);
      const t0 = h.now;
      h.set(t0 + 60 * 60_000);
      await h.mon.tick();
      expect(h.acted, 'an hour in on a clock that does not step: held').to.deep.equal([]);
      // then set back 30 min: the due time is 1h30 ahead, within the longest grace: held until it comes
      h.set(t0 + 30 * 60_000);
      await h.mon.tick();
      expect(h.acted, 'within the grace: held').to.deep.equal([]);
      h.set(t0 + 2 * 60 * 60_000 - 1);
      await h.mon.tick();
      expect(h.acted, 'a millisecond before its due time').to.deep.equal([]);
      h.set(t0 + 2 * 60 * 60_000);
      await h.mon.tick();
      expect(h.acted).to.deep.equal(['team/held9:v1:quarantine']);
    });

    it('a policy that shortens the grace ends a hold due later than the new grace allows', async () => {
      let policy = policyWith('    onNewFindings: quarantine\n    grace: { high: 2h }\n');
      const h = await heldImage(10, () => policy);
      policy = policyWith('    onNewFindings: quarantine\n    grace: { high: 10m }\n');
      h.set(h.now + 30 * 60_000);
      await h.mon.tick();
      expect(h.acted, 'shortened to 10 min: 14:00 is 1h30 ahead, more than the grace allows').to.deep.equal(['team/held10:v1:quarantine']);
    });

    it('a policy that lengthens the grace keeps a hold to its due time: not enforced before it, enforced at it', async () => {
      let policy = policyWith('    onNewFindings: quarantine\n    grace: { high: 2h }\n');
      const h = await heldImage(11, () => policy);
      const t0 = h.now;
      policy = policyWith('    onNewFindings: quarantine\n    grace: { high: 7d }\n');
      h.set(t0 + 2 * 60 * 60_000 - 1);
      await h.mon.tick();
      expect(h.acted, 'a millisecond before its due time').to.deep.equal([]);
      h.set(t0 + 2 * 60 * 60_000);
      await h.mon.tick();
      expect(h.acted).to.deep.equal(['team/held11:v1:quarantine']);
    });

    it('a grace pass at a time an earlier grace pass was named by (a clock set back) is not skipped as done', async () => {
      const policy = policyWith('    onNewFindings: quarantine\n    grace: { high: 2h }\n');
      const h = await heldImage(12, () => policy);
      const t0 = h.now;
      h.set(t0 - 86_400_000);
      await h.mon.tick();
      expect(h.acted).to.deep.equal(['team/held12:v1:quarantine']);
      // another image held by a clock a day ahead, then that clock set back to the reading the first pass had
      const k = await heldImage(13, () => policy, t0 + 86_400_000);
      k.set(t0 - 86_400_000);
      await k.mon.tick();
      expect(k.acted.filter((a) => a.startsWith('team/held13:')), 'enforced, not skipped as the done run grace:<that time>').to.deep.equal(['team/held13:v1:quarantine']);
    });

    it('a pass killed after some batches resumes after the last one written and judges each image once', async () => {
      const LEASE_MS = 2000;
      const policy = defaultPolicy();
      await swap([LODASH_OLD]);
      for (let i = 0; i < 6; i++) await storeImage(store, { repository: `r${i}`, tag: 'v1', scan: scanOf(digestOf(100 + i), [npmPackage('adm-zip', '0.4.7')]), db, policy });
      let now = Date.now();
      const judged: string[] = [];
      const first = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy, now: () => now, leaseMs: LEASE_MS, owner: 'replica-a', onJudged: (v) => judged.push(v.digest) });
      await first.tick();
      await swap([LODASH_OLD, ADM_ZIP]);
      let n = 0;
      const crashing = new Monitor({
        store, logger: quiet, vulndb: () => db, policy: () => policy, now: () => now, leaseMs: LEASE_MS, owner: 'replica-a', onJudged: (v) => judged.push(v.digest), chunk: 2,
        afterImage: () => {
          // the first image of the second batch: both of its images are written, the third batch is not judged
          if (++n === 3) throw new Error('killed');
        },
      });
      await crashing.tick().then(() => expect.fail('should have died'), (e: Error) => expect(e.message).to.equal('killed'));
      expect(judged).to.have.length(4);
      // another replica: the dead owner's lease holds it off, then it takes over
      const b = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy, now: () => now, leaseMs: LEASE_MS, owner: 'replica-b', onJudged: (v) => judged.push(v.digest), chunk: 2 });
      expect((await b.tick())?.skipped).to.equal(true);
      // PostgreSQL leases are on the database's clock (real time); SQLite's on the process clock (`now`).
      await new Promise((r) => setTimeout(r, LEASE_MS + 100));
      now += LEASE_MS + 100;
      const s = await b.tick();
      expect(s?.patched).to.equal(2);
      expect([...judged].sort()).to.deep.equal(Array.from({ length: 6 }, (_, i) => digestOf(100 + i)));
      for (let i = 0; i < 6; i++) expect(await store.monitor.listChanges(digestOf(100 + i), 10), `image ${i}`).to.have.length(1);
      const run = await store.monitor.getRun(`db:${db!.contentDigest}`);
      expect(run?.state).to.equal('done');
      expect(run?.owner).to.equal('replica-b');
    });

    it('a batch whose write fails leaves nothing of it written: the resumed pass writes each of its images once', async () => {
      const policy = defaultPolicy();
      await swap([LODASH_OLD]);
      for (let i = 0; i < 5; i++) await storeImage(store, { repository: `r${i}`, tag: 'v1', scan: scanOf(digestOf(300 + i), [npmPackage('adm-zip', '0.4.7')]), db, policy });
      const notices: NewFindingsBody[] = [];
      const mon = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy, owner: 'replica-a', chunk: 2, notifier: { newFindings: (x) => void notices.push(x) } });
      await mon.tick();
      await swap([LODASH_OLD, ADM_ZIP]);
      // a store fault a real database cannot be made to produce on cue: the second batch's write fails
      const real = store.monitor.commitBatch.bind(store.monitor);
      let calls = 0;
      store.monitor.commitBatch = async (b, now) => {
        if (++calls === 2) throw new PushgateError('STORE', 'injected: connection lost', { retryable: true });
        return real(b, now);
      };
      try {
        await mon.tick().then(() => expect.fail('should have failed'), (e: Error) => expect(e.message).to.match(/injected/));
      } finally {
        store.monitor.commitBatch = real;
      }
      const run = await store.monitor.getRun(`db:${db!.contentDigest}`);
      expect(run?.cursor, 'the first batch is written').to.equal(digestOf(301));
      await mon.outboxIdle();
      expect(notices.map((x) => x.digest), 'notices only for what was written').to.deep.equal([digestOf(300), digestOf(301)]);
      for (const i of [2, 3]) expect(await store.monitor.listChanges(digestOf(300 + i), 10), `image ${i} of the failed batch`).to.have.length(0);
      const s = await mon.tick();
      expect(s?.patched).to.equal(3);
      for (let i = 0; i < 5; i++) expect(await store.monitor.listChanges(digestOf(300 + i), 10), `image ${i}`).to.have.length(1);
      await mon.outboxIdle();
      expect(notices.map((x) => x.digest).sort()).to.deep.equal(Array.from({ length: 5 }, (_, i) => digestOf(300 + i)));
      expect((await store.monitor.getRun(`db:${db!.contentDigest}`))?.state).to.equal('done');
    });

    it('a re-rating by NVD enrichment alone marks the pair changed and re-judges the images holding it (severity changed in their change records)', async () => {
      const policy = defaultPolicy();
      // an advisory without its own severity, aliased to a CVE the NVD fixture rates (CVSS 3.1 7.5: high)
      const osv = path.join(dir, 'osv-nvd');
      fs.mkdirSync(osv);
      fs.writeFileSync(path.join(osv, 'TEST-NVD-1.json'), JSON.stringify({
        id: 'TEST-NVD-1', aliases: ['CVE-2006-20001'], modified: '2026-01-01T00:00:00Z',
        affected: [{ package: { ecosystem: 'npm', name: 'left-pad' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '9.0.0' }] }] }],
      }));
      db?.close();
      await updateDb({ path: dbPath, sources: [osv] });
      db = VulnDb.open(dbPath);
      await storeImage(store, { repository: 'team/pad', tag: 'v1', scan: scanOf(digestOf(400), [npmPackage('left-pad', '1.3.0')]), db, policy });
      await storeImage(store, { repository: 'team/other', tag: 'v1', scan: scanOf(digestOf(401), [npmPackage('adm-zip', '0.4.7')]), db, policy });
      const mon = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy });
      await mon.tick();
      const before = (await store.getReport(digestOf(400))) as { findings: Array<{ id: string; severity: string }> };
      expect(before.findings.map((f) => `${f.id} ${f.severity}`)).to.deep.equal(['TEST-NVD-1 unknown']);
      db.close();
      await updateDb({ path: dbPath, sources: [osv, `nvd:${path.join(OSV, '../nvd/cve')}`] });
      db = VulnDb.open(dbPath);
      expect([...db.digestRecord().changed.keys()], 'the advisory is the same; its enrichment changed').to.deep.equal(['npm:left-pad']);
      const s = await mon.tick();
      expect(s).to.include({ rejudged: 1, changed: 1 });
      const [c] = await store.monitor.listChanges(digestOf(400), 10);
      expect(c.severityChanged).to.deep.equal([{ id: 'TEST-NVD-1', package: 'left-pad', installedVersion: '1.3.0', before: 'unknown', after: 'high' }]);
      expect(c.new).to.deep.equal([]);
      expect(await store.monitor.listChanges(digestOf(401), 10), 'an image without the package').to.deep.equal([]);
    });

    it('a notice not delivered before a crash stays in the outbox and the next process delivers it once', async () => {
      const policy = defaultPolicy();
      await swap([LODASH_OLD]);
      await storeImage(store, { repository: 'team/zip', tag: 'v1', scan: scanOf(digestOf(600), [npmPackage('adm-zip', '0.4.7')]), db, policy });
      // a process that writes its notices and dies before delivering them (its notifier never finishes)
      const never = new Promise<void>(() => undefined);
      let delivering!: () => void;
      const claimed = new Promise<void>((resolve) => { delivering = resolve; });
      const dying = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy, owner: 'replica-a', notifier: { newFindings: () => {
        delivering();
        return never;
      } } });
      await dying.tick();
      await swap([LODASH_OLD, ADM_ZIP]);
      expect(await dying.tick()).to.include({ changed: 1 });
      // its outbox is worked on after the tick: the notice is claimed once delivery has begun (under load,
      // later than the tick's end; the next process must not be started before, or it claims the notice)
      await claimed;
      // the next process (another owner): the dead one's claim holds the notice until its lease ends
      const got: NewFindingsBody[] = [];
      const next = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy, owner: 'replica-b', notifier: { newFindings: (n) => void got.push(n) } });
      await next.tick();
      await next.outboxIdle();
      expect(got, 'held by the dead owner\'s lease').to.deep.equal([]);
      const afterLease = await store.monitor.claimOutbox('replica-b', 10, 60_000, Date.now() + 10 * 60_000);
      expect(afterLease.map((n) => (n.body as NewFindingsBody).digest), 'after the lease').to.deep.equal([digestOf(600)]);
      await store.monitor.outboxDone('replica-b', afterLease.map((n) => n.seq));
      expect(await store.monitor.claimOutbox('replica-c', 10, 60_000, Date.now() + 20 * 60_000), 'removed once delivered').to.deep.equal([]);
    });

    it('notices go through the outbox: delivered after the write, removed after delivery', async () => {
      const policy = defaultPolicy();
      await swap([LODASH_OLD]);
      await storeImage(store, { repository: 'team/zip', tag: 'v1', scan: scanOf(digestOf(610), [npmPackage('adm-zip', '0.4.7')]), db, policy });
      const got: NewFindingsBody[] = [];
      const mon = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy, notifier: { newFindings: async (n) => void got.push(n) } });
      await mon.tick();
      await swap([LODASH_OLD, ADM_ZIP]);
      await mon.tick();
      await mon.outboxIdle();
      expect(got.map((n) => n.digest)).to.deep.equal([digestOf(610)]);
      expect(await store.monitor.claimOutbox('anyone', 10, 60_000, Date.now() + 10 * 60_000)).to.deep.equal([]);
    });

    it('--all re-judges every stored image once, resumable', async () => {
      const policy = defaultPolicy();
      await swap([LODASH_OLD, ADM_ZIP]);
      for (let i = 0; i < 4; i++) await storeImage(store, { repository: `r${i}`, tag: 'v1', scan: scanOf(digestOf(200 + i), [npmPackage('adm-zip', '0.4.7')]), db, policy });
      const judged: Digest[] = [];
      const mon = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy, onJudged: (v) => judged.push(v.digest) });
      const s = await mon.all();
      expect(s.rejudged).to.equal(4);
      expect(s.changed, 'nothing new').to.equal(0);
      expect(judged).to.have.length(4);
    });
  });
}

contract('sqlite', async () => {
  const store = await openStore('sqlite::memory:');
  return { store, done: () => store.close() };
});

contract('postgres', async () => {
  const pg = await freshDatabase('pushgate_monitor');
  const store = await openStore(pg.url);
  return {
    store,
    async done() {
      await store.close();
      await pg.drop();
    },
  };
});
