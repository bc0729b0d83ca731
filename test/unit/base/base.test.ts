/**
 * src/base: tag line/flavour parsing, diffID chain prefix matching, detection's refusal of annotations
 * that the layers contradict, and recommendation ranking; property tests for the chain index against a
 * brute-force prefix search and for the tag parser's round trip.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fc from 'fast-check';
import { emptySummary, type Digest } from '../../../src/core/index.js';
import { ChainIndex, chainIds, isProperPrefix } from '../../../src/base/chain.js';
import { detectBase, provenanceMaterials, type CatalogView } from '../../../src/base/detect.js';
import { compareSummaries, recommend } from '../../../src/base/recommend.js';
import { compareVersions, parseTag, relateTags } from '../../../src/base/tag.js';
import type { CatalogEntry } from '../../../src/base/types.js';

const d = (s: string): Digest => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}` as Digest;

function entry(repo: string, name: string, diffIDs: Digest[], extra: Partial<CatalogEntry> = {}): CatalogEntry {
  return { registry: 'lab', repository: repo, digest: d(name), platform: 'linux/amd64', diffIDs, firstSeen: 1, ...extra };
}

function view(entries: CatalogEntry[], tags: Record<string, string[]> = {}): CatalogView {
  const index = new ChainIndex(entries);
  return {
    index,
    byDigest: (x) => entries.filter((e) => e.digest === x || e.indexDigest === x),
    byName: (repo, tag) => entries.filter((e) => e.repository === repo && (tags[e.digest] ?? []).includes(tag)),
    tagsOf: (e) => (tags[e.digest] ?? []).slice().sort(),
  };
}

describe('base: tags', () => {
  const cases: Array<[string, number[] | undefined, string]> = [
    ['12', [12], ''], ['12.8', [12, 8], ''], ['12.8-slim', [12, 8], '-slim'], ['3.19-alpine3.19', [3, 19], '-alpine3.19'],
    ['v1.2.3', [1, 2, 3], ''], ['12-bookworm-slim', [12], '-bookworm-slim'], ['latest', undefined, 'latest'],
    ['bookworm', undefined, 'bookworm'], ['12a', undefined, '12a'], ['1234567890', undefined, '1234567890'], ['1.0_rc1', [1, 0], '_rc1'],
    // Leading zeros: no version (012.8 would otherwise equal and rank as 12.8).
    ['012.8', undefined, '012.8'], ['12.08-slim', undefined, '12.08-slim'], ['0.8', [0, 8], ''], ['12.0', [12, 0], ''],
  ];
  for (const [tag, version, flavour] of cases) {
    it(`${tag} → ${JSON.stringify(version)} ${JSON.stringify(flavour)}`, () => {
      const p = parseTag(tag);
      expect(p.version).to.deep.equal(version);
      expect(p.flavour).to.equal(flavour);
    });
  }

  it('relates tags: update within a line, other flavours and majors, unrelated names', () => {
    const r = (a: string, b: string) => relateTags(parseTag(a), parseTag(b));
    expect(r('12.8', '12.9')).to.equal('update');
    expect(r('12.8-slim', '12.10-slim')).to.equal('update');
    expect(r('12.9', '12.8')).to.equal('older');
    expect(r('12.8', '12.9-slim')).to.equal('other-flavour');
    expect(r('12.8', '13.1')).to.equal('other-major');
    expect(r('12', '12.8')).to.equal('unrelated');
    expect(r('12.8', 'latest')).to.equal('unrelated');
    expect(r('12.8', '12.8')).to.equal('same');
  });

  it('property: a version and flavour written out parse back to themselves', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 999_999 }), { minLength: 1, maxLength: 4 }),
      fc.constantFrom('', '-slim', '-alpine3.19', '_rc1', '-bookworm-slim', '+build.5'),
      (v, flavour) => {
        const p = parseTag(`${v.join('.')}${flavour}`);
        expect(p.version).to.deep.equal(v);
        expect(p.flavour).to.equal(flavour);
      },
    ));
  });

  it('property: a tag parses to a version only when its text is exactly that version written out, so two spellings never share one', () => {
    fc.assert(fc.property(fc.array(fc.stringMatching(/^[0-9]{1,4}$/), { minLength: 1, maxLength: 4 }), fc.constantFrom('', '-slim'), (parts, flavour) => {
      const p = parseTag(`${parts.join('.')}${flavour}`);
      if (p.version) expect(p.version.join('.')).to.equal(parts.join('.'));
      else expect(parts.some((x) => x.length > 1 && x.startsWith('0'))).to.equal(true);
    }));
  });

  it('property: compareVersions is antisymmetric and relateTags says update exactly for a higher version of the line', () => {
    const ver = fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 2, maxLength: 2 });
    fc.assert(fc.property(ver, ver, (a, b) => {
      expect(Math.sign(compareVersions(a, b))).to.equal(-Math.sign(compareVersions(b, a)) || 0);
      const rel = relateTags(parseTag(a.join('.')), parseTag(b.join('.')));
      const expected = a.join('.') === b.join('.') ? 'same' : a[0] !== b[0] ? 'other-major' : compareVersions(b, a) > 0 ? 'update' : 'older';
      expect(rel).to.equal(expected);
    }));
  });
});

describe('base: diffID chains', () => {
  it('ChainID follows image-spec: the first is the diffID, then sha256 of "parent diffID"', () => {
    const [a, b] = [d('a'), d('b')];
    const ids = chainIds([a, b]);
    expect(ids[0]).to.equal(a);
    expect(ids[1]).to.equal(`sha256:${crypto.createHash('sha256').update(`${a} ${b}`).digest('hex')}`);
  });

  it('finds the longest proper prefix; an image is never its own base', () => {
    const [l1, l2, l3] = [d('1'), d('2'), d('3')];
    const idx = new ChainIndex([entry('base', 'one', [l1]), entry('base', 'two', [l1, l2]), entry('base', 'three', [l1, l2, l3])]);
    expect(idx.longestPrefix([l1, l2, l3])!.entries.map((e) => e.digest)).to.deep.equal([d('two')]);
    expect(idx.longestPrefix([l1, l2, d('x')])!.length).to.equal(2);
    expect(idx.longestPrefix([l1])).to.equal(undefined);
    expect(idx.longestPrefix([d('x'), l1, l2])).to.equal(undefined);
    idx.remove(entry('base', 'two', []));
    expect(idx.longestPrefix([l1, l2, l3])!.entries.map((e) => e.digest)).to.deep.equal([d('one')]);
  });

  it('property: the index answers as a brute-force search over every entry', () => {
    const layer = fc.integer({ min: 0, max: 3 }).map((n) => d(`L${n}`));
    const chain = fc.array(layer, { minLength: 1, maxLength: 5 });
    fc.assert(fc.property(fc.array(chain, { maxLength: 20 }), chain, (chains, image) => {
      const entries = chains.map((c, i) => entry('r', `e${i}`, c));
      const got = new ChainIndex(entries).longestPrefix(image);
      const best = Math.max(0, ...entries.filter((e) => isProperPrefix(e.diffIDs, image)).map((e) => e.diffIDs.length));
      if (!best) {
        expect(got).to.equal(undefined);
        return;
      }
      expect(got!.length).to.equal(best);
      expect(got!.entries.map((e) => e.digest).sort()).to.deep.equal(entries.filter((e) => e.diffIDs.length === best && isProperPrefix(e.diffIDs, image)).map((e) => e.digest).sort());
    }));
  });
});

describe('base: detection', () => {
  const [l1, l2, app] = [d('deb'), d('deb2'), d('app')];
  const base = entry('lab/debian', 'base12', [l1]);
  const other = entry('lab/other', 'other', [l2]);
  const layers = [{ digest: d('blob1'), diffID: l1 }, { digest: d('blob2'), diffID: app }];

  it('accepts an annotation whose base begins the image', () => {
    const r = detectBase({ layers, annotations: { 'org.opencontainers.image.base.digest': base.digest } }, view([base, other], { [base.digest]: ['12'] }));
    expect(r.base).to.include({ method: 'annotation', repository: 'lab/debian', digest: base.digest });
    expect(r.refused).to.deep.equal([]);
  });

  it('refuses an annotation naming a base whose layers are not the image\'s, and falls back to the chain', () => {
    const r = detectBase({ layers, annotations: { 'org.opencontainers.image.base.digest': other.digest, 'org.opencontainers.image.base.name': 'lab/other:1' } }, view([base, other], { [base.digest]: ['12'] }));
    expect(r.base).to.include({ method: 'chain', repository: 'lab/debian' });
    expect(r.refused.map((x) => x.code)).to.deep.equal(['base-annotation-refused']);
    expect(r.base.note).to.match(/refused/);
  });

  it('uses provenance materials only when the named base begins the image', () => {
    const mats = provenanceMaterials({ predicate: { materials: [{ uri: 'pkg:docker/lab/debian@12?platform=linux%2Famd64', digest: { sha256: base.digest.slice(7) } }] } });
    expect(mats).to.have.length(1);
    const ok = detectBase({ layers, provenance: mats }, view([base]));
    expect(ok.base.method).to.equal('provenance');
    const bad = detectBase({ layers: [{ digest: d('b'), diffID: l2 }, { digest: d('c'), diffID: app }], provenance: mats }, view([base]));
    expect(bad.base.method).to.not.equal('provenance');
    expect(bad.refused.map((x) => x.code)).to.deep.equal(['base-provenance-refused']);
  });

  it('falls back to history, then to none with the reason', () => {
    const history = [{ created_by: 'debootstrap' }, { created_by: 'CMD ["/bin/bash"]', empty_layer: true }, { created_by: 'COPY app /app' }];
    expect(detectBase({ layers: [{ digest: d('x'), diffID: d('x') }, { digest: d('y'), diffID: d('y') }], history }, view([])).base).to.include({ method: 'history' });
    const none = detectBase({ layers: [{ digest: d('x'), diffID: d('x') }] }, view([]));
    expect(none.base.method).to.equal('none');
    expect(none.base.layers).to.deep.equal([]);
  });
});

describe('base: recommendations', () => {
  const sum = (high: number, medium: number) => {
    const s = emptySummary();
    s.counts.high = high;
    s.counts.medium = medium;
    s.fixable.high = high;
    return s;
  };
  const base = entry('lab/debian', 'b128', [d('l')], { summary: sum(3, 5), findingIds: ['A', 'B', 'C'], firstSeen: 1 });
  const cur = (tag: string, name: string, s: ReturnType<typeof sum> | undefined, findingIds?: string[]) => ({ tag, entry: entry('lab/debian', name, [d(name)], { ...(s ? { summary: s } : {}), ...(findingIds ? { findingIds } : {}), firstSeen: 5 }) });

  it('orders refresh, update, alternative; by counts within a kind; one candidate per digest; says what it fixes', () => {
    const recs = recommend({
      base,
      baseTags: ['12', '12.8'],
      current: [
        cur('12', 'r', sum(1, 1), ['A']), cur('12.8', 'r', sum(1, 1), ['A']),
        cur('12.9', 'u9', sum(2, 0)), cur('12.10', 'u10', sum(0, 4)),
        cur('12.9-slim', 's', sum(0, 2)), cur('12-slim', 's', sum(0, 2)),
        cur('13.1', 'm', undefined),
        cur('12.7', 'old', sum(0, 0)), cur('latest', 'r', sum(1, 1)),
      ],
    });
    expect(recs.map((r) => `${r.kind}:${r.tag}`)).to.deep.equal(['refresh:12.8', 'update:12.10', 'update:12.9', 'alternative:12.9-slim', 'alternative:13.1']);
    expect(recs[0].fixes).to.deep.equal(['B', 'C']);
  });

  it('a tag pointing at an older digest than the base is no refresh', () => {
    const older = { tag: '12', entry: entry('lab/debian', 'older', [d('o')], { firstSeen: 0 }) };
    expect(recommend({ base, baseTags: ['12'], current: [older] })).to.deep.equal([]);
  });

  it('property: summaries order worst severity first, never-scanned last', () => {
    const s = fc.record({ c: fc.nat(3), h: fc.nat(3), m: fc.nat(3) }).map(({ c, h, m }) => { const x = emptySummary(); x.counts.critical = c; x.counts.high = h; x.counts.medium = m; return x; });
    fc.assert(fc.property(s, s, (a, b) => {
      const key = (x: typeof a) => [x.counts.critical, x.counts.high, x.counts.medium];
      const ka = key(a);
      const kb = key(b);
      const lex = ka[0] - kb[0] || ka[1] - kb[1] || ka[2] - kb[2];
      expect(Math.sign(compareSummaries(a, b))).to.equal(Math.sign(lex));
      expect(compareSummaries(undefined, a)).to.be.greaterThan(0);
    }));
  });
});
