/**
 * walkDir (src/vulndb/sources.ts) spells each path as the folder's join prefix plus the entry name instead of
 * calling `path.join` per file; the paths are stored (records.source), so they must be exactly the joins.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { joinPrefix, walkDir } from '../../../src/vulndb/sources.js';

/** Folder spellings: relative and absolute, `.` and `..` segments, doubled and trailing separators. */
const dir = fc
  .tuple(fc.constantFrom('', '/', './', '../', '//'), fc.array(fc.constantFrom('a', 'bb', '.', '..', '', '...', 'c d', '.x'), { maxLength: 5 }), fc.constantFrom('', '/', '//'))
  .map(([head, segs, tail]) => `${head}${segs.join('/')}${tail}`);
/** Names a directory listing can hold: not empty, not `.` or `..`, no `/` or NUL. */
const name = fc.string({ minLength: 1, maxLength: 8 }).filter((n) => n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\0'));

describe('vulndb walkDir paths', () => {
  it('joinPrefix(dir) + name is path.join(dir, name) for every name a listing can hold', () => {
    fc.assert(fc.property(dir, name, (d, n) => {
      expect(joinPrefix(d) + n, `${JSON.stringify(d)} + ${JSON.stringify(n)}`).to.equal(path.join(d, n));
    }), { numRuns: 20000 });
  });

  it('yields every file as path.join of its folder and name, sorted, through subfolders', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-walk-'));
    try {
      for (const f of ['b.json', 'a.json', 'sub/z.json', 'sub/deeper/y.md', '..x.json']) {
        fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
        fs.writeFileSync(path.join(root, f), '{}');
      }
      for (const spelling of [root, `${root}/`, `${root}//sub/..`, path.relative(process.cwd(), root) || '.']) {
        const want = ['..x.json', 'a.json', 'b.json', 'sub/deeper/y.md', 'sub/z.json'].map((f) => path.join(spelling, ...f.split('/')));
        expect([...walkDir(spelling)], spelling).to.deep.equal(want);
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
