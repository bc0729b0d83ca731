/**
 * Every value `db update` stores for the fixture sources (OSV, NVD, KEV, EPSS, endoflife.date), checked
 * against a golden digest of the whole index: a change in how the import writes rows (their order, the
 * rid each record gets, when the alias rating and the enrichment are set) must not change one stored
 * value. `UPDATE_GOLDEN=1` rewrites the golden (only for an intended change of the stored data).
 */
import Database from 'better-sqlite3';
import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { updateDb } from '../../../src/vulndb/index.js';

// relative paths: records.source and meta.sources hold them, and must not depend on the checkout
const FIX = 'test/fixtures/vulndb';
const GOLDEN = path.join(FIX, 'stored-values.golden.json');

function* jsonFiles(d: string): Generator<string> {
  for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) yield* jsonFiles(p);
    else if (e.name.endsWith('.json')) yield p;
  }
}

/** An EPSS file (FIRST's layout) scoring every other CVE the fixture advisories name, scores made up from the id. */
function epssFor(osvDir: string): Buffer {
  const cves = new Set<string>();
  for (const f of jsonFiles(osvDir)) for (const m of fs.readFileSync(f, 'utf8').matchAll(/CVE-\d{4}-\d{4,}/g)) cves.add(m[0]);
  const lines = ['#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z', 'cve,epss,percentile'];
  [...cves].sort().forEach((c, i) => {
    if (i % 2 === 0) lines.push(`${c},${((i * 7919) % 100000 / 100000).toFixed(5)},${((i * 104729) % 100000 / 100000).toFixed(5)}`);
  });
  return zlib.gzipSync(`${lines.join('\n')}\n`);
}

describe('vulndb: every value stored for the fixture sources', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-stored-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('equals the golden digest of every table (rids, alias ratings and enrichment included)', async () => {
    const epss = path.join(dir, 'epss_scores.csv.gz');
    fs.writeFileSync(epss, epssFor(path.join(FIX, 'osv')));
    const dbPath = path.join(dir, 'v.sqlite');
    // epss: given by its absolute path, so meta.sources names it as `epss:<tmp>`: replaced below
    await updateDb({ path: dbPath, sources: [`${FIX}/osv/npm`, `${FIX}/osv/debian-bookworm`, `nvd:${FIX}/nvd/cve`, `kev:${FIX}/kev/known_exploited_vulnerabilities.json`, `epss:${epss}`, `eol:${FIX}/eol/products`] });
    const db = new Database(dbPath, { readonly: true });
    const out: Record<string, { rows: number; sha256: string }> = {};
    try {
      const tables: Array<[string, string]> = [
        ['records', 'SELECT * FROM records ORDER BY rid'],
        ['affected', 'SELECT * FROM affected ORDER BY rowid'],
        ['eol', 'SELECT * FROM eol ORDER BY product'],
        ['package_digests', 'SELECT * FROM package_digests ORDER BY pkg'],
        ['changed_packages', 'SELECT * FROM changed_packages ORDER BY pkg'],
        ['meta', "SELECT * FROM meta WHERE key <> 'builtAt' ORDER BY key"],
      ];
      for (const [name, sql] of tables) {
        const h = crypto.createHash('sha256');
        let rows = 0;
        for (const row of db.prepare(sql).iterate()) {
          h.update(`${JSON.stringify(row).split(dir).join('<tmp>')}\n`);
          rows++;
        }
        out[name] = { rows, sha256: h.digest('hex') };
      }
      // the fixture exercises both values set after the records are read
      expect((db.prepare('SELECT count(*) AS n FROM records WHERE best_severity IS NOT NULL').get() as { n: number }).n, 'records rated by an alias').to.be.greaterThan(0);
      expect((db.prepare('SELECT count(*) AS n FROM records WHERE enrich IS NOT NULL').get() as { n: number }).n, 'records enriched').to.be.greaterThan(0);
    } finally {
      db.close();
    }
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(GOLDEN, `${JSON.stringify(out, null, 2)}\n`);
    expect(out).to.deep.equal(JSON.parse(fs.readFileSync(GOLDEN, 'utf8')));
  });
});
