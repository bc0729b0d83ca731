/**
 * A fresh PostgreSQL database per test file on the machine's server (127.0.0.1:5432, trust auth).
 * Set PUSHGATE_TEST_PG to another base URL to use another server.
 */
import pg from 'pg';

const BASE = process.env.PUSHGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';

/** Creates a database with a unique name and returns its URL and a dropper. */
export async function freshDatabase(prefix = 'pushgate_test'): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: `${BASE}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: `${BASE}/${name}`,
    async drop() {
      const c = new pg.Client({ connectionString: `${BASE}/postgres` });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
