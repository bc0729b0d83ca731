/**
 * A policy re-evaluation whose store fails after it acted on the registry, on a real Distribution 2.8
 * registry with a real SQLite store and a real PostgreSQL store.
 *
 * Two images (each `:v1`), allowed (the policy in `warn` mode), are re-evaluated under a policy that
 * quarantines them; the store fails one of the writes that follow the quarantine of one of them (its tag
 * history, its quarantine record, or its `reevaluated:quarantine` audit record). Before: that tag's
 * records were lost for good (the next re-evaluation found the tag gone from the repository and skipped
 * it; a release found nothing in quarantine), and the failure stopped the pass, so every later image
 * waited for the next policy or exception event. Now the intent is recorded
 * before acting (`reevaluating`), the pass goes on, and a re-evaluation run again after the failure (by
 * itself, REEVALUATE_RETRY_MS later) records what the registry shows for the tag whose intent has no
 * outcome.
 *
 * The store errors come from an in-process wrapper around the real store (a real store does not fail
 * one chosen write on demand). Port 21984.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PushgateError, type PushEvent, type Verdict } from '../../../src/core/index.js';
import { Gate } from '../../../src/gate/gate.js';
import { PolicyControl, REEVALUATE_RETRY_MS, REEVALUATING } from '../../../src/gate/reevaluate.js';
import { compilePolicy, DEFAULT_POLICY_YAML } from '../../../src/policy/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { labGateConfig, labRegistryConfig } from '../../helpers/gate.js';
import { startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { makeImage, Raw } from '../../helpers/raw-push.js';

const REG_PORT = 21984;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logger = { debug() {}, info() {}, warn() {}, error() {} };

const SECRETS_REJECT = '        - name: secrets\n          action: reject\n';
/** Secrets recorded only (mode warn): the push is allowed. */
const WARN = compilePolicy(DEFAULT_POLICY_YAML.replace('  default:\n    ruleSet: default\n    mode: enforce\n', '  default:\n    ruleSet: default\n    mode: warn\n'), 'warn.yaml');
/** Secrets quarantined, enforced. */
const QUARANTINE = compilePolicy(DEFAULT_POLICY_YAML.replace(SECRETS_REJECT, '        - name: secrets\n          action: quarantine\n'), 'quarantine.yaml');

/** Which write fails: the `nth` call (1-based) of `method` since the fault was set (audit: of a `reevaluated:*` record). */
interface Fault {
  method: 'recordTag' | 'recordQuarantine' | 'audit';
  nth: number;
  /** calls counted so far */
  seen?: number;
}

/** The real store, with the calls `fault` names failing as a store error does. */
function withFault(store: Store, fault: () => Fault | undefined): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const f = fault();
        // the audit writes that follow an action (not the intent, nor the pass summary)
        const counts = f && prop === f.method && (prop !== 'audit' || String((args[0] as { action?: string }).action).startsWith('reevaluated:'));
        if (counts) {
          const n = (f.seen = (f.seen ?? 0) + 1);
          if (n === f.nth) return Promise.reject(new PushgateError('STORE', `injected store failure of ${f.method} #${n}`));
        }
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`re-evaluation: a store error after acting on the registry loses no record (real registry, ${kind} store)`, function () {
    this.timeout(180_000);
    let dir: string;
    let reg: LabRegistry;
    let raw: Raw;
    let store: Store;
    let drop: (() => Promise<void>) | undefined;
    let fault: Fault | undefined;
    let gate: Gate;
    let control: PolicyControl;
    let n = 0;
    const notices: Verdict[] = [];

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-reeval-fault-'));
      reg = startRegistry(REG_PORT);
      raw = new Raw(reg.host);
      let url: string;
      if (kind === 'sqlite') url = `sqlite:${path.join(dir, 'store.db')}`;
      else ({ url, drop } = await freshDatabase('pushgate_reeval_fault'));
      store = await openStore(url);
      const faulty = withFault(store, () => fault);
      const config = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, 't')]);
      gate = new Gate({ config, store: faulty, policy: WARN, logger });
      control = new PolicyControl({ gate, store: faulty, config, logger, policy: WARN, notifier: { blocked: (v) => void notices.push(v) } });
      await control.init();
    });
    after(async () => {
      await control?.close();
      await store?.close();
      await drop?.();
      reg?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    /** Pushes two fresh images with a private key, each as `team/appN:v1`, judged allowed (warn). */
    async function pushAllowed(): Promise<Array<{ repository: string; digest: string }>> {
      gate.setPolicy(WARN);
      const out: Array<{ repository: string; digest: string }> = [];
      for (let i = 0; i < 2; i++) {
        const repository = `team/app${++n}`;
        const img = makeImage('secret', `${kind}-${n}-${Date.now()}`);
        await raw.pushBlobs(repository, img.blobs);
        expect((await raw.putManifest(repository, 'v1', img)).status).to.equal(201);
        const ev: PushEvent = { id: `ev-${kind}-${n}`, source: 'distribution', registry: 'lab', action: 'push', repository, tag: 'v1', digest: img.digest as `sha256:${string}` };
        await gate.ingest(ev);
        await store.enqueue(ev);
        out.push({ repository, digest: img.digest });
      }
      const deadline = Date.now() + 60_000;
      for (;;) {
        const q = await store.queueCounts();
        if (!q.queued && !q.running) break;
        if (Date.now() > deadline) throw new Error('the queue did not settle');
        await gate.drain();
        await sleep(50);
      }
      for (const { repository, digest } of out) {
        const v = await store.getVerdict('lab', repository, digest as `sha256:${string}`);
        expect(v?.tags).to.deep.equal(['v1']);
        expect(v?.enforcement?.action ?? 'none').to.equal('none');
      }
      return out;
    }

    /** Each tag's last intent or outcome record, oldest first per tag. */
    async function lastRecords(repository: string): Promise<Record<string, { action: string; enforcement?: { action: string; status: string } }>> {
      const out: Record<string, { action: string; enforcement?: { action: string; status: string } }> = {};
      for (const r of await store.listAudit(200, { registry: 'lab', repository })) {
        if (r.action !== REEVALUATING && !r.action.startsWith('reevaluated:')) continue;
        const key = r.tag ?? '(digest)';
        out[key] ??= { action: r.action, enforcement: (r.detail as { enforcement?: { action: string; status: string } }).enforcement };
      }
      return out;
    }

    /** What must hold once the re-evaluation has finished: the image quarantined and recorded. */
    async function expectRecorded({ repository, digest }: { repository: string; digest: string }): Promise<void> {
      expect(await raw.served(repository, 'v1'), `${repository}:v1 gone from the repository`).to.equal(undefined);
      expect(await raw.served(`quarantine/${repository}`, digest), 'in quarantine').to.equal(digest);
      const last = await lastRecords(repository);
      expect(last.v1?.action, `${repository}:v1: its outcome is its last record`).to.equal('reevaluated:quarantine');
      expect(last.v1?.enforcement, repository).to.deep.include({ action: 'quarantine', status: 'done' });
      const q = await store.listQuarantine({ registry: 'lab', repository, state: 'quarantined', limit: 10 });
      expect(q.map((r) => r.tag), 'a quarantine record (a release looks it up)').to.deep.equal(['v1']);
      expect(await store.lastAllowed('lab', repository, 'v1'), 'the tag history says v1 is blocked').to.equal(undefined);
      expect(notices.filter((v) => v.repository === repository && v.tags.includes('v1')).length, `${repository}:v1 notified`).to.be.within(1, 2);
      const v = await store.getVerdict('lab', repository, digest as `sha256:${string}`);
      expect(v?.policy.revision).to.equal(QUARANTINE.revision);
      expect(v?.decision).to.equal('quarantine');
      expect(v?.enforcement).to.deep.include({ action: 'quarantine', status: 'done' });
    }

    it('the quarantine record of the first image fails: the pass still quarantines the second, and the re-evaluation run again by itself records the first', async () => {
      const images = await pushAllowed();
      fault = { method: 'recordQuarantine', nth: 1 };
      gate.setPolicy(QUARANTINE);
      const t0 = Date.now();
      await control.reevaluate().then(
        () => expect.fail('the failed write is reported'),
        (e: Error) => expect(e.message).to.include('injected store failure'),
      );
      fault = undefined;
      for (const { repository } of images) expect(await raw.served(repository, 'v1'), `${repository} acted on in the same pass`).to.equal(undefined);
      // no policy or exception event: the retry runs it again
      const deadline = Date.now() + 4 * REEVALUATE_RETRY_MS;
      const done = async () => (await Promise.all(images.map(async (i) => (await lastRecords(i.repository)).v1?.action))).every((a) => a === 'reevaluated:quarantine');
      while (!(await done()) && Date.now() < deadline) await sleep(200);
      expect(Date.now() - t0).to.be.below(4 * REEVALUATE_RETRY_MS);
      await control.reevaluate();
      for (const i of images) await expectRecorded(i);
    });

    it('property: whichever write after the action fails (tag history, quarantine record, audit record; of the first or second image), a second re-evaluation records both', async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('recordTag' as const, 'recordQuarantine' as const, 'audit' as const), fc.integer({ min: 1, max: 2 }), async (method, nth) => {
          const images = await pushAllowed();
          fault = { method, nth };
          gate.setPolicy(QUARANTINE);
          await control.reevaluate().then(
            () => expect.fail('the failed write is reported'),
            (e: Error) => expect(e.message).to.include('injected store failure'),
          );
          fault = undefined;
          await control.reevaluate();
          for (const i of images) await expectRecorded(i);
        }),
        { numRuns: 6 },
      );
    });
  });
}
