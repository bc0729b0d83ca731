/**
 * Two blocked image indexes sharing a child manifest, quarantined at once by two replicas (two stores on
 * one PostgreSQL database, as two `pushgate serve` replicas would be; each calls enforce() as its queue
 * worker does) into one quarantine repository of a real Distribution 2.8 registry. One copy fails part-way
 * (a child of its index missing from the registry, or a registry fault on it) and cleans up what it stored.
 * Before the copies were serialised per quarantine repository, that clean-up deleted the shared child under
 * the other copy, which finished and was recorded: the recorded quarantine copy named a child that was gone,
 * and its release failed.
 *
 * The interleaving (the failing copy's clean-up after the other copy has finished) is produced by an
 * in-process front before the real registry that holds two requests (./helpers/fault-front.ts): the second
 * replica's first request until the first replica reaches its failing child, and that child's read until the
 * second copy is done or 3 s have passed (a real registry answers too fast to produce it on demand). The
 * "registry fault" case answers that read 500 (what a real registry does not produce on demand); the
 * "missing" case is real (the child was deleted from the registry after its index was pushed).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Digest } from '../../../src/core/index.js';
import { enforce, releaseQuarantined } from '../../../src/enforce/index.js';
import { storeQuarantineLock } from '../../../src/gate/cluster-jobs.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { startFaultFront, type FaultFront } from '../../helpers/fault-front.js';
import { startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { freePort } from '../../helpers/ports.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { makeImage, makeIndex, Raw, sleep, type Image } from '../../helpers/raw-push.js';

type Held = { open: Promise<void>; release: () => void };
const gate = (): Held => {
  let release!: () => void;
  const open = new Promise<void>((r) => (release = r));
  return { open, release };
};

describe('enforce: two quarantine copies sharing a child, one failing part-way (two replicas, real registry)', function () {
  this.timeout(300_000);
  let reg: LabRegistry;
  let front: FaultFront;
  let raw: Raw;
  let stores: Store[] = [];
  let drop: (() => Promise<void>) | undefined;
  /** What the front does with the request in hand; reset by each case. */
  let decide: (method: string, path: string) => Promise<{ status: number } | undefined> = async () => undefined;
  let onAnswered: (method: string, path: string) => void = () => undefined;

  before(async () => {
    const regPort = await freePort();
    reg = startRegistry(regPort);
    front = await startFaultFront(await freePort(), regPort, (m, p) => decide(m, p), (m, p) => onAnswered(m, p));
    raw = new Raw(reg.host);
    const db = await freshDatabase('pushgate_qshared');
    drop = db.drop;
    stores = [await openStore(db.url), await openStore(db.url)];
  });
  after(async () => {
    for (const s of stores) await s.close();
    await drop?.();
    await front?.close();
    reg?.stop();
  });

  let run = 0;
  /**
   * Replica 0 quarantines index B (shared children + its own child `bad`, which fails), replica 1 index A
   * (the same shared children + its own clean child), both at once. Then replica 1's quarantine copy is
   * recorded and released, as an operator would.
   */
  async function race(shared: number, badAt: number, fault: 'missing' | 'registry-500', sharedOrder: number[]): Promise<string[]> {
    const repo = `qshared${run}/app`;
    const qrepo = `quarantine/${repo}`;
    const nonce = `qshared-${run++}-${process.pid}`;
    const common = Array.from({ length: shared }, (_, i) => makeImage('good', `${nonce}-s${i}`));
    const ownA = makeImage('good', `${nonce}-a`);
    const bad = makeImage('good', `${nonce}-bad`);
    for (const c of [...common, ownA, bad]) {
      await raw.pushBlobs(repo, c.blobs);
      expect((await raw.putManifest(repo, c.digest, c)).status).to.equal(201);
    }
    const bChildren: Image[] = sharedOrder.map((i) => common[i]!);
    bChildren.splice(Math.min(badAt, bChildren.length), 0, bad);
    const ixA = makeIndex([...common, ownA]);
    const ixB = makeIndex(bChildren);
    expect((await raw.putManifest(repo, 'a', ixA)).status).to.equal(201);
    expect((await raw.putManifest(repo, 'b', ixB)).status).to.equal(201);
    if (fault === 'missing') expect((await fetch(`${reg.url}/v2/${repo}/manifests/${bad.digest}`, { method: 'DELETE' })).status).to.equal(202);

    const badReached = gate();
    const aCopied = gate();
    let badReads = 0;
    decide = async (method, path) => {
      if (method === 'HEAD' && path === `/v2/${repo}/manifests/${ixA.digest}`) await badReached.open;
      if (method === 'GET' && path === `/v2/${repo}/manifests/${bad.digest}`) {
        badReached.release();
        if (badReads++ === 0) await Promise.race([aCopied.open, sleep(3000)]);
        if (fault === 'registry-500') return { status: 500 };
      }
      return undefined;
    };
    onAnswered = (method, path) => {
      if (method === 'PUT' && path === `/v2/${qrepo}/manifests/a`) aCopied.release();
    };
    const client = () => new RegistryClient({ name: 'lab', url: front.url, retries: 0 });
    const request = (digest: string, tag: string, store: Store) => ({
      client: client(),
      type: 'distribution' as const,
      repository: repo,
      digest: digest as Digest,
      tag,
      decision: 'quarantine' as const,
      mode: 'enforce' as const,
      quarantinePrefix: 'quarantine/',
      tagLink: 'awaited' as const,
      quarantineLock: storeQuarantineLock(store, 'lab'),
    });
    const [eb, ea] = await Promise.all([enforce(request(ixB.digest, 'b', stores[0]!)), enforce(request(ixA.digest, 'a', stores[1]!))]);
    decide = async () => undefined;
    const trail = [`B: ${JSON.stringify(eb)}`, `A: ${JSON.stringify(ea)}`].join('\n');
    const problems: string[] = [];
    expect(ea.status, trail).to.equal('done');
    expect(ea.action, trail).to.equal('quarantine');
    // Replica 1 records its quarantine copy, as the gate does; everything it names must be in the quarantine repository.
    await stores[1]!.recordQuarantine({ registry: 'lab', repository: repo, tag: 'a', digest: ixA.digest as Digest, quarantineRepository: qrepo });
    for (const c of [...common, ownA]) {
      if ((await raw.served(qrepo, c.digest)) !== c.digest) problems.push(`child ${c.digest} of the recorded quarantine copy ${qrepo}:a is gone`);
    }
    // What the failed copy stored there alone is gone again; the index it could not copy was never there.
    if (await raw.served(qrepo, bad.digest)) problems.push(`the failing child ${bad.digest} is in ${qrepo}`);
    if (await raw.served(qrepo, 'b')) problems.push(`${qrepo}:b exists`);
    // The recorded copy can be released.
    try {
      await releaseQuarantined({ client: client(), type: 'distribution', quarantineRepository: qrepo, digest: ixA.digest as Digest, repository: repo, tag: 'a' });
      if ((await raw.served(repo, 'a')) !== ixA.digest) problems.push(`${repo}:a is not ${ixA.digest} after the release`);
    } catch (e) {
      problems.push(`release of ${qrepo}:a failed: ${(e as Error).message}`);
    }
    return problems.map((p) => `${p}\n${trail}`);
  }

  it('the failing copy cleans up after the other finished: the recorded copy keeps every child and is released (missing child)', async () => {
    expect(await race(1, 1, 'missing', [0])).to.deep.equal([]);
  });

  it('property: any number and order of shared children, the failing child anywhere, a missing child or a registry fault', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n }), fc.constantFrom('missing' as const, 'registry-500' as const), fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }))),
        async ([n, at, fault, order]) => {
          expect(await race(n, at, fault, order), `${n} shared, the failing child at ${at}, ${fault}, order ${order.join(',')}`).to.deep.equal([]);
        },
      ),
      { numRuns: 5 },
    );
  });
});
