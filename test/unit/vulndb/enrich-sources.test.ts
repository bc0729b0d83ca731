/**
 * Enrichment sources on real data (test/fixtures/vulndb: NVD CVE 2.0 records, the CISA KEV catalog,
 * endoflife.date product pages) and on EPSS files written here in FIRST's published format (no real EPSS
 * file is available: the scores below are made up). The update path: built beside the old database, a
 * corrupt or partial file fails the build naming it and the old database keeps serving; URL sources over a
 * loopback server (NVD API paging with the key header, conditional download of the KEV catalog).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  cycleOf, eolFindings, eolSubjects, nvdRating, parseEolProduct, parseEpss, parseKev, updateDb, VulnDb,
} from '../../../src/vulndb/index.js';
import { readPlainReleases } from '../../../src/vulndb/enrich/eol.js';
import { scoreCvss, vendorSeverity } from '../../../src/vulndb/severity.js';
import YAML from 'yaml';
import Database from 'better-sqlite3';
import { computePackageDigests } from '../../../src/vulndb/digest.js';
import { NVD_API_ORIGIN } from '../../../src/vulndb/enrich/nvd.js';

const FIX = path.resolve('test/fixtures/vulndb');
const NVD = path.join(FIX, 'nvd/cve');
const KEV = path.join(FIX, 'kev/known_exploited_vulnerabilities.json');
const EOL = path.join(FIX, 'eol/products');
const OSV_NPM = path.join(FIX, 'osv/npm');

/** A small EPSS file in FIRST's published layout (made-up scores). */
const EPSS_CSV = '#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z\ncve,epss,percentile\nCVE-2018-1002204,0.91234,0.99512\nCVE-2019-10744,0.01500,0.80000\n';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-enrich-'));
}

describe('vulndb enrichment: NVD CVE API 2.0 records', () => {
  const files = fs.readdirSync(NVD).filter((f) => f.endsWith('.json'));
  const records = files.map((f) => JSON.parse(fs.readFileSync(path.join(NVD, f), 'utf8')) as Record<string, unknown>);

  it('every record with an NVD (Primary) metric is rated with NVD\'s own base score, recomputed from its vector', () => {
    let primary = 0;
    for (const rec of records) {
      const r = nvdRating(rec);
      const metrics = (rec.metrics ?? {}) as Record<string, Array<{ type: string; cvssData: { vectorString: string; baseScore: number } }>>;
      const hasPrimary = Object.values(metrics).some((list) => list.some((m) => m.type === 'Primary' && m.cvssData?.vectorString));
      if (!hasPrimary) continue;
      primary++;
      expect(r, String(rec.id)).to.not.equal(undefined);
      expect(r!.sev.source, String(rec.id)).to.match(/^NVD CVSS_V(4\.0|3\.1|3\.0|2\.0)$/);
      // the score is the library's, and it agrees with the one NVD printed for that vector
      const printed = Object.values(metrics).flat().find((m) => m.type === 'Primary' && m.cvssData.vectorString === r!.sev.cvss!.vector)!;
      expect(r!.sev.cvss!.score, String(rec.id)).to.equal(scoreCvss(r!.sev.cvss!.vector)!.score).and.to.equal(printed.cvssData.baseScore);
    }
    expect(primary).to.equal(81);
  });

  it('a record NVD has not scored takes a CNA score, named as such; one without metrics has no rating', () => {
    const cnaOnly = records.filter((rec) => {
      const m = (rec.metrics ?? {}) as Record<string, Array<{ type: string }>>;
      const all = Object.values(m).flat();
      return all.length && !all.some((x) => x.type === 'Primary');
    });
    expect(cnaOnly.length).to.be.greaterThan(0);
    for (const rec of cnaOnly) expect(nvdRating(rec)!.sev.source, String(rec.id)).to.match(/^NVD CNA \S+ CVSS_V/);
    const none = records.filter((rec) => !Object.values((rec.metrics ?? {}) as Record<string, unknown[]>).flat().length);
    expect(none.length).to.equal(14);
    for (const rec of none) expect(nvdRating(rec), String(rec.id)).to.equal(undefined);
  });
});

describe('vulndb enrichment: KEV, EPSS and end-of-life readers', () => {
  it('vendor words: Red Hat impact (Important → high), Ubuntu priority; none for a language record or a Debian changelog urgency', () => {
    expect(vendorSeverity({ database_specific: { severity: 'Important' } }, true)).to.deep.equal({ severity: 'high', source: 'database_specific.severity' });
    expect(vendorSeverity({ affected: [{ ecosystem_specific: { severity: 'Moderate' } }] }, true)).to.deep.equal({ severity: 'medium', source: 'affected.ecosystem_specific.severity' });
    expect(vendorSeverity({ severity: [{ type: 'Ubuntu', score: 'negligible' }] }, true)).to.deep.equal({ severity: 'negligible', source: 'severity.Ubuntu' });
    expect(vendorSeverity({ database_specific: { severity: 'HIGH' } }, false)).to.equal(undefined);
    const debian = JSON.parse(fs.readFileSync(path.join(FIX, 'osv/debian-bookworm/DEBIAN-CL-CVE-2006-20001.json'), 'utf8')) as Parameters<typeof vendorSeverity>[0];
    expect(vendorSeverity(debian, true)).to.equal(undefined);
  });

  it('reads the whole KEV catalog; a partial one (count disagrees) or truncated one is an error naming the file', () => {
    const text = fs.readFileSync(KEV, 'utf8');
    const cat = parseKev(KEV, text);
    expect(cat.entries).to.have.length(1404);
    expect(cat.catalogVersion).to.equal('2025.08.25');
    const log4 = cat.entries.find((e) => e.cve === 'CVE-2021-44228')!;
    expect(log4).to.include({ dateAdded: '2021-12-10', knownRansomwareCampaignUse: 'Known' });
    const doc = JSON.parse(text) as { vulnerabilities: unknown[] };
    doc.vulnerabilities.pop();
    expect(() => parseKev('kev.json', JSON.stringify(doc))).to.throw(/kev\.json.*"count" says 1404 entries but it holds 1403/);
    expect(() => parseKev('kev.json', text.slice(0, 5000))).to.throw(/KEV catalog kev\.json: not valid JSON/);
  });

  it('reads an EPSS CSV, plain or gzipped, with its model and score date; a bad row names file and line', () => {
    for (const data of [Buffer.from(EPSS_CSV), zlib.gzipSync(EPSS_CSV)]) {
      const d = parseEpss('epss.csv', data);
      expect(d.modelVersion).to.equal('v2025.03.14');
      expect(d.scoreDate).to.equal('2025-08-25T12:55:00Z');
      expect(d.scores.get('CVE-2018-1002204')).to.deep.equal({ score: 0.91234, percentile: 0.99512 });
      expect(d.scores.size).to.equal(2);
    }
    expect(() => parseEpss('e.csv', Buffer.from(`${EPSS_CSV}CVE-2020-1,1.5,0.2\n`))).to.throw(/e\.csv: line 5: expected "CVE-YYYY-N,<score 0\.\.1>/);
    expect(() => parseEpss('e.csv', Buffer.from('cve,score\nCVE-2020-1,0.1\n'))).to.throw(/e\.csv: line 1: expected the header "cve,epss,percentile"/);
    const gz = zlib.gzipSync(EPSS_CSV);
    expect(() => parseEpss('e.csv.gz', gz.subarray(0, gz.length - 12))).to.throw(/e\.csv\.gz: .*truncated or corrupt gzip/);
  });

  it('an EPSS row is checked alike whether its CVE is wanted or not (property)', () => {
    const num = fc.oneof(
      fc.constantFrom('0', '1', '0.', '.5', '.', '1.0', '1.000', '1.', '1.01', '1e-5', ' 0.5', '0.5 ', '', '-0', '2', 'NaN', '0x1', '00.3', '05', '0.5\r', '0,5', '0.5é'),
      fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x.toFixed(5)),
    );
    // the same sequence number spelled with leading zeros, and numbers past the longest one read as a number
    const cve = fc.oneof(
      fc.constantFrom('CVE-2020-1', 'CVE-2020-01', 'CVE-2021-44228', 'cve-2020-1', 'CVE-20-1', 'CVE-2020-', ' CVE-2020-2', 'CVE-2020-1 ', 'CVE-202O-1', 'CVÉ-2020-1', 'CVE-2020-123456789012', 'CVE-2020-00000000000001'),
      fc.nat(99999).map((n) => `CVE-2024-${n}`),
      fc.tuple(fc.integer({ min: 1999, max: 2030 }), fc.bigInt({ min: 0n, max: 10n ** 14n })).map(([y, n]) => `CVE-${y}-${n}`),
    );
    const row = fc.oneof({ arbitrary: fc.tuple(cve, num, num).map((r) => r.join(',')), weight: 8 }, fc.constantFrom('CVE-2020-1,0.1', 'CVE-2020-1,0.1,0.2,0.3', '', '\r', 'CVE-2020-1,0.1,0.2\r\r'));
    fc.assert(fc.property(fc.array(row, { maxLength: 8 }), fc.boolean(), fc.boolean(), fc.array(cve, { maxLength: 3 }), (rows, crlf, endNl, wantedToo) => {
      const data = Buffer.from(['cve,epss,percentile', ...rows].join(crlf ? '\r\n' : '\n') + (endNl ? (crlf ? '\r\n' : '\n') : ''));
      const wanted = new Set(['CVE-2020-1', ...wantedToo]);
      const run = (wanted?: Set<string>) => {
        try {
          return parseEpss('e.csv', data, wanted);
        } catch (err) {
          return (err as Error).message;
        }
      };
      const all = run();
      const some = run(wanted);
      if (typeof all === 'string') {
        expect(some).to.equal(all);
        return;
      }
      expect(typeof some).to.equal('object');
      const s = some as typeof all;
      expect(s.rows).to.equal(all.rows);
      expect([...s.scores]).to.deep.equal([...all.scores].filter(([k]) => wanted.has(k)));
    }), { numRuns: 2000 });
  });

  it('reads endoflife.date product pages and both API forms alike', () => {
    const page = parseEolProduct(path.join(EOL, 'debian.md'), fs.readFileSync(path.join(EOL, 'debian.md'), 'utf8'));
    expect(page.product).to.equal('debian');
    const d12 = page.cycles.find((c) => c.cycle === '12');
    expect(d12).to.deep.equal({ cycle: '12', codename: 'Bookworm', releaseDate: '2023-06-10', eol: '2026-07-11', eoes: '2028-06-30' });
    // the same cycle as the API v1 and the older API serve it (their documented field names)
    const v1 = parseEolProduct('https://endoflife.date/api/v1/products/debian', JSON.stringify({
      schema_version: '1.2.0', result: { name: 'debian', releases: [{ name: '12', codename: 'Bookworm', releaseDate: '2023-06-10', isEol: true, eolFrom: '2026-07-11', isEoes: false, eoesFrom: '2028-06-30' }] },
    }));
    expect(v1.cycles).to.deep.equal([d12]);
    const v0 = parseEolProduct('debian.json', JSON.stringify([{ cycle: '12', codename: 'Bookworm', releaseDate: '2023-06-10', eol: '2026-07-11', extendedSupport: '2028-06-30' }]));
    expect(v0).to.deep.equal({ product: 'debian', cycles: [d12] });
    expect(() => parseEolProduct('debian.md', '---\ntitle: Debian\nreleases:\n  - releaseCycle: "12"\n')).to.throw(/end-of-life file debian\.md: front matter is not closed/);
    expect(() => parseEolProduct('x.json', '{"result":{}}')).to.throw(/end-of-life file x\.json: no release cycles/);
  });

  it('the plain releases reader reads every endoflife.date page as the YAML library does', () => {
    const pick = (r: Record<string, unknown>) => Object.fromEntries(['releaseCycle', 'codename', 'releaseDate', 'eol', 'eoes'].filter((k) => k in r).map((k) => [k, r[k]]));
    for (const f of fs.readdirSync(EOL)) {
      const fm = fs.readFileSync(path.join(EOL, f), 'utf8').split('\n---')[0];
      const at = fm.search(/^releases:/m);
      const next = fm.slice(at + 9).search(/^[^\s#-]/m);
      const block = fm.slice(at, next < 0 ? undefined : at + 9 + next);
      const fast = readPlainReleases(block);
      expect(fast, `${f}: read without the library`).to.not.equal(undefined);
      expect(fast, f).to.deep.equal(((YAML.parse(block) as { releases: Array<Record<string, unknown>> }).releases).map(pick));
    }
  });

  it('the plain releases reader agrees with the YAML library or leaves the block to it (property)', () => {
    // values of every form YAML resolves differently: quoted, dates, numbers that lose digits, booleans and
    // nulls in all spellings, escapes, comments, block/flow indicators, anchors, `: ` and ` #` inside
    const scalar = fc.oneof(
      { arbitrary: fc.constantFrom('"12"', '"3.10"', '3.10', '12', '2023-06-10', 'false', 'true', 'Bookworm', 'https://x.org/a:b', '2023-06-10 # c'), weight: 12 },
      fc.constantFrom('"12"', "'3.10'", '3.10', '12', '007', '1e5', '0x1A', '-1', '+1', '.inf', '2023-06-10', '2023-6-1', 'true', 'True', 'FALSE', 'false',
        'null', '~', 'Null', 'Bookworm', 'Buster (LTS)', 'x: y', 'a #b', 'a#b', '"a\\"b"', "'it''s'", '|', '>-', '&a x', '*a', '[1, 2]', '{a: 1}', '!!str 5',
        '"unterminated', 'foo:', 'https://x.org/a:b', '- x', '? x', '@x', '`x`', '%x', '"12" # pinned', '12 # pinned', '"a #b"', "'x' #c", '2023-06-10 ', 'Trixie  # c', 'false #', 'x\ty', '12345678901234567890'),
      fc.stringMatching(/^[A-Za-z0-9 .:#'"-]{1,12}$/),
    );
    const key = fc.constantFrom('releaseCycle', 'codename', 'releaseDate', 'eol', 'eoes', 'latest', 'link', 'lts');
    const item = fc.array(fc.tuple(key, scalar), { minLength: 1, maxLength: 5 });
    const layout = fc.record({ dash: fc.constantFrom(0, 2, 4), odd: fc.constantFrom(false, false, false, true), comment: fc.boolean(), blank: fc.boolean() });
    let readPlain = 0;
    fc.assert(fc.property(fc.array(item, { minLength: 1, maxLength: 3 }), layout, (items, l) => {
      const lines = ['releases:'];
      for (const it of items) {
        if (l.blank) lines.push('');
        if (l.comment) lines.push(`${' '.repeat(l.dash + 2)}# a note`);
        it.forEach(([k, v], i) => lines.push(`${' '.repeat(l.dash + (i === 0 ? 0 : l.odd && i === 1 ? 3 : 2))}${i === 0 ? '- ' : ''}${k}: ${v}`));
      }
      const block = `${lines.join('\n')}\n`;
      const fast = readPlainReleases(block);
      if (fast === undefined) return;
      readPlain++;
      const lib = (YAML.parse(block) as { releases: Array<Record<string, unknown>> }).releases;
      const pick = (r: Record<string, unknown>) => Object.fromEntries(['releaseCycle', 'codename', 'releaseDate', 'eol', 'eoes'].filter((k) => k in r).map((k) => [k, r[k]]));
      expect(fast).to.deep.equal(lib.map(pick));
    }), { numRuns: 2000 });
    expect(readPlain, 'blocks the plain reader took').to.be.greaterThan(100);
  });

  it('a version belongs to the longest cycle its leading numbers name (property)', () => {
    const cycles = parseEolProduct('python.md', fs.readFileSync(path.join(EOL, 'python.md'), 'utf8')).cycles;
    const node = parseEolProduct('nodejs.md', fs.readFileSync(path.join(EOL, 'nodejs.md'), 'utf8')).cycles;
    fc.assert(fc.property(fc.constantFrom(...cycles), fc.nat(40), fc.constantFrom('', 'rc1', '+b2', '-r0'), (c, patch, suffix) => {
      expect(cycleOf(cycles, `${c.cycle}.${patch}${suffix}`)?.cycle).to.equal(c.cycle);
    }));
    fc.assert(fc.property(fc.constantFrom(...node), fc.nat(30), fc.nat(30), (c, minor, patch) => {
      expect(cycleOf(node, `${c.cycle}.${minor}.${patch}`)?.cycle).to.equal(c.cycle);
      expect(cycleOf(node, `v${c.cycle}.${minor}.${patch}`)?.cycle).to.equal(c.cycle);
    }));
    expect(cycleOf(cycles, '9.9.9')).to.equal(undefined);
  });

  it('finds the OS release and the runtimes official images declare or install; judges them at the given time', () => {
    const subjects = eolSubjects(
      { id: 'debian', versionId: '12' },
      ['PATH=/usr/local/bin', 'NODE_VERSION=18.20.8', 'PYTHON_VERSION=3.12.4', 'JAVA_VERSION=jdk-21.0.2+13', 'YARN_VERSION=1.22.19'],
      [
        { ecosystem: 'Debian', name: 'python3.11', version: '3.11.2-6+deb12u6', path: '/var/lib/dpkg/status', analyzer: 'os/dpkg', purl: 'pkg:deb/debian/python3.11@3.11.2-6%2Bdeb12u6' },
        { ecosystem: 'Go', name: 'stdlib', version: '1.21.6', path: '/usr/local/bin/app', analyzer: 'lang/go-binary', purl: 'pkg:golang/stdlib@1.21.6' },
      ],
    );
    expect(subjects.map((s) => `${s.product} ${s.version} ${s.via}`)).to.deep.equal([
      'debian 12 os-release',
      'nodejs 18.20.8 config:Env NODE_VERSION',
      'python 3.12.4 config:Env PYTHON_VERSION',
      'eclipse-temurin jdk-21.0.2+13 config:Env JAVA_VERSION',
      'python 3.11 package python3.11 (Debian)',
      'go 1.21.6 package stdlib (Go)',
    ]);
    const lookup = (p: string) => parseEolProduct(`${p}.md`, fs.readFileSync(path.join(EOL, `${p}.md`), 'utf8')).cycles;
    const at = (d: string) => eolFindings(subjects, lookup, Date.parse(d)).map((f) => `${f.id} ${f.product} ${f.cycle} ${f.eol}${f.inExtendedSupport ? ' extended' : ''}`);
    // Debian 12 is supported through 2026-07-11 (a date means through that day, UTC)
    expect(at('2026-07-11T23:59:59Z')).to.not.include.members(['os-eol debian 12 2026-07-11 extended']);
    expect(at('2026-07-12T00:00:00Z')).to.include('os-eol debian 12 2026-07-11 extended');
    expect(at('2028-07-01T00:00:00Z')).to.include('os-eol debian 12 2026-07-11');
    expect(at('2026-12-05T00:00:00Z')).to.include.members(['runtime-eol nodejs 18 2025-04-30', 'runtime-eol go 1.21 2024-08-13']);
  });
});

describe('vulndb enrichment: building with enrichment sources', function () {
  this.timeout(120_000);
  let dir: string;
  let dbPath: string;
  let epssFile: string;

  before(async () => {
    dir = tmp();
    dbPath = path.join(dir, 'v.sqlite');
    epssFile = path.join(dir, 'epss_scores.csv.gz');
    fs.writeFileSync(epssFile, zlib.gzipSync(EPSS_CSV));
    await updateDb({ path: dbPath, sources: [OSV_NPM, `nvd:${NVD}`, `kev:${KEV}`, `epss:${epssFile}`, `eol:${EOL}`] });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the per-package digests written at import cover the enrichment exactly as a read of the index does', () => {
    const db = new Database(dbPath, { readonly: true });
    try {
      const enriched = (db.prepare('SELECT count(*) AS n FROM records WHERE enrich IS NOT NULL').get() as { n: number }).n;
      expect(enriched, 'records with NVD, KEV or EPSS data').to.be.greaterThan(0);
      const stored = new Map((db.prepare('SELECT pkg, digest FROM package_digests').all() as Array<{ pkg: string; digest: string }>).map((r) => [r.pkg, r.digest]));
      expect(stored).to.deep.equal(computePackageDigests(db));
    } finally {
      db.close();
    }
  });

  it('records what each source delivered (db status) and how old each is', () => {
    const db = VulnDb.open(dbPath);
    try {
      const st = db.status();
      expect(st.sourceStatus.map((s) => [s.kind, s.items])).to.deep.equal([['osv', 467], ['nvd', 138], ['kev', 1404], ['epss', 2], ['eol', 26]]);
      expect(st.sourceStatus.find((s) => s.kind === 'kev')!.dataDate).to.equal('2025-08-25T17:04:19.9796Z');
      expect(st.eolProducts).to.include.members(['debian', 'nodejs', 'alpine-linux']);
      const ages = db.sourceAges(Date.parse('2025-08-26T17:04:19.9796Z'));
      expect(ages.kev).to.equal(86400);
      expect(ages.epss).to.be.closeTo(86400 + 4 * 3600 + 9 * 60 + 19.98, 0.01);
      expect(Object.keys(ages).sort()).to.deep.equal(['eol', 'epss', 'kev', 'nvd', 'osv']);
    } finally {
      db.close();
    }
  });

  it('a finding carries every rating by source, EPSS, and the severity of the preferred source', () => {
    const db = VulnDb.open(dbPath);
    try {
      const pkg = { ecosystem: 'npm', name: 'adm-zip', version: '0.4.7', path: '/app/node_modules/adm-zip/package.json', analyzer: 'lang/npm', purl: 'pkg:npm/adm-zip@0.4.7' };
      const [f] = db.match([pkg]);
      expect(f.id).to.equal('NSWG-NPM-458');
      expect(f.severities!.map((s) => `${s.source} ${s.severity} ${s.cvss?.score}`)).to.deep.equal(['advisory high 8.2', 'nvd medium 5.5']);
      // default: the advisory's own rating; NVD only when preferred
      expect([f.severity, f.severitySource]).to.deep.equal(['high', 'NSWG-NPM-458 CVSS_V3']);
      const [n] = db.match([pkg], undefined, { prefer: ['nvd', 'advisory'] });
      expect([n.severity, n.severitySource, n.cvss?.score]).to.deep.equal(['medium', 'NVD CVSS_V3.1 CVE-2018-1002204', 5.5]);
      expect(f.epss).to.deep.equal({ cve: 'CVE-2018-1002204', score: 0.91234, percentile: 0.99512 });
      expect(f.kev).to.equal(undefined);
      // a source left out of `prefer` is never used
      const [none] = db.match([pkg], undefined, { prefer: ['vendor'] });
      expect([none.severity, none.severitySource]).to.deep.equal(['unknown', 'none']);
    } finally {
      db.close();
    }
  });

  it('an OSV record of another ecosystem with a CVSS vector for the same CVE rates a finding as `osv`, after NVD by default', async () => {
    const d = tmp();
    try {
      const osv = path.join(d, 'osv');
      fs.mkdirSync(osv);
      fs.copyFileSync(path.join(FIX, 'osv/debian-bookworm/DEBIAN-CL-CVE-2006-20001.json'), path.join(osv, 'deb.json'));
      // a hand-made record standing for e.g. a GHSA or Ubuntu record of the same CVE that carries a vector
      fs.writeFileSync(path.join(osv, 'other.json'), JSON.stringify({
        id: 'TEST-OTHER-1', aliases: ['CVE-2006-20001'], severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:L' }],
        affected: [{ package: { ecosystem: 'npm', name: 'not-installed' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] }],
      }));
      const p = path.join(d, 'v.sqlite');
      const pkg = { ecosystem: 'Debian', name: 'apache2-bin', version: '2.4.54-1', sourceName: 'apache2', path: '/var/lib/dpkg/status', analyzer: 'os/dpkg', purl: 'pkg:deb/debian/apache2-bin@2.4.54-1' };
      const debian12 = { id: 'debian', versionId: '12' };
      await updateDb({ path: p, sources: [osv] });
      let db = VulnDb.open(p);
      const [alone] = db.match([pkg], debian12);
      db.close();
      expect(alone.severities).to.deep.equal([{ source: 'osv', from: 'TEST-OTHER-1 CVSS_V3', severity: 'low', cvss: { score: 3.7, vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:L', version: '3.1' } }]);
      expect([alone.severity, alone.severitySource]).to.deep.equal(['low', 'TEST-OTHER-1 CVSS_V3']);
      await updateDb({ path: p, sources: [osv, `nvd:${NVD}`] });
      db = VulnDb.open(p);
      const [both] = db.match([pkg], debian12);
      const [osvFirst] = db.match([pkg], debian12, { prefer: ['osv', 'nvd'] });
      db.close();
      expect(both.severities!.map((x) => x.source)).to.deep.equal(['nvd', 'osv']);
      expect([both.severity, both.severitySource]).to.deep.equal(['high', 'NVD CVSS_V3.1 CVE-2006-20001']);
      expect(osvFirst.severity).to.equal('low');
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('an OS vendor\'s own word (Ubuntu priority) comes first for OS packages; its CVSS vector and NVD stay beside it', async () => {
    const d = tmp();
    try {
      const osv = path.join(d, 'osv');
      fs.mkdirSync(osv);
      // hand-made in the shape of osv.dev's Ubuntu records: a CVSS vector and the Ubuntu priority side by side
      fs.writeFileSync(path.join(osv, 'ubuntu.json'), JSON.stringify({
        id: 'UBUNTU-CVE-2006-20001', upstream: ['CVE-2006-20001'],
        severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H' }, { type: 'Ubuntu', score: 'low' }],
        affected: [{ package: { ecosystem: 'Ubuntu:22.04:LTS', name: 'apache2' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.4.52-1ubuntu4.3' }] }] }],
      }));
      const p = path.join(d, 'v.sqlite');
      await updateDb({ path: p, sources: [osv, `nvd:${NVD}`] });
      const db = VulnDb.open(p);
      const pkg = { ecosystem: 'Ubuntu', name: 'apache2-bin', version: '2.4.52-1ubuntu4', sourceName: 'apache2', path: '/var/lib/dpkg/status', analyzer: 'os/dpkg', purl: 'pkg:deb/ubuntu/apache2-bin@2.4.52-1ubuntu4' };
      const ubuntu = { id: 'ubuntu', versionId: '22.04' };
      const [f] = db.match([pkg], ubuntu);
      const [n] = db.match([pkg], ubuntu, { prefer: ['nvd', 'vendor'] });
      db.close();
      expect(f.severities!.map((x) => `${x.source} ${x.severity} ${x.from}`)).to.deep.equal([
        'vendor low UBUNTU-CVE-2006-20001 severity.Ubuntu',
        'advisory high UBUNTU-CVE-2006-20001 CVSS_V3',
        'nvd high NVD CVSS_V3.1 CVE-2006-20001',
      ]);
      expect([f.severity, f.severitySource, f.cvss]).to.deep.equal(['low', 'UBUNTU-CVE-2006-20001 severity.Ubuntu', undefined]);
      expect([n.severity, n.cvss?.score]).to.deep.equal(['high', 7.5]);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  for (const [what, kind, write] of [
    ['a truncated KEV catalog', 'kev', (p: string) => fs.writeFileSync(p, fs.readFileSync(KEV).subarray(0, 40_000))],
    ['an EPSS file with a broken row', 'epss', (p: string) => fs.writeFileSync(p, `${EPSS_CSV}CVE-2024-1,0.3\n`)],
    ['an endoflife.date page cut in its front matter', 'eol', (p: string) => fs.writeFileSync(p, fs.readFileSync(path.join(EOL, 'debian.md'), 'utf8').slice(0, 300))],
    ['an NVD record cut short', 'nvd', (p: string) => fs.writeFileSync(p, fs.readFileSync(path.join(NVD, 'CVE-2006-20001.json'), 'utf8').slice(0, 700))],
  ] as const) {
    it(`${what}: the update fails naming the file and the old database keeps serving`, async () => {
      const before = VulnDb.open(dbPath);
      const builtAt = before.builtAt;
      before.close();
      const bad = path.join(dir, `bad-${kind}`);
      fs.mkdirSync(bad, { recursive: true });
      const file = path.join(bad, kind === 'eol' ? 'debian.md' : kind === 'nvd' ? 'CVE-2006-20001.json' : `${kind}.data`);
      write(file);
      const src = kind === 'eol' || kind === 'nvd' ? `${kind}:${bad}` : `${kind}:${file}`;
      let err: Error | undefined;
      try {
        await updateDb({ path: dbPath, sources: [OSV_NPM, src] });
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).to.include(file).and.match(/previous database is kept/);
      const after = VulnDb.open(dbPath);
      try {
        expect(after.builtAt).to.equal(builtAt);
        expect(after.match([{ ecosystem: 'npm', name: 'adm-zip', version: '0.4.7', path: '/p', analyzer: 'lang/npm', purl: 'pkg:npm/adm-zip@0.4.7' }])[0].epss?.score).to.equal(0.91234);
      } finally {
        after.close();
      }
      expect(fs.readdirSync(dir).filter((f) => f.includes('.new-'))).to.deep.equal([]);
    });
  }
});

describe('vulndb enrichment: a one-file source given a directory', () => {
  for (const [kind, file] of [['kev', 'known_exploited_vulnerabilities.json'], ['epss', 'EPSS CSV']] as const) {
    it(`${kind}:DIR says it reads one file (${file}), not "EISDIR"; nothing is installed, and no previous database is claimed`, async () => {
      const d = tmp();
      try {
        const dbPath = path.join(d, 'v.sqlite');
        let err: Error | undefined;
        await updateDb({ path: dbPath, sources: [OSV_NPM, `${kind}:${d}`] }).catch((e: Error) => { err = e; });
        expect(err?.message).to.include(`source ${kind}:${d}: ${d} is a directory; ${kind}: reads the`).and.include(file).and.include('name the file');
        expect(err?.message).to.not.include('EISDIR');
        // there was none to keep: the message does not speak of a previous database
        expect(err?.message).to.include(`nothing was installed (there is no database at ${dbPath} yet)`).and.not.include('previous database');
        expect(fs.existsSync(dbPath)).to.equal(false);
      } finally {
        fs.rmSync(d, { recursive: true, force: true });
      }
    });
  }
});

describe('vulndb enrichment: URL sources over loopback', function () {
  this.timeout(60_000);
  let server: http.Server;
  let base: string;
  const seen: Array<{ url: string; apiKey?: string; inm?: string }> = [];
  const nvdFiles = ['CVE-2018-1002204.json', 'CVE-2019-10744.json', 'CVE-2006-20001.json'];
  const kevText = fs.readFileSync(KEV);

  before(async () => {
    // The NVD API's paging (resultsPerPage/startIndex/totalResults) and a static file with an ETag
    server = http.createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      seen.push({ url: req.url ?? '', apiKey: req.headers.apikey as string | undefined, inm: req.headers['if-none-match'] as string | undefined });
      if (u.pathname === '/rest/json/cves/2.0') {
        const start = Number(u.searchParams.get('startIndex'));
        // pages of 2 regardless of resultsPerPage: the client must follow totalResults
        const page = nvdFiles.slice(start, start + 2).map((f) => ({ cve: JSON.parse(fs.readFileSync(path.join(NVD, f), 'utf8')) as unknown }));
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ resultsPerPage: page.length, startIndex: start, totalResults: nvdFiles.length, format: 'NVD_CVE', version: '2.0', vulnerabilities: page }));
      } else if (u.pathname === '/kev.json') {
        if (req.headers['if-none-match'] === '"k1"') {
          res.statusCode = 304;
          res.end();
          return;
        }
        res.setHeader('etag', '"k1"');
        res.end(kevText);
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(23501, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  it('pages through the NVD API with the key header, and downloads the KEV catalog only when it changed', async () => {
    const dir = tmp();
    try {
      const dbPath = path.join(dir, 'v.sqlite');
      // the key goes to NVD's origin only (test/security/vulndb-credentials.test.ts): that origin is served here
      const sources = [OSV_NPM, `nvd:${NVD_API_ORIGIN}/rest/json/cves/2.0`, `kev:${base}/kev.json`];
      const toLoopback = ((input: string | URL | Request, init?: RequestInit) => {
        const u = new URL(input instanceof Request ? input.url : input.toString());
        return fetch(u.origin === NVD_API_ORIGIN ? `${base}${u.pathname}${u.search}` : u, init);
      }) as typeof fetch;
      const st = await updateDb({ path: dbPath, sources, nvdApiKey: 'test-key-1234', fetch: toLoopback });
      expect(st.sources.map((s) => [s.kind, s.items])).to.deep.equal([['osv', 467], ['nvd', 3], ['kev', 1404]]);
      const nvdReqs = seen.filter((s) => s.url.startsWith('/rest/'));
      expect(nvdReqs.map((s) => new URL(s.url, base).searchParams.get('startIndex'))).to.deep.equal(['0', '2']);
      expect(nvdReqs.every((s) => s.apiKey === 'test-key-1234')).to.equal(true);
      const db = VulnDb.open(dbPath);
      const [f] = db.match([{ ecosystem: 'npm', name: 'adm-zip', version: '0.4.7', path: '/p', analyzer: 'lang/npm', purl: 'pkg:npm/adm-zip@0.4.7' }], undefined, { prefer: ['nvd'] });
      db.close();
      expect(f.severitySource).to.equal('NVD CVSS_V3.1 CVE-2018-1002204');
      // second build: the catalog is not downloaded again (304), its cached copy is read
      seen.length = 0;
      const st2 = await updateDb({ path: dbPath, sources, nvdApiKey: 'test-key-1234', fetch: toLoopback });
      expect(seen.find((s) => s.url === '/kev.json')?.inm).to.equal('"k1"');
      expect(st2.sources.find((s) => s.kind === 'kev')!.items).to.equal(1404);
      expect(JSON.stringify(st2)).to.not.include('test-key-1234');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
