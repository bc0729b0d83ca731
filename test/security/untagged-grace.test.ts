/**
 * The grace of a blocking manifest pushed by digest only (`enforcement.untaggedGrace`). Clients push an
 * index's children by digest before the index; pushgate waits for the grace before it acts on a blocking
 * child, so the index PUT that names it is accepted and the child is judged and quarantined with it. With
 * no index (or an index pushed by digest only, or an index naming it only after the grace), the child
 * leaves the repository when the grace ends; admission denies the digest all along; a pushgate restarted
 * during the grace still acts (the deferred action is a queued event in the store); pushing the same
 * digest again starts no new grace (tested in digest-pushes.test.ts).
 *
 * Real components: Distribution 2.8 (Debian docker-registry) notifying a real in-process `pushgate serve`
 * (SQLite store in a temp dir, queue workers, the admission listener over TLS), raw OCI distribution API
 * pushes of generated images (test/helpers/raw-push.ts). Ports 23000-23003; grace 4 s.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
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
import { postPodReview } from '../helpers/admission-review.js';

const REG_PORT = 23000;
const API_PORT = 23001;
const ADM_PORT = 23002;
const TOKEN = 'untagged-grace-token';
const GRACE_MS = 4000;
const RC_WARN = DEFAULT_POLICY_YAML.replace('  mappings: []', '  mappings:\n    - name: release-candidates\n      tag: "rc-*"\n      ruleSet: default\n      mode: warn');

const review = (image: string) => postPodReview(ADM_PORT, image, 'dev');

describe('security: the grace of a blocking manifest pushed by digest only', function () {
  this.timeout(180_000);
  let dir: string;
  let config: PushgateConfig;
  let srv: RunningServer | undefined;
  let reg: LabRegistry;
  let raw: Raw;

  async function setPolicy(yaml: string): Promise<void> {
    fs.writeFileSync(path.join(dir, 'policy.yaml'), yaml);
    const r = await srv!.control.reload();
    expect(r.ok, r.problems.join('\n')).to.equal(true);
  }

  /** Waits for `pred` over the audit records of `repo` (newest first), up to 60 s. */
  async function audited(repo: string, what: string, pred: (a: { action: string; digest?: string; tag?: string }) => boolean): Promise<void> {
    const until = Date.now() + 60_000;
    for (;;) {
      const recs = await srv!.store.listAudit(200, { repository: repo });
      if (recs.some(pred)) return;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}; audit: ${JSON.stringify(recs.slice(0, 10).map((a) => [a.action, a.tag, a.digest?.slice(7, 19)]))}`);
      await sleep(50);
    }
  }
  const deferred = (repo: string, digest: string) => audited(repo, `the deferral of ${repo}@${digest}`, (a) => a.action === 'enforcement-deferred' && a.digest === digest);
  const judged = (repo: string, digest: string, tag?: string) => audited(repo, `the verdict of ${repo}@${digest}`, (a) => a.action.startsWith('verdict:') && a.digest === digest && (a.tag ?? undefined) === tag);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-grace-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pushgate',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.crt')], { stdio: 'ignore' });
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv/npm')] });
    fs.writeFileSync(path.join(dir, 'policy.yaml'), DEFAULT_POLICY_YAML);
    config = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.server.listen = `127.0.0.1:${API_PORT}`;
    config.policy = path.join(dir, 'policy.yaml');
    config.enforcement = { untaggedGraceMs: GRACE_MS };
    config.admission = { ...config.admission, listen: `127.0.0.1:${ADM_PORT}`, tls: { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key') }, allowUnauthenticated: true, digestCacheTtlMs: 0 };
    srv = await startServer(config, silentLogger, { policyWatchMs: 3_600_000 });
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${API_PORT}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}`, env: { NOTIFY_IGNORE_ACTIONS: 'pull' } });
    raw = new Raw(reg.host);
  });

  after(async () => {
    reg?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an index pushed within the grace takes the blocking child over: both accepted, both quarantined, neither left in the repository', async () => {
    const repo = 'g1/app';
    const bad = makeImage('bad', 'g1-bad');
    const good = makeImage('good', 'g1-good');
    for (const c of [good, bad]) {
      await raw.pushBlobs(repo, c.blobs);
      expect((await raw.putManifest(repo, c.digest, c)).status).to.equal(201);
    }
    await deferred(repo, bad.digest);
    const index = makeIndex([good, bad]);
    const put = await raw.putManifest(repo, 'v1', index);
    expect(put.status, `the index PUT within the grace: ${put.body}`).to.equal(201);
    await judged(repo, index.digest, 'v1');
    expect(await raw.served(`quarantine/${repo}`, 'v1'), 'the index, quarantined').to.equal(index.digest);
    expect(await raw.served(`quarantine/${repo}`, bad.digest), 'the blocking child, quarantined with its index').to.equal(bad.digest);
    for (const ref of ['v1', index.digest, bad.digest]) expect(await raw.served(repo, ref), `${repo} ${ref}`).to.equal(undefined);
    expect(await raw.served(repo, good.digest), 'the clean child stays').to.equal(good.digest);
    // The child's own deferred event ends when the grace does, with nothing left to do.
    await judged(repo, bad.digest);
    expect(await raw.served(repo, bad.digest)).to.equal(undefined);
  });

  it('no index: the blocking child is pullable by digest during the grace, denied by admission all along, and quarantined when the grace ends', async () => {
    const repo = 'g2/app';
    const bad = makeImage('bad', 'g2-bad');
    await raw.pushBlobs(repo, bad.blobs);
    expect((await raw.putManifest(repo, bad.digest, bad)).status).to.equal(201);
    await deferred(repo, bad.digest);
    const v = await srv!.store.getVerdict('lab', repo, bad.digest);
    expect(v?.decision, 'the verdict blocks during the grace').to.equal('quarantine');
    expect(v?.enforcement?.status).to.equal('pending');
    expect(await raw.served(repo, bad.digest), 'still in the repository during the grace').to.equal(bad.digest);
    const during = await review(`127.0.0.1:${REG_PORT}/${repo}@${bad.digest}`);
    expect(during.allowed, `admission during the grace: ${during.status?.message}`).to.equal(false);
    await judged(repo, bad.digest);
    expect(await raw.served(repo, bad.digest), 'gone from the repository after the grace').to.equal(undefined);
    expect(await raw.served(`quarantine/${repo}`, bad.digest), 'quarantined by digest').to.equal(bad.digest);
    const after = await review(`127.0.0.1:${REG_PORT}/${repo}@${bad.digest}`);
    expect(after.allowed).to.equal(false);
  });

  it('an index pushed by digest only holds nothing: it and its blocking child leave when their graces end', async () => {
    const repo = 'g3/app';
    const bad = makeImage('secret', 'g3-secret');
    await raw.pushBlobs(repo, bad.blobs);
    expect((await raw.putManifest(repo, bad.digest, bad)).status).to.equal(201);
    const index = makeIndex([bad]);
    expect((await raw.putManifest(repo, index.digest, index)).status).to.equal(201);
    await judged(repo, bad.digest);
    await judged(repo, index.digest);
    for (const ref of [bad.digest, index.digest]) expect(await raw.served(repo, ref), ref).to.equal(undefined);
  });

  it('an index whose tag maps to warn holds its blocking child after the grace (removing it would break the index the policy allows); admission still denies the child by digest', async () => {
    await setPolicy(RC_WARN);
    try {
      const repo = 'g4/app';
      const bad = makeImage('bad', 'g4-bad');
      await raw.pushBlobs(repo, bad.blobs);
      expect((await raw.putManifest(repo, bad.digest, bad)).status).to.equal(201);
      const index = makeIndex([bad]);
      expect((await raw.putManifest(repo, 'rc-1', index)).status).to.equal(201);
      await judged(repo, bad.digest);
      const v = await srv!.store.getVerdict('lab', repo, bad.digest);
      expect(v?.enforcement?.detail).to.contain(`${repo}:rc-1`);
      expect(await raw.served(repo, 'rc-1'), 'the warn-mode index').to.equal(index.digest);
      expect(await raw.served(repo, bad.digest), 'its child, held by it').to.equal(bad.digest);
      expect((await review(`127.0.0.1:${REG_PORT}/${repo}@${bad.digest}`)).allowed, 'the child by digest maps to enforce').to.equal(false);
    } finally {
      await setPolicy(DEFAULT_POLICY_YAML);
    }
  });

  it('a restart during the grace loses nothing: the deferred action is in the store and runs when the grace ends', async () => {
    const repo = 'g5/app';
    const bad = makeImage('bad', 'g5-bad');
    await raw.pushBlobs(repo, bad.blobs);
    expect((await raw.putManifest(repo, bad.digest, bad)).status).to.equal(201);
    await deferred(repo, bad.digest);
    await srv!.close();
    srv = undefined;
    await sleep(GRACE_MS + 500);
    // The grace ended while pushgate was down: nothing acted.
    expect(await raw.served(repo, bad.digest), 'nothing acted while pushgate was down').to.equal(bad.digest);
    srv = await startServer(config, silentLogger, { policyWatchMs: 3_600_000 });
    await judged(repo, bad.digest);
    expect(await raw.served(repo, bad.digest), 'acted on after the restart').to.equal(undefined);
    expect(await raw.served(`quarantine/${repo}`, bad.digest)).to.equal(bad.digest);
  });
});
