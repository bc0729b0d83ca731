/**
 * A hold on a blocking digest ends when what held it goes: a warn-mode tag that pointed at the digest
 * moves on, or the warn-mode tagged index that named it moves on or is deleted. The digest was left in
 * the repository only because removing it by digest would have broken what the policy allows; once
 * nothing allowed holds it, it must leave the repository (quarantined by digest) without a policy
 * change, and without a new grace: the grace counted from its first push is long over.
 *
 * Real components: Distribution 2.8 (Debian docker-registry) notifying a real in-process
 * `pushgate serve` (SQLite store in a temp dir, queue workers, enforcement), raw OCI distribution API
 * pushes of generated images (test/helpers/raw-push.ts): `bad` carries an npm package.json of adm-zip
 * 0.4.7 (NSWG-NPM-458, fixable high: quarantine under the default rule set), `good` adm-zip 0.4.9.
 * Policy: the default, with a mapping of repository `t7/**`, tag `rc-*` to mode warn.
 * Ports 24300-24301; grace 2 s.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../src/config/types.js';
import { DEFAULT_POLICY_YAML } from '../../src/policy/index.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { updateDb } from '../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../helpers/gate.js';
import { ROOT, startRegistry, type LabRegistry } from '../helpers/lab.js';
import { makeImage, makeIndex, Raw, sleep } from '../helpers/raw-push.js';

const REG_PORT = 24300;
const API_PORT = 24301;
const TOKEN = 'hold-recheck-token';
const GRACE_MS = 2000;
const RC_WARN = DEFAULT_POLICY_YAML.replace('  mappings: []', '  mappings:\n    - name: release-candidates\n      repository: "t7/**"\n      tag: "rc-*"\n      ruleSet: default\n      mode: warn');

describe('security: a blocking digest held by a warn tag or a tagged index is acted on when the hold ends', function () {
  this.timeout(180_000);
  let dir: string;
  let srv: RunningServer | undefined;
  let reg: LabRegistry;
  let raw: Raw;

  /** Waits for `pred` over the audit records of `repo` (newest first), up to 60 s. */
  async function audited(repo: string, what: string, pred: (a: { action: string; digest?: string; tag?: string }) => boolean): Promise<void> {
    const until = Date.now() + 60_000;
    for (;;) {
      const recs = await srv!.store.listAudit(300, { repository: repo });
      if (recs.some(pred)) return;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}; audit: ${JSON.stringify(recs.slice(0, 12).map((a) => [a.action, a.tag, a.digest?.slice(7, 19)]))}`);
      await sleep(50);
    }
  }
  const judged = (repo: string, digest: string, tag?: string) => audited(repo, `the verdict of ${repo}@${digest} (${tag ?? 'by digest'})`, (a) => a.action.startsWith('verdict:') && a.digest === digest && (a.tag ?? undefined) === tag);

  /** Waits until `repo@digest` is no longer served (404), up to 60 s; @returns whether it went. */
  async function gone(repo: string, digest: string): Promise<boolean> {
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      if ((await raw.served(repo, digest)) === undefined) return true;
      await sleep(200);
    }
    return false;
  }

  /** Pushes a blocking child by digest and a warn-mode holder as `t7/<name>:rc-1`, and waits until the child's grace ended with it held. */
  async function heldChild(repo: string, holder: 'tag' | 'index'): Promise<{ bad: ReturnType<typeof makeImage>; index?: ReturnType<typeof makeIndex> }> {
    const bad = makeImage('bad', `${repo}-bad`);
    await raw.pushBlobs(repo, bad.blobs);
    expect((await raw.putManifest(repo, bad.digest, bad)).status).to.equal(201);
    const index = holder === 'index' ? makeIndex([bad]) : undefined;
    expect((await raw.putManifest(repo, 'rc-1', index ?? bad)).status).to.equal(201);
    // The child's deferred event ends when the grace does: left alone, held by the tag or the index.
    await judged(repo, bad.digest);
    const v = await srv!.store.getVerdict('lab', repo, bad.digest);
    expect(srv!.gate.viewFor(v!).decision, 'the child blocks by digest (no tag: the default mapping, enforce)').to.equal('quarantine');
    expect(v?.enforcement?.status, JSON.stringify(v?.enforcement)).to.equal('skipped');
    expect(v?.enforcement?.detail).to.contain(holder === 'tag' ? 'tag rc-1 points at it' : `${repo}:rc-1`);
    expect(await raw.served(repo, bad.digest), 'held while the warn-mode holder points at it').to.equal(bad.digest);
    return { bad, index };
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-holdrecheck-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv/npm')] });
    fs.writeFileSync(path.join(dir, 'policy.yaml'), RC_WARN);
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.server.listen = `127.0.0.1:${API_PORT}`;
    config.policy = path.join(dir, 'policy.yaml');
    config.enforcement = { untaggedGraceMs: GRACE_MS };
    srv = await startServer(config, silentLogger, { policyWatchMs: 3_600_000 });
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${API_PORT}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}`, env: { NOTIFY_IGNORE_ACTIONS: 'pull' } });
    raw = new Raw(reg.host);
  });

  after(async () => {
    reg?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the warn tag moves to another image: the digest it left is quarantined, with no new grace and no policy change', async () => {
    const repo = 't7/app';
    const { bad } = await heldChild(repo, 'tag');
    const revision = srv!.gate.currentPolicy.revision;
    const since = (await srv!.store.listAudit(1))[0]?.seq ?? 0;
    const good = makeImage('good', `${repo}-good`);
    await raw.pushBlobs(repo, good.blobs);
    expect((await raw.putManifest(repo, 'rc-1', good)).status).to.equal(201);
    expect(await gone(repo, bad.digest), `${repo}@${bad.digest} still pullable after rc-1 moved on: ${JSON.stringify((await srv!.store.getVerdict('lab', repo, bad.digest))?.enforcement)}`).to.equal(true);
    expect(await raw.served(`quarantine/${repo}`, bad.digest), 'quarantined by digest').to.equal(bad.digest);
    expect(await raw.served(repo, 'rc-1'), 'the tag stays on the image it moved to').to.equal(good.digest);
    expect(srv!.gate.currentPolicy.revision, 'no policy change was needed').to.equal(revision);
    const recs = await srv!.store.listAudit(300, { repository: repo });
    expect(recs.filter((a) => a.action === 'enforcement-deferred' && a.digest === bad.digest && a.seq > since), 'no new grace for the re-check').to.deep.equal([]);
    const v = await srv!.store.getVerdict('lab', repo, bad.digest);
    expect(v?.enforcement?.action).to.equal('quarantine');
    expect(v?.enforcement?.status).to.equal('done');
  });

  it('the tag of a warn-mode index moves to another image: the index and its blocking child leave the repository', async () => {
    const repo = 't7/idx';
    const { bad, index } = await heldChild(repo, 'index');
    expect(await raw.served(repo, 'rc-1')).to.equal(index!.digest);
    const good = makeImage('good', `${repo}-good`);
    await raw.pushBlobs(repo, good.blobs);
    expect((await raw.putManifest(repo, 'rc-1', good)).status).to.equal(201);
    expect(await gone(repo, bad.digest), `${repo}@${bad.digest} (the child) still pullable after the index's tag moved on`).to.equal(true);
    expect(await gone(repo, index!.digest), `${repo}@${index!.digest} (the index, blocking by digest) still pullable`).to.equal(true);
    expect(await raw.served(repo, 'rc-1')).to.equal(good.digest);
  });

  it('a warn-mode tagged index is deleted by digest: its blocking child leaves the repository', async () => {
    const repo = 't7/del';
    const { bad, index } = await heldChild(repo, 'index');
    const del = await fetch(`http://${raw.host}/v2/${repo}/manifests/${index!.digest}`, { method: 'DELETE' });
    expect(del.status, 'the registry deletes the index').to.equal(202);
    expect(await gone(repo, bad.digest), `${repo}@${bad.digest} (the child) still pullable after its index was deleted`).to.equal(true);
    expect(await raw.served(`quarantine/${repo}`, bad.digest), 'quarantined by digest').to.equal(bad.digest);
  });
});
