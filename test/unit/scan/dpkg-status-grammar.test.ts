/**
 * A pusher writes a dpkg status file that dpkg reads one way and the scanner another: `Package : openssl`
 * (white space before the colon, a field to dpkg) dropped the stanza; `Package: OpenSSL` (dpkg stores
 * the name lower-cased) was matched under a name no advisory uses; a whitespace-only or `\r` line ended
 * a stanza for the scanner where dpkg reads it as part of the field before; a second record of a package
 * (a field named twice, two stanzas of one name) was read silently where dpkg refuses the database.
 * The oracle is the real dpkg-query reading the same generated files: where it reads the file, the
 * scanner lists the same packages or says it is not sure (an incomplete `dpkg-ambiguous` diagnostic);
 * where dpkg refuses the file, the scanner says it is not sure.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parseDpkgStatus } from '../../../src/scan/analyzers/dpkg.js';
import { dpkgAdmindir, dpkgQuery } from '../../helpers/dpkg-query.js';


/** A word in a random case. */
const anyCase = (w: string) => fc.array(fc.boolean(), { minLength: w.length, maxLength: w.length })
  .map((up) => [...w].map((c, i) => (up[i] ? c.toUpperCase() : c.toLowerCase())).join(''));

/** Odd spacing dpkg accepts or refuses: around the colon, after the value, CR line ends. */
const SEP = fc.constantFrom(': ', ': ', ': ', ': ', ':', ' : ', ':\t', '\t:  ');
const TAIL = fc.constantFrom('', '', '', '', '', ' ', '\t', '\r');

const FIELD = fc.record({
  name: fc.constantFrom('Package', 'Status', 'Version', 'Architecture', 'Source', 'Multi-Arch', 'Description'),
  nameCase: fc.boolean(),
  sep: SEP,
  tail: TAIL,
});

/** One stanza: the usual fields (any case and spacing), sometimes one repeated, a continuation, a comment, an odd line. */
const STANZA = fc.record({
  pkg: fc.constantFrom('openssl', 'libssl3', 'base-files', 'OpenSSL', 'zlib1g'),
  version: fc.constantFrom('1.0', '3.0.11-1~deb12u2', '2:1.2-3', '1.0', '3.0.11-1~deb12u2', '1.0 2', ''),
  state: fc.constantFrom('installed', 'installed', 'unpacked', 'config-files', 'not-installed', 'half-configured', 'Installed', 'installedx'),
  arch: fc.option(fc.constantFrom('amd64', 'i386', 'all'), { nil: undefined }),
  same: fc.boolean(),
  source: fc.option(fc.constantFrom('openssl', 'OpenSSL (3.0.2-1)', 'other'), { nil: undefined }),
  names: fc.record({ p: anyCase('Package'), s: anyCase('Status'), v: anyCase('Version') }),
  seps: fc.array(SEP, { minLength: 3, maxLength: 3 }),
  tails: fc.array(TAIL, { minLength: 3, maxLength: 3 }),
  extra: fc.oneof({ weight: 2, arbitrary: fc.constant([] as string[]) }, { weight: 1, arbitrary: fc.array(fc.oneof(
    FIELD.map((f) => `${f.nameCase ? f.name.toUpperCase() : f.name}${f.sep}x${f.tail}`),
    fc.constantFrom(' continued', '\tcontinued', ' ', '\t', '\r', ' .', '# comment', '#Version: 9', 'no colon here', 'Description: d\n more\n .\n end'),
  ), { maxLength: 2 }) }),
  order: fc.nat(20),
});

const FILE = fc.record({
  stanzas: fc.array(STANZA, { minLength: 1, maxLength: 4 }),
  gaps: fc.array(fc.constantFrom('\n', '\n', '\n', '\n', '\n\n', '\n \n', '\n\r\n', '\n\t\n'), { minLength: 5, maxLength: 5 }),
  lead: fc.constantFrom('', '', '', '\n', ' \n'),
  final: fc.constantFrom('\n', '\n', '\n', ''),
}).map(({ stanzas, gaps, lead, final }) => lead + stanzas.map((s, i) => {
  const lines = [
    `${s.names.p}${s.seps[0]}${s.pkg}${s.tails[0]}`,
    `${s.names.s}${s.seps[1]}install ok ${s.state}${s.tails[1]}`,
    `${s.names.v}${s.seps[2]}${s.version}${s.tails[2]}`,
    'Maintainer: m <m@example.org>',
    ...(s.arch ? [`Architecture: ${s.arch}`] : []),
    ...(s.same ? ['Multi-Arch: same'] : []),
    ...(s.source ? [`Source: ${s.source}`] : []),
    ...s.extra,
  ];
  // rotate, keeping Package somewhere (dpkg does not care where)
  const k = s.order % lines.length;
  return [...lines.slice(k), ...lines.slice(0, k)].join('\n') + (i < stanzas.length - 1 ? gaps[i % gaps.length] : '');
}).join('\n') + final);


describe('dpkg status grammar: read as dpkg reads it, or refused', () => {
  let dir: string;
  before(() => {
    dir = dpkgAdmindir('pushgate-dpkg-grammar-');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** What the analyzer reports: packages, and whether it marks the scan incomplete (a skipped or an ambiguous record). */
  const analyze = (text: string) => {
    const { packages, skipped, ambiguous } = parseDpkgStatus(text, '/var/lib/dpkg/status');
    return { got: packages.map((p) => `${p.name} ${p.version}`).sort(), refused: skipped.length + ambiguous.length > 0 };
  };

  it('agrees with dpkg-query on generated files (case, spacing, CR, duplicates, continuations, comments), or refuses them (fast-check, real dpkg)', function () {
    this.timeout(300_000);
    let agreed = 0;
    let refusedByBoth = 0;
    let refusedByPushgate = 0;
    fc.assert(fc.property(FILE, (text) => {
      fs.writeFileSync(path.join(dir, 'status'), text);
      const want = dpkgQuery(dir);
      const { got, refused } = analyze(text);
      const shown = JSON.stringify(text);
      if (want === undefined) {
        expect(refused, `dpkg refuses ${shown}, pushgate judged it`).to.equal(true);
        refusedByBoth++;
      } else if (!refused) {
        expect(got, shown).to.deep.equal(want);
        agreed++;
      } else refusedByPushgate++;
    }), { numRuns: 400 });
    // the generator must reach both sides, or the property says little
    expect(agreed, 'files both read').to.be.greaterThan(20);
    expect(refusedByBoth, 'files dpkg refuses').to.be.greaterThan(20);
    // stricter than dpkg only where dpkg merely warns or keeps the later of two records
    expect(refusedByPushgate, 'files dpkg reads that pushgate refuses').to.be.lessThan(agreed);
  });

  it('each spelling that hid a package: space before the colon, upper-case name, a CR line, a second record', () => {
    const ok = 'Status: install ok installed\nVersion: 3.0.11-1~deb12u2\n';
    expect(parseDpkgStatus(`Package : openssl\n${ok}`, 'p').packages.map((p) => p.name)).to.deep.equal(['openssl']);
    expect(parseDpkgStatus(`Package: OpenSSL\n${ok}Source: OpenSSL\n`, 'p').packages.map((p) => `${p.name}/${p.sourceName}`)).to.deep.equal(['openssl/openssl']);
    expect(analyze(`Package: base-files\n${ok}\r\nPackage: openssl\n${ok}`).refused).to.equal(true);
    expect(analyze(`Package: openssl\n${ok}\nPackage: openssl\n${ok.replace('3.0.11-1~deb12u2', '3.0.15-1~deb12u1')}`).refused).to.equal(true);
    expect(analyze(`Package: openssl\n${ok}version: 3.0.15-1~deb12u1\n`).refused).to.equal(true);
    // dpkg never reads distroless status.d files: their last line needs no newline
    const d = parseDpkgStatus('Package: a\nVersion: 1.0', '/var/lib/dpkg/status.d/a', true);
    expect([d.packages.map((p) => p.name), d.skipped, d.ambiguous]).to.deep.equal([['a'], [], []]);
    expect(analyze(`Package: a\n${ok.trimEnd()}`).refused).to.equal(true);
    // what dpkg writes: one record per package, Multi-Arch: same ones per architecture, selections beside them
    expect(analyze(`Package: libc6\n${ok}Architecture: amd64\nMulti-Arch: same\n\nPackage: libc6\n${ok}Architecture: i386\nMulti-Arch: same\n\nPackage: old\nStatus: purge ok not-installed\nArchitecture: i386\n`)).to.deep.equal({ got: ['libc6 3.0.11-1~deb12u2', 'libc6 3.0.11-1~deb12u2'], refused: false });
  });
});
