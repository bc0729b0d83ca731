/**
 * Go binaries: real ELF executables (one built here with Debian's go 1.19 from test/fixtures/scan/go/src,
 * with a replaced dependency; Debian's fzf 0.38) put into a real layer; the packages must be what
 * `go version -m` printed for the same files (recorded beside them). Also a synthetic pre-1.18
 * pointer-form ELF, a non-Go ELF that must not be spilled (nor copied past its first 64 KiB), the
 * spill cap, and any split of a file into chunks giving the same result.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { scanTarget } from '../../../src/scan/engine.js';
import { goBinaryAnalyzer, readPointerBuildInfo, parseModInfo } from '../../../src/scan/analyzers/go-binary.js';
import { LayerWalker } from '../../../src/scan/walker.js';
import { SpillBudget } from '../../../src/scan/spill.js';
import { Readable } from 'node:stream';
import { gzLayer, makeTar, writeLayout } from './layout-helper.js';

const FIX = path.resolve('test/fixtures/scan/go');

/** Parses `go version -m` output into the packages a scanner should report. */
function expectedFromGoTool(file: string): Array<{ name: string; version: string }> {
  const lines = fs.readFileSync(path.join(FIX, file), 'utf8').split('\n');
  const goVersion = lines[0].split(': ')[1].trim();
  const out: Array<{ name: string; version: string }> = [];
  let pathLine: string | undefined;
  let hasMod = false;
  for (const l of lines.slice(1)) {
    const f = l.trim().split('\t');
    if (f[0] === 'path') pathLine = f[1];
    if (f[0] === 'mod') { hasMod = true; out.push({ name: f[1], version: f[2] }); }
    if (f[0] === 'dep') out.push({ name: f[1], version: f[2] });
    if (f[0] === '=>' && !f[1].startsWith('.') && !f[1].startsWith('/')) out[out.length - 1] = { name: f[1], version: f[2] };
  }
  if (!hasMod && pathLine) out.unshift({ name: pathLine, version: '(devel)' });
  out.push({ name: 'stdlib', version: goVersion.replace(/^go/, '') });
  return out;
}

describe('scan: Go binaries', function () {
  this.timeout(60_000);
  let tmp: string;
  let oldElf: Buffer;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-scan-go-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reports main module, dependencies (with replacements) and stdlib as go version -m does, in a real layer', async () => {
    const app = zlib.gunzipSync(fs.readFileSync(path.join(FIX, 'app.gz')));
    const fzf = zlib.gunzipSync(fs.readFileSync(path.join(FIX, 'fzf.gz')));
    const t = await makeTar([
      { name: 'usr/local/bin/app', content: app, mode: 0o755 },
      { name: 'usr/bin/fzf', content: fzf, mode: 0o755 },
      { name: 'usr/share/doc/app.bin', content: app, mode: 0o644 },
    ]);
    const dir = path.join(tmp, 'layout');
    writeLayout(dir, [gzLayer(t)]);
    const s = await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') });
    const pk = s.platforms[0].inventory.packages.filter((p) => p.analyzer === 'lang/go-binary');
    const got = (p: string) => pk.filter((x) => x.path === p).map((x) => ({ name: x.name, version: x.version }));
    expect(got('/usr/local/bin/app')).to.deep.equal(expectedFromGoTool('app.go-version-m.txt'));
    expect(got('/usr/bin/fzf')).to.deep.equal(expectedFromGoTool('fzf.go-version-m.txt'));
    // not executable in the layer, and still a Go program a start-up script can chmod and run
    expect(got('/usr/share/doc/app.bin')).to.deep.equal(expectedFromGoTool('app.go-version-m.txt'));
    const std = pk.find((x) => x.name === 'stdlib')!;
    expect(std.ecosystem).to.equal('Go');
    expect(std.purl).to.equal('pkg:golang/stdlib@1.19.8');
    expect(pk.find((x) => x.name === 'example.com/greet')!.purl).to.equal('pkg:golang/example.com/greet@v1.2.3');
    expect(s.platforms[0].inventory.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
  });

  it('the mode does not decide: a Go binary under any permission bits and name is read the same; a non-ELF file under any mode spills nothing (fast-check)', async () => {
    const app = zlib.gunzipSync(fs.readFileSync(path.join(FIX, 'app.gz')));
    const want = expectedFromGoTool('app.go-version-m.txt').map((p) => `${p.name}@${p.version}`);
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 0o7777 }), fc.constantFrom('bin/x', 'app.bin', 'srv/data.dat'), async (mode, name) => {
      const budget = new SpillBudget(fs.mkdtempSync(path.join(tmp, 'm-')), 64 * 1024 ** 2);
      const w = new LayerWalker([goBinaryAnalyzer], { version: 't', tmpDir: budget.dir, spill: budget });
      await w.entry({ name, type: 'file', size: app.length, mode }, Readable.from([app]));
      const text = Buffer.alloc(8192, 'not an ELF file ');
      let spilled = 0;
      const take = budget.take.bind(budget);
      budget.take = (n: number) => { spilled += n; return take(n); };
      await w.entry({ name: `${name}.txt`, type: 'file', size: text.length, mode }, Readable.from([text]));
      const r = w.result();
      expect(r.results.flatMap((x) => x.out.packages ?? []).map((p) => `${p.name}@${p.version}`)).to.deep.equal(want);
      expect(spilled).to.equal(0);
    }), { numRuns: 25 });
  });

  it('replacement by another module version reports the replacement', () => {
    const info = parseModInfo('go1.21.5', 'path\tx/cmd\nmod\tx\t(devel)\t\ndep\tgithub.com/a/b\tv1.0.0\th1:x=\n=>\tgithub.com/fork/b\tv1.0.1\th1:y=\nbuild\tGOOS=linux\n');
    expect(info.deps[0].replace).to.deep.equal({ path: 'github.com/fork/b', version: 'v1.0.1', sum: 'h1:y=' });
    expect(info.settings.GOOS).to.equal('linux');
  });

  it('reads the pre-1.18 pointer form through the ELF program headers (synthetic ELF)', () => {
    // ELF64 LE, one PT_LOAD mapping file offset 0 at vaddr 0x400000.
    const base = 0x400000;
    const b = Buffer.alloc(0x400);
    b.write('\x7fELF', 0, 'latin1'); b[4] = 2; b[5] = 1; b[6] = 1;
    b.writeBigUInt64LE(64n, 32); b.writeUInt16LE(56, 54); b.writeUInt16LE(1, 56);
    b.writeUInt32LE(1, 64); b.writeBigUInt64LE(0n, 72); b.writeBigUInt64LE(BigInt(base), 80); b.writeBigUInt64LE(0x400n, 96);
    const ver = 'go1.16.15';
    const mod = '0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6path\tex/old\nmod\tex/old\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.6\th1:z=\n\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2';
    b.write(ver, 0x200, 'latin1'); b.write(mod, 0x240, 'latin1');
    b.writeBigUInt64LE(BigInt(base + 0x200), 0x100); b.writeBigUInt64LE(BigInt(ver.length), 0x108);
    b.writeBigUInt64LE(BigInt(base + 0x240), 0x110); b.writeBigUInt64LE(BigInt(Buffer.byteLength(mod, 'latin1')), 0x118);
    b.write('\xff Go buildinf:', 0x180, 'latin1'); b[0x180 + 14] = 8; b[0x180 + 15] = 0;
    b.writeBigUInt64LE(BigInt(base + 0x100), 0x190); b.writeBigUInt64LE(BigInt(base + 0x110), 0x198);
    // A Go build-ID note (namesz 4, descsz 8, type 4, "Go\0\0") so the stream path spills it.
    b.writeUInt32LE(4, 0x78); b.writeUInt32LE(8, 0x7c); b.writeUInt32LE(4, 0x80); b.write('Go\0\0', 0x84, 'latin1');
    oldElf = b;
    const f = path.join(tmp, 'old.elf');
    fs.writeFileSync(f, b);
    const r = readPointerBuildInfo(f, 0x180);
    expect(r.version).to.equal(ver);
    const info = parseModInfo(r.version, r.modinfo);
    expect(info.main).to.deep.equal({ path: 'ex/old', version: '(devel)', sum: undefined });
    expect(info.deps.map((d) => `${d.path}@${d.version}`)).to.deep.equal(['golang.org/x/text@v0.3.6']);
  });

  it('streams the pre-1.18 form: spilled (Go note), read from the spill, released', async () => {
    const budget = new SpillBudget(fs.mkdtempSync(path.join(tmp, 'p-')), 64 * 1024 ** 2);
    const r = await walk(oldElf, budget);
    expect(r.peak).to.equal(oldElf.length);
    expect(r.r.results[0].out.packages!.map((p) => `${p.name}@${p.version}`)).to.deep.equal(['ex/old@(devel)', 'golang.org/x/text@v0.3.6', 'stdlib@1.16.15']);
    expect(budget.used).to.equal(0);
    expect(fs.readdirSync(budget.dir)).to.deep.equal([]);
  });

  /** Walks `content` as one executable entry, in 4 KiB chunks or cut at `cuts` (offsets). */
  async function walk(content: Buffer, budget: SpillBudget, cuts?: number[]): Promise<{ peak: number; r: ReturnType<LayerWalker['result']> }> {
    const w = new LayerWalker([goBinaryAnalyzer], { version: 't', tmpDir: budget.dir, spill: budget });
    let peak = 0;
    const take = budget.take.bind(budget);
    budget.take = (n: number) => { const ok = take(n); peak = Math.max(peak, budget.used); return ok; };
    const chunks: Buffer[] = [];
    if (cuts) {
      const at = [...new Set([0, ...cuts.filter((c) => c > 0 && c < content.length), content.length])].sort((a, b) => a - b);
      for (let i = 1; i < at.length; i++) chunks.push(content.subarray(at[i - 1], at[i]));
    } else for (let i = 0; i < content.length; i += 4096) chunks.push(content.subarray(i, i + 4096));
    const body = new Readable({ read() { this.push(chunks.shift() ?? null); } });
    await w.entry({ name: 'bin/x', type: 'file', size: content.length, mode: 0o755 }, body);
    return { peak, r: w.result() };
  }

  it('a non-Go ELF is never spilled; a Go one is spilled only up to its inline build info and released', async () => {
    const budget = new SpillBudget(fs.mkdtempSync(path.join(tmp, 'b-')), 64 * 1024 ** 2);
    const elf = Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01', 'latin1'), Buffer.alloc(300_000, 7)]);
    const a = await walk(elf, budget);
    expect(a.peak).to.equal(0);
    expect(a.r.results).to.have.length(0);
    const app = zlib.gunzipSync(fs.readFileSync(path.join(FIX, 'app.gz')));
    const b = await walk(app, budget);
    expect(b.peak).to.be.greaterThan(0).and.below(app.length);
    expect(budget.used).to.equal(0);
    expect(fs.readdirSync(budget.dir)).to.deep.equal([]);
    expect(b.r.results[0].out.packages!.map((p) => p.name)).to.include('stdlib');
  });

  it('a spill cap too small for the pre-1.18 form is not needed for the inline form', async () => {
    const budget = new SpillBudget(fs.mkdtempSync(path.join(tmp, 'c-')), 4096);
    const app = zlib.gunzipSync(fs.readFileSync(path.join(FIX, 'app.gz')));
    const b = await walk(app, budget);
    expect(b.r.results[0].out.packages!.map((p) => p.name)).to.include('example.com/greet');
    expect(budget.used).to.equal(0);
  });

  it('a non-Go ELF split across chunks is decided on its first 64 KiB: the rest of the chunk is not copied', async () => {
    const budget = new SpillBudget(fs.mkdtempSync(path.join(tmp, 'd-')), 64 * 1024 ** 2);
    const elf = Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01', 'latin1'), Buffer.alloc(2 << 20, 7)]);
    // As the tar reader hands it over: the end of one inflate chunk, then most of the next one.
    const concat = Buffer.concat;
    let copied = 0;
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
      const b = concat(list, total);
      copied += b.length;
      return b;
    }) as typeof Buffer.concat;
    try {
      const r = await walk(elf, budget, [100, 100 + (1 << 20)]);
      expect(r.r.results).to.have.length(0);
      expect(r.peak).to.equal(0);
    } finally {
      Buffer.concat = concat;
    }
    // the first 64 KiB, and the few bytes joined at each chunk boundary to find a build-info magic
    // split across it (a file without the Go note is still searched, nothing of it copied)
    expect(copied).to.be.at.most(64 * 1024 + 2 * 26);
  });

  it('any split of a file into chunks gives the same result as the file in one chunk (Go inline, pre-1.18, non-Go ELF)', async () => {
    const app = zlib.gunzipSync(fs.readFileSync(path.join(FIX, 'app.gz')));
    const other = Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01', 'latin1'), Buffer.alloc(200_000, 7)]);
    const files = [app, oldElf, other];
    const budget = new SpillBudget(fs.mkdtempSync(path.join(tmp, 'e-')), 64 * 1024 ** 2);
    const whole = await Promise.all(files.map(async (f) => (await walk(f, budget, [])).r.results));
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 0, max: files.length - 1 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
      async (k, fractions) => {
        const f = files[k]!;
        const r = await walk(f, budget, fractions.map((x) => Math.floor(x * f.length)));
        expect(r.r.results).to.deep.equal(whole[k]);
      },
    ), { numRuns: 40 });
    expect(whole[0]!.length, 'the Go binary is found').to.equal(1);
  });
});
