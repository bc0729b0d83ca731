/**
 * The wait for a tag link before deleting a tagged push: backoff and a small request budget; an
 * error other than "not linked yet" (refused token, network) ends the wait after one request.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { MAX_REPOSITORY_LENGTH } from '../../../src/core/names.js';
import { PushgateError } from '../../../src/core/errors.js';
import { awaitTagLink, quarantine, TAG_LINK_BUDGET, TAG_LINK_TIMEOUT_MS } from '../../../src/enforce/actions/quarantine.js';
import type { RegistryClient } from '../../../src/registry/client.js';

function client(answers: Array<'404' | 'found' | 'error'>): { c: RegistryClient; calls: number[] } {
  const calls: number[] = [];
  const t0 = Date.now();
  const c = {
    resolve: async () => {
      calls.push(Date.now() - t0);
      const a = answers[Math.min(calls.length - 1, answers.length - 1)];
      if (a === 'error') throw new PushgateError('UNAUTHORIZED', 'registry lab: HEAD manifest: 401 invalid_token');
      return a === 'found' ? { digest: `sha256:${'a'.repeat(64)}`, mediaType: 'x', size: 1 } : undefined;
    },
  } as unknown as RegistryClient;
  return { c, calls };
}

describe('enforce: waiting for a tag link', () => {
  it('a registry that refuses pushgate costs one request, not a poll per 50 ms', async () => {
    const { c, calls } = client(['error']);
    expect(await awaitTagLink(c, 'team/app', 'v1')).to.equal(1);
    expect(calls).to.have.length(1);
  });

  it('a tag that never links: at most the budget of requests, with growing pauses, within the timeout', async () => {
    const { c, calls } = client(['404']);
    const t0 = Date.now();
    const n = await awaitTagLink(c, 'team/app', 'v1', 2000, { requests: 5, firstDelayMs: 100 });
    expect(n).to.equal(5);
    expect(Date.now() - t0).to.be.below(2100);
    const gaps = calls.slice(1).map((t, i) => t - calls[i]!);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).to.be.greaterThan(gaps[i - 1]! * 1.5);
  });

  it('by default the budget of requests, not the timeout, ends the wait (its pauses add up to less)', () => {
    let pauses = 0;
    for (let i = 0, d = TAG_LINK_BUDGET.firstDelayMs; i < TAG_LINK_BUDGET.requests - 1; i++, d *= 2) pauses += d;
    expect(pauses).to.be.below(TAG_LINK_TIMEOUT_MS);
    expect(pauses).to.be.at.least(6000);
  });

  it('stops at the first HEAD that sees the link, and when the timeout would pass', async () => {
    const { c, calls } = client(['404', '404', 'found']);
    expect(await awaitTagLink(c, 'team/app', 'v1')).to.equal(3);
    expect(calls).to.have.length(3);
    const short = client(['404']);
    expect(await awaitTagLink(short.c, 'team/app', 'v1', 150)).to.equal(2);
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
  const budget = { requests: 4, firstDelayMs: 2 };

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
        fc.oneof(fc.integer({ min: 0, max: budget.requests + 2 }), fc.constant(Number.POSITIVE_INFINITY)),
        fc.integer({ min: 1, max: 12 }),
        async (fallback, linkAfter, extra) => {
          const repository = fallback === 'no-room' ? `team/${'r'.repeat(MAX_REPOSITORY_LENGTH - 'quarantine/'.length - 'team/'.length + extra)}`.slice(0, MAX_REPOSITORY_LENGTH) : 'team/app';
          const reg = registry(linkAfter, fallback === 'copy-fails');
          const r = await quarantine(reg.c, repository, DIGEST, 'v1', 'quarantine/', undefined, undefined, { timeoutMs: 1000, budget });
          expect(r.action).to.equal('delete');
          expect(reg.deleted).to.deep.equal([`${repository}@${DIGEST}`]);
          expect(reg.tagHeads()).to.equal(Math.min(linkAfter + 1, budget.requests));
        },
      ),
      { numRuns: 60 },
    );
  });
});
