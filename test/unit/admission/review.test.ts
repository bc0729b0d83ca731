import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../helpers/lab.js';
import { mutateReview, validateReview, BREAK_GLASS_ANNOTATION, type AdmissionDeps } from '../../../src/admission/review.js';
import { createDigestCache } from '../../../src/admission/digest-cache.js';
import { FakeGate, admissionConfig, dg, verdict } from './fake-gate.js';
import type { PushgateConfig } from '../../../src/config/types.js';

const FIX = path.join(ROOT, 'test', 'fixtures', 'admission');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
function load(name: string): Json {
  return JSON.parse(fs.readFileSync(path.join(FIX, `admissionreview-${name}.json`), 'utf8'));
}

const D_APP = dg(1);
const D_MIG = dg(2);
const D_DEBUG = dg(3);
const D_MODEL = dg(4);
const NGINX_DIGEST = 'sha256:fea45b30ff7d9a96aa3dc350da9cd4ccbc7eaee2f7d10f1f98a5ebd648644787';

function setup(cfg: Partial<PushgateConfig['admission']> = {}): { gate: FakeGate; deps: AdmissionDeps } {
  const gate = new FakeGate();
  gate.tags.set('team/app:1.4.2', D_APP);
  gate.tags.set('team/app-migrations:1.4.2', D_MIG);
  gate.tags.set('tools/debug:2.0', D_DEBUG);
  gate.tags.set('ml/model:v3', D_MODEL);
  // The fixtures name tags with the API server's IfNotPresent default. These tests are about verdicts,
  // tag resolution, namespace rules and pins, so admission.unpinnedTags is off unless a test sets it;
  // the same fixtures under the default (deny) are in unpinned-tags.test.ts.
  const config = admissionConfig({ unpinnedTags: 'allow', ...cfg });
  return { gate, deps: { gate, config, digestCache: createDigestCache(gate, config.digestCacheTtlMs) } };
}

function allowAll(gate: FakeGate): void {
  gate.put(verdict('team/app', D_APP, 'allow'));
  gate.put(verdict('team/app-migrations', D_MIG, 'allow'));
  gate.put(verdict('tools/debug', D_DEBUG, 'allow'));
  gate.put(verdict('ml/model', D_MODEL, 'allow'));
}

async function validate(body: unknown, deps: AdmissionDeps, deadlineMs?: number): Promise<{ status: number; body: Json; response: Json }> {
  const r = await validateReview(body, deps, deadlineMs === undefined ? undefined : { deadlineMs });
  return { status: r.status, body: r.body, response: (r.body as Json).response };
}

describe('admission/review validateReview', () => {
  const kinds = ['pod-create', 'deployment-create', 'statefulset', 'daemonset', 'replicaset', 'job', 'cronjob', 'replicationcontroller', 'podtemplate', 'pod-image-volume'];
  for (const k of kinds) {
    it(`allows ${k} when every guarded image has an allow verdict, echoing the uid`, async () => {
      const { gate, deps } = setup();
      allowAll(gate);
      const body = load(k);
      const r = await validate(body, deps);
      expect(r.status).to.equal(200);
      expect(r.body.apiVersion).to.equal('admission.k8s.io/v1');
      expect(r.body.kind).to.equal('AdmissionReview');
      expect(r.response).to.deep.equal({ uid: body.request.uid, allowed: true });
      expect(gate.metrics.map((m) => m.decision)).to.deep.equal(['allow']);
    });

    it(`denies ${k} when its app image is quarantined, naming image, path, decision and reasons`, async () => {
      const { gate, deps } = setup();
      allowAll(gate);
      gate.put(verdict('team/app', D_APP, 'quarantine', [['fixable-high-vulns', 'CVE-2024-1 in openssl 3.0.11, fixed in 3.0.13'], ['runs-as-root', 'runs as root']]));
      const body = load(k);
      const r = await validate(body, deps);
      expect(r.status).to.equal(200);
      expect(r.response.uid).to.equal(body.request.uid);
      expect(r.response.allowed).to.equal(false);
      expect(r.response.status.code).to.equal(403);
      const msg: string = r.response.status.message;
      const base = { 'deployment-create': 'spec.template.spec', cronjob: 'spec.jobTemplate.spec.template.spec', podtemplate: 'template.spec' }[k] ?? (k.startsWith('pod') ? 'spec' : 'spec.template.spec');
      expect(msg).to.contain('image "registry.example.test/team/app:1.4.2"');
      expect(msg).to.contain(`at ${base}.containers[0].image`);
      expect(msg).to.contain('quarantine');
      expect(msg).to.contain('fixable-high-vulns: CVE-2024-1 in openssl 3.0.11, fixed in 3.0.13');
      expect(msg).to.contain(D_APP.slice(0, 19));
      expect(msg).not.to.contain('app-migrations');
      expect(gate.metrics.map((m) => m.decision)).to.deep.equal(['deny']);
    });
  }

  it('denies a reject verdict of an image volume with its field path', async () => {
    const { gate, deps } = setup();
    allowAll(gate);
    gate.put(verdict('ml/model', D_MODEL, 'reject', [['secrets', 'private key in /model/key.pem']]));
    const r = await validate(load('pod-image-volume'), deps);
    expect(r.response.allowed).to.equal(false);
    expect(r.response.status.message).to.match(/image "registry.example.test\/ml\/model:v3" at spec\.volumes\[1\]\.image\.reference .*: reject — secrets: private key/);
  });

  it('denies an incomplete-and-blocking verdict and allows an incomplete allow verdict', async () => {
    const { gate, deps } = setup();
    allowAll(gate);
    gate.put(verdict('team/app', D_APP, 'quarantine', [['incomplete-scan', 'layer 3 could not be read']], false));
    let r = await validate(load('pod-create'), deps);
    expect(r.response.allowed).to.equal(false);
    expect(r.response.status.message).to.contain('incomplete-scan: layer 3 could not be read');
    gate.put(verdict('team/app', D_APP, 'allow', [], false));
    r = await validate(load('pod-create'), deps);
    expect(r.response.allowed).to.equal(true);
  });

  it('puts warn verdicts into response.warnings of at most 120 characters', async () => {
    const { gate, deps } = setup();
    allowAll(gate);
    gate.put(verdict('team/app', D_APP, 'warn', [['runs-as-root', 'the image config has no USER; add USER 10001 to the Dockerfile so it does not run as root '.repeat(3)]]));
    const r = await validate(load('deployment-create'), deps);
    expect(r.response.allowed).to.equal(true);
    expect(r.response.warnings).to.have.length(1);
    const w: string = r.response.warnings[0];
    expect(w.length).to.be.at.most(120);
    expect(w).to.match(/^registry\.example\.test\/team\/app:1\.4\.2 at spec\.template\.spec\.containers\[0\]\.image: warn: runs-as-root/);
    expect(gate.metrics[0].decision).to.equal('warn');
  });

  it('follows the current policy mode: warn mode warns, audit mode admits silently with an audit annotation', async () => {
    const { gate, deps } = setup();
    allowAll(gate);
    gate.put(verdict('team/app', D_APP, 'reject', [['secrets', 'AWS key in /app/.env']]));
    gate.modes.set('team/app', 'warn');
    let r = await validate(load('pod-create'), deps);
    expect(r.response.allowed).to.equal(true);
    expect(r.response.warnings[0]).to.contain('reject: secrets: AWS key');
    gate.modes.set('team/app', 'audit');
    r = await validate(load('pod-create'), deps);
    expect(r.response.allowed).to.equal(true);
    expect(r.response.warnings).to.equal(undefined);
    expect(r.response.auditAnnotations['audit-mode']).to.contain('reject (audit mode)');
  });

  describe('images without a verdict', () => {
    it('deny rule: denies and queues one scan per digest (not on dryRun)', async () => {
      const { gate, deps } = setup({ namespaces: [{ match: 'team-*', unknown: 'deny' }] });
      allowAll(gate);
      gate.verdicts.clear();
      const r = await validate(load('deployment-create'), deps);
      expect(r.response.allowed).to.equal(false);
      expect(r.response.status.message).to.contain('spec.template.spec.initContainers[0].image');
      expect(r.response.status.message).to.contain('unknown — never scanned; a scan was queued');
      expect(gate.enqueued.map((e) => `${e.repository}@${e.digest}:${e.source}`).sort()).to.deep.equal([`team/app-migrations@${D_MIG}:admission`, `team/app@${D_APP}:admission`]);
      const dry = load('deployment-create');
      dry.request.dryRun = true;
      gate.enqueued = [];
      const r2 = await validate(dry, deps);
      expect(r2.response.allowed).to.equal(false);
      expect(gate.enqueued).to.deep.equal([]);
    });

    it('no matching rule: fails closed (deny)', async () => {
      const { deps } = setup({ namespaces: [{ match: 'other', unknown: 'allow' }] });
      const r = await validate(load('pod-create'), deps);
      expect(r.response.allowed).to.equal(false);
    });

    it('allow rule: admits with a warning and queues a scan', async () => {
      const { gate, deps } = setup({ namespaces: [{ match: 'team-app', unknown: 'allow' }, { match: '*', unknown: 'deny' }] });
      const r = await validate(load('pod-create'), deps);
      expect(r.response.allowed).to.equal(true);
      expect(r.response.warnings).to.have.length(2);
      expect(r.response.warnings[0]).to.contain('unknown: not scanned yet');
      expect(gate.enqueued).to.have.length(2);
    });

    it('scan rule: scans within the budget and decides from the new verdict', async () => {
      const { gate, deps } = setup({ namespaces: [{ match: '*', unknown: 'scan' }] });
      allowAll(gate);
      gate.verdicts.delete(`example/team/app@${D_APP}`);
      gate.scanResults.set(`team/app@${D_APP}`, verdict('team/app', D_APP, 'quarantine', [['fixable-high-vulns', 'adm-zip 0.4.7 NSWG-NPM-458']]));
      gate.assessDelayMs = 20;
      const r = await validate(load('pod-create'), deps, 2000);
      expect(gate.assessed).to.have.length(1);
      expect(r.response.allowed).to.equal(false);
      expect(r.response.status.message).to.contain('quarantine — fixable-high-vulns: adm-zip 0.4.7');
      // Admission never scans a digest twice: the stored verdict answers now.
      await validate(load('pod-create'), deps, 2000);
      expect(gate.assessed).to.have.length(1);
    });

    it('scan rule: denies with "scan in progress, retry" when the budget runs out, and the scan goes on', async () => {
      const { gate, deps } = setup({ namespaces: [{ match: '*', unknown: 'scan' }] });
      allowAll(gate);
      gate.verdicts.delete(`example/team/app@${D_APP}`);
      gate.scanResults.set(`team/app@${D_APP}`, verdict('team/app', D_APP, 'allow'));
      gate.assessDelayMs = 400;
      const t0 = Date.now();
      const r = await validate(load('pod-create'), deps, 150);
      expect(Date.now() - t0).to.be.below(350);
      expect(r.response.allowed).to.equal(false);
      expect(r.response.status.message).to.contain('scan in progress, retry');
      await new Promise((res) => setTimeout(res, 400));
      const again = await validate(load('pod-create'), deps, 150);
      expect(again.response.allowed).to.equal(true);
    });

    it('scan rule on dryRun: nothing is scanned', async () => {
      const { gate, deps } = setup({ namespaces: [{ match: '*', unknown: 'scan' }] });
      const body = load('pod-create');
      body.request.dryRun = true;
      const r = await validate(body, deps);
      expect(r.response.allowed).to.equal(false);
      expect(r.response.status.message).to.contain('dry run');
      expect(gate.assessed).to.deep.equal([]);
      expect(gate.enqueued).to.deep.equal([]);
    });

    it('a failed scan denies with a retry hint and counts as error', async () => {
      const { gate, deps } = setup({ namespaces: [{ match: '*', unknown: 'scan' }] });
      allowAll(gate);
      gate.verdicts.delete(`example/team/app@${D_APP}`);
      const r = await validate(load('pod-create'), deps);
      expect(r.response.allowed).to.equal(false);
      expect(r.response.status.message).to.contain('scan failed');
      expect(gate.metrics[0].decision).to.equal('error');
    });
  });

  describe('references and tag resolution', () => {
    it('decides name:tag@digest on the digest without resolving the tag', async () => {
      const { gate, deps } = setup();
      allowAll(gate);
      gate.put(verdict('team/app', D_APP, 'reject', [['secrets', 'key']]));
      const body = load('pod-create');
      body.request.object.spec.containers[0].image = `registry.example.test/team/app:1.4.2@${dg(9)}`;
      gate.put(verdict('team/app', dg(9), 'allow'));
      const r = await validate(body, deps);
      expect(r.response.allowed).to.equal(true);
      expect(gate.resolveCalls).to.deep.equal(['team/app-migrations:1.4.2']);
    });

    it('caches tag → digest for the TTL, then resolves again so a re-pushed tag is judged', async () => {
      const gate = new FakeGate();
      gate.tags.set('team/app:1.4.2', D_APP);
      gate.put(verdict('team/app', D_APP, 'allow'));
      gate.put(verdict('team/app', dg(7), 'reject', [['secrets', 'key']]));
      const config = admissionConfig();
      const deps = { gate, config, digestCache: createDigestCache(gate, 100) };
      // Always: the node pulls what the tag names, so the resolution at admission is what decides.
      const body = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u1', kind: { kind: 'Pod' }, operation: 'CREATE', namespace: 'n', object: { spec: { containers: [{ image: 'registry.example.test/team/app:1.4.2', imagePullPolicy: 'Always' }] } } } };
      expect((await validate(body, deps)).response.allowed).to.equal(true);
      expect((await validate(body, deps)).response.allowed).to.equal(true);
      expect(gate.resolveCalls).to.have.length(1);
      gate.tags.set('team/app:1.4.2', dg(7)); // re-pushed
      await new Promise((r) => setTimeout(r, 150));
      const r = await validate(body, deps);
      expect(gate.resolveCalls).to.have.length(2);
      expect(r.response.allowed).to.equal(false);
    });

    it('normalizes references as the runtime does (implicit tag latest, host detection)', async () => {
      const { gate, deps } = setup();
      gate.tags.set('team/app:latest', dg(5));
      gate.put(verdict('team/app', dg(5), 'allow'));
      const body = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: { kind: 'Pod' }, operation: 'CREATE', namespace: 'n', object: { spec: { containers: [{ image: 'registry.example.test/team/app' }, { image: 'nginx' }] } } } };
      const r = await validate(body, deps);
      expect(r.response.allowed).to.equal(true);
      expect(gate.resolveCalls).to.deep.equal(['team/app:latest']);
    });

    it('denies a tag that does not exist and an invalid reference', async () => {
      const { deps } = setup();
      const body = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: { kind: 'Pod' }, operation: 'CREATE', namespace: 'n', object: { spec: { containers: [{ image: 'registry.example.test/team/gone:1' }, { image: 'registry.example.test/Team/App:1' }] } } } };
      const r = await validate(body, deps);
      expect(r.response.allowed).to.equal(false);
      expect(r.response.status.message).to.contain('spec.containers[0].image');
      expect(r.response.status.message).to.contain('tag-not-found');
      expect(r.response.status.message).to.contain('spec.containers[1].image');
      expect(r.response.status.message).to.contain('invalid-reference');
    });

    it('fails closed with a retry hint when the registry or the store fails, or does not answer in time', async () => {
      const { gate, deps } = setup();
      gate.resolveError = new Error('connect ECONNREFUSED');
      let r = await validate(load('pod-create'), deps);
      expect(r.response.allowed).to.equal(false);
      expect(r.response.status.message).to.contain('cannot resolve tag 1.4.2 in registry example: connect ECONNREFUSED; retry');
      expect(gate.metrics.at(-1)?.decision).to.equal('error');
      gate.resolveError = undefined;
      gate.verdictError = new Error('database is locked');
      r = await validate(load('pod-create'), deps);
      expect(r.response.status.message).to.contain('verdict lookup failed: database is locked');
      gate.verdictError = undefined;
      deps.digestCache!.clear();
      gate.resolveDelayMs = 500;
      const t0 = Date.now();
      r = await validate(load('pod-create'), deps, 120);
      expect(Date.now() - t0).to.be.below(400);
      expect(r.response.allowed).to.equal(false);
      expect(r.response.status.message).to.contain('did not answer within the admission timeout');
    });
  });

  describe('unguarded registries', () => {
    const body = () => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: { kind: 'Pod' }, operation: 'CREATE', namespace: 'n', object: { spec: { containers: [{ image: 'quay.io/prometheus/node-exporter:v1.8.0' }] } } } });
    it('allow', async () => {
      const { deps } = setup({ unguarded: 'allow' });
      expect((await validate(body(), deps)).response).to.deep.equal({ uid: 'u', allowed: true });
    });
    it('warn', async () => {
      const { deps } = setup({ unguarded: 'warn' });
      const r = await validate(body(), deps);
      expect(r.response.allowed).to.equal(true);
      expect(r.response.warnings).to.have.length(1);
      expect(r.response.warnings[0]).to.have.length(120);
      expect(r.response.warnings[0]).to.equal('quay.io/prometheus/node-exporter:v1.8.0 at spec.containers[0].image: unguarded: registry quay.io is not guarded by push…');
    });
    it('deny', async () => {
      const { deps } = setup({ unguarded: 'deny' });
      const r = await validate(body(), deps);
      expect(r.response.allowed).to.equal(false);
      expect(r.response.status.message).to.contain('image "quay.io/prometheus/node-exporter:v1.8.0" at spec.containers[0].image: unguarded — registry quay.io is not guarded');
    });
  });

  describe('exemptions and break-glass', () => {
    it('exempt namespaces pass without lookups', async () => {
      const { gate, deps } = setup({ exemptions: { namespaces: ['team-*'], images: [] } });
      const r = await validate(load('pod-create'), deps);
      expect(r.response.allowed).to.equal(true);
      expect(gate.resolveCalls).to.deep.equal([]);
    });

    it('exempt image globs match the written and the normalized reference', async () => {
      const { gate, deps } = setup({ exemptions: { namespaces: [], images: ['registry.example.test/team/app-*'] } });
      gate.put(verdict('team/app', D_APP, 'allow'));
      const r = await validate(load('pod-create'), deps);
      expect(r.response.allowed).to.equal(true);
      expect(gate.resolveCalls).to.deep.equal(['team/app:1.4.2']);
      const { deps: d2 } = setup({ exemptions: { namespaces: [], images: ['docker.io/library/busybox'] }, unguarded: 'deny' });
      const body = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: { kind: 'Pod' }, operation: 'CREATE', namespace: 'n', object: { spec: { containers: [{ image: 'busybox' }] } } } };
      expect((await validate(body, d2)).response.allowed).to.equal(true);
      body.request.object.spec.containers[0].image = 'alpine';
      expect((await validate(body, d2)).response.allowed).to.equal(false);
    });

    const API_SERVER = { caller: { authenticated: true, id: 'cert:CN=kube-apiserver' } };
    const SRE = { namespaces: [], groups: ['sre'], users: [] };

    it('break-glass on the pod template by a listed group admits a denied image and writes an audit record', async () => {
      const { gate, deps } = setup({ breakGlass: SRE });
      allowAll(gate);
      gate.put(verdict('team/app', D_APP, 'reject', [['secrets', 'key']]));
      const body = load('deployment-create');
      body.request.userInfo.groups = ['developers', 'sre'];
      body.request.object.spec.template.metadata.annotations = { [BREAK_GLASS_ANNOTATION]: 'INC-4242 hotfix' };
      const r = { response: ((await validateReview(body, deps, API_SERVER)).body as Json).response };
      expect(r.response.allowed).to.equal(true);
      expect(r.response.warnings[0]).to.contain('break-glass (INC-4242 hotfix): 1 image(s)');
      expect(gate.audits).to.have.length(1);
      const a = gate.audits[0];
      expect(a.actor).to.equal('alice@example.test');
      expect(a.action).to.equal('admission.break-glass');
      expect(a.detail?.reason).to.equal('INC-4242 hotfix');
      expect(a.detail?.allowedBy).to.deep.equal(['group:sre']);
      expect(JSON.stringify(a.detail?.images)).to.contain('"decision":"reject"');
      expect(gate.enqueued).to.deep.equal([]);
    });

    it('break-glass by anyone config does not list is ignored, said in a warning, and audited as refused', async () => {
      const { gate, deps } = setup({ breakGlass: SRE });
      gate.put(verdict('team/app', D_APP, 'reject', [['secrets', 'key']]));
      const body = load('deployment-create');
      body.request.userInfo.groups = ['developers'];
      body.request.object.spec.template.metadata.annotations = { [BREAK_GLASS_ANNOTATION]: 'trust me' };
      const r = ((await validateReview(body, deps, API_SERVER)).body as Json).response;
      expect(r.allowed).to.equal(false);
      expect(r.warnings[0]).to.match(/^pushgate break-glass ignored: user "alice@example.test"/);
      expect(r.status.message).to.contain('break-glass annotation ignored');
      expect(gate.audits.map((a) => [a.actor, a.action])).to.deep.equal([['alice@example.test', 'admission.break-glass-refused']]);
    });

    it('without admission.breakGlass the annotation is ignored for everyone', async () => {
      const { gate, deps } = setup();
      gate.put(verdict('team/app', D_APP, 'reject', [['secrets', 'key']]));
      const body = load('deployment-create');
      body.request.userInfo.groups = ['system:masters', 'sre'];
      body.request.object.spec.template.metadata.annotations = { [BREAK_GLASS_ANNOTATION]: 'INC-1' };
      const r = ((await validateReview(body, deps, API_SERVER)).body as Json).response;
      expect(r.allowed).to.equal(false);
      expect(r.warnings[0]).to.contain('not enabled');
    });

    it('an unauthenticated caller: break-glass judged on its claims but audited as "unauthenticated"', async () => {
      const { gate, deps } = setup({ breakGlass: SRE });
      gate.put(verdict('team/app', D_APP, 'reject', [['secrets', 'key']]));
      const body = load('deployment-create');
      body.request.userInfo.groups = ['sre'];
      body.request.object.spec.template.metadata.annotations = { [BREAK_GLASS_ANNOTATION]: 'INC-2' };
      const r = ((await validateReview(body, deps, { caller: { authenticated: false, id: 'addr:10.0.0.9' } })).body as Json).response;
      expect(r.allowed).to.equal(true);
      expect(gate.audits.map((a) => a.actor)).to.deep.equal(['unauthenticated']);
      expect(gate.audits[0].detail?.claimedUser).to.deep.equal({ username: 'alice@example.test', groups: ['sre'] });
    });

    it('break-glass on dryRun writes nothing; a failing audit write denies', async () => {
      const { gate, deps } = setup({ breakGlass: { namespaces: ['team-*'], groups: [], users: [] } });
      const body = load('pod-create');
      body.request.object.metadata.annotations = { [BREAK_GLASS_ANNOTATION]: 'why' };
      body.request.dryRun = true;
      expect(((await validateReview(body, deps, API_SERVER)).body as Json).response.allowed).to.equal(true);
      expect(gate.audits).to.deep.equal([]);
      body.request.dryRun = false;
      gate.auditError = new Error('store down');
      const r = { response: ((await validateReview(body, deps, API_SERVER)).body as Json).response };
      expect(r.response.allowed).to.equal(false);
      expect(r.response.status.message).to.contain('audit record could not be written');
    });
  });

  describe('scans started by reviews', () => {
    const many = (n: number, start = 10) => Array.from({ length: n }, (_, i) => ({ name: `c${i}`, image: `registry.example.test/team/app@${dg(start + i)}` }));
    const podOf = (containers: Json[], namespace = 'team-app') => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: { kind: 'Pod' }, operation: 'CREATE', namespace, userInfo: { username: 'alice' }, object: { spec: { containers } } } });

    it('queue at most maxPerReview distinct images per review; the rest are denied as unscanned, whatever the rule', async () => {
      for (const unknown of ['deny', 'allow'] as const) {
        const { gate, deps } = setup({ namespaces: [{ match: '*', unknown }], scanTriggers: { maxPerReview: 3, ratePerSecond: 0, burst: 100 } });
        const r = await validate(podOf(many(8)), deps);
        expect(gate.enqueued).to.have.length(3);
        expect(r.response.allowed).to.equal(false);
        expect(r.response.status.message).to.contain('more than 3 images without a verdict (admission.scanTriggers.maxPerReview)');
      }
    });

    it('one queued scan per digest across reviews and spellings; a per-caller bucket, also for the scan rule', async () => {
      const { gate, deps } = setup({ scanTriggers: { maxPerReview: 100, ratePerSecond: 0, burst: 2 } });
      const same = [{ name: 'a', image: `registry.example.test/team/app@${dg(50)}` }, { name: 'b', image: `registry.example.test/team/app:1.4.2@${dg(50)}` }];
      for (let i = 0; i < 3; i++) await validate(podOf(same), deps);
      expect(gate.enqueued.map((e) => e.digest)).to.deep.equal([dg(50)]);
      const caller = (id: string) => ({ caller: { authenticated: true, id } });
      await validateReview(podOf(many(1, 60)), deps, caller('one'));
      await validateReview(podOf(many(1, 61)), deps, caller('one'));
      const limited = ((await validateReview(podOf(many(1, 62)), deps, caller('one'))).body as Json).response;
      expect(limited.status.message).to.contain('too many scans requested by this caller');
      expect(gate.enqueued).to.have.length(3);
      const { deps: d2, gate: g2 } = setup({ namespaces: [{ match: '*', unknown: 'scan' }], scanTriggers: { maxPerReview: 100, ratePerSecond: 0, burst: 1 } });
      await validateReview(podOf(many(1, 70)), d2, caller('one'));
      const r = ((await validateReview(podOf(many(1, 71)), d2, caller('one'))).body as Json).response;
      expect(r.status.message).to.contain('no scan started: too many scans');
      expect(g2.assessed).to.have.length(1);
    });
  });

  describe('operations that pass', () => {
    it('an UPDATE that leaves the images unchanged passes without lookups (scaling a denied workload)', async () => {
      const { gate, deps } = setup();
      gate.put(verdict('team/app', D_APP, 'reject', [['secrets', 'key']]));
      const body = load('deployment-create');
      body.request.operation = 'UPDATE';
      body.request.oldObject = structuredClone(body.request.object);
      body.request.object.spec.replicas = 5;
      body.request.object.metadata.labels.tier = 'gold';
      const r = await validate(body, deps);
      expect(r.response).to.deep.equal({ uid: body.request.uid, allowed: true });
      expect(gate.resolveCalls).to.deep.equal([]);
    });

    it('an UPDATE that changes one image judges only that image', async () => {
      const { gate, deps } = setup();
      gate.tags.set('team/app:1.5.0', dg(8));
      gate.put(verdict('team/app', dg(8), 'quarantine', [['fixable-high-vulns', 'x']]));
      const body = load('deployment-create');
      body.request.operation = 'UPDATE';
      body.request.oldObject = structuredClone(body.request.object);
      body.request.object.spec.template.spec.containers[0].image = 'registry.example.test/team/app:1.5.0';
      const r = await validate(body, deps);
      expect(r.response.allowed).to.equal(false);
      expect(gate.resolveCalls).to.deep.equal(['team/app:1.5.0']);
    });

    it('kubectl debug (pods/ephemeralcontainers) judges the ephemeral container', async () => {
      const { gate, deps } = setup();
      gate.put(verdict('tools/debug', D_DEBUG, 'reject', [['secrets', 'token']]));
      const r = await validate(load('pod-ephemeralcontainers'), deps);
      expect(r.response.allowed).to.equal(false);
      expect(r.response.status.message).to.contain('spec.ephemeralContainers[0].image');
      expect(gate.resolveCalls).to.deep.equal(['tools/debug:2.0']);
    });

    for (const f of ['pod-status-update', 'pod-delete']) {
      it(`${f} passes`, async () => {
        const { gate, deps } = setup();
        const body = load(f);
        const r = await validate(body, deps);
        expect(r.response).to.deep.equal({ uid: body.request.uid, allowed: true });
        expect(gate.resolveCalls).to.deep.equal([]);
      });
    }
  });

  describe('malformed reviews', () => {
    it('400 when the uid cannot be read', async () => {
      const { deps, gate } = setup();
      for (const b of [null, 'x', 42, {}, { request: {} }, { request: { uid: 7 } }, { request: { uid: '' } }, []]) {
        const r = await validateReview(b, deps);
        expect(r.status, JSON.stringify(b)).to.equal(400);
        expect((r.body as Json).error.message).to.contain('request.uid');
      }
      expect(gate.metrics.every((m) => m.decision === 'error')).to.equal(true);
    });

    it('200 with a denial when the uid is readable but the review is not v1, or the object is odd', async () => {
      const { deps } = setup();
      const r = await validate({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'abc' } }, deps);
      expect(r.status).to.equal(200);
      expect(r.response.uid).to.equal('abc');
      expect(r.response.allowed).to.equal(false);
      expect(r.response.status.message).to.contain('admissionReviewVersions');
      const odd = await validate({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u2', kind: { kind: 'Pod' }, operation: 'CREATE', object: { spec: { containers: [{ image: 42 }, 'x'] } } } }, deps);
      expect(odd.response).to.deep.equal({ uid: 'u2', allowed: true });
    });
  });
});

describe('admission/review mutateReview', () => {
  function decodePatch(resp: Json): Json[] {
    expect(resp.patchType).to.equal('JSONPatch');
    return JSON.parse(Buffer.from(resp.patch, 'base64').toString('utf8'));
  }

  it('pins allowed tag references to repo:tag@digest and leaves digests and denied images alone', async () => {
    const { gate, deps } = setup();
    allowAll(gate);
    gate.put(verdict('team/app-migrations', D_MIG, 'reject', [['secrets', 'k']]));
    const body = load('deployment-create');
    const r = await mutateReview(body, deps);
    expect(r.status).to.equal(200);
    const resp = (r.body as Json).response;
    expect(resp.uid).to.equal(body.request.uid);
    expect(resp.allowed).to.equal(true);
    expect(decodePatch(resp)).to.deep.equal([
      { op: 'replace', path: '/spec/template/spec/containers/0/image', value: `registry.example.test/team/app:1.4.2@${D_APP}` },
    ]);
  });

  it('pins every location: init containers, cronjob templates, image volumes; warn verdicts too', async () => {
    const { gate, deps } = setup();
    allowAll(gate);
    gate.put(verdict('team/app', D_APP, 'warn', [['runs-as-root', 'root']]));
    const cj = decodePatch(((await mutateReview(load('cronjob'), deps)).body as Json).response);
    expect(cj.map((p: Json) => p.path)).to.deep.equal(['/spec/jobTemplate/spec/template/spec/initContainers/0/image', '/spec/jobTemplate/spec/template/spec/containers/0/image']);
    const vol = decodePatch(((await mutateReview(load('pod-image-volume'), deps)).body as Json).response);
    expect(vol.at(-1)).to.deep.equal({ op: 'replace', path: '/spec/volumes/1/image/reference', value: `registry.example.test/ml/model:v3@${D_MODEL}` });
    expect(vol.some((p: Json) => p.value.includes(NGINX_DIGEST))).to.equal(false);
  });

  it('pins unknown images in scan/allow namespaces without scanning, not in deny namespaces', async () => {
    const { gate, deps } = setup({ namespaces: [{ match: 'team-app', unknown: 'scan' }] });
    const p = decodePatch(((await mutateReview(load('pod-create'), deps)).body as Json).response);
    expect(p).to.have.length(2);
    expect(gate.assessed).to.deep.equal([]);
    expect(gate.enqueued).to.deep.equal([]);
    const { deps: d2 } = setup();
    const r = await mutateReview(load('pod-create'), d2);
    expect((r.body as Json).response).to.deep.equal({ uid: load('pod-create').request.uid, allowed: true });
  });

  it('keeps the old pin on an UPDATE that re-applies the same tag (no surprise rollout)', async () => {
    const { gate, deps } = setup();
    allowAll(gate);
    const body = load('deployment-create');
    body.request.operation = 'UPDATE';
    body.request.oldObject = structuredClone(body.request.object);
    body.request.oldObject.spec.template.spec.containers[0].image = `registry.example.test/team/app:1.4.2@${dg(6)}`;
    gate.put(verdict('team/app', D_APP, 'reject', [['secrets', 'k']]));
    const p = decodePatch(((await mutateReview(body, deps)).body as Json).response);
    expect(p).to.deep.include({ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `registry.example.test/team/app:1.4.2@${dg(6)}` });
  });

  it('does not patch images an UPDATE leaves unchanged (scaling never starts a rollout)', async () => {
    const { gate, deps } = setup();
    allowAll(gate);
    const body = load('deployment-create');
    body.request.operation = 'UPDATE';
    body.request.oldObject = structuredClone(body.request.object);
    body.request.object.spec.replicas = 7;
    const r = await mutateReview(body, deps);
    expect((r.body as Json).response).to.deep.equal({ uid: body.request.uid, allowed: true });
    expect(gate.resolveCalls).to.deep.equal([]);
  });

  it('passes deletes, status updates and malformed reviews like validate', async () => {
    const { deps } = setup();
    const del = load('pod-delete');
    expect(((await mutateReview(del, deps)).body as Json).response).to.deep.equal({ uid: del.request.uid, allowed: true });
    expect((await mutateReview({ request: {} }, deps)).status).to.equal(400);
  });
});
