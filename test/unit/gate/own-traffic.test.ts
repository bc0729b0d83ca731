/**
 * The one own-traffic decision (src/gate/own-traffic.ts) on a real SQLite store: only a remembered
 * write or the registry-authenticated actor being pushgate's account counts; never a User-Agent.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { RegistryConfig } from '../../../src/config/types.js';
import type { PushEvent } from '../../../src/core/index.js';
import { OWN_ACTOR_WARN_MS, OwnTraffic, plannedWrites } from '../../../src/gate/own-traffic.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { labRegistryConfig } from '../../helpers/gate.js';

const D1 = `sha256:${'1'.repeat(64)}` as const;
const D2 = `sha256:${'2'.repeat(64)}` as const;

describe('gate/own-traffic', () => {
  let store: Store;
  let own: OwnTraffic;
  const registries: RegistryConfig[] = [
    { ...labRegistryConfig('authed', 5000, 't1'), auth: { username: 'pushgate-bot', password: 'pw' } },
    labRegistryConfig('open', 5001, 't2'),
  ];
  const ev = (over: Partial<PushEvent>): PushEvent => ({ id: 'e1', source: 'distribution', registry: 'authed', action: 'push', repository: 'team/app', digest: D1, tag: 'v1', ...over });

  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
    own = new OwnTraffic({ store, registry: (n) => registries.find((r) => r.name === n) });
  });
  afterEach(async () => store.close());

  it('the registry actor counts only when it is exactly the account pushgate logs in with', async () => {
    expect(await own.check(ev({ actor: 'pushgate-bot' }))).to.equal('own-actor');
    expect(await own.check(ev({ actor: 'pushgate-bot', source: 'harbor' }))).to.equal('own-actor');
    for (const actor of [undefined, '', 'Pushgate-Bot', 'pushgate-bot ', 'pushgate', 'pushgate/1.0.0', 'alice']) {
      expect(await own.check(ev({ actor })), String(actor)).to.equal(undefined);
    }
    // a registry without auth has no account: no actor is pushgate's
    expect(await own.check(ev({ registry: 'open', actor: '' }))).to.equal(undefined);
    // an API or admission request naming that user is not a registry event
    expect(await own.check(ev({ source: 'api', actor: 'pushgate-bot' }))).to.equal(undefined);
  });

  it('a remembered write is own traffic for the event that consumes it, and only that one', async () => {
    await own.remember('open', { repository: 'quarantine/team/app', digest: D1, tag: 'v1' });
    const e = ev({ registry: 'open', repository: 'quarantine/team/app', id: 'n1' });
    expect(await own.check({ ...e, digest: D2 })).to.equal(undefined);
    expect(await own.check(e)).to.equal('own-write');
    expect(await own.check(e), 'redelivery').to.equal('own-write');
    expect(await own.check({ ...e, id: 'n2' }), 'another push of the same bytes').to.equal(undefined);
  });

  it('a remembered DELETE is own traffic for its delete notification only: never a push, never another digest', async () => {
    await own.rememberDelete('open', 'team/app', D1);
    const del = ev({ registry: 'open', action: 'delete', tag: undefined, id: 'd1' });
    expect(await own.check(ev({ registry: 'open', tag: undefined, id: 'p1' })), 'a push of that digest').to.equal(undefined);
    expect(await own.check({ ...del, digest: D2 }), 'another digest').to.equal(undefined);
    expect(await own.check({ ...del, repository: 'team/other' }), 'another repository').to.equal(undefined);
    expect(await own.check(del)).to.equal('own-write');
    expect(await own.check({ ...del, id: 'd2' }), 'a second delete').to.equal(undefined);
    // A delete nobody remembered (someone removing a signature) is never own traffic.
    expect(await own.check(ev({ registry: 'open', action: 'delete', tag: undefined, digest: D2, id: 'd3' }))).to.equal(undefined);
  });

  it('expect(): announced writes are remembered before the action, learnt ones when reported, each once', async () => {
    const onWrite = await own.expect('open', [{ repository: 'quarantine/team/app', digest: D1, tag: 'v1' }]);
    expect(await own.check(ev({ registry: 'open', repository: 'quarantine/team/app', id: 'a' }))).to.equal('own-write');
    await onWrite({ repository: 'quarantine/team/app', digest: D1, tag: 'v1' }); // announced: not remembered again
    expect(await own.check(ev({ registry: 'open', repository: 'quarantine/team/app', id: 'b' }))).to.equal(undefined);
    await onWrite({ repository: 'quarantine/team/app', digest: D2 }); // a referrer learnt during the action
    expect(await own.check(ev({ registry: 'open', repository: 'quarantine/team/app', digest: D2, tag: undefined, id: 'c' }))).to.equal('own-write');
  });

  it('plannedWrites: the quarantine copy and the restored tag, only when the action runs', () => {
    const base = { type: 'distribution' as const, acts: true, decision: 'quarantine', repository: 'team/app', digest: D1, tag: 'v1', quarantineRepository: 'quarantine/team/app' };
    expect(plannedWrites(base)).to.deep.equal([{ repository: 'quarantine/team/app', digest: D1, tag: 'v1' }]);
    expect(plannedWrites({ ...base, restoreDigest: D2 })).to.deep.equal([{ repository: 'quarantine/team/app', digest: D1, tag: 'v1' }, { repository: 'team/app', digest: D2, tag: 'v1' }]);
    expect(plannedWrites({ ...base, decision: 'reject', restoreDigest: D2 })).to.deep.equal([{ repository: 'team/app', digest: D2, tag: 'v1' }]);
    expect(plannedWrites({ ...base, type: 'harbor' })).to.deep.equal([{ repository: 'quarantine/team/app', digest: D1 }]);
    expect(plannedWrites({ ...base, acts: false })).to.deep.equal([]);
    // Pushed by digest only: Distribution's quarantine copy goes by digest; nothing to restore.
    expect(plannedWrites({ ...base, tag: undefined })).to.deep.equal([{ repository: 'quarantine/team/app', digest: D1 }]);
    expect(plannedWrites({ ...base, tag: undefined, decision: 'reject', restoreDigest: D2 })).to.deep.equal([]);
    expect(plannedWrites({ ...base, tag: undefined, type: 'harbor' })).to.deep.equal([]);
  });
});

describe('gate/own-traffic: pushes by pushgate\'s account that pushgate did not make are said', () => {
  const registries: RegistryConfig[] = [{ ...labRegistryConfig('authed', 5000, 't1'), auth: { username: 'pushgate-bot', password: 'secret-pw-123' } }];
  const ev = (over: Partial<PushEvent>): PushEvent => ({ id: 'e1', source: 'distribution', registry: 'authed', action: 'push', repository: 'team/app', digest: D1, tag: 'v1', actor: 'pushgate-bot', ...over });
  let store: Store;
  let clock: number;
  let warnings: Array<{ fields: Record<string, unknown>; message: string }>;
  let own: OwnTraffic;
  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
    clock = 1_000_000;
    warnings = [];
    own = new OwnTraffic({ store, registry: (n) => registries.find((r) => r.name === n), now: () => clock, warn: (fields, message) => warnings.push({ fields, message }) });
  });
  afterEach(async () => store.close());

  it('warns once per repository per hour, says why and what to do, never the password; still own traffic', async () => {
    expect(await own.check(ev({}))).to.equal('own-actor');
    expect(warnings).to.have.length(1);
    expect(warnings[0]!.fields).to.deep.equal({ registry: 'authed', repository: 'team/app', account: 'pushgate-bot' });
    expect(warnings[0]!.message).to.match(/not judged/).and.match(/another account/).and.match(/own-traffic/);
    expect(JSON.stringify(warnings)).not.to.include('secret-pw-123');
    expect(await own.check(ev({ id: 'e2', tag: 'v2' }))).to.equal('own-actor');
    expect(await own.check(ev({ id: 'e3', repository: 'team/other' }))).to.equal('own-actor');
    expect(warnings.map((w) => w.fields.repository)).to.deep.equal(['team/app', 'team/other']);
    clock += OWN_ACTOR_WARN_MS;
    await own.check(ev({ id: 'e4' }));
    expect(warnings).to.have.length(3);
  });

  it('pushgate\'s own remembered writes, deletes and other actors are not warned about', async () => {
    await own.remember('authed', { repository: 'quarantine/team/app', digest: D1, tag: 'v1' });
    expect(await own.check(ev({ repository: 'quarantine/team/app' }))).to.equal('own-actor');
    expect(await own.check(ev({ action: 'delete', tag: undefined, id: 'd' }))).to.equal('own-actor');
    expect(await own.check(ev({ actor: 'alice', id: 'a' }))).to.equal(undefined);
    expect(warnings).to.deep.equal([]);
  });

  it('property: any sequence of pushes by the account warns exactly once per repository and hour', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c/d'), fc.integer({ min: 0, max: 3 * OWN_ACTOR_WARN_MS })), { minLength: 1, maxLength: 30 }), async (pushes) => {
        warnings = [];
        const o = new OwnTraffic({ store, registry: (n) => registries.find((r) => r.name === n), now: () => clock, warn: (fields, message) => warnings.push({ fields, message }) });
        const last = new Map<string, number>();
        let want = 0;
        let i = 0;
        for (const [repo, dt] of pushes.sort((x, y) => x[1] - y[1])) {
          clock = 5_000_000 + dt;
          const l = last.get(repo);
          if (l === undefined || clock - l >= OWN_ACTOR_WARN_MS) { want++; last.set(repo, clock); }
          expect(await o.check(ev({ repository: repo, id: `p${i++}` }))).to.equal('own-actor');
        }
        expect(warnings).to.have.length(want);
      }),
      { numRuns: 100 },
    );
  });
});
