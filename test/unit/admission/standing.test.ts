import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../helpers/lab.js';
import { validateReview, mutateReview, type AdmissionDeps } from '../../../src/admission/review.js';
import { newlyFailingSince, standingOwner } from '../../../src/admission/standing.js';
import { createDigestCache } from '../../../src/admission/digest-cache.js';
import { isBlocking, type Decision } from '../../../src/core/index.js';
import type { ChangeRecord } from '../../../src/gate/types.js';
import type { PushgateConfig } from '../../../src/config/types.js';
import { FakeGate, REG, admissionConfig, dg, verdict } from './fake-gate.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const FIX = path.join(ROOT, 'test', 'fixtures', 'admission');
function load(name: string): Json {
  return JSON.parse(fs.readFileSync(path.join(FIX, `admissionreview-${name}.json`), 'utf8'));
}

const D_APP = dg(1);
const D_MIG = dg(2);
const RS_CONTROLLER = 'system:serviceaccount:kube-system:replicaset-controller';
const API_SERVER = { authenticated: true, id: 'cert:kube-apiserver' };

function change(repository: string, digest: string, before: Decision, after: Decision, at = '2026-12-01T10:00:00.000Z'): ChangeRecord {
  return {
    registry: REG.name,
    repository,
    digest: digest as ChangeRecord['digest'],
    tags: ['1.4.2'],
    run: 'db:sha256:aa',
    at,
    vulndb: { before: 'sha256:old', after: 'sha256:new' },
    policy: { before: '1', after: '1' },
    decision: { before, after },
    new: [],
    resolved: [],
    severityChanged: [],
  };
}

describe('admission/standing newlyFailingSince', () => {
  const v = verdict('team/app', D_APP, 'reject');

  it('is the change record that turned an allowed image blocking', () => {
    const c = change('team/app', D_APP, 'allow', 'reject');
    expect(newlyFailingSince(v, [c])).to.equal(c);
  });

  it('follows a chain of monitor re-judgements back to the one that made it blocking', () => {
    const first = change('team/app', D_APP, 'warn', 'quarantine', '2026-11-01T00:00:00.000Z');
    const second = change('team/app', D_APP, 'quarantine', 'reject', '2026-12-01T00:00:00.000Z');
    expect(newlyFailingSince(v, [second, first])).to.equal(first);
  });

  it('is undefined for a verdict blocking since its push (no record, or the first record starts blocking)', () => {
    expect(newlyFailingSince(v, [])).to.equal(undefined);
    expect(newlyFailingSince(v, [change('team/app', D_APP, 'reject', 'reject')])).to.equal(undefined);
  });

  it('is undefined when the decision changed outside the monitor between records (broken chain)', () => {
    // allow → quarantine by the monitor, then something else made it reject: the newest record does not end at the verdict.
    expect(newlyFailingSince(v, [change('team/app', D_APP, 'allow', 'quarantine')])).to.equal(undefined);
    const older = change('team/app', D_APP, 'allow', 'warn');
    const newer = change('team/app', D_APP, 'quarantine', 'reject');
    expect(newlyFailingSince(v, [newer, older])).to.equal(undefined);
  });

  it('ignores records of the same digest in another repository, and non-blocking verdicts', () => {
    expect(newlyFailingSince(v, [change('other/app', D_APP, 'allow', 'reject')])).to.equal(undefined);
    expect(newlyFailingSince(verdict('team/app', D_APP, 'warn'), [change('team/app', D_APP, 'allow', 'warn')])).to.equal(undefined);
  });

  it('property: on a continuous chain of decisions it is defined iff an earlier decision was not blocking', () => {
    const decision = fc.constantFrom<Decision>('allow', 'warn', 'quarantine', 'reject');
    fc.assert(
      fc.property(fc.array(decision, { minLength: 1, maxLength: 8 }), decision, (history, now) => {
        fc.pre(isBlocking(now));
        const seq = [...history, now];
        const records: ChangeRecord[] = [];
        for (let i = 1; i < seq.length; i++) records.unshift(change('team/app', D_APP, seq[i - 1]!, seq[i]!));
        const got = newlyFailingSince(verdict('team/app', D_APP, now), records);
        const expected = seq.slice(0, -1).some((d) => !isBlocking(d));
        expect(got !== undefined).to.equal(expected);
        if (got) expect(isBlocking(got.decision.before as Decision)).to.equal(false);
      }),
    );
  });
});

describe('admission/standing standingOwner', () => {
  const pod = () => load('pod-create').request;

  it('names the ReplicaSet of a Pod the replicaset-controller creates, as vouched for by the API server', () => {
    expect(standingOwner(pod(), true)).to.equal('ReplicaSet/app-7d9c5b8f6d');
    const kcm = pod();
    kcm.userInfo.username = 'system:kube-controller-manager';
    expect(standingOwner(kcm, true)).to.equal('ReplicaSet/app-7d9c5b8f6d');
  });

  it('refuses what a pod author can claim: unauthenticated caller, another user, no controller reference, an owner kind the user does not create', () => {
    expect(standingOwner(pod(), false)).to.equal(undefined);
    const alice = pod();
    alice.userInfo.username = 'alice';
    expect(standingOwner(alice, true)).to.equal(undefined);
    const noCtl = pod();
    noCtl.object.metadata.ownerReferences[0].controller = false;
    expect(standingOwner(noCtl, true)).to.equal(undefined);
    const wrongKind = pod();
    wrongKind.object.metadata.ownerReferences[0].kind = 'StatefulSet';
    expect(standingOwner(wrongKind, true)).to.equal(undefined);
    const otherController = pod();
    otherController.userInfo.username = 'system:serviceaccount:kube-system:job-controller';
    expect(standingOwner(otherController, true)).to.equal(undefined);
    const update = pod();
    update.operation = 'UPDATE';
    expect(standingOwner(update, true)).to.equal(undefined);
    const sub = pod();
    sub.subResource = 'ephemeralcontainers';
    expect(standingOwner(sub, true)).to.equal(undefined);
  });

  it('names the Deployment of a ReplicaSet the deployment-controller creates', () => {
    const rs = {
      operation: 'CREATE',
      kind: { kind: 'ReplicaSet' },
      userInfo: { username: 'system:serviceaccount:kube-system:deployment-controller' },
      object: { metadata: { ownerReferences: [{ kind: 'Deployment', name: 'web', controller: true }] } },
    };
    expect(standingOwner(rs, true)).to.equal('Deployment/web');
    expect(standingOwner({ ...rs, userInfo: { username: RS_CONTROLLER } }, true)).to.equal(undefined);
  });
});

describe('admission/standing validateReview: newly failing images of existing workloads', () => {
  function setup(cfg: Partial<PushgateConfig['admission']> = {}): { gate: FakeGate; deps: AdmissionDeps } {
    const gate = new FakeGate();
    gate.tags.set('team/app:1.4.2', D_APP);
    gate.tags.set('team/app-migrations:1.4.2', D_MIG);
    gate.put(verdict('team/app-migrations', D_MIG, 'allow'));
    gate.put(verdict('team/app', D_APP, 'reject', [['fixable-critical-vulns', 'CVE-2026-1 in openssl, fixed in 3.0.14']]));
    // The fixtures name tags with the API server's IfNotPresent default; these tests are about verdicts,
    // so admission.unpinnedTags is off here (its standing-workload rule: unpinned-tags.test.ts).
    const config = admissionConfig({ unpinnedTags: 'allow', ...cfg });
    return { gate, deps: { gate, config, digestCache: createDigestCache(gate, config.digestCacheTtlMs) } };
  }
  const newlyFailing = (gate: FakeGate) => gate.changeRecords.push(change('team/app', D_APP, 'allow', 'reject'));

  async function run(body: Json, deps: AdmissionDeps, authenticated = true): Promise<Json> {
    const r = await validateReview(body, deps, { caller: authenticated ? API_SERVER : { authenticated: false, id: 'addr:10.0.0.9' } });
    return (r.body as Json).response;
  }

  it('admits a scale-up pod of a newly failing image with a warning and an audit annotation', async () => {
    const { gate, deps } = setup();
    newlyFailing(gate);
    const r = await run(load('pod-create'), deps);
    expect(r.allowed).to.equal(true);
    expect(r.warnings).to.have.length(1);
    expect(r.warnings[0]).to.match(/^newly failing since 2026-12-01 \(database change\), admitted for existing ReplicaSet\/app-7d9c5b8f6d: registry\.example\.tes/);
    expect(r.warnings[0].length).to.be.at.most(120);
    expect(r.auditAnnotations['newly-failing-standing-workload']).to.contain('ReplicaSet/app-7d9c5b8f6d');
    expect(gate.metrics.map((m) => m.decision)).to.deep.equal(['warn']);
  });

  it('denies the same pod when the image was blocking at push time (no change record or a chain starting blocking)', async () => {
    const { gate, deps } = setup();
    let r = await run(load('pod-create'), deps);
    expect(r.allowed).to.equal(false);
    gate.changeRecords.push(change('team/app', D_APP, 'reject', 'reject'));
    r = await run(load('pod-create'), deps);
    expect(r.allowed).to.equal(false);
    expect(r.status.message).to.contain('fixable-critical-vulns');
  });

  it('denies a bare Pod claiming a ReplicaSet owner: user not the controller, or userInfo not vouched for', async () => {
    const { gate, deps } = setup();
    newlyFailing(gate);
    const alice = load('pod-create');
    alice.request.userInfo.username = 'alice';
    expect((await run(alice, deps)).allowed).to.equal(false);
    expect((await run(load('pod-create'), deps, false)).allowed).to.equal(false);
  });

  it('denies a new Deployment of a newly failing image (a new workload follows the new verdict)', async () => {
    const { gate, deps } = setup();
    newlyFailing(gate);
    const body = load('deployment-create');
    expect((await run(body, deps)).allowed).to.equal(false);
  });

  it('denies a changed pod template naming the newly failing image', async () => {
    const { gate, deps } = setup();
    newlyFailing(gate);
    gate.tags.set('team/app:1.3.0', dg(7));
    gate.put(verdict('team/app', dg(7), 'allow'));
    const body = load('deployment-create');
    body.request.operation = 'UPDATE';
    body.request.userInfo = { username: 'system:serviceaccount:kube-system:deployment-controller' };
    body.request.oldObject = structuredClone(body.request.object);
    body.request.oldObject.spec.template.spec.containers[0].image = 'registry.example.test/team/app:1.3.0';
    expect((await run(body, deps)).allowed).to.equal(false);
  });

  function pinnedUpdate(): Json {
    const body = load('deployment-create');
    body.request.operation = 'UPDATE';
    body.request.userInfo = { username: 'alice' };
    body.request.object.spec.template.spec.containers[0].image = `registry.example.test/team/app:1.4.2@${D_APP}`;
    body.request.object.spec.template.spec.initContainers = [];
    body.request.oldObject = structuredClone(body.request.object);
    body.request.object.spec.replicas = 7;
    return body;
  }

  it('an UPDATE leaving a pinned newly failing image unchanged is admitted with a warning saying so, without registry requests', async () => {
    const { gate, deps } = setup();
    newlyFailing(gate);
    const r = await run(pinnedUpdate(), deps, false);
    expect(r.allowed).to.equal(true);
    expect(r.warnings).to.have.length(1);
    expect(r.warnings[0]).to.match(/^reject: newly failing since 2026-12-01 \(database change\), unchanged by this update: registry\.example\.test\/team\/app/);
    expect(gate.resolveCalls).to.deep.equal([]);
    expect(gate.metrics.map((m) => m.decision)).to.deep.equal(['warn']);
  });

  it('an UPDATE leaving an image blocked since its push unchanged is admitted as before, with a warning that it is blocked', async () => {
    const { deps } = setup();
    const r = await run(pinnedUpdate(), deps, false);
    expect(r.allowed).to.equal(true);
    expect(r.warnings[0]).to.match(/^reject: blocked, unchanged by this update: registry\.example\.test\/team\/app/);
  });

  it('an UPDATE leaving unchanged images gets no warning when they are allowed or the lookup fails', async () => {
    const { gate, deps } = setup();
    gate.put(verdict('team/app', D_APP, 'allow'));
    expect(await run(pinnedUpdate(), deps, false)).to.deep.equal({ uid: pinnedUpdate().request.uid, allowed: true });
    gate.put(verdict('team/app', D_APP, 'reject'));
    gate.verdictError = new Error('store down');
    expect(await run(pinnedUpdate(), deps, false)).to.deep.equal({ uid: pinnedUpdate().request.uid, allowed: true });
  });

  it('is off with admission.standingWorkloads: false', async () => {
    const { gate, deps } = setup({ standingWorkloads: false });
    newlyFailing(gate);
    expect((await run(load('pod-create'), deps)).allowed).to.equal(false);
    expect(gate.changesCalls).to.equal(0);
  });

  it('denies (fail closed) when the change records cannot be read, saying so', async () => {
    const { gate, deps } = setup();
    newlyFailing(gate);
    gate.changesError = new Error('database is locked');
    const r = await run(load('pod-create'), deps);
    expect(r.allowed).to.equal(false);
    expect(r.status.message).to.contain('change records unreadable');
  });

  it('the mutating webhook pins the admitted image of a standing workload', async () => {
    const { gate, deps } = setup();
    newlyFailing(gate);
    const r = await mutateReview(load('pod-create'), deps, { caller: API_SERVER });
    const res = (r.body as Json).response;
    const patch = JSON.parse(Buffer.from(res.patch, 'base64').toString()) as Array<{ path: string; value: string }>;
    expect(patch.map((p) => p.value)).to.include(`registry.example.test/team/app:1.4.2@${D_APP}`);
  });

  it('a gate without change records (no monitor) never exempts', async () => {
    const { gate, deps } = setup();
    newlyFailing(gate);
    const plain = Object.assign(Object.create(FakeGate.prototype) as FakeGate, gate, { changes: undefined });
    expect((await run(load('pod-create'), { ...deps, gate: plain })).allowed).to.equal(false);
  });
});

describe('admission/standing standingOwner: kinds that are object keys', () => {
  it('a review kind spelled like a property of every object (__proto__, constructor, toString) is no workload kind', () => {
    for (const kind of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(standingOwner({ operation: 'CREATE', kind: { kind }, userInfo: { username: 'system:kube-controller-manager' }, object: { metadata: { ownerReferences: [{ kind: 'ReplicaSet', name: 'web', controller: true }] } } } as never, true), kind).to.equal(undefined);
    }
  });
});
