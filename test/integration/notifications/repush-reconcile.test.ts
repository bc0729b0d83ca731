/**
 * A blocked image pushed back under its tag after pushgate enforced it, with the push's notification
 * lost (Distribution keeps its delivery queue in memory: a registry restart drops it), must be enforced
 * by the reconcile pass that exists to catch lost notifications. The pass used to count the tag as
 * judged, because the digest's verdict was final and already listed that tag from its first push,
 * so the blocked image stayed pullable under the tag. Real Distribution 2.8 (notifying an address
 * where nothing listens: every event is lost), a real `pushgate serve` and its store.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig } from '../../../src/config/load.js';
import type { PushgateConfig, RegistryConfig } from '../../../src/config/types.js';
import { reconcile } from '../../../src/gate/reconcile.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { ROOT } from '../../helpers/lab.js';
import { ensureBlob, imageConfig, imageManifest, labClient, makeLayer, registryOn, secretLayer } from './helpers.js';

const REG_PORT = 16122;
const NOBODY_PORT = 16123; // where the registry sends its notifications: nothing listens
const TOKEN = 'repush-webhook-token-0123456789';
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const OCI = 'application/vnd.oci.image.manifest.v1+json';

describe('reconcile: a blocked image pushed back under its tag with the notification lost is enforced again', function () {
  this.timeout(180_000);
  let dir: string;
  let srv: RunningServer;
  let config: PushgateConfig;
  let storage: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-repush-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    config = defaultConfig();
    config.server.listen = '127.0.0.1:0';
    config.store.url = `sqlite:${path.join(dir, 'pushgate.db')}`;
    config.vulndb.path = path.join(dir, 'vulndb.sqlite');
    config.reconcile = { intervalMs: 0 };
    const rc: RegistryConfig = { name: 'lab', url: `http://127.0.0.1:${REG_PORT}`, type: 'distribution', insecure: false, webhook: { token: TOKEN }, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 8, timeoutMs: 5_000 };
    config.registries = [rc];
    srv = await startServer(config, silent);
    storage = path.join(dir, 'reg');
    registryOn('start', storage, REG_PORT, ['--notify-url', `http://127.0.0.1:${NOBODY_PORT}/webhooks/distribution`, '--notify-header', `Authorization: Bearer ${TOKEN}`]);
  });

  after(async () => {
    registryOn('stop', storage, REG_PORT);
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** One reconcile pass over the registry, then the queue drained. */
  async function pass(): Promise<number> {
    const r = await reconcile({ config, gate: srv.gate, store: srv.store, registry: 'lab' });
    expect(r.errors).to.deep.equal([]);
    const deadline = Date.now() + 60_000;
    while ((await srv.store.queueDepth()) > 0) {
      if (Date.now() > deadline) throw new Error('the queue did not drain');
      await new Promise((res) => setTimeout(res, 100));
    }
    return r.queued;
  }

  it('pushed back once, twice, beside a clean tag: each time the pass takes the tag off the blocked digest; the clean tag is left alone', async () => {
    const c = labClient(`http://127.0.0.1:${REG_PORT}`);
    const repo = 'team/app';
    const bad = await secretLayer();
    const badCfg = imageConfig(bad.diffId, 1);
    const badManifest = imageManifest(badCfg, bad.gz);
    const good = await makeLayer({ 'etc/os-release': 'ID=lab\nVERSION_ID=1\n', 'app/hello.txt': 'hello\n' });
    const goodCfg = imageConfig(good.diffId, 2);
    const pushBad = async (): Promise<string> => {
      await ensureBlob(c, repo, bad.gz);
      await ensureBlob(c, repo, badCfg);
      return c.putManifest(repo, 'v1', badManifest, OCI);
    };
    await ensureBlob(c, repo, good.gz);
    await ensureBlob(c, repo, goodCfg);
    await c.putManifest(repo, 'clean', imageManifest(goodCfg, good.gz), OCI);

    const digest = await pushBad();
    expect(await pass()).to.equal(2);
    expect((await srv.store.getVerdict('lab', repo, digest))?.decision).to.equal('reject');
    expect(await c.resolve(repo, 'v1'), 'v1 after the first pass').to.equal(undefined);

    for (const round of [1, 2]) {
      expect(await pushBad()).to.equal(digest);
      expect((await c.resolve(repo, 'v1'))?.digest, `pushed back, round ${round}`).to.equal(digest);
      expect(await pass(), `queued, round ${round}`).to.equal(1);
      expect(await c.resolve(repo, 'v1'), `v1 after round ${round}`).to.equal(undefined);
    }
    // Settled: a further pass queues nothing, and the clean tag was never touched.
    expect(await pass()).to.equal(0);
    expect((await c.resolve(repo, 'clean'))?.digest).to.be.a('string');
  });
});
