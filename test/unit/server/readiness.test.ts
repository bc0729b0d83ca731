/**
 * /readyz tells the truth: served by the real app over real HTTP, with the real SQLite and PostgreSQL stores
 * and a real vulnerability database built from the fixtures, then damaged the ways files get damaged. Each
 * failure is a 503 naming the part; a healthy instance is 200.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { Gate } from '../../../src/gate/gate.js';
import { Metrics } from '../../../src/metrics/index.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { createApp } from '../../../src/server/app.js';
import { Readiness } from '../../../src/server/readiness.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { labGateConfig, silentLogger } from '../../helpers/gate.js';
import { ROOT } from '../../helpers/lab.js';
import { freshDatabase } from '../../helpers/postgres.js';

const OSV = path.join(ROOT, 'test/fixtures/vulndb/osv');

async function readyz(store: Store, dbPath: string, dir: string, readiness?: (gate: Gate) => Readiness): Promise<{ status: number; body: Record<string, unknown> }> {
  const config = labGateConfig(dir, []);
  config.vulndb.path = dbPath;
  const gate = new Gate({ config, store, policy: defaultPolicy(), logger: silentLogger });
  const app = createApp({ config, gate, store, metrics: new Metrics(), logger: silentLogger, readiness: readiness?.(gate) });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

describe('readiness: /readyz names what does not work', function () {
  this.timeout(60_000);
  let dir: string;
  let good: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-readyz-'));
    good = path.join(dir, 'vulndb.sqlite');
    await updateDb({ path: good, sources: [OSV] });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const sqliteStore = async (name: string) => openStore(`sqlite:${path.join(dir, `${name}.db`)}`);

  it('a healthy instance is ready', async () => {
    const store = await sqliteStore('healthy');
    const r = await readyz(store, good, dir);
    await store.close();
    expect(r.status).to.equal(200);
    expect(r.body).to.include({ status: 'ready', store: 'ok' });
    expect(r.body.vulndb).to.have.property('builtAt');
    expect((r.body.vulndb as { digest?: string }).digest, 'the database in force, as verdicts name it').to.match(/^sha256:[0-9a-f]{64}$/);
  });

  // Ways a database file is damaged in the field: cut short by a full disk or an interrupted copy, pages
  // overwritten, the wrong file in its place.
  const damages: Array<[string, (bytes: Buffer) => Buffer, RegExp]> = [
    ['cut to half its size', (b) => b.subarray(0, Math.floor(b.length / 2)), /damaged|malformed|not a database|unreadable/],
    ['cut to its first page', (b) => b.subarray(0, 4096), /damaged|malformed|not a database|unreadable/],
    ['pages after the first zeroed', (b) => Buffer.concat([b.subarray(0, 4096), Buffer.alloc(b.length - 4096)]), /damaged|malformed|not a database|unreadable/],
    ['the last quarter overwritten with noise', (b) => Buffer.concat([b.subarray(0, Math.floor((b.length * 3) / 4)), Buffer.from(Array.from({ length: b.length - Math.floor((b.length * 3) / 4) }, (_, i) => (i * 7919) & 255))]), /damaged|malformed|not a database|unreadable/],
    ['not a database at all', () => Buffer.from('{"id":"OSV-1"}\n'.repeat(500)), /not a database|unreadable|damaged/],
    ['an empty file', () => Buffer.alloc(0), /unreadable|damaged|no such table|schema version/],
  ];
  for (const [what, damage, why] of damages) {
    it(`a vulnerability database ${what} is not ready, and says so`, async () => {
      const file = path.join(dir, `damaged-${what.replace(/\W+/g, '-')}.sqlite`);
      fs.writeFileSync(file, damage(fs.readFileSync(good)));
      const store = await sqliteStore(`s-${what.replace(/\W+/g, '-')}`);
      const r = await readyz(store, file, dir);
      await store.close();
      expect(r.status, JSON.stringify(r.body)).to.equal(503);
      expect(r.body.store).to.equal('ok');
      expect(String(r.body.vulndb)).to.match(why).and.include('pushgate db update');
    });
  }

  it('a missing vulnerability database is not ready and names the command', async () => {
    const store = await sqliteStore('missing');
    const r = await readyz(store, path.join(dir, 'nope.sqlite'), dir);
    await store.close();
    expect(r.status).to.equal(503);
    expect(String(r.body.vulndb)).to.include('pushgate db update');
  });

  it('a SQLite store on a full disk is not ready; with space again, it is (a real tmpfs filled up)', async () => {
    const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
    try {
      const store = await openStore(`sqlite:${path.join(mnt, 'pushgate.db')}`);
      // Fill the file system to the last byte, as a runaway log or layer spill would.
      const filler = path.join(mnt, 'filler');
      const fd = fs.openSync(filler, 'w');
      try {
        for (;;) fs.writeSync(fd, Buffer.alloc(4096));
      } catch (e) {
        expect((e as NodeJS.ErrnoException).code).to.equal('ENOSPC');
      } finally {
        fs.closeSync(fd);
      }
      const full = await readyz(store, good, dir);
      expect(full.status, JSON.stringify(full.body)).to.equal(503);
      expect(String(full.body.store)).to.match(/not writable \(.*full/);
      fs.rmSync(filler);
      const freed = await readyz(store, good, dir);
      await store.close();
      expect(freed.status, JSON.stringify(freed.body)).to.equal(200);
    } finally {
      execFileSync('umount', ['-l', mnt]);
      fs.rmSync(mnt, { recursive: true, force: true });
    }
  });

  it('a PostgreSQL store in read-only mode is not ready; writable again, it is', async () => {
    const db = await freshDatabase('pushgate_readyz');
    const name = new URL(db.url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: db.url.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    const store = await openStore(db.url);
    try {
      expect((await readyz(store, good, dir)).status).to.equal(200);
      // The server turns the database read-only, and the store's connections are re-established.
      await admin.query(`ALTER DATABASE ${name} SET default_transaction_read_only = on`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
      let r = await readyz(store, good, dir);
      // A terminated pooled connection may fail one query before the pool replaces it.
      if (r.status === 503 && /unreachable/.test(String(r.body.store))) r = await readyz(store, good, dir);
      expect(r.status, JSON.stringify(r.body)).to.equal(503);
      expect(String(r.body.store)).to.match(/not writable \(.*read-only/);
      await admin.query(`ALTER DATABASE ${name} SET default_transaction_read_only = off`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
      r = await readyz(store, good, dir);
      if (r.status === 503) r = await readyz(store, good, dir);
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
    } finally {
      await store.close().catch(() => undefined);
      await admin.end();
      await db.drop();
    }
  });

  it('a listener that is not up yet keeps the instance not ready', async () => {
    const store = await sqliteStore('listeners');
    let rd: Readiness | undefined;
    const r1 = await readyz(store, good, dir, (gate) => {
      rd = new Readiness({ store, vulndb: () => gate.vulndbReadiness(), cacheMs: 0 });
      rd.setListener('admission', 'starting');
      return rd;
    });
    expect(r1.status).to.equal(503);
    expect(r1.body.listeners).to.deep.equal({ admission: 'starting' });
    const r2 = await readyz(store, good, dir, () => {
      rd!.setListener('admission', 'up');
      return rd!;
    });
    await store.close();
    expect(r2.status).to.equal(200);
  });
});
