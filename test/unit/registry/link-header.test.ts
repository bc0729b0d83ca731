/**
 * The `Link` header of a listing page (RFC 8288) as pushgate follows it. The old reader split the
 * field at every comma and matched `rel="?next"?`: `rel="prev next"` (several relation types, §3.3)
 * ended the listing early, a comma inside the URL or a quoted parameter cut the link, and
 * `<http://[>; rel="next"` escaped as a raw TypeError. Generated headers (fast-check) are checked
 * against a model of the grammar: every well-formed next link is followed exactly as an RFC 8288
 * reader follows it, and a header the grammar does not allow is a clear REGISTRY error.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { checkedNextPage } from '../../../src/registry/client.js';
import { parseLinkHeader } from '../../../src/registry/link-header.js';
import { RegistryError } from '../../../src/registry/errors.js';

const ORIGIN = 'http://127.0.0.1:5000';
const PAGE = `${ORIGIN}/v2/r/tags/list?n=2`;
const ctx = { registry: 'lab', op: 'tags', origin: ORIGIN, pages: 1, entries: 2, pageEntries: 2 };

/** Linear white space the grammar allows around separators (OWS / BWS). */
const WS = fc.constantFrom('', ' ', '\t', '  ');
/** A URI-Reference on the registry's origin: commas, semicolons and `=` included. */
const TARGET = fc.tuple(fc.constantFrom('/v2/r/tags/list', `${ORIGIN}/v2/r/tags/list`, 'list', '../r/tags/list'), fc.stringMatching(/^[a-z0-9,;=&%._~:-]{0,12}$/))
  .map(([p, q]) => `${p}?last=${q}&n=2`);
const REL = fc.constantFrom('next', 'NEXT', 'Next', 'prev', 'first', 'last', 'alternate', 'https://example.test/rel', 'nextpage');
const TOKEN = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,8}$/);
/** A quoted-string's content: commas, semicolons, angle brackets, quotes and backslashes. */
const QTEXT = fc.stringMatching(/^[a-z ,;<>="\\]{0,10}$/);
const quote = (s: string): string => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;

interface Param { name: string; value?: { text: string; quoted: boolean } }
const PARAM = fc.oneof(
  fc.record({ name: fc.constantFrom('rel', 'REL', 'Rel'), value: fc.tuple(fc.array(REL, { minLength: 1, maxLength: 3 }), fc.constantFrom(' ', '  ', '\t'), fc.boolean())
    .map(([rs, sep, quoted]) => ({ text: rs.join(sep), quoted: quoted || rs.length !== 1 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(rs[0]!) })) }),
  fc.record({ name: fc.constantFrom('title', 'type', 'anchor', 'x-y', 'hreflang'), value: fc.option(fc.oneof(
    TOKEN.map((text) => ({ text, quoted: false })),
    QTEXT.map((text) => ({ text, quoted: true })),
  ), { nil: undefined }) }),
) as fc.Arbitrary<Param>;
const LINK = fc.record({ target: TARGET, params: fc.array(fc.tuple(WS, WS, WS, PARAM), { maxLength: 4 }) });
const HEADER = fc.tuple(fc.array(fc.tuple(WS, LINK, WS), { minLength: 1, maxLength: 4 }), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }));
type HeaderValue = [Array<[string, { target: string; params: Array<[string, string, string, Param]> }, string]>, boolean[]];

function write([links, empties]: HeaderValue): string {
  return links.map(([a, l, b], k) => {
    const params = l.params.map(([w1, w2, w3, p]) => `${w1};${w2}${p.name}${p.value === undefined ? '' : `${w3}=${w3}${p.value.quoted ? quote(p.value.text) : p.value.text}`}`).join('');
    return `${empties[k] ? ' ,' : ''}${a}<${l.target}>${params}${b}`;
  }).join(',');
}

/** What an RFC 8288 reader makes of the generated header: the first `rel` of each link, split at white space. */
function model([links]: HeaderValue): { next?: string; ambiguous: boolean } {
  const targets = new Set<string>();
  for (const [, l] of links) {
    const rel = l.params.find(([, , , p]) => p.name.toLowerCase() === 'rel')?.[3];
    const rels = rel?.value?.text.split(/[ \t]+/).map((r) => r.toLowerCase()) ?? [];
    if (rels.includes('next')) targets.add(new URL(l.target, PAGE).toString());
  }
  return { next: [...targets][0], ambiguous: targets.size > 1 };
}

function attempt(link: string): { next?: string; error?: unknown } {
  try {
    return { next: checkedNextPage(link, PAGE, ctx) };
  } catch (error) {
    return { error };
  }
}

describe('registry listings: the Link header (RFC 8288)', () => {
  it('property: every well-formed next link is followed as RFC 8288 reads it; two different ones are refused', () => {
    fc.assert(fc.property(HEADER, (h) => {
      const field = write(h);
      const want = model(h);
      const got = attempt(field);
      if (want.ambiguous) {
        expect(got.error, field).to.be.instanceOf(RegistryError);
        expect((got.error as RegistryError).code).to.equal('REGISTRY');
      } else {
        expect(got.error, field).to.equal(undefined);
        expect(got.next, field).to.equal(want.next);
      }
    }), { numRuns: 3000 });
  });

  it('reads several relation types, commas in the URL and in quoted parameters, and a rel in any case', () => {
    const cases: Array<[string, string | undefined]> = [
      ['</v2/r/tags/list?last=b&n=2>; rel="prev next"', `${ORIGIN}/v2/r/tags/list?last=b&n=2`],
      ['</v2/r/tags/list?last=a,b&n=2>; rel="next"', `${ORIGIN}/v2/r/tags/list?last=a,b&n=2`],
      ['</v2/r/tags/list?last=b&n=2>; title="a, <b>; rel=prev"; rel=next', `${ORIGIN}/v2/r/tags/list?last=b&n=2`],
      ['</p>; rel="prev", </v2/r/tags/list?last=c>; REL="Next"', `${ORIGIN}/v2/r/tags/list?last=c`],
      ['</p>; rel="prev"; rel="next"', undefined],
      ['</p>; rel="nextpage"', undefined],
      ['', undefined],
    ];
    for (const [field, want] of cases) {
      expect(attempt(field), field).to.deep.equal({ next: want });
    }
  });

  it('property: any other header is a REGISTRY error naming the Link header, never a raw TypeError', () => {
    const specific = ['<http://[>; rel="next"', '<http://[::1>; rel=next', '</v2/r?last=b; rel="next"', '</a>; rel="next', '</a> rel="next"', 'rel="next"', '</a>; ="next"', '</a>; rel="next"\\'];
    for (const field of specific) {
      const got = attempt(field);
      expect(got.error, field).to.be.instanceOf(RegistryError);
      expect((got.error as RegistryError).message, field).to.match(/Link header .* cannot be read/);
    }
    fc.assert(fc.property(HEADER, fc.nat(), fc.constantFrom('', '<', '>', '"', ';', ',', '\\', '[', 'x'), fc.nat(), (h, at, ins, cut) => {
      const field = write(h);
      const p = at % (field.length + 1);
      const mangled = (field.slice(0, p) + ins + field.slice(p)).slice(0, field.length + 1 - (cut % 3));
      const got = attempt(mangled);
      if (got.error !== undefined) {
        expect(got.error, mangled).to.be.instanceOf(RegistryError);
        expect((got.error as RegistryError).code).to.equal('REGISTRY');
      } else {
        // Accepted: then the grammar reads it, and the link followed is the parsed next link.
        const vs = parseLinkHeader(mangled).filter((v) => v.rels.includes('next'));
        expect(got.next, mangled).to.equal(vs.length ? new URL(vs[0]!.target, PAGE).toString() : undefined);
      }
    }), { numRuns: 3000 });
  });
});
