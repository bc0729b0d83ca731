/**
 * A pusher hides a vulnerable Python distribution from the scanner while importlib.metadata (and pip,
 * which reads through it) still reports it: metadata under a directory named `URLLIB3-1.26.0.DIST-INFO`
 * (importlib.metadata lower-cases every name it lists), in `PKG-INFO` beside an empty `METADATA`, in
 * `METADATA` of an `.egg-info` directory, in `EGG-INFO` of an `.egg` directory (easy_install also writes
 * these), or in a file named `….dist-info`; or a header block the scanner read differently from
 * Python's email parser (a continuation line where no field is open, `' Name: decoy'` first, was a
 * `Name` field to the scanner, so urllib3 1.26.0 became a package named `decoy…`). The oracle is the
 * real python3's importlib.metadata and pip on generated files and layouts.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { parseCoreMetadata, parsePythonMetadata, pythonAnalyzer } from '../../../src/scan/analyzers/python.js';
import { normalizePythonName } from '../../../src/scan/purl.js';

/** Runs `script` (which prints one JSON value per line) with python3 and returns the values. */
function python(script: string, args: string[]): unknown[] {
  const r = spawnSync('python3', ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown);
}

/** A value as the analyzer reports it: each line trimmed (see parseCoreMetadata). */
function trimmed(v: unknown): string | null {
  return typeof v === 'string' ? v.split('\n').map((l) => l.trim()).join('\n') : null;
}

/** Lines that look like fields to a reader that does not follow the email parser's rules. */
const LINE = fc.oneof(
  fc.constantFrom('Metadata-Version: 2.1', 'Name: urllib3', 'Version: 1.26.0', 'NAME: upper', 'version:2.0', 'Summary: s'),
  fc.constantFrom(' Name: decoy', '\tVersion: 9.9', ' more', '\t', ':x', ':Name: decoy', 'From x', 'From Name: decoy', 'From: me'),
  fc.constantFrom('Name : decoy', 'garbage', '', 'Näme: decoy', 'Name\u00a0: decoy', 'Version :0.1'),
  fc.tuple(fc.constantFrom('Name:', 'Version:', ' ', '\t', 'X-', ':'), fc.stringMatching(/^[ a-z0-9.:\t-]{0,6}$/)).map(([a, b]) => a + b),
);
const EOL = fc.constantFrom('\n', '\r\n', '\r');
const TEXT = fc.array(fc.tuple(LINE, EOL), { minLength: 1, maxLength: 9 }).map((ls) => ls.map(([l, e]) => l + e).join(''));

describe('python metadata: the header block and the layouts importlib.metadata reads', () => {
  it('reads Name and Version as the email parser does (real python3, generated header blocks)', function () {
    this.timeout(120_000);
    const texts = fc.sample(TEXT, 400);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pyh-'));
    try {
      texts.forEach((t, i) => {
        fs.mkdirSync(path.join(dir, `s${i}`, `d${i}.dist-info`), { recursive: true });
        fs.writeFileSync(path.join(dir, `s${i}`, `d${i}.dist-info`, 'METADATA'), t);
      });
      const got = python(
        'import sys, json, importlib.metadata as m\n'
        + `for i in range(${texts.length}):\n`
        + '    d = list(m.distributions(path=[sys.argv[1] + "/s%d" % i]))[0]\n'
        + '    print(json.dumps([d.metadata["Name"], d.metadata["Version"]]))\n',
        [dir],
      ) as Array<[unknown, unknown]>;
      const bad: string[] = [];
      texts.forEach((t, i) => {
        const [n, v] = [trimmed(got[i]![0]), trimmed(got[i]![1])];
        const want = n && v ? { name: n, version: v } : undefined;
        const p = parsePythonMetadata(t, '/x/METADATA');
        const have = p ? { name: p.name, version: p.version } : undefined;
        if (JSON.stringify(have) !== JSON.stringify(want)) bad.push(`${JSON.stringify(t)}: python ${JSON.stringify(want)}, scanner ${JSON.stringify(have)}`);
      });
      expect(bad, bad.slice(0, 5).join('\n')).to.deep.equal([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the first of a repeated field and never reads a continuation as a field (fast-check)', () => {
    fc.assert(fc.property(fc.constantFrom(' ', '\t'), fc.stringMatching(/^[a-z]{1,8}$/), (ws, decoy) => {
      const h = parseCoreMetadata(`${ws}Name: ${decoy}\nName: urllib3\n:x\n${ws}Name: ${decoy}\nVersion: 1.26.0\n`);
      expect(h).to.include({ name: 'urllib3', version: '1.26.0' });
    }));
  });

  /** A distribution laid out as importlib.metadata's Lookup may find it. */
  const LAYOUT = fc.record({
    kind: fc.constantFrom('dist-info', 'egg-info', 'egg', 'dist-info-file', 'egg-info-file', 'egg-file'),
    upper: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
    metadata: fc.constantFrom('absent', 'empty', 'real', 'decoy'),
    pkgInfo: fc.constantFrom('absent', 'empty', 'real', 'decoy'),
  });
  const REAL = 'Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.0\n';
  const DECOY = 'Metadata-Version: 2.1\nName: decoy\nVersion: 9.9\n';

  function spell(word: string, upper: boolean[]): string {
    return [...word].map((c, i) => (upper[i % upper.length] ? c.toUpperCase() : c)).join('');
  }

  it('reads every file importlib.metadata may read a distribution from (real python3, generated layouts)', function () {
    this.timeout(120_000);
    const layouts = fc.sample(LAYOUT, 200);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pyl-'));
    const content = (c: string): string | undefined => (c === 'absent' ? undefined : c === 'empty' ? '' : c === 'real' ? REAL : DECOY);
    try {
      const files: Array<Array<{ rel: string; text: string }>> = [];
      const entries: string[] = [];
      layouts.forEach((l, i) => {
        const site = path.join(dir, `s${i}`);
        let entry = site;
        let info: string;
        if (l.kind === 'egg' || l.kind === 'egg-file') {
          entry = path.join(site, `urllib3-1.26.0-py3${spell('.egg', l.upper)}`);
          info = path.join(entry, spell('EGG-INFO', l.upper.slice(3)));
        } else {
          info = path.join(site, `urllib3-1.26.0${spell(l.kind.startsWith('dist') ? '.dist-info' : '.egg-info', l.upper)}`);
        }
        entries.push(entry);
        const mine: Array<{ rel: string; text: string }> = [];
        if (l.kind.endsWith('-file')) {
          fs.mkdirSync(path.dirname(info), { recursive: true });
          fs.writeFileSync(info, content(l.metadata) ?? REAL);
          mine.push({ rel: info, text: content(l.metadata) ?? REAL });
        } else {
          fs.mkdirSync(info, { recursive: true });
          for (const [name, c] of [['METADATA', l.metadata], ['PKG-INFO', l.pkgInfo]] as const) {
            const t = content(c);
            if (t === undefined) continue;
            fs.writeFileSync(path.join(info, name), t);
            mine.push({ rel: path.join(info, name), text: t });
          }
        }
        files.push(mine);
      });
      // importlib.metadata with the entry on the path, and pip's environment over the site directory
      // (pip reads a site directory's `.egg` directories through pkg_resources, named by the directory).
      const got = python(
        'import sys, re, json, warnings, importlib.metadata as m\n'
        + 'warnings.simplefilter("ignore")\n'
        + 'from pip._internal.metadata import get_environment\n'
        + 'for e in sys.argv[1:]:\n'
        + '    pip = []\n'
        + '    for d in get_environment([re.match(r"(.*/s[0-9]+)(/|$)", e).group(1)]).iter_all_distributions():\n'
        + '        try: pip.append([d.raw_name, str(d.version)])\n'
        + '        except Exception: pass\n'
        + '    print(json.dumps([[d.metadata["Name"], d.metadata["Version"]] for d in m.distributions(path=[e]) if d.metadata["Name"]] + pip))\n',
        entries,
      ) as Array<Array<[string, string]>>;
      const bad: string[] = [];
      layouts.forEach((l, i) => {
        const found = new Set<string>();
        for (const f of files[i]!) {
          const p = '/' + path.relative(dir, f.rel).split(path.sep).join('/');
          if (!pythonAnalyzer.wants({ path: p, size: f.text.length, mode: 0o644 })) continue;
          const out = pythonAnalyzer.analyze?.({ path: p, size: f.text.length, mode: 0o644, content: Buffer.from(f.text) }, { tmpDir: os.tmpdir() } as never);
          for (const pkg of (out as { packages?: Array<{ name: string; version: string }> } | undefined)?.packages ?? []) { found.add(`${pkg.name} ${pkg.version}`); found.add(`${normalizePythonName(pkg.name)} ${pkg.version}`); }
        }
        for (const [n, v] of got[i]!) if (!found.has(`${n} ${v}`)) bad.push(`${JSON.stringify(l)}: python reads ${n} ${v}, the scanner ${JSON.stringify([...found])}`);
      });
      expect(bad, bad.slice(0, 5).join('\n')).to.deep.equal([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
