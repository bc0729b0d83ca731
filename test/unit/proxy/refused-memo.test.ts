/**
 * The proxy's memory of refused manifests follows the verdicts it summarizes: an entry is dropped
 * when the policy revision changes (reload, exception, release) or when the manifest was judged
 * again and no longer blocks, and it lives at most REFUSED_TTL_MS.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Verdict } from '../../../src/core/index.js';
import { makeRefusedMap, REFUSED_TTL_MS, refusedNow, rememberRefused } from '../../../src/proxy/manifest-gate.js';
import type { GateApi } from '../../../src/gate/types.js';

const D = `sha256:${'c'.repeat(64)}`;
const stored = (decision: Verdict['decision'], atMs: number, mode: Verdict['mode'] = 'enforce'): Verdict => ({
  registry: 'lab',
  repository: 'team/app',
  digest: D,
  tags: [],
  decision,
  complete: true,
  reasons: [],
  mode,
  policy: { name: 'p', revision: 'x' },
  vulndb: { builtAt: null },
  evaluatedAt: new Date(atMs).toISOString(),
});

describe('proxy: the refused-manifest memo follows the state it summarizes', () => {
  const setup = () => {
    const policy = { revision: 'r1' };
    const ctx = { gate: { currentPolicy: policy } as unknown as GateApi, refused: makeRefusedMap() };
    return { policy, ctx };
  };

  it('kept while nothing changed; dropped by a new policy revision (reload, exception, release)', () => {
    const { policy, ctx } = setup();
    rememberRefused(ctx, `team/app@${D}`, { rules: ['secrets'], decision: 'reject' });
    expect(refusedNow(ctx, `team/app@${D}`, undefined)?.rules).to.deep.equal(['secrets']);
    expect(refusedNow(ctx, `team/app@${D}`, stored('reject', Date.now()))?.rules).to.deep.equal(['secrets']);
    policy.revision = 'r2';
    expect(refusedNow(ctx, `team/app@${D}`, undefined)).to.equal(undefined);
    expect(ctx.refused.has(`team/app@${D}`)).to.equal(false);
  });

  it('dropped by a newer verdict that allows, warns, or blocks only in warn/audit mode; kept by an older one', () => {
    for (const [v, kept] of [
      [stored('allow', Date.now() + 60_000), false],
      [stored('warn', Date.now() + 60_000), false],
      [stored('quarantine', Date.now() + 60_000, 'audit'), false],
      [stored('quarantine', Date.now() + 60_000), true],
      [stored('allow', Date.now() - 60_000), true],
    ] as const) {
      const { ctx } = setup();
      rememberRefused(ctx, `team/app@${D}`, { rules: ['r'], decision: 'quarantine' });
      expect(!!refusedNow(ctx, `team/app@${D}`, v), `${v.decision}/${v.mode} at ${v.evaluatedAt}`).to.equal(kept);
    }
  });

  it('bounded in time: at most ten minutes', () => {
    expect(REFUSED_TTL_MS).to.be.at.most(10 * 60_000);
    expect(makeRefusedMap().ttl).to.equal(REFUSED_TTL_MS);
  });

  it('property: an entry stands exactly when the revision is unchanged and no later verdict lets the manifest through', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.option(fc.record({ later: fc.boolean(), decision: fc.constantFrom('allow', 'warn', 'quarantine', 'reject'), mode: fc.constantFrom('enforce', 'warn', 'audit') })), (reload, v) => {
        const { policy, ctx } = setup();
        rememberRefused(ctx, 'k', { rules: ['r'], decision: 'reject' });
        if (reload) policy.revision = 'r9';
        const verdict = v ? stored(v.decision as Verdict['decision'], Date.now() + (v.later ? 10 : -10_000), v.mode as Verdict['mode']) : undefined;
        const letsThrough = !!v && v.later && !((v.decision === 'quarantine' || v.decision === 'reject') && v.mode === 'enforce');
        expect(!!refusedNow(ctx, 'k', verdict)).to.equal(!reload && !letsThrough);
      }),
    );
  });
});
