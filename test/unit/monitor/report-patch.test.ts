/**
 * Reports patched by a monitor pass (src/store/report-patch.ts: the re-judged findings and verdict laid
 * over the stored body) read exactly as reports written whole: the same value and the same JSON text, so
 * every reader (`Store.getReport`: the report API, changes, affected images, `pushgate report`,
 * publishing) answers byte for byte what it answered when the pass rewrote each report whole.
 *
 * - `reportOf`: for generated report bodies (keys present or absent, in any order) and patches, the read
 *   equals the object spread the monitor made before (`{ ...stored, findings, vulndb, scannedAt,
 *   verdict: { ...verdict, complete: stored.complete } }`), as JSON text.
 * - Stores (SQLite and PostgreSQL): generated npm images and advisory swaps; one real store takes the
 *   passes (patched reports written as patches), and a second store mirrors its reports as the monitor
 *   wrote them before (each patch applied to the stored report and the result written whole). After
 *   every pass (database passes, patched or judged in full, and `--all` passes between them) every
 *   image's report reads the same JSON text from both.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Digest, Package, ScanReport } from '../../../src/core/index.js';
import { Monitor } from '../../../src/monitor/index.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { openStore, type RejudgementBatch, type Store } from '../../../src/store/index.js';
import { patchText, reportOf, type ReportPatch } from '../../../src/store/report-patch.js';
import type { VulnDb } from '../../../src/vulndb/index.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { buildDb, digestOf, npmPackage, scanOf, storeImage } from '../../helpers/monitor.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** The report the monitor wrote whole before reports were patched (src/monitor/monitor.ts `patch`). */
function wholeOf(stored: ScanReport, p: ReportPatch): ScanReport {
  return { ...stored, findings: p.findings, vulndb: p.vulndb, scannedAt: p.scannedAt, verdict: { ...p.verdict, complete: stored.complete } };
}

const json = fc.jsonValue({ maxDepth: 2 });
const finding = fc.record({ id: fc.string(), aliases: fc.array(fc.string(), { maxLength: 2 }), severity: fc.constantFrom('low', 'high', 'critical'), path: fc.string(), extra: json }, { requiredKeys: ['id', 'aliases', 'severity'] });
const verdict = fc.record({ decision: fc.constantFrom('allow', 'warn', 'reject'), reasons: fc.array(fc.record({ rule: fc.string(), action: fc.string(), message: fc.string() }), { maxLength: 2 }), policy: fc.record({ name: fc.string(), revision: fc.string() }) });

describe('monitor: patched reports read as reports written whole', function () {
  this.timeout(600_000);

  it('property: reportOf(body, patch) is the object spread of the stored report, as JSON text', () => {
    // a body: the report's fields, each present or not, in a generated order (with a few unknown ones)
    const body = fc
      .record({
        target: fc.string(), digest: fc.string(), packages: fc.array(json, { maxLength: 2 }), findings: fc.array(finding, { maxLength: 2 }), secrets: fc.array(json, { maxLength: 1 }),
        complete: fc.boolean(), verdict: fc.tuple(verdict, fc.boolean()).map(([v, c]) => ({ ...v, complete: c })), vulndb: fc.record({ builtAt: fc.option(fc.string(), { nil: null }), digest: fc.option(fc.string(), { nil: null }) }),
        scannedAt: fc.string(), coverage: fc.array(json, { maxLength: 1 }), other: json,
      }, { requiredKeys: [] })
      .chain((o) => fc.shuffledSubarray(Object.keys(o), { minLength: Object.keys(o).length }).map((order) => Object.fromEntries(order.map((k) => [k, (o as Record<string, unknown>)[k]]))));
    const patch = fc.record({
      findings: fc.array(finding, { maxLength: 3 }),
      vulndb: fc.record({ builtAt: fc.option(fc.string(), { nil: null }), digest: fc.option(fc.string(), { nil: null }) }),
      scannedAt: fc.string(),
      verdict,
    });
    fc.assert(
      fc.property(body, fc.array(patch, { minLength: 1, maxLength: 3 }), (b, patches) => {
        const text = JSON.stringify(b);
        // patches replace each other: only the last is stored, and reads as every one applied in turn
        let whole = JSON.parse(text) as ScanReport;
        for (const p of patches) whole = JSON.parse(JSON.stringify(wholeOf(whole, { digest: 'sha256:x' as Digest, ...p } as unknown as ReportPatch))) as ScanReport;
        const last = { digest: 'sha256:x' as Digest, ...patches[patches.length - 1] } as unknown as ReportPatch;
        expect(JSON.stringify(reportOf(text, patchText(last)))).to.equal(JSON.stringify(whole));
        expect(JSON.stringify(reportOf(text, null))).to.equal(text);
      }),
      { numRuns: 300 },
    );
  });

  for (const kind of ['sqlite', 'postgres'] as const) {
    it(`property (${kind}): after database and full passes, every report reads byte for byte as when written whole`, async () => {
      const NAMES = ['pa', 'pb', 'pc', 'pd'];
      const VERSIONS = ['1.0.0', '1.1.0', '1.2.0'];
      const adv = fc.record({ name: fc.constantFrom(...NAMES), introduced: fc.nat(VERSIONS.length - 1), fixed: fc.option(fc.nat(VERSIONS.length - 1), { nil: undefined }), high: fc.boolean() });
      type Adv = { name: string; introduced: number; fixed?: number; high: boolean };
      const record = (id: string, a: Adv) => ({
        schema_version: '1.6.0', id, modified: '2024-01-01T00:00:00Z', aliases: [`CVE-2024-${id.length}${id.charCodeAt(id.length - 1)}`],
        affected: [{ package: { ecosystem: 'npm', name: a.name }, ranges: [{ type: 'SEMVER', events: [{ introduced: a.introduced ? VERSIONS[a.introduced] : '0' }, ...(a.fixed !== undefined && a.fixed > a.introduced ? [{ fixed: VERSIONS[a.fixed] }] : [])] }] }],
        ...(a.high ? { severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }] } : {}),
      });
      // npm stays covered across every swap (a patch needs it), on a package no image holds
      const anchor = record('GEN-ANCHOR', { name: 'anchor-pkg', introduced: 0, high: false });
      const image = fc.array(fc.record({ name: fc.constantFrom(...NAMES), version: fc.nat(VERSIONS.length - 1), at: fc.nat(1) }), { minLength: 1, maxLength: 4 });
      const step = fc.record({ advs: fc.array(adv, { maxLength: 5 }), full: fc.boolean() });
      const seen = { patched: 0, passes: 0 };
      await fc.assert(
        fc.asyncProperty(fc.array(adv, { maxLength: 5 }), fc.array(step, { minLength: 2, maxLength: 4 }), fc.array(image, { minLength: 1, maxLength: 5 }), async (first, steps, images) => {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-report-patch-'));
          const pgs = kind === 'postgres' ? [await freshDatabase('pushgate_report_patch'), await freshDatabase('pushgate_report_whole')] : [];
          const stores: Store[] = [];
          let db: VulnDb | undefined;
          try {
            for (const [i, name] of ['patched', 'whole'].entries()) stores.push(await openStore(kind === 'postgres' ? pgs[i].url : `sqlite:${path.join(dir, `${name}.db`)}`));
            const [patched, whole] = stores;
            const policy = defaultPolicy();
            const dbPath = path.join(dir, 'vulndb.sqlite');
            db = await buildDb(dbPath, [anchor, ...first.map((a, i) => record(`GEN-0-${i}`, a))]);
            const digests = images.map((_, i) => digestOf(i + 1));
            for (const [i, im] of images.entries()) {
              const pkgs: Package[] = im.map((p) => npmPackage(p.name, VERSIONS[p.version], `/app${p.at}/node_modules/${p.name}/package.json`));
              await storeImage(patched, { repository: `team/r${i % 2}`, tag: 'v1', scan: scanOf(digests[i], pkgs), db, policy });
              await whole.putReport(digests[i], (await patched.getReport(digests[i]))!);
            }
            // The monitor's store: the real one, whose batches are also mirrored into `whole` as reports
            // written whole, the way the monitor wrote them before patches.
            const mirror = async (b: RejudgementBatch) => {
              for (const r of b.rejudged) {
                if (r.report) await whole.putReport(r.report.digest, r.report.body as ScanReport);
                else if (r.reportPatch) await whole.putReport(r.reportPatch.digest, wholeOf((await whole.getReport(r.reportPatch.digest))!, r.reportPatch));
              }
            };
            const monitorStore = new Proxy(patched.monitor, {
              get(t, k) {
                if (k === 'commitBatch') {
                  return async (b: RejudgementBatch, now: number) => {
                    const ok = await t.commitBatch(b, now);
                    if (ok) await mirror(b);
                    return ok;
                  };
                }
                const v = Reflect.get(t, k, t) as unknown;
                return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
              },
            });
            const store = new Proxy(patched, {
              get(t, k) {
                if (k === 'monitor') return monitorStore;
                const v = Reflect.get(t, k, t) as unknown;
                return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
              },
            });
            const mon = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy });
            await mon.tick();
            for (const [n, s] of steps.entries()) {
              db.close();
              db = await buildDb(dbPath, [anchor, ...s.advs.map((a, i) => record(`GEN-${n % 2}-${i}`, a))]);
              const pass = await mon.tick();
              seen.patched += pass?.patched ?? 0;
              if (s.full) await mon.all();
              seen.passes++;
              for (const d of digests) {
                const [a, b] = await Promise.all([patched.getReport(d), whole.getReport(d)]);
                expect(JSON.stringify(a), `report of ${d} after step ${n}`).to.equal(JSON.stringify(b));
              }
            }
          } finally {
            db?.close();
            for (const s of stores) await s.close();
            for (const p of pgs) await p.drop();
            fs.rmSync(dir, { recursive: true, force: true });
          }
        }),
        { numRuns: kind === 'postgres' ? 8 : 25 },
      );
      // the patched path was taken (else the property says nothing about patches)
      expect(seen.patched, 'images patched over the runs').to.be.greaterThan(kind === 'postgres' ? 2 : 10);
    });
  }
});
