/**
 * Every vector of test/fixtures/vectors (see its README for provenance) in both directions and
 * reflexively, per ecosystem. Lines whose reference differs from the order pushgate implements are
 * listed below WITH the reason; the test fails if any other line fails, or if a listed line starts passing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { compareVersions, compareLines, isSupportedEcosystem } from '../../../src/vulndb/index.js';
import { isPushgateError } from '../../../src/core/errors.js';

const DIR = path.resolve('test/fixtures/vectors');

/** Lines that follow another implementation than the one the issue names. */
const KNOWN: Record<string, { lines: string[]; why: string }> = {
  'alpine.txt/Alpine': {
    why: 'apk-tools v3 behaviour (osv-scalibr fixture and apk-tools master test data: ~hash, leading zeros, 6.0_pre1 < 6.0); pushgate follows apk-tools 2.x version.c as issue 4 asks',
    lines: ['1-r-0 < 1-r0', '1-r-1 < 1-r0', '0.r1 < 0r2', '0.8.21.r2 < 0.8.21r2', '1.2.0A < 1.2.0d', '1 > 1-ruff', '1-ruff2 = 1--ruff1',
      '6.0_pre1 < 6.0', '8.2.0 < 8.2.001', '8.2.0015 < 8.2.002', '1.0~1234 < 1.0~2345', '1.0~1234-r1 > 1.0~1234-r0'],
  },
  'maven.txt/Maven': {
    why: 'osv-scalibr generated lines that disagree with ComparableVersion as ported here (the vectors README notes 19 scalibr lines disagree with maven-artifact 3.8.7); every apache/maven ComparableVersionTest line passes',
    lines: ['1-1 = 1-ga-1', '3.2.0rc2 < 3.2.0-rc.1', '4.0.17.Final < 4.0.17.Final-wildfly-1', '1.1.3.RELEASE < 1.1.3.RELEASE-A', '1.0.0-RC16 < 1.0.0.RC8-beta',
      '1.0.0-gradle-rework-beta3 < 1.0.0.RC7-3', '7.4.3.20 < 7.4.3.20-ga20', '7.4.3.21 < 7.4.3.21-ga21', '1.1.34.sec10 < 1.1.34_noneautotype', '1.1.46.sec10 < 1.1.46_noneautotype',
      '1.2.8.sec10_noneautotype < 1.2.8_noneautotype', '1.2.31.sec10 < 1.2.31_noneautotype', '1.2.48.sec10 < 1.2.48_noneautotype', '1.2.54.sec10 < 1.2.54_noneautotype',
      '1.2.67.sec10 < 1.2.67_noneautotype', '1.0.0rc0 < 1.0.beta8', '3.5.0-CR-2 < 3.5.0.Beta-1', 'v3.7.0rc2 < v3.7.0-rc.3'],
  },
  'packagist.txt/Packagist': { why: 'PHP canonicalization of `#`: not reproduced', lines: ['1.2.3.# = 1.2.3'] },
};

/** Lines whose versions the ecosystem rejects (must give BAD_ARGUMENT, i.e. `!`). */
const INVALID: Record<string, string[]> = {
  'semver.txt/npm': ['999999999999999999999999999991', '999999999999999999999999999991.999999999999999999999999999991.999999999999999999999999999991', '1.1.3.4.5'],
  'semver.txt/Go': ['1.1.3.4.5'],
  'semver.txt/crates.io': ['999999999999999999999999999991', '1.1.3.4.5'],
};
/** Cargo's semver takes no `v` prefix: such lines (node-semver fixtures) must be rejected in crates.io. */
const INVALID_PATTERN: Record<string, RegExp> = { 'semver.txt/crates.io': /^v/ };

const FILES: Array<[string, string]> = [
  ['debian.txt', 'Debian'], ['debian.txt', 'Ubuntu:22.04:LTS'], ['alpine.txt', 'Alpine'], ['redhat.txt', 'Red Hat'], ['redhat.txt', 'Rocky Linux:9'],
  ['pypi.txt', 'PyPI'], ['pypi-legacy.txt', 'PyPI'], ['maven.txt', 'Maven'], ['rubygems.txt', 'RubyGems'], ['packagist.txt', 'Packagist'],
  ['nuget.txt', 'NuGet'], ['semver.txt', 'npm'], ['semver.txt', 'Go'], ['semver.txt', 'crates.io'], ['semver-loose.txt', 'npm'],
];

function vectors(file: string): Array<{ a: string; op: string; b: string; line: string }> {
  return fs
    .readFileSync(path.join(DIR, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((line) => {
      const [a, op, b] = line.split(' ');
      return { a, op, b, line };
    });
}

describe('vulndb version vectors', () => {
  for (const [file, eco] of FILES) {
    const key = `${file}/${eco.split(':')[0]}`;
    it(`${file} in ${eco}: every line both ways and reflexively`, () => {
      const known = new Set(KNOWN[key]?.lines ?? []);
      const invalid = new Set(INVALID[key] ?? []);
      const failing: string[] = [];
      let passed = 0;
      for (const v of vectors(file)) {
        const exp = v.op === '<' ? -1 : v.op === '>' ? 1 : 0;
        const pat = INVALID_PATTERN[key];
        if (invalid.has(v.a) || invalid.has(v.b) || (pat && (pat.test(v.a) || pat.test(v.b)))) {
          expect(() => compareVersions(eco, v.a, v.b), v.line).to.throw().that.satisfies((e: unknown) => isPushgateError(e, 'BAD_ARGUMENT'));
          continue;
        }
        const ok = compareVersions(eco, v.a, v.b) === exp && compareVersions(eco, v.b, v.a) === -exp &&
          compareVersions(eco, v.a, v.a) === 0 && compareVersions(eco, v.b, v.b) === 0;
        if (ok) passed++;
        else failing.push(v.line);
      }
      expect(failing.filter((l) => !known.has(l)), `unexpected failures in ${key}`).to.deep.equal([]);
      expect([...known].filter((l) => !failing.includes(l)), `listed as known but now passing in ${key}`).to.deep.equal([]);
      expect(passed).to.be.greaterThan(10);
    });
  }

  it('unknown ecosystems and mixed-up versions are errors, never a semver fallback', () => {
    expect(isSupportedEcosystem('debian:12')).to.equal(true);
    expect(isSupportedEcosystem('Hackage')).to.equal(false);
    expect(() => compareVersions('Hackage', '1.0', '2.0')).to.throw(/unknown ecosystem "Hackage"/);
    expect(() => compareVersions('npm', '1.0', '2.0.0')).to.throw(/invalid npm version "1.0"/);
    expect(() => compareVersions('Debian', 'abc', '1.0')).to.throw(/invalid Debian version/);
    expect(compareVersions('DEBIAN', '1:2.0-1', '2.0-1~deb12u1')).to.equal(1);
  });

  it('own edge cases: epochs, tildes, carets, binNMU, Go toolchain and +incompatible, legacy PyPI', () => {
    expect(compareVersions('Debian', '2.36-9+deb12u4', '2.36-9+deb12u10')).to.equal(-1);
    expect(compareVersions('Debian', '1.0~rc1', '1.0')).to.equal(-1);
    expect(compareVersions('Debian', '1.2-3+b1', '1.2-3')).to.equal(1);
    expect(compareVersions('Red Hat', '1:1.0', '2.0')).to.equal(1);
    expect(compareVersions('AlmaLinux:9', '1.0~beta', '1.0')).to.equal(-1);
    expect(compareVersions('SUSE', '1.0^git1', '1.0')).to.equal(1);
    expect(compareVersions('Go', 'v1.19', '1.19.0')).to.equal(0);
    expect(compareVersions('Go', 'go1.21rc2', '1.21.0')).to.equal(-1);
    expect(compareVersions('Go', 'v2.0.0+incompatible', 'v2.0.0')).to.equal(0);
    expect(compareVersions('crates.io', '1.0.0-alpha', '1.0.0')).to.equal(-1);
    expect(compareVersions('PyPI', '0.9-doduo', '0.0.1')).to.equal(-1);
    expect(compareVersions('NuGet', '1.0.0-Beta', '1.0.0-beta')).to.equal(0);
    expect(compareVersions('Alpine:v3.19', '1.2.3-r1', '1.2.3-r10')).to.equal(-1);
  });

  it('compareLines prints <, =, > and ! with a reason, skipping blank and # lines', () => {
    const out = compareLines('debian', '# header\n\n1.0 1.0-1\n2.0 2.0\n1:1 2\nx 1.0\nonly-one\n');
    expect(out.split('\n')).to.deep.equal([
      '1.0 < 1.0-1', '2.0 = 2.0', '1:1 > 2', 'x ! 1.0 invalid Debian version "x": upstream version does not start with a digit',
      'only-one !  expected two versions separated by a blank', '',
    ]);
    expect(() => compareLines('nope', '1 2')).to.throw(/unknown ecosystem/);
  });
});
