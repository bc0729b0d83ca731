import { expect } from 'chai';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import pg from 'pg';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type MigrationReport } from '../../../src/store/index.js';
import { MIGRATIONS, unknownMigrations } from '../../../src/store/sql.js';
import { logMigration } from '../../../src/server/serve.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { ROOT } from '../../helpers/lab.js';

// An operator upgrading pushgate must see that the store's schema changed (and to which version), and one
// rolling back must be told that the store was migrated by a newer pushgate: both used to pass in silence.

const ALL = MIGRATIONS.map((m) => ({ version: m.version, name: m.name }));
const LAST = MIGRATIONS[MIGRATIONS.length - 1];

async function open(url: string): Promise<MigrationReport> {
  let report: MigrationReport | undefined;
  const store = await openStore(url, { onMigrated: (r) => (report = r) });
  await store.close();
  expect(report, 'onMigrated called').to.not.equal(undefined);
  return report!;
}

/** Forget the newest migration as an older pushgate would never have applied it, and record one a newer pushgate would have. */
function engines(): Array<{ name: string; setUp(): Promise<{ url: string; rollBackLast(): Promise<void>; recordFuture(v: number): Promise<void>; done(): Promise<void> }> }> {
  return [
    {
      name: 'sqlite',
      setUp: async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-migrep-'));
        const file = path.join(dir, 'p.db');
        const sql = (q: string, ...args: unknown[]) => { const db = new Database(file); try { db.prepare(q).run(...args); } finally { db.close(); } };
        return {
          url: `sqlite:${file}`,
          rollBackLast: async () => { sql('ALTER TABLE events DROP COLUMN put_at'); sql('ALTER TABLE cluster_jobs DROP COLUMN put_at'); sql('DELETE FROM schema_migrations WHERE version = ?', LAST.version); },
          recordFuture: async (v) => sql('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', v, 'from-the-future', new Date().toISOString()),
          done: async () => fs.rmSync(dir, { recursive: true, force: true }),
        };
      },
    },
    {
      name: 'postgres',
      setUp: async () => {
        const db = await freshDatabase('pushgate_migrep');
        const sql = async (q: string, ...args: unknown[]) => { const c = new pg.Client({ connectionString: db.url }); await c.connect(); try { await c.query(q, args); } finally { await c.end(); } };
        return {
          url: db.url,
          rollBackLast: async () => { await sql('ALTER TABLE events DROP COLUMN put_at'); await sql('ALTER TABLE cluster_jobs DROP COLUMN put_at'); await sql('DELETE FROM schema_migrations WHERE version = $1', LAST.version); },
          recordFuture: (v) => sql('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', v, 'from-the-future', new Date().toISOString()),
          done: () => db.drop(),
        };
      },
    },
  ];
}

describe('store: migration report', () => {
  before(() => {
    // The roll-back below undoes this migration by hand; a newer last migration needs its own undo here.
    expect(LAST.name).to.equal('events-put-at');
  });

  for (const engine of engines()) {
    it(`${engine.name}: names every migration applied to a new store, the one an upgrade applies, none when current, and versions a newer pushgate recorded`, async () => {
      const e = await engine.setUp();
      try {
        // without onMigrated the schema is migrated all the same
        const plain = await openStore(e.url);
        try {
          expect(await plain.probeWrite()).to.deep.equal({ ok: true });
        } finally {
          await plain.close();
        }
        await e.rollBackLast();
        expect(await open(e.url)).to.deep.equal({ applied: [{ version: LAST.version, name: LAST.name }], unknown: [] });
        await e.done();
        Object.assign(e, await engine.setUp());
        expect(await open(e.url)).to.deep.equal({ applied: ALL, unknown: [] });
        expect(await open(e.url)).to.deep.equal({ applied: [], unknown: [] });
        await e.rollBackLast();
        expect(await open(e.url)).to.deep.equal({ applied: [{ version: LAST.version, name: LAST.name }], unknown: [] });
        await e.recordFuture(LAST.version + 7);
        await e.recordFuture(LAST.version + 1);
        expect(await open(e.url)).to.deep.equal({ applied: [], unknown: [LAST.version + 1, LAST.version + 7] });
      } finally {
        await e.done();
      }
    });
  }

  it('unknownMigrations: exactly the recorded versions MIGRATIONS lacks, ascending, once each', () => {
    const known = new Set(MIGRATIONS.map((m) => m.version));
    fc.assert(fc.property(fc.array(fc.oneof(fc.constantFrom(...known), fc.integer({ min: -5, max: 200 })), { maxLength: 40 }), (recorded) => {
      const got = unknownMigrations(recorded);
      const want = [...new Set(recorded.filter((v) => !known.has(v)))].sort((a, b) => a - b);
      expect(got).to.deep.equal(want);
    }), { numRuns: 300 });
  });

  it('logMigration: an upgrade is logged at info with the versions, a newer store at warn with what to do, a current one not at all', () => {
    const lines: Array<[string, Record<string, unknown>, string]> = [];
    const logger = { info: (o: Record<string, unknown>, m: string) => lines.push(['info', o, m]), warn: (o: Record<string, unknown>, m: string) => lines.push(['warn', o, m]) };
    logMigration({ applied: [], unknown: [] }, logger as never);
    expect(lines).to.deep.equal([]);
    logMigration({ applied: [{ version: 21, name: 'a' }, { version: 22, name: 'b' }], unknown: [] }, logger as never);
    expect(lines).to.have.length(1);
    expect(lines[0][0]).to.equal('info');
    expect(lines[0][1]).to.deep.equal({ applied: ['21 a', '22 b'] });
    expect(lines[0][2]).to.contain('now at version 22');
    logMigration({ applied: [], unknown: [23, 30] }, logger as never);
    expect(lines[1][0]).to.equal('warn');
    expect(lines[1][1]).to.deep.equal({ unknownVersions: [23, 30] });
    expect(lines[1][2]).to.match(/newer pushgate.*23, 30.*run the newer version, or restore/);
  });
});

describe('README "Day two": the log lines it tells operators to look for are the ones pushgate writes', () => {
  it('quotes the migration, newer-store and previous-token lines as src/server writes them', () => {
    const root = ROOT;
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const day2 = readme.slice(readme.indexOf('### Day two'), readme.indexOf('## Coverage'));
    const src = fs.readFileSync(path.join(root, 'src/server/serve.ts'), 'utf8') + fs.readFileSync(path.join(root, 'src/server/app.ts'), 'utf8');
    const quoted = ['store schema migrated: ', 'the store was migrated by a newer pushgate (schema versions ', 'a notification presented one of webhook.previousTokens'];
    for (const q of quoted) {
      expect(day2.replace(/\s+/g, ' '), q).to.contain(q);
      expect(src, q).to.contain(q);
    }
  });
});
