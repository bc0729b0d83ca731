/**
 * A repository whose tag list is longer than pushgate reads (5,000 pages / 500,000 entries, reachable by a
 * pusher who pushes that many tags) was skipped by reconcile as a whole: a blocked image pushed back
 * under its tag with the notification lost stayed pullable, however well pushgate knew the tag. Now the
 * pass walks the tags listed before the bound and the tags the store knows for the repository, and
 * reports the cut (log, metric, audit). Real Distribution (notifying an address where nothing listens:
 * every event is lost), a real `pushgate serve`; the bound lowered to 3 entries for the pass's client
 * (pushing 500,000 tags is not practical), the registry's pages kept at 2 tags.
 */
import { expect } from 'chai';
import type { PushgateConfig } from '../../../src/config/types.js';
import type { Gate } from '../../../src/gate/gate.js';
import { reconcile } from '../../../src/gate/reconcile.js';
import { RegistryClient } from '../../../src/registry/client.js';
import type { RunningServer } from '../../../src/server/serve.js';
import { ensureBlob, imageConfig, imageManifest, labClient, makeLayer, secretLayer, startGateWithLostNotifications, type SilentRegistryGate } from './helpers.js';

const REG_PORT = 16126;
const NOBODY_PORT = 16127;
const TOKEN = 'listing-bound-token-0123456789';
const OCI = 'application/vnd.oci.image.manifest.v1+json';

describe('reconcile: a tag list longer than the listing bound still has its known tags enforced', function () {
  this.timeout(180_000);
  let srv: RunningServer;
  let config: PushgateConfig;

  let lab: SilentRegistryGate | undefined;

  before(async () => {
    lab = await startGateWithLostNotifications({ regPort: REG_PORT, nobodyPort: NOBODY_PORT, token: TOKEN, prefix: 'pushgate-listbound-' });
    ({ srv, config } = lab);
  });

  after(async () => {
    await lab?.stop();
  });

  /** The server's gate, with listings read by a client whose bound is 3 entries (pages of 2). */
  function boundedGate(maxEntries = 3): Gate {
    const small = new RegistryClient({ name: 'lab', url: `http://127.0.0.1:${REG_PORT}`, pageSize: 2, listLimits: { maxEntries } });
    return new Proxy(srv.gate, {
      get(target, prop) {
        if (prop === 'client') return () => small;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  async function pass(gate: Gate): Promise<Awaited<ReturnType<typeof reconcile>>> {
    const r = await reconcile({ config, gate, store: srv.store, registry: 'lab' });
    const deadline = Date.now() + 60_000;
    while ((await srv.store.queueDepth()) > 0) {
      if (Date.now() > deadline) throw new Error('the queue did not drain');
      await new Promise((res) => setTimeout(res, 100));
    }
    return r;
  }

  it('a blocked image pushed back under its tag behind more tags than the bound is enforced again, and the cut is reported', async () => {
    const c = labClient(`http://127.0.0.1:${REG_PORT}`);
    const repo = 'team/app';
    const bad = await secretLayer();
    const badCfg = imageConfig(bad.diffId, 1);
    const badManifest = imageManifest(badCfg, bad.gz);
    const pushBad = async (): Promise<string> => {
      await ensureBlob(c, repo, bad.gz);
      await ensureBlob(c, repo, badCfg);
      return c.putManifest(repo, 'prod', badManifest, OCI);
    };
    const digest = await pushBad();
    // First pass: one tag, under the bound; the image is judged and taken off its tag.
    const first = await pass(boundedGate());
    expect(first.errors).to.deep.equal([]);
    expect((await srv.store.getVerdict('lab', repo, digest))?.decision).to.equal('reject');
    expect(await c.resolve(repo, 'prod'), 'prod after the first pass').to.equal(undefined);

    // The pusher pushes tags that list before `prod` (Distribution lists tags in lexical order), past the bound, then the image back.
    const good = await makeLayer({ 'etc/os-release': 'ID=lab\nVERSION_ID=1\n', 'app/hello.txt': 'hello\n' });
    const goodCfg = imageConfig(good.diffId, 2);
    await ensureBlob(c, repo, good.gz);
    await ensureBlob(c, repo, goodCfg);
    for (const t of ['a1', 'a2', 'a3', 'a4', 'a5']) await c.putManifest(repo, t, imageManifest(goodCfg, good.gz), OCI);
    expect(await pushBad()).to.equal(digest);
    expect((await c.resolve(repo, 'prod'))?.digest).to.equal(digest);

    const second = await pass(boundedGate());
    expect(second.errors, 'the cut repository is no error (a later pass cannot read past the bound either)').to.deep.equal([]);
    // Distribution 2.8 answers the tag list in one page whatever `n` asks (3.x pages it): the bound is
    // met on the first page (nothing read before it) or on the second (the first page's 2 tags).
    const cut = second.truncated ?? [];
    expect(cut.map((t) => ({ ...t, read: undefined }))).to.deep.equal([{ registry: 'lab', repository: repo, limit: 'maxEntries', read: undefined, known: 1 }]);
    expect(cut[0]!.read).to.be.oneOf([0, 2]);
    expect(second.queued, 'the tags listed before the bound, and prod known from the store').to.equal(cut[0]!.read + 1);
    expect(await c.resolve(repo, 'prod'), 'prod after the second pass').to.equal(undefined);
    const audit = await srv.store.listAudit(10, { action: 'listing-truncated' });
    expect(audit.map((a) => [a.registry, a.repository, (a.detail as { listing?: string }).listing])).to.deep.equal([['lab', repo, 'tags']]);

    // A catalog longer than the bound (bound 1; team/app and another repository, `team/aaa`, listed
    // first): the repositories the store knows are walked, and the image pushed back once more is
    // enforced again.
    await ensureBlob(c, 'team/aaa', good.gz);
    await ensureBlob(c, 'team/aaa', goodCfg);
    await c.putManifest('team/aaa', 'v1', imageManifest(goodCfg, good.gz), OCI);
    expect(await pushBad()).to.equal(digest);
    const third = await pass(boundedGate(1));
    expect(third.errors).to.deep.equal([]);
    expect((third.truncated ?? []).map((t) => `${t.repository ?? '(catalog)'} ${t.limit}`)).to.include.members(['(catalog) maxEntries', `${repo} maxEntries`]);
    expect(await c.resolve(repo, 'prod'), 'prod after the third pass').to.equal(undefined);
  });
});
