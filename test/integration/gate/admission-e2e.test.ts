/**
 * Admission with the real gate: `pushgate serve` (in-process) with its admission TLS listener,
 * a real Distribution registry notifying it, real skopeo pushes. AdmissionReviews are posted as
 * the API server would (no Kubernetes API server can run here): a Pod whose image was rejected is
 * denied, a Deployment of the allowed base image is admitted with its warning, an image pushgate
 * has never judged follows the namespace rule, and mutate pins tags to digests.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../../src/config/types.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, silentLogger as silent } from '../../helpers/gate.js';
import { labImages, ROOT, skopeoCopyAsync, startRegistry, type LabRegistry } from '../../helpers/lab.js';

const REG_PORT = 16050;
const ADM_PORT = 16051;
const TOKEN = 'admission-e2e-token-0123456789';

interface Review { response: { uid: string; allowed: boolean; status?: { message?: string }; warnings?: string[]; patch?: string } }

function post(pathname: string, body: unknown): Promise<{ status: number; body: Review }> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = https.request({ host: '127.0.0.1', port: ADM_PORT, path: pathname, method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json', 'content-length': data.length } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c) => parts.push(c as Buffer));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')) as Review }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** `imagePullPolicy` absent (as a caller other than the API server may send it) unless `pullPolicy` is given. */
function podReview(uid: string, namespace: string, images: string[], kind = 'Pod', pullPolicy?: string): unknown {
  const spec = { containers: images.map((image, i) => ({ name: `c${i}`, image, ...(pullPolicy ? { imagePullPolicy: pullPolicy } : {}) })) };
  const object = kind === 'Pod'
    ? { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace }, spec }
    : { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace }, spec: { replicas: 1, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec } } };
  return {
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: { uid, kind: kind === 'Pod' ? { group: '', version: 'v1', kind: 'Pod' } : { group: 'apps', version: 'v1', kind: 'Deployment' },
      resource: kind === 'Pod' ? { group: '', version: 'v1', resource: 'pods' } : { group: 'apps', version: 'v1', resource: 'deployments' },
      namespace, operation: 'CREATE', userInfo: { username: 'alice' }, object, dryRun: false },
  };
}

describe('admission with the real gate: no pod starts from a failed or unscanned image', function () {
  this.timeout(240_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  const host = `127.0.0.1:${REG_PORT}`;

  before(async () => {
    const images = labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-adm-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pushgate',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.crt')], { stdio: 'ignore' });
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.admission = { ...config.admission, listen: `127.0.0.1:${ADM_PORT}`, tls: { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key') }, namespaces: [{ match: 'sandbox-*', unknown: 'allow' }, { match: '*', unknown: 'deny' }], unguarded: 'deny', allowUnauthenticated: true };
    srv = await startServer(config, silent);
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${srv.port}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}` });
    for (const [src, dst] of [['debian-minbase:bookworm', 'lab/debian:bookworm'], ['node-app:vuln', 'lab/node-app:vuln'], ['adm-zip:0.4.7', 'lab/adm-zip:0.4.7']]) {
      const r = await skopeoCopyAsync(`oci:${images}/${src}`, `${host}/${dst}`);
      expect(r.code, r.stderr).to.equal(0);
    }
    // Wait for both verdicts (the node-app tag is deleted by enforcement; its digest keeps its verdict).
    const deadline = Date.now() + 60_000;
    while ((await srv.store.listVerdicts({ registry: 'lab' })).filter((v) => v.enforcement).length < 3) {
      if (Date.now() > deadline) throw new Error('verdicts did not arrive');
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  after(async () => {
    reg?.stop();
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('denies a Pod whose image digest was rejected, naming the field path and the reason', async () => {
    const v = (await srv.store.listVerdicts({ registry: 'lab', repository: 'lab/node-app' }))[0];
    const r = await post('/admission/validate', podReview('u-1', 'team-a', [`${host}/lab/node-app@${v.digest}`]));
    expect(r.status).to.equal(200);
    expect(r.body.response.uid).to.equal('u-1');
    expect(r.body.response.allowed).to.equal(false);
    expect(r.body.response.status?.message).to.match(/spec\.containers\[0\]\.image/);
    expect(r.body.response.status?.message).to.match(/reject/);
    expect(await srv.metrics.text()).to.match(/pushgate_admission_requests_total\{decision="deny"\} 1/);
  });

  it('denies a Deployment using the quarantined image (the registry holds its quarantine copy)', async () => {
    const v = (await srv.store.listVerdicts({ registry: 'lab', repository: 'lab/adm-zip' }))[0];
    expect(v.decision).to.equal('quarantine');
    const q = (await (await fetch(`http://${host}/v2/quarantine/lab/adm-zip/tags/list`)).json()) as { tags: string[] };
    expect(q.tags).to.deep.equal(['0.4.7']);
    const r = await post('/admission/validate', podReview('u-7', 'team-a', [`${host}/lab/adm-zip:0.4.7@${v.digest}`], 'Deployment'));
    expect(r.body.response.allowed).to.equal(false);
    expect(r.body.response.status?.message).to.match(/spec\.template\.spec\.containers\[0\]\.image/);
    expect(r.body.response.status?.message).to.match(/quarantine/);
  });

  it('a Pod naming a quarantined tag is denied, and the message says pushgate quarantined it and where the copy is; a tag enforcement deleted is only missing', async () => {
    const v = (await srv.store.listVerdicts({ registry: 'lab', repository: 'lab/adm-zip' }))[0];
    const r = await post('/admission/validate', podReview('u-8', 'team-a', [`${host}/lab/adm-zip:0.4.7`, `${host}/lab/node-app:vuln`]));
    expect(r.body.response.allowed).to.equal(false);
    const msg = r.body.response.status?.message ?? '';
    expect(msg).to.include(`tag 0.4.7 of lab/adm-zip (registry lab) was quarantined by pushgate on ${new Date().toISOString().slice(0, 10)} (${v.digest}, copy in quarantine/lab/adm-zip)`);
    expect(msg).to.include('POST /api/v1/quarantine/release');
    expect(msg).to.include('tag vuln does not exist in lab/node-app of registry lab');
    expect(msg).to.not.include('lab/lab/');
  });

  it('admits a Deployment of the allowed base image pinned by mutate, or by tag with imagePullPolicy Always, with its warn reason as a warning; by tag with IfNotPresent it is denied with the pin to write', async () => {
    const v = await srv.store.getVerdictByTag('lab', 'lab/debian', 'bookworm');
    const m = await post('/admission/mutate', podReview('u-3', 'team-a', [`${host}/lab/debian:bookworm`], 'Deployment', 'IfNotPresent'));
    const patch = JSON.parse(Buffer.from(m.body.response.patch ?? '', 'base64').toString('utf8')) as Array<{ path: string; value: string }>;
    expect(patch[0].path).to.equal('/spec/template/spec/containers/0/image');
    expect(patch[0].value).to.equal(`${host}/lab/debian:bookworm@${v!.digest}`);
    const pinned = await post('/admission/validate', podReview('u-2', 'team-a', [patch[0].value], 'Deployment', 'IfNotPresent'));
    expect(pinned.body.response.allowed).to.equal(true);
    expect((pinned.body.response.warnings ?? []).join(' ')).to.match(/root/);
    const always = await post('/admission/validate', podReview('u-2a', 'team-a', [`${host}/lab/debian:bookworm`], 'Deployment', 'Always'));
    expect(always.body.response.allowed).to.equal(true);
    expect((always.body.response.warnings ?? []).join(' ')).to.match(/root/);
    // Without the pin (mutating webhook off, or failed under failurePolicy Ignore) the node may run what it cached under the tag.
    for (const policy of ['IfNotPresent', undefined]) {
      const byTag = await post('/admission/validate', podReview('u-2b', 'team-a', [`${host}/lab/debian:bookworm`], 'Deployment', policy));
      expect(byTag.body.response.allowed, String(policy)).to.equal(false);
      expect(byTag.body.response.status?.message).to.contain(`unpinned-tag — tag without digest and imagePullPolicy IfNotPresent`);
      expect(byTag.body.response.status?.message).to.contain(`pin it by digest (${patch[0].value}, as pushgate's mutating webhook writes it) or set imagePullPolicy: Always`);
    }
  });

  it('an image pushgate never judged follows the namespace rule; unguarded registries are denied', async () => {
    const unknown = `${host}/lab/debian@sha256:${'e'.repeat(64)}`;
    expect((await post('/admission/validate', podReview('u-4', 'team-a', [unknown]))).body.response.allowed).to.equal(false);
    expect((await post('/admission/validate', podReview('u-5', 'sandbox-1', [unknown]))).body.response.allowed).to.equal(true);
    const other = await post('/admission/validate', podReview('u-6', 'team-a', ['docker.io/library/nginx:1.27']));
    expect(other.body.response.allowed).to.equal(false);
  });
});
