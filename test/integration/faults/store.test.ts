/**
 * The queue survives its store, with real components: `pushgate serve` as a child process, a real
 * Distribution 2.8 registry, real skopeo pushes of small generated images, and real store faults while
 * events are queued and being worked on:
 * - SQLite on a real tmpfs filled to the last byte (SQLITE_FULL on every write that grows the
 *   write-ahead log), then given space again;
 * - PostgreSQL (127.0.0.1:5432) made read-only for new sessions (`ALTER DATABASE … SET
 *   default_transaction_read_only`) with every pushgate connection ended (`pg_terminate_backend`, as a
 *   restart does), then writable again and the connections ended once more.
 * The events are queued while the registry is stopped (so they wait in the queue), the fault is put in,
 * the registry started: every worker call now fails in the store. The process stays up (no unhandled
 * rejection), `/healthz` answers, `pushgate_store_errors_total` counts the failures, and once the
 * store is back the work finishes: bad images quarantined, good ones left in place.
 * Ports 21810-21811 (SQLite) and 21820-21821 (PostgreSQL).
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { updateDb } from '../../../src/vulndb/index.js';
import { metricValue, serveChild } from '../../helpers/gate.js';
import { ROOT, skopeoCopyAsync } from '../../helpers/lab.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { FAULTS_POLICY, registryOn, tagDigest, tinyImage, until } from './helpers.js';

const TOKEN = 'faults-store-webhook-token-0123456789';
const API = 'faults-store-api-token';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Fault {
  /** The store URL pushgate uses. */
  url: string;
  inject(): Promise<void>;
  heal(): Promise<void>;
  cleanup(): Promise<void>;
}

function scenario(name: string, ports: { reg: number; gate: number }, makeFault: (dir: string) => Promise<Fault>) {
  describe(`faults: ${name}`, function () {
    this.timeout(180_000);
    let dir: string;
    let storage: string;
    let child: ChildProcess | undefined;
    let fault: Fault;
    let stderr = '';
    let exited: number | string | null = null;
    const reg = `http://127.0.0.1:${ports.reg}`;
    const figures: Record<string, number> = {};

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-faults-store-'));
      storage = path.join(dir, 'registry');
      await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
      fault = await makeFault(dir);
      fs.writeFileSync(path.join(dir, 'policy.yaml'), FAULTS_POLICY);
      fs.writeFileSync(
        path.join(dir, 'pushgate.yaml'),
        [
          'server:',
          `  listen: 127.0.0.1:${ports.gate}`,
          'log:',
          '  level: warn',
          'store:',
          `  url: ${fault.url}`,
          'vulndb:',
          `  path: ${dir}/vulndb.sqlite`,
          '  sources: []',
          'scan:',
          '  workers: 2',
          `  tmpDir: ${dir}/tmp`,
          'queue:',
          '  maxAttempts: 50',
          'api:',
          `  tokens: [${API}]`,
          `policy: ${dir}/policy.yaml`,
          'registries:',
          '  - name: lab',
          `    url: ${reg}`,
          '    type: distribution',
          '    timeout: 3s',
          '    webhook:',
          `      token: ${TOKEN}`,
          '',
        ].join('\n'),
      );
      registryOn('start', storage, ports.reg);
    });

    after(async () => {
      child?.kill('SIGKILL');
      try {
        registryOn('stop', storage, ports.reg);
      } catch {
        // not running
      }
      await fault?.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
      if (Object.keys(figures).length) process.stdout.write(`      figures: ${JSON.stringify(figures)}\n`);
    });

    it('store errors while events are worked on: the server stays up, counts them, and finishes the work when the store is back', async () => {
      // Four pushes (two with a private key), their notifications held back: the registry is then stopped.
      const pushed: Array<{ repo: string; digest: string; bad: boolean }> = [];
      for (const [i, bad] of [true, false, true, false].entries()) {
        const img = tinyImage(dir, `s${i}`, { n: 5000 + i, secret: bad });
        const repo = `team/store${i}`;
        const r = await skopeoCopyAsync(img.ref, `127.0.0.1:${ports.reg}/${repo}:v1`);
        expect(r.code, r.stderr).to.equal(0);
        pushed.push({ repo, digest: img.digest, bad });
      }
      registryOn('stop', storage, ports.reg);
      child = await serveChild(path.join(dir, 'pushgate.yaml'), ports.gate, {}, (d) => (stderr = (stderr + d).slice(-200_000)));
      child.once('exit', (code, signal) => (exited = code ?? signal));
      // What the registry sends for those pushes (its own notifications were not configured).
      const envelope = {
        events: pushed.map((p, i) => ({
          id: `store-fault-${name}-${i}`,
          timestamp: new Date().toISOString(),
          action: 'push',
          target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: p.digest, size: 500, repository: p.repo, url: `${reg}/v2/${p.repo}/manifests/${p.digest}`, tag: 'v1' },
          request: { id: `r${i}`, method: 'PUT', useragent: 'skopeo/1.9' },
          actor: { name: 'ci' },
          source: { addr: `127.0.0.1:${ports.reg}` },
        })),
      };
      const r = await fetch(`http://127.0.0.1:${ports.gate}/webhooks/distribution`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' }, body: JSON.stringify(envelope) });
      expect(r.status).to.equal(202);
      await sleep(800); // the workers try, find the registry down, put the events back with a backoff

      await fault.inject();
      const faultAt = Date.now();
      registryOn('start', storage, ports.reg);
      const metrics = async () => (await fetch(`http://127.0.0.1:${ports.gate}/metrics`)).text();
      await until('store errors counted', 30_000, async () => metricValue(await metrics(), 'pushgate_store_errors_total') >= 3);
      await sleep(2000);
      expect(exited, `pushgate serve exited during the fault:\n${stderr.slice(-4000)}`).to.equal(null);
      expect((await fetch(`http://127.0.0.1:${ports.gate}/healthz`)).status).to.equal(200);
      const during = await metrics();
      figures.storeErrorsDuringFault = metricValue(during, 'pushgate_store_errors_total');
      figures.claimErrors = metricValue(during, 'pushgate_store_errors_total', { operation: 'claim' });
      expect(stderr).to.match(/store: \w[\w ]* failed/);
      expect(stderr).to.not.match(/unhandled/i);

      await fault.heal();
      const healedAt = Date.now();
      figures.faultMs = healedAt - faultAt;
      for (const p of pushed) {
        await until(`the verdict of ${p.repo}`, 90_000, async () => {
          const v = await fetch(`http://127.0.0.1:${ports.gate}/api/v1/verdicts?image=127.0.0.1:${ports.reg}/${p.repo}@${p.digest}`, { headers: { authorization: `Bearer ${API}` } });
          if (!v.ok) return undefined;
          const body = (await v.json()) as { decision: string; enforcement?: { status: string } };
          return body.enforcement?.status === 'done' || body.enforcement?.status === 'skipped' ? body : undefined;
        });
      }
      figures.finishedAfterHealMs = Date.now() - healedAt;
      for (const p of pushed) {
        expect(await tagDigest(reg, p.repo, 'v1'), `${p.repo}:v1`).to.equal(p.bad ? undefined : p.digest);
        if (p.bad) expect(await tagDigest(reg, `quarantine/${p.repo}`, 'v1')).to.equal(p.digest);
      }
      expect(exited, `pushgate serve exited:\n${stderr.slice(-4000)}`).to.equal(null);
    });
  });
}

scenario('SQLite store on a full disk (real tmpfs)', { reg: 21810, gate: 21811 }, async (dir) => {
  const mnt = path.join(dir, 'store');
  fs.mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt]);
  const filler = path.join(mnt, 'filler');
  return {
    url: `sqlite:${mnt}/pushgate.db`,
    async inject() {
      // Fill the file system to the last block: the write-ahead log cannot grow, every write fails.
      const fd = fs.openSync(filler, 'w');
      const chunk = Buffer.alloc(64 * 1024);
      try {
        for (;;) fs.writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
      try {
        for (;;) fs.writeSync(fd, Buffer.alloc(512));
      } catch {
        // full
      }
      fs.closeSync(fd);
    },
    async heal() {
      fs.rmSync(filler, { force: true });
    },
    async cleanup() {
      try {
        execFileSync('umount', ['-l', mnt]);
      } catch {
        // not mounted
      }
    },
  };
});

scenario('PostgreSQL read-only and its connections ended (restart-like)', { reg: 21820, gate: 21821 }, async () => {
  const db = await freshDatabase('pushgate_faults');
  const name = new URL(db.url).pathname.slice(1);
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: db.url.replace(`/${name}`, '/postgres') });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  const endSessions = () => admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`);
  return {
    url: db.url,
    async inject() {
      await admin(`ALTER DATABASE ${name} SET default_transaction_read_only = on`);
      await endSessions();
    },
    async heal() {
      await admin(`ALTER DATABASE ${name} SET default_transaction_read_only = off`);
      await endSessions();
    },
    async cleanup() {
      await db.drop();
    },
  };
});
