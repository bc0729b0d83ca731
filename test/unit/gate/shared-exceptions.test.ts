/**
 * Exceptions are shared state: an exception added through one replica is in force on every replica sharing
 * the PostgreSQL store, told by `NOTIFY` (Store.publish / subscribe), and a replica whose listening
 * connection the server ended (pg_terminate_backend, as a restart does) reconnects and re-reads them, so an
 * exception added while it was cut off is not missed. Two PolicyControls on two stores stand for two replicas.
 */
import { expect } from 'chai';
import pg from 'pg';
import type { Gate } from '../../../src/gate/gate.js';
import { PolicyControl } from '../../../src/gate/reevaluate.js';
import { defaultConfig } from '../../../src/config/load.js';
import { defaultPolicy, type CompiledPolicy } from '../../../src/policy/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { silentLogger } from '../../helpers/gate.js';
import { freshDatabase } from '../../helpers/postgres.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What PolicyControl needs of a gate to put a policy in force and re-evaluate an empty store. */
function gateStub(): Gate {
  const g = {
    policy: defaultPolicy(),
    setPolicy(p: CompiledPolicy) {
      g.policy = p;
    },
    get currentPolicy() {
      return g.policy;
    },
    currentVulnDb: () => undefined,
  };
  return g as unknown as Gate;
}

async function until(f: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(50);
  }
}

describe('policy: exceptions shared across replicas (PostgreSQL LISTEN/NOTIFY)', function () {
  this.timeout(60_000);
  let db: { url: string; drop(): Promise<void> };
  let stores: Store[] = [];
  let controls: PolicyControl[] = [];
  let gates: Array<Gate> = [];

  beforeEach(async () => {
    db = await freshDatabase('pg_scaleout_exc');
    stores = [await openStore(db.url), await openStore(db.url)];
    gates = [gateStub(), gateStub()];
    controls = stores.map((store, i) => new PolicyControl({ gate: gates[i], store, config: defaultConfig(), logger: silentLogger, policy: defaultPolicy() }));
    for (const c of controls) await c.init();
  });
  afterEach(async () => {
    for (const c of controls) await c.close();
    for (const s of stores) await s.close();
    await db.drop();
  });

  const spec = (name: string) => ({ name, reason: 'vendor fix pending', owner: 'ops', expires: new Date(Date.now() + 86_400_000).toISOString(), ids: ['CVE-2024-0001'] });

  it('an exception added on one replica is in force on the other', async () => {
    const before = gates[1].currentPolicy.revision;
    await controls[0].addException('alice', spec('one'));
    await until(() => controls[1].list().length === 1);
    expect(gates[1].currentPolicy.revision).to.not.equal(before);
    expect(gates[1].currentPolicy.revision).to.equal(gates[0].currentPolicy.revision);
  });

  it('a replica whose listening connection was ended catches up on reconnection', async () => {
    // End every connection of replica 1's store (its LISTEN connection included) and add an exception
    // through replica 0 while replica 1 is reconnecting: the NOTIFY is lost to it, the resync is not.
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    const name = new URL(db.url).pathname.slice(1);
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'", [name]);
    await admin.end();
    await controls[0].addException('alice', spec('two'));
    await until(() => controls[1].list().length === 1 && gates[1].currentPolicy.revision === gates[0].currentPolicy.revision, 20_000);
  });
});
