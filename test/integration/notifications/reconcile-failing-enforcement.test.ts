/**
 * A tag on a blocked digest whose enforcement keeps failing (the registry refuses the delete) is found
 * by every reconcile pass, and each processing of it stores a verdict with a new evaluation time, from
 * which the pass derived a new event id: every pass queued one more event for the same image while the
 * earlier ones were still live (retried, then parked and resumed together with a fresh budget on each
 * later pass), so live events, registry requests and work grew with every pass without bound. Real
 * Distribution 2.8 behind an in-process front that refuses DELETE (500), notifications lost, a real
 * `pushgate serve` and its store.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { defaultConfig } from '../../../src/config/load.js';
import type { PushgateConfig, RegistryConfig } from '../../../src/config/types.js';
import { reconcile, retryUnfinished } from '../../../src/gate/reconcile.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { ROOT } from '../../helpers/lab.js';
import { ensureBlob, imageConfig, imageManifest, labClient, makeLayer, registryOn, secretLayer } from './helpers.js';

const REG_PORT = 16124;
const FRONT_PORT = 16125;
const NOBODY_PORT = 16126; // where the registry sends its notifications: nothing listens
const TOKEN = 'failing-enforce-webhook-token-0123456789';
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const OCI = 'application/vnd.oci.image.manifest.v1+json';

describe('reconcile: a blocked tag whose enforcement keeps failing is queued once, not once more per pass', function () {
  this.timeout(180_000);
  let dir: string;
  let srv: RunningServer;
  let config: PushgateConfig;
  let storage: string;
  let front: http.Server;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-failing-enforce-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    // Everything goes through to the registry but DELETE, which fails as a registry whose storage errs does.
    front = http.createServer((req, res) => {
      if (req.method === 'DELETE') {
        req.resume();
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNKNOWN","message":"storage error"}]}');
        return;
      }
      const up = http.request({ host: '127.0.0.1', port: REG_PORT, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    front.listen(FRONT_PORT, '127.0.0.1');
    await once(front, 'listening');
    config = defaultConfig();
    config.server.listen = '127.0.0.1:0';
    config.store.url = `sqlite:${path.join(dir, 'pushgate.db')}`;
    config.vulndb.path = path.join(dir, 'vulndb.sqlite');
    config.reconcile = { intervalMs: 0 };
    // One attempt, then the event is parked (blocked on its registry), as after a spent retry budget.
    config.queue = { ...config.queue!, maxAttempts: 1 };
    const rc: RegistryConfig = { name: 'lab', url: `http://127.0.0.1:${FRONT_PORT}`, type: 'distribution', insecure: false, webhook: { token: TOKEN }, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 8, timeoutMs: 5_000 };
    config.registries = [rc];
    srv = await startServer(config, silent);
    storage = path.join(dir, 'reg');
    registryOn('start', storage, REG_PORT, ['--notify-url', `http://127.0.0.1:${NOBODY_PORT}/webhooks/distribution`, '--notify-header', `Authorization: Bearer ${TOKEN}`]);
  });

  after(async () => {
    registryOn('stop', storage, REG_PORT);
    await srv?.close();
    front?.closeAllConnections();
    front?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Waits until the workers are idle: nothing running and the queue depth unchanged for a second (an
   * event held behind a parked one of its tag stays queued).
   */
  async function settle(): Promise<void> {
    const deadline = Date.now() + 60_000;
    let last = -1;
    let stableSince = Date.now();
    for (;;) {
      const c = await srv.store.queueCounts();
      const depth = c.queued + c.running;
      if (depth !== last || c.running > 0) { last = depth; stableSince = Date.now(); }
      if (depth === 0 || Date.now() - stableSince >= 1000) return;
      if (Date.now() > deadline) throw new Error(`the workers did not settle: ${JSON.stringify(c)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /** One reconcile pass over the registry, then the workers settled; what it queued. */
  async function pass(): Promise<number> {
    const r = await reconcile({ config, gate: srv.gate, store: srv.store, registry: 'lab' });
    expect(r.errors).to.deep.equal([]);
    await settle();
    return r.queued;
  }

  /** Events of the store not done: queued, running or parked. */
  async function live(): Promise<number> {
    const c = await srv.store.queueCounts();
    return c.queued + c.running + c['blocked-on-registry'];
  }

  it('passes and retries over a blocked image that cannot be deleted keep one live event for it; the image stays named as failed', async () => {
    const c = labClient(`http://127.0.0.1:${REG_PORT}`);
    const repo = 'team/app';
    const bad = await secretLayer();
    const badCfg = imageConfig(bad.diffId, 1);
    await ensureBlob(c, repo, bad.gz);
    await ensureBlob(c, repo, badCfg);
    const digest = await c.putManifest(repo, 'v1', imageManifest(badCfg, bad.gz), OCI);
    const good = await makeLayer({ 'etc/os-release': 'ID=lab\nVERSION_ID=1\n', 'app/hello.txt': 'hello\n' });
    const goodCfg = imageConfig(good.diffId, 2);
    await ensureBlob(c, repo, good.gz);
    await ensureBlob(c, repo, goodCfg);
    await c.putManifest(repo, 'clean', imageManifest(goodCfg, good.gz), OCI);

    expect(await pass()).to.equal(2);
    const v = await srv.store.getVerdict('lab', repo, digest);
    expect(v?.decision).to.equal('reject');
    expect(v?.enforcement?.status).to.equal('failed');
    expect(await live()).to.equal(1);
    for (let round = 1; round <= 4; round++) {
      // The scheduled pass and the retry of unfinished verdicts, as serve runs them.
      await pass();
      await retryUnfinished({ gate: srv.gate, store: srv.store, minAgeMs: 0 });
      await settle();
      expect(await live(), `live events after round ${round}: ${JSON.stringify(await srv.store.queueCounts())}`).to.equal(1);
    }
    // Still refused by the registry: the image is named as not enforced, not forgotten.
    expect((await srv.store.getVerdict('lab', repo, digest))?.enforcement?.status).to.equal('failed');
    expect((await c.resolve(repo, 'v1'))?.digest).to.equal(digest);
  });
});
