/**
 * A zip on `sys.path` that is not an egg: `PYTHONPATH=/app/deps.zip`, a `.pth` line naming a wheel, or
 * `python app.pyz` (a zipapp is `sys.path[0]`). importlib.metadata lists the `*.dist-info` and
 * `*.egg-info` directories at such a zip's top, and Python imports the code beside them: urllib3 1.26.0
 * in `/app/deps.zip` ran (and `importlib.metadata.version("urllib3")` said 1.26.0) while the scan read no
 * `.zip`, `.whl` or `.pyz` file and was complete. Oracle: the real python3's importlib.metadata over zips
 * written by its own zipfile, and python3 importing the module from the zip.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { ANALYZERS } from '../../../src/scan/analyzers/index.js';
import { normalizePythonName } from '../../../src/scan/purl.js';
import { scanLayers, storedZip } from './layout-helper.js';

const REAL = 'Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.0\n';
const TEXTS: Record<string, string> = { real: REAL, other: 'Metadata-Version: 2.1\nName: requests\nVersion: 2.19.0\n', empty: '' };

function spell(word: string, flips: boolean[]): string {
  return [...word].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c.toLowerCase())).join('');
}

const ZIP = fc.record({
  stem: fc.constantFrom('deps', 'app', 'urllib3-1.26.0-py3-none-any', 'vendor'),
  ext: fc.constantFrom('.zip', '.whl', '.pyz'),
  flips: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  entries: fc.array(fc.record({
    dir: fc.constantFrom('urllib3-1.26.0.dist-info', 'urllib3.egg-info', 'requests-2.19.0.dist-info', 'sub/x.dist-info', 'other'),
    flips: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    file: fc.constantFrom('METADATA', 'PKG-INFO'),
    text: fc.constantFrom('real', 'other', 'empty'),
  }), { minLength: 1, maxLength: 4 }),
});

describe('python: zips on sys.path other than eggs (.zip, .whl, .pyz)', () => {
  it('property: every distribution the real python3 lists from a generated zip on its path is reported, complete (fast-check)', async function () {
    this.timeout(180_000);
    const zips = fc.sample(ZIP, 120);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pyzip-'));
    try {
      const specs = zips.map((g, i) => ({
        zip: path.join(dir, `s${i}`, `${g.stem}${spell(g.ext, g.flips)}`),
        entries: g.entries.map((e) => [`${spell(e.dir, e.flips)}/${e.file}`, TEXTS[e.text]!]),
      }));
      const r = spawnSync('python3', ['-W', 'ignore', '-c', `
import sys, os, json, zipfile, importlib.metadata as m
for s in json.load(sys.stdin):
    os.makedirs(os.path.dirname(s["zip"]), exist_ok=True)
    with zipfile.ZipFile(s["zip"], "w", zipfile.ZIP_DEFLATED) as z:
        for n, t in s["entries"]: z.writestr(n, t)
    print(json.dumps([[d.metadata["Name"], d.metadata["Version"]] for d in m.distributions(path=[s["zip"]]) if d.metadata["Name"] and d.metadata["Version"]]))
`], { input: JSON.stringify(specs), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      expect(r.status, r.stderr).to.equal(0);
      const got = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Array<[string, string]>);
      const analyzer = ANALYZERS.find((a) => a.name === 'lang/python-egg')!;
      const bad: string[] = [];
      let reported = 0;
      for (const [i, s] of specs.entries()) {
        const p = `/app/${path.basename(s.zip)}`;
        const info = { path: p, size: fs.statSync(s.zip).size, mode: 0o644 };
        expect(analyzer.wants(info), p).to.equal(true);
        const out = await analyzer.analyze!({ ...info, content: Buffer.alloc(0), file: s.zip }, { tmpDir: dir } as never);
        expect(out?.diagnostics ?? [], p).to.deep.equal([]);
        const found = new Set((out?.packages ?? []).map((q) => `${normalizePythonName(q.name)} ${q.version}`));
        for (const [n, v] of got[i]!) {
          reported++;
          if (!found.has(`${normalizePythonName(n)} ${v}`)) bad.push(`${JSON.stringify(s)}: python lists ${n} ${v}, the scanner ${JSON.stringify([...found])}`);
        }
        // no name is taken from the file name of a zip that is no egg (pip reads none)
        for (const q of out?.packages ?? []) expect(['urllib3', 'requests'], p).to.include(normalizePythonName(q.name));
      }
      expect(bad, bad.slice(0, 5).join('\n')).to.deep.equal([]);
      expect(reported, 'the generated zips hold distributions python lists').to.be.greaterThan(30);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an image whose PYTHONPATH zip holds urllib3 1.26.0 (imported by the real python3 from it) reports it', async function () {
    this.timeout(60_000);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pyzip-scan-'));
    try {
      const zip = storedZip({ 'urllib3-1.26.0.dist-info/METADATA': REAL, 'urllib3/__init__.py': '__version__ = "1.26.0"\n' });
      fs.writeFileSync(path.join(tmp, 'deps.zip'), zip);
      const ran = spawnSync('python3', ['-I', '-c', 'import sys; sys.path.insert(0, sys.argv[1]); import urllib3, importlib.metadata as m; print(urllib3.__file__, m.version("urllib3"))', path.join(tmp, 'deps.zip')], { encoding: 'utf8' });
      expect(ran.stdout.trim(), ran.stderr).to.equal(`${path.join(tmp, 'deps.zip')}/urllib3/__init__.py 1.26.0`);
      const inv = await scanLayers(tmp, 'pyzip', [[{ name: 'app/deps.zip', content: zip }]]);
      expect(inv.packages.map((p) => `${p.name}@${p.version} ${p.path}`)).to.deep.equal(['urllib3@1.26.0 /app/deps.zip!/urllib3-1.26.0.dist-info/METADATA']);
      expect(inv.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a .zip that cannot be read is incomplete only when it names a metadata directory', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pyzip-bad-'));
    try {
      const analyzer = ANALYZERS.find((a) => a.name === 'lang/python-egg')!;
      // an end record and nothing a zip reader takes
      const broken = (names: string) => Buffer.concat([Buffer.from(names), Buffer.from('PK\x05\x06', 'latin1'), Buffer.alloc(18, 0xff)]);
      for (const [name, content, incomplete] of [['a.zip', broken('urllib3-1.26.0.DIST-INFO/METADATA'), true], ['b.zip', broken('just data'), false], ['c.egg', broken('just data'), true]] as const) {
        const f = path.join(tmp, name);
        fs.writeFileSync(f, content);
        const out = await analyzer.analyze!({ path: `/app/${name}`, size: content.length, mode: 0o644, content: Buffer.alloc(0), file: f }, { tmpDir: tmp } as never);
        expect((out?.diagnostics ?? []).some((d) => d.incomplete), name).to.equal(incomplete);
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
