/**
 * A grace-period hold (`onNewFindings` quarantine/reject with a `grace`) whose image's stored scan is gone
 * by the time the hold is due: an analyzer upgrade changes the image scan key (src/gate/gate.ts SCAN_KEY),
 * so no scan is stored under the key in force until the image is rescanned. The grace pass found no scan,
 * wrote nothing, and the image stayed admitted at `warn` past its due time while a grace pass ran for it
 * at every tick. The block is now enforced from the stored verdict's raw evaluations.
 *
 * And a grace longer than MAX_GRACE_MS (policy built in code: the schema refuses it) is clamped: the due
 * time overflowed the ISO date of the hold's reason and PostgreSQL's bigint, and the pass failed.
 *
 * Real stores (a SQLite file, a PostgreSQL database): the scan row is deleted on a second connection, as
 * the stored scan of a key no longer in force is absent for the monitor.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Digest } from '../../../src/core/index.js';
import { SCAN_KEY } from '../../../src/gate/gate.js';
import { Monitor } from '../../../src/monitor/index.js';
import { compilePolicy, DEFAULT_POLICY_YAML, MAX_GRACE_MS, type CompiledPolicy } from '../../../src/policy/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { VulnDb } from '../../../src/vulndb/index.js';
import { buildDb, digestOf, npmPackage, osvRecord, scanOf, storeImage } from '../../helpers/monitor.js';
import { freshDatabase } from '../../helpers/postgres.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const ADM_ZIP = osvRecord('npm/NSWG-NPM-458.json'); // adm-zip < 0.4.9, high, fixable: quarantined by the default rules
const LODASH_OLD = osvRecord('npm/NSWG-NPM-368.json');
const MIN = 60_000;
const DAY = 86_400_000;
const T2026 = Date.parse('2026-12-05T12:00:00Z');

function policyWith(onNewFindings: 'quarantine' | 'reject', grace: string): CompiledPolicy {
  const text = DEFAULT_POLICY_YAML.replace('  default:\n    ruleSet: default\n    mode: enforce\n', `  default:\n    ruleSet: default\n    mode: enforce\n    onNewFindings: ${onNewFindings}\n    grace: { high: ${grace} }\n`);
  expect(text).to.not.equal(DEFAULT_POLICY_YAML);
  return compilePolicy(text, '<test>');
}

interface Opened {
  store: Store;
  /** Deletes a stored layer row on a second connection (the monitor's store does not know). */
  dropLayer(key: string): Promise<void>;
  done(): Promise<void>;
}

async function openSqlite(dir: string): Promise<Opened> {
  const file = path.join(dir, 'store.sqlite');
  const store = await openStore(`sqlite:${file}`);
  return {
    store,
    async dropLayer(key) {
      const db = new Database(file);
      try {
        db.pragma('busy_timeout = 5000');
        expect(db.prepare('DELETE FROM layers WHERE key = ?').run(key).changes).to.equal(1);
      } finally {
        db.close();
      }
    },
    done: () => store.close(),
  };
}

async function openPostgres(): Promise<Opened> {
  const fresh = await freshDatabase('pushgate_hold_no_scan');
  const store = await openStore(fresh.url);
  return {
    store,
    async dropLayer(key) {
      const c = new pg.Client({ connectionString: fresh.url });
      await c.connect();
      try {
        expect((await c.query('DELETE FROM layers WHERE key = $1', [key])).rowCount).to.equal(1);
      } finally {
        await c.end();
      }
    },
    async done() {
      await store.close();
      await fresh.drop();
    },
  };
}

interface Case {
  onNewFindings: 'quarantine' | 'reject';
  /** grace, minutes */
  grace: number;
  /** whether the stored scan is gone before the ticks */
  dropScan: boolean;
  /** ticks after the hold was set, minutes each since the previous */
  ticks: number[];
}

function contract(name: string, open: (dir: string) => Promise<Opened>) {
  describe(`monitor: a due hold whose stored scan is gone (${name})`, function () {
    this.timeout(120_000);
    let o: Opened;
    let dir: string;
    let dbBefore: VulnDb;
    let dbAfter: VulnDb;
    let n = 0;
    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-hold-no-scan-'));
      o = await open(dir);
      // the second database replaces the first (its record names it as the previous one)
      const first = path.join(dir, 'first.sqlite');
      const second = path.join(dir, 'second.sqlite');
      dbBefore = await buildDb(first, [LODASH_OLD]);
      fs.copyFileSync(first, second);
      dbAfter = await buildDb(second, [LODASH_OLD, ADM_ZIP]);
    });
    after(async () => {
      dbBefore.close();
      dbAfter.close();
      await o.done();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /**
     * Stores a new image judged with the first database, then ticks a monitor on the second one (the
     * finding appears: held at warn for the grace). @returns the monitor, its clock and what it acted on.
     */
    async function heldImage(policy: CompiledPolicy, start: number) {
      const id = ++n;
      const repository = `team/held${id}`;
      const digest = digestOf(50_000 + id);
      await storeImage(o.store, { repository, tag: 'v1', scan: scanOf(digest, [npmPackage('adm-zip', '0.4.7')]), db: dbBefore, policy });
      let now = start;
      const acted: string[] = [];
      const mon = new Monitor({
        store: o.store, logger: quiet, vulndb: () => dbAfter, policy: () => policy, now: () => now,
        act: async (_b, a, views) => {
          acted.push(`${a.repository}:${views.map((v) => v.tag).join(',')}:${a.decision}`);
          return { action: a.decision === 'reject' ? 'delete' : 'quarantine', status: 'done', detail: 'test' };
        },
      });
      await mon.tick();
      expect((await o.store.getVerdict('lab', repository, digest))?.decision, 'held: warn during the grace').to.equal('warn');
      expect(acted).to.deep.equal([]);
      return { mon, acted, repository, digest, set: (t: number) => void (now = t) };
    }

    const heldHolds = async (digest: Digest) => (await o.store.monitor.dueHolds(Number.MAX_SAFE_INTEGER)).filter((h) => h.digest === digest);

    it('the hold is enforced at its due time from the stored verdict (not left at warn with a grace pass every tick), and not before', async () => {
      const policy = policyWith('quarantine', '2h');
      const h = await heldImage(policy, T2026);
      await o.dropLayer(SCAN_KEY(h.digest));
      h.set(T2026 + 2 * 60 * MIN - 1);
      await h.mon.tick();
      expect(h.acted, 'a millisecond before its due time: held').to.deep.equal([]);
      expect((await heldHolds(h.digest)).map((x) => x.dueAt)).to.deep.equal([T2026 + 2 * 60 * MIN]);
      h.set(T2026 + 2 * 60 * MIN);
      const stats = await h.mon.tick();
      expect(stats?.noScan, 'judged without its scan').to.equal(1);
      expect(h.acted).to.deep.equal([`${h.repository}:v1:quarantine`]);
      const v = await o.store.getVerdict('lab', h.repository, h.digest);
      expect(v?.decision).to.equal('quarantine');
      expect(v?.enforcement?.action).to.equal('quarantine');
      expect(await heldHolds(h.digest), 'no hold left').to.deep.equal([]);
      const changes = await o.store.monitor.listChanges(h.digest, 5);
      expect(changes[0]).to.deep.include({ decision: { before: 'warn', after: 'quarantine' } });
      expect(changes[0].onNewFindings).to.include({ action: 'quarantine', effect: 'enforced' });
      expect((await o.store.listAudit(20, {})).some((a) => a.action === 'monitor:changed' && a.digest === h.digest && (a.detail as { decision?: { after?: string } }).decision?.after === 'quarantine')).to.equal(true);
      // nothing more to do: the next tick runs no grace pass
      h.set(T2026 + 3 * 60 * MIN);
      expect(await h.mon.tick()).to.equal(undefined);
    });

    it('a grace past the longest the schema allows (a policy built in code, up to 1e25 ms) holds to the first-seen time + MAX_GRACE_MS: the pass does not fail on the due time', async () => {
      await fc.assert(
        fc.asyncProperty(fc.double({ min: MAX_GRACE_MS, max: 1e25, noNaN: true }), fc.integer({ min: 0, max: 3 * 365 }), async (graceMs, day) => {
          const p = policyWith('quarantine', '1h');
          const policy: CompiledPolicy = { ...p, defaultMapping: { ...p.defaultMapping, graceMs: { high: Math.round(graceMs) } } };
          const start = T2026 + day * DAY;
          const h = await heldImage(policy, start);
          expect((await heldHolds(h.digest)).map((x) => x.dueAt)).to.deep.equal([start + MAX_GRACE_MS]);
          const changes = await o.store.monitor.listChanges(h.digest, 1);
          expect(changes[0].onNewFindings).to.include({ effect: 'held', enforceAfter: new Date(start + MAX_GRACE_MS).toISOString() });
          h.set(start + MAX_GRACE_MS);
          await h.mon.tick();
          expect(h.acted).to.deep.equal([`${h.repository}:v1:quarantine`]);
        }),
        { numRuns: 10 },
      );
    });

    it('property: with or without its stored scan, a held image is enforced at the first tick at or after its due time, once, and held at warn before', async () => {
      const caseArb: fc.Arbitrary<Case> = fc.record({
        onNewFindings: fc.constantFrom('quarantine' as const, 'reject' as const),
        grace: fc.integer({ min: 1, max: 30 * 24 * 60 }),
        dropScan: fc.boolean(),
        ticks: fc.array(fc.integer({ min: 1, max: 10 * 24 * 60 }), { minLength: 1, maxLength: 5 }),
      });
      await fc.assert(
        fc.asyncProperty(caseArb, fc.integer({ min: 0, max: 3 * 365 }), async (c, day) => {
          const start = T2026 + day * DAY;
          const h = await heldImage(policyWith(c.onNewFindings, `${c.grace}m`), start);
          if (c.dropScan) await o.dropLayer(SCAN_KEY(h.digest));
          const due = start + c.grace * MIN;
          let now = start;
          for (const step of [...c.ticks, c.grace]) {
            now += step * MIN;
            h.set(now);
            await h.mon.tick();
            const v = await o.store.getVerdict('lab', h.repository, h.digest);
            if (now < due) {
              expect(v?.decision, `+${now - start} ms, due +${due - start}`).to.equal('warn');
              expect(h.acted).to.deep.equal([]);
              expect((await heldHolds(h.digest)).map((x) => x.dueAt)).to.deep.equal([due]);
            } else {
              // the default rules quarantine a fixable high finding: the decision in full under both caps
              expect(v?.decision, `+${now - start} ms, due +${due - start}`).to.equal('quarantine');
              expect(h.acted).to.deep.equal([`${h.repository}:v1:quarantine`]);
              expect(await heldHolds(h.digest)).to.deep.equal([]);
            }
          }
        }),
        { numRuns: name === 'sqlite' ? 25 : 10 },
      );
    });
  });
}

contract('sqlite', openSqlite);
contract('postgres', () => openPostgres());
