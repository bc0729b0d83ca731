/**
 * Issue 6 paths of the gate with real components: a real Distribution 2.8 registry notifying a
 * real `pushgate serve` (in-process, real HTTP on loopback).
 * - Non-image artefacts (an OCI 1.1 SBOM artifact, a Helm chart: no image config, no filesystem
 *   layer) pushed with pushgate's registry client are recorded and passed: verdict allow with reason
 *   `artifact`, nothing scanned. A cosign-style signature (an image config) is scanned like an image;
 *   its JSON layer holds no files, so it stays non-blocking and complete.
 * - Bounded retry: a registry that never answers ends, after queue.maxAttempts, as a
 *   `complete: false` verdict with a `scan-failed` diagnostic judged by the policy (quarantine).
 * - Reconciliation: pushes whose notifications a registry restart lost (Distribution keeps its
 *   delivery queue in memory) are judged by the periodic pass of `serve` (reconcile.interval), and
 *   by `reconcile()`; a second pass queues nothing.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig } from '../../../src/config/load.js';
import type { PushgateConfig, RegistryConfig } from '../../../src/config/types.js';
import type { Verdict } from '../../../src/core/index.js';
import { reconcile } from '../../../src/gate/reconcile.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { ROOT } from '../../helpers/lab.js';
import { ensureBlob, imageConfig, imageManifest, labClient, makeLayer, registryOn, secretLayer, sha } from './helpers.js';

const REG_PORT = 16102;
const DOWN_PORT = 16103; // nothing listens here
const REG_B_PORT = 16104;
const NOBODY_PORT = 16105; // where registry B first sends its notifications: nothing listens
const TOKEN = 'paths-webhook-token-0123456789';
const TOKEN_B = 'paths-webhook-token-b-987654321';
const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('gate paths: artefacts passed, bounded retry, reconciliation after a registry restart', function () {
  this.timeout(180_000);
  let dir: string;
  let srv: RunningServer;
  let config: PushgateConfig;
  let storageA: string;
  let storageB: string;

  async function waitVerdict(registry: string, repo: string, digest: string, ms = 60_000, pred: (v: Verdict) => boolean = (v) => !!v.enforcement): Promise<Verdict> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await srv.store.getVerdict(registry, repo, digest);
      if (v && pred(v)) return v;
      if (Date.now() > deadline) throw new Error(`no verdict for ${registry}/${repo}@${digest} (last: ${JSON.stringify(v)})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-paths-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    config = defaultConfig();
    config.server.listen = '127.0.0.1:0';
    config.store.url = `sqlite:${path.join(dir, 'pushgate.db')}`;
    config.vulndb.path = path.join(dir, 'vulndb.sqlite');
    config.queue = { maxAttempts: 2 };
    config.reconcile = { intervalMs: 1500 };
    const rd = (name: string, port: number, token?: string): RegistryConfig => ({ name, url: `http://127.0.0.1:${port}`, type: 'distribution', insecure: false, webhook: token ? { token } : {}, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 8, timeoutMs: 2_000 });
    config.registries = [rd('lab', REG_PORT, TOKEN), rd('down', DOWN_PORT, 'down-token-0123456789'), rd('labb', REG_B_PORT, TOKEN_B)];
    srv = await startServer(config, silent);
    storageA = path.join(dir, 'reg-a');
    storageB = path.join(dir, 'reg-b');
    registryOn('start', storageA, REG_PORT, ['--notify-url', `http://127.0.0.1:${srv.port}/webhooks/distribution`, '--notify-header', `Authorization: Bearer ${TOKEN}`, '--notify-ignore-actions', 'pull']);
  });

  after(async () => {
    registryOn('stop', storageA, REG_PORT);
    registryOn('stop', storageB, REG_B_PORT);
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('SBOMs and charts are recorded and passed, never scanned; a signature under an image config is scanned, its data layer holds no files', async () => {
    const c = labClient(`http://127.0.0.1:${REG_PORT}`);
    const repo = 'lab/artifacts';
    const empty = Buffer.from('{}');
    const sbom = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'app', note: '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtestonlynotakeyatallAAAAAAAAAAAAAAAA' }));
    const chart = Buffer.from('not a tar: a chart layer pushgate must not try to unpack');
    const sig = Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': 'x' }, image: { 'docker-manifest-digest': `sha256:${'a'.repeat(64)}` }, type: 'cosign container image signature' } }));
    const ociCfg = Buffer.from(JSON.stringify({ architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: [] } }));
    const helmCfg = Buffer.from(JSON.stringify({ name: 'demo', version: '0.1.0', apiVersion: 'v2' }));
    for (const b of [empty, sbom, chart, sig, ociCfg, helmCfg]) await ensureBlob(c, repo, b);
    const desc = (mediaType: string, b: Buffer) => ({ mediaType, digest: sha(b), size: b.length });
    const cases: Array<{ tag: string; manifest: object; type: string }> = [
      { tag: 'sbom', type: 'application/spdx+json', manifest: { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/spdx+json', config: desc('application/vnd.oci.empty.v1+json', empty), layers: [desc('application/spdx+json', sbom)] } },
      { tag: '0.1.0', type: 'application/vnd.cncf.helm.config.v1+json', manifest: { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: desc('application/vnd.cncf.helm.config.v1+json', helmCfg), layers: [desc('application/vnd.cncf.helm.chart.content.v1.tar+gzip', chart)] } },
    ];
    for (const k of cases) {
      const bytes = Buffer.from(JSON.stringify(k.manifest));
      const digest = await c.putManifest(repo, k.tag, bytes, 'application/vnd.oci.image.manifest.v1+json');
      const v = await waitVerdict('lab', repo, digest);
      expect(v.decision, k.tag).to.equal('allow');
      expect(v.complete).to.equal(true);
      expect(v.reasons.map((r) => r.rule)).to.deep.equal(['artifact']);
      expect(v.reasons[0].message).to.include(k.type);
      expect(v.enforcement?.action).to.equal('none');
      const report = await srv.store.getReport(digest);
      expect(report?.packages).to.deep.equal([]);
      expect(report?.secrets).to.deep.equal([]);
    }
    // A cosign-style signature stores its payload under an image config: decided by content, it is
    // an image (runtimes read the config, not the claim), scanned, and its JSON layer is data, no files.
    const sigTag = `sha256-${'a'.repeat(64)}.sig`;
    const sigBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: desc('application/vnd.oci.image.config.v1+json', ociCfg), layers: [desc('application/vnd.dev.cosign.simplesigning.v1+json', sig)] }));
    const sigDigest = await c.putManifest(repo, sigTag, sigBytes, 'application/vnd.oci.image.manifest.v1+json');
    const sv = await waitVerdict('lab', repo, sigDigest);
    expect(sv.reasons.map((r) => r.rule)).to.not.include('artifact');
    expect(sv.complete).to.equal(true);
    expect(['allow', 'warn']).to.include(sv.decision);
    const sigReport = await srv.store.getReport(sigDigest);
    expect(sigReport?.diagnostics.map((d) => d.code)).to.include('layer-not-filesystem');
    expect(sigReport?.packages).to.deep.equal([]);
    expect((await c.listTags(repo)).sort()).to.deep.equal([...cases.map((k) => k.tag), sigTag].sort());
    // A real image with the same client and registry is still scanned and judged (the check is not "allow everything").
    const layer = await secretLayer();
    await ensureBlob(c, 'lab/image', layer.gz);
    const cfg = imageConfig(layer.diffId, 1);
    await ensureBlob(c, 'lab/image', cfg);
    const d = await c.putManifest('lab/image', 'v1', imageManifest(cfg, layer.gz), 'application/vnd.oci.image.manifest.v1+json');
    const v = await waitVerdict('lab', 'lab/image', d);
    expect(v.decision).to.equal('reject');
    expect(v.reasons.map((r) => r.rule)).to.not.include('artifact');
  });

  it('an event that keeps failing ends after queue.maxAttempts as a complete:false scan-failed verdict the policy judges', async () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    const ev = {
      events: [{ id: 'down-1', timestamp: new Date().toISOString(), action: 'push',
        target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 500, repository: 'team/app', url: `http://127.0.0.1:${DOWN_PORT}/v2/team/app/manifests/${digest}`, tag: 'v1' },
        request: { id: 'r', method: 'PUT', useragent: 'skopeo' }, actor: { name: 'alice' }, source: { addr: `127.0.0.1:${DOWN_PORT}` } }],
    };
    const r = await fetch(`http://127.0.0.1:${srv.port}/webhooks/distribution`, { method: 'POST', headers: { authorization: 'Bearer down-token-0123456789', 'content-type': 'application/json' }, body: JSON.stringify(ev) });
    expect(r.status).to.equal(202);
    const v = await waitVerdict('down', 'team/app', digest, 60_000);
    expect(v.complete).to.equal(false);
    expect(v.decision).to.equal('quarantine'); // the default policy's onIncomplete
    expect(v.reasons.some((x) => x.findings?.includes('scan-failed'))).to.equal(true);
    expect(v.reasons.map((x) => x.message).join(' ')).to.match(/after 2 attempt/);
    // The registry is down, so the quarantine itself failed: recorded on the verdict, the event parked (not retried forever).
    expect(v.enforcement?.status).to.equal('failed');
    const deadline = Date.now() + 10_000;
    while ((await srv.store.queueDepth()) > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    const audit = await srv.store.listAudit(1000);
    expect(audit.filter((a) => a.digest === digest && a.action === 'verdict:quarantine')).to.have.length(1);
  });

  it('a registry restart loses queued notifications; the periodic reconcile pass judges the missed manifests', async () => {
    // Registry B first notifies an address where nothing listens: its in-memory queue holds the events.
    registryOn('start', storageB, REG_B_PORT, ['--notify-url', `http://127.0.0.1:${NOBODY_PORT}/webhooks/distribution`, '--notify-header', `Authorization: Bearer ${TOKEN_B}`]);
    const c = labClient(`http://127.0.0.1:${REG_B_PORT}`);
    const layer = await makeLayer({ 'etc/os-release': 'ID=lab\nVERSION_ID=1\n', 'app/hello.txt': 'hello\n' });
    const pushed: Array<{ repo: string; tag: string; digest: string }> = [];
    for (const [repo, tag, n] of [['team/one', 'v1', 1], ['team/two', 'v1', 2], ['team/two', 'v2', 3]] as const) {
      await ensureBlob(c, repo, layer.gz);
      const cfg = imageConfig(layer.diffId, n);
      await ensureBlob(c, repo, cfg);
      pushed.push({ repo, tag, digest: await c.putManifest(repo, tag, imageManifest(cfg, layer.gz), 'application/vnd.oci.image.manifest.v1+json') });
    }
    // pushgate's own quarantine copies (its quarantine records name them) are never reconciled;
    // anything else in the quarantine prefix is someone else's push and is judged.
    await ensureBlob(c, 'quarantine/team/one', layer.gz);
    const qcfg = imageConfig(layer.diffId, 99);
    await ensureBlob(c, 'quarantine/team/one', qcfg);
    const qdigest = await c.putManifest('quarantine/team/one', 'v1', imageManifest(qcfg, layer.gz), 'application/vnd.oci.image.manifest.v1+json');
    await srv.store.recordQuarantine({ registry: 'labb', repository: 'team/one', tag: 'v1', digest: qdigest, quarantineRepository: 'quarantine/team/one' });
    await ensureBlob(c, 'quarantine/team/two', layer.gz);
    const fcfg = imageConfig(layer.diffId, 98);
    await ensureBlob(c, 'quarantine/team/two', fcfg);
    const foreign = await c.putManifest('quarantine/team/two', 'v9', imageManifest(fcfg, layer.gz), 'application/vnd.oci.image.manifest.v1+json');
    pushed.push({ repo: 'quarantine/team/two', tag: 'v9', digest: foreign });
    // Restart: the queued notifications are gone; from now on it notifies pushgate.
    registryOn('stop', storageB, REG_B_PORT);
    registryOn('start', storageB, REG_B_PORT, ['--notify-url', `http://127.0.0.1:${srv.port}/webhooks/distribution`, '--notify-header', `Authorization: Bearer ${TOKEN_B}`, '--notify-ignore-actions', 'pull']);
    for (const p of pushed) {
      const v = await waitVerdict('labb', p.repo, p.digest, 30_000, (x) => !!x.enforcement && x.tags.includes(p.tag));
      expect(v.decision, `${p.repo}:${p.tag}`).to.equal('warn'); // runs as root
      expect(v.complete).to.equal(true);
    }
    const audit = await srv.store.listAudit(1000);
    expect(audit.filter((a) => a.registry === 'labb' && a.action.startsWith('verdict:') && a.actor === 'pushgate-reconcile')).to.have.length(4);
    expect(await srv.store.getVerdict('labb', 'quarantine/team/one', qdigest)).to.equal(undefined);
    // An explicit pass (what `pushgate reconcile` runs) finds nothing left to queue.
    const r = await reconcile({ config, gate: srv.gate, store: srv.store, registry: 'labb' });
    expect(r).to.deep.include({ tags: 5, queued: 0 });
    expect(r.errors).to.deep.equal([]);
  });
});
