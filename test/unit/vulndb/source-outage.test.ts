/**
 * A source that cannot be read during an update (its host down, the file gone, a network error) must not
 * install an index without its advisories: the images it covers would pass unmatched until the next update
 * (serve runs one every vulndb.updateInterval, unattended). The previous index is kept and the update
 * fails naming the source; a first build, or a source the previous index held nothing from, installs what
 * it has, as before.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { PushgateError } from '../../../src/core/index.js';
import { updateDb, VulnDb } from '../../../src/vulndb/index.js';
import { makeZip } from './zip.js';

const record = (id: string, name: string) => JSON.stringify({
  id, modified: '2024-01-01T00:00:00Z',
  affected: [{ package: { ecosystem: 'npm', name }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '2.0.0' }] }] }],
});

/** The advisory ids the index at dbPath matches for package `name` at 1.0.0. */
function ids(dbPath: string, names: string[]): string[] {
  const db = VulnDb.open(dbPath);
  try {
    return db.match(names.map((name) => ({ ecosystem: 'npm', name, version: '1.0.0', purl: '', path: '/x', analyzer: 't' }))).map((m) => m.id).sort();
  } finally {
    db.close();
  }
}

const URL_SOURCE = 'http://osv.invalid/npm/all.zip';

describe('vulndb update: a source that cannot be read keeps the previous index', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-osv-outage-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('property: installed iff no failing source delivered advisories to the previous index; kept whole otherwise', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ count: fc.integer({ min: 0, max: 3 }), fails: fc.boolean() }), { minLength: 1, maxLength: 3 }),
        fc.record({ count: fc.integer({ min: 0, max: 3 }), fails: fc.boolean() }),
        async (files, net) => {
          const dir = path.join(tmp, `run-${run++}`);
          fs.mkdirSync(dir);
          const names = (s: number, n: number) => Array.from({ length: n }, (_, i) => `pkg-${s}-${i}`);
          const zipOf = (s: number, n: number) => makeZip(Object.fromEntries(names(s, n).map((nm, i) => [`R${i}.json`, record(`ADV-${s}-${i}`, nm)])));
          const fileSources = files.map((f, s) => {
            const p = path.join(dir, `src-${s}.zip`);
            fs.writeFileSync(p, zipOf(s, f.count));
            return p;
          });
          const netIdx = files.length;
          let netDown = false;
          const fetchImpl = (async () => {
            if (netDown) throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
            return new Response(zipOf(netIdx, net.count), { status: 200 });
          }) as typeof fetch;
          const sources = [...fileSources, URL_SOURCE];
          const counts = [...files.map((f) => f.count), net.count];
          const all = counts.flatMap((n, s) => names(s, n));
          const dbPath = path.join(dir, 'vulndb.sqlite');
          const total = counts.reduce((a, b) => a + b, 0);
          if (total === 0) return; // nothing to build a first index from
          await updateDb({ path: dbPath, sources, fetch: fetchImpl });
          const before = ids(dbPath, all);
          expect(before).to.have.length(total);

          files.forEach((f, s) => f.fails && fs.rmSync(fileSources[s]!));
          netDown = net.fails;
          const failing = [...files.map((f) => f.fails), net.fails];
          const loses = failing.some((fail, s) => fail && counts[s]! > 0);
          const left = counts.reduce((a, n, s) => a + (failing[s] ? 0 : n), 0);
          let err: unknown;
          try {
            await updateDb({ path: dbPath, sources, fetch: fetchImpl });
          } catch (e) {
            err = e;
          }
          if (left === 0) {
            // nothing at all to import: refused as before, the previous index kept
            expect(err, 'nothing to import').to.be.instanceOf(PushgateError);
            expect((err as Error).message).to.contain('nothing could be imported');
          } else if (loses) {
            expect(err).to.be.instanceOf(PushgateError);
            expect((err as PushgateError).code).to.equal('VULNDB');
            expect((err as Error).message).to.match(/could not be read .*the previous database holds \d+ advisories from it.*the previous database is kept/);
            for (const [s, fail] of failing.entries()) if (fail && counts[s]! > 0) expect((err as Error).message).to.contain(sources[s]);
          } else {
            expect(err).to.equal(undefined);
          }
          // installed or not, every advisory of the previous index is still matched
          expect(ids(dbPath, all)).to.deep.equal(before);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a first build installs what the readable sources deliver, naming the one that failed', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'first-'));
    const ok = path.join(dir, 'ok.zip');
    fs.writeFileSync(ok, makeZip({ 'A.json': record('ADV-A', 'pkg-a') }));
    const st = await updateDb({ path: path.join(dir, 'v.sqlite'), sources: [ok, path.join(dir, 'gone.zip')] });
    expect(st.imported).to.equal(1);
    expect(st.badRecords.map((b) => b.file)).to.deep.equal([path.join(dir, 'gone.zip')]);
  });
});

describe('vulndb update: a failing source under a new name keeps the previous index', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-osv-rename-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const pypi = (id: string, name: string) => JSON.stringify({
    id, modified: '2024-01-01T00:00:00Z',
    affected: [{ package: { ecosystem: 'PyPI', name }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.0' }] }] }],
  });

  it('property: the npm advisories read from one spelling of a source survive its replacement failing (network, HTTP error, truncated zip, a download damaged part-way after some entries were read)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom('network', 'http-404', 'truncated', 'cut-short', 'ok'),
        async (npmCount, pypiCount, how) => {
          // cut short: some entries read, then the rest of the download is damaged (the source fails part-way)
          if (how === 'cut-short') npmCount += 6;
          const dir = path.join(tmp, `run-${run++}`);
          fs.mkdirSync(dir);
          const names = Array.from({ length: npmCount }, (_, i) => `pkg-${i}`);
          const npmZip = makeZip(Object.fromEntries(names.map((nm, i) => [`N${i}.json`, record(`NPM-${i}`, nm)])));
          const old = path.join(dir, 'npm.zip');
          fs.writeFileSync(old, npmZip);
          const other = path.join(dir, 'pypi.zip');
          // the other, healthy source also holds one npm advisory: the npm ecosystem never ends up empty
          fs.writeFileSync(other, makeZip({
            ...Object.fromEntries(Array.from({ length: pypiCount }, (_, i) => [`P${i}.json`, pypi(`PY-${i}`, `py-${i}`)])),
            'LOCAL.json': record('LOCAL-1', 'local-pkg'),
          }));
          const dbPath = path.join(dir, 'vulndb.sqlite');
          await updateDb({ path: dbPath, sources: [old, other] });
          const before = ids(dbPath, names);
          expect(before).to.have.length(npmCount);

          // The npm export now comes from a mirror (a new spelling: the previous index has no count under it).
          const fetchImpl = (async () => {
            if (how === 'network') throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
            if (how === 'http-404') return new Response('no such object', { status: 404, statusText: 'Not Found' });
            if (how === 'cut-short') {
              // the entries' data after the first half damaged, the central directory intact: the first
              // entries are read, then one fails to inflate and the source fails with them delivered
              const damaged = Buffer.from(npmZip);
              const directory = damaged.readUInt32LE(damaged.length - 22 + 16);
              for (let i = Math.floor(directory * 0.55); i < directory; i++) damaged[i] ^= 0x5a;
              return new Response(damaged, { status: 200 });
            }
            return new Response(how === 'truncated' ? npmZip.subarray(0, npmZip.length - 30) : npmZip, { status: 200 });
          }) as typeof fetch;
          let err: unknown;
          try {
            await updateDb({ path: dbPath, sources: ['http://mirror.invalid/npm/all.zip', other], fetch: fetchImpl });
          } catch (e) {
            err = e;
          }
          if (how === 'ok') expect(err).to.equal(undefined);
          else {
            expect(err, how).to.be.instanceOf(PushgateError);
            expect((err as Error).message).to.match(/mirror\.invalid.*could not be read.*npm \(\d+ of \d+\).*the previous database is kept/);
          }
          expect(ids(dbPath, names)).to.deep.equal(before);
        },
      ),
      { numRuns: 24 },
    );
  });
});
