/**
 * Who may call the admission listener, and what a caller can make pushgate do.
 *
 * Attackers: anyone who reaches the admission port (a pod in the cluster, a port-forward), and a pod
 * author who writes annotations. Real components: `pushgate serve` (in-process) with its admission
 * TLS listener and client CA, a real Distribution registry notifying it, real skopeo pushes, real
 * TLS handshakes with certificates made by openssl here. No Kubernetes API server can run here, so
 * reviews are posted as kube-apiserver posts them (protocols.md §6), with the client certificate its
 * AdmissionConfiguration kubeConfigFile would present.
 *
 * End states asserted: the handshake fails without the right certificate (nothing is read); a
 * break-glass annotation admits only for the configured group, with an audit row naming the user;
 * a review naming 2,000 made-up digests queues at most `maxPerReview` events and a real quarantine
 * pushed at the same time still completes promptly; repeated reviews of one digest queue one event;
 * one caller's burst does not spend another caller's budget.
 *
 * Ports: 21400 (registry), 21401 (admission), 21402 (property-test listener), 21403 (chart certificates).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { PushgateConfig } from '../../src/config/types.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { startAdmissionListener, type AdmissionListener } from '../../src/server/admission-listener.js';
import { BREAK_GLASS_ANNOTATION } from '../../src/admission/break-glass.js';
import { ScanTriggers } from '../../src/admission/scan-triggers.js';
import { Gate } from '../../src/gate/gate.js';
import { openStore, type Store } from '../../src/store/index.js';
import { defaultPolicy } from '../../src/policy/index.js';
import type { PushEvent } from '../../src/core/index.js';
import { updateDb } from '../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, metricValue, silentLogger as silent } from '../helpers/gate.js';
import { labImages, ROOT, skopeoCopyAsync, startRegistry, type LabRegistry } from '../helpers/lab.js';
import { renderChart } from '../unit/admission/helm-render.js';
import YAML from 'yaml';
import { FakeGate, admissionConfig } from '../unit/admission/fake-gate.js';

const REG_PORT = 21400;
const ADM_PORT = 21401;
const PROP_PORT = 21402;
const CHART_PORT = 21403;
const TOKEN = 'admission-auth-token-0123456789abcdef';
const API_SERVER_CN = 'kube-apiserver-webhook-client';
const API_SERVER_2_CN = 'kube-apiserver-2-webhook-client';
const MAX_PER_REVIEW = 16;
const BURST = 60;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
interface Identity { cert?: Buffer; key?: Buffer }
interface Reply { status: number; body: Json }

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA (cert + key files `<name>.crt`/`<name>.key` in dir). */
function makeCA(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-keyout', `${name}.key`, '-out', `${name}.crt`]);
}

/** A client certificate for `cn` signed by CA `ca` (extendedKeyUsage clientAuth, as kube-apiserver's). */
function makeClient(dir: string, ca: string, cn: string): Identity {
  const base = `${ca}-${cn}`;
  fs.writeFileSync(path.join(dir, `${base}.ext`), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${cn}`, '-keyout', `${base}.key`, '-out', `${base}.csr`]);
  openssl(dir, ['x509', '-req', '-in', `${base}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-extfile', `${base}.ext`, '-out', `${base}.crt`]);
  return { cert: fs.readFileSync(path.join(dir, `${base}.crt`)), key: fs.readFileSync(path.join(dir, `${base}.key`)) };
}

/** POSTs a review over a fresh TLS connection presenting `who`; rejects when the handshake or the connection fails. */
function post(port: number, who: Identity, body: unknown, pathname = '/admission/validate?timeout=10s'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = https.request(
      { host: '127.0.0.1', port, path: pathname, method: 'POST', agent: false, rejectUnauthorized: false, cert: who.cert, key: who.key, headers: { 'content-type': 'application/json', 'content-length': data.length } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c) => parts.push(c as Buffer));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')) });
          } catch (e) {
            reject(e as Error);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function refused(p: Promise<Reply>): Promise<Error> {
  try {
    const r = await p;
    throw new Error(`expected the connection to be refused, got HTTP ${r.status}: ${JSON.stringify(r.body).slice(0, 200)}`);
  } catch (e) {
    if ((e as Error).message.startsWith('expected the connection')) throw e;
    return e as Error;
  }
}

function randomDigest(): string {
  return `sha256:${randomBytes(32).toString('hex')}`;
}

interface ReviewOpts { uid?: string; namespace?: string; username?: string; groups?: string[]; annotations?: Record<string, string>; kind?: 'Pod' | 'Deployment' }

function review(images: string[], o: ReviewOpts = {}): Json {
  const namespace = o.namespace ?? 'team-a';
  const spec = { containers: images.map((image, i) => ({ name: `c${i}`, image })) };
  const metadata = { name: 'p', namespace, ...(o.annotations ? { annotations: o.annotations } : {}) };
  const deployment = o.kind === 'Deployment';
  const object = deployment
    ? { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' }, ...(o.annotations ? { annotations: o.annotations } : {}) }, spec } } }
    : { apiVersion: 'v1', kind: 'Pod', metadata, spec };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: o.uid ?? randomBytes(8).toString('hex'),
      kind: deployment ? { group: 'apps', version: 'v1', kind: 'Deployment' } : { group: '', version: 'v1', kind: 'Pod' },
      resource: deployment ? { group: 'apps', version: 'v1', resource: 'deployments' } : { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      userInfo: { username: o.username ?? 'alice', groups: o.groups ?? ['system:authenticated'] },
      object,
      dryRun: false,
    },
  };
}

describe('security: admission listener authentication, break-glass and scan limits', function () {
  this.timeout(240_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let apiServer: Identity;
  let apiServer2: Identity;
  let sameCaOtherName: Identity;
  let otherCa: Identity;
  const host = `127.0.0.1:${REG_PORT}`;
  const metrics = async (name: string, labels: Record<string, string> = {}) => metricValue(await srv.metrics.text(), name, labels);

  before(async () => {
    const images = labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-adm-auth-'));
    openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pushgate.pushgate.svc',
      '-addext', 'subjectAltName=DNS:pushgate.pushgate.svc,IP:127.0.0.1', '-keyout', 'tls.key', '-out', 'tls.crt']);
    makeCA(dir, 'apiserver-client-ca');
    makeCA(dir, 'other-ca');
    apiServer = makeClient(dir, 'apiserver-client-ca', API_SERVER_CN);
    apiServer2 = makeClient(dir, 'apiserver-client-ca', API_SERVER_2_CN);
    sameCaOtherName = makeClient(dir, 'apiserver-client-ca', 'some-workload');
    otherCa = makeClient(dir, 'other-ca', API_SERVER_CN);
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.admission = {
      ...config.admission,
      listen: `127.0.0.1:${ADM_PORT}`,
      tls: { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key') },
      clientCA: path.join(dir, 'apiserver-client-ca.crt'),
      clientNames: [API_SERVER_CN, API_SERVER_2_CN],
      breakGlass: { namespaces: ['incident-*'], groups: ['sre'], users: ['oncall@example.test'] },
      scanTriggers: { maxPerReview: MAX_PER_REVIEW, ratePerSecond: 1, burst: BURST },
      // The flood below must reach the scan triggers; a review over this is denied before any lookup
      // (test/security/admission-many-images.test.ts).
      maxImagesPerReview: 2000,
      namespaces: [{ match: '*', unknown: 'deny' }],
      unguarded: 'deny',
    };
    srv = await startServer(config, silent);
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${srv.port}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}` });
    const r = await skopeoCopyAsync(`oci:${images}/node-app:vuln`, `${host}/lab/node-app:vuln`);
    expect(r.code, r.stderr).to.equal(0);
    const deadline = Date.now() + 60_000;
    while (!(await srv.store.listVerdicts({ registry: 'lab', repository: 'lab/node-app' })).some((v) => v.enforcement)) {
      if (Date.now() > deadline) throw new Error('the node-app verdict did not arrive');
      await new Promise((res) => setTimeout(res, 100));
    }
  });
  after(async () => {
    reg?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function rejectedImage(): Promise<string> {
    const v = (await srv.store.listVerdicts({ registry: 'lab', repository: 'lab/node-app' }))[0];
    expect(v.decision).to.equal('reject');
    return `${host}/lab/node-app@${v.digest}`;
  }

  describe('client certificates', () => {
    it('serves the API server\'s certificate (CA and name configured)', async () => {
      const r = await post(ADM_PORT, apiServer, review([await rejectedImage()]));
      expect(r.status).to.equal(200);
      expect(r.body.response.allowed).to.equal(false);
      expect(r.body.response.status.message).to.match(/reject/);
    });

    it('refuses the TLS handshake without a client certificate, on every path (nothing is read)', async () => {
      const before = await metrics('pushgate_admission_requests_total');
      for (const p of ['/admission/validate', '/admission/mutate', '/healthz']) {
        const e = await refused(post(ADM_PORT, {}, review([`${host}/lab/x@${randomDigest()}`]), p));
        expect(e.message).to.match(/certificate|handshake|socket hang up|ECONNRESET|alert/i);
      }
      expect(await metrics('pushgate_admission_requests_total')).to.equal(before);
      expect(await metrics('pushgate_admission_refused_total', { reason: 'no-client-cert' })).to.be.at.least(3);
    });

    it('refuses a certificate from another CA, even with the right name', async () => {
      const e = await refused(post(ADM_PORT, otherCa, review([`${host}/lab/x@${randomDigest()}`])));
      expect(e.message).to.match(/certificate|unknown ca|alert|socket hang up|ECONNRESET/i);
      expect(await metrics('pushgate_admission_refused_total', { reason: 'untrusted-client-cert' })).to.be.at.least(1);
    });

    it('refuses a certificate of the right CA whose name is not in clientNames', async () => {
      const queuedBefore = await metrics('pushgate_admission_scan_triggers_total');
      await refused(post(ADM_PORT, sameCaOtherName, review([`${host}/lab/x@${randomDigest()}`])));
      expect(await metrics('pushgate_admission_refused_total', { reason: 'client-name-not-allowed' })).to.be.at.least(1);
      expect(await metrics('pushgate_admission_scan_triggers_total')).to.equal(queuedBefore);
    });
  });

  describe('break-glass', () => {
    const glass = { [BREAK_GLASS_ANNOTATION]: 'INC-7 hotfix' };

    it('is ignored, with a warning, for a user or namespace config does not list (and the image stays denied)', async () => {
      const image = await rejectedImage();
      const cases: ReviewOpts[] = [
        { namespace: 'team-a', username: 'mallory', groups: ['developers'], annotations: glass },
        { namespace: 'team-a', username: 'sam', groups: ['sre'], annotations: glass }, // listed group, unlisted namespace
        { namespace: 'incident-7', username: 'mallory', groups: ['developers'], annotations: glass }, // listed namespace, unlisted user
        { namespace: 'incident-7', username: 'mallory', groups: ['developers'], annotations: glass, kind: 'Deployment' },
        // The object claiming another namespace changes nothing: request.namespace decides.
        { namespace: 'team-a', username: 'sam', groups: ['sre'], annotations: { ...glass } },
      ];
      for (const c of cases) {
        const body = review([image], c);
        if (c === cases[4]) body.request.object.metadata.namespace = 'incident-7';
        const r = await post(ADM_PORT, apiServer, body);
        expect(r.body.response.allowed, JSON.stringify(c)).to.equal(false);
        expect(r.body.response.warnings.join(' '), JSON.stringify(c)).to.contain('break-glass ignored');
        expect(r.body.response.status.message).to.contain('break-glass annotation ignored');
      }
      const refusedRows = await srv.store.listAudit(20, { action: 'admission.break-glass-refused' });
      expect(refusedRows.map((a) => a.actor).sort()).to.deep.equal(['mallory', 'mallory', 'mallory', 'sam', 'sam']);
      expect(await srv.store.listAudit(20, { action: 'admission.break-glass' })).to.deep.equal([]);
    });

    it('admits for a listed group (or user) in a listed namespace and audits it with the user', async () => {
      const image = await rejectedImage();
      const r = await post(ADM_PORT, apiServer, review([image], { namespace: 'incident-7', username: 'sam', groups: ['system:authenticated', 'sre'], annotations: glass }));
      expect(r.body.response.allowed).to.equal(true);
      expect(r.body.response.warnings[0]).to.contain('break-glass (INC-7 hotfix)');
      const r2 = await post(ADM_PORT, apiServer2, review([image], { namespace: 'incident-9', username: 'oncall@example.test', groups: [], annotations: glass, kind: 'Deployment' }));
      expect(r2.body.response.allowed).to.equal(true);
      const rows = await srv.store.listAudit(10, { action: 'admission.break-glass' });
      expect(rows.map((a) => a.actor).sort()).to.deep.equal(['oncall@example.test', 'sam']);
      const sam = rows.find((a) => a.actor === 'sam')!;
      expect(sam.detail?.allowedBy).to.deep.equal(['namespace:incident-7', 'group:sre']);
      expect(sam.detail?.reason).to.equal('INC-7 hotfix');
      expect(JSON.stringify(sam.detail?.images)).to.contain('"decision":"reject"');
      expect(await metrics('pushgate_admission_break_glass_total', { result: 'honoured' })).to.equal(2);
    });
  });

  describe('scans started by reviews', () => {
    it('a review naming 2,000 made-up digests queues at most maxPerReview scans; a real quarantine pushed meanwhile finishes promptly', async () => {
      const images = labImages();
      const queuedBefore = await metrics('pushgate_admission_scan_triggers_total', { result: 'queued' });
      const bogus = Array.from({ length: 2000 }, (_, i) => `${host}/lab/bogus-${i % 7}@${randomDigest()}`);
      const t0 = Date.now();
      const flood = post(ADM_PORT, apiServer, review(bogus, { uid: 'flood' }));
      const push = skopeoCopyAsync(`oci:${images}/adm-zip:0.4.7`, `${host}/lab/adm-zip:0.4.7`);
      const r = await flood;
      const reviewMs = Date.now() - t0;
      const depthAfterReview = await srv.store.queueDepth();
      expect(r.body.response.allowed).to.equal(false);
      expect(r.body.response.status.message).to.match(/^pushgate denied 2000 image\(s\)/);
      expect((await push).code).to.equal(0);
      const pushedAt = Date.now();
      const deadline = pushedAt + 60_000;
      let v;
      while (!(v = (await srv.store.listVerdicts({ registry: 'lab', repository: 'lab/adm-zip' }))[0])?.enforcement) {
        if (Date.now() > deadline) throw new Error('the quarantine did not complete');
        await new Promise((res) => setTimeout(res, 25));
      }
      const quarantineMs = Date.now() - pushedAt;
      expect(v.decision).to.equal('quarantine');
      const tags = (await (await fetch(`http://${host}/v2/quarantine/lab/adm-zip/tags/list`)).json()) as { tags: string[] };
      expect(tags.tags).to.deep.equal(['0.4.7']);
      const queued = (await metrics('pushgate_admission_scan_triggers_total', { result: 'queued' })) - queuedBefore;
      console.log(`      review of 2,000 made-up digests: answered in ${reviewMs} ms, ${queued} scans queued, queue depth ${depthAfterReview} after it; quarantine of a real push completed ${quarantineMs} ms after the push`);
      expect(queued).to.equal(MAX_PER_REVIEW);
      expect(await metrics('pushgate_admission_scan_triggers_total', { result: 'over-review-cap' })).to.equal(2000 - MAX_PER_REVIEW);
      expect(depthAfterReview).to.be.at.most(MAX_PER_REVIEW + 2);
      // Before the limits, 2,000 queued events delayed the same quarantine from 0.7 s to 19 s.
      expect(quarantineMs).to.be.below(10_000);
    });

    it('repeated reviews of one digest (in sequence and at once) queue one scan', async () => {
      const digest = randomDigest();
      const image = `${host}/lab/repeat@${digest}`;
      const before = { queued: await metrics('pushgate_admission_scan_triggers_total', { result: 'queued' }), coalesced: await metrics('pushgate_admission_scan_triggers_total', { result: 'coalesced' }) };
      for (let i = 0; i < 5; i++) expect((await post(ADM_PORT, apiServer, review([image]))).body.response.allowed).to.equal(false);
      await Promise.all(Array.from({ length: 5 }, () => post(ADM_PORT, apiServer2, review([image, `${host}/lab/repeat:v1@${digest}`]))));
      expect((await metrics('pushgate_admission_scan_triggers_total', { result: 'queued' })) - before.queued).to.equal(1);
      expect((await metrics('pushgate_admission_scan_triggers_total', { result: 'coalesced' })) - before.coalesced).to.equal(14);
      // The one event ran (the digest does not exist: recorded as gone) — exactly once.
      const deadline = Date.now() + 30_000;
      while ((await srv.store.listAudit(10, { digest })).length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      const rows = await srv.store.listAudit(10, { digest });
      expect(rows.map((a) => a.action)).to.deep.equal(['manifest-gone']);
    });

    it('rate-limits scan triggers per caller: one caller\'s burst does not spend another\'s', async () => {
      // The first identity spent MAX_PER_REVIEW + 1 tokens above; spend the rest of its burst and more.
      const limited = await metrics('pushgate_admission_scan_triggers_total', { result: 'rate-limited' });
      let lastMessage = '';
      for (let i = 0; i < 5; i++) {
        const r = await post(ADM_PORT, apiServer, review(Array.from({ length: MAX_PER_REVIEW }, () => `${host}/lab/rl@${randomDigest()}`)));
        lastMessage = r.body.response.status.message;
      }
      expect(lastMessage).to.contain('too many scans requested by this caller');
      expect((await metrics('pushgate_admission_scan_triggers_total', { result: 'rate-limited' })) - limited).to.be.greaterThan(0);
      const other = await post(ADM_PORT, apiServer2, review([`${host}/lab/rl@${randomDigest()}`]));
      expect(other.body.response.status.message).to.contain('a scan was queued');
    });
  });
});

/**
 * Property: for generated reviews (random userInfo, namespaces, annotations, image lists with
 * repeats), over the real listener and TLS with a real gate and SQLite store: break-glass is
 * honoured iff config lists the namespace and the user or one of its groups, and no (registry,
 * repository, digest) ever has more than one queued event, even with the in-memory coalescing off
 * (the store's check alone).
 */
describe('security: admission property — break-glass iff configured, one queued scan per digest', function () {
  this.timeout(240_000);
  let dir: string;
  let store: Store;
  let gate: Gate;
  let listener: AdmissionListener;
  let apiServer: Identity;
  const inserted = new Map<string, number>();
  const host = `127.0.0.1:${REG_PORT + 50}`; // never contacted: the gate is not started and images carry digests
  const BG = { namespaces: ['incident-*', 'hotfix'], groups: ['sre', 'oncall'], users: ['root@example.test'] };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-adm-prop-'));
    openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pushgate', '-keyout', 'tls.key', '-out', 'tls.crt']);
    makeCA(dir, 'ca');
    apiServer = makeClient(dir, 'ca', API_SERVER_CN);
    const config = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT + 50, TOKEN)]);
    config.admission = { ...config.admission, breakGlass: BG, namespaces: [{ match: '*', unknown: 'deny' }], scanTriggers: { maxPerReview: 1000, ratePerSecond: 0, burst: 1_000_000 } };
    const real = await openStore(config.store.url);
    // Counts what the store actually inserted, per key.
    store = new Proxy(real, {
      get(target, prop, recv) {
        if (prop === 'enqueueUnlessPending') {
          return async (ev: PushEvent) => {
            const r = await target.enqueueUnlessPending(ev);
            if (r.inserted) {
              const k = `${ev.registry}/${ev.repository}@${ev.digest}`;
              inserted.set(k, (inserted.get(k) ?? 0) + 1);
            }
            return r;
          };
        }
        const v = Reflect.get(target, prop, recv);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    gate = new Gate({ config, store, policy: defaultPolicy(), logger: silent });
    listener = await startAdmissionListener(
      { gate, config: config.admission, scanTriggers: new ScanTriggers({ limits: config.admission.scanTriggers!, coalesceMs: 0 }) },
      { listen: `127.0.0.1:${PROP_PORT}`, cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key'), clientCA: path.join(dir, 'ca.crt'), clientNames: [API_SERVER_CN] },
    );
  });
  after(async () => {
    await listener?.close();
    await gate?.stop();
    await store?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('holds for generated reviews', async () => {
    const digests = Array.from({ length: 6 }, () => randomDigest());
    const arbImage = fc.record({ repo: fc.constantFrom('team/app', 'team/db', 'x/y'), d: fc.integer({ min: 0, max: digests.length - 1 }), tag: fc.option(fc.constantFrom('1', 'latest'), { nil: undefined }) })
      .map(({ repo, d, tag }) => `${host}/${repo}${tag ? `:${tag}` : ''}@${digests[d]}`);
    const arbReview = fc.record({
      namespace: fc.constantFrom('team-a', 'incident-1', 'incident-', 'hotfix', 'hotfix-2', 'kube-public', ''),
      username: fc.constantFrom('alice', 'root@example.test', 'ROOT@example.test', 'system:serviceaccount:kube-system:replicaset-controller', ''),
      groups: fc.subarray(['sre', 'SRE', 'oncall', 'developers', 'system:authenticated', 'sre ']),
      glass: fc.option(fc.constantFrom('INC-1', '  why  ', ''), { nil: undefined }),
      onTemplate: fc.boolean(),
      objectNamespace: fc.constantFrom(undefined, 'incident-1', 'hotfix'),
      images: fc.array(arbImage, { minLength: 1, maxLength: 8 }),
    });
    let honouredSeen = 0;
    let refusedSeen = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(arbReview, { minLength: 1, maxLength: 4 }), async (reviews) => {
        const replies = await Promise.all(reviews.map(async (g) => {
          const body = review(g.images, { namespace: g.namespace, username: g.username, groups: g.groups, kind: g.onTemplate ? 'Deployment' : 'Pod', annotations: g.glass === undefined ? undefined : { [BREAK_GLASS_ANNOTATION]: g.glass } });
          body.request.namespace = g.namespace;
          // What the object says about its namespace never counts.
          if (g.objectNamespace) body.request.object.metadata.namespace = g.objectNamespace;
          return { g, r: await post(PROP_PORT, apiServer, body) };
        }));
        for (const { g, r } of replies) {
          const annotated = g.glass !== undefined && g.glass.trim() !== '';
          const nsOk = g.namespace.startsWith('incident-') || g.namespace === 'hotfix';
          const whoOk = g.username === 'root@example.test' || g.groups.includes('sre') || g.groups.includes('oncall');
          const honoured = annotated && nsOk && whoOk;
          // Every image is unscanned (deny rule): allowed iff break-glass was honoured.
          expect(r.body.response.allowed, JSON.stringify(g)).to.equal(honoured);
          if (honoured) honouredSeen++;
          if (annotated && !honoured) {
            refusedSeen++;
            expect(r.body.response.warnings.join(' ')).to.contain('break-glass ignored');
          }
        }
        for (const [k, n] of inserted) expect(n, k).to.equal(1);
      }),
      { numRuns: 60 },
    );
    expect(honouredSeen).to.be.greaterThan(0);
    expect(refusedSeen).to.be.greaterThan(0);
    expect(inserted.size).to.be.greaterThan(0);
    expect(await store.queueDepth()).to.equal(inserted.size);
  });
});

/**
 * The chart's generated client CA and API server certificate (what `kubeconfig.yaml` hands
 * kube-apiserver) against the real listener configured as the chart renders it.
 */
describe('security: the Helm chart\'s client certificate is what the listener accepts', function () {
  this.timeout(120_000);
  it('the kubeconfig\'s certificate is served; no certificate, and another CA\'s with the same CN, are refused', async () => {
    const objs: Json[] = renderChart(path.join(ROOT, 'charts', 'pushgate')).flatMap((f) => f.docs);
    const secret = objs.find((o: Json) => o?.kind === 'Secret' && o.metadata.name === 'pushgate-admission-client');
    const cfg = YAML.parse(objs.find((o: Json) => o?.kind === 'ConfigMap' && o.metadata.name === 'pushgate').data['pushgate.yaml']);
    const kc = YAML.parse(Buffer.from(secret.data['kubeconfig.yaml'], 'base64').toString());
    const apiServer = { cert: Buffer.from(kc.users[0].user['client-certificate-data'], 'base64'), key: Buffer.from(kc.users[0].user['client-key-data'], 'base64') };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-adm-chart-'));
    let listener: AdmissionListener | undefined;
    try {
      fs.writeFileSync(path.join(dir, 'ca.crt'), Buffer.from(secret.data['ca.crt'], 'base64'));
      openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pushgate', '-keyout', 'tls.key', '-out', 'tls.crt']);
      makeCA(dir, 'other');
      const gate = new FakeGate();
      listener = await startAdmissionListener(
        { gate, config: admissionConfig() },
        { listen: `127.0.0.1:${CHART_PORT}`, cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key'), clientCA: path.join(dir, 'ca.crt'), clientNames: cfg.admission.clientNames },
      );
      const r = await post(CHART_PORT, apiServer, review(['registry.example.test/team/app@' + randomDigest()]));
      expect(r.status).to.equal(200);
      expect(r.body.response.allowed).to.equal(false);
      await refused(post(CHART_PORT, {}, review([])));
      await refused(post(CHART_PORT, makeClient(dir, 'other', cfg.admission.clientNames[0]), review([])));
    } finally {
      await listener?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
