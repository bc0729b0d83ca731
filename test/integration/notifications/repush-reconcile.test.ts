/**
 * A blocked image pushed back under its tag after pushgate enforced it, with the push's notification
 * lost (Distribution keeps its delivery queue in memory: a registry restart drops it), must be enforced
 * by the reconcile pass that exists to catch lost notifications. The pass used to count the tag as
 * judged, because the digest's verdict was final and already listed that tag from its first push,
 * so the blocked image stayed pullable under the tag. Real Distribution 2.8 (notifying an address
 * where nothing listens: every event is lost), a real `pushgate serve` and its store.
 */
import { expect } from 'chai';
import type { PushgateConfig } from '../../../src/config/types.js';
import { reconcile } from '../../../src/gate/reconcile.js';
import type { RunningServer } from '../../../src/server/serve.js';
import { ensureBlob, imageConfig, imageManifest, labClient, makeLayer, secretLayer, startGateWithLostNotifications, type SilentRegistryGate } from './helpers.js';

const REG_PORT = 16122;
const NOBODY_PORT = 16123; // where the registry sends its notifications: nothing listens
const TOKEN = 'repush-webhook-token-0123456789';
const OCI = 'application/vnd.oci.image.manifest.v1+json';

describe('reconcile: a blocked image pushed back under its tag with the notification lost is enforced again', function () {
  this.timeout(180_000);
  let srv: RunningServer;
  let config: PushgateConfig;

  let lab: SilentRegistryGate | undefined;

  before(async () => {
    lab = await startGateWithLostNotifications({ regPort: REG_PORT, nobodyPort: NOBODY_PORT, token: TOKEN, prefix: 'pushgate-repush-' });
    ({ srv, config } = lab);
  });

  after(async () => {
    await lab?.stop();
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
