/**
 * The webhook routes authenticate the sender before they read the body (real HTTP on
 * 127.0.0.1:16702, a real SQLite store): without the registry's token the answer is 401 whatever
 * the body's size, so an unauthenticated caller learns nothing about the body limit; with the token
 * an oversized or unreadable body is answered 202 and recorded as events lost (a registry retries
 * anything else forever and holds its queue behind it).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Gate } from '../../../src/gate/gate.js';
import { Metrics } from '../../../src/metrics/index.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { createApp } from '../../../src/server/app.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../../helpers/gate.js';

const TOKEN = 'webhook-auth-order-token-0123456789';
const PORT = 16702;
const LIMIT = 2048;

describe('server: webhook authentication comes before the body limit', () => {
  let dir: string;
  let store: Store;
  let server: http.Server;
  const base = `http://127.0.0.1:${PORT}`;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-webhook-auth-'));
    const config = labGateConfig(dir, [labRegistryConfig('lab', 5999, TOKEN)]);
    config.server.bodyLimitBytes = LIMIT;
    store = await openStore(config.store.url);
    const gate = new Gate({ config, store, policy: defaultPolicy(), logger: silentLogger });
    server = http.createServer(createApp({ config, gate, store, metrics: new Metrics({ defaultMetrics: false }), logger: silentLogger }));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(PORT, '127.0.0.1', () => resolve());
    });
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const big = JSON.stringify({ events: [], pad: 'x'.repeat(LIMIT * 4) });
  /** A body sent chunked (no Content-Length), so only reading it shows its size. */
  const chunked = () =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 8; i++) c.enqueue(new TextEncoder().encode('x'.repeat(LIMIT)));
        c.close();
      },
    });
  const send = (route: string, auth: string | undefined, body: string | ReadableStream<Uint8Array>, init: Record<string, unknown> = {}) =>
    fetch(`${base}/webhooks/${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, body, ...init });

  for (const route of ['distribution', 'harbor']) {
    it(`${route}: an oversized body without a valid token is 401, not 413 (Content-Length and chunked)`, async () => {
      for (const auth of [undefined, 'Bearer wrong-token', `Basic ${TOKEN}`]) {
        const r = await send(route, auth, big);
        expect(r.status, `${auth}, Content-Length`).to.equal(401);
        expect(((await r.json()) as { error: string }).error).to.match(/bearer token/);
        const c = await send(route, auth, chunked(), { duplex: 'half' });
        expect(c.status, `${auth}, chunked`).to.equal(401);
        await c.body?.cancel();
      }
    });

    it(`${route}: with the registry's token an oversized or unreadable body is 202 and recorded as events lost`, async () => {
      const r = await send(route, `Bearer ${TOKEN}`, big);
      expect(r.status).to.equal(202);
      expect(await r.json()).to.deep.include({ accepted: 0, lost: 'oversized', reconcile: 'registry' });
      const c = await send(route, `Bearer ${TOKEN}`, chunked(), { duplex: 'half' });
      expect(c.status).to.equal(202);
      await c.body?.cancel();
      const bad = await send(route, `Bearer ${TOKEN}`, 'not json');
      expect(bad.status).to.equal(202);
      expect(await bad.json()).to.deep.include({ lost: 'not-json' });
      const lost = await store.listAudit(10, { action: 'events-lost', registry: 'lab' });
      expect(lost.map((a) => a.detail?.reason)).to.include.members(['oversized', 'not-json']);
    });
  }
});
