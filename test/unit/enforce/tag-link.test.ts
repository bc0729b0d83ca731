/**
 * The wait for a tag link before deleting a tagged push: checks at fixed ages of the event (the time since
 * pushgate stored it), never past the last one; an error other than "not linked yet" (refused token,
 * network) ends the wait after one request. Time here is a virtual clock: what is asserted is which
 * requests are made at which ages and how long the wait pauses, never how long a test took.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { MAX_REPOSITORY_LENGTH } from '../../../src/core/names.js';
import { PushgateError } from '../../../src/core/errors.js';
import { RegistryError } from '../../../src/registry/errors.js';
import { quarantine } from '../../../src/enforce/actions/quarantine.js';
import { reject } from '../../../src/enforce/actions/reject.js';
import { awaitTagLink, tagLinkChecks, TAG_LINK_BUDGET, TAG_LINK_WAIT_MS, type TagLinkClock } from '../../../src/enforce/actions/tag-link.js';
import type { RegistryClient } from '../../../src/registry/client.js';

/** A virtual clock: `age()` is the event's age; `sleep` moves it on at once and records the pause. */
function virtualClock(ageMs: number): TagLinkClock & { pauses: number[]; advance(ms: number): void } {
  let now = ageMs;
  const pauses: number[] = [];
  return {
    pauses,
    age: () => now,
    sleep: async (ms) => {
      pauses.push(ms);
      now += ms;
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

/**
 * A registry whose `repo:tag` names `before` (undefined: absent) until event age `linkAt` (never: Infinity),
 * then `pushed`; each HEAD takes `latencyMs` of the clock; `fail`: every HEAD is refused.
 */
function registry(clock: ReturnType<typeof virtualClock>, linkAt: number, latencyMs = 0, fail = false, before?: string, pushed = `sha256:${'a'.repeat(64)}`): { c: RegistryClient; heads: number[] } {
  const heads: number[] = [];
  const c = {
    resolve: async () => {
      const at = clock.age();
      heads.push(at);
      clock.advance(latencyMs);
      if (fail) throw new PushgateError('UNAUTHORIZED', 'registry lab: HEAD manifest: 401 invalid_token');
      const d = at >= linkAt ? pushed : before;
      return d ? { digest: d, mediaType: 'x', size: 1 } : undefined;
    },
  } as unknown as RegistryClient;
  return { c, heads };
}

describe('enforce: waiting for a tag link, by the event\'s age', () => {
  it('checks at ages 0, 100, 300, … 6300 ms: seven HEADs at most, the last at 6.3 s', () => {
    expect(tagLinkChecks()).to.deep.equal([0, 100, 300, 700, 1500, 3100, 6300]);
    expect(TAG_LINK_WAIT_MS).to.equal(6300);
    expect(TAG_LINK_BUDGET.requests).to.equal(7);
  });

  it('a registry that refuses pushgate costs one request', async () => {
    const clock = virtualClock(0);
    const reg = registry(clock, 0, 0, true);
    expect(await awaitTagLink(reg.c, 'team/app', 'v1', { clock })).to.deep.equal({ heads: 1, linked: false });
    expect(clock.pauses).to.deep.equal([]);
  });

  it('a fresh event whose tag never links: a HEAD at each check age, pauses adding up to 6.3 s', async () => {
    const clock = virtualClock(0);
    const reg = registry(clock, Number.POSITIVE_INFINITY);
    expect(await awaitTagLink(reg.c, 'team/app', 'v1', { clock })).to.deep.equal({ heads: 7, linked: false });
    expect(reg.heads).to.deep.equal(tagLinkChecks());
    expect(clock.pauses.reduce((a, b) => a + b, 0)).to.equal(6300);
  });

  it('an event older than the wait (a retry, a restart, a backlog) is not waited on: no request, no pause', async () => {
    for (const age of [6301, 7000, 60_000, 86_400_000]) {
      const clock = virtualClock(age);
      const reg = registry(clock, Number.POSITIVE_INFINITY);
      expect(await awaitTagLink(reg.c, 'team/app', 'v1', { clock })).to.deep.equal({ heads: 0, linked: false });
      expect(clock.pauses).to.deep.equal([]);
    }
  });

  it('stops at the first HEAD that sees the link; a slice hands the rest of the wait back as retryInMs', async () => {
    const clock = virtualClock(0);
    const reg = registry(clock, 250);
    expect(await awaitTagLink(reg.c, 'team/app', 'v1', { clock })).to.deep.equal({ heads: 3, linked: true });
    const sliced = virtualClock(0);
    const never = registry(sliced, Number.POSITIVE_INFINITY);
    expect(await awaitTagLink(never.c, 'team/app', 'v1', { clock: sliced, sliceMs: 300 })).to.deep.equal({ heads: 3, linked: false, retryInMs: 400 });
    expect(sliced.pauses).to.deep.equal([100, 200]);
  });

  it('property: over first-claim ages, link ages, HEAD latencies and queue delays, the wait never outlasts the budget of age and never acts before a link within it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.integer({ min: 0, max: 7000 }), fc.integer({ min: 0, max: 600_000 })),
        fc.oneof(fc.integer({ min: 0, max: 8000 }), fc.constant(Number.POSITIVE_INFINITY)),
        fc.integer({ min: 0, max: 60 }),
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 10, maxLength: 10 }),
        fc.constantFrom(Number.POSITIVE_INFINITY, 300, 0),
        async (firstAge, linkAt, latency, queueDelays, sliceMs) => {
          const clock = virtualClock(firstAge);
          const reg = registry(clock, linkAt, latency);
          let r = await awaitTagLink(reg.c, 'team/app', 'v1', { clock, sliceMs });
          let claims = 1;
          let paused = clock.pauses.reduce((a, b) => a + b, 0);
          expect(paused, 'one claim pauses at most its slice').to.be.at.most(sliceMs);
          // As the queue does: the event is due again after retryInMs, claimed some time later.
          while (r.retryInMs !== undefined) {
            expect(claims, 'the event comes back at most once per check').to.be.below(TAG_LINK_BUDGET.requests + 1);
            clock.advance(r.retryInMs + queueDelays[claims % queueDelays.length]!);
            const before = clock.pauses.length;
            r = await awaitTagLink(reg.c, 'team/app', 'v1', { clock, sliceMs });
            const p = clock.pauses.slice(before).reduce((a, b) => a + b, 0);
            expect(p).to.be.at.most(sliceMs);
            paused += p;
            claims++;
          }
          const end = clock.age();
          // Bounded: pauses stop at the budget of age, in total over every claim; HEADs at most the budget.
          expect(paused).to.be.at.most(Math.max(0, TAG_LINK_WAIT_MS - firstAge));
          expect(reg.heads.length).to.be.at.most(TAG_LINK_BUDGET.requests);
          for (const h of reg.heads) expect(h).to.be.at.most(TAG_LINK_WAIT_MS);
          if (firstAge > TAG_LINK_WAIT_MS) expect(reg.heads).to.deep.equal([]);
          // Safe: the action never goes on before a link that comes within the budget.
          if (linkAt <= TAG_LINK_WAIT_MS) expect(end).to.be.at.least(linkAt);
          if (r.linked) expect(reg.heads.at(-1)).to.be.at.least(linkAt);
          else if (reg.heads.length) expect(end, 'gave up only at the end of the budget').to.be.at.least(TAG_LINK_WAIT_MS);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

/**
 * A quarantine that cannot copy (no room for `<prefix><repository>`, or an index whose blocked child is
 * gone) falls back to a delete. The quarantine already waited for the tag's link: the delete must not
 * wait a second time, or a tag that never links (a pusher re-pointed it and removed what it points at)
 * holds a worker for two budgets of pauses (12.6 s) per event instead of one.
 */
describe('enforce: a quarantine that falls back to a delete waits for the tag link once', () => {
  const DIGEST = `sha256:${'b'.repeat(64)}` as const;

  /** A registry where `repo:tag` links after `linkAfter` HEADs of it (never: Infinity); everything else as after a copy fails. */
  function registry(linkAfter: number, copyFails: boolean): { c: RegistryClient; tagHeads: () => number; deleted: string[] } {
    let heads = 0;
    const deleted: string[] = [];
    const c = {
      resolve: async (_repo: string, ref: string) => {
        if (ref === DIGEST) return { digest: DIGEST, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1 };
        heads++;
        return heads > linkAfter ? { digest: DIGEST, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1 } : undefined;
      },
      copyImage: async () => {
        if (copyFails) throw new PushgateError('NOT_FOUND', 'registry lab: GET manifest: 404 MANIFEST_UNKNOWN');
      },
      referrers: async () => [],
      getManifest: async () => {
        throw new PushgateError('NOT_FOUND', 'registry lab: GET manifest: 404 MANIFEST_UNKNOWN');
      },
      listTags: async () => [],
      deleteManifest: async (repo: string, digest: string) => {
        deleted.push(`${repo}@${digest}`);
      },
    } as unknown as RegistryClient;
    return { c, tagHeads: () => heads, deleted };
  }

  it('property: HEADs of the tag stay within one budget, and the blocked digest is deleted', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('no-room', 'copy-fails'),
        fc.oneof(fc.integer({ min: 0, max: TAG_LINK_BUDGET.requests + 2 }), fc.constant(Number.POSITIVE_INFINITY)),
        fc.integer({ min: 1, max: 12 }),
        async (fallback, linkAfter, extra) => {
          const repository = fallback === 'no-room' ? `team/${'r'.repeat(MAX_REPOSITORY_LENGTH - 'quarantine/'.length - 'team/'.length + extra)}`.slice(0, MAX_REPOSITORY_LENGTH) : 'team/app';
          const reg = registry(linkAfter, fallback === 'copy-fails');
          const r = await quarantine(reg.c, repository, DIGEST, 'v1', 'quarantine/', undefined, undefined, virtualClock(0));
          expect(r.action).to.equal('delete');
          expect(reg.deleted).to.deep.equal([`${repository}@${DIGEST}`]);
          expect(reg.tagHeads()).to.equal(Math.min(linkAfter + 1, TAG_LINK_BUDGET.requests));
        },
      ),
      { numRuns: 60 },
    );
  });
});

/**
 * A re-push of an existing tag: until the registry links it, the tag still names the digest it named
 * before. That is not the link the wait is for: a delete and a restore made then are undone by the late
 * link (the tag ends on the deleted digest, the restore overwritten).
 */
describe('enforce: the wait for a re-pushed tag waits for the pushed digest, not the previous one', () => {
  const PUSHED = `sha256:${'c'.repeat(64)}` as const;
  const PREVIOUS = `sha256:${'d'.repeat(64)}` as const;

  /** `repo:tag` names `before` (undefined: absent) until event age `linkAt`, then the pushed digest. */
  const repushed = (clock: ReturnType<typeof virtualClock>, linkAt: number, before: string | undefined, latencyMs = 0) => registry(clock, linkAt, latencyMs, false, before, PUSHED);

  it('the previous digest at the first HEAD does not end the wait', async () => {
    const clock = virtualClock(0);
    const reg = repushed(clock, 250, PREVIOUS);
    expect(await awaitTagLink(reg.c, 'team/app', 'v1', { clock, digest: PUSHED })).to.deep.equal({ heads: 3, linked: true });
    expect(reg.heads).to.deep.equal([0, 100, 300]);
  });

  it('property: over previous digests (or none), link ages, latencies and slices, the wait never ends linked before the link, nor early unless past the budget', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 7000 }),
        fc.oneof(fc.integer({ min: 0, max: 8000 }), fc.constant(Number.POSITIVE_INFINITY)),
        fc.constantFrom<string | undefined>(PREVIOUS, undefined, `sha256:${'e'.repeat(64)}`),
        fc.integer({ min: 0, max: 60 }),
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 10, maxLength: 10 }),
        fc.constantFrom(Number.POSITIVE_INFINITY, 300, 0),
        async (firstAge, linkAt, before, latency, queueDelays, sliceMs) => {
          const clock = virtualClock(firstAge);
          const reg = repushed(clock, linkAt, before, latency);
          let r = await awaitTagLink(reg.c, 'team/app', 'v1', { clock, sliceMs, digest: PUSHED });
          for (let claims = 1; r.retryInMs !== undefined; claims++) {
            expect(claims).to.be.below(TAG_LINK_BUDGET.requests + 1);
            clock.advance(r.retryInMs + queueDelays[claims % queueDelays.length]!);
            r = await awaitTagLink(reg.c, 'team/app', 'v1', { clock, sliceMs, digest: PUSHED });
          }
          if (r.linked) expect(reg.heads.at(-1), 'linked only once the pushed digest is linked').to.be.at.least(linkAt);
          // Within the budget, the action never goes on before the link, whatever the tag named before.
          if (linkAt <= TAG_LINK_WAIT_MS) expect(clock.age()).to.be.at.least(linkAt);
          if (!r.linked && reg.heads.length) expect(clock.age(), 'gave up only at the end of the budget').to.be.at.least(TAG_LINK_WAIT_MS);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('quarantine and delete wait for the pushed digest on the tag before they write', async () => {
    for (const action of ['quarantine', 'reject'] as const) {
      const clock = virtualClock(0);
      const log: string[] = [];
      const c = {
        resolve: async (_repo: string, ref: string) => {
          if (ref === PUSHED) return { digest: PUSHED, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1 };
          log.push(`HEAD ${ref} at ${clock.age()}`);
          return { digest: clock.age() >= 700 ? PUSHED : PREVIOUS, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1 };
        },
        copyImage: async () => {
          log.push(`copy at ${clock.age()}`);
        },
        referrers: async () => [],
        getManifest: async () => ({ bytes: Buffer.from('{}'), mediaType: 'application/vnd.oci.image.manifest.v1+json' }),
        putManifest: async () => {
          log.push(`put at ${clock.age()}`);
        },
        listTags: async () => [],
        deleteManifest: async () => {
          log.push(`delete at ${clock.age()}`);
        },
      } as unknown as RegistryClient;
      if (action === 'quarantine') await quarantine(c, 'team/app', PUSHED, 'v1', 'quarantine/', undefined, undefined, clock);
      else await reject(c, 'team/app', PUSHED, 'v1', undefined, undefined, clock);
      const firstWrite = log.findIndex((l) => !l.startsWith('HEAD'));
      expect(log.slice(0, firstWrite), action).to.deep.equal(['HEAD v1 at 0', 'HEAD v1 at 100', 'HEAD v1 at 300', 'HEAD v1 at 700']);
    }
  });
});

/**
 * A registry answering a check with a transient error (429 with or without Retry-After, 5xx, a network
 * failure) has not said the tag is linked. That check counts as "not linked yet": ending the wait on it
 * acted before the link (a delete left the tag on the deleted manifest, a restore was overwritten by the
 * late link). Retry-After is honoured within the budget only; a refused token still ends the wait at once.
 */
describe('enforce: a transient registry error during the wait is "not linked yet"', () => {
  const PUSHED = `sha256:${'f'.repeat(64)}` as const;
  /** One HEAD's answer when the registry does not simply answer: an HTTP error status (429 with Retry-After seconds), a network failure, or a refusal. */
  type Fault = { status: 429; retryAfterS?: number } | { status: 500 | 502 | 503 | 504 } | { network: true } | { refused: true };

  function faulty(clock: ReturnType<typeof virtualClock>, linkAt: number, faults: Array<Fault | undefined>, latencyMs = 0): { c: RegistryClient; heads: number[]; retries: Array<number | undefined> } {
    const heads: number[] = [];
    const retries: Array<number | undefined> = [];
    const c = {
      resolve: async (_repo: string, _ref: string, opts?: { retries?: number }) => {
        const at = clock.age();
        const f = faults[heads.length];
        heads.push(at);
        retries.push(opts?.retries);
        clock.advance(latencyMs);
        if (f && 'refused' in f) throw new RegistryError('UNAUTHORIZED', 'registry lab: HEAD manifest: 401 invalid_token', { status: 401, url: 'x' });
        if (f && 'network' in f) throw new RegistryError('NETWORK', 'registry lab: HEAD manifest: ECONNRESET', { url: 'x', retryable: true });
        if (f) {
          const ra = 'retryAfterS' in f && f.retryAfterS !== undefined ? { retryAfterMs: f.retryAfterS * 1000 } : undefined;
          throw new RegistryError('REGISTRY', `registry lab: HEAD manifest: ${f.status}`, { status: f.status, url: 'x', retryable: true, details: ra });
        }
        return at >= linkAt ? { digest: PUSHED, mediaType: 'x', size: 1 } : undefined;
      },
    } as unknown as RegistryClient;
    return { c, heads, retries };
  }

  it('503 until the link: the checks go on and end at the link (before: one HEAD, then the action)', async () => {
    const clock = virtualClock(0);
    const reg = faulty(clock, 250, [{ status: 503 }, { status: 503 }]);
    expect(await awaitTagLink(reg.c, 'team/app', 'v1', { clock, digest: PUSHED })).to.deep.equal({ heads: 3, linked: true });
    expect(reg.heads).to.deep.equal([0, 100, 300]);
    expect(reg.retries, 'one request per check: the checks are the retries').to.deep.equal([0, 0, 0]);
  });

  it('429 with Retry-After: the next check is the first at or after it, never past the budget; a slice hands it back', async () => {
    const clock = virtualClock(0);
    const reg = faulty(clock, Number.POSITIVE_INFINITY, [{ status: 429, retryAfterS: 1 }]);
    expect(await awaitTagLink(reg.c, 'team/app', 'v1', { clock, sliceMs: 300, digest: PUSHED })).to.deep.include({ heads: 1, linked: false, retryInMs: 1500 });
    const far = virtualClock(0);
    const reg2 = faulty(far, Number.POSITIVE_INFINITY, [{ status: 429, retryAfterS: 3600 }, { status: 429, retryAfterS: 3600 }]);
    const r = await awaitTagLink(reg2.c, 'team/app', 'v1', { clock: far, digest: PUSHED });
    expect(r).to.deep.include({ heads: 2, linked: false });
    expect(r.transient).to.match(/429/);
    expect(reg2.heads, 'an hour asked for: the last check of the budget, then the wait is over').to.deep.equal([0, 6300]);
  });

  it('a refused token still ends the wait after one request', async () => {
    const clock = virtualClock(0);
    const reg = faulty(clock, 0, [{ refused: true }]);
    expect(await awaitTagLink(reg.c, 'team/app', 'v1', { clock, digest: PUSHED })).to.deep.equal({ heads: 1, linked: false });
  });

  it('property: over fault schedules, Retry-After values, link ages, latencies, slices and queue delays, the wait never ends before the link or the end of the budget, honours Retry-After within it, and stays within seven HEADs', async () => {
    const fault: fc.Arbitrary<Fault | undefined> = fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: fc.record({ status: fc.constant(429 as const), retryAfterS: fc.option(fc.oneof(fc.integer({ min: 0, max: 8 }), fc.constant(3600)), { nil: undefined }) }) },
      { weight: 2, arbitrary: fc.record({ status: fc.constantFrom(500 as const, 502 as const, 503 as const, 504 as const) }) },
      { weight: 1, arbitrary: fc.constant({ network: true as const }) },
      { weight: 1, arbitrary: fc.constant({ refused: true as const }) },
    );
    let reachedEnd = 0;
    let linkedAfterFault = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 7000 })),
        fc.oneof(fc.integer({ min: 0, max: 8000 }), fc.constant(Number.POSITIVE_INFINITY)),
        fc.array(fault, { minLength: 7, maxLength: 7 }),
        fc.integer({ min: 0, max: 60 }),
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 10, maxLength: 10 }),
        fc.constantFrom(Number.POSITIVE_INFINITY, 300, 0),
        async (firstAge, linkAt, faults, latency, queueDelays, sliceMs) => {
          const clock = virtualClock(firstAge);
          const reg = faulty(clock, linkAt, faults, latency);
          let r = await awaitTagLink(reg.c, 'team/app', 'v1', { clock, sliceMs, digest: PUSHED });
          for (let claims = 1; r.retryInMs !== undefined; claims++) {
            expect(claims).to.be.below(TAG_LINK_BUDGET.requests + 1);
            clock.advance(r.retryInMs + queueDelays[claims % queueDelays.length]!);
            r = await awaitTagLink(reg.c, 'team/app', 'v1', { clock, sliceMs, digest: PUSHED });
          }
          const end = clock.age();
          expect(reg.heads.length).to.be.at.most(TAG_LINK_BUDGET.requests);
          expect(reg.retries.every((x) => x === 0), 'no client retries inside a check').to.equal(true);
          for (const h of reg.heads) expect(h).to.be.at.most(TAG_LINK_WAIT_MS);
          expect(clock.pauses.reduce((a, b) => a + b, 0)).to.be.at.most(Math.max(0, TAG_LINK_WAIT_MS - firstAge));
          const refusedAt = reg.heads.findIndex((_, i) => faults[i] && 'refused' in faults[i]!);
          if (refusedAt >= 0) {
            expect(reg.heads.length, 'a refusal ends the wait').to.equal(refusedAt + 1);
            return;
          }
          if (r.linked) expect(reg.heads.at(-1)).to.be.at.least(linkAt);
          else if (reg.heads.length) {
            // Transient errors never end the wait early: only the budget does.
            expect(end, 'gave up only at the end of the budget').to.be.at.least(TAG_LINK_WAIT_MS);
            reachedEnd++;
          }
          if (linkAt <= TAG_LINK_WAIT_MS && reg.heads.length) expect(end, 'never before a link within the budget').to.be.at.least(linkAt);
          if (r.linked && faults.slice(0, reg.heads.length - 1).some((f) => f)) linkedAfterFault++;
          // Retry-After, within the budget: the check after a 429 that asked for a pause is not made before it.
          for (let i = 0; i + 1 < reg.heads.length; i++) {
            const f = faults[i];
            if (f && 'status' in f && f.status === 429 && f.retryAfterS) expect(reg.heads[i + 1]).to.be.at.least(Math.min(reg.heads[i]! + latency + f.retryAfterS * 1000, TAG_LINK_WAIT_MS));
          }
        },
      ),
      { numRuns: 1500 },
    );
    expect(reachedEnd, 'cases that waited out the whole budget').to.be.greaterThan(30);
    expect(linkedAfterFault, 'cases that saw the link after a transient error').to.be.greaterThan(30);
  });
});
