/**
 * Day one against a real Distribution 2.8 (notifications with includereferences: true, as the
 * README recommends) and the real pushgate serve in-process, loopback ports 22000-22002:
 * - a manifest of 20,000 identical tiny layers makes the registry send an envelope over pushgate's
 *   body limit; pushgate answers 202, records the lost events, reconciles that repository, and the
 *   registry's notification queue keeps moving: a violating push right after it is enforced within
 *   a minute (a 413 made the registry retry the envelope forever with every later event behind it);
 * - the push proxy refuses an index with a refused child, an exception is added, and the same push
 *   goes through (the proxy's memory of refused children follows the policy and new verdicts);
 * - a tag re-pushed with a blocked image and restored by pushgate: the tag's verdict is the restored
 *   digest's, and the blocked digest's verdict no longer lists the tag.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import type { RunningServer } from '../../../src/server/serve.js';
import { startServer } from '../../../src/server/serve.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { labRegistryConfig, metricValue, silentLogger } from '../../helpers/gate.js';
import { startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { labClient, sha } from '../notifications/helpers.js';
import { buildImage, dayoneConfig, OCI_INDEX, pushBuilt, pushImage, pushManyLayers, scratchWithDb, waitFor } from './helpers.js';

const PG_PORT = 22000;
const REG_PORT = 22001;
const PROXY_PORT = 22002;
const TOKEN = 'dayone-notify-token-0123456789';
/** Small enough that the 20,000-layer envelope (about 3.4 MB) is over it. */
const BODY_LIMIT = 1024 * 1024;
const VIEWER = 'dayone-viewer-token-0123456789';

describe('day one: the registry notification queue never stalls; the proxy forgets lifted refusals', function () {
  this.timeout(240_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let pusher: RegistryClient;

  before(async () => {
    dir = await scratchWithDb('dayone-notify');
    const config = dayoneConfig(dir, `127.0.0.1:${PG_PORT}`, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.server.bodyLimitBytes = BODY_LIMIT;
    config.api.tokens = [VIEWER];
    config.proxy = { ...config.proxy, listen: `127.0.0.1:${PROXY_PORT}`, upstream: `http://127.0.0.1:${REG_PORT}`, timeoutMs: 60_000, onTimeout: 'reject', onError: 'reject' };
    srv = await startServer(config, silentLogger, { policyWatchMs: 0 });
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${PG_PORT}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}` });
    pusher = labClient(reg.url);
  });
  after(async () => {
    reg?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('20,000 layers, then a violating push: 202 for the oversized envelope, the violating image enforced within a minute, the queue moving', async () => {
    const t0 = Date.now();
    const huge = await pushManyLayers(pusher, 'team/huge', 'v1', 20_000);
    const bad = await pushImage(pusher, 'team/app', 'v1', { secret: true, n: 1 });
    const v = await waitFor(async () => {
      const x = await srv.store.getVerdict('lab', 'team/app', bad.digest);
      return x?.enforcement?.status === 'done' ? x : undefined;
    }, 'the violating push to be enforced', 60_000);
    expect(Date.now() - t0, 'enforced within a minute of the pushes').to.be.below(60_000);
    expect(v.decision).to.equal('reject');
    expect(await pusher.resolve('team/app', 'v1'), 'the violating tag is not served').to.equal(undefined);

    // The oversized envelope: answered 202, recorded with the repository it named, counted.
    const [lost] = await srv.store.listAudit(5, { action: 'events-lost', registry: 'lab' });
    expect(lost, 'an events-lost audit record').to.not.equal(undefined);
    expect(lost!.detail).to.deep.include({ source: 'distribution', reason: 'oversized', reconcile: 'repositories', repositories: ['team/huge'] });
    expect(lost!.detail!.bytes as number).to.be.greaterThan(BODY_LIMIT);
    expect(metricValue(await srv.metrics.text(), 'pushgate_events_lost_total', { registry: 'lab', reason: 'oversized' })).to.be.at.least(1);
    // ... and its manifest is judged anyway, through the reconcile it triggered.
    const hv = await waitFor(() => srv.store.getVerdict('lab', 'team/huge', huge), 'a verdict for the 20,000-layer manifest', 150_000);
    expect(hv.tags).to.include('v1');

    // Later pushes keep arriving: the registry's queue is not stuck behind the big envelope.
    const later = await pushImage(pusher, 'team/later', 'v1', { secret: false, n: 2 });
    await waitFor(() => srv.store.getVerdict('lab', 'team/later', later.digest), 'a verdict for a later push', 30_000);
  });

  it('proxy: an index with a refused child is refused; after an exception the same push goes through', async () => {
    const viaProxy = new RegistryClient({ name: 'pusher', url: `http://127.0.0.1:${PROXY_PORT}`, userAgent: 'test-pusher/1' });
    const good = await buildImage({ secret: false, n: 10 });
    const bad = await buildImage({ secret: true, n: 11 });
    const idx = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: good.digest, size: good.bytes.length, platform: { os: 'linux', architecture: 'amd64' } },
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: bad.digest, size: bad.bytes.length, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      }),
    );
    /** What `skopeo copy --all` does: every child by digest, then the index by tag. */
    const copyAll = async () => {
      const out: string[] = [];
      for (const img of [good, bad]) out.push(await pushBuilt(viaProxy, 'team/multi', undefined, img).then(() => 'accepted', (e: Error) => e.message));
      out.push(await viaProxy.putManifest('team/multi', '1.0', idx, OCI_INDEX).then(() => 'accepted', (e: Error) => e.message));
      return out;
    };

    const first = await copyAll();
    expect(first[0]).to.equal('accepted');
    expect(first[1], 'the child with a private key is refused at its PUT').to.match(/pushgate refused/);
    expect(first[2], 'and so is the index naming it').to.match(/pushgate refused index .*linux\/arm64/);
    expect(await pusher.resolve('team/multi', '1.0')).to.equal(undefined);

    await srv.control.addException('ops', { name: 'multi-key', reason: 'test key, rotated', owner: 'ops', expires: new Date(Date.now() + 86_400_000).toISOString(), repository: 'team/multi', digest: bad.digest });
    expect(await copyAll(), 'the same copy goes through under the exception').to.deep.equal(['accepted', 'accepted', 'accepted']);
    expect((await pusher.resolve('team/multi', '1.0'))?.digest).to.equal(sha(idx));
  });

  it('verdict tag lists follow the registry: after a blocked re-push is undone, the tag answers with the restored digest', async () => {
    const good = await pushImage(pusher, 'team/moved', 'v1', { secret: false, n: 30 });
    await waitFor(async () => (await srv.store.getVerdict('lab', 'team/moved', good.digest))?.enforcement, 'the allowed push judged', 30_000);
    const bad = await pushImage(pusher, 'team/moved', 'v1', { secret: true, n: 31 });
    const bv = await waitFor(async () => {
      const x = await srv.store.getVerdict('lab', 'team/moved', bad.digest);
      return x?.enforcement?.status === 'done' ? x : undefined;
    }, 'the blocked re-push enforced', 60_000);
    expect(bv.enforcement!.detail).to.match(/restored team\/moved:v1/);
    expect((await pusher.resolve('team/moved', 'v1'))?.digest, 'the registry serves the restored digest').to.equal(good.digest);
    expect((await srv.store.getVerdict('lab', 'team/moved', bad.digest))!.tags).to.not.include('v1');
    expect((await srv.store.getVerdict('lab', 'team/moved', good.digest))!.tags).to.include('v1');
    const r = await fetch(`http://127.0.0.1:${PG_PORT}/api/v1/verdicts?image=${encodeURIComponent(`127.0.0.1:${REG_PORT}/team/moved:v1`)}`, { headers: { authorization: `Bearer ${VIEWER}` } });
    expect(r.status).to.equal(200);
    expect(((await r.json()) as { digest: string }).digest).to.equal(good.digest);
    expect(r.headers.get('x-pushgate-tag-source')).to.equal('registry');
  });
});
