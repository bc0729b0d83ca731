/**
 * Workload usage from admission (src/admission/workload-usage.ts): the identity read from a review
 * (controller owner, else the object), the bounded buffer and its batched flushes, and the validating
 * webhook recording only what it admitted for an authenticated API server, never for a dry run.
 * The store side is in test/unit/store/workloads.test.ts; over HTTPS in workload-usage-https.test.ts.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { validateReview } from '../../../src/admission/review.js';
import { affectedTable } from '../../../src/cli/commands/monitor.js';
import { ConfigError, parseConfigText } from '../../../src/config/load.js';
import { WorkloadRecorder, workloadOf, type WorkloadIdentity } from '../../../src/admission/workload-usage.js';

import type { WorkloadStore, WorkloadUsage } from '../../../src/store/index.js';
import { admissionConfig, dg, FakeGate, REG, verdict } from './fake-gate.js';

/** A store whose writes are recorded, and fail while `down` (a store outage a real one cannot be made to have on cue). */
class MemoryWorkloads implements WorkloadStore {
  batches: WorkloadUsage[][] = [];
  down = false;
  async recordUsage(rows: WorkloadUsage[]): Promise<void> {
    if (this.down) throw new Error('store down');
    this.batches.push(rows.map((r) => ({ ...r })));
  }
  async workloadsOf(): Promise<never> {
    throw new Error('not used');
  }
  async pruneUsage(): Promise<number> {
    return 0;
  }
  get rows(): WorkloadUsage[] {
    return this.batches.flat();
  }
}

const API_SERVER = { authenticated: true, id: 'cert:kube-apiserver' };

function podReview(o: { namespace?: string; name?: string; owners?: unknown[]; image?: string; dryRun?: boolean; operation?: string; kind?: string }): unknown {
  const kind = o.kind ?? 'Pod';
  // Always: the tag is pulled, so admission.unpinnedTags does not decide these reviews (unpinned-tags.test.ts does).
  const spec = { containers: [{ name: 'c', image: o.image ?? `${REG.url.slice(8)}/shop/web:1`, imagePullPolicy: 'Always' }] };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u1',
      kind: { group: '', version: 'v1', kind },
      namespace: o.namespace ?? 'shop',
      ...(o.name !== undefined ? { name: o.name } : {}),
      operation: o.operation ?? 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      dryRun: o.dryRun ?? false,
      object: { metadata: { generateName: 'web-7d9c-', namespace: o.namespace ?? 'shop', ...(o.owners ? { ownerReferences: o.owners } : {}), annotations: { 'pushgate.io/workload': 'Deployment/forged' } }, spec },
    },
  };
}

describe('workload usage: identity of a review', () => {
  it('a pod with a controller ownerReference is its owner; without one it is the pod (name, else generateName)', () => {
    const rs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9c', uid: 'x', controller: true };
    const r = (o: Parameters<typeof podReview>[0]) => workloadOf((podReview(o) as { request: Parameters<typeof workloadOf>[0] }).request);
    expect(r({ owners: [{ kind: 'Node', name: 'n1' }, rs] })).to.deep.equal({ namespace: 'shop', kind: 'ReplicaSet', name: 'web-7d9c' });
    expect(r({ owners: [{ ...rs, controller: false }] })).to.deep.equal({ namespace: 'shop', kind: 'Pod', name: 'web-7d9c-' });
    expect(r({ name: 'debug' })).to.deep.equal({ namespace: 'shop', kind: 'Pod', name: 'debug' });
    // a controller reference without a name is unusable: nothing is recorded rather than a guess
    expect(r({ owners: [{ kind: 'ReplicaSet', controller: true }] })).to.equal(undefined);
    expect(r({ namespace: '' })).to.equal(undefined);
    expect(r({ name: 'a\u0000b' }), 'NUL cannot be stored in PostgreSQL text, and no Kubernetes name has one').to.equal(undefined);
  });

  it('property: the identity is exactly the controller owner when there is one, else the pod; annotations never count; a part over 253 characters is no identity', () => {
    const unit = fc.constantFrom('a', 'z', '0', '-', '.', '\u001b', '\n', '\u0007', '"', '\u202e', 'é');
    // Names near Kubernetes' 253-character bound too (a short name repeated, so it shrinks in a few
    // steps): fast-check's default size stops strings near 10 characters.
    const long = fc.tuple(fc.string({ minLength: 1, maxLength: 6, unit }), fc.integer({ min: 240, max: 270 })).map(([u, n]) => u.repeat(Math.ceil(n / u.length)).slice(0, n));
    const name = fc.oneof({ weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 40, unit }) }, { weight: 1, arbitrary: long });
    const owner = fc.record({ kind: name, name, controller: fc.option(fc.boolean(), { nil: undefined }) });
    const fits = (...parts: string[]) => parts.every((p) => p.length <= 253);
    fc.assert(fc.property(name, name, fc.array(owner, { maxLength: 4 }), (ns, podName, owners) => {
      const req = (podReview({ namespace: ns, name: podName, owners }) as { request: Parameters<typeof workloadOf>[0] }).request;
      const ctl = owners.find((o) => o.controller === true);
      const expected: WorkloadIdentity = ctl ? { namespace: ns, kind: ctl.kind, name: ctl.name } : { namespace: ns, kind: 'Pod', name: podName };
      expect(workloadOf(req)).to.deep.equal(fits(expected.namespace, expected.kind, expected.name) ? expected : undefined);
    }), { numRuns: 300 });
  });
});

describe('workload usage: buffer and flushes', () => {
  const who = (name: string): WorkloadIdentity => ({ namespace: 'shop', kind: 'ReplicaSet', name });

  it('merges one identity into one row (earliest first seen, latest last seen) and flushes on the timer', async () => {
    const store = new MemoryWorkloads();
    let t = 1000;
    const rec = new WorkloadRecorder({ store, cluster: 'eu-1', now: () => t, flushIntervalMs: 20 });
    rec.record(who('web'), [dg(1), dg(2)]);
    t = 5000;
    rec.record(who('web'), [dg(1)]);
    expect(store.batches, 'nothing is written on the review path').to.have.length(0);
    await new Promise((r) => setTimeout(r, 60));
    expect(store.rows.sort((a, b) => (a.digest < b.digest ? -1 : 1))).to.deep.equal([
      { digest: dg(1), cluster: 'eu-1', namespace: 'shop', kind: 'ReplicaSet', name: 'web', firstSeen: 1000, lastSeen: 5000 },
      { digest: dg(2), cluster: 'eu-1', namespace: 'shop', kind: 'ReplicaSet', name: 'web', firstSeen: 1000, lastSeen: 1000 },
    ]);
    await rec.close();
  });

  it('a full batch is flushed at once, in batches of at most flushRows', async () => {
    const store = new MemoryWorkloads();
    const rec = new WorkloadRecorder({ store, flushRows: 4, flushIntervalMs: 60_000 });
    for (let i = 0; i < 10; i++) rec.record(who(`w${i}`), [dg(1)]);
    await rec.flush();
    expect(store.rows).to.have.length(10);
    expect(Math.max(...store.batches.map((b) => b.length))).to.be.at.most(4);
    await rec.close();
  });

  it('while the store is down: rows are kept up to the bound, the oldest dropped and counted; written when it is back', async () => {
    const store = new MemoryWorkloads();
    store.down = true;
    const dropped: number[] = [];
    const errors: unknown[] = [];
    const rec = new WorkloadRecorder({ store, bufferMax: 5, flushRows: 2, flushIntervalMs: 60_000, onDropped: (n) => dropped.push(n), onFlushError: (e) => errors.push(e) });
    for (let i = 0; i < 8; i++) {
      rec.record(who(`w${i}`), [dg(1)]);
      await rec.flush();
    }
    expect(errors.length).to.be.greaterThan(0);
    expect(rec.pending).to.equal(5);
    expect(rec.dropped).to.equal(3);
    expect(dropped.reduce((a, b) => a + b, 0)).to.equal(3);
    store.down = false;
    await rec.flush();
    expect(store.rows.map((r) => r.name).sort()).to.deep.equal(['w3', 'w4', 'w5', 'w6', 'w7']);
    expect(rec.pending).to.equal(0);
    await rec.close();
  });

  it('record never throws or waits, even with a store that hangs', async () => {
    let release!: () => void;
    let calls = 0;
    const hang: WorkloadStore = { recordUsage: () => (calls++ ? Promise.resolve() : new Promise<void>((r) => (release = r))), workloadsOf: () => Promise.reject(new Error('x')), pruneUsage: async () => 0 };
    const rec = new WorkloadRecorder({ store: hang, flushRows: 1, bufferMax: 3 });
    const t0 = Date.now();
    for (let i = 0; i < 100; i++) rec.record(who(`w${i}`), [dg(1)]);
    expect(Date.now() - t0).to.be.below(500);
    expect(rec.pending).to.be.at.most(3);
    release();
    await rec.close();
  });
});

describe('workload usage: the validating webhook records what it admits', () => {
  function setup() {
    const gate = new FakeGate();
    gate.tags.set('shop/web:1', dg(1));
    gate.put(verdict('shop/web', dg(1), 'allow'));
    gate.tags.set('shop/bad:1', dg(2));
    gate.put(verdict('shop/bad', dg(2), 'reject', [['severity', 'critical']]));
    const store = new MemoryWorkloads();
    const workloads = new WorkloadRecorder({ store, flushIntervalMs: 60_000 });
    return { gate, store, workloads, deps: { gate, config: admissionConfig(), workloads } };
  }
  const owned = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9c', uid: 'x', controller: true }];

  it('an admitted pod of a ReplicaSet records the ReplicaSet with the resolved digest', async () => {
    const { store, workloads, deps } = setup();
    const r = (await validateReview(podReview({ owners: owned }), deps, { caller: API_SERVER })) as { body: { response: { allowed: boolean } } };
    expect(r.body.response.allowed).to.equal(true);
    await workloads.flush();
    expect(store.rows.map((x) => [x.digest, x.namespace, x.kind, x.name])).to.deep.equal([[dg(1), 'shop', 'ReplicaSet', 'web-7d9c']]);
  });

  it('nothing is recorded for a dry run, a denial, or a caller that did not authenticate as the API server', async () => {
    const { store, workloads, deps } = setup();
    const dry = (await validateReview(podReview({ owners: owned, dryRun: true }), deps, { caller: API_SERVER })) as { body: { response: { allowed: boolean } } };
    expect(dry.body.response.allowed).to.equal(true);
    const denied = (await validateReview(podReview({ owners: owned, image: 'registry.example.test/shop/bad:1' }), deps, { caller: API_SERVER })) as { body: { response: { allowed: boolean } } };
    expect(denied.body.response.allowed).to.equal(false);
    const anon = (await validateReview(podReview({ owners: owned }), deps, { caller: { authenticated: false, id: 'addr:1.2.3.4' } })) as { body: { response: { allowed: boolean } } };
    expect(anon.body.response.allowed).to.equal(true);
    await workloads.flush();
    expect(store.rows).to.deep.equal([]);
  });

  it('a recorder whose store fails never changes the answer', async () => {
    const { store, workloads, deps } = setup();
    store.down = true;
    const r = (await validateReview(podReview({ owners: owned }), deps, { caller: API_SERVER })) as { body: { response: { allowed: boolean } } };
    expect(r.body.response.allowed).to.equal(true);
    await workloads.flush();
    expect(workloads.pending).to.equal(1);
  });
});


describe('workload usage: pushgate affected shows workloads terminal-safe', () => {
  it('property: namespaces, kinds and names with control characters print escaped; the JSON keeps them exactly', () => {
    const hostile = fc.string({ minLength: 1, unit: fc.constantFrom('a', '-', '\u001b', '[', '\u0007', '\u009b', '\r', '\n', '\u202e', '\u007f') });
    fc.assert(fc.property(hostile, hostile, hostile, fc.integer({ min: 1, max: 50 }), (namespace, kind, name, extra) => {
      const w = { namespace, kind, name, firstSeen: '2026-12-01T00:00:00.000Z', lastSeen: '2026-12-05T00:00:00.000Z' };
      const answer = {
        id: 'CVE-2024-0001', more: false, indexBehind: false,
        images: [{
          digest: dg(1),
          findings: [{ id: 'CVE-2024-0001', aliases: [], package: 'p', installedVersion: '1', fixedVersions: ['2'], severity: 'high' as const, path: '/x', firstSeen: '2026-01-01' }],
          verdicts: [{ registry: 'lab', repository: 'shop/web', tags: ['1'], decision: 'allow' }],
          workloads: [w], workloadCount: 1 + extra,
        }],
      };
      const out = affectedTable(answer);
      expect(out.split('\n')).to.have.length(3);
      // eslint-disable-next-line no-control-regex -- an independent oracle: no raw control character
      expect(out.replace(/\n/g, '')).to.not.match(/[\u0000-\u001f\u007f-\u009f\u202e]/);
      expect(out.split('\n')[1]).to.match(new RegExp(`\\+${extra}$`));
      expect((JSON.parse(JSON.stringify(answer)) as typeof answer).images[0].workloads[0]).to.deep.equal(w);
    }), { numRuns: 200 });
  });
});

describe('workload usage: configuration', () => {
  const parse = (text: string) => parseConfigText(text, '/tmp/pushgate-workloads.yaml', {});
  it('admission.cluster and admission.workloadRetention are read (default 30d); a cluster with spaces or control characters is refused', () => {
    expect(parse('admission:\n  unguarded: allow\n').admission.workloadRetentionMs).to.equal(30 * 86_400_000);
    const c = parse('admission:\n  cluster: prod-eu-1\n  workloadRetention: 7d\n').admission;
    expect([c.cluster, c.workloadRetentionMs]).to.deep.equal(['prod-eu-1', 7 * 86_400_000]);
    for (const bad of ['"a b"', '"a\\u001bb"', '""']) {
      expect(() => parse(`admission:\n  cluster: ${bad}\n`), bad).to.throw(ConfigError, /cluster/);
    }
    expect(() => parse('admission:\n  workloadRetention: 30\n')).to.throw(ConfigError, /workloadRetention/);
  });
});
