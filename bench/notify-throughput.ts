/**
 * Notification intake benchmark (issue 6). In the same run, with autocannon over keep-alive HTTP on
 * loopback, Distribution 2.8 style (one event per POST, `application/vnd.docker.distribution.events.v1+json`,
 * each with its own event id so every event is really queued):
 *   (1) a bare express handler that reads the body and answers 202 (the baseline);
 *   (2) pushgate's app (src/server/app.ts): sender authenticated, envelope parsed, event durably
 *       queued in the SQLite store (WAL, synchronous=FULL: the 202 only after the event is on disk).
 * Gate workers are not started: this measures acceptance, not scanning. After the run, the number
 * of queued events is checked against the 202s (nothing answered 202 is missing).
 * Goals: (2) ≥ 0.5× (1) and ≥ 2,000 events/s.
 *
 * Usage: npx tsx bench/notify-throughput.ts [seconds=5] [connections=50]
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import express from 'express';
import { defaultConfig } from '../src/config/load.js';
import { Gate } from '../src/gate/gate.js';
import { Metrics } from '../src/metrics/index.js';
import { defaultPolicy } from '../src/policy/index.js';
import { createApp } from '../src/server/app.js';
import { openStore } from '../src/store/index.js';

const seconds = Number(process.argv[2] ?? 5);
const connections = Number(process.argv[3] ?? 50);
const TOKEN = 'bench-webhook-token-0123456789';
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const REG = 'http://127.0.0.1:16190'; // never contacted: workers are not started

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
        request: { id: `r${n}`, addr: '127.0.0.1:1', host: '127.0.0.1:16190', method: 'PUT', useragent: 'docker/24' },
        actor: { name: 'ci' },
        source: { addr: 'registry:5000', instanceID: 'bench' },
      },
    ],
  });
}

async function listen(app: express.Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/webhooks/distribution`,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

async function load(url: string): Promise<autocannon.Result> {
  return autocannon({
    url,
    method: 'POST',
    connections,
    duration: seconds,
    requests: [
      {
        setupRequest: (req) => ({
          ...req,
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' },
          body: envelope(),
        }),
      },
    ],
  });
}

function line(name: string, r: autocannon.Result): string {
  const per = r.requests.total / (r.duration || seconds);
  return `${name.padEnd(28)} events/s ${per.toFixed(0).padStart(6)}  p50 ${r.latency.p50.toFixed(2)} ms  p99 ${r.latency.p99.toFixed(2)} ms  errors ${r.errors + r.timeouts}  non-2xx ${r.non2xx}`;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-notify-'));
  try {
    // (1) baseline: a bare express handler that reads the body and answers 202.
    const bare = express();
    bare.post('/webhooks/distribution', express.raw({ type: () => true, limit: '4mb' }), (_req, res) => {
      res.status(202).json({ accepted: 1 });
    });
    const b = await listen(bare);
    const base = await load(b.url);
    await b.close();

    // (2) pushgate's app with the durable SQLite queue.
    const config = defaultConfig();
    config.store.url = `sqlite:${path.join(dir, 'pushgate.db')}`;
    config.vulndb.path = path.join(dir, 'none.sqlite');
    config.registries = [{ name: 'bench', url: REG, type: 'distribution', insecure: false, webhook: { token: TOKEN }, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 4, timeoutMs: 1000 }];
    const store = await openStore(config.store.url);
    const gate = new Gate({ config, store, policy: defaultPolicy(), logger: silent });
    const app = createApp({ config, gate, store, metrics: new Metrics(), logger: silent });
    const p = await listen(app);
    const pg = await load(p.url);
    await p.close();
    const queued = await store.queueDepth();
    await store.close();

    const perBase = base.requests.total / (base.duration || seconds);
    const perPg = pg.requests.total / (pg.duration || seconds);
    const ratio = perPg / perBase;
    console.log(`notification intake, ${connections} keep-alive connections, ${seconds} s each, one event per POST`);
    console.log(line('bare express 202', base));
    console.log(line('pushgate (SQLite FULL)', pg));
    console.log(`accepted (2xx) ${pg['2xx']}  queued ${queued}  ${queued >= pg['2xx'] ? 'none missing' : 'MISSING EVENTS'}`);
    console.log(`ratio ${ratio.toFixed(2)}× of bare (goal ≥ 0.5×): ${ratio >= 0.5 ? 'ok' : 'MISSED'}; ${perPg.toFixed(0)} events/s (goal ≥ 2000): ${perPg >= 2000 ? 'ok' : 'MISSED'}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
