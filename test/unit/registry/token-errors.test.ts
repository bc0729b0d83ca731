/**
 * Authentication errors name what the issuer or registry said (its own code) and what to check for
 * that code, in every shape issuers answer: OAuth 2.0, Distribution `errors[]`, docker/auth
 * `details`, a Bearer challenge error; bodies that say nothing fall back to registries[].auth.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { issuerErrorOf, tokenHint } from '../../../src/registry/auth/token-errors.js';

describe('registry: token issuer and challenge error codes', () => {
  const cases: Array<[string, string | undefined, RegExp]> = [
    ['{"error":"invalid_token","error_description":"signature invalid"}', 'invalid_token', /signing certificate/],
    ['{"error":"invalid_grant"}', 'invalid_grant', /registries\[\]\.auth/],
    ['{"error":"insufficient_scope"}', 'insufficient_scope', /permission/],
    ['{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}', 'DENIED', /permission/],
    ['{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}', 'UNAUTHORIZED', /registries\[\]\.auth/],
    ['{"details":"bad credentials"}', 'details', /registries\[\]\.auth/],
    ['not json', undefined, /registries\[\]\.auth and the token issuer's log/],
    ['{"token":"x"}', undefined, /registries\[\]\.auth/],
    ['[]', undefined, /registries\[\]\.auth/],
  ];
  for (const [body, code, hint] of cases) {
    it(`${body} → ${code ?? 'no code'}, hint ${hint}`, () => {
      const e = issuerErrorOf(Buffer.from(body));
      expect(e?.code).to.equal(code);
      expect(tokenHint(e?.code)).to.match(hint);
    });
  }

  it('reads only the error fields, at most 200 characters each, whatever else the body holds', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 400 }), fc.string({ maxLength: 400 }), fc.string(), (code, desc, secret) => {
        const e = issuerErrorOf(Buffer.from(JSON.stringify({ error: code, error_description: desc, token: `SECRET${secret}` })));
        if (!code.trim()) return;
        expect(e).to.not.equal(undefined);
        expect(e!.text).to.not.include('SECRET');
        expect(e!.code.length).to.be.at.most(200);
        expect(e!.text.length).to.be.at.most(404);
      }),
    );
  });
});
