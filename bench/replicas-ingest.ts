/**
 * Notification ingest with several replicas on PostgreSQL. In the same run, each replica a child process
 * running pushgate's app (src/server/app.ts: sender authenticated, envelope parsed, event durably queued,
 * 202 after commit), gate workers not started (this measures acceptance, not scanning):
 *   (a) one replica on SQLite (WAL, synchronous=FULL): the baseline;
 *   (b) one replica on PostgreSQL (127.0.0.1:5432, a fresh database);
 *   (c) three replicas on one PostgreSQL database.
 * The load is always three autocannon instances in this process (connections split among them, each aimed at
 * replica i mod n), Distribution 2.8 style: one event per POST with its own event id. After each phase the
 * queued events are counted against the 202s (nothing answered 202 is missing).
 * Ratios: (b)/(a) (goal ≥ 0.8×) and (c)/(b). This machine has 2 shared cores: the load generator, the
 * replicas and PostgreSQL compete for them, so (c)/(b) shows contention more than scale-out.
 *
 * Usage: npx tsx bench/replicas-ingest.ts [seconds=5] [connections=48] [rounds=3]   (PUSHGATE_TEST_PG: another server)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import pg from 'pg';
import { defaultConfig } from '../src/config/load.js';
import { Gate } from '../src/gate/gate.js';
import { Metrics } from '../src/metrics/index.js';
import { defaultPolicy } from '../src/policy/index.js';
import { createApp } from '../src/server/app.js';
import { openStore } from '../src/store/index.js';

const TOKEN = 'bench-webhook-token-0123456789';
const REG = 'http://127.0.0.1:9'; // never contacted: workers are not started
const PG_BASE = process.env.PUSHGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** Child mode: one replica on `storeUrl`; prints `PORT=n` once listening. */
async function replica(storeUrl: string): Promise<void> {
  const config = defaultConfig();
  config.store.url = storeUrl;
  config.vulndb.path = path.join(os.tmpdir(), 'pushgate-bench-none.sqlite');
  config.registries = [{ name: 'bench', url: REG, type: 'distribution', insecure: false, webhook: { token: TOKEN }, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 4, timeoutMs: 1000 }];
  const store = await openStore(storeUrl);
  const gate = new Gate({ config, store, policy: defaultPolicy(), logger: silent });
  const app = createApp({ config, gate, store, metrics: new Metrics(), logger: silent });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  process.stdout.write(`PORT=${(server.address() as AddressInfo).port}\n`);
}

function startReplica(storeUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'replica', storeUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += String(d);
      const m = /PORT=(\d+)/.exec(out);
      if (m) resolve({ child, url: `http://127.0.0.1:${m[1]}/webhooks/distribution` });
    });
    child.once('exit', (code) => reject(new Error(`replica exited (${code})`)));
  });
}

let n = 0;
function envelope(): string {
  n++;
  const digest = `sha256:${n.toString(16).padStart(64, '0')}`;
  return JSON.stringify({
    events: [
      {
        id: `bench-${process.pid}-${n}`,
        timestamp: new Date().toISOString(),
        action: 'push',
        target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 1234, length: 1234, repository: 'bench/app', url: `${REG}/v2/bench/app/manifests/${digest}`, tag: `t${n}` },
        request: { id: `r${n}`, addr: '127.0.0.1:1', host: '127.0.0.1:9', method: 'PUT', useragent: 'docker/24' },
        actor: { name: 'ci' },
        source: { addr: 'registry:5000', instanceID: 'bench' },
      },
    ],
  });
}

function load(url: string, connections: number, seconds: number): Promise<autocannon.Result> {
  return autocannon({
    url,
    method: 'POST',
    connections,
    duration: seconds,
    requests: [{ setupRequest: (req) => ({ ...req, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' }, body: envelope() }) }],
  });
}

async function createDb(name: string): Promise<string> {
  const c = new pg.Client({ connectionString: `${PG_BASE}/postgres` });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  return `${PG_BASE}/${name}`;
}

async function dropDb(name: string): Promise<void> {
  const c = new pg.Client({ connectionString: `${PG_BASE}/postgres` });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.end();
}

interface Phase {
  name: string;
  perSecond: number;
  accepted: number;
  queued: number;
  p99: number;
  errors: number;
}

async function phase(name: string, storeUrl: string, replicas: number, seconds: number, connections: number): Promise<Phase> {
  const children: Array<{ child: ChildProcess; url: string }> = [];
  for (let i = 0; i < replicas; i++) children.push(await startReplica(storeUrl));
  try {
    const rs = await Promise.all([0, 1, 2].map((i) => load(children[i % replicas].url, Math.max(1, Math.floor(connections / 3)), seconds)));
    const accepted = rs.reduce((s, r) => s + r['2xx'], 0);
    const store = await openStore(storeUrl);
    const queued = await store.queueDepth();
    await store.close();
    return { name, perSecond: rs.reduce((s, r) => s + r.requests.total / (r.duration || seconds), 0), accepted, queued, p99: Math.max(...rs.map((r) => r.latency.p99)), errors: rs.reduce((s, r) => s + r.errors + r.timeouts + r.non2xx, 0) };
  } finally {
    for (const c of children) c.child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === 'replica') return replica(process.argv[3]);
  const seconds = Number(process.argv[2] ?? 5);
  const connections = Number(process.argv[3] ?? 48);
  const rounds = Number(process.argv[4] ?? 3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-replicas-'));
  const dbs = [`pg_scaleout_bench_${process.pid}_1`, `pg_scaleout_bench_${process.pid}_3`];
  try {
    // Rounds interleave the three setups, so load from elsewhere on the machine hits them alike; medians are compared.
    const urls = [`sqlite:${path.join(dir, 'pushgate.db')}`, await createDb(dbs[0]), await createDb(dbs[1])];
    const setups: Array<[string, number]> = [['1 replica, SQLite', 1], ['1 replica, PostgreSQL', 1], ['3 replicas, PostgreSQL', 3]];
    const runs: Phase[][] = [[], [], []];
    for (let round = 0; round < rounds; round++) for (const [i, [name, replicas]] of setups.entries()) runs[i].push(await phase(name, urls[i], replicas, seconds, connections));
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    console.log(`notification ingest, ${connections} keep-alive connections (3 load generators), ${seconds} s each, ${rounds} interleaved rounds, one event per POST, ${os.cpus().length} cores`);
    const med = runs.map((rs) => median(rs.map((p) => p.perSecond)));
    for (const [i, rs] of runs.entries()) {
      const missing = rs.some((p) => p.queued < p.accepted);
      console.log(`${setups[i][0].padEnd(24)} events/s median ${med[i].toFixed(0).padStart(6)} (rounds ${rs.map((p) => p.perSecond.toFixed(0)).join(', ')})  p99 ≤ ${Math.max(...rs.map((p) => p.p99)).toFixed(0)} ms  errors ${rs.reduce((x, p) => x + p.errors, 0)}  ${missing ? 'MISSING EVENTS' : 'none missing'}`);
    }
    const pgVsSqlite = med[1] / med[0];
    console.log(`1 PostgreSQL replica / SQLite: ${pgVsSqlite.toFixed(2)}× (goal ≥ 0.8×: ${pgVsSqlite >= 0.8 ? 'ok' : 'MISSED'})`);
    console.log(`3 / 1 PostgreSQL replicas: ${(med[2] / med[1]).toFixed(2)}×`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    for (const d of dbs) await dropDb(d).catch(() => undefined);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
