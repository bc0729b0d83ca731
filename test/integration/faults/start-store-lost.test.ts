/**
 * A replica that starts while PostgreSQL ends its connections (a server restart, a failover,
 * `pg_terminate_backend`) waits and then serves; it does not exit half started. Between opening the
 * store and listening, `serve` reads the exceptions, the VEX documents, the queue's depth and counts:
 * a connection ended under one of those reads failed the start with `postgres: terminating connection
 * due to administrator command` (exit 2 from the CLI), so a rolling restart during a database failover
 * became a crash loop.
 *
 * The server is the real PostgreSQL, reached through a loopback TCP forwarder that ends the connection
 * carrying the first occurrence of one start read's statement (before the server sees it), which is
 * what a client sees of a server restart at that moment; each read is tried in turn. One more case ends
 * every backend of the database with `pg_terminate_backend` while the replica starts.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startServer } from '../../../src/server/serve.js';
import { openStore } from '../../../src/store/index.js';
import { labGateConfig } from '../../helpers/gate.js';
import { freePort } from '../../helpers/ports.js';
import { freshDatabase } from '../../helpers/postgres.js';

const BASE = process.env.PUSHGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';
const PG = new URL(BASE);
const ADMIN = `${BASE}/postgres`;

/** The statements `serve` runs between opening the store and listening (src/store/postgres-store.ts). */
const START_READS = ['SELECT * FROM exceptions ORDER BY id', 'SELECT * FROM vex_documents ORDER BY id', "SELECT COUNT(*) AS n FROM events WHERE status IN ('queued', 'running')", "SELECT status, COUNT(*) AS n FROM events WHERE status <> 'done' GROUP BY status"];

/**
 * A TCP forwarder 127.0.0.1:port → the test server that destroys the connection carrying the first
 * occurrence of `statement` (client to server) instead of passing it on; `cut` says whether it did.
 */
async function cutOnce(statement: string): Promise<{ port: number; cut(): boolean; close(): Promise<void> }> {
  let cut = false;
  const needle = Buffer.from(statement);
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((c) => {
    const up = net.connect(Number(PG.port || 5432), PG.hostname);
    sockets.add(c).add(up);
    c.on('data', (d: Buffer) => {
      if (!cut && d.includes(needle)) {
        cut = true;
        c.destroy();
        up.destroy();
        return;
      }
      up.write(d);
    });
    up.pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    c.on('close', () => up.destroy());
  });
  const port = await freePort();
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
  return {
    port,
    cut: () => cut,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

function recordingLogger(waits: string[]): never {
  const noop = () => undefined;
  return {
    info: noop,
    debug: noop,
    error: noop,
    warn: (o: unknown, msg?: string) => {
      if (msg === 'store unreachable, waiting before serving') waits.push((o as { err: string }).err);
    },
  } as never;
}

describe('serve: a start while PostgreSQL ends connections waits and serves', function () {
  this.timeout(120_000);
  let db: { url: string; drop(): Promise<void> };
  let dir: string;
  before(async () => {
    db = await freshDatabase('pg_start_lost');
    // migrated once beforehand, so each case's connection cut falls on the start's reads, not on the migration
    await (await openStore(db.url)).close();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-start-lost-'));
  });
  after(async () => {
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const statement of START_READS) {
    it(`the connection ends under "${statement.slice(0, 40)}…": the read is tried again and the replica serves`, async () => {
      const fwd = await cutOnce(statement);
      const waits: string[] = [];
      try {
        const config = labGateConfig(dir, []);
        const url = new URL(db.url);
        url.port = String(fwd.port);
        config.store.url = url.toString();
        config.store.connectTimeoutMs = 30_000;
        const srv = await startServer(config, recordingLogger(waits));
        try {
          expect(fwd.cut(), 'the statement went through the forwarder and was cut').to.equal(true);
          expect(waits.length, 'the replica said it waited').to.equal(1);
          expect(waits[0]).to.match(/Connection terminated/);
          expect((await fetch(`http://127.0.0.1:${srv.port}/healthz`)).status).to.equal(200);
        } finally {
          await srv.close();
        }
      } finally {
        await fwd.close();
      }
    });
  }

  it('every backend of the database ended again and again while the replica starts: it serves once the ending stops', async () => {
    const database = new URL(db.url).pathname.slice(1);
    const admin = new pg.Client({ connectionString: ADMIN });
    await admin.connect();
    let ended = 0;
    let running = true;
    const loop = (async () => {
      while (running) {
        const r = await admin.query('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
        ended += r.rows.filter((x: { ok: boolean }) => x.ok).length;
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    const waits: string[] = [];
    const config = labGateConfig(dir, []);
    config.store.url = db.url;
    config.store.connectTimeoutMs = 30_000;
    try {
      const starting = startServer(config, recordingLogger(waits));
      await new Promise((r) => setTimeout(r, 2000));
      running = false;
      await loop;
      const srv = await starting;
      try {
        expect(ended, 'connections were ended while the replica started').to.be.greaterThan(0);
        expect((await fetch(`http://127.0.0.1:${srv.port}/healthz`)).status).to.equal(200);
      } finally {
        await srv.close();
      }
    } finally {
      running = false;
      await loop;
      await admin.end();
    }
  });
});
