/**
 * The wait for a tag link before deleting a tagged push: backoff and a small request budget; an
 * error other than "not linked yet" (refused token, network) ends the wait after one request.
 */
import { expect } from 'chai';
import { PushgateError } from '../../../src/core/errors.js';
import { awaitTagLink, TAG_LINK_BUDGET, TAG_LINK_TIMEOUT_MS } from '../../../src/enforce/actions/quarantine.js';
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
