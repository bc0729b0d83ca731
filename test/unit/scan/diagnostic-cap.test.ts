/**
 * Per-entry diagnostics are bounded: a layer of hundreds of thousands of entries that each earn one
 * (names escaping the root, entries behind a lower symlink, 4 KB names) must not hold gigabytes in the
 * scan or the stored report, and must lose nothing a policy decides on: every code still appears,
 * counts add up, and a left-out diagnostic that made the scan incomplete keeps it incomplete.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Diagnostic } from '../../../src/core/inventory.js';
import { dpkgAnalyzer } from '../../../src/scan/analyzers/dpkg.js';
import { npmAnalyzer } from '../../../src/scan/analyzers/npm.js';
import { capDiagnostics, DIAGNOSTICS_PER_CODE } from '../../../src/scan/diagnostic-cap.js';
import { buildInventory, stackLayers } from '../../../src/scan/merge.js';
import { LayerWalker, type LayerAnalysis, type WalkEntry } from '../../../src/scan/walker.js';

const ANALYZERS = [dpkgAnalyzer, npmAnalyzer];
const weight = (ds: Diagnostic[], code: string) => ds.filter((d) => d.code === code).reduce((n, d) => n + (d.more ?? 1), 0);

async function walk(entries: Array<Omit<WalkEntry, 'size' | 'mode'> & { content?: string }>): Promise<LayerAnalysis> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-diagcap-'));
  try {
    const w = new LayerWalker(ANALYZERS, { version: 't', tmpDir: tmp });
    for (const e of entries) await w.entry({ ...e, size: e.content?.length ?? 0, mode: 0o644 }, e.content === undefined ? null : Readable.from([Buffer.from(e.content)]));
    return JSON.parse(JSON.stringify(w.result())) as LayerAnalysis;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

describe('scan: diagnostics are capped per code, nothing a policy reads is lost', () => {
  it('property: the first `limit` of a code are kept in order, the rest counted in one summary, incompleteness kept', () => {
    const code = fc.constantFrom('entry-through-link', 'path-traversal', 'parse-error', 'package-db-link');
    const diag = fc.record({
      code,
      message: fc.string({ maxLength: 8 }),
      incomplete: fc.option(fc.boolean(), { nil: undefined }),
      // an earlier cap's summary (a layer's), to be merged into the image's
      more: fc.option(fc.integer({ min: 1, max: 1000 }), { freq: 5, nil: undefined }),
    }).map((d) => Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)) as unknown as Diagnostic);
    // Up to 60 diagnostics (`size: 'max'`): fast-check's default size stops at 10, about 2.5 per code,
    // so a limit of 3 or more was seldom passed.
    fc.assert(fc.property(fc.array(diag, { maxLength: 60, size: 'max' }), fc.integer({ min: 1, max: 6 }), (input, limit) => {
      const out = capDiagnostics(input, limit);
      for (const c of new Set(input.map((d) => d.code))) {
        const of = out.filter((d) => d.code === c);
        const plain = input.filter((d) => d.code === c && d.more === undefined);
        expect(weight(out, c), `${c}: every diagnostic counted`).to.equal(weight(input, c));
        expect(of.filter((d) => d.more === undefined), `${c}: the first ${limit} kept as they were`).to.deep.equal(plain.slice(0, limit));
        expect(of.filter((d) => d.more !== undefined).length, `${c}: one summary at most`).to.be.at.most(1);
        expect(of.length).to.be.at.most(limit + 1);
        if (input.some((d) => d.code === c && d.incomplete)) expect(of.some((d) => d.incomplete), `${c}: still incomplete`).to.equal(true);
        if (!input.some((d) => d.code === c && d.incomplete)) expect(of.some((d) => d.incomplete), `${c}: not made incomplete`).to.equal(false);
      }
      expect(new Set(out.map((d) => d.code))).to.deep.equal(new Set(input.map((d) => d.code)));
    }), { numRuns: 300 });
  });

  it('a layer of 5,000 names escaping the root keeps 100 path-traversal diagnostics and one summary of 4,900', async () => {
    const long = 'x'.repeat(200);
    const a = await walk(Array.from({ length: 5000 }, (_, i) => ({ name: `../../${long}/${i}`, type: 'file' as const, content: '' })));
    const pt = a.diagnostics.filter((d) => d.code === 'path-traversal');
    expect(pt).to.have.length(DIAGNOSTICS_PER_CODE + 1);
    expect(pt[0].path, 'the first ones kept with their detail').to.be.a('string');
    const summary = pt.find((d) => d.more !== undefined)!;
    expect(summary.more).to.equal(5000 - DIAGNOSTICS_PER_CODE);
    expect(summary.incomplete, 'as incomplete as the ones it stands for').to.equal(pt[0].incomplete);
    expect(summary.message).to.match(/^4900 more path-traversal diagnostics not listed/);
  });

  it('5,000 entries written beneath a lower layer\'s symlink: the merged image keeps 100 entry-through-link diagnostics, one summary, and stays incomplete', async () => {
    const lower = await walk([{ name: 'x', type: 'symlink', linkname: 'var/lib/dpkg' }, { name: 'var/lib/dpkg', type: 'directory' }]);
    const upper = await walk(Array.from({ length: 5000 }, (_, i) => ({ name: `x/f${i}`, type: 'file' as const, content: '' })));
    const s = stackLayers([{ analysis: lower }, { analysis: upper }], ANALYZERS);
    const etl = s.diagnostics.filter((d) => d.code === 'entry-through-link');
    expect(etl).to.have.length(DIAGNOSTICS_PER_CODE + 1);
    expect(weight(etl, 'entry-through-link')).to.equal(5000);
    expect(etl.every((d) => d.incomplete)).to.equal(true);
    // and the inventory built from it (layers' lists and analyzers' own, capped again for the image)
    const inv = buildInventory(s.placed, [...s.diagnostics, ...s.diagnostics]);
    const again = inv.diagnostics.filter((d) => d.code === 'entry-through-link');
    expect(again).to.have.length(DIAGNOSTICS_PER_CODE + 1);
    expect(weight(again, 'entry-through-link')).to.equal(10000);
    expect(again.find((d) => d.more !== undefined)?.incomplete).to.equal(true);
  });
});
