/**
 * The walker's shortcut for an entry at a path the layer has not named or implied yet
 * (LayerWalker.open, `fastPath`) against its general bookkeeping (`fastPath: false`): generated
 * sequences of tar entries over few names (so that paths share directories, collide, replace each
 * other and reach beneath links), in every spelling a tar holds (`./a`, `/a`, `a/`, `a//b`, `a/./b`,
 * `a/x/../b`), of every type, with whiteouts, opaque markers, hard and symbolic links and small
 * budgets (so that the budget refuses an entry on either path), give the same analysis: changeset,
 * links, whiteouts, opaque and late-opaque directories, replaced and transient entries, results and
 * diagnostics. Sequences of up to 80 entries (`size: 'max'`): fast-check's default size stops arrays
 * at 10, too few to write a directory, fill it and replace it.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Analyzer } from '../../../src/scan/analyzers/types.js';
import { LayerWalker, type WalkEntry } from '../../../src/scan/walker.js';

/** Reads every file it is given: each file's result names its path and content. */
const everyFile: Analyzer = {
  name: 'test/every-file', version: 1, maxSize: 1024,
  wants: () => true,
  analyze: (i) => ({ packages: [{ ecosystem: 'npm', name: i.path, version: i.content.toString('utf8') || '-', path: i.path, purl: 'pkg:generic/x' }] }),
};

/** Reads the files beneath /a only. */
const onlyA: Analyzer = { ...everyFile, name: 'test/only-a', wants: (i) => i.path.startsWith('/a/') };

const segment = fc.constantFrom('a', 'b', 'c', '.wh.a', '.wh.b', '.wh..wh..opq', '.wh.', '..', '.');
/** A tar name: 1 to 4 segments, spelled as tar writers and hostile layers spell them. */
const name = fc.tuple(fc.array(segment, { minLength: 1, maxLength: 4 }), fc.constantFrom('', './', '/'), fc.constantFrom('', '/'), fc.boolean())
  .map(([segs, lead, trail, doubled]) => `${lead}${segs.join(doubled ? '//' : '/')}${trail}`);
const entry: fc.Arbitrary<WalkEntry & { content: string }> = fc.record({
  name,
  type: fc.constantFrom<WalkEntry['type']>('file', 'file', 'file', 'directory', 'directory', 'symlink', 'link', 'other'),
  size: fc.constantFrom(0, 1, 2),
  mode: fc.constantFrom(0o644, 0o755),
  linkname: fc.option(name, { nil: undefined }),
  content: fc.constantFrom('', 'x', 'yy'),
});

/** The analysis of `entries` by a walker with or without the shortcut. */
async function walk(entries: Array<WalkEntry & { content: string }>, fastPath: boolean, analyzers: readonly Analyzer[], budget?: { paths: number; chars: number }) {
  const w = new LayerWalker(analyzers, { version: 'test', tmpDir: '/nonexistent', budget, fastPath });
  for (const { content, ...e } of entries) {
    const sink = w.open(e);
    if (!sink) continue;
    if (content) sink.write(Buffer.from(content));
    await sink.end();
  }
  return w.result();
}

describe('scan walker: the shortcut for an entry at a new path', () => {
  it('property: gives the analysis of the general bookkeeping, entry for entry, under any budget', async () => {
    let shortcuts = 0;
    await fc.assert(fc.asyncProperty(
      fc.array(entry, { maxLength: 80, size: 'max' }),
      fc.constantFrom([everyFile], [onlyA], []),
      fc.option(fc.record({ paths: fc.integer({ min: 0, max: 40 }), chars: fc.integer({ min: 0, max: 400 }) }), { nil: undefined }),
      async (entries, analyzers, budget) => {
        const fast = await walk(entries, true, analyzers, budget);
        const general = await walk(entries, false, analyzers, budget);
        expect(fast).to.deep.equal(general);
        if (fast.paths.length) shortcuts++;
      },
    ), { numRuns: 3000 });
    // Not vacuous: most sequences write paths (each first write of a path at the root or in a known
    // directory takes the shortcut).
    expect(shortcuts).to.be.at.least(1000);
  });

  it('a file in a directory the layer wrote, a file at the root, and a directory in a new directory', async () => {
    const entries = [
      { name: './a/', type: 'directory' as const, size: 0, mode: 0o755, content: '' },
      { name: './a/x', type: 'file' as const, size: 1, mode: 0o644, content: 'x' },
      { name: 'y', type: 'file' as const, size: 1, mode: 0o644, content: 'y' },
      { name: 'b/c/', type: 'directory' as const, size: 0, mode: 0o755, content: '' },
      { name: 'b/c/z', type: 'symlink' as const, size: 0, mode: 0o777, linkname: '../../a/x', content: '' },
    ];
    const fast = await walk(entries, true, [everyFile]);
    expect(fast).to.deep.equal(await walk(entries, false, [everyFile]));
    expect(fast.paths).to.deep.equal(['/a', '/a/x', '/y', '/b/c', '/b/c/z']);
    expect(fast.links).to.deep.equal({ '/b/c/z': '../../a/x' });
  });
});
