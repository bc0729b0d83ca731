/**
 * Stored signed VEX of an image's referrers (src/gate/referrer-vex.ts): applied by re-judgements from the
 * stored scan under the authorities that verified it, never after `spec.vex` changed (a removed key must
 * not keep suppressing); and which pushed tags can change an image's VEX.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import { compilePolicy } from '../../../src/policy/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { Digest } from '../../../src/core/index.js';
import { authoritiesFingerprint, REFERRER_TAG, storedReferrerVex, VEX_REFERRERS_KEY } from '../../../src/gate/referrer-vex.js';

const pem = () => String(crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
const policy = (key: string | undefined) => compilePolicy(`apiVersion: pushgate.dev/v1
kind: Policy
metadata: { name: t }
spec:
  ruleSets:
    default: { rules: [] }
${key ? `  vex:\n    authorities:\n      - name: security\n        key: |\n${key.trim().split('\n').map((l) => `          ${l}`).join('\n')}\n` : ''}`, '<t>');

describe('gate: stored VEX of referrers', () => {
  let store: Store;
  const digest = `sha256:${'ab'.repeat(32)}` as Digest;
  const doc = JSON.stringify({ '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'x', author: 'a', timestamp: '2026-01-01T00:00:00Z', version: 1, statements: [{ vulnerability: { name: 'CVE-1' }, products: [{ '@id': 'pkg:npm/a' }], status: 'not_affected', justification: 'component_not_present' }] });
  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
  });
  afterEach(async () => {
    await store.close();
  });

  it('applies stored documents under the same spec.vex only, scoped to the digest', async () => {
    const key = pem();
    const p = policy(key);
    await store.putLayer(VEX_REFERRERS_KEY(digest), { authorities: authoritiesFingerprint(p), documents: [{ text: doc, source: `referrer ${digest} signed by security` }], ignored: ['unsigned VEX referrer sha256:… ignored'] });
    const same = await storedReferrerVex(store, digest, p);
    expect(same?.statements).to.have.length(1);
    expect(same?.statements[0]!.products).to.deep.equal([{ digests: [digest], subcomponents: [{ type: 'npm', namespace: '', name: 'a' }] }]);
    expect(same?.diagnostics.map((d) => d.code)).to.deep.equal(['vex-referrer-ignored']);
    // the key was replaced: nothing applies until the registry is read again
    const changed = await storedReferrerVex(store, digest, policy(pem()));
    expect(changed?.statements).to.deep.equal([]);
    expect(changed?.diagnostics[0]!.message).to.match(/other spec\.vex authorities: not applied/);
    // no authority: not read at all
    expect(await storedReferrerVex(store, digest, policy(undefined))).to.equal(undefined);
  });

  it('knows the tags that can change an image\'s VEX', () => {
    const hex = 'ab'.repeat(32);
    for (const t of [`sha256-${hex}`, `sha256-${hex}.att`, `sha256-${hex}.sig`]) expect(REFERRER_TAG.test(t), t).to.equal(true);
    for (const t of ['latest', `sha256-${hex}.sbom`, `sha256-${hex.slice(2)}.att`, `x-sha256-${hex}.att`]) expect(REFERRER_TAG.test(t), t).to.equal(false);
  });
});
