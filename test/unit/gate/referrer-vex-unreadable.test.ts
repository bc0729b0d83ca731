/**
 * A stored signed VEX document or kept retraction that pushgate's reader no longer reads (a stricter
 * reader since it was stored: a zoneless time, an out-of-range field) may be the authority's "affected":
 * dropping it would bring an earlier "not_affected" back, so nothing of the image is suppressed then.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Digest } from '../../../src/core/index.js';
import { authoritiesFingerprint, authorityFingerprint, storedReferrerVex } from '../../../src/gate/referrer-vex.js';
import type { CompiledPolicy } from '../../../src/policy/index.js';
import type { Store } from '../../../src/store/index.js';

const digest = `sha256:${'a'.repeat(64)}` as Digest;
const policy = { vexAuthorities: [{ kind: 'key', name: 'sec' }], document: { spec: { vex: { authorities: [{ name: 'sec', key: 'k' }] } } } } as unknown as CompiledPolicy;
const doc = (status: string, ts: string) => JSON.stringify({
  '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'x', author: 'a', timestamp: ts, version: 1,
  statements: [{ vulnerability: { name: 'CVE-2024-1' }, products: [{ '@id': `pkg:oci/x@${digest}` }], status, ...(status === 'not_affected' ? { justification: 'component_not_present' } : {}) }],
});

describe('VEX from referrers: a stored document or retraction that no longer reads fails closed', () => {
  it('any unreadable time in the retraction or a listed later document leaves no suppressing statement (property)', async () => {
    const fp = authoritiesFingerprint(policy);
    const afp = authorityFingerprint(policy, 'sec')!;
    const older = doc('not_affected', '2026-01-01T00:00:00Z');
    await fc.assert(fc.asyncProperty(fc.constantFrom('2026-02-01T00:00:00', '2026-02-01T00:00:00.1234567890Z', '2026-02-01T00:00:00+00:00 ', '2026-02-30T00:00:00Z', '2026-02-01'), fc.boolean(), async (ts, asRetraction) => {
      const later = doc('affected', ts);
      const raw = asRetraction
        ? { places: { 'prod/x': { authorities: fp, documents: [{ text: older, source: 'att1' }], ignored: [] } }, retractions: [{ authority: afp, text: later, source: 'att2' }] }
        : { places: { 'prod/x': { authorities: fp, documents: [{ text: older, source: 'att1' }, { text: later, source: 'att2' }], ignored: [] } }, retractions: [] };
      const store = { getLayer: async () => raw } as unknown as Store;
      const r = await storedReferrerVex(store, digest, policy);
      expect(r!.statements.map((s) => s.status), `${ts} ${asRetraction}`).to.not.include('not_affected');
    }), { numRuns: 30 });
  });
});
