/**
 * A Go binary whose Go build-ID note was removed (`objcopy --remove-section .note.go.buildid`, or its
 * bytes overwritten) still runs, and `go version -m` still reads its build info (debug/buildinfo does
 * not look at the note). The scanner took the note as the sign of a Go binary and read nothing more
 * from an ELF file without it: every module the binary links was gone from the inventory, complete.
 * The real Go binary of test/fixtures/scan/go (built with Debian's go 1.19) is stripped here with the
 * real objcopy and run; the packages must be what `go version -m` printed for it.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { goBinaryAnalyzer } from '../../../src/scan/analyzers/go-binary.js';
import { LayerWalker } from '../../../src/scan/walker.js';
import { SpillBudget } from '../../../src/scan/spill.js';

const FIX = path.resolve('test/fixtures/scan/go');

/** `name@version` of what `go version -m` printed for the fixture (main module, deps with replacements, stdlib). */
function goVersionM(): string[] {
  const lines = fs.readFileSync(path.join(FIX, 'app.go-version-m.txt'), 'utf8').split('\n');
  const out: string[] = [];
  for (const l of lines.slice(1)) {
    const f = l.trim().split('\t');
    if (f[0] === 'mod' || f[0] === 'dep') out.push(`${f[1]}@${f[2]}`);
    if (f[0] === '=>' && !f[1]!.startsWith('.') && !f[1]!.startsWith('/')) out[out.length - 1] = `${f[1]}@${f[2]}`;
  }
  out.push(`stdlib@${lines[0]!.split(': ')[1]!.trim().replace(/^go/, '')}`);
  return out;
}

describe('Go binaries without the Go build-ID note', function () {
  this.timeout(60_000);
  let tmp: string;
  let stripped: Buffer;
  let app: Buffer;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-go-note-'));
    app = zlib.gunzipSync(fs.readFileSync(path.join(FIX, 'app.gz')));
    fs.writeFileSync(path.join(tmp, 'app'), app, { mode: 0o755 });
    execFileSync('objcopy', ['--remove-section', '.note.go.buildid', 'app', 'app-stripped'], { cwd: tmp });
    stripped = fs.readFileSync(path.join(tmp, 'app-stripped'));
    expect(stripped.indexOf(Buffer.from('Go\0\0', 'latin1'))).to.equal(-1);
    // it still runs
    expect(execFileSync(path.join(tmp, 'app-stripped'), { encoding: 'utf8' })).to.equal('hello\n');
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** The packages the analyzer reports for `content` cut into chunks at `cuts`, and what it spilled. */
  async function walk(content: Buffer, cuts: number[]): Promise<{ got: string[]; spilled: number; incomplete: number }> {
    const budget = new SpillBudget(fs.mkdtempSync(path.join(tmp, 'w-')), 64 * 1024 ** 2);
    let spilled = 0;
    const take = budget.take.bind(budget);
    budget.take = (n: number) => { spilled += n; return take(n); };
    const w = new LayerWalker([goBinaryAnalyzer], { version: 't', tmpDir: budget.dir, spill: budget });
    const at = [...new Set([0, ...cuts.filter((c) => c > 0 && c < content.length), content.length])].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    for (let i = 1; i < at.length; i++) chunks.push(content.subarray(at[i - 1], at[i]));
    await w.entry({ name: 'srv/run', type: 'file', size: content.length, mode: 0o644 }, new Readable({ read() { this.push(chunks.shift() ?? null); } }));
    const r = w.result();
    return {
      got: r.results.flatMap((x) => x.out.packages ?? []).map((p) => `${p.name}@${p.version}`),
      spilled,
      incomplete: r.results.flatMap((x) => x.out.diagnostics ?? []).filter((d) => d.incomplete).length + r.diagnostics.filter((d) => d.incomplete).length,
    };
  }

  it('note removed by objcopy or overwritten in place, any chunking: the modules go version -m reads, nothing spilled (fast-check, real objcopy)', async () => {
    const want = goVersionM();
    // the note overwritten in place: same layout, owner "Go" gone
    const note = app.indexOf(Buffer.from('Go\0\0', 'latin1'));
    expect(note).to.be.greaterThan(12);
    const zeroed = Buffer.from(app);
    zeroed.fill(0, note - 12, note + 4);
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('objcopy', 'zeroed'),
      fc.array(fc.integer({ min: 1, max: app.length - 1 }), { maxLength: 6 }),
      async (how, cuts) => {
        const r = await walk(how === 'objcopy' ? stripped : zeroed, cuts);
        expect(r.got).to.deep.equal(want);
        expect(r.spilled, 'a file without the note is never copied').to.equal(0);
        expect(r.incomplete).to.equal(0);
      },
    ), { numRuns: 25 });
  });
});
