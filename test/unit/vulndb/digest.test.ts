import Database from 'better-sqlite3';
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareUtf8, computePackageDigests, contentDigestOf, type DigestRow, exactPairDigest, packageDigestsOfRows } from '../../../src/vulndb/digest.js';
import { updateDb, type VulnDb } from '../../../src/vulndb/index.js';
import { buildDb, osvRecord } from '../../helpers/monitor.js';

const ADM_ZIP = osvRecord('npm/NSWG-NPM-458.json');
const LODASH = osvRecord('npm/NSWG-NPM-368.json');
const OPENSSL = osvRecord('debian-bookworm/DEBIAN-CL-CVE-2016-9840.json');

describe('vulndb: content digest and changed (ecosystem, package) pairs', () => {
  let dir: string;
  let dbPath: string;
  const open: VulnDb[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-digest-'));
    dbPath = path.join(dir, 'vulndb.sqlite');
  });
  afterEach(() => {
    for (const d of open.splice(0)) d.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const build = async (records: Array<Record<string, unknown>>) => {
    const d = await buildDb(dbPath, records);
    open.push(d);
    return d;
  };
  const pkgOf = (r: Record<string, unknown>) => {
    const a = (r.affected as Array<{ package: { ecosystem: string; name: string } }>)[0].package;
    return `${a.ecosystem.split(':')[0].toLowerCase()}:${a.name}`;
  };

  it('the same records in any order give the same digest; the first build has no previous', async () => {
    const a = await build([LODASH, ADM_ZIP, OPENSSL]);
    expect(a.contentDigest).to.match(/^sha256:[0-9a-f]{64}$/);
    expect(a.digestRecord().previous).to.equal(null);
    const b = await build([OPENSSL, ADM_ZIP, LODASH]);
    expect(b.contentDigest).to.equal(a.contentDigest);
    expect(b.digestRecord()).to.deep.include({ previous: a.contentDigest });
    expect(b.digestRecord().changed.size).to.equal(0);
  });

  it('names the pairs of an added, a withdrawn, a re-ranged and a re-rated advisory, and nothing else', async () => {
    const a = await build([LODASH, OPENSSL]);
    const added = await build([LODASH, OPENSSL, ADM_ZIP]);
    expect(added.contentDigest).to.not.equal(a.contentDigest);
    expect([...added.digestRecord().changed]).to.deep.equal([[pkgOf(ADM_ZIP), 'added']]);
    const withdrawn = await build([LODASH, OPENSSL, { ...ADM_ZIP, withdrawn: '2026-12-01T00:00:00Z' }]);
    expect([...withdrawn.digestRecord().changed]).to.deep.equal([[pkgOf(ADM_ZIP), 'removed']]);
    expect(withdrawn.contentDigest).to.equal(a.contentDigest);
    const reranged = structuredClone(LODASH) as { affected: Array<{ ranges: Array<{ events: Array<Record<string, string>> }> }> };
    reranged.affected[0].ranges[0].events = [{ introduced: '0' }, { fixed: '4.17.6' }];
    const r = await build([reranged as never, OPENSSL]);
    expect([...r.digestRecord().changed]).to.deep.equal([[pkgOf(LODASH), 'changed']]);
    const rerated = await build([{ ...LODASH, severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }] }, OPENSSL]);
    expect([...rerated.digestRecord().changed]).to.deep.equal([[pkgOf(LODASH), 'changed']]);
    // rewording changes no finding: not a change
    const reworded = await build([{ ...LODASH, severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }], summary: 'other words', modified: '2027-01-01T00:00:00Z' }, OPENSSL]);
    expect(reworded.digestRecord().changed.size).to.equal(0);
  });

  it('the digests computed while importing equal those read back from the index (property)', async () => {
    // strings whose UTF-16 and UTF-8 orders differ (astral vs U+E000..U+FFFF), lone surrogates (stored as
    // U+FFFD), shared packages across records, releases, several rows of one record for one package
    const text = fc.oneof(fc.constantFrom('a', 'b', 'A', '\u{1F600}', '\uE000', '\uFFFD', '\uD800', '\uDC00x', 'é', 'z\u{10000}', ''), fc.string({ maxLength: 3 }));
    const rec = fc.record({
      id: fc.tuple(fc.constantFrom('GHSA-', 'CVE-', 'X'), text).map(([a, b]) => a + b),
      aliases: fc.array(fc.tuple(fc.constantFrom('CVE-2024-', 'GHSA-'), text).map(([a, b]) => a + b), { maxLength: 2 }),
      published: fc.option(fc.constantFrom('2024-01-01T00:00:00Z', '2023-05-05T00:00:00Z'), { nil: undefined }),
      severity: fc.option(fc.constantFrom([{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }], [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N' }]), { nil: undefined }),
      affected: fc.array(fc.record({
        eco: fc.constantFrom('npm', 'Debian:12', 'Debian:11', 'PyPI', 'Alpine:v3.19'),
        name: fc.oneof(fc.constantFrom('lodash', 'Lodash', 'py_pkg', 'py-pkg'), text.map((t) => `p${t}`)),
        fixed: fc.constantFrom('1.0.0', '1.2.3', '2.0.0'),
        versions: fc.array(fc.tuple(fc.constantFrom('0.', '1.'), text).map(([a, b]) => a + b), { maxLength: 2 }),
      }), { minLength: 1, maxLength: 3 }),
    });
    await fc.assert(fc.asyncProperty(fc.uniqueArray(rec, { selector: (r) => r.id, minLength: 1, maxLength: 8 }), async (recs) => {
      const src = fs.mkdtempSync(path.join(dir, 'osv-'));
      recs.forEach((r, i) => fs.writeFileSync(path.join(src, `${i}.json`), JSON.stringify({
        id: r.id, aliases: r.aliases, published: r.published, severity: r.severity,
        affected: r.affected.map((a) => ({ package: { ecosystem: a.eco, name: a.name }, versions: a.versions, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: a.fixed }] }] })),
      })));
      const out = path.join(src, 'v.sqlite');
      let st;
      try {
        st = await updateDb({ path: out, sources: [src] });
      } catch {
        return; // nothing importable (every id a duplicate after U+FFFD, say): no index to compare
      }
      const db = new Database(out, { readonly: true });
      try {
        const read = computePackageDigests(db);
        expect(st.contentDigest).to.equal(contentDigestOf(read));
        const stored = new Map((db.prepare('SELECT pkg, digest FROM package_digests').all() as Array<{ pkg: string; digest: string }>).map((r) => [r.pkg, r.digest]));
        expect(stored).to.deep.equal(read);
      } finally {
        db.close();
        fs.rmSync(src, { recursive: true, force: true });
      }
    }), { numRuns: 150 });
  });

  it('the quick per-pair digest equals the general one (UTF-8 row order, read-back text) for every pair (property)', () => {
    // plain ASCII pairs (the quick way) beside pairs holding astral, U+E000..U+FFFF and lone surrogates in
    // any field; rows of one record shared between pairs; rows in any order
    const text = fc.oneof(fc.constantFrom('a', 'b', 'A', '\u{1F600}', '\uE000', '\uFFFD', '\uD800', '\uDC00x', 'é', 'z\u{10000}', ''), fc.string({ maxLength: 3 }));
    const record = fc.record({
      id: fc.tuple(fc.constantFrom('GHSA-', 'CVE-', 'X'), text).map(([a, b]) => a + b),
      aliases: fc.array(text).map((a) => JSON.stringify(a)),
      severity: fc.constantFrom('{"severity":"high","source":"CVSS_V3"}', '{"severity":"unknown","source":"none"}'),
      best: fc.option(text, { nil: undefined }),
      published: fc.option(fc.oneof(text, fc.constant('2024-01-01T00:00:00Z')), { nil: undefined }),
      enrich: fc.option(fc.constantFrom('{"kev":{"cve":"CVE-1"}}', '{"epss":{"cve":"CVE-2","score":0.5,"percentile":0.9,"date":"x"}}'), { nil: undefined }),
    });
    const rows = fc.array(record, { minLength: 1, maxLength: 5 }).chain((recs) => fc.array(fc.record({
      rec: fc.nat({ max: recs.length - 1 }).map((i) => recs[i]),
      pkg: fc.oneof(fc.constantFrom('npm:a', 'npm:b', 'debian:openssl'), text.map((t) => `npm:p${t}`)),
      release: fc.oneof(fc.constantFrom('', '12', 'v3.19'), text),
      compiled: fc.oneof(fc.constantFrom('{"r":[["i","0","f","1.0.0"]]}', '{"r":[["i","0","f","2.0.0"]]}'), text.map((t) => JSON.stringify({ v: [t], r: [] }))),
    }), { minLength: 1, maxLength: 12 }));
    fc.assert(fc.property(rows, (list) => {
      const input: DigestRow[] = list.map((r) => ({ pkg: r.pkg, release: r.release, compiled: r.compiled, record: r.rec }));
      const got = packageDigestsOfRows(input);
      // the general rule per pair: pair keys as they read back (lone surrogates as U+FFFD)
      const byPkg = new Map<string, DigestRow[]>();
      for (const row of input) {
        const k = row.pkg.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd\ufffd\ufffd');
        byPkg.set(k, [...(byPkg.get(k) ?? []), row]);
      }
      expect(got).to.deep.equal(new Map([...byPkg].map(([k, rs]) => [k, exactPairDigest(rs)])));
    }), { numRuns: 2000 });
  });

  it('compares strings in the order of the bytes SQLite holds for them, lone surrogates included (property)', () => {
    // WTF-8, as better-sqlite3 writes a string: code points in UTF-8, a lone surrogate as its own 3 bytes
    const wtf8 = (t: string) => {
      const out: number[] = [];
      for (let i = 0; i < t.length;) {
        const c = t.codePointAt(i)!;
        i += c > 0xffff ? 2 : 1;
        if (c < 0x80) out.push(c);
        else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
        else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
        else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      }
      return Buffer.from(out);
    };
    const s = fc.array(fc.oneof(fc.constantFrom('a', '\uE000', '\uFFFF', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\u{10000}', '\u{10FFFF}', '\u{1F600}', '\u07FF'), fc.string({ unit: 'binary', maxLength: 2 })), { maxLength: 5 }).map((x) => x.join(''));
    fc.assert(fc.property(s, s, (a, b) => {
      expect(Math.sign(compareUtf8(a, b))).to.equal(Math.sign(Buffer.compare(wtf8(a), wtf8(b))));
    }), { numRuns: 5000 });
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (x TEXT)');
    const ins = db.prepare('INSERT INTO t VALUES (?)');
    const sample = ['a', '\uE000', '\uD800', '\uD800\uDC00', '\uDC00', 'a\uD83D', 'a\uD83D\uDE00', '\uFFFD'];
    for (const x of sample) ins.run(x);
    expect((db.prepare('SELECT hex(x) AS h FROM t ORDER BY x').all() as Array<{ h: string }>).map((r) => r.h))
      .to.deep.equal([...sample].sort(compareUtf8).map((x) => wtf8(x).toString('hex').toUpperCase()));
    db.close();
  });
});
