import crypto from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import type { Finding } from '../../../src/core/index.js';
import { findingKey } from '../../../src/core/index.js';
import { findingsSignature, sameFindingsSignature } from '../../../src/monitor/image-index.js';
import type { IndexedPackages } from '../../../src/store/monitor-types.js';
import { findingSetSignature, SIGNATURE_PREFIX, sharedPackagesParser } from '../../../src/store/sqlite-monitor.js';

/**
 * The monitor's shared parsing and comparisons (a database pass over 10,000 images reads and compares
 * what images built alike hold alike once): each must give what the plain parse or comparison gives,
 * for every input, including texts made to look like what the sharing keys on.
 */

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const digest = hex64.map((h) => `sha256:${h}`);
/** Strings that may hold what the parser searches for (a manifest member, quotes, backslashes). */
const tricky = fc.oneof(
  fc.string({ maxLength: 12 }),
  digest.map((d) => `"manifest":"${d}"`),
  digest.map((d) => `x\\"manifest\\":\\"${d}`),
  fc.constantFrom('', 'manifest', '"', '\\', '/srv/app1/node_modules/a/package.json'),
);
const pkg = fc.record(
  {
    ecosystem: fc.constantFrom('npm', 'pypi'),
    name: fc.constantFrom('lodash', 'adm-zip', 'manifest'),
    version: fc.constantFrom('1.0.0', '2.0.0'),
    path: tricky,
    purl: tricky,
    // a member named like the entry's own, inside a package: never taken for the entry's
    manifest: digest,
  },
  { requiredKeys: ['ecosystem', 'name', 'version', 'path'] },
);
const entry = fc.record(
  {
    pkg: fc.constantFrom('npm:lodash', 'npm:adm-zip', 'PyPI:x'),
    platform: fc.constantFrom('linux/amd64', 'linux/arm64'),
    os: fc.record({ id: fc.constantFrom('debian', 'alpine'), versionId: fc.constantFrom('12', '3.19') }),
    // an image's own digest, a child's, an empty or odd one (never written, handled all the same)
    manifest: fc.oneof(digest, digest, fc.constantFrom('', 'sha256:ABC', 'sha256:')),
    based: fc.constant(true as const),
    packages: fc.array(pkg, { maxLength: 3 }),
  },
  { requiredKeys: ['pkg', 'packages'] },
);
/** Rows of images built alike: a few shapes, each with digests drawn per row. */
const rows = fc.array(fc.array(entry, { maxLength: 3 }), { minLength: 1, maxLength: 4 }).chain((shapes) =>
  fc.array(
    fc.tuple(fc.nat(shapes.length - 1), fc.array(digest, { minLength: 3, maxLength: 3 })).map(([n, ds]) =>
      shapes[n].map((e, k) => (e.manifest !== undefined && /^sha256:[0-9a-f]{64}$/.test(e.manifest) ? { ...e, manifest: ds[k] } : e)),
    ),
    { minLength: 1, maxLength: 12 },
  ),
);

describe('store: the monitor\'s shared parse of package-index rows', () => {
  it('property: every row reads as JSON.parse reads it, whatever rows one parser read before', () => {
    fc.assert(
      fc.property(rows, (list) => {
        const parse = sharedPackagesParser();
        for (const r of list) {
          const text = JSON.stringify(r);
          expect(parse(text)).to.deep.equal(JSON.parse(text));
        }
        // and again, all from the parser's kept shapes
        for (const r of list) expect(parse(JSON.stringify(r))).to.deep.equal(JSON.parse(JSON.stringify(r)));
      }),
      { numRuns: 300 },
    );
  });

  it('rows of images built alike share their parsed packages; each keeps its own manifest digest', () => {
    const parse = sharedPackagesParser();
    const row = (d: string): IndexedPackages[] => [{ pkg: 'npm:lodash', manifest: d as never, packages: [{ ecosystem: 'npm', name: 'lodash', version: '4.17.20', path: '/app/node_modules/lodash/package.json', purl: 'pkg:npm/lodash@4.17.20', analyzer: 'lang/npm' }] }];
    const a = parse(JSON.stringify(row(`sha256:${'a'.repeat(64)}`)));
    const b = parse(JSON.stringify(row(`sha256:${'b'.repeat(64)}`)));
    expect(a[0].manifest).to.equal(`sha256:${'a'.repeat(64)}`);
    expect(b[0].manifest).to.equal(`sha256:${'b'.repeat(64)}`);
    expect(b[0].packages).to.equal(a[0].packages);
  });

  it('a manifest member inside a package or a string is not taken for the entry\'s', () => {
    const parse = sharedPackagesParser();
    const d = `sha256:${'c'.repeat(64)}`;
    const inner = [{ pkg: 'npm:x', packages: [{ ecosystem: 'npm', name: 'x', version: '1', path: `"manifest":"${d}"`, manifest: d }] }];
    for (let i = 0; i < 2; i++) expect(parse(JSON.stringify(inner))).to.deep.equal(inner);
    const empty = [{ pkg: 'npm:x', manifest: '', packages: [] }, { pkg: 'npm:y', manifest: d, packages: [] }];
    for (let i = 0; i < 2; i++) expect(parse(JSON.stringify(empty))).to.deep.equal(empty);
  });

  it('a row whose text is another row\'s blank form (an empty manifest) reads as it is', () => {
    const parse = sharedPackagesParser();
    const d = `sha256:${'d'.repeat(64)}`;
    const row = (m: string) => [{ pkg: 'npm:x', manifest: m, packages: [] }];
    expect(parse(JSON.stringify(row(d)))).to.deep.equal(row(d));
    expect(parse(JSON.stringify(row('')))).to.deep.equal(row(''));
  });
});

const VULNS = [['A-1', 'CVE-1'], ['A-2', 'CVE-2', 'GHSA-2'], ['A-3']];
const finding = fc.record({ pkg: fc.constantFrom('lodash', 'adm-zip'), version: fc.constantFrom('1.0.0', '2.0.0'), vuln: fc.nat(VULNS.length - 1), severity: fc.constantFrom('low', 'high'), fixed: fc.constantFrom<string[]>([], ['2.0.1']) }).map(
  (x): Finding => ({ id: VULNS[x.vuln][0], aliases: VULNS[x.vuln].slice(1), ecosystem: 'npm', package: x.pkg, installedVersion: x.version, fixedVersions: [...x.fixed], severity: x.severity as Finding['severity'], path: `/app/node_modules/${x.pkg}/package.json` }),
);
/** A list and a list made from it: shuffled, copied (other objects, same content), one changed or dropped, or another. */
const pair: fc.Arbitrary<[Finding[], Finding[]]> = fc.array(finding, { maxLength: 6 }).chain((a) =>
  fc.oneof(
    fc.constant<[Finding[], Finding[]]>([a, [...a].reverse().map((f) => ({ ...f }))]),
    fc.constant<[Finding[], Finding[]]>([a, a.slice(1)]),
    fc.constant<[Finding[], Finding[]]>([a, [...a, ...a.slice(0, 1)]]),
    fc.constant<[Finding[], Finding[]]>([a, a.map((f, i): Finding => (i === 0 ? { ...f, severity: f.severity === 'low' ? 'high' : 'low' } : f))]),
    fc.array(finding, { maxLength: 6 }).map((b): [Finding[], Finding[]] => [a, b]),
  ),
);

describe('monitor: finding-set comparisons', () => {
  it('property: sameFindingsSignature is equality of findingsSignature', () => {
    fc.assert(
      fc.property(pair, ([a, b]) => {
        expect(sameFindingsSignature(a, b)).to.equal(findingsSignature(a) === findingsSignature(b));
        expect(sameFindingsSignature(b, a)).to.equal(findingsSignature(a) === findingsSignature(b));
      }),
      { numRuns: 500 },
    );
  });

  it('a finding held twice is not the same as it held once with another', () => {
    const [x, y] = [0, 1].map((i): Finding => ({ id: `A-${i}`, aliases: [], ecosystem: 'npm', package: 'p', installedVersion: '1', fixedVersions: [], severity: 'low', path: '/p' }));
    expect(sameFindingsSignature([x, x], [x, y])).to.equal(false);
    expect(sameFindingsSignature([x, y], [y, x])).to.equal(true);
  });

  it('property: the index signature is of the rows (first of a key), in any order; equal only for equal rows', () => {
    const keyed = (l: readonly Finding[]) => l.map((f) => ({ key: findingKey(f), finding: f }));
    /** The rows a store writes: per key, the first finding's text. */
    const rowsOf = (l: readonly Finding[]) => [...new Map(keyed(l).reverse().map((k) => [k.key, JSON.stringify(k.finding)])).entries()].sort();
    fc.assert(
      fc.property(pair, ([a, b]) => {
        const sa = findingSetSignature(keyed(a));
        expect(sa.startsWith(SIGNATURE_PREFIX)).to.equal(true);
        // the first finding of each key, in reverse order: the same rows
        const firsts = [...new Map(keyed(a).reverse().map((k) => [k.key, k])).values()];
        expect(findingSetSignature(firsts.reverse())).to.equal(sa);
        expect(findingSetSignature(keyed(b)) === sa).to.equal(JSON.stringify(rowsOf(a)) === JSON.stringify(rowsOf(b)));
      }),
      { numRuns: 500 },
    );
  });

  it('a signature of the earlier form (one SHA-256 over the rows) never equals one made now', () => {
    // as a replica before this form signed: sorted `key NUL body` lines joined by newlines, base64
    const f: Finding = { id: 'A-1', aliases: [], ecosystem: 'npm', package: 'p', installedVersion: '1', fixedVersions: [], severity: 'low', path: '/p' };
    const earlier = crypto.createHash('sha256').update(`${findingKey(f)}\u0000${JSON.stringify(f)}`).digest('base64');
    const now = findingSetSignature([{ key: findingKey(f), finding: f }]);
    expect(now).to.not.equal(earlier);
    expect(earlier.includes(':')).to.equal(false);
  });
});
