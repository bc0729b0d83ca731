/**
 * The scanner names every tar entry exactly as Go's archive/tar does (containerd, umoci, Docker).
 *
 * Attacker: anyone with push rights, writing layer tars byte by byte. A tar can name one entry
 * several ways: the ustar name and prefix, a PAX `path`/`linkpath`, a GNU `L`/`K` long name, a PAX
 * `GNU.sparse.name`; tar readers apply them in different orders. Go lets the GNU long name beat the
 * PAX path and `GNU.sparse.name` beat both; tar-stream (pushgate's content reader) applied the PAX
 * path last, so a vulnerable adm-zip@0.4.7 `package.json` passed as a harmless notes file.
 *
 * Every case writes raw tar bytes, builds a real OCI layout, scans it with the real engine and
 * compares with an oracle that is not pushgate: umoci unpacks the same layout and the unpacked
 * `package.json` files are read. pushgate's npm package set must equal the unpacked one, or the scan
 * must be incomplete with a named diagnostic. One variant goes through a real Distribution registry
 * and the real gate (quarantined). A fast-check property compares the resolved names with a small
 * reference model of Go's precedence rules and, for a bounded number of runs, with umoci.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { Inventory } from '../../src/core/index.js';
import { createMemoryLayerCache, scanTarget } from '../../src/scan/engine.js';
import type { Analyzer } from '../../src/scan/analyzers/types.js';
import { GoTarIndex } from '../../src/scan/tar-headers.js';
import { ensureTools, skopeoCopy, type LabRegistry } from '../helpers/lab.js';
import { gzLayer, writeLayout } from '../unit/scan/layout-helper.js';
import { startGatedLab, type GatedLab } from '../helpers/gated-lab.js';

const REG_PORT = 22300;
const SRV_PORT = 22301;
const TOKEN = 'tar-names-webhook-token-0123456789';
const API = 'tar-names-api-token';
/** adm-zip < 0.4.9 (zip slip): in the offline OSV fixtures. */
const ADVISORY = 'NSWG-NPM-458';
const REAL = 'app/node_modules/adm-zip/package.json';
const DECOY = 'app/node_modules/zzz/notes.txt';
const VULN = Buffer.from(JSON.stringify({ name: 'adm-zip', version: '0.4.7' }));
const CLEAN = Buffer.from(JSON.stringify({ name: 'adm-zip', version: '0.5.10' }));

// ---------------------------------------------------------------------------------------------
// Raw tar bytes: every field under the test's control, no library deciding for us.

type Magic = 'ustar' | 'gnu' | 'v7';

interface Hdr {
  name?: string | Buffer;
  typeflag?: string;
  size?: number;
  linkname?: string;
  /** Bytes 345..500: the ustar prefix (or GNU atime/ctime). */
  prefix?: string;
  magic?: Magic;
}

function field(b: Buffer, at: number, len: number, v: string | Buffer): void {
  const s = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
  s.copy(b, at, 0, Math.min(len, s.length));
}

function header(h: Hdr): Buffer {
  const b = Buffer.alloc(512);
  field(b, 0, 100, h.name ?? '');
  const type = h.typeflag ?? '0';
  field(b, 100, 8, type === '5' ? '0000755\0' : '0000644\0');
  field(b, 108, 8, '0000000\0');
  field(b, 116, 8, '0000000\0');
  field(b, 124, 12, (h.size ?? 0).toString(8).padStart(11, '0') + '\0');
  field(b, 136, 12, '14533616000\0');
  b[156] = type.charCodeAt(0);
  field(b, 157, 100, h.linkname ?? '');
  const magic = h.magic ?? 'ustar';
  if (magic === 'ustar') { field(b, 257, 6, 'ustar\0'); field(b, 263, 2, '00'); }
  if (magic === 'gnu') { field(b, 257, 6, 'ustar '); field(b, 263, 2, ' \0'); }
  if (h.prefix) field(b, 345, 155, h.prefix);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  field(b, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return b;
}

const pad = (d: Buffer): Buffer => Buffer.concat([d, Buffer.alloc((512 - (d.length % 512)) % 512)]);
/** One member: header plus padded data (the data section length is the caller's business). */
const member = (h: Hdr, data: Buffer = Buffer.alloc(0)): Buffer => Buffer.concat([header({ size: data.length, ...h }), pad(data)]);
const file = (name: string | Buffer, data: Buffer, h: Hdr = {}): Buffer => member({ name, ...h }, data);
const dir = (name: string): Buffer => member({ name, typeflag: '5' });

function paxRecord(k: string, v: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${k}=`), typeof v === 'string' ? Buffer.from(v) : v, Buffer.from('\n')]);
  let n = body.length + 1;
  while (String(n).length + body.length !== n) n = String(n).length + body.length;
  return Buffer.concat([Buffer.from(String(n)), body]);
}
const pax = (recs: Array<[string, string | Buffer]>, typeflag = 'x'): Buffer =>
  member({ name: 'PaxHeaders/x', typeflag }, Buffer.concat(recs.map(([k, v]) => paxRecord(k, v))));
const gnuLong = (typeflag: 'L' | 'K', v: string): Buffer => member({ name: '././@LongLink', typeflag, magic: 'gnu' }, Buffer.from(`${v}\0`));
const END = Buffer.alloc(1024);
const DIRS = ['app/', 'app/node_modules/', 'app/node_modules/adm-zip/', 'app/node_modules/zzz/', 'opt/'].map(dir);
const tarOf = (...parts: Buffer[]): Buffer => Buffer.concat([...DIRS, ...parts, END]);

// ---------------------------------------------------------------------------------------------
// Oracle helpers.

function umociUnpack(layout: string, rootfs: string): string | undefined {
  fs.rmSync(rootfs, { recursive: true, force: true });
  const r = spawnSync('umoci', ['raw', 'unpack', '--rootless', '--image', `${layout}:t`, rootfs], { encoding: 'utf8' });
  return r.status === 0 ? rootfs : undefined;
}

/** The npm packages under /app/node_modules of an unpacked root, read through the kernel. */
function npmOnDisk(rootfs: string): string[] {
  const nm = path.join(rootfs, 'app/node_modules');
  if (!fs.existsSync(nm)) return [];
  const out: string[] = [];
  for (const n of fs.readdirSync(nm)) {
    try {
      const j = JSON.parse(fs.readFileSync(path.join(nm, n, 'package.json'), 'utf8')) as { name: string; version: string };
      out.push(`${j.name}@${j.version}`);
    } catch { /* not a package */ }
  }
  return out.sort();
}

const npmSet = (inv: Inventory): string[] => inv.packages.filter((p) => p.ecosystem === 'npm').map((p) => `${p.name}@${p.version}`).sort();
const incompleteCodes = (inv: Inventory): string[] => [...new Set(inv.diagnostics.filter((d) => d.incomplete).map((d) => d.code))].sort();

/** Every regular file a layer holds, as a package named by its path (for the property). */
const everyFile: Analyzer = {
  name: 'test/every-file', version: 1, maxSize: 1024,
  wants: () => true,
  analyze: (i) => ({ packages: [{ ecosystem: 'npm', name: i.path, version: i.content.toString('utf8') || '-', path: i.path, purl: 'pkg:generic/x' }] }),
};

describe('security: tar entries are named as Go archive/tar names them (GNU long names, PAX, prefix, sparse)', function () {
  this.timeout(120_000);
  let tmp: string;
  let n = 0;
  const cache = createMemoryLayerCache(64);

  before(() => {
    ensureTools([['umoci', 'umoci'], ['skopeo', 'skopeo']]);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-tarnames-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function build(tar: Buffer | Buffer[], analyzers?: Analyzer[]): Promise<{ layout: string; inv: Inventory; rootfs?: string }> {
    const layout = path.join(tmp, `l${++n}`);
    writeLayout(layout, (Array.isArray(tar) ? tar : [tar]).map(gzLayer), { tag: 't' });
    const inv = (await scanTarget(`oci:${layout}:t`, { layerCache: cache, inflateWorker: 'never', ...(analyzers ? { analyzers } : {}) })).platforms[0].inventory;
    return { layout, inv, rootfs: umociUnpack(layout, path.join(tmp, `r${n}`)) };
  }

  /**
   * pushgate agrees with umoci's unpacked tree, or says it cannot (incomplete, named). Returns
   * what the runtime sees (undefined when umoci refuses the layer).
   */
  function judge(label: string, r: { inv: Inventory; rootfs?: string }, codes = ['ambiguous-entry-name', 'tar-invalid'], umociRefuses = false): string[] | undefined {
    if (!r.rootfs && umociRefuses) return undefined;
    expect(umociRefuses, `${label}: umoci was expected to refuse the layer`).to.equal(false);
    if (!r.rootfs) {
      expect(incompleteCodes(r.inv).some((c) => codes.includes(c)), `${label}: umoci refuses the layer, pushgate must say incomplete`).to.equal(true);
      return undefined;
    }
    const disk = npmOnDisk(r.rootfs);
    if (JSON.stringify(npmSet(r.inv)) !== JSON.stringify(disk)) {
      expect(incompleteCodes(r.inv).filter((c) => codes.includes(c)), `${label}: pushgate ${JSON.stringify(npmSet(r.inv))} vs unpacked ${JSON.stringify(disk)}`).to.not.deep.equal([]);
    }
    return disk;
  }

  it('F5a: a GNU long name and a PAX path that disagree (both orders): the long name is the one unpacked and scanned', async () => {
    for (const [label, meta] of [['L then x', [gnuLong('L', REAL), pax([['path', DECOY]])]], ['x then L', [pax([['path', DECOY]]), gnuLong('L', REAL)]]] as const) {
      const r = await build(tarOf(...meta, file('placeholder', VULN)));
      expect(judge(label, r), label).to.deep.equal(['adm-zip@0.4.7']);
      expect(npmSet(r.inv), label).to.deep.equal(['adm-zip@0.4.7']);
      const d = r.inv.diagnostics.find((x) => x.code === 'ambiguous-entry-name');
      expect(d?.incomplete, label).to.equal(true);
      expect(d?.message).to.contain(`GNU long name "${REAL}" over PAX path "${DECOY}"`);
    }
  });

  it('F5b: GNU.sparse.name (sparse 0.1, 0.0) names the file and its fragments are expanded; 1.0 and old GNU sparse are not expanded: incomplete', async () => {
    const half = Math.floor(VULN.length / 2);
    const sparse01: Array<[string, string]> = [['path', DECOY], ['GNU.sparse.major', '0'], ['GNU.sparse.minor', '1'], ['GNU.sparse.name', REAL],
      ['GNU.sparse.size', String(VULN.length)], ['GNU.sparse.numblocks', '1'], ['GNU.sparse.map', `0,${VULN.length}`]];
    const split01: Array<[string, string]> = [['path', DECOY], ['GNU.sparse.name', REAL], ['GNU.sparse.realsize', String(VULN.length)],
      ['GNU.sparse.numblocks', '3'], ['GNU.sparse.map', `0,${half},${half},0,${half},${VULN.length - half}`]];
    const sparse00: Array<[string, string]> = [['path', DECOY], ['GNU.sparse.size', String(VULN.length)], ['GNU.sparse.numblocks', '1'],
      ['GNU.sparse.offset', '0'], ['GNU.sparse.numbytes', String(VULN.length)], ['GNU.sparse.name', REAL]];
    for (const [label, t] of [
      ['0.1', tarOf(pax(sparse01), file('placeholder', VULN))],
      ['0.1 without version records, three fragments', tarOf(pax(split01), file('placeholder', VULN))],
      ['0.0', tarOf(pax(sparse00), file('placeholder', VULN))],
    ] as const) {
      const r = await build(t);
      expect(judge(label, r), label).to.deep.equal(['adm-zip@0.4.7']);
      expect(npmSet(r.inv), label).to.deep.equal(['adm-zip@0.4.7']);
      expect(r.inv.diagnostics.find((d) => d.code === 'ambiguous-entry-name')?.message, label).to.contain(`GNU.sparse.name "${REAL}" over "${DECOY}"`);
    }
    const map10 = pad(Buffer.from(`1\n0\n${VULN.length}\n`));
    const sparse10: Array<[string, string]> = [['path', REAL], ['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.realsize', String(VULN.length)]];
    const r10 = await build(tarOf(pax(sparse10), file('placeholder', Buffer.concat([map10, VULN]))));
    judge('1.0', r10);
    expect(incompleteCodes(r10.inv)).to.deep.equal(['ambiguous-entry-name']);
    expect(r10.inv.diagnostics.some((d) => d.path === `/${REAL}` && /sparse file \(pax-1\.0\)/.test(d.message))).to.equal(true);
    // An unknown sparse version: Go ignores GNU.sparse.name, so does pushgate (named by PAX path).
    const unknown = await build(tarOf(pax([['path', `app/node_modules/adm-zip/package.json`], ['GNU.sparse.major', '2'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', DECOY]]), file('placeholder', VULN)));
    expect(judge('unknown sparse', unknown)).to.deep.equal(['adm-zip@0.4.7']);
    expect(npmSet(unknown.inv)).to.deep.equal(['adm-zip@0.4.7']);
  });

  it('K long link over PAX linkpath for a hard link: the link target Go uses is the content scanned', async () => {
    const v = 'app/node_modules/v/package.json';
    const c = 'app/node_modules/c/package.json';
    const r = await build(tarOf(dir('app/node_modules/v/'), dir('app/node_modules/c/'), file(v, VULN), file(c, CLEAN),
      gnuLong('K', v), pax([['linkpath', c]]), member({ name: REAL, typeflag: '1', linkname: c })));
    const want = ['adm-zip@0.4.7', 'adm-zip@0.4.7', 'adm-zip@0.5.10'];
    expect(judge('K/linkpath', r)).to.deep.equal(want);
    expect(npmSet(r.inv)).to.deep.equal(want);
    expect(r.inv.diagnostics.find((d) => d.code === 'ambiguous-entry-name')?.message).to.contain(`GNU long link "${v}" over PAX linkpath "${c}"`);
  });

  it('ustar prefix, GNU headers with a prefix-looking atime, PAX path and size: named and sized as Go reads them', async () => {
    const cases: Array<[string, Buffer, string[]]> = [
      // PAX path beats prefix/name in every reader.
      ['prefix+name vs PAX path', tarOf(pax([['path', DECOY]]), file('package.json', VULN, { prefix: 'app/node_modules/adm-zip' })), []],
      ['prefix+name alone', tarOf(file('package.json', VULN, { prefix: 'app/node_modules/adm-zip' })), ['adm-zip@0.4.7']],
      // A GNU header has atime/ctime where ustar has the prefix; when they are not numbers Go reads a prefix there (pre-Go1.8 writers).
      ['GNU header, prefix in atime', tarOf(file('package.json', VULN, { prefix: 'app/node_modules/adm-zip', magic: 'gnu' })), ['adm-zip@0.4.7']],
      // PAX size beats the header size (header says 0).
      ['PAX size', tarOf(pax([['size', String(VULN.length)]]), Buffer.concat([header({ name: REAL, size: 0 }), pad(VULN)])), ['adm-zip@0.4.7']],
      // Empty PAX path keeps the header name.
      ['empty PAX path', tarOf(pax([['path', '']]), file(REAL, VULN)), ['adm-zip@0.4.7']],
      // Typeflag '0' with a trailing slash is a regular file for Go (only NUL means "directory by slash").
      ['typeflag 0 with trailing slash', tarOf(file(`${REAL}/`, VULN)), ['adm-zip@0.4.7']],
      // A global header's path applies to no entry in Go; tar-stream merged it into the next x header.
      ['global path', tarOf(pax([['path', REAL]], 'g'), pax([['mtime', '1']]), file(DECOY, VULN)), []],
      // A global header between the long name and the entry ends the long name's reach in Go.
      ['L, g, entry', tarOf(gnuLong('L', REAL), pax([['comment', 'x']], 'g'), file(DECOY, VULN)), []],
      // Entries after the end-of-archive blocks are never unpacked.
      ['after end', Buffer.concat([...DIRS, file(REAL, VULN), END, file(`./${REAL}`, CLEAN), END]), ['adm-zip@0.4.7']],
    ];
    for (const [label, t, want] of cases) {
      const r = await build(t);
      // umoci refuses a global header entry; containerd skips it (nothing is unpacked for it): the
      // entries around it are judged by the model above.
      judge(label, r, undefined, /global|g, entry/.test(label));
      expect(npmSet(r.inv), label).to.deep.equal(want);
    }
  });

  it('tars Go refuses or reads differently are incomplete: NUL in a PAX path, data on a symlink hiding an entry, a lone zero block, a non-UTF-8 name, old GNU sparse', async () => {
    const hidden = Buffer.concat([header({ name: REAL, size: VULN.length }), pad(VULN)]);
    const cases: Array<[string, Buffer, string]> = [
      ['NUL in PAX path', tarOf(pax([['path', Buffer.from(`${DECOY}\0${REAL}`)]]), file('placeholder', VULN)), 'tar-invalid'],
      // Go gives a symlink no data section, so the "data" is read as the next header.
      ['symlink with data', tarOf(member({ name: 'opt/l', typeflag: '2', linkname: 'x', size: hidden.length }, hidden)), 'ambiguous-entry-name'],
      ['zero block then header', Buffer.concat([...DIRS, Buffer.alloc(512), file(REAL, VULN), END]), 'tar-invalid'],
      ['non-UTF-8 name', tarOf(dir('app/node_modules/adm\xffzip/'), file(Buffer.from('app/node_modules/adm\xffzip/package.json', 'latin1'), VULN)), 'ambiguous-entry-name'],
      ['old GNU sparse', tarOf(Buffer.concat([header({ name: REAL, typeflag: 'S', size: VULN.length, magic: 'gnu' }), pad(VULN)])), 'ambiguous-entry-name'],
    ];
    for (const [label, t, code] of cases) {
      // The old-GNU sparse header needs its realsize (483..495) set: Go takes the size from there.
      if (label === 'old GNU sparse') {
        const h = t.subarray(DIRS.length * 512, DIRS.length * 512 + 512);
        field(h, 483, 12, VULN.length.toString(8).padStart(11, '0') + '\0');
        field(h, 386, 24, '00000000000\0' + VULN.length.toString(8).padStart(11, '0') + '\0');
        h.fill(0x20, 148, 156);
        let sum = 0;
        for (const c of h) sum += c;
        field(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
      }
      const r = await build(t);
      judge(label, r, [code]);
      expect(incompleteCodes(r.inv), label).to.include(code);
    }
  });

  it('a hard link keeps the content its target had when the link came, whatever the layer writes there later (package and secret)', async () => {
    const v = 'app/node_modules/v/package.json';
    // The runtime links the inode at `v` (adm-zip@0.4.7); rewriting `v` afterwards leaves the link's content alone.
    const r = await build(tarOf(dir('app/node_modules/v/'), file(v, VULN), member({ name: REAL, typeflag: '1', linkname: v }), file(v, CLEAN)));
    expect(judge('link, then target rewritten', r, ['package-db-link'])).to.deep.equal(['adm-zip@0.4.7', 'adm-zip@0.5.10']);
    expect(npmSet(r.inv)).to.deep.equal(['adm-zip@0.4.7', 'adm-zip@0.5.10']);
    expect(r.inv.packages.find((p) => p.version === '0.4.7')?.path).to.equal(`/${REAL}`);
    // A link of a link, the target then replaced by a directory.
    const r2 = await build(tarOf(file(v.replace('/v/', '/zzz/'), VULN), member({ name: 'opt/l1', typeflag: '1', linkname: 'app/node_modules/zzz/package.json' }),
      member({ name: REAL, typeflag: '1', linkname: 'opt/l1' }), member({ name: 'opt/l1', typeflag: '5' }), dir('app/node_modules/zzz/package.json/')));
    expect(judge('link of a link', r2, ['package-db-link'])).to.deep.equal(['adm-zip@0.4.7']);
    expect(npmSet(r2.inv)).to.deep.equal(['adm-zip@0.4.7']);
    // A secret in the first content is reported at the link that still holds it.
    const key = Buffer.from(`aws_access_key_id = ${'AKIA' + 'Z2Y3X4W5V6U7T2S3'}\n`);
    const r3 = await build(tarOf(file('opt/creds', key), member({ name: 'app/creds', typeflag: '1', linkname: 'opt/creds' }), file('opt/creds', Buffer.from('none\n'))));
    expect(r3.inv.secrets.map((x) => `${x.rule} ${x.path}`)).to.deep.equal(['aws-access-key-id /app/creds']);
  });

  it('a hard link to a lower file keeps its content when the layer then whites it out, directly or through a lower symlink', async () => {
    const x = 'app/node_modules/x/package.json';
    const upper = (...e: Buffer[]) => Buffer.concat([dir('app/'), dir('app/node_modules/'), dir('app/node_modules/x/'), ...e, END]);
    for (const [label, lower, linkname, wh] of [
      ['whiteout of the file', tarOf(file(REAL, VULN)), REAL, 'app/node_modules/adm-zip/.wh.package.json'],
      ['whiteout of its directory', tarOf(file(REAL, VULN)), REAL, 'app/node_modules/.wh.adm-zip'],
      ['through a lower symlink', tarOf(file(REAL, VULN), member({ name: 'app/node_modules/s', typeflag: '2', linkname: 'adm-zip' })), 'app/node_modules/s/package.json', 'app/node_modules/adm-zip/.wh.package.json'],
    ] as const) {
      const r = await build([lower, upper(member({ name: x, typeflag: '1', linkname }), member({ name: wh }))]);
      expect(judge(label, r, ['package-db-link'])).to.deep.equal(['adm-zip@0.4.7']);
      expect(npmSet(r.inv), label).to.deep.equal(['adm-zip@0.4.7']);
      expect(r.inv.packages.find((p) => p.name === 'adm-zip')?.path, label).to.equal(`/${x}`);
    }
    // Through a lower symlink to a file this layer writes before the link and rewrites after it: the
    // link holds the layer's first content, which pushgate cannot place in order: named, not judged.
    const viaSym = await build([tarOf(file(REAL, CLEAN), member({ name: 'app/node_modules/s', typeflag: '2', linkname: 'adm-zip' })),
      upper(dir('app/node_modules/adm-zip/'), file(REAL, VULN), member({ name: x, typeflag: '1', linkname: 'app/node_modules/s/package.json' }), file(REAL, CLEAN))]);
    // (`s` is read through on disk too: three package.json files)
    expect(judge('through a lower symlink to a file rewritten in the layer', viaSym, ['package-db-link'])).to.deep.equal(['adm-zip@0.4.7', 'adm-zip@0.5.10', 'adm-zip@0.5.10']);
    expect(incompleteCodes(viaSym.inv)).to.include('package-db-link');
    // A link whose target no layer below holds and this layer did not write first: named, not judged.
    const r = await build([tarOf(file(DECOY, Buffer.from('x'))), upper(member({ name: x, typeflag: '1', linkname: 'opt/nothing' }))]);
    expect(incompleteCodes(r.inv)).to.include('package-db-link');
  });

  it('a negative size on a header-only entry (symlink, directory) is no error: Go never uses it, so the entries after it are scanned', async () => {
    for (const typeflag of ['2', '5', '1']) {
      const h = header({ name: typeflag === '5' ? 'opt/d/' : 'opt/l', typeflag, linkname: typeflag === '1' ? 'app/node_modules/zzz/notes.txt' : typeflag === '2' ? 'x' : '' });
      h.fill(0xff, 124, 136); // base-256 -1
      h.fill(0x20, 148, 156);
      let sum = 0;
      for (const c of h) sum += c;
      h.fill(0, 148, 156);
      field(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
      const r = await build(tarOf(file(DECOY, Buffer.from('x')), h, file(REAL, VULN)));
      expect(judge(`negative size, type ${typeflag}`, r, [])).to.deep.equal(['adm-zip@0.4.7']);
      expect(npmSet(r.inv), typeflag).to.deep.equal(['adm-zip@0.4.7']);
      expect(incompleteCodes(r.inv), typeflag).to.deep.equal([]);
    }
    // On a regular file Go refuses it: incomplete.
    const f = header({ name: DECOY });
    f.fill(0xff, 124, 136);
    f.fill(0x20, 148, 156);
    let sum = 0;
    for (const c of f) sum += c;
    f.fill(0, 148, 156);
    field(f, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
    const bad = await build(tarOf(f, file(REAL, VULN)));
    expect(incompleteCodes(bad.inv)).to.deep.equal(['tar-invalid']);
  });

  describe('through the real gate (Distribution registry, skopeo, notifications)', () => {
    let lab: GatedLab;
    let reg: LabRegistry;
    before(async () => {
      lab = await startGatedLab({ regPort: REG_PORT, srvPort: SRV_PORT, token: TOKEN, apiToken: API, tmpPrefix: 'pushgate-tarnames-gate-', policyYaml: [
        'apiVersion: pushgate.dev/v1', 'kind: Policy', 'metadata: {name: tar-names}', 'spec:', '  ruleSets:', '    default:',
        '      onIncomplete: allow', '      rules:', '        - name: adm-zip', '          action: quarantine',
        `          match: {vulnerability: {ids: [${ADVISORY}]}}`, '  default: {ruleSet: default, mode: enforce}', '',
      ].join('\n') });
      reg = lab.reg;
    });
    after(async () => lab?.stop());
    const verdict = (ref: string) => lab.verdict(ref);
    const tags = (repo: string) => lab.tags(repo);

    it('F5a pushed for real: quarantined on the adm-zip advisory even with onIncomplete: allow; the tag is pullable only in quarantine', async () => {
      const r = await build(tarOf(gnuLong('L', REAL), pax([['path', DECOY]]), file('placeholder', VULN)));
      skopeoCopy(`oci:${r.layout}:t`, `${reg.host}/lab/longname:1`);
      const v = await verdict(`${reg.host}/lab/longname:1`);
      expect(v.decision).to.equal('quarantine');
      expect(v.reasons.flatMap((x) => x.findings ?? [])).to.include(ADVISORY);
      expect(await tags('lab/longname')).to.deep.equal([]);
      expect(await tags('quarantine/lab/longname')).to.deep.equal(['1']);
    });

    it('a hard link to a lower adm-zip@0.4.7 whited out after the link, pushed for real: quarantined on the advisory with onIncomplete: allow', async () => {
      const x = 'app/node_modules/x/package.json';
      const upper = Buffer.concat([dir('app/'), dir('app/node_modules/'), dir('app/node_modules/x/'), member({ name: x, typeflag: '1', linkname: REAL }),
        member({ name: 'app/node_modules/.wh.adm-zip' }), END]);
      const r = await build([tarOf(file(REAL, VULN)), upper]);
      skopeoCopy(`oci:${r.layout}:t`, `${reg.host}/lab/hardlink:1`);
      const v = await verdict(`${reg.host}/lab/hardlink:1`);
      expect(v.decision).to.equal('quarantine');
      expect(v.reasons.flatMap((x) => x.findings ?? [])).to.include(ADVISORY);
      expect(await tags('lab/hardlink')).to.deep.equal([]);
    });
  });

  // -------------------------------------------------------------------------------------------
  // Property: random header combinations against a reference model of Go's precedence rules.

  const seg = fc.constantFrom('a', 'b', 'c', 'd.e');
  const rel = fc.array(seg, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
  const combo = fc.record({
    name: rel, prefix: fc.option(fc.constantFrom('p', 'p/q'), { nil: undefined }),
    long: fc.option(rel, { nil: undefined }), paxPath: fc.option(fc.oneof(rel, fc.constant('')), { nil: undefined }),
    typeflag: fc.constantFrom('0', '\0', '2', '1'),
    link: rel, longLink: fc.option(rel, { nil: undefined }), paxLink: fc.option(rel, { nil: undefined }),
    paxFirst: fc.boolean(), gnuMagic: fc.boolean(),
  });
  type Combo = typeof combo extends fc.Arbitrary<infer T> ? T : never;

  /** The header sequence for one combination; the entry's data is its own final name. */
  function combTar(c: Combo): Buffer {
    const meta: Buffer[] = [];
    const recs: Array<[string, string]> = [];
    if (c.paxPath !== undefined) recs.push(['path', c.paxPath]);
    if (c.paxLink !== undefined) recs.push(['linkpath', c.paxLink]);
    const x = recs.length ? [pax(recs)] : [];
    const g = [...(c.long ? [gnuLong('L', c.long)] : []), ...(c.longLink ? [gnuLong('K', c.longLink)] : [])];
    meta.push(...(c.paxFirst ? [...x, ...g] : [...g, ...x]));
    const data = c.typeflag === '0' || c.typeflag === '\0' ? Buffer.from('x') : Buffer.alloc(0);
    return Buffer.concat([...meta, member({ name: c.name, prefix: c.prefix, typeflag: c.typeflag, linkname: c.link, magic: c.gnuMagic ? 'gnu' : 'ustar' }, data)]);
  }

  /**
   * Go's precedence, written out plainly: prefix/name < PAX path < GNU long name. (In a GNU header
   * the prefix bytes are atime/ctime; "p" is no number, so Go reads them as a prefix, as pre-Go1.8
   * writers meant.)
   */
  function model(c: Combo): { name: string; linkname: string; typeflag: string } {
    let name = c.prefix ? `${c.prefix}/${c.name}` : c.name;
    if (c.paxPath) name = c.paxPath;
    if (c.long) name = c.long;
    let linkname = c.link;
    if (c.paxLink) linkname = c.paxLink;
    if (c.longLink) linkname = c.longLink;
    const typeflag = c.typeflag === '\0' ? (name.endsWith('/') ? '5' : '0') : c.typeflag;
    return { name, linkname, typeflag };
  }

  it('property: the resolved name, link name and type match the model of Go precedence (500 runs)', () => {
    fc.assert(fc.property(combo, (c) => {
      const t = Buffer.concat([combTar(c), END]);
      const idx = new GoTarIndex();
      // Feed in odd chunk sizes: the resolution must not depend on how the stream is cut.
      for (let i = 0; i < t.length; i += 97) idx.write(t.subarray(i, i + 97));
      expect(idx.error).to.equal(undefined);
      const off = t.length - 1024 - (c.typeflag === '0' || c.typeflag === '\0' ? 512 : 0);
      const e = idx.take(off);
      expect(e, 'entry at its data offset').to.not.equal(undefined);
      expect({ name: e!.name, linkname: e!.linkname, typeflag: e!.typeflag }).to.deep.equal(model(c));
    }), { numRuns: 500 });
  });

  // Hard links among files a layer writes, rewrites and replaces, in any order: the npm packages
  // pushgate reports equal the ones umoci unpacks, or the scan says it cannot tell.
  const slot = fc.constantFrom('a', 'b', 'c');
  const op = fc.oneof(
    fc.record({ k: fc.constant('file' as const), at: slot, v: fc.constantFrom('0.4.7', '0.5.10', '0.4.9') }),
    fc.record({ k: fc.constant('link' as const), at: slot, to: slot }),
    fc.record({ k: fc.constant('dir' as const), at: slot }),
  );
  const slotPath = (x: string): string => `app/node_modules/${x}/package.json`;

  it('property: hard links, rewrites and replacements in one layer: pushgate reports the packages umoci unpacks (25 runs)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 7 }), async (ops) => {
      const entries = [dir('app/node_modules/a/'), dir('app/node_modules/b/'), dir('app/node_modules/c/')];
      for (const o of ops) {
        if (o.k === 'file') entries.push(file(slotPath(o.at), Buffer.from(JSON.stringify({ name: `p-${o.at}`, version: o.v }))));
        else if (o.k === 'link') entries.push(member({ name: slotPath(o.at), typeflag: '1', linkname: slotPath(o.to) }));
        else entries.push(member({ name: `${slotPath(o.at)}/`, typeflag: '5' }));
      }
      const r = await build(tarOf(...entries));
      if (!r.rootfs) return; // a link to nothing: Go's unpackers refuse the layer
      const disk = npmOnDisk(r.rootfs);
      if (incompleteCodes(r.inv).includes('package-db-link')) return;
      expect(npmSet(r.inv), JSON.stringify(ops)).to.deep.equal(disk);
    }), { numRuns: 25 });
  });

  // Two layers: the lower writes a package in every slot and a directory symlink `s` to one of
  // them; the upper links to them (directly or through `s`), whites them out, rewrites and
  // replaces them, in any order.
  const version = fc.constantFrom('0.4.7', '0.5.10');
  const upperOp = fc.oneof(op,
    fc.record({ k: fc.constant('whiteout' as const), at: slot, whole: fc.boolean() }),
    fc.record({ k: fc.constant('vialink' as const), at: slot }));

  it('property: hard links across layers with whiteouts and rewrites: pushgate reports the packages umoci unpacks (30 runs)', async () => {
    await fc.assert(fc.asyncProperty(fc.tuple(version, version, version), slot, fc.array(upperOp, { minLength: 1, maxLength: 5 }), async (vs, sTo, up) => {
      const lower = [dir('app/'), dir('app/node_modules/'), member({ name: 'app/node_modules/s', typeflag: '2', linkname: sTo })];
      ['a', 'b', 'c'].forEach((at, i) => lower.push(dir(`app/node_modules/${at}/`), file(slotPath(at), Buffer.from(JSON.stringify({ name: `p-${at}`, version: vs[i] })))));
      const upper = [dir('app/'), dir('app/node_modules/')];
      for (const o of up) {
        if (o.k === 'file') upper.push(file(slotPath(o.at), Buffer.from(JSON.stringify({ name: `p-${o.at}`, version: o.v }))));
        else if (o.k === 'link') upper.push(member({ name: slotPath(o.at), typeflag: '1', linkname: slotPath(o.to) }));
        else if (o.k === 'vialink') upper.push(member({ name: slotPath(o.at), typeflag: '1', linkname: 'app/node_modules/s/package.json' }));
        else if (o.k === 'dir') upper.push(member({ name: `${slotPath(o.at)}/`, typeflag: '5' }));
        else upper.push(member({ name: o.whole ? `app/node_modules/.wh.${o.at}` : `app/node_modules/${o.at}/.wh.package.json` }));
      }
      const r = await build([Buffer.concat([...lower, END]), Buffer.concat([...upper, END])]);
      if (!r.rootfs) return; // a link to a path whited out before it: refused by Go's unpackers
      const codes = incompleteCodes(r.inv);
      if (codes.includes('package-db-link') || codes.includes('entry-through-link') || codes.includes('ambiguous-whiteout')) return;
      // The symlink `s` is an alias of a slot, not a package of its own: read the slots.
      const disk = ['a', 'b', 'c'].flatMap((at) => {
        try {
          const j = JSON.parse(fs.readFileSync(path.join(r.rootfs!, slotPath(at)), 'utf8')) as { name: string; version: string };
          return [`${j.name}@${j.version}`];
        } catch {
          return [];
        }
      }).sort();
      expect(npmSet(r.inv), `${JSON.stringify(vs)} s→${sTo} / ${JSON.stringify(up)}`).to.deep.equal(disk);
    }), { numRuns: 30 });
  });

  it('property: for regular files, pushgate scans exactly the paths umoci unpacks (12 runs)', async () => {
    await fc.assert(fc.asyncProperty(combo.filter((c) => c.typeflag === '0'), async (c) => {
      const r = await build(Buffer.concat([combTar(c), END]), [everyFile]);
      expect(r.rootfs, 'umoci unpacked').to.be.a('string');
      const onDisk: string[] = [];
      const walk = (d: string, rel: string): void => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = `${rel}/${e.name}`;
          if (e.isDirectory()) walk(path.join(d, e.name), p);
          else if (e.isFile()) onDisk.push(p);
        }
      };
      walk(r.rootfs!, '');
      expect(r.inv.packages.map((p) => p.name).sort()).to.deep.equal(onDisk.sort());
      expect(r.inv.packages.map((p) => p.name)).to.deep.equal([`/${model(c).name}`]);
    }), { numRuns: 12 });
  });
});
