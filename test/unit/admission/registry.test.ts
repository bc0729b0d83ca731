/**
 * Admission against a real registry: Debian's docker-registry (Distribution 2.8) holds two lab images
 * pushed with skopeo; the real RegistryClient resolves their tags (HEAD). Verdicts come from the gate's
 * test double (the lead's end-to-end test uses the real gate): `app` is allowed, `tool` quarantined.
 * The validating webhook denies a Deployment using `tool`; the mutating one pins `app` to the digest the
 * registry serves, over the HTTPS admission listener.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { labImages, skopeoCopy, startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { startAdmissionListener, type AdmissionListener } from '../../../src/server/admission-listener.js';
import { createDigestCache } from '../../../src/admission/digest-cache.js';
import { validateReview } from '../../../src/admission/review.js';
import { FakeGate, admissionConfig, verdict } from './fake-gate.js';
import type { RegistryConfig } from '../../../src/config/types.js';
import type { GateApi } from '../../../src/gate/types.js';

const PORT = 17011;
const TTL_MS = 300;

function post(port: number, p: string, body: unknown): Promise<{ status: number; json: Record<string, any> }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: p, method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString()) }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('admission with a real registry (Distribution 2.8, skopeo, RegistryClient)', function () {
  this.timeout(120_000);
  let reg: LabRegistry;
  let listener: AdmissionListener;
  let dir: string;
  let gate: FakeGate;
  let appDigest: string;
  let toolDigest: string;

  before(async () => {
    const images = labImages();
    reg = startRegistry(PORT);
    skopeoCopy(`oci:${path.join(images, 'debian-minbase')}:bookworm`, `${reg.host}/team/app:1.0`);
    skopeoCopy(`oci:${path.join(images, 'node-app')}:vuln`, `${reg.host}/team/tool:1.0`);
    const cfg: RegistryConfig = { name: 'lab', url: reg.url, type: 'distribution', insecure: false, webhook: {}, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 4, timeoutMs: 5000 };
    const client = new RegistryClient({ name: cfg.name, url: cfg.url });
    gate = new FakeGate();
    gate.registryForHost = (host: string) => (host === reg.host ? cfg : undefined);
    gate.client = ((name: string) => {
      if (name !== 'lab') throw new Error(name);
      return client;
    }) as GateApi['client'];
    // Independent digests: what the registry reports on a plain HEAD.
    const head = async (repo: string) => (await fetch(`${reg.url}/v2/${repo}/manifests/1.0`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).headers.get('docker-content-digest')!;
    appDigest = await head('team/app');
    toolDigest = await head('team/tool');
    const put = (repo: string, d: string, dec: 'allow' | 'quarantine', reasons: Array<[string, string]>) => gate.put({ ...verdict(repo, d, dec, reasons), registry: 'lab' });
    put('team/app', appDigest, 'allow', []);
    put('team/tool', toolDigest, 'quarantine', [['secrets', 'private key in /app/id_rsa']]);

    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-adm-e2e-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pushgate.pushgate.svc', '-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.crt')], { stdio: 'ignore' });
    listener = await startAdmissionListener({ gate, config: admissionConfig(), digestCache: createDigestCache(gate, TTL_MS) }, { listen: '127.0.0.1:0', cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key'), allowUnauthenticated: true });
  });

  after(async () => {
    await listener?.close();
    reg?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function deployment(uid: string, images: string[]) {
    return {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid, kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' },
        name: 'web', namespace: 'team', operation: 'CREATE', userInfo: { username: 'alice' },
        object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { template: { spec: { containers: images.map((image, i) => ({ name: `c${i}`, image, imagePullPolicy: 'Always' })) } } } },
        oldObject: null, dryRun: false,
      },
    };
  }

  it('denies a Deployment using the quarantined image, naming image, path and reason', async () => {
    const r = await post(listener.port, '/admission/validate?timeout=5s', deployment('e2e-1', [`${reg.host}/team/app:1.0`, `${reg.host}/team/tool:1.0`]));
    expect(r.status).to.equal(200);
    expect(r.json.response.uid).to.equal('e2e-1');
    expect(r.json.response.allowed).to.equal(false);
    const msg: string = r.json.response.status.message;
    expect(msg).to.contain(`image "${reg.host}/team/tool:1.0" at spec.template.spec.containers[1].image (${toolDigest.slice(0, 19)}…): quarantine — secrets: private key`);
    expect(msg).not.to.contain('team/app:1.0"');
  });

  it('pins the allowed image to the digest the registry serves, and admits the pinned Deployment', async () => {
    const r = await post(listener.port, '/admission/mutate?timeout=5s', deployment('e2e-2', [`${reg.host}/team/app:1.0`, `${reg.host}/team/tool:1.0`]));
    const patch = JSON.parse(Buffer.from(r.json.response.patch, 'base64').toString());
    expect(patch).to.deep.equal([{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `${reg.host}/team/app:1.0@${appDigest}` }]);
    const pinned = await post(listener.port, '/admission/validate', deployment('e2e-3', [patch[0].value]));
    expect(pinned.json.response).to.deep.equal({ uid: 'e2e-3', allowed: true });
  });

  it('a tag re-pushed with other content and notified is judged on the new digest at once, well within the TTL', async () => {
    const deps = { gate, config: admissionConfig(), digestCache: createDigestCache(gate, 600_000) };
    const validate = async (uid: string) => ((await validateReview(deployment(uid, [`${reg.host}/team/app:2.0`]), deps)).body as { response: { allowed: boolean; status?: { message: string } } }).response;
    skopeoCopy(`oci:${path.join(labImages(), 'debian-minbase')}:bookworm`, `${reg.host}/team/app:2.0`);
    expect((await validate('n-1')).allowed).to.equal(true);
    skopeoCopy(`oci:${path.join(labImages(), 'node-app')}:vuln`, `${reg.host}/team/app:2.0`);
    // what the gate does once Distribution's notification of that push is queued
    gate.emitPush({ id: 'n', source: 'distribution', registry: 'lab', action: 'push', repository: 'team/app', tag: '2.0', digest: toolDigest as `sha256:${string}` });
    const r = await validate('n-2');
    expect(r.allowed).to.equal(false);
    expect(r.status?.message).to.contain(`(${toolDigest.slice(0, 19)}…): unknown — never scanned`);
  });

  it('a tag re-pushed with other content is judged on the new digest once the cache entry expires (TTL bound)', async () => {
    expect((await post(listener.port, '/admission/validate', deployment('e2e-4', [`${reg.host}/team/app:1.0`]))).json.response.allowed).to.equal(true);
    skopeoCopy(`oci:${path.join(labImages(), 'node-app')}:vuln`, `${reg.host}/team/app:1.0`);
    // Within the TTL the cached digest still answers: the TTL is the window a re-push can slip through
    // validation, which is why the mutating webhook pins the digest it judged.
    await new Promise((r) => setTimeout(r, TTL_MS + 50));
    const r = await post(listener.port, '/admission/validate', deployment('e2e-5', [`${reg.host}/team/app:1.0`]));
    expect(r.json.response.allowed).to.equal(false);
    expect(r.json.response.status.message).to.contain(`(${toolDigest.slice(0, 19)}…): unknown — never scanned`);
    expect(gate.enqueued.map((e) => `${e.repository}@${e.digest}`)).to.deep.equal([`team/app@${toolDigest}`]);
  });
});
