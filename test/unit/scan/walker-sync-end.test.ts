/**
 * The end of a file that no built-in analyzer reads asynchronously is synchronous: the walker's
 * `EntrySink.end` returns nothing (walker-end.test.ts: it does exactly when every analyzer answered at
 * once), so the tar reader goes on within its chunk instead of stopping and resuming on a later tick
 * for that file. lang/java-content sees every file of at least 22 bytes and answered each with a
 * promise (an async `end`), which made every such file of an image cost a stop and a resume; it now
 * answers at once unless the file is a zip it spilled, which it still reads (java-content.test.ts).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ANALYZERS } from '../../../src/scan/analyzers/index.js';
import { javaContentAnalyzer } from '../../../src/scan/analyzers/java.js';
import { SpillBudget } from '../../../src/scan/spill.js';
import { LayerWalker } from '../../../src/scan/walker.js';

/** The first four bytes of a zip local file header (what lang/java-content spills). */
const ZIP_LOCAL = [0x50, 0x4b, 0x03, 0x04];

/** Bytes that are no zip: at least 22 (lang/java-content's smallest), not starting with a zip local header. */
const notZip = fc.uint8Array({ minLength: 22, maxLength: 3000 }).filter((b) => !ZIP_LOCAL.every((x, i) => b[i] === x));

/** Splits `b` at the given cut points (chunk boundaries of the tar stream). */
function chunks(b: Uint8Array, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...at, b.length]) {
    if (c > from) out.push(Buffer.from(b.subarray(from, c)));
    from = Math.max(from, c);
  }
  return out;
}

describe('scan: a file that is no zip ends synchronously', () => {
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-sync-end-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('property: lang/java-content answers at once, with nothing, for any content that is no zip, in any chunks', () => {
    const ctx = { spill: new SpillBudget(tmp, 1 << 20), tmpDir: tmp };
    fc.assert(fc.property(notZip, fc.array(fc.nat(4000), { maxLength: 4 }), fc.constantFrom('/srv/app.bin', '/usr/bin/tool', '/data/x'), (content, cuts, p) => {
      const sink = javaContentAnalyzer.stream!({ path: p, size: content.length, mode: 0o755 }, ctx);
      expect(sink, 'a sink for every file of 22 bytes or more').to.not.equal(undefined);
      if (!sink) return;
      for (const c of chunks(content, cuts)) sink.write(c);
      const r = sink.end();
      expect(r, 'no promise').to.equal(undefined);
    }), { numRuns: 300 });
  });

  it('property: with every built-in analyzer, the walker\'s end of a plain data or text file returns nothing (no stop of the tar reader)', () => {
    fc.assert(fc.property(notZip, fc.constantFrom('/srv/data/blob.bin', '/opt/app/readme', '/usr/share/doc/x/copyright', '/srv/app.bin'), (content, p) => {
      const w = new LayerWalker(ANALYZERS, { version: 't', tmpDir: tmp });
      const sink = w.open({ name: p.slice(1), type: 'file', size: content.length, mode: 0o644 });
      if (!sink) return;
      sink.write(Buffer.from(content));
      expect(sink.end(), 'no promise').to.equal(undefined);
    }), { numRuns: 200 });
  });
});
