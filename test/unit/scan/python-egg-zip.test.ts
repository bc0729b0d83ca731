/**
 * A vulnerable distribution shipped as a zipped egg (`urllib3-1.26.0-py3.11.egg`, a zip with
 * `EGG-INFO/PKG-INFO`, put on `sys.path` by easy-install.pth or any `.pth`) is reported by
 * importlib.metadata and by pip, and was not read by the scanner at all: only metadata files and
 * `.egg` directories were. The oracles are the real python3's importlib.metadata (the egg on the
 * path) and pip's environment (the egg in a site directory), over generated zips written by
 * python3's own zipfile.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { ANALYZERS } from '../../../src/scan/analyzers/index.js';
import { normalizePythonName } from '../../../src/scan/purl.js';
import { scanLayers, storedZip } from './layout-helper.js';

const REAL = 'Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.0\n';
const TEXTS: Record<string, string> = { real: REAL, decoy: 'Metadata-Version: 2.1\nName: decoy\nVersion: 9.9\n', other: 'Metadata-Version: 2.1\nName: urllib3\nVersion: 2.0.0\n', empty: '' };

function spell(word: string, flips: boolean[]): string {
  return [...word].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c.toLowerCase())).join('');
}

/** A zipped egg as easy_install writes one, and the ways a pusher may spell it. */
const EGG = fc.record({
  stem: fc.constantFrom('urllib3-1.26.0-py3.11', 'urllib3-1.26.0', 'urllib3', 'url_lib3-1.26.0-py3.11-linux_x86_64', 'x', 'urllib3-1.25.0-py3.11'),
  ext: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  entries: fc.array(fc.record({
    dir: fc.constantFrom('egg-info', 'urllib3-1.26.0.dist-info', 'urllib3.egg-info', 'inner-2.0.0.egg/egg-info', 'sub/x.dist-info', 'other', ''),
    flips: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    file: fc.constantFrom('METADATA', 'PKG-INFO'),
    text: fc.constantFrom('real', 'decoy', 'other', 'empty'),
  }), { minLength: 0, maxLength: 4 }),
});

describe('python zipped eggs: what importlib.metadata and pip read from a .egg zip', () => {
  it('reports every distribution the real python3 reads from a generated zipped egg', async function () {
    this.timeout(180_000);
    const eggs = fc.sample(EGG, 150);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pyegg-'));
    try {
      const specs = eggs.map((g, i) => ({
        zip: path.join(dir, `s${i}`, `${g.stem}${spell('.egg', g.ext)}`),
        entries: g.entries.map((e) => [`${e.dir ? `${spell(e.dir, e.flips)}/` : ''}${e.file}`, TEXTS[e.text]!]),
      }));
      const r = spawnSync('python3', ['-W', 'ignore', '-c', `
import sys, os, json, zipfile, importlib.metadata as m
from pip._internal.metadata import get_environment
for s in json.load(sys.stdin):
    os.makedirs(os.path.dirname(s["zip"]), exist_ok=True)
    with zipfile.ZipFile(s["zip"], "w", zipfile.ZIP_DEFLATED) as z:
        for n, t in s["entries"]: z.writestr(n, t)
    imp = [[d.metadata["Name"], d.metadata["Version"]] for d in m.distributions(path=[s["zip"]])]
    pip = []
    try:
        for d in get_environment([os.path.dirname(s["zip"])]).iter_all_distributions():
            try: pip.append([d.raw_name, str(d.version)])
            except Exception: pass
    except Exception: pass
    print(json.dumps({"imp": [x for x in imp if x[0] and x[1]], "pip": pip}))
`], { input: JSON.stringify(specs), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      expect(r.status, r.stderr).to.equal(0);
      const got = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { imp: Array<[string, string]>; pip: Array<[string, string]> });
      const egg = ANALYZERS.find((a) => a.name === 'lang/python-egg');
      expect(egg, 'an analyzer for zipped eggs').to.not.equal(undefined);
      const bad: string[] = [];
      let reported = 0;
      for (const [i, s] of specs.entries()) {
        const p = `/site/${path.basename(s.zip)}`;
        const info = { path: p, size: fs.statSync(s.zip).size, mode: 0o644 };
        expect(egg!.wants(info), p).to.equal(true);
        const out = await egg!.analyze!({ ...info, content: Buffer.alloc(0), file: s.zip }, { tmpDir: dir } as never);
        expect(out?.diagnostics ?? [], p).to.deep.equal([]);
        const found = new Set((out?.packages ?? []).map((q) => `${normalizePythonName(q.name)} ${q.version}`));
        for (const [n, v] of [...got[i]!.imp, ...got[i]!.pip]) {
          reported++;
          if (!found.has(`${normalizePythonName(n)} ${v}`)) bad.push(`${JSON.stringify(s)}: python reads ${n} ${v}, the scanner ${JSON.stringify([...found])}`);
        }
      }
      expect(bad, bad.slice(0, 5).join('\n')).to.deep.equal([]);
      expect(reported, 'the generated eggs hold distributions python reads').to.be.greaterThan(50);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a scanned image with a zipped egg in site-packages reports its distribution', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pyegg-scan-'));
    try {
      const inv = await scanLayers(tmp, 'egg', [[
        { name: 'usr/lib/python3.11/site-packages/urllib3-1.26.0-py3.11.egg', content: storedZip({ 'EGG-INFO/PKG-INFO': REAL, 'urllib3/__init__.py': '' }) },
        { name: 'usr/lib/python3.11/site-packages/easy-install.pth', content: './urllib3-1.26.0-py3.11.egg\n' },
      ]]);
      expect(inv.packages.map((p) => `${p.name}@${p.version} ${p.path}`)).to.deep.equal(['urllib3@1.26.0 /usr/lib/python3.11/site-packages/urllib3-1.26.0-py3.11.egg!/EGG-INFO/PKG-INFO']);
      expect(inv.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a zipped egg and an .egg directory hard-linked under a versioned name are read as pip reads that name', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pyegg-link-'));
    const decoy = 'Metadata-Version: 2.1\nName: urllib3\nVersion: 9.9\n';
    try {
      const inv = await scanLayers(tmp, 'egg-link', [[
        { name: 'site/x.egg', content: storedZip({ 'EGG-INFO/PKG-INFO': decoy }) },
        { name: 'site/urllib3-1.26.0-py3.11.egg', type: 'link', linkname: 'site/x.egg' },
        { name: 'dirs/y.egg/EGG-INFO/PKG-INFO', content: decoy },
        { name: 'dirs/urllib3-1.25.0-py3.11.egg/EGG-INFO/PKG-INFO', type: 'link', linkname: 'dirs/y.egg/EGG-INFO/PKG-INFO' },
      ]]);
      const found = inv.packages.map((p) => `${p.name}@${p.version}`);
      expect(found).to.include.members(['urllib3@9.9', 'urllib3@1.26.0', 'urllib3@1.25.0']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a .egg zip that cannot be read but that Python may open makes the scan incomplete; a file that is no zip gives nothing', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pyegg-bad-'));
    try {
      const good = storedZip({ 'EGG-INFO/PKG-INFO': REAL });
      // The central directory's offset in the end record pointed past the file: yauzl refuses it.
      const broken = Buffer.from(good);
      broken.writeUInt32LE(0x7fffffff, broken.length - 6);
      const inv = await scanLayers(tmp, 'egg-bad', [[
        { name: 'site/a-1.0.egg', content: broken },
        { name: 'site/b-1.0.egg', content: 'not a zip at all' },
      ]]);
      expect(inv.diagnostics.filter((d) => d.incomplete).map((d) => `${d.code} ${d.path}`)).to.deep.equal(['parse-error /site/a-1.0.egg']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a zipped egg with data before the zip (a self-extracting archive, a decoy central directory where yauzl looks) is read as Python reads it', async function () {
    // Python's zipfile and zipimport add the bytes before the zip (end record position less the
    // central directory's size and offset) to every offset; a reader that takes the offsets from the
    // file's start reads whatever the prepended bytes hold there: a decoy directory naming nothing.
    this.timeout(180_000);
    const cases = fc.sample(fc.record({ egg: EGG, pad: fc.nat({ max: 70_000 }), decoy: fc.boolean(), zip64: fc.boolean() }), 60);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pyegg-sfx-'));
    try {
      const specs = cases.map((c, i) => ({
        zip: path.join(dir, `s${i}`, `${c.egg.stem}${spell('.egg', c.egg.ext)}`),
        entries: c.egg.entries.map((e) => [`${e.dir ? `${spell(e.dir, e.flips)}/` : ''}${e.file}`, TEXTS[e.text]!]),
        pad: c.pad, decoy: c.decoy, zip64: c.zip64,
      }));
      const r = spawnSync('python3', ['-W', 'ignore', '-c', `
import sys, os, io, json, struct, zipfile, importlib.metadata as m
from pip._internal.metadata import get_environment
def z(entries, zip64=False):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as f:
        for n, t in entries:
            with f.open(n, "w", force_zip64=zip64) as w: w.write(t.encode())
    return b.getvalue()
for s in json.load(sys.stdin):
    os.makedirs(os.path.dirname(s["zip"]), exist_ok=True)
    real = z(s["entries"], s["zip64"])
    e = real.rfind(b"PK\\x05\\x06"); off = struct.unpack("<I", real[e+16:e+20])[0]
    pre = bytes([0x5a]) * s["pad"]
    d = z([["readme.txt", "hi"]]); de = d.rfind(b"PK\\x05\\x06"); dsize, doff = struct.unpack("<II", d[de+12:de+20])
    if s["decoy"] and doff <= off: pre = d[:doff] + bytes(off - doff) + d[doff:doff+dsize]
    with open(s["zip"], "wb") as f: f.write(pre + real)
    imp = [[x.metadata["Name"], x.metadata["Version"]] for x in m.distributions(path=[s["zip"]])]
    pip = []
    try:
        for x in get_environment([os.path.dirname(s["zip"])]).iter_all_distributions():
            try: pip.append([x.raw_name, str(x.version)])
            except Exception: pass
    except Exception: pass
    print(json.dumps({"imp": [x for x in imp if x[0] and x[1]], "pip": pip}))
`], { input: JSON.stringify(specs), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      expect(r.status, r.stderr).to.equal(0);
      const got = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { imp: Array<[string, string]>; pip: Array<[string, string]> });
      const egg = ANALYZERS.find((a) => a.name === 'lang/python-egg')!;
      const bad: string[] = [];
      let reported = 0;
      for (const [i, s] of specs.entries()) {
        const p = `/site/${path.basename(s.zip)}`;
        const info = { path: p, size: fs.statSync(s.zip).size, mode: 0o644 };
        const out = await egg.analyze!({ ...info, content: Buffer.alloc(0), file: s.zip }, { tmpDir: dir } as never);
        const found = new Set((out?.packages ?? []).map((q) => `${normalizePythonName(q.name)} ${q.version}`));
        for (const [n, v] of [...got[i]!.imp, ...got[i]!.pip]) {
          reported++;
          if (!found.has(`${normalizePythonName(n)} ${v}`)) bad.push(`${JSON.stringify({ ...s, entries: s.entries.map((x) => x[0]) })}: python reads ${n} ${v}, the scanner ${JSON.stringify([...found])} ${JSON.stringify(out?.diagnostics ?? [])}`);
        }
      }
      expect(bad, bad.slice(0, 5).join('\n')).to.deep.equal([]);
      expect(reported, 'the generated eggs hold distributions python reads').to.be.greaterThan(15);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an egg of entries with the longest names a zip holds costs time in proportion to its names, whatever their directories', async function () {
    // An entry name may be 65,535 bytes; a walk that joined the prefix of each of its directories cost
    // the square of that per entry (15 s for one `a/a/…` name).
    this.timeout(60_000);
    const SEGS = ['a', 'a.egg', 'A.EGG', 'a-1.egg-info', 'x-1.dist-info', 'egg-info'];
    const shapes = fc.sample(fc.array(fc.constantFrom(...SEGS), { minLength: 1, maxLength: 3 }), 12);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pyegg-deep-'));
    try {
      const file = path.join(dir, 'deep-1.0.egg');
      const names = shapes.map((segs, k) => {
        let n = '';
        for (let j = 0; `${n}${segs[j % segs.length]!}/`.length < 65_000; j++) n += `${segs[j % segs.length]!}/`;
        return `${n}${k}`;
      });
      fs.writeFileSync(file, storedZip(Object.fromEntries(names.map((n) => [n, '']))));
      const egg = ANALYZERS.find((a) => a.name === 'lang/python-egg')!;
      const t = Date.now();
      await egg.analyze!({ path: '/site/deep-1.0.egg', size: fs.statSync(file).size, mode: 0o644, content: Buffer.alloc(0), file }, { tmpDir: dir } as never);
      // Linear work is well under a second here; the square was minutes.
      expect(Date.now() - t).to.be.lessThan(10_000);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A stored zip whose one entry has the name field `raw` and, when `unicode` is given, an Info-ZIP Unicode Path extra field (0x7075) naming it `unicode` (its CRC over `raw`, so yauzl and libzip take it). */
function zipWithNames(raw: Buffer, unicode: string | string[] | undefined, data: Buffer): Buffer {
  const field = (name: string): Buffer => {
    const f = Buffer.concat([Buffer.from([0x75, 0x70, 0, 0, 1, 0, 0, 0, 0]), Buffer.from(name)]);
    f.writeUInt16LE(f.length - 4, 2);
    f.writeUInt32LE(zlib.crc32(raw), 5);
    return f;
  };
  const extra = Buffer.concat((unicode === undefined ? [] : Array.isArray(unicode) ? unicode : [unicode]).map(field));
  const crc = zlib.crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18); local.writeUInt32LE(data.length, 22); local.writeUInt16LE(raw.length, 26); local.writeUInt16LE(extra.length, 28);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20); central.writeUInt32LE(data.length, 24); central.writeUInt16LE(raw.length, 28); central.writeUInt16LE(extra.length, 30);
  const lh = Buffer.concat([local, raw, extra, data]);
  const cd = Buffer.concat([central, raw, extra]);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(1, 8); end.writeUInt16LE(1, 10); end.writeUInt32LE(cd.length, 12); end.writeUInt32LE(lh.length, 16);
  return Buffer.concat([lh, cd, end]);
}

describe('python zipped eggs: the entry names Python\'s zipfile reads and yauzl does not', () => {
  it('property: an EGG-INFO/PKG-INFO named with a NUL tail or renamed by a Unicode Path field is read by importlib.metadata, and reported (fast-check, real python3)', async function () {
    this.timeout(120_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pyegg-names-'));
    try {
      const cases = fc.sample(fc.record({
        tail: fc.constantFrom('', '\0', '\0x', '\0/junk'),
        unicode: fc.constantFrom(undefined, 'junk/README', 'EGG-INFO/other', 'x'),
        version: fc.integer({ min: 0, max: 30 }).map((m) => `2.${m}.0`),
      }), 25);
      const specs = cases.map((c, i) => {
        const zip = path.join(dir, `s${i}`, 'zzpkg-1.0-py3.11.egg');
        fs.mkdirSync(path.dirname(zip));
        fs.writeFileSync(zip, zipWithNames(Buffer.from(`EGG-INFO/PKG-INFO${c.tail}`), c.unicode, Buffer.from(`Metadata-Version: 2.1\nName: zzpkg\nVersion: ${c.version}\n\n`)));
        return { zip, c };
      });
      const r = spawnSync('python3', ['-W', 'ignore', '-c', `
import sys, json, importlib.metadata as m
for z in json.load(sys.stdin):
    print(json.dumps([[d.metadata["Name"], d.metadata["Version"]] for d in m.distributions(path=[z])]))
`], { input: JSON.stringify(specs.map((s) => s.zip)), encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      const got = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Array<[string, string]>);
      const egg = ANALYZERS.find((a) => a.name === 'lang/python-egg')!;
      for (const [i, s] of specs.entries()) {
        expect(got[i], JSON.stringify(s.c)).to.deep.equal([['zzpkg', s.c.version]]);
        const info = { path: '/site/zzpkg-1.0-py3.11.egg', size: fs.statSync(s.zip).size, mode: 0o644 };
        const out = await egg.analyze!({ ...info, content: Buffer.alloc(0), file: s.zip }, { tmpDir: dir } as never);
        const found = (out?.packages ?? []).map((q) => `${q.name} ${q.version}`);
        expect(found, JSON.stringify(s.c)).to.include(`zzpkg ${s.c.version}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('python zipped eggs: Unicode Path names as newer CPython reads them', () => {
  // CPython 3.12+ zipfile (gh-86094) also names an entry by its 0x7075 field, cut at the first NUL, the
  // last valid field of several, where yauzl takes the first and keeps the NUL. Only python3 3.11 is here:
  // the rule is taken from CPython's source, and the property asks that every such reading is reported.
  it('property: the metadata named by any 0x7075 field, NUL-tailed or not, first or last of several, is reported (fast-check)', async function () {
    this.timeout(120_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pyegg-7075-'));
    const egg = ANALYZERS.find((a) => a.name === 'lang/python-egg')!;
    let n = 0;
    try {
      await fc.assert(fc.asyncProperty(
        fc.array(fc.constantFrom('zz/a', 'junk/README', 'x'), { maxLength: 2 }), fc.nat(2), fc.constantFrom('', '\0', '\0x'), fc.integer({ min: 0, max: 30 }),
        async (others, at, tail, minor) => {
          const fields: string[] = [...others];
          fields.splice(Math.min(at, fields.length), 0, `EGG-INFO/PKG-INFO${tail}`);
          const version = `3.${minor}.0`;
          const zip = path.join(dir, `s${n++}`, 'zzpkg-1.0-py3.11.egg');
          fs.mkdirSync(path.dirname(zip));
          fs.writeFileSync(zip, zipWithNames(Buffer.from('junk'), fields, Buffer.from(`Metadata-Version: 2.1\nName: zzpkg\nVersion: ${version}\n\n`)));
          const info = { path: '/site/zzpkg-1.0-py3.11.egg', size: fs.statSync(zip).size, mode: 0o644 };
          const out = await egg.analyze!({ ...info, content: Buffer.alloc(0), file: zip }, { tmpDir: dir } as never);
          expect((out?.packages ?? []).map((q) => `${q.name} ${q.version}`), JSON.stringify(fields)).to.include(`zzpkg ${version}`);
        },
      ), { numRuns: 40, examples: [[[], 0, '\0x', 1], [['zz/a'], 1, '', 2]] });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
