/**
 * The progress of a vulnerability-database build (src/cli/download-progress.ts): on a terminal the bar
 * is redrawn when what it shows changes visibly (source, filled part, percentage, the last item) or after
 * a while, not once per file read; in a log, one line per source and per 10%.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { PassThrough } from 'node:stream';
import { downloadProgress } from '../../../src/cli/download-progress.js';

/** A writable that counts and records what is written, claiming to be a terminal or not. */
function stream(isTTY: boolean): NodeJS.WriteStream & { writes: string[] } {
  const s = new PassThrough() as unknown as NodeJS.WriteStream & { writes: string[] };
  const writes: string[] = [];
  const write = s.write.bind(s);
  Object.assign(s, { isTTY, columns: 100, rows: 30, writes, write: (c: string) => { writes.push(c); return write(c); } });
  return s;
}

describe('cli: db update progress', () => {
  it('on a terminal, 20,000 files of one folder read in an instant draw the bar about once per percent, and its last state', () => {
    const s = stream(true);
    const bar = downloadProgress(s, () => 1000);
    for (let i = 1; i <= 20_000; i++) bar.tick({ source: '/data/osv', done: i, total: 20_000 });
    bar.end();
    expect(s.writes.length).to.be.within(100, 103);
    expect(s.writes.at(-2)).to.equal(`\r/data/osv [${'#'.repeat(30)}] 20000/20000`);
    expect(s.writes.at(-1)).to.equal('\n');
  });

  it('on a terminal, the count is redrawn at least every 100 ms while the bar stands still, and each new source at once', () => {
    const s = stream(true);
    let t = 0;
    const bar = downloadProgress(s, () => t);
    for (let i = 1; i <= 50; i++) {
      t += 60;
      bar.tick({ source: 'nvd:https://nvd.example/api', done: i });
    }
    // no total: the bar shows only the count, redrawn on the clock (the first tick, then every other one)
    expect(s.writes.length).to.equal(25);
    expect(s.writes.at(-1)).to.equal(`\rnvd:https://nvd.example/api [${'.'.repeat(30)}] 49`);
    bar.tick({ source: 'kev:/data/kev.json', done: 1, total: 1 });
    expect(s.writes.at(-1)).to.equal(`\rkev:/data/kev.json [${'#'.repeat(30)}] 1/1`);
  });

  it('a source\'s last item is always drawn, a new source at once, and never more than one drawing per tick (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c\u001b[2J'), fc.nat(50), fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }), fc.nat(150)), { minLength: 1, maxLength: 60 }), (ticks) => {
        const s = stream(true);
        let t = 0;
        const bar = downloadProgress(s, () => t);
        for (const [source, done, total, dt] of ticks) {
          t += dt;
          bar.tick({ source, done: total === undefined ? done : Math.min(done, total), total });
        }
        expect(s.writes.length).to.be.within(1, ticks.length);
        // the source is made terminal-safe: no escape sequence reaches the terminal
        expect(s.writes.join('')).to.not.include('\u001b');
        const [source, done, total] = ticks[ticks.length - 1];
        const last = total === undefined ? done : Math.min(done, total);
        if (total !== undefined && last === total) expect(s.writes.at(-1)).to.match(new RegExp(`\\] ${last}/${total}$`));
        if (ticks.length === 1 || ticks[ticks.length - 2][0] !== source) expect(s.writes.at(-1)).to.match(new RegExp(`\\] ${last}(/${total})?$`));
      }),
      { numRuns: 200 },
    );
  });

  it('in a log, one line per source and per 10% (unchanged)', () => {
    const s = stream(false);
    const bar = downloadProgress(s, () => 0);
    for (let i = 1; i <= 1000; i++) bar.tick({ source: '/data/osv', done: i, total: 1000 });
    expect(s.writes[0]).to.equal('reading /data/osv\n');
    expect(s.writes.length).to.equal(12);
    expect(s.writes.at(-1)).to.equal('/data/osv: 1000/1000 files (100%)\n');
  });
});
