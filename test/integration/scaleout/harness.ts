/**
 * Several `pushgate serve` replicas on one PostgreSQL database, as they run behind a Kubernetes Service:
 * real child processes on ephemeral loopback ports, and in front of them a round-robin balancer standing
 * in for the Service (kube-proxy): the registry's notifications go to the balancer, each request lands on
 * one live replica, and a replica that was killed is out of the endpoints until its /healthz answers
 * again. A request in flight to a replica that dies fails (502) and the registry delivers it again, as it
 * does when a pod dies behind a Service. Used by test/integration/scaleout and bench/replicas-ingest.ts.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { ROOT } from '../../helpers/lab.js';

/** One replica: its child process, bound port and the tail of its stderr. */
export interface Replica {
  name: string;
  child: ChildProcess;
  port: number;
  stderr: string;
  /** Exit codes or signals of earlier incarnations that the test did not kill. */
  crashes: string[];
  killedByTest: boolean;
}

export { freePort } from '../../helpers/ports.js';

/**
 * Starts `pushgate serve --config FILE` (whose `server.listen` is `127.0.0.1:0`) and resolves once it
 * reports its port and /healthz answers; rejects with its stderr when it exits first.
 */
export function startReplica(name: string, configFile: string, env: NodeJS.ProcessEnv = {}, prev?: Replica): Promise<Replica> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), 'serve', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  const r: Replica = { name, child, port: 0, stderr: prev?.stderr ?? '', crashes: prev?.crashes ?? [], killedByTest: false };
  let own = '';
  child.stderr!.on('data', (d) => {
    r.stderr = (r.stderr + String(d)).slice(-30_000);
    if (r.port) return;
    own += String(d);
    const m = /pushgate: serving on \S+ \(port (\d+)\)/.exec(own);
    if (m) r.port = Number(m[1]);
  });
  child.once('exit', (code, sig) => {
    if (!r.killedByTest) r.crashes.push(`${name} exited (${code ?? sig}) on its own`);
  });
  return new Promise((resolve, reject) => {
    const t = setInterval(async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        clearInterval(t);
        reject(new Error(`${name}: pushgate serve exited: ${r.stderr}`));
        return;
      }
      if (!r.port) return;
      try {
        if ((await fetch(`http://127.0.0.1:${r.port}/healthz`)).ok) {
          clearInterval(t);
          resolve(r);
        }
      } catch {
        // not up yet
      }
    }, 50);
  });
}

/** SIGKILLs a replica and waits for it to be gone. */
export async function killReplica(r: Replica): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  r.killedByTest = true;
  const gone = new Promise((res) => r.child.once('exit', res));
  r.child.kill('SIGKILL');
  await gone;
}

/** Stops a replica with SIGTERM (its clean shutdown), SIGKILL after 10 s. */
export async function stopReplica(r: Replica): Promise<void> {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  r.killedByTest = true;
  const gone = new Promise((res) => r.child.once('exit', res));
  r.child.kill('SIGTERM');
  const t = setTimeout(() => r.child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(t);
}

/** The Service in front of the replicas (see the module comment). */
export class Balancer {
  private server: http.Server | undefined;
  private next = 0;
  /** Replicas that receive requests (the Service's ready endpoints). */
  readonly endpoints: Replica[] = [];
  /** Requests answered by each replica's name, and requests that failed in flight. */
  readonly served = new Map<string, number>();
  failed = 0;
  /** Answers other than 2xx, by status (the registry delivers those notifications again). */
  readonly statuses = new Map<number, number>();
  port = 0;

  async start(): Promise<number> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const live = this.endpoints.filter((e) => e.child.exitCode === null && e.child.signalCode === null && !e.killedByTest);
        if (!live.length) {
          this.failed++;
          res.writeHead(503).end('no endpoints');
          return;
        }
        const to = live[this.next++ % live.length];
        const up = http.request({ host: '127.0.0.1', port: to.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
          const code = ur.statusCode ?? 502;
          if (code >= 300) this.statuses.set(code, (this.statuses.get(code) ?? 0) + 1);
          res.writeHead(code, ur.headers);
          ur.pipe(res);
          ur.on('end', () => this.served.set(to.name, (this.served.get(to.name) ?? 0) + 1));
        });
        up.on('error', () => {
          this.failed++;
          if (!res.headersSent) res.writeHead(502).end('replica went away');
          else res.destroy();
        });
        up.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Replaces the endpoint of `name` (a restarted replica) or adds it. */
  set(r: Replica): void {
    const i = this.endpoints.findIndex((e) => e.name === r.name);
    if (i >= 0) this.endpoints[i] = r;
    else this.endpoints.push(r);
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/**
 * Ends every server process connected to database `db` (a server-side fault: what clients see when
 * PostgreSQL restarts or fails over). @returns how many connections were ended.
 */
export async function terminateConnections(adminUrl: string, db: string): Promise<number> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const r = await c.query('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db]);
    return r.rows.filter((x: { ok: boolean }) => x.ok).length;
  } finally {
    await c.end();
  }
}

/**
 * Restarts the local PostgreSQL server (the cluster on port 5432, `pg_ctlcluster`): every client sees its
 * connections end and new ones refused until the server is back. Only for runs by hand: other suites sharing
 * the server would fail meanwhile.
 * @returns how many client connections were open just before.
 */
export async function restartPostgres(): Promise<number> {
  const c = new pg.Client({ connectionString: `${process.env.PUSHGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432'}/postgres` });
  await c.connect();
  let open: number;
  try {
    open = Number((await c.query("SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")).rows[0].n);
  } finally {
    await c.end();
  }
  const clusters = execFileSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' }).split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f[2] === '5432');
  if (!clusters.length) throw new Error('no PostgreSQL cluster on port 5432 (pg_lsclusters)');
  execFileSync('pg_ctlcluster', [clusters[0][0], clusters[0][1], 'restart'], { stdio: 'inherit' });
  return open;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same kill schedule. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
