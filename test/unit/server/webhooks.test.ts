/**
 * The webhook routes of the app (real HTTP on loopback, a real SQLite store, the gate without
 * workers so events stay queued): Harbor payloads as Harbor sends them, whose resource_url has no
 * scheme, are accepted for the registry their token names, whatever host they name; own traffic is
 * only the registry's authenticated actor being pushgate's account, never a User-Agent.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Gate } from '../../../src/gate/gate.js';
import { Metrics } from '../../../src/metrics/index.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { createApp } from '../../../src/server/app.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { labGateConfig, silentLogger } from '../../helpers/gate.js';
import { ROOT } from '../../helpers/lab.js';

const TOKEN = 'harbor-webhook-token-0123456789';

describe('server: webhook routes', () => {
  let dir: string;
  let store: Store;
  let server: http.Server;
  let base: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-webhooks-'));
    const config = labGateConfig(dir, [
      { name: 'harbor', url: 'https://harbor.example.test', type: 'harbor', insecure: false, auth: { username: 'pushgate-bot', password: 'pw' }, webhook: { token: TOKEN }, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 4, timeoutMs: 10_000 },
    ]);
    store = await openStore(config.store.url);
    const gate = new Gate({ config, store, policy: defaultPolicy(), logger: silentLogger });
    server = http.createServer(createApp({ config, gate, store, metrics: new Metrics({ defaultMetrics: false }), logger: silentLogger }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const post = (body: string, contentType = 'application/json') =>
    fetch(`${base}/webhooks/harbor`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': contentType }, body });

  it('queues a Harbor PUSH_ARTIFACT whose resource_url has no scheme (as Harbor sends it)', async () => {
    const body = fs.readFileSync(path.join(ROOT, 'test/fixtures/webhooks/harbor-push-artifact.json'), 'utf8');
    expect(JSON.parse(body).event_data.resources[0].resource_url).to.not.include('://');
    const r = await post(body);
    expect(r.status).to.equal(202);
    expect(((await r.json()) as { accepted: number }).accepted).to.equal(1);
    expect(await store.queueDepth()).to.equal(1);
    const ce = fs.readFileSync(path.join(ROOT, 'test/fixtures/webhooks/harbor-push-artifact-cloudevents.json'), 'utf8');
    const r2 = await post(ce, 'application/cloudevents+json');
    expect(r2.status).to.equal(202);
  });

  it('queues a Harbor event whose resource_url names another host: the token names the registry', async () => {
    const depth = await store.queueDepth();
    for (const [i, host] of ['other.example.test', 'HARBOR.example.test:443', ''].entries()) {
      // another occur_at per variant, so each is a new event (Harbor's ids derive from it)
      const body = fs.readFileSync(path.join(ROOT, 'test/fixtures/webhooks/harbor-push-artifact.json'), 'utf8').replaceAll('harbor.example.test/', host ? `${host}/` : '').replace('1773067466', String(1773067466 + 100 + i));
      const r = await post(body);
      expect(r.status).to.equal(202);
      expect(((await r.json()) as { accepted: number; ignored: number }), host).to.include({ accepted: 1, ignored: 0 });
    }
    expect(await store.queueDepth()).to.equal(depth + 3);
  });

  const distribution = (id: string, extra: Record<string, unknown>) => JSON.stringify({ events: [{ id, timestamp: new Date().toISOString(), action: 'push',
    target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'e'.repeat(64)}`, size: 10, repository: 'team/app', tag: id, url: `http://elsewhere.example.test/v2/team/app/manifests/sha256:${'e'.repeat(64)}` },
    source: {}, ...extra }] });
  const postDistribution = (body: string) => fetch(`${base}/webhooks/distribution`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body });

  it('own traffic is the registry-authenticated actor that is pushgate\'s account; a pushgate/ User-Agent, Host or X-Forwarded-Host is not', async () => {
    const judged: Array<[string, Record<string, unknown>]> = [
      ['ua', { request: { id: 'r', method: 'PUT', useragent: 'pushgate/1.0.0', host: 'harbor.example.test' }, actor: { name: 'mallory' } }],
      ['ua-noactor', { request: { id: 'r', method: 'PUT', useragent: 'pushgate/0.0.0 (own traffic)' }, actor: {} }],
      ['actor-case', { request: { id: 'r', method: 'PUT', useragent: 'skopeo' }, actor: { name: 'Pushgate-Bot' } }],
      ['actor-prefix', { request: { id: 'r', method: 'PUT', useragent: 'skopeo' }, actor: { name: 'pushgate-bot2' } }],
    ];
    for (const [id, extra] of judged) {
      const r = await postDistribution(distribution(id, extra));
      expect(((await r.json()) as { accepted: number }), id).to.include({ accepted: 1, ignored: 0 });
    }
    const r = await postDistribution(distribution('own', { request: { id: 'r', method: 'PUT', useragent: 'curl/8' }, actor: { name: 'pushgate-bot' } }));
    expect(((await r.json()) as { accepted: number }), 'own').to.include({ accepted: 0, ignored: 1 });
  });

  it('drops events whose repository or tag no registry accepts (never queued, never retried)', async () => {
    const depth = await store.queueDepth();
    const envelope = (repository: string, tag: string) => JSON.stringify({ events: [{ id: `bad-${repository.length}-${tag}`, timestamp: new Date().toISOString(), action: 'push',
      target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'d'.repeat(64)}`, size: 10, repository, tag },
      request: { id: 'r', method: 'PUT', useragent: 'skopeo' }, actor: {}, source: {} }] });
    for (const [repo, tag] of [['a'.repeat(300), 'v1'], ['Team/App', 'v1'], ['team//app', 'v1']]) {
      const r = await fetch(`${base}/webhooks/distribution`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: envelope(repo, tag) });
      expect(r.status).to.equal(202);
      expect(((await r.json()) as { accepted: number }).accepted, `${repo}:${tag}`).to.equal(0);
    }
    expect(await store.queueDepth()).to.equal(depth);
    // A tag no registry can store beside a good repository and digest: the manifest was stored (Distribution
    // writes it before the tag link), so the digest is queued, without the tag (src/webhooks/distribution.ts).
    const r = await fetch(`${base}/webhooks/distribution`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: envelope('team/app', 'bad tag!!') });
    expect(((await r.json()) as { accepted: number }).accepted).to.equal(1);
    expect(await store.queueDepth()).to.equal(depth + 1);
  });
});
