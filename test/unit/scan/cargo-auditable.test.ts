/**
 * cargo-auditable binaries: a real x86-64 ELF built here with rustc, carrying a `.dep-v0` section as
 * cargo-auditable writes it (test/fixtures/scan/cargo-auditable/README.md), scanned in a real layer;
 * the same binary without the section (objcopy --remove-section), with a corrupted section, and in
 * /usr/bin; the section-table reader on binutils-made ELF32/ELF64 little/big-endian objects.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { scanTarget } from '../../../src/scan/engine.js';
import { auditablePackages, cargoAuditableAnalyzer, parseDepV0, readDepV0Section, wantsAuditable } from '../../../src/scan/analyzers/cargo-auditable.js';
import { LayerWalker } from '../../../src/scan/walker.js';
import { SpillBudget } from '../../../src/scan/spill.js';
import { gzLayer, makeTar, writeLayout } from './layout-helper.js';

const FIX = path.resolve('test/fixtures/scan/cargo-auditable');
const load = (f: string) => zlib.gunzipSync(fs.readFileSync(path.join(FIX, f)));

describe('scan: cargo-auditable binaries', function () {
  this.timeout(60_000);
  let tmp: string;
  let hello: Buffer;
  let noDep: Buffer;
  let zdata: Buffer;
  let json: { packages: Array<{ name: string; version: string; source: string; kind?: string; root?: boolean }> };
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-scan-cargo-'));
    hello = load('hello.gz');
    noDep = load('hello-no-dep.gz');
    zdata = fs.readFileSync(path.join(FIX, 'dep-v0.zlib'));
    json = JSON.parse(fs.readFileSync(path.join(FIX, 'dep-v0.json'), 'utf8')) as typeof json;
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Streams `content` as one entry through a walker holding only this analyzer; records the spill peak. */
  async function walk(name: string, content: Buffer, budget: SpillBudget, mode = 0o755) {
    const w = new LayerWalker([cargoAuditableAnalyzer], { version: 't', tmpDir: budget.dir, spill: budget });
    let peak = 0;
    const take = budget.take.bind(budget);
    budget.take = (n: number) => { const ok = take(n); peak = Math.max(peak, budget.used); return ok; };
    const chunks: Buffer[] = [];
    for (let i = 0; i < content.length; i += 16384) chunks.push(content.subarray(i, i + 16384));
    const body = new Readable({ read() { this.push(chunks.shift() ?? null); } });
    await w.entry({ name, type: 'file', size: content.length, mode }, body);
    return { peak, r: w.result() };
  }

  it('reports the crates.io runtime crates of a real binary with purls, in a real layer', async () => {
    const t = await makeTar([
      { name: 'app/bin/hello', content: hello, mode: 0o755 },
      { name: 'opt/tool/hello-no-dep', content: noDep, mode: 0o755 },
      { name: 'usr/bin/hello', content: hello, mode: 0o755 },
      { name: 'srv/hello.copy', content: hello, mode: 0o644 },
    ]);
    const dir = path.join(tmp, 'layout');
    writeLayout(dir, [gzLayer(t)]);
    const s = await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') });
    const inv = s.platforms[0].inventory;
    const pk = inv.packages.filter((p) => p.analyzer === 'lang/cargo-auditable');
    // Expected from the JSON: non-root, source crates.io, kind runtime (the default).
    const want = json.packages.filter((p) => !p.root && p.source === 'crates.io' && (p.kind ?? 'runtime') === 'runtime');
    expect(want.map((p) => p.name)).to.deep.equal(['serde', 'smallvec', 'time']);
    // copied and read through its section table (/app/bin), or read by content as it passes (a
    // distribution directory, no executable bit): the same crates
    expect(pk.map((p) => ({ name: p.name, version: p.version, purl: p.purl, ecosystem: p.ecosystem, path: p.path }))).to.have.deep.members(
      ['/app/bin/hello', '/usr/bin/hello', '/srv/hello.copy'].flatMap((at) => want.map((p) => ({ name: p.name, version: p.version, purl: `pkg:cargo/${p.name}@${p.version}`, ecosystem: 'crates.io', path: at }))),
    );
    expect(pk.map((p) => p.name)).to.not.include.members(['hello-auditable', 'libc', 'private-helper']);
    expect(inv.diagnostics.filter((d) => d.path?.includes('hello'))).to.deep.equal([]);
    expect(fs.existsSync(path.join(tmp, 'scratch')) ? fs.readdirSync(path.join(tmp, 'scratch'), { recursive: true }).filter((f) => String(f).includes('cargo-auditable')) : []).to.deep.equal([]);
  });

  it('a root crate from crates.io (cargo install) is reported, first', () => {
    const doc = { packages: [{ name: 'dep', version: '1.0.0', source: 'crates.io' }, { name: 'ripgrep', version: '14.1.0', source: 'crates.io', root: true, dependencies: [0] }] };
    const list = parseDepV0(zlib.deflateSync(JSON.stringify(doc)));
    expect(list.map((p) => `${p.name}@${p.version}:${p.root}:${p.kind}`)).to.deep.equal(['dep@1.0.0:false:runtime', 'ripgrep@14.1.0:true:runtime']);
    expect(auditablePackages(list, '/usr/local/bin/rg').map((p) => p.purl)).to.deep.equal(['pkg:cargo/ripgrep@14.1.0', 'pkg:cargo/dep@1.0.0']);
    const local = parseDepV0(zlib.deflateSync(JSON.stringify({ packages: [{ ...doc.packages[1], source: 'local' }, doc.packages[0]] })));
    expect(auditablePackages(local, '/x').map((p) => p.name)).to.deep.equal(['dep']);
  });

  it('the binary without .dep-v0 yields nothing and leaves no spill file', async () => {
    const budget = new SpillBudget(fs.mkdtempSync(path.join(tmp, 'a-')), 64 * 1024 ** 2);
    const r = await walk('opt/tool/hello-no-dep', noDep, budget);
    expect(r.peak).to.be.greaterThan(0);
    expect(r.r.results).to.have.length(0);
    expect(r.r.diagnostics).to.deep.equal([]);
    expect(budget.used).to.equal(0);
    expect(fs.readdirSync(budget.dir)).to.deep.equal([]);
    const ok = await walk('opt/tool/hello', hello, budget);
    expect(ok.r.results[0].out.packages!.map((p) => p.purl)).to.deep.equal(['pkg:cargo/serde@1.0.130', 'pkg:cargo/smallvec@1.6.0', 'pkg:cargo/time@0.1.43']);
    expect(budget.used).to.equal(0);
    expect(fs.readdirSync(budget.dir)).to.deep.equal([]);
  });

  it('a corrupted section is a parse-error diagnostic, not a crash', async () => {
    const at = hello.indexOf(zdata);
    expect(at).to.be.greaterThan(0);
    expect(hello.indexOf(zdata, at + 1)).to.equal(-1);
    const bad = Buffer.from(hello);
    bad.fill(0x55, at + 2, at + 40); // keep the zlib header, ruin the deflate stream
    const budget = new SpillBudget(fs.mkdtempSync(path.join(tmp, 'c-')), 64 * 1024 ** 2);
    const r = await walk('app/hello', bad, budget);
    expect(r.r.results.flatMap((x) => x.out.packages ?? [])).to.deep.equal([]);
    const d = r.r.diagnostics.filter((x) => x.code === 'parse-error');
    expect(d).to.have.length(1);
    expect(d[0].path).to.equal('/app/hello');
    expect(d[0].message).to.match(/lang\/cargo-auditable: \.dep-v0: not zlib data/);
    expect(fs.readdirSync(budget.dir)).to.deep.equal([]);
    // Valid zlib, broken JSON schema: also a diagnostic.
    expect(() => parseDepV0(zlib.deflateSync('{"packages":[{"name":"a","version":"1","source":"crates.io","dependencies":[7]}]}'))).to.throw(/dependency index/);
    expect(() => parseDepV0(zlib.deflateSync(Buffer.alloc(9 * 1024 * 1024, 0x20)))).to.throw(/larger than/);
  });

  it('a binary in /usr/bin (or any distribution directory) is not spilled, and is read by content', async () => {
    const budget = new SpillBudget(fs.mkdtempSync(path.join(tmp, 'd-')), 64 * 1024 ** 2);
    for (const p of ['usr/bin/hello', 'usr/sbin/hello', 'bin/hello', 'sbin/hello', 'usr/lib/x86_64-linux-gnu/hello', 'lib64/hello', 'usr/libexec/hello', 'usr/lib64/hello']) {
      const r = await walk(p, hello, budget);
      expect(r.peak, p).to.equal(0);
      expect(r.r.results.flatMap((x) => x.out.packages ?? []).map((q) => q.name), p).to.deep.equal(['serde', 'smallvec', 'time']);
    }
    expect(wantsAuditable({ path: '/usr/local/bin/hello', size: hello.length, mode: 0o755 })).to.equal(true);
    expect(wantsAuditable({ path: '/usr/libfoo/hello', size: hello.length, mode: 0o755 })).to.equal(true);
    expect(wantsAuditable({ path: '/app/hello', size: hello.length, mode: 0o644 })).to.equal(true);
    expect(wantsAuditable({ path: '/app/hello', size: 1000, mode: 0o755 })).to.equal(false);
    // past the size limit only an executable is asked for (and is file-too-large); a data file is not
    expect(wantsAuditable({ path: '/srv/disk.img', size: 5 * 1024 ** 3, mode: 0o644 })).to.equal(false);
    expect(wantsAuditable({ path: '/srv/big', size: 5 * 1024 ** 3, mode: 0o755 })).to.equal(true);
    // A non-ELF executable (a script) is never spilled either.
    const script = Buffer.concat([Buffer.from('#!/bin/sh\n'), Buffer.alloc(100_000, 0x23)]);
    expect((await walk('app/run.sh', script, budget)).peak).to.equal(0);
  });

  it('reads .dep-v0 from ELF32 LE, ELF32 BE and ELF64 BE section tables (binutils objects)', () => {
    for (const t of ['elf32-little', 'elf32-big', 'elf64-big']) {
      const sec = readDepV0Section(path.join(FIX, `dep-v0.${t}.o`));
      expect(sec, t).to.deep.equal(zdata);
      expect(parseDepV0(sec!).map((p) => p.name), t).to.deep.equal(json.packages.map((p) => p.name));
    }
    const f = path.join(tmp, 'no-dep');
    fs.writeFileSync(f, noDep);
    expect(readDepV0Section(f)).to.equal(undefined);
    fs.writeFileSync(f, hello.subarray(0, hello.length - 100));
    expect(() => readDepV0Section(f)).to.throw(/past the end/);
  });
});
