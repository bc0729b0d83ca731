/**
 * A blocking manifest pushed by digest is left in the repository while an allowed tagged index names it
 * (removing it would break the index); when that index is deleted by digest, the manifest must leave the
 * repository too. What the index named was read from its stored scan, which is kept only for complete
 * scans, else from the index manifest in the registry: an index whose scan was incomplete (a child with a
 * corrupt layer, a tar cut inside its first entry, a zstd frame of noise, more children than the scan reads)
 * and allowed under a `warn` mapping held its blocking child, and once a pusher deleted the index by
 * digest the re-check found neither a scan nor a manifest to read: the child stayed pullable by digest
 * for good, never judged again.
 *
 * Real components: Distribution 2.8 (Debian docker-registry) notifying an in-process `pushgate serve`
 * (SQLite store, queue workers, enforcement); raw OCI distribution API pushes (test/helpers/raw-push.ts).
 * Policy: the default, with repository `t9/**` tag `rc-*` mapped to mode warn. Grace 1.5 s.
 * A fast-check property generates how the index is incomplete (or complete, the control), the media
 * type of the blocking child and whether the index carries its tag when deleted.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../src/config/types.js';
import { DEFAULT_POLICY_YAML } from '../../src/policy/index.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { updateDb } from '../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../helpers/gate.js';
import { ROOT, startRegistry, type LabRegistry } from '../helpers/lab.js';
import { freePort } from '../helpers/ports.js';
import { DOCKER_MANIFEST, makeImage, makeIndex, OCI_MANIFEST, Raw, sha, sleep, type Image } from '../helpers/raw-push.js';

const TOKEN = 'hold-incomplete-index-token';
const GRACE_MS = 1500;
const RC_WARN = DEFAULT_POLICY_YAML.replace('  mappings: []', '  mappings:\n    - name: release-candidates\n      repository: "t9/**"\n      tag: "rc-*"\n      ruleSet: default\n      mode: warn');

/** How the index's second child makes its scan incomplete; `none`: a clean child (complete scan, the control). */
type Flaw = 'none' | 'corrupt-layer' | 'truncated-tar' | 'corrupt-zstd' | 'too-many-children';

/** `scan.limits.manifestsPerIndex` here: an index of more children is incomplete with none of them read. */
const MAX_INDEX_MANIFESTS = 2;

/** A ustar header announcing 4 KiB of data that never comes: the tar ends inside its first entry. */
function tarHeaderOnly(nonce: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(`app/${nonce.slice(-40)}`, 0, 'ascii');
  h.write('0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  h.write('00000010000\0', 124, 'ascii');
  h.write('00000000000\0', 136, 'ascii');
  h.write('0', 156, 'ascii');
  h.write('ustar\0' + '00', 257, 'ascii');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return Buffer.concat([h, Buffer.from('partial')]);
}

/** A one-layer image whose layer the scan cannot read as `flaw` says (the registry accepts each). */
function flawedImage(flaw: Exclude<Flaw, 'none' | 'too-many-children'>, nonce: string): Image {
  const layer =
    flaw === 'corrupt-layer'
      ? Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), crypto.randomBytes(64)])
      : flaw === 'truncated-tar'
        ? tarHeaderOnly(nonce)
        : Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), crypto.randomBytes(64)]);
  const config = Buffer.from(JSON.stringify({ architecture: 'arm64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(layer)] }, nonce }));
  const desc: Record<string, unknown> = { mediaType: flaw === 'truncated-tar' ? 'application/vnd.oci.image.layer.v1.tar' : 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length };
  if (flaw === 'corrupt-zstd') desc.mediaType = 'application/vnd.oci.image.layer.v1.tar+zstd';
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [desc] }));
  return { kind: 'good', digest: sha(bytes), bytes, mediaType: OCI_MANIFEST, blobs: [config, layer] };
}

describe('security: a blocking digest held by an allowed tagged index leaves when the index is deleted, whatever its scan was', function () {
  this.timeout(600_000);
  let dir: string;
  let srv: RunningServer | undefined;
  let reg: LabRegistry;
  let raw: Raw;
  let n = 0;

  async function auditedAction(repo: string, digest: string, pred: (a: { action: string; digest?: string }) => boolean, what: string): Promise<void> {
    const until = Date.now() + 60_000;
    for (;;) {
      const recs = await srv!.store.listAudit(300, { repository: repo });
      if (recs.some((a) => a.digest === digest && pred(a))) return;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}; audit: ${JSON.stringify(recs.slice(0, 12).map((a) => [a.action, a.tag, a.digest?.slice(7, 19)]))}`);
      await sleep(50);
    }
  }

  async function gone(repo: string, digest: string, ms = 30_000): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if ((await raw.served(repo, digest)) === undefined) return true;
      await sleep(200);
    }
    return false;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-holdincomplete-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv/npm')] });
    fs.writeFileSync(path.join(dir, 'policy.yaml'), RC_WARN);
    const regPort = await freePort();
    const apiPort = await freePort();
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', regPort, TOKEN)]);
    config.server.listen = `127.0.0.1:${apiPort}`;
    config.policy = path.join(dir, 'policy.yaml');
    config.enforcement = { untaggedGraceMs: GRACE_MS };
    config.scan.limits = { ...config.scan.limits, maxIndexManifests: MAX_INDEX_MANIFESTS };
    srv = await startServer(config, silentLogger, { policyWatchMs: 3_600_000 });
    reg = startRegistry(regPort, { notifyUrl: `http://127.0.0.1:${apiPort}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}`, env: { NOTIFY_IGNORE_ACTIONS: 'pull' } });
    raw = new Raw(reg.host);
  });

  after(async () => {
    reg?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Pushes a blocking child by digest, a second child flawed as `flaw`, and an index of both tagged
   * `rc-1` (warn); waits until the child's grace ended with it held by the index; deletes the index by
   * digest (after moving its tag away when `untagFirst`) and says whether the child left the repository.
   */
  async function scenario(flaw: Flaw, childType: string, untagFirst: boolean): Promise<void> {
    const repo = `t9/app${++n}`;
    const bad = makeImage('bad', `${repo}-bad-${crypto.randomUUID()}`, childType);
    const clean = () => makeImage('good', `${repo}-good-${crypto.randomUUID()}`);
    // Past the index limit the scan reads none of the children, so its report names none of them.
    const others = flaw === 'none' ? [clean()] : flaw === 'too-many-children' ? Array.from({ length: MAX_INDEX_MANIFESTS }, clean) : [flawedImage(flaw, `${repo}-${crypto.randomUUID()}`)];
    for (const img of [bad, ...others]) {
      await raw.pushBlobs(repo, img.blobs);
      expect((await raw.putManifest(repo, img.digest, img)).status, `PUT ${img.digest}`).to.equal(201);
    }
    const index = makeIndex([bad, ...others]);
    expect((await raw.putManifest(repo, 'rc-1', index)).status).to.equal(201);
    await auditedAction(repo, bad.digest, (a) => a.action.startsWith('verdict:'), `the verdict of ${repo}@${bad.digest}`);
    const v = await srv!.store.getVerdict('lab', repo, bad.digest);
    expect(srv!.gate.viewFor(v!).decision, 'the child blocks by digest').to.equal('quarantine');
    if (flaw === 'too-many-children') {
      // The index's judgement read none of its children: it vouches for none, so it holds none.
      expect(v?.enforcement?.action, JSON.stringify(v?.enforcement)).to.equal('quarantine');
    } else {
      expect(v?.enforcement?.status, JSON.stringify(v?.enforcement)).to.equal('skipped');
      expect(v?.enforcement?.detail).to.contain(`${repo}:rc-1`);
    }
    const iv = await srv!.store.getVerdict('lab', repo, index.digest);
    expect(iv?.complete, `the index's scan is ${flaw === 'none' ? 'complete' : 'incomplete'}`).to.equal(flaw === 'none');
    if (untagFirst) {
      // The tag goes to a clean image first; the index (blocking by digest, incomplete or not) may then be removed by pushgate itself.
      const good = makeImage('good', `${repo}-next-${crypto.randomUUID()}`);
      await raw.pushBlobs(repo, good.blobs);
      expect((await raw.putManifest(repo, 'rc-1', good)).status).to.equal(201);
    }
    const del = await fetch(`http://${raw.host}/v2/${repo}/manifests/${index.digest}`, { method: 'DELETE' });
    await del.arrayBuffer();
    expect([202, 404], 'the registry deletes the index (or pushgate did already)').to.include(del.status);
    expect(await gone(repo, bad.digest), `${repo}@${bad.digest} (blocking) still pullable after the index that held it was deleted (flaw ${flaw}, ${childType}); enforcement: ${JSON.stringify((await srv!.store.getVerdict('lab', repo, bad.digest))?.enforcement)}`).to.equal(true);
  }

  it('an incomplete warn-mode index deleted by digest: its blocking child leaves the repository', async () => {
    await scenario('corrupt-layer', OCI_MANIFEST, false);
  });

  it('an index past scan.limits.manifestsPerIndex (none of its children read) holds none of them: the child leaves when its grace ends', async () => {
    await scenario('too-many-children', OCI_MANIFEST, false);
  });

  it('property: however the index was judged and its tag ended, the held child leaves with it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<Flaw>('none', 'corrupt-layer', 'truncated-tar', 'corrupt-zstd', 'too-many-children'), fc.constantFrom(OCI_MANIFEST, DOCKER_MANIFEST), fc.boolean(), async (flaw, childType, untagFirst) => {
        await scenario(flaw, childType, untagFirst);
      }),
      { numRuns: 8, endOnFailure: true },
    );
  });
});
