/**
 * The end of a file's content in the layer walker (LayerWalker.open → EntrySink.end): the analyzers
 * that wanted the file run one after another, in the list's order, whether each answers at once or
 * with a promise, throws or rejects; `end` returns nothing when every one answered at once (the tar
 * reader then goes on within its chunk) and a promise otherwise, settled only after the last one.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Analyzer, AnalyzerOutput } from '../../../src/scan/analyzers/types.js';
import { LayerWalker } from '../../../src/scan/walker.js';

/** How one fake analyzer answers: at once or by a promise; with a finding, nothing, or an error. */
interface Behaviour { async: boolean; outcome: 'found' | 'none' | 'error'; how: 'buffer' | 'stream' }

const behaviourArb: fc.Arbitrary<Behaviour> = fc.record({
  async: fc.boolean(),
  outcome: fc.constantFrom('found', 'none', 'error'),
  how: fc.constantFrom('buffer', 'stream'),
});

/** An analyzer wanting every file, answering as `b` says; `log` records the order of its runs and settlings. */
function fake(i: number, b: Behaviour, log: string[]): Analyzer {
  const answer = (path: string): AnalyzerOutput | undefined | Promise<AnalyzerOutput | undefined> => {
    log.push(`start ${i} ${path}`);
    const settle = (): AnalyzerOutput | undefined => {
      log.push(`done ${i} ${path}`);
      if (b.outcome === 'error') throw new Error(`broken ${i}`);
      return b.outcome === 'found' ? { packages: [{ ecosystem: 'npm', name: `p${i}`, version: '1.0.0', path, purl: `pkg:npm/p${i}@1.0.0` }] } : undefined;
    };
    return b.async ? new Promise((resolve) => setImmediate(resolve)).then(settle) : settle();
  };
  const base = { name: `t/${i}`, version: 1, maxSize: 1 << 20, wants: () => true };
  return b.how === 'buffer'
    ? { ...base, analyze: (input) => answer(input.path) }
    : { ...base, stream: (e) => ({ write: () => undefined, end: () => answer(e.path) }) };
}

describe('scan: the walker\'s end of a file', () => {
  it('property: analyzers run one after another in list order, findings and parse errors kept as each answered; end is synchronous exactly when every answer was', async () => {
    await fc.assert(fc.asyncProperty(fc.array(behaviourArb, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 3 }), async (bs, files) => {
      const log: string[] = [];
      const analyzers = bs.map((b, i) => fake(i, b, log));
      const w = new LayerWalker(analyzers, { version: 't', tmpDir: '/nonexistent-unused' });
      for (let f = 0; f < files; f++) {
        const sink = w.open({ name: `app/f${f}`, type: 'file', size: 3, mode: 0o644 });
        expect(sink).to.not.equal(undefined);
        sink!.write(Buffer.from('abc'));
        const r = sink!.end();
        const anyAsync = bs.some((b) => b.async);
        expect(r === undefined, 'end returns nothing exactly when every analyzer answered at once').to.equal(!anyAsync);
        await r;
      }
      // Buffered analyzers run before streamed ones (each group in list order), one at a time.
      const order = [...bs.keys()].filter((i) => bs[i]!.how === 'buffer').concat([...bs.keys()].filter((i) => bs[i]!.how === 'stream'));
      const expected: string[] = [];
      for (let f = 0; f < files; f++) for (const i of order) expected.push(`start ${i} /app/f${f}`, `done ${i} /app/f${f}`);
      expect(log).to.deep.equal(expected);
      const r = w.result();
      const found = order.filter((i) => bs[i]!.outcome === 'found');
      const broken = order.filter((i) => bs[i]!.outcome === 'error');
      expect(r.results.map((x) => `${x.path} ${x.analyzer}`)).to.deep.equal([...Array(files).keys()].flatMap((f) => found.map((i) => `/app/f${f} t/${i}`)));
      expect(r.diagnostics.filter((d) => d.code === 'parse-error').map((d) => `${d.path} ${d.message}`)).to.deep.equal(
        [...Array(files).keys()].flatMap((f) => broken.map((i) => `/app/f${f} t/${i}: broken ${i}`)),
      );
      expect(r.diagnostics.every((d) => d.code === 'parse-error' && d.incomplete)).to.equal(true);
    }), { numRuns: 150 });
  });
});
