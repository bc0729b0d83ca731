/**
 * Redaction of credentials in text naming URLs, over the spellings the WHATWG URL parser (what Node's
 * fetch and every log reader's browser use) takes as user info, and the parameter spellings a pre-signed
 * or token URL uses: blanks in user info, http(s) without `//` or with `\`, parameter names in any case
 * or percent-encoded, `;` separators and fragments.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { redactSecretsInText } from '../../../src/core/redact.js';

/** A secret that cannot occur in the text by chance. */
const secretArb = fc.stringMatching(/^[A-Za-z0-9]{6,12}$/).map((s) => `Zq${s}9x`);

/** A name spelled in random case with one character percent-encoded or not. */
function spelled(name: string): fc.Arbitrary<string> {
  return fc.tuple(fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }), fc.integer({ min: -1, max: name.length - 1 })).map(([up, enc]) =>
    [...name].map((c, i) => {
      const x = up[i] ? c.toUpperCase() : c;
      return i === enc ? `%${x.charCodeAt(0).toString(16).toUpperCase()}` : x;
    }).join(''));
}

describe('redactSecretsInText: the class of secret spellings', () => {
  it('user info the WHATWG parser takes (blanks in it, http(s) with any slashes or none): no part of the password remains (fast-check, new URL as oracle)', () => {
    fc.assert(fc.property(
      fc.constantFrom('https://', 'http://', 'https:', 'https:/', 'HTTPS:\\\\', 'https:\\/'),
      fc.stringMatching(/^[a-z]{1,6}$/),
      secretArb, secretArb, fc.constantFrom(' ', '\t', '', '%20'),
      (scheme, user, a, b, gap) => {
        const url = `${scheme}${user}:${a}${gap}${b}@mirror.example/osv/all.zip`;
        const parsed = new URL(url);
        // the parser takes it as user info: the password is a credential on the wire
        expect(decodeURIComponent(parsed.password)).to.include(a);
        const out = redactSecretsInText(`GET ${url}: Request cannot be constructed from a URL that includes credentials`);
        expect(out).not.to.include(a);
        expect(out).not.to.include(b);
        expect(out).to.include('mirror.example/osv/all.zip');
      },
    ));
  });

  it('secret parameters in any case, percent-encoded names, ; separators and fragments (fast-check)', () => {
    fc.assert(fc.property(
      fc.constantFrom('pass', 'password', 'pwd', 'pw', 'access_token', 'apikey', 'X-Amz-Signature', 'sig', 'jwt', 'session_id', 'client_secret')
        .chain(spelled),
      fc.constantFrom('?', '&', ';', '#', '?a=1&', '?a=1;', '#a=1&'),
      secretArb,
      (name, sep, secret) => {
        const out = redactSecretsInText(`GET https://mirror.example/all.zip${sep}${name}=${secret} failed`);
        expect(out, `${sep}${name}`).not.to.include(secret);
        expect(out).to.include('https://mirror.example/all.zip');
      },
    ));
  });

  it('leaves text without credentials alone', () => {
    for (const t of ['no URL here: a=1&b=2', 'npm:lodash@4.17.21 is affected', 'https://mirror.example/all.zip?a=1&page=2#top']) {
      expect(redactSecretsInText(t)).to.equal(t);
    }
  });

  // Text reaching the redactor comes from remote answers too (a mirror's error body, an advisory's
  // fields in a warning): a long run of scheme characters, `http:`, `?` or nested `?a=` took seconds to
  // minutes (one scan per start place) or threw RangeError (one recursion per nested parameter).
  const ADVERSARIAL = ['a', 'http:', 'x://', '?', '?a=', ';a=', 'a1-', '@', 'http:a ', '&', '#'];

  it('adversarial text of 200,000 characters is redacted in linear time and never throws (fast-check)', () => {
    fc.assert(fc.property(
      fc.array(fc.constantFrom(...ADVERSARIAL), { minLength: 1, maxLength: 3 }),
      fc.constantFrom('', '@', '=', 'https://u:Zqsecret9x@h'),
      (unit, tail) => {
        const t = unit.join('').repeat(Math.ceil(200_000 / unit.join('').length)) + tail;
        const t0 = process.hrtime.bigint();
        const out = redactSecretsInText(t);
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        expect(ms, `${JSON.stringify(unit)} ${tail}`).to.be.below(1500);
        expect(out).to.not.include('Zqsecret9x');
      },
    ), { numRuns: 25 });
  });

  it('a credential after adversarial text is still redacted: user info and secret parameters (fast-check)', () => {
    fc.assert(fc.property(
      fc.array(fc.constantFrom(...ADVERSARIAL, ' ', '/', '\n'), { maxLength: 40 }),
      secretArb, secretArb,
      fc.constantFrom('https://u:{s}@h/p?token={t}', 'x://{s}@h/?a=b;pw={t}', 'HTTP:{s}@h#access_token={t}', 'gs://k:{s}@b/o?X-Goog-Signature={t}'),
      (pre, s1, s2, url) => {
        const out = redactSecretsInText(`${pre.join('')} ${url.replace('{s}', s1).replace('{t}', s2)}`);
        expect(out).to.not.include(s1);
        expect(out).to.not.include(s2);
      },
    ));
  });

  it('a password holding an unencoded / ? or #: the URL fetch refuses and the error repeating it shows no part of it (fast-check, Node\'s fetch)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.stringMatching(/^[a-z]{1,6}$/), secretArb, fc.constantFrom('/', '?', '#'), secretArb,
      fc.constantFrom('https://', 'http:', 'ftp://'),
      async (user, p1, delim, p2, scheme) => {
        const url = `${scheme}${user}:${p1}${delim}${p2}@mirror.example/db.zip`;
        const message = await fetch(url).then(() => 'fetched', (e: Error) => e.message);
        expect(message).to.include(p1);
        const out = redactSecretsInText(`update failed: ${message} (source ${url})`);
        expect(out).to.not.include(p1);
        expect(out).to.not.include(p2);
        expect(out).to.include('mirror.example');
      },
    ), { numRuns: 50 });
  });
});
