/**
 * A pusher writes a ^Z (0x1a, dpkg's MSDOS_EOF_CHAR) into the status file. dpkg's parser ends a line at
 * one as at a newline and ends the stanza at a line that starts with one, so
 * `Package: decoy` / `^ZPackage: openssl` / `Status: install ok installed` / `Version: 1.1.1` is two
 * stanzas to dpkg-query (openssl 1.1.1 installed) and one to a line splitter: decoy 1.1.1 with an odd
 * field `^Zpackage`, no problem seen, openssl gone from the inventory and the scan complete. The oracle
 * is the real dpkg-query reading the same generated files: where it reads the file, the scanner lists
 * the same packages or refuses the file; where dpkg refuses the file, the scanner refuses it too.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { dpkgAnalyzer, parseDpkgStatus } from '../../../src/scan/analyzers/dpkg.js';
import type { AnalyzerOutput } from '../../../src/scan/analyzers/types.js';
import { dpkgAdmindir, dpkgQuery } from '../../helpers/dpkg-query.js';



/** A stanza whose Status and Version may be missing (a Package-only stanza is a selection to dpkg). */
const STANZA = fc.record({
  pkg: fc.constantFrom('openssl', 'decoy', 'libssl3', 'zlib1g'),
  status: fc.option(fc.constantFrom('installed', 'unpacked', 'not-installed'), { nil: undefined }),
  version: fc.option(fc.constantFrom('1.1.1', '3.0.15-1', '2:1.2-3'), { nil: undefined }),
  // where ^Z bytes go: before the Package line, at the end of a line, inside a value
  zPackage: fc.boolean(),
  zTail: fc.option(fc.nat(3), { nil: undefined, freq: 3 }),
  zMid: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

const FILE = fc.record({
  stanzas: fc.uniqueArray(STANZA, { minLength: 1, maxLength: 4, selector: (s) => s.pkg }),
  seps: fc.array(fc.constantFrom('\n', '\n', '\n\x1a', '\n\x1a\n', '\x1a\n', '\n\x1a\x1a'), { minLength: 4, maxLength: 4 }),
}).map(({ stanzas, seps }) => stanzas.map((s, i) => {
  const lines = [
    `${s.zPackage ? '\x1a' : ''}Package: ${s.pkg}`,
    ...(s.status ? [`Status: install ok ${s.status}`] : []),
    ...(s.version ? [`Version: ${s.version}`] : []),
    `Description: d${s.zMid ? '\x1a' : ''}x`,
  ];
  if (s.zTail !== undefined) lines[s.zTail % lines.length] += '\x1a';
  return lines.join('\n') + '\n' + (i < stanzas.length - 1 ? seps[i]! : '');
}).join(''));

describe('dpkg status: ^Z bytes, which end a line or a stanza for dpkg', () => {
  let dir: string;
  before(() => {
    dir = dpkgAdmindir('pushgate-dpkg-ctrlz-');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const analyze = (text: string) => {
    const { packages, skipped, ambiguous } = parseDpkgStatus(text, '/var/lib/dpkg/status');
    return { got: packages.map((p) => `${p.name} ${p.version}`).sort(), refused: skipped.length + ambiguous.length > 0 };
  };

  it('the decoy stanza: dpkg-query lists openssl 1.1.1, the scan is not complete without it', () => {
    const text = 'Package: decoy\n\x1aPackage: openssl\nStatus: install ok installed\nVersion: 1.1.1\nArchitecture: amd64\n';
    fs.writeFileSync(path.join(dir, 'status'), text);
    expect(dpkgQuery(dir)).to.deep.equal(['openssl 1.1.1']);
    const r = analyze(text);
    expect(r.refused || r.got.includes('openssl 1.1.1'), JSON.stringify(r)).to.equal(true);
    const out = dpkgAnalyzer.analyze!({ path: '/var/lib/dpkg/status', size: text.length, mode: 0o644, content: Buffer.from(text) }, { tmpDir: os.tmpdir() } as never) as AnalyzerOutput | undefined;
    expect(out?.diagnostics?.some((d) => d.code === 'dpkg-ambiguous' && d.incomplete)).to.equal(true);
  });

  it('agrees with dpkg-query on generated files with ^Z bytes, or refuses them (fast-check, real dpkg)', function () {
    this.timeout(300_000);
    let dpkgReadZ = 0;
    fc.assert(fc.property(FILE, (text) => {
      fs.writeFileSync(path.join(dir, 'status'), text);
      const want = dpkgQuery(dir);
      const { got, refused } = analyze(text);
      const shown = JSON.stringify(text);
      if (want === undefined) expect(refused, `dpkg refuses ${shown}, pushgate judged it`).to.equal(true);
      else {
        if (text.includes('\x1a') && want.length) dpkgReadZ++;
        if (!refused) expect(got, shown).to.deep.equal(want);
      }
    }), { numRuns: 300 });
    // dpkg reads many of these files and lists packages from them: the property tests the split, not a refusal
    expect(dpkgReadZ, 'files with ^Z that dpkg reads').to.be.greaterThan(8);
  });
});
