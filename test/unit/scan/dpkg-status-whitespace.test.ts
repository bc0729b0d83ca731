/**
 * A field value is trimmed of dpkg's white space at both ends. The scanner did it with
 * `/^[ \t\r\v\f\n]+|[ \t\r\v\f\n]+$/g`, which retries the trailing run from every position of a run of
 * white space inside the value: quadratic, 80 KB of blank continuation lines took 6.5 s, and the
 * analyzer runs on the process's event loop, so a status file of a megabyte of them (a few KB of layer)
 * held every listener and the scan deadline's own timer for a quarter of an hour. The trim is a loop
 * now; a child process (killed after 20 s, a thousand times what the loop takes) parses such a file.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { parseDpkgStatus, trimDpkg } from '../../../src/scan/analyzers/dpkg.js';

describe('dpkg status: white space in values', () => {
  it('trims as dpkg does: its six white-space characters at both ends, nothing else (fast-check)', () => {
    const ch = fc.constantFrom(' ', '\t', '\n', '\v', '\f', '\r', 'a', ':', '\u00a0', '\u2028', '\0', 'é');
    fc.assert(fc.property(fc.array(ch, { maxLength: 30 }).map((a) => a.join('')), (v) => {
      expect(trimDpkg(v)).to.equal(v.replace(/^[ \t\r\v\f\n]+|[ \t\r\v\f\n]+$/g, ''));
    }), { numRuns: 1000 });
  });

  it('a megabyte of blank continuation lines and of spaces inside a value is read in linear time (child process, killed after 20 s)', function () {
    this.timeout(60_000);
    const script = `
      import { parseDpkgStatus } from './src/scan/analyzers/dpkg.ts';
      const blank = 'Package: a\\nStatus: install ok installed\\nVersion: 1.0\\nDescription: x\\n' + ' \\n'.repeat(512 * 1024) + ' y\\n';
      const spaces = 'Package: b\\nStatus: install ok installed\\nVersion: 1.0\\nDescription: x' + ' '.repeat(1024 * 1024) + 'y\\n';
      const r = [parseDpkgStatus(blank, '/var/lib/dpkg/status'), parseDpkgStatus(spaces, '/var/lib/dpkg/status')];
      console.log(JSON.stringify(r.map((x) => x.packages.map((p) => p.name + ' ' + p.version))));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.signal, 'the parse did not finish').to.equal(null);
    expect(r.stderr).to.equal('');
    expect(JSON.parse(r.stdout)).to.deep.equal([['a 1.0'], ['b 1.0']]);
    // and the value is what dpkg keeps: inner white space stays, the ends go
    const one = parseDpkgStatus('Package: c\nVersion: 1.0\nDescription:  x \n \n y \t\n', '/var/lib/dpkg/status.d/c', true);
    expect(one.packages.map((p) => p.name)).to.deep.equal(['c']);
  });
});
