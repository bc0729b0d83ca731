/**
 * A pusher hides a vulnerable Python distribution from the scanner while Python still loads it:
 * core-metadata whose lines end in a lone `\r` (Python's email parser and importlib.metadata's
 * universal-newline read split there; a `\r?\n` split saw one line and no `Name`), or a site
 * directory under a `tests` directory (PYTHONPATH=/srv/tests/site; the analyzer skipped any path
 * holding `/tests/`). The oracle is the real Python interpreter's importlib.metadata.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { parsePythonMetadata, pythonAnalyzer } from '../../../src/scan/analyzers/python.js';

const EOL = fc.constantFrom('\n', '\r\n', '\r');
const NAME = fc.stringMatching(/^[a-z][a-z0-9_-]{0,12}$/);
const VERSION = fc.stringMatching(/^[0-9]{1,2}\.[0-9]{1,2}(\.[0-9]{1,2})?$/);

/** A METADATA text with each line ended by its own choice of line end. */
const METADATA = fc.record({ name: NAME, version: VERSION, ends: fc.array(EOL, { minLength: 6, maxLength: 6 }), summary: fc.boolean() }).map((c) => {
  const lines = ['Metadata-Version: 2.1', `Name: ${c.name}`, `Version: ${c.version}`, c.summary ? 'Summary: x' : 'License: MIT', ''];
  return { ...c, text: lines.map((l, i) => l + c.ends[i]).join('') + 'body text' + c.ends[5] };
});


describe('python core-metadata: what Python loads is what is judged', () => {
  it('reads Name and Version whatever line ends a file mixes (fast-check)', () => {
    fc.assert(fc.property(METADATA, (m) => {
      const p = parsePythonMetadata(m.text, `/site/${m.name}-${m.version}.dist-info/METADATA`);
      expect(p, JSON.stringify(m.text)).to.include({ name: m.name, version: m.version });
    }), { numRuns: 500 });
  });

  it('agrees with importlib.metadata on generated files (real python3)', function () {
    this.timeout(60_000);
    const cases = fc.sample(METADATA, { numRuns: 60, seed: 7 });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-py-'));
    try {
      const want: string[] = [];
      cases.forEach((m, i) => {
        const site = path.join(dir, 'tests', `s${i}`);
        const info = path.join(site, `d${i}.dist-info`);
        fs.mkdirSync(info, { recursive: true });
        fs.writeFileSync(path.join(info, 'METADATA'), m.text);
        const p = parsePythonMetadata(m.text, path.join(info, 'METADATA'));
        want.push(p ? `${p.name} ${p.version}` : '-');
      });
      const script = 'import sys, importlib.metadata as m\n'
        + `for i in range(${cases.length}):\n`
        + '    d = list(m.distributions(path=[sys.argv[1] + "/tests/s%d" % i]))\n'
        + '    print("%s %s" % (d[0].metadata["Name"], d[0].version) if d and d[0].metadata["Name"] else "-")\n';
      const r = spawnSync('python3', ['-c', script, dir], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      expect(want).to.deep.equal(r.stdout.trim().split('\n'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('wants a distribution in any directory, `tests` ones included (fast-check)', () => {
    const seg = fc.oneof(fc.constant('tests'), fc.stringMatching(/^[a-z0-9._-]{1,8}$/).filter((s) => s !== '.' && s !== '..'));
    fc.assert(fc.property(fc.array(seg, { minLength: 1, maxLength: 6 }), NAME, fc.constantFrom('.dist-info/METADATA', '.egg-info/PKG-INFO', '.egg-info'), (dirs, n, tail) => {
      expect(pythonAnalyzer.wants({ path: `/${dirs.join('/')}/${n}-1.0${tail}`, size: 100, mode: 0o644 })).to.equal(true);
    }), { numRuns: 300 });
  });
});
