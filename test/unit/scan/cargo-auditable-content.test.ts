/**
 * A cargo-auditable binary outside the folders whose executables were copied and read through their
 * section table: in a distribution directory (`/usr/bin/app`) or without an executable bit (a start-up
 * script can copy or `chmod` it). The real rustc-built binary of test/fixtures/scan/cargo-auditable, which
 * embeds smallvec 1.6.0 and time 0.1.43, was reported with no crate and the scan complete at
 * `/usr/bin/hello` or as `/app/hello` mode 0644. Such files are now read by content as they pass: every
 * zlib stream holding a crate list is read, so the `.dep-v0` section is among them wherever it sits.
 * Oracle: the section as the real binutils `objcopy --dump-section .dep-v0=…` extracts it (what
 * rust-audit-info and `cargo audit bin` read), over directories, modes, chunkings and decoy lists.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { auditablePackages, cargoAuditableAnalyzer, mayStartJson, parseDepV0 } from '../../../src/scan/analyzers/cargo-auditable.js';
import { LayerWalker } from '../../../src/scan/walker.js';
import { SpillBudget } from '../../../src/scan/spill.js';

const FIX = path.resolve('test/fixtures/scan/cargo-auditable');

describe('cargo-auditable binaries read by content (distribution directories, no executable bit)', function () {
  this.timeout(120_000);
  let tmp: string;
  let hello: Buffer;
  let noDep: Buffer;
  let want: string[];
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cargo-content-'));
    hello = zlib.gunzipSync(fs.readFileSync(path.join(FIX, 'hello.gz')));
    noDep = zlib.gunzipSync(fs.readFileSync(path.join(FIX, 'hello-no-dep.gz')));
    fs.writeFileSync(path.join(tmp, 'hello'), hello);
    execFileSync('objcopy', ['--dump-section', `.dep-v0=${path.join(tmp, 'dep-v0')}`, path.join(tmp, 'hello'), path.join(tmp, 'hello.out')]);
    want = auditablePackages(parseDepV0(fs.readFileSync(path.join(tmp, 'dep-v0'))), '/x').map((p) => `${p.name}@${p.version}`);
    expect(want).to.include.members(['smallvec@1.6.0', 'time@0.1.43']);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function walk(name: string, mode: number, content: Buffer, cuts: number[]): Promise<{ got: string[]; spilled: number; incomplete: number }> {
    const budget = new SpillBudget(fs.mkdtempSync(path.join(tmp, 'w-')), 64 * 1024 ** 2);
    let spilled = 0;
    const take = budget.take.bind(budget);
    budget.take = (n: number) => { spilled += n; return take(n); };
    const w = new LayerWalker([cargoAuditableAnalyzer], { version: 't', tmpDir: budget.dir, spill: budget });
    const at = [...new Set([0, ...cuts.filter((c) => c > 0 && c < content.length), content.length])].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    for (let i = 1; i < at.length; i++) chunks.push(content.subarray(at[i - 1], at[i]));
    await w.entry({ name, type: 'file', size: content.length, mode }, new Readable({ read() { this.push(chunks.shift() ?? null); } }));
    const r = w.result();
    return {
      got: r.results.flatMap((x) => x.out.packages ?? []).map((p) => `${p.name}@${p.version}`),
      spilled,
      incomplete: [...r.results.flatMap((x) => x.out.diagnostics ?? []), ...r.diagnostics].filter((d) => d.incomplete).length,
    };
  }

  it('never-ending streams starting every d bytes (stored blocks whose headers coincide, each probe seeing {): bounded time and memory, reported incomplete (fast-check)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 8, max: 64 }), fc.integer({ min: 64 * 1024, max: 256 * 1024 }), fc.array(fc.integer({ min: 1, max: 256 * 1024 }), { maxLength: 6 }),
      async (d, size, cuts) => {
        // every stream's blocks are P = d * k bytes long, so its next block header is another stream's first
        const P = d * Math.floor(65540 / d);
        const unit = Buffer.alloc(d, 0x20);
        Buffer.from([0x78, 0xda, 0x00, (P - 5) & 0xff, (P - 5) >> 8, ~(P - 5) & 0xff, (~(P - 5) >> 8) & 0xff, 0x7b]).copy(unit);
        const b = Buffer.alloc(size);
        for (let i = 64; i + d <= size; i += d) unit.copy(b, i);
        hello.copy(b, 0, 0, 64);
        const t0 = Date.now();
        const r = await walk('usr/lib/libx.so', 0o644, b, cuts);
        expect(Date.now() - t0, `d=${d}`).to.be.below(8000);
        expect(r.incomplete, `d=${d}`).to.equal(1);
      },
    ), { numRuns: 8 });
  });

  it('property: any directory, mode and chunking: at least the crates objcopy\'s .dep-v0 holds, a decoy list only adding (fast-check, real objcopy)', async () => {
    const decoy = zlib.deflateSync(JSON.stringify({ packages: [{ name: 'decoy', version: '9.9.9', source: 'crates.io' }] }), { level: 9 });
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('usr/bin/app', 'usr/lib/x86_64-linux-gnu/libapp.so', 'sbin/app', 'app/app', 'srv/data.bin'),
      fc.constantFrom(0o755, 0o644, 0o600),
      fc.constantFrom('none', 'before', 'after'),
      fc.array(fc.integer({ min: 1, max: hello.length + decoy.length - 1 }), { maxLength: 8 }),
      fc.boolean(),
      async (name, mode, where, cuts, small) => {
        // a decoy list appended after the ELF, or written over the start of its padding before .text
        const content = where === 'none' ? hello : where === 'after' ? Buffer.concat([hello, decoy]) : (() => { const b = Buffer.from(hello); decoy.copy(b, 0x400); return b; })();
        const r = await walk(name, mode, content, small ? [...cuts, ...Array.from({ length: 40 }, (_, i) => 0x4da8 + i * 3)] : cuts);
        expect(r.incomplete).to.equal(0);
        expect(r.got, `${name} ${mode.toString(8)} ${where}`).to.include.members(want);
        expect(r.got.filter((g) => !want.includes(g))).to.satisfy((extra: string[]) => extra.every((x) => x === 'decoy@9.9.9'));
      },
    ), { numRuns: 60 });
  });

  it('the binary without .dep-v0 (objcopy --remove-section) and other ELF files give nothing, copying nothing', async () => {
    for (const [name, content] of [['usr/bin/hello', noDep], ['usr/lib/x.so', noDep], ['usr/bin/node-like', Buffer.concat([hello.subarray(0, 64), Buffer.alloc(300_000, 0x78)])]] as const) {
      const r = await walk(name, 0o755, content, []);
      expect(r.got, name).to.deep.equal([]);
      expect(r.spilled, name).to.equal(0);
    }
  });

  it('property: a .dep-v0 any zlib writer may write (any FLEVEL, flushes before the data as empty blocks, blanks in the JSON) is read by content (fast-check, real objcopy, Go\'s compress/zlib as the reader)', async () => {
    const list = zlib.inflateSync(fs.readFileSync(path.join(tmp, 'dep-v0')));
    // Go's compress/zlib is what go-rustaudit (trivy, syft) reads .dep-v0 with; node's zlib where go is missing
    const goDir = fs.mkdtempSync(path.join(tmp, 'go-'));
    fs.writeFileSync(path.join(goDir, 'go.mod'), 'module zl\n');
    fs.writeFileSync(path.join(goDir, 'main.go'), 'package main\nimport ("compress/zlib"; "io"; "os")\nfunc main() { r, err := zlib.NewReader(os.Stdin); if err != nil { os.Exit(3) }; if _, err := io.Copy(os.Stdout, r); err != nil { os.Exit(4) } }\n');
    const built = spawnSync('go', ['build', '-o', 'zl', '.'], { cwd: goDir, env: { ...process.env, GOFLAGS: '-mod=mod', GOCACHE: path.join(goDir, 'cache') } }).status === 0;
    const reads = (z: Buffer): Buffer => (built ? execFileSync(path.join(goDir, 'zl'), { input: z }) : zlib.inflateSync(z));
    await fc.assert(fc.asyncProperty(
      // CINFO 7 only: smaller windows are not looked for (see ZLIB_CMF)
      fc.constant(7), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 20 }), fc.constantFrom(0, 1, 6, 9),
      fc.constantFrom(0o644, 0o755), fc.array(fc.integer({ min: 1, max: hello.length }), { maxLength: 4 }), fc.constantFrom(0, 9000),
      async (cinfo, flevel, empties, level, mode, cuts, blanks) => {
        // JSON may hold any run of blanks after `{`: its first compressed bytes then inflate to kilobytes
        const json = Buffer.concat([Buffer.from('{'), Buffer.alloc(blanks, 0x20), list.subarray(1)]);
        // CINFO below 7 needs a deflate stream without distances past the window: Huffman only
        const raw = zlib.deflateRawSync(json, { level, windowBits: 15, strategy: cinfo < 7 ? zlib.constants.Z_HUFFMAN_ONLY : zlib.constants.Z_DEFAULT_STRATEGY });
        const cmf = (cinfo << 4) | 8;
        let flg = flevel << 6;
        flg += (31 - ((cmf * 256 + flg) % 31)) % 31;
        const adler = Buffer.alloc(4);
        adler.writeUInt32BE(adler32(json));
        // an empty stored block is what a sync or full flush writes (flate2's flush() before the first write)
        const z = Buffer.concat([Buffer.from([cmf, flg]), ...Array.from({ length: empties }, () => Buffer.from([0, 0, 0, 0xff, 0xff])), raw, adler]);
        expect(reads(z).equals(json), 'the reader takes it').to.equal(true);
        const dep = path.join(tmp, 'dep-crafted');
        fs.writeFileSync(dep, z);
        execFileSync('objcopy', ['--update-section', `.dep-v0=${dep}`, path.join(tmp, 'hello'), path.join(tmp, 'hello-crafted')]);
        const file = fs.readFileSync(path.join(tmp, 'hello-crafted'));
        const r = await walk('usr/bin/app', mode, file, cuts);
        expect(r.got, `CMF ${cmf.toString(16)} FLG ${flg.toString(16)} ${empties} empty block(s), ${blanks} blanks`).to.include.members(want);
      },
    ), { numRuns: 40 });
  });

  it('the deflate look-ahead never turns away a stream zlib writes for JSON (fast-check, node zlib at every level and strategy)', () => {
    fc.assert(fc.property(
      fc.json(),
      fc.integer({ min: 0, max: 9 }),
      fc.constantFrom(zlib.constants.Z_DEFAULT_STRATEGY, zlib.constants.Z_FIXED, zlib.constants.Z_HUFFMAN_ONLY, zlib.constants.Z_RLE, zlib.constants.Z_FILTERED),
      fc.constantFrom('', ' ', '\n'),
      (j, level, strategy, pad) => {
        const text = `${pad}{"packages":${j}}`;
        const z = zlib.deflateSync(text, { level, strategy });
        if (!(z[0] === 0x78 && [0x01, 0x5e, 0x9c, 0xda].includes(z[1]!))) return;
        expect(mayStartJson(z), `${text} level ${level}`).to.equal(true);
      },
    ), { numRuns: 500 });
  });
});

function adler32(b: Buffer): number {
  let a = 1;
  let c = 0;
  for (const x of b) { a = (a + x) % 65521; c = (c + a) % 65521; }
  return ((c << 16) | a) >>> 0;
}
