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

/**
 * mocha hooks giving each test a fresh store of `kind`: SQLite in memory, or PostgreSQL in a new database
 * named after `prefix` (dropped after the test). Call inside a `describe`; read the store with the getter.
 */
export function freshStoreEachTest(kind: 'sqlite' | 'postgres', prefix: string): () => import('../../src/store/index.js').Store {
  let store: import('../../src/store/index.js').Store;
  let drop: (() => Promise<void>) | undefined;
  beforeEach(async () => {
    const { openStore } = await import('../../src/store/index.js');
    if (kind === 'sqlite') store = await openStore('sqlite::memory:');
    else {
      const db = await freshDatabase(prefix);
      drop = db.drop;
      store = await openStore(db.url);
    }
  });
  afterEach(async () => {
    await store.close();
    await drop?.();
    drop = undefined;
  });
  return () => store;
}

/**
 * Opens a store of `kind` for a test file's contract suite: SQLite in memory, or PostgreSQL in a new
 * database named after `prefix`; `done` closes it (and drops the database).
 */
export async function openTestStore(kind: 'sqlite' | 'postgres', prefix: string): Promise<{ store: import('../../src/store/index.js').Store; done(): Promise<void> }> {
  const { openStore } = await import('../../src/store/index.js');
  if (kind === 'sqlite') {
    const store = await openStore('sqlite::memory:');
    return { store, done: () => store.close() };
  }
  const db = await freshDatabase(prefix);
  const store = await openStore(db.url);
  return {
    store,
    async done() {
      await store.close();
      await db.drop();
    },
  };
}
