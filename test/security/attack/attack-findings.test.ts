/**
 * Attack findings (branch `attack`): each test asserts the END STATE pushgate promises
 * (docs/threat-model.md) after one hostile push or review, against a real Distribution 2.8 registry
 * (notifications on), a real in-process `pushgate serve` with its push proxy and admission listener,
 * the default policy and the lab images. On the code these were found on, every test here FAILS:
 * the failure message is the bypass.
 *
 * Copied from branch `attack` with F1-F4 only (F5 belongs to the layer-filesystem work); ports 22360-22363. Needs PUSHGATE_LAB_IMAGES (or builds the lab images), skopeo, umoci, python3, jq, curl.
 *   npx mocha --timeout 300000 test/security/attack/attack-findings.test.ts
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../../src/config/types.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, silentLogger as silent } from '../../helpers/gate.js';
import { labImages, ROOT, skopeoCopyAsync, startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { postPodReview } from '../../helpers/admission-review.js';

const REG_PORT = 22360;
const API_PORT = 22361;
const ADM_PORT = 22362;
const PROXY_PORT = 22363;
const TOKEN = 'attack-findings-token';
const HERE = path.join(ROOT, 'test/security/attack');
const host = `127.0.0.1:${REG_PORT}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, what: string, ms = 60_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Status of GET /v2/<repo>/manifests/<ref> straight on the registry (what any puller gets). */
async function manifestStatus(repo: string, ref: string): Promise<number> {
  const r = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, {
    headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  await r.arrayBuffer();
  return r.status;
}

/** Uploads the config and layers of manifest `hex` of OCI layout `layout` to `repo` (raw HTTP). */
function pushBlobs(repo: string, layout: string, hex: string): void {
  execFileSync('bash', [path.join(HERE, 'pushraw.sh'), host, repo, layout, hex], { stdio: 'ignore' });
}

/** PUT a manifest straight to the registry. */
async function putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string, headers: Record<string, string> = {}): Promise<number> {
  const r = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, { method: 'PUT', headers: { 'Content-Type': mediaType, ...headers }, body: bytes });
  await r.arrayBuffer();
  return r.status;
}

function layoutManifest(layout: string): { hex: string; bytes: Buffer } {
  const idx = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const hex = idx.manifests[0]!.digest.slice(7);
  return { hex, bytes: fs.readFileSync(path.join(layout, 'blobs/sha256', hex)) };
}


const postReview = (image: string) => postPodReview(ADM_PORT, image, 'mallory');

describe('attack findings (each test asserts the promised end state; a failure is a bypass)', function () {
  this.timeout(300_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let images: string;

  async function handled(repository: string, digest: string): Promise<void> {
    await waitFor(async () => (await srv.store.listAudit(200, { repository })).some((a) => a.digest === digest && a.action.startsWith('verdict:')), `the verdict of ${repository}@${digest}`);
  }

  before(async () => {
    images = labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-attack-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pushgate',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.crt')], { stdio: 'ignore' });
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.server.listen = `127.0.0.1:${API_PORT}`;
    // Shipped defaults for admission (unguarded: allow), except that reviews come from this test.
    config.admission = { ...config.admission, listen: `127.0.0.1:${ADM_PORT}`, tls: { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key') }, allowUnauthenticated: true, digestCacheTtlMs: 0 };
    config.proxy = { ...config.proxy, listen: `127.0.0.1:${PROXY_PORT}`, upstream: `http://127.0.0.1:${REG_PORT}`, timeoutMs: 120_000 };
    // A short grace before a blocking manifest pushed by digest only is acted on (the default is 60 s).
    config.enforcement = { untaggedGraceMs: 3000 };
    srv = await startServer(config, silent, { policyWatchMs: 3_600_000 });
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${srv.port}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}`, env: { NOTIFY_IGNORE_ACTIONS: 'pull' } });
  });

  after(async () => {
    reg?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('F1 admission: another spelling of the guarded registry host (localhost, upper case, zero-padded port) is not admitted', async () => {
    const r = await skopeoCopyAsync(`oci:${images}/adm-zip:0.4.7`, `${host}/f1/app:1`);
    expect(r.code, r.stderr).to.equal(0);
    const copy = await waitFor(async () => (await manifestStatus('quarantine/f1/app', '1')) === 200, 'the quarantine copy');
    expect(copy).to.equal(true);
    const canonical = await postReview(`${host}/quarantine/f1/app:1`);
    expect(canonical.allowed, 'control: the canonical spelling is denied').to.equal(false);
    for (const h of [`localhost:${REG_PORT}`, `LOCALHOST:${REG_PORT}`, `127.0.0.1:0${REG_PORT}`]) {
      // Precondition: the runtime reaches the same registry under this spelling (Go's reference grammar and dialer).
      execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${h}/quarantine/f1/app:1`], { stdio: 'ignore' });
      const res = await postReview(`${h}/quarantine/f1/app:1`);
      expect(res.allowed, `${h}/quarantine/f1/app:1 (a quarantined adm-zip 0.4.7) was ADMITTED`).to.equal(false);
    }
  });

  it('F2 notifications: a push whose client sends User-Agent "pushgate/…" is still judged (node-app:vuln ends rejected)', async () => {
    const layout = path.join(images, 'node-app');
    const { hex, bytes } = layoutManifest(layout);
    pushBlobs('f2/app', layout, hex);
    expect(await putManifest('f2/app', 'latest', bytes, 'application/vnd.oci.image.manifest.v1+json', { 'User-Agent': 'pushgate/0.1.0' })).to.equal(201);
    // Nobody asks admission about it (that would queue a scan): only the notification can act.
    await sleep(10_000);
    const audit = await srv.store.listAudit(50, { repository: 'f2/app' });
    expect(await manifestStatus('f2/app', 'latest'), `f2/app:latest (private key + AWS key, default policy: reject) is still pullable; audit: ${JSON.stringify(audit.map((a) => a.action))}`).to.equal(404);
  });

  it('F3 a violating manifest pushed by digest only is not left pullable by digest', async () => {
    const layout = path.join(images, 'adm-zip');
    const { hex, bytes } = layoutManifest(layout);
    pushBlobs('f3/app', layout, hex);
    expect(await putManifest('f3/app', `sha256:${hex}`, bytes, 'application/vnd.oci.image.manifest.v1+json')).to.equal(201);
    await handled('f3/app', `sha256:${hex}`);
    await sleep(1000);
    const v = await srv.store.getVerdict('lab', 'f3/app', `sha256:${hex}`);
    expect(v?.decision).to.equal('quarantine');
    expect(await manifestStatus('f3/app', `sha256:${hex}`), `f3/app@sha256:${hex} (verdict quarantine, enforcement ${JSON.stringify(v?.enforcement)}) is pullable`).to.equal(404);
  });

  it('F4 the children of a quarantined index are not left pullable by digest in the original repository', async () => {
    const layout = path.join(images, 'adm-zip');
    const { hex, bytes } = layoutManifest(layout);
    pushBlobs('f4/app', layout, hex);
    expect(await putManifest('f4/app', `sha256:${hex}`, bytes, 'application/vnd.oci.image.manifest.v1+json')).to.equal(201);
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${hex}`, size: bytes.length, platform: { architecture: 'amd64', os: 'linux' } }] }));
    // Within the grace of the child pushed by digest, the index is accepted and quarantined with its blocking child.
    const put = await putManifest('f4/app', 'v1', index, 'application/vnd.oci.image.index.v1+json');
    expect(put, 'the index PUT right after its child (within the grace)').to.equal(201);
    await handled('f4/app', `sha256:${crypto.createHash('sha256').update(index).digest('hex')}`);
    expect(await manifestStatus('quarantine/f4/app', 'v1'), 'the quarantine copy of the index').to.equal(200);
    expect(await manifestStatus('quarantine/f4/app', `sha256:${hex}`), 'the child in quarantine with its index').to.equal(200);
    expect(await manifestStatus('f4/app', 'v1'), 'control: the tag is gone').to.equal(404);
    expect(await manifestStatus('f4/app', `sha256:${hex}`), `child f4/app@sha256:${hex} (adm-zip 0.4.7) is still pullable after its index was quarantined`).to.equal(404);
  });
});
