/**
 * Migration 4 (`drop-unredacted-image-scans`): whole-image scans stored before the image config was
 * redacted (keys `scan:sha256:…`, no scanner version) are deleted on upgrade, and in SQLite their
 * bytes are gone from the database file too; scans under the versioned key stay.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openStore } from '../../../src/store/index.js';
import { freshDatabase } from '../../helpers/postgres.js';

const D = `sha256:${'c'.repeat(64)}`;

describe('store: image scans stored before config redaction are dropped on upgrade', () => {
  it('sqlite: the old row is deleted and its bytes are not left in the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-unredacted-'));
    const file = path.join(dir, 'p.db');
    const planted = `Pw${crypto.randomBytes(12).toString('hex')}`;
    try {
      const s = await openStore(`sqlite:${file}`);
      await s.putLayer(`scan:${D}`, { platforms: [{ config: { config: { Labels: { note: `DB_PASSWORD=${planted}` } } } }] });
      await s.putLayer(`scan:0123456789abcdef:${D}`, { kept: true });
      await s.close();
      // Make the database look as it did before migration 4.
      const db = new Database(file);
      db.prepare('DELETE FROM schema_migrations WHERE version = 4').run();
      db.close();
      expect(fs.readFileSync(file).toString('latin1')).to.include(planted);

      const s2 = await openStore(`sqlite:${file}`);
      expect(await s2.getLayer(`scan:${D}`)).to.equal(undefined);
      expect(await s2.getLayer(`scan:0123456789abcdef:${D}`)).to.deep.equal({ kept: true });
      await s2.close();
      const bytes = fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f)).toString('latin1')).join('');
      expect(bytes.includes(planted), 'the dropped scan is still in the file').to.equal(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('postgres: the old row is deleted, the versioned one stays', async () => {
    const db = await freshDatabase();
    try {
      const s = await openStore(db.url);
      await s.putLayer(`scan:${D}`, { old: true });
      await s.putLayer(`scan:0123456789abcdef:${D}`, { kept: true });
      await s.close();
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      await c.query('DELETE FROM schema_migrations WHERE version = 4');
      await c.end();
      const s2 = await openStore(db.url);
      expect(await s2.getLayer(`scan:${D}`)).to.equal(undefined);
      expect(await s2.getLayer(`scan:0123456789abcdef:${D}`)).to.deep.equal({ kept: true });
      await s2.close();
    } finally {
      await db.drop();
    }
  });
});
