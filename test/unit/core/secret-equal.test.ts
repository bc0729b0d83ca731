/**
 * findSecret / secretEquals (src/core/secret-equal.ts): the one comparison of a presented credential with
 * configured ones (webhook senders, api.tokens, harborAdapter.tokens). Equal exactly when the strings are
 * equal, whatever their lengths; the callers answer as the comparison says.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { findSecret, secretEquals } from '../../../src/core/secret-equal.js';
import { adapterCredentialOk } from '../../../src/server/harbor-adapter.js';
import { identifySender } from '../../../src/webhooks/auth.js';

const str = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ minLength: 0, maxLength: 3 }));

describe('core: secret comparison', () => {
  it('property: secretEquals is string equality over strings of any (and different) lengths', () => {
    fc.assert(
      fc.property(str, str, (a, b) => {
        expect(secretEquals(a, b)).to.equal(a === b);
        expect(secretEquals(a, a)).to.equal(true);
        // a prefix or an extension of the secret is not the secret
        expect(secretEquals(a + b, a)).to.equal(b === '');
      }),
      { numRuns: 1000 },
    );
  });

  it('property: findSecret is the first non-empty equal candidate, or -1', () => {
    fc.assert(
      fc.property(str, fc.array(fc.option(str, { nil: undefined }), { maxLength: 6 }), fc.boolean(), (given, list, plant) => {
        const secrets = plant ? [...list, given] : list;
        const want = secrets.findIndex((s) => s !== undefined && s !== '' && s === given);
        expect(findSecret(given, secrets)).to.equal(want);
      }),
      { numRuns: 1000 },
    );
  });

  it('property: the Harbor adapter and the webhook sender check accept exactly the configured tokens', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[!-~]{1,30}$/), { minLength: 1, maxLength: 4 }), fc.stringMatching(/^[!-~]{1,30}$/), (tokens, given) => {
        const known = tokens.includes(given);
        expect(adapterCredentialOk(`Bearer ${given}`, undefined, tokens)).to.equal(known);
        expect(adapterCredentialOk(undefined, given, tokens)).to.equal(known);
        const regs = tokens.map((t, i) => ({ name: `r${i}`, webhook: { token: t } }));
        expect(identifySender(`Bearer ${given}`, regs)?.registry).to.equal(known ? `r${tokens.indexOf(given)}` : undefined);
      }),
      { numRuns: 500 },
    );
  });
});
