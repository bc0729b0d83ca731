/**
 * The gate's worker loop against store failures at chosen calls, a manifest the registry does not show
 * yet, and a stale worker: a real Distribution registry, real skopeo pushes, a real SQLite store. The
 * store is wrapped so that named calls fail for a while (a real store cannot fail one chosen call on
 * demand; the fault suites next to this one use real full disks and a real read-only PostgreSQL).
 * Ports 21830 (registry) and 21839 (nothing listens: a registry that does not answer).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PushgateError, type PushEvent } from '../../../src/core/index.js';
import { Gate } from '../../../src/gate/gate.js';
import { reconcile } from '../../../src/gate/reconcile.js';
import { compilePolicy } from '../../../src/policy/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { labGateConfig, labRegistryConfig } from '../../helpers/gate.js';
import { skopeoCopyAsync } from '../../helpers/lab.js';
import { FAULTS_POLICY, registryOn, tinyImage, until } from './helpers.js';

const REG = 21830;
const CLOSED = 21839;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `store` with the calls named in `failing` rejecting with PushgateError STORE while `failing` holds them. */
function flaky(store: Store, failing: Set<string>): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (failing.has(String(prop))) return Promise.reject(new PushgateError('STORE', `sqlite: ${String(prop)}: database or disk is full (injected)`, { retryable: true }));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe('faults: the worker loop survives its store and waits for manifests the registry does not show yet', function () {
  this.timeout(120_000);
  let dir: string;
  let storage: string;
  let store: Store;
  const log: Array<{ level: string; msg: string; obj: Record<string, unknown> }> = [];
  const rec = (level: string) => (obj: object, msg?: string) => void log.push({ level, msg: msg ?? '', obj: obj as Record<string, unknown> });
  const logger = { debug() {}, info: rec('info'), warn: rec('warn'), error: rec('error') };
  const policy = compilePolicy(FAULTS_POLICY, 'faults-policy.yaml');
  const ev = (id: string, over: Partial<PushEvent>): PushEvent => ({ id, source: 'distribution', registry: 'lab', action: 'push', repository: 'team/w', digest: `sha256:${'0'.repeat(64)}`, tag: 'v1', ...over });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-faults-w-'));
    storage = path.join(dir, 'registry');
    registryOn('start', storage, REG);
  });
  after(() => {
    registryOn('stop', storage, REG);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    log.length = 0;
    store = await openStore(`sqlite:${path.join(dir, `w-${Date.now()}.db`)}`);
  });
  afterEach(async () => store.close());

  it('store failures in the retry path, the gauges and the claim: no unhandled rejection, each counted, the event settled once the store is back', async () => {
    const failing = new Set(['retry', 'queueDepth', 'queueCounts']);
    const errors: string[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    const config = labGateConfig(dir, [{ ...labRegistryConfig('down', CLOSED, 't'), timeoutMs: 1000 }]);
    config.queue = { maxAttempts: 5 };
    const gate = new Gate({ config, store: flaky(store, failing), policy, logger, probeIntervalMs: 200, counters: { storeError: (op) => errors.push(op), queueDepth: () => undefined, queueEvents: () => undefined } });
    try {
      await store.enqueue(ev('e1', { registry: 'down' }));
      gate.start();
      await until('retry failures', 10_000, async () => errors.filter((o) => o === 'retry').length >= 2);
      // the claim fails too now: the loop backs off instead of ending
      failing.add('claim');
      await sleep(1200);
      expect(errors).to.include('claim');
      expect(errors).to.include('queue gauges');
      failing.clear();
      await until('the event put back for its next attempt', 10_000, async () => (await store.queueCounts()).queued === 1);
      expect(unhandled, 'unhandled rejections').to.deep.equal([]);
      expect(log.some((l) => l.level === 'error' && /store: retry failed/.test(l.msg))).to.equal(true);
    } finally {
      await gate.stop();
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a manifest the registry does not show yet (404) is tried again a bounded number of times: one that appears gets its verdict, one that never does completes without one', async () => {
    const config = labGateConfig(dir, [labRegistryConfig('lab', REG, 't')]);
    const gate = new Gate({ config, store, policy, logger, retryBaseMs: 150 });
    const late = tinyImage(dir, 'late', { n: 7001, secret: true });
    const never = `sha256:${'9'.repeat(64)}`;
    try {
      await store.enqueue(ev('late', { repository: 'team/late', digest: late.digest }));
      await store.enqueue(ev('never', { repository: 'team/never', digest: never }));
      gate.start();
      await until('a first 404', 10_000, async () => log.some((l) => /not found; tried again/.test(l.msg) && l.obj.repository === 'team/late'));
      // Now the registry shows it (the push completes after its notification, as on eventually consistent storage).
      const r = await skopeoCopyAsync(late.ref, `127.0.0.1:${REG}/team/late:v1`);
      expect(r.code, r.stderr).to.equal(0);
      const v = await until('the verdict of the late manifest', 20_000, async () => store.getVerdict('lab', 'team/late', late.digest));
      expect(v.decision).to.equal('quarantine');
      const gone = await until('the never-seen manifest completed', 20_000, async () => (await store.listAudit(10, { action: 'manifest-gone', repository: 'team/never' }))[0]);
      expect(gone.detail?.attempts).to.equal(3);
      expect(log.filter((l) => /not found; tried again/.test(l.msg) && l.obj.repository === 'team/never')).to.have.length(2);
      expect(await store.getVerdict('lab', 'team/never', never)).to.equal(undefined);
    } finally {
      await gate.stop();
    }
  });

  it("a stale worker's completion is refused and logged; the owner's counts", async () => {
    const config = labGateConfig(dir, [labRegistryConfig('lab', REG, 't')]);
    const gate = new Gate({ config, store, policy, logger });
    const img = tinyImage(dir, 'stale', { n: 7100 });
    expect((await skopeoCopyAsync(img.ref, `127.0.0.1:${REG}/team/stale:v1`)).code).to.equal(0);
    const e = ev('stale', { repository: 'team/stale', digest: img.digest });
    await store.enqueue(e);
    await store.claim('old-worker', 1);
    await sleep(10);
    const owner = await store.claim('new-worker', 60_000);
    await gate.processEvent(e, { seq: owner!.seq, worker: 'old-worker' });
    expect(log.some((l) => l.level === 'warn' && /stale worker/.test(l.msg))).to.equal(true);
    expect(await store.listAudit(10, { action: 'verdict:allow', repository: 'team/stale' })).to.have.length(0);
    expect(await store.queueCounts()).to.include({ running: 1 });
    await gate.processEvent(e, { seq: owner!.seq, worker: 'new-worker' });
    expect(await store.listAudit(10, { action: 'verdict:allow', repository: 'team/stale' })).to.have.length(1);
    expect(await store.queueCounts()).to.include({ running: 0, queued: 0 });
  });

  it('a reconcile pass resumes the events blocked on a registry it can read (and a pass of a registry that does not answer leaves them)', async () => {
    const config = labGateConfig(dir, [labRegistryConfig('lab', REG, 't'), { ...labRegistryConfig('down', CLOSED, 't'), timeoutMs: 1000 }]);
    const gate = new Gate({ config, store, policy, logger });
    const img = tinyImage(dir, 'parked', { n: 7200, secret: true });
    expect((await skopeoCopyAsync(img.ref, `127.0.0.1:${REG}/team/parked:v1`)).code).to.equal(0);
    for (const [id, registry] of [['p-lab', 'lab'], ['p-down', 'down']] as const) {
      const { seq } = await store.enqueue(ev(id, { registry, repository: 'team/parked', digest: img.digest }));
      await store.claim('w', 60_000);
      await store.retry(seq, 'w', { error: 'registry did not answer', retryInMs: 0, state: 'blocked-on-registry' });
    }
    const r = await reconcile({ config, gate, store });
    expect(r.resumed).to.equal(1);
    expect(r.errors.map((e) => e.registry)).to.deep.equal(['down']);
    // (the pass also queues the registry's other tags this fresh store has no verdict for)
    expect((await store.queueCounts())['blocked-on-registry']).to.equal(1);
    await gate.drain();
    const v = await store.getVerdict('lab', 'team/parked', img.digest);
    expect(v?.decision).to.equal('quarantine');
    expect(v?.enforcement?.status).to.equal('done');
    expect(await store.blockedRegistries()).to.deep.equal(['down']);
  });
});
