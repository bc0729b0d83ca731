/**
 * eachZipEntry (src/scan/analyzers/zip.ts), the walk lang/npm-zip and lang/python-egg share: whatever the
 * callback does (returns, rejects, throws without being async) and wherever the entry limit falls, the walk
 * settles, the zip is closed, no callback runs past the limit, and what was not read is an incomplete diagnostic.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Diagnostic } from '../../../src/core/index.js';
import { eachZipEntry, openZip } from '../../../src/scan/analyzers/zip.js';
import { storedZip } from './layout-helper.js';

describe('scan: the zip entry walk (eachZipEntry)', () => {
  it('property: any callback failure mode and entry limit settles with the right diagnostics and closes the zip (fast-check)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-zipwalk-'));
    try {
      await fc.assert(fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 8 }),
        fc.option(fc.record({ at: fc.integer({ min: 1, max: 6 }), how: fc.constantFrom('sync-throw', 'async-throw', 'reject-later') }), { nil: undefined }),
        async (count, max, fail) => {
          const file = path.join(dir, `z${count}.zip`);
          fs.writeFileSync(file, storedZip(Object.fromEntries(Array.from({ length: count }, (_, i) => [`f${i}`, String(i)]))));
          const zip = await openZip(file);
          let closed = 0;
          const close = zip.close.bind(zip);
          zip.close = () => { closed++; close(); };
          const diagnostics: Diagnostic[] = [];
          let calls = 0;
          const walk = eachZipEntry(zip, { analyzer: 't', display: '/z', maxEntries: max, diagnostics }, (): void | Promise<void> => {
            calls++;
            if (!fail || calls !== fail.at) return undefined;
            if (fail.how === 'sync-throw') throw new Error('bad entry');
            if (fail.how === 'async-throw') return Promise.reject(new Error('bad entry'));
            return new Promise((_, reject) => setTimeout(() => reject(new Error('bad entry')), 2));
          });
          const settled = await Promise.race([walk.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 2000))]);
          expect(settled, 'the walk settles').to.equal(true);
          await new Promise((r) => setTimeout(r, 5));
          const read = Math.min(count, max);
          const failed = fail !== undefined && fail.at <= read;
          expect(calls).to.equal(failed ? fail.at : read);
          expect(closed).to.equal(1);
          const want: string[] = [];
          if (failed) want.push('parse-error');
          else if (count > max) want.push('archive-limit');
          expect(diagnostics.map((d) => d.code)).to.deep.equal(want);
          expect(diagnostics.every((d) => d.incomplete && d.path === '/z')).to.equal(true);
        },
      ), { numRuns: 60 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
