/**
 * A quarantine never waits without bound for another copy into its quarantine repository.
 *
 * Attacker: a pusher to one repository. A quarantine copy's length is the pusher's to choose (an index of
 * thousands of children, each of thousands of layers, on a slow registry), and copies into one quarantine
 * repository take turns (./quarantine-lock.ts): every later quarantine of that repository waited for the
 * slow one, its blocked image served meanwhile, and the queue workers waiting on it held up every other
 * repository's events. Past the wait bound the later image is removed without a copy (as a reject), and
 * a lock holder is never disturbed.
 *
 * Real components: a Distribution 2.8 registry (Debian docker-registry), real PostgreSQL stores (two,
 * as two replicas: the gate's store-held lock), the in-process lock; the slow copy is a lock holder
 * that does not finish until the test says (what a huge index on a slow registry does).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Digest } from '../../../src/core/index.js';
import { enforce, inProcessQuarantineLock, isLockWaitExpired, type QuarantineLock } from '../../../src/enforce/index.js';
import { storeQuarantineLock } from '../../../src/gate/cluster-jobs.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { freePort } from '../../helpers/ports.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { makeImage, Raw, sleep } from '../../helpers/raw-push.js';

describe('enforce: a quarantine waits a bounded time for another copy into its quarantine repository', function () {
  this.timeout(120_000);
  let reg: LabRegistry;
  let raw: Raw;
  let stores: Store[] = [];
  let drop: (() => Promise<void>) | undefined;
  let run = 0;

  before(async () => {
    reg = startRegistry(await freePort());
    raw = new Raw(reg.host);
    const db = await freshDatabase('pushgate_qwait');
    drop = db.drop;
    stores = [await openStore(db.url), await openStore(db.url)];
  });
  after(async () => {
    for (const s of stores) await s.close();
    await drop?.();
    reg?.stop();
  });

  /** Holds `lock` on `target` until the returned release is called (a copy that takes that long). */
  async function holdLock(lock: QuarantineLock, target: string): Promise<{ release: () => void; done: Promise<unknown> }> {
    let release!: () => void;
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const done = lock(target, () => {
      entered();
      return new Promise<void>((r) => (release = r));
    });
    await inside;
    return { release, done };
  }

  for (const which of ['in-process', 'store (another replica holds it)'] as const) {
    it(`${which}: a blocked image whose quarantine repository stays busy is removed within the bound, not served until the other copy ends`, async () => {
      const repo = `qwait${run++}/app`;
      const img = makeImage('good', `qwait-${run}-${process.pid}`);
      await raw.pushBlobs(repo, img.blobs);
      expect((await raw.putManifest(repo, 'v1', img)).status).to.equal(201);
      const holder = which === 'in-process' ? inProcessQuarantineLock : storeQuarantineLock(stores[1]!, 'lab');
      const mine = which === 'in-process' ? inProcessQuarantineLock : storeQuarantineLock(stores[0]!, 'lab');
      const slow = await holdLock(holder, `quarantine/${repo}`);
      const t0 = Date.now();
      const r = await enforce({
        client: new RegistryClient({ name: 'lab', url: reg.url, retries: 0 }),
        type: 'distribution',
        repository: repo,
        digest: img.digest as Digest,
        tag: 'v1',
        decision: 'quarantine',
        mode: 'enforce',
        quarantinePrefix: 'quarantine/',
        tagLink: 'awaited',
        quarantineLock: mine,
        quarantineLockWaitMs: 1500,
      });
      const took = Date.now() - t0;
      slow.release();
      await slow.done;
      expect(r.status, JSON.stringify(r)).to.equal('done');
      expect(r.detail).to.match(/busy with another copy/);
      expect(took, 'waited past its bound').to.be.lessThan(1500 + 3000);
      expect(await raw.served(repo, 'v1'), 'the blocked image is still served under its tag').to.equal(undefined);
      expect(await raw.served(repo, img.digest), 'the blocked image is still served by digest').to.equal(undefined);
    });
  }

  it('property (in-process lock): a waiter with a bound either runs alone or gives up within its bound; those after it are not held up by it', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ ms: fc.integer({ min: 0, max: 30 }), waitMs: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }) }), { minLength: 1, maxLength: 10 }),
        async (jobs) => {
          const target = `q/prop${n++}`;
          let inside = 0;
          const started = Date.now();
          const outcomes = await Promise.allSettled(
            jobs.map(async (j) => {
              const t0 = Date.now();
              try {
                return await inProcessQuarantineLock(
                  target,
                  async () => {
                    inside++;
                    expect(inside, 'two holders at once').to.equal(1);
                    await sleep(j.ms);
                    inside--;
                    return 'ran';
                  },
                  { waitMs: j.waitMs },
                );
              } catch (e) {
                expect(isLockWaitExpired(e), (e as Error).message).to.equal(true);
                expect(j.waitMs, 'a waiter without a bound gave up').to.not.equal(undefined);
                expect(Date.now() - t0, 'gave up long after its bound').to.be.lessThan(j.waitMs! + 200);
                return 'expired';
              }
            }),
          );
          for (const o of outcomes) expect(o.status, String((o as PromiseRejectedResult).reason)).to.equal('fulfilled');
          // nobody waits for the ones that gave up: the whole line takes at most the sum of those that ran
          const ranMs = jobs.filter((_, i) => (outcomes[i] as PromiseFulfilledResult<string>).value === 'ran').reduce((a, j) => a + j.ms, 0);
          expect(Date.now() - started).to.be.lessThan(ranMs + 60 * jobs.length + 300);
          // the line is empty again: a new holder runs at once
          expect(await inProcessQuarantineLock(target, async () => 'next', { waitMs: 50 })).to.equal('next');
        },
      ),
      { numRuns: 40 },
    );
  });
});
