/**
 * A large notification envelope is accepted in bounded time: an envelope of 10,000 push events
 * (as Distribution writes them) posted to a real `pushgate serve` child is answered 202, on SQLite and on
 * PostgreSQL, with every event durably queued (counted in the store after the child is stopped), well inside
 * a sender's notification timeout. One transaction per envelope (Store.enqueueMany); one per event took 47 s.
 * The figure itself (about 0.3-0.5 s on a quiet machine, the 1 s goal) is printed, not asserted: timings here
 * are noisy, and the assertion only guards the class of bug (a transaction per event), with room for load.
 * The registry the events name is not running: the workers' attempts fail fast and back off, so
 * the figure is the webhook's alone. Ports 22120-22129.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../../src/store/index.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { serveChild } from '../../helpers/gate.js';
import { ROOT } from '../../helpers/lab.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { serveConfig } from './harness.js';

const DEAD_REGISTRY = 22129;
const TOKEN = 'bounds-envelope-token-0123456789';
const EVENTS = 10_000;
/** Far below the 47 s of a transaction per event, far above the ~0.5 s figure: a guard, not a speed target. */
const BUDGET_MS = 8000;

/** A Distribution 2.8 envelope of `n` manifest push events, distinct digests over 100 repositories. */
function envelope(n: number, salt: string): Buffer {
  const events = Array.from({ length: n }, (_, i) => {
    const digest = `sha256:${createHash('sha256').update(`${salt}-${i}`).digest('hex')}`;
    const repository = `load/app${i % 100}`;
    return {
      id: `${salt}-${i}`,
      timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, i % 60)).toISOString(),
      action: 'push',
      target: {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest,
        size: 1234,
        length: 1234,
        repository,
        url: `http://127.0.0.1:${DEAD_REGISTRY}/v2/${repository}/manifests/${digest}`,
        tag: `t${i}`,
      },
      request: { id: `r${i}`, addr: '127.0.0.1:40000', host: `127.0.0.1:${DEAD_REGISTRY}`, method: 'PUT', useragent: 'containers/5.24.1 (github.com/containers/image)' },
      actor: { name: 'ci' },
      source: { addr: 'registry:5000', instanceID: '5a4d8a9c-0000-0000-0000-000000000000' },
    };
  });
  return Buffer.from(JSON.stringify({ events }));
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`bounds: a ${EVENTS.toLocaleString('en')}-event envelope is accepted in ≤ ${BUDGET_MS} ms (${kind})`, function () {
    this.timeout(120_000);
    const port = kind === 'sqlite' ? 22120 : 22121;
    let dir: string;
    let child: ChildProcess | undefined;
    let storeUrl: string;
    let pg: { url: string; drop(): Promise<void> } | undefined;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `pushgate-envelope-${kind}-`));
      await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
      if (kind === 'postgres') {
        pg = await freshDatabase('pushgate_bounds');
        storeUrl = pg.url;
      } else {
        storeUrl = `sqlite:${dir}/pushgate.db`;
      }
      const file = serveConfig({ dir, apiPort: port, registryUrl: `http://127.0.0.1:${DEAD_REGISTRY}`, webhookToken: TOKEN, storeUrl, extra: { bodyLimit: '32MiB', workers: 1 } });
      child = await serveChild(file, port);
    });

    after(async () => {
      if (child && child.exitCode === null) {
        const exited = new Promise((res) => child!.once('exit', res));
        child.kill('SIGTERM');
        await exited;
      }
      await pg?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('answers 202 within the budget with every event accepted, and every event is in the queue', async () => {
      const post = async (body: Buffer) => {
        const t0 = performance.now();
        const r = await fetch(`http://127.0.0.1:${port}/webhooks/distribution`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/vnd.docker.distribution.events.v2+json' }, body });
        const json = (await r.json()) as { accepted?: number };
        return { status: r.status, accepted: json.accepted, ms: performance.now() - t0 };
      };
      // A small envelope first, so the figure is not the first request's warm-up.
      expect((await post(envelope(10, 'warm'))).status).to.equal(202);
      // Three envelopes of distinct events; the median is the figure (2 shared cores: one run can
      // be delayed by other work, a slow route is slow every time).
      const runs: Array<{ status: number; accepted?: number; ms: number }> = [];
      let size = 0;
      for (const salt of ['big', 'big2', 'big3']) {
        const body = envelope(EVENTS, salt);
        size = body.length;
        runs.push(await post(body));
      }
      const median = [...runs].sort((a, b) => a.ms - b.ms)[1]!;
      process.stdout.write(`      ${kind}: ${EVENTS} events (${(size / 1024 / 1024).toFixed(1)} MiB) → ${runs.map((r) => r.status).join('/')}, accepted ${runs.map((r) => r.accepted).join('/')}, in ${runs.map((r) => r.ms.toFixed(0)).join(' / ')} ms (median ${median.ms.toFixed(0)})\n`);
      for (const r of runs) {
        expect(r.status).to.equal(202);
        expect(r.accepted).to.equal(EVENTS);
      }
      expect(median.ms).to.be.below(BUDGET_MS);

      // Nothing lost: the child is stopped and the store read directly.
      const exited = new Promise((res) => child!.once('exit', res));
      child!.kill('SIGTERM');
      await exited;
      const store = await openStore(storeUrl);
      try {
        // Queuing the same events again inserts none: each one is already there (events are keyed by id).
        const again = ['big', 'big2', 'big3'].flatMap((salt) =>
          Array.from({ length: EVENTS }, (_, i) => ({ id: `${salt}-${i}`, source: 'distribution' as const, registry: 'lab', action: 'push' as const, repository: `load/app${i % 100}`, digest: `sha256:${createHash('sha256').update(`${salt}-${i}`).digest('hex')}` })),
        );
        const r2 = await store.enqueueMany(again);
        expect(r2.filter((x) => x.inserted)).to.have.length(0);
      } finally {
        await store.close();
      }
    });
  });
}
