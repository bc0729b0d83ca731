/**
 * A blocked image's referrers are the pusher's content (on Distribution 2.8 the list of them is the
 * `sha256-<hex>` fallback tag, which anyone who can push writes), so nothing about them may stop or
 * falsify the enforcement of the image itself:
 *  - a referrer whose blob the pusher deleted (`DELETE /v2/<repo>/blobs/<digest>`, allowed wherever
 *    manifest deletes are), or a referrer or fallback index larger than pushgate reads (the client's `maxManifestBytes`), made every
 *    quarantine copy fail: the blocked image stayed under its tag, the event parked as blocked-on-registry
 *    and was resumed and failed again every 5 minutes, for good;
 *  - in a repository whose name holds `delete` (`team/auto-delete`), the same NOT_FOUND was read as
 *    "deleted meanwhile" from the error's words and the enforcement was recorded `done`: no retry, the
 *    image still served.
 * Real components: Distribution 2.8 (Debian docker-registry) with notifications to an in-process
 * `pushgate serve`; raw OCI pushes (helpers/raw-push.ts). The property runs the action on its own against
 * a second registry without notifications. Ports 22976-22977.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../src/config/types.js';
import type { Digest } from '../../src/core/index.js';
import { enforce } from '../../src/enforce/index.js';
import { DEFAULT_POLICY_YAML } from '../../src/policy/index.js';
import { RegistryClient } from '../../src/registry/client.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { updateDb } from '../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../helpers/gate.js';
import { ROOT, startRegistry, type LabRegistry } from '../helpers/lab.js';
import { makeImage, OCI_INDEX, Raw, sha, sleep, type Image } from '../helpers/raw-push.js';

const REG_PORT = 22976;
const PLAIN_PORT = 22977;
const TOKEN = 'referrer-faults-token';
/** The manifest size limit of the action property's client: small, so an oversize referrer is cheap to push. */
const SMALL_LIMIT = 4096;

type Fault = 'none' | 'blob-deleted' | 'oversize';

/** A clean image whose `subject` is `of` (a referrer that is itself an image, so its own push is allowed). */
function referrerOf(of: Pick<Image, 'digest' | 'bytes' | 'mediaType'>, nonce: string, pad = 0): Image {
  const img = makeImage('good', nonce);
  const doc = JSON.parse(img.bytes.toString()) as Record<string, unknown>;
  doc.subject = { mediaType: of.mediaType, digest: of.digest, size: of.bytes.length };
  if (pad) doc.annotations = { 'org.example.pad': 'x'.repeat(pad) };
  const bytes = Buffer.from(JSON.stringify(doc));
  return { ...img, digest: sha(bytes), bytes };
}

function fallbackIndexOf(refs: Array<Pick<Image, 'digest' | 'bytes' | 'mediaType'>>, pad = 0): Pick<Image, 'digest' | 'bytes' | 'mediaType'> {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: refs.map((r) => ({ mediaType: r.mediaType, digest: r.digest, size: r.bytes.length })), ...(pad ? { annotations: { 'org.example.pad': 'x'.repeat(pad) } } : {}) }));
  return { digest: sha(bytes), bytes, mediaType: OCI_INDEX };
}

async function deleteBlob(host: string, repo: string, blob: Buffer): Promise<void> {
  const r = await fetch(`http://${host}/v2/${repo}/blobs/${sha(blob)}`, { method: 'DELETE' });
  await r.arrayBuffer();
  expect(r.status, 'the registry deletes a blob link').to.equal(202);
}

describe('security: a blocked image\'s referrers never keep it served (missing blobs, oversize documents, names that read like a delete)', function () {
  this.timeout(300_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let plain: LabRegistry;
  let raw: Raw;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-referrer-faults-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv/npm')] });
    fs.writeFileSync(path.join(dir, 'policy.yaml'), DEFAULT_POLICY_YAML);
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.policy = path.join(dir, 'policy.yaml');
    srv = await startServer(config, silentLogger, { policyWatchMs: 3_600_000 });
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${srv.port}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}`, env: { NOTIFY_IGNORE_ACTIONS: 'pull' } });
    plain = startRegistry(PLAIN_PORT);
    raw = new Raw(reg.host);
  });

  after(async () => {
    reg?.stop();
    plain?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Waits until the queue is empty and `repo@digest` has a settled enforcement; returns the verdict. */
  async function settled(repo: string, digest: string) {
    const until = Date.now() + 60_000;
    for (;;) {
      const v = await srv.store.getVerdict('lab', repo, digest);
      const counts = await srv.store.queueCounts();
      if (v?.enforcement && v.enforcement.status !== 'pending' && counts.queued === 0 && counts.running === 0) return { v, counts };
      if (Date.now() > until) throw new Error(`no settled enforcement of ${repo}@${digest}: ${JSON.stringify(v?.enforcement)} ${JSON.stringify(counts)}`);
      await sleep(100);
    }
  }

  for (const repo of ['rf/app', 'rf/auto-delete', 'rf/delete']) {
    it(`${repo}: a referrer listed by the fallback tag whose blob the pusher deleted; the violating tag is quarantined, not left served`, async () => {
      const bad = makeImage('bad', `rf-${repo}`);
      const ref = referrerOf(bad, `rf-ref-${repo}`);
      // The referrer and its list first (the subject's digest is known before it is pushed), each judged clean.
      await raw.pushBlobs(repo, ref.blobs);
      expect((await raw.putManifest(repo, ref.digest, ref)).status).to.equal(201);
      expect((await raw.putManifest(repo, `sha256-${bad.digest.slice(7)}`, fallbackIndexOf([ref]))).status).to.equal(201);
      await settledQueue();
      await deleteBlob(reg.host, repo, ref.blobs[1]!);
      await raw.pushBlobs(repo, bad.blobs);
      expect((await raw.putManifest(repo, 'evil', bad)).status).to.equal(201);
      const { v, counts } = await settled(repo, bad.digest);
      expect(v.decision).to.equal('quarantine');
      expect(v.enforcement?.status, JSON.stringify(v.enforcement)).to.equal('done');
      expect(await raw.served(repo, 'evil'), `${repo}:evil serves the quarantined image (${v.enforcement?.detail})`).to.equal(undefined);
      expect(await raw.served(repo, bad.digest), 'by digest').to.equal(undefined);
      expect(await raw.served(`quarantine/${repo}`, 'evil'), 'the quarantine copy').to.equal(bad.digest);
      expect(counts['blocked-on-registry'], 'nothing parked').to.equal(0);
    });
  }

  async function settledQueue(): Promise<void> {
    const until = Date.now() + 60_000;
    await sleep(300);
    for (;;) {
      const c = await srv.store.queueCounts();
      if (c.queued === 0 && c.running === 0) return;
      if (Date.now() > until) throw new Error(`queue not empty: ${JSON.stringify(c)}`);
      await sleep(100);
    }
  }

  it('property: whatever its referrers (missing blobs, oversize, oversize list) and whatever the repository is called, a quarantine or a delete removes the image, and is done only when it did (the action on its own)', async () => {
    const client = new RegistryClient({ name: 'plain', url: plain.url, maxManifestBytes: SMALL_LIMIT });
    const praw = new Raw(plain.host);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('quarantine', 'reject'),
        fc.constantFrom('app', 'delete', 'auto-delete', 'delete/x', 'not-deleted'),
        fc.array(fc.constantFrom<Fault>('none', 'blob-deleted', 'oversize'), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        async (decision, name, faults, oversizeList) => {
          const repo = `rfp${run}/${name}`;
          const nonce = `rfp-${run++}`;
          const bad = makeImage('bad', `${nonce}-bad`);
          await praw.pushBlobs(repo, bad.blobs);
          expect((await praw.putManifest(repo, 'evil', bad)).status).to.equal(201);
          const refs = faults.map((f, i) => referrerOf(bad, `${nonce}-r${i}`, f === 'oversize' ? SMALL_LIMIT : 0));
          for (const r of refs) {
            await praw.pushBlobs(repo, r.blobs);
            expect((await praw.putManifest(repo, r.digest, r)).status).to.equal(201);
          }
          const list = fallbackIndexOf(refs, oversizeList ? SMALL_LIMIT : 0);
          expect((await praw.putManifest(repo, `sha256-${bad.digest.slice(7)}`, list)).status).to.equal(201);
          for (const [i, f] of faults.entries()) if (f === 'blob-deleted') await deleteBlob(plain.host, repo, refs[i]!.blobs[1]!);
          const e = await enforce({ client, type: 'distribution', repository: repo, digest: bad.digest as Digest, tag: 'evil', decision, mode: 'enforce', quarantinePrefix: 'quarantine/' });
          const served = await praw.served(repo, bad.digest);
          expect(served, `${repo}@${bad.digest} still served after ${JSON.stringify(e)}`).to.equal(undefined);
          expect(await praw.served(repo, 'evil'), 'the tag').to.equal(undefined);
          expect(e.status, e.detail).to.equal('done');
          expect(e.detail, 'done because the action did it, not because it read "delete"').to.not.match(/^already gone/);
          if (decision === 'quarantine') expect(await praw.served(`quarantine/${repo}`, 'evil'), 'the quarantine copy').to.equal(bad.digest);
          // A referrer that could be read and copied whole went with the image when the list could be read.
          if (!oversizeList) {
            for (const [i, f] of faults.entries()) {
              if (f !== 'none') continue;
              expect(await praw.served(repo, refs[i]!.digest), 'a sound referrer left behind').to.equal(undefined);
              if (decision === 'quarantine') expect(await praw.served(`quarantine/${repo}`, refs[i]!.digest), 'a sound referrer copied').to.equal(refs[i]!.digest);
            }
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});
