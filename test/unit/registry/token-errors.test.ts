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
    // Short texts, and texts of 150 to 400 characters around the cut (fast-check's default size stops
    // strings near 10). A long text repeats a short one: it shrinks in a few steps, where a failing
    // 400-character fc.string took minutes to shrink.
    const text = (minLength: number) => fc.oneof(
      fc.string({ minLength, maxLength: 400 }),
      fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), fc.integer({ min: 150, max: 400 })).map(([u, n]) => u.repeat(Math.ceil(n / u.length)).slice(0, n)),
    );
    fc.assert(
      fc.property(text(1), text(0), fc.string(), fc.constantFrom('oauth', 'errors', 'details'), (code, desc, secret, shape) => {
        const body = shape === 'oauth' ? { error: code, error_description: desc, token: `SECRET${secret}` }
          : shape === 'errors' ? { errors: [{ code, message: desc }], token: `SECRET${secret}` } : { details: code, token: `SECRET${secret}` };
        const e = issuerErrorOf(Buffer.from(JSON.stringify(body)));
        if (!code.trim()) return;
        expect(e).to.not.equal(undefined);
        expect(e!.text).to.not.include('SECRET');
        const cut = (x: string) => x.replace(/\s+/g, ' ').trim().slice(0, 200);
        expect(e!.code).to.equal(shape === 'details' ? 'details' : cut(code));
        expect(e!.code.length).to.be.at.most(200);
        expect(e!.text.length).to.be.at.most(404);
      }),
      { numRuns: 150 },
    );
  });
});
