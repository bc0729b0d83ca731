/**
 * A blocked re-push of an existing tag on a real Distribution 2.8 registry, with its push event handled
 * before the registry links the tag (Distribution notifies from ManifestService.Put, before the PUT
 * handler links the tag). Until the link the tag still names the digest it named before, so a wait that
 * ends at "the tag resolves" ends at once: pushgate quarantined the blocked digest, found the tag not on
 * it (restore skipped), and the late link then left the tag on a deleted manifest (never pullable, the
 * restore lost). The wait has to end on the pushed digest.
 *
 * The push is made in two steps, as the registry makes it: the manifest by digest (stored, not linked),
 * then, 800 ms after pushgate stored the event, the tag link written into the registry's filesystem
 * storage as Distribution's tag store writes it (`_manifests/tags/<tag>/current/link` and
 * `index/<alg>/<hex>/link`): a real registry serves it from then on. Real SQLite store. Port 21961.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushEvent } from '../../../src/core/index.js';
import { Gate } from '../../../src/gate/gate.js';
import { compilePolicy } from '../../../src/policy/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { labGateConfig, labRegistryConfig } from '../../helpers/gate.js';
import { startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { makeImage, Raw } from '../../helpers/raw-push.js';
import { FAULTS_POLICY } from '../faults/helpers.js';

const REG_PORT = 21961;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('enforce: a blocked re-push of a tag handled before the registry links it (real registry)', function () {
  this.timeout(120_000);
  let dir: string;
  let reg: LabRegistry;
  let raw: Raw;
  let store: Store;
  let gate: Gate;
  const logger = { debug() {}, info() {}, warn() {}, error() {} };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-repush-'));
    reg = startRegistry(REG_PORT);
    raw = new Raw(reg.host);
    store = await openStore(`sqlite:${path.join(dir, 'store.db')}`);
    gate = new Gate({ config: labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, 't')]), store, policy: compilePolicy(FAULTS_POLICY, 'faults-policy.yaml'), logger });
  });
  after(async () => {
    await store?.close();
    reg?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Links `repository:tag` to `digest` as Distribution's tag store does (storage/tagstore.go Tag). */
  function linkTag(repository: string, tag: string, digest: string): void {
    const tags = path.join(reg.storage, 'docker/registry/v2/repositories', repository, '_manifests/tags', tag);
    const [alg, hex] = digest.split(':');
    for (const p of [path.join(tags, 'index', alg!, hex!, 'link'), path.join(tags, 'current/link')]) {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, digest);
    }
  }

  async function settle(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      await gate.drain();
      const q = await store.queueCounts();
      if (q.queued + q.running === 0) return;
      if (Date.now() > deadline) throw new Error('the queue did not settle');
      await sleep(50);
    }
  }

  it('the blocked digest is quarantined only once the tag names it, and the tag is restored to the allowed digest', async () => {
    const repository = 'team/repush';
    // v1 names an allowed image, judged and recorded as allowed for v1 (the restore target).
    const good = makeImage('good', `good-${Date.now()}`);
    await raw.pushBlobs(repository, good.blobs);
    expect((await raw.putManifest(repository, 'v1', good)).status).to.equal(201);
    await gate.ingest({ id: 'ev-good', source: 'distribution', registry: 'lab', action: 'push', repository, tag: 'v1', digest: good.digest as `sha256:${string}` });
    await settle();
    expect(await raw.served(repository, 'v1')).to.equal(good.digest);

    // The blocked re-push of v1: the manifest is stored, its event arrives, the tag is linked 800 ms later.
    const bad = makeImage('secret', `bad-${Date.now()}`);
    await raw.pushBlobs(repository, bad.blobs);
    expect((await raw.putManifest(repository, bad.digest, bad)).status).to.equal(201);
    const ev: PushEvent = { id: 'ev-bad', source: 'distribution', registry: 'lab', action: 'push', repository, tag: 'v1', digest: bad.digest as `sha256:${string}` };
    await gate.ingest(ev);
    const linked = sleep(800).then(() => linkTag(repository, 'v1', bad.digest));
    await settle();
    await linked;

    const v = await store.getVerdict('lab', repository, ev.digest);
    expect(v?.enforcement?.action, JSON.stringify(v?.enforcement)).to.equal('quarantine');
    expect(v?.enforcement?.status).to.equal('done');
    expect(await raw.served(repository, ev.digest), 'the blocked digest is gone from the repository').to.equal(undefined);
    expect(await raw.served(`quarantine/${repository}`, 'v1')).to.equal(ev.digest);
    // Before: quarantined at once (v1 still named the allowed digest), restore skipped, then the late link
    // left v1 on the deleted manifest: a 404 for every pull of v1.
    expect(await raw.served(repository, 'v1'), 'v1 is restored to the allowed image and stays there').to.equal(good.digest);
  });
});
