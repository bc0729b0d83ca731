/**
 * Every vector of test/fixtures/vectors (see its README for provenance) in both directions and
 * reflexively, per ecosystem. Lines whose reference differs from the order pushgate implements are
 * listed below WITH the reason; the test fails if any other line fails, or if a listed line starts passing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { compareVersions, compareLines, isSupportedEcosystem, satisfiesNpmRange } from '../../../src/vulndb/index.js';
import { isPushgateError } from '../../../src/core/errors.js';
import { apkVersionMatch, isValidApkVersion } from '../../../src/vulndb/ecosystems/apk.js';

const DIR = path.resolve('test/fixtures/vectors');

/**
 * The only lines that fail, each contradicting the reference issue 4 names (Maven's ComparableVersion
 * as in Maven 3.9 and later, i.e. apache/maven's current ComparableVersion whose own
 * ComparableVersionTest lines in maven.txt all pass). All are osv-scalibr lines:
 * - `1-1 = 1-ga-1` (scalibr's hand-written maven-versions.txt): ComparableVersion reads `1-ga-1` as
 *   [1, [ga1]] (the `X-1 is X1` rule makes `ga-1` one combination item) and an integer item is greater
 *   than any combination item, so `1-1 > 1-ga-1`.
 * - the 13 others come from maven-versions-generated.txt, whose generator (osv-scanner
 *   scripts/generators/GenerateMavenVersions.java) sorted each package's versions with
 *   maven-artifact 3.8.6 and wrote `<` between neighbours without checking the direction. They are
 *   3.8.6 behaviour, which 3.9 changed: 3.8.6 split `sec10` into [sec, [10]] and ordered a qualifier below
 *   any sub-list, so `1.1.34.sec10 < 1.1.34_noneautotype` and `1.0.0rc0 < 1.0.beta8`; 3.9 keeps `sec10` /
 *   `rc0` as one combination item, compares `_noneautotype` and `sec` as unknown qualifiers
 *   lexically (`_` sorts before `s`) and `rc` above `beta`, so each line comes out `>`.
 */
const KNOWN: Record<string, { lines: string[]; why: string }> = {
  'maven.txt/Maven': {
    why: 'osv-scalibr lines from maven-artifact 3.8.6 (or its hand-written fixture) that Maven >= 3.9 ComparableVersion orders the other way',
    lines: ['1-1 = 1-ga-1', '3.2.0rc2 < 3.2.0-rc.1', '1.0.0-RC16 < 1.0.0.RC8-beta', '1.0.0-gradle-rework-beta3 < 1.0.0.RC7-3',
      '1.1.34.sec10 < 1.1.34_noneautotype', '1.1.46.sec10 < 1.1.46_noneautotype', '1.2.8.sec10_noneautotype < 1.2.8_noneautotype',
      '1.2.31.sec10 < 1.2.31_noneautotype', '1.2.48.sec10 < 1.2.48_noneautotype', '1.2.54.sec10 < 1.2.54_noneautotype',
      '1.2.67.sec10 < 1.2.67_noneautotype', '1.0.0rc0 < 1.0.beta8', '3.5.0-CR-2 < 3.5.0.Beta-1', 'v3.7.0rc2 < v3.7.0-rc.3'],
  },
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
  // every other rpm family of the OS table uses the same order
  ['redhat.txt', 'AlmaLinux:9'], ['redhat.txt', 'SUSE:Linux Enterprise Server 15 SP5'], ['redhat.txt', 'Photon OS:5.0'], ['redhat.txt', 'Azure Linux:3'], ['redhat.txt', 'openEuler:22.03-LTS-SP3'], ['redhat.txt', 'Mageia:9'],
  ['alpine.txt', 'Wolfi'], ['alpine.txt', 'Chainguard'],
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

  it('alpine-validity.txt: valid and invalid versions (apk-tools 3 validation) and fuzzy/negated operators', () => {
    let n = 0;
    for (const line of fs.readFileSync(path.join(DIR, 'alpine-validity.txt'), 'utf8').split('\n')) {
      if (!line.trim() || line.startsWith('#')) continue;
      const parts = line.split(' ');
      if (parts.length === 3) expect(apkVersionMatch(parts[0], parts[1], parts[2]), line).to.equal(true);
      else if (line.startsWith('!')) expect(isValidApkVersion(line.slice(1)), line).to.equal(false);
      else expect(isValidApkVersion(line), line).to.equal(true);
      n++;
    }
    expect(n).to.equal(33);
    // the negation of each fuzzy line fails, and the plain operators follow the order
    expect(apkVersionMatch('3.6.0', '!~', '3.6')).to.equal(false);
    expect(apkVersionMatch('3.7', '~', '3.6')).to.equal(false);
    expect(apkVersionMatch('1.0_rc1', '<', '1.0')).to.equal(true);
    expect(apkVersionMatch('1.0-r1', '>=', '1.0-r1')).to.equal(true);
    expect(() => apkVersionMatch('1', '<>x', '2')).to.throw(/invalid apk version operator/);
  });

  it('npm-ranges.jsonl: every node-semver range fixture, evaluated as OSV ranges with the npm comparator', () => {
    const lines = fs.readFileSync(path.join(DIR, 'npm-ranges.jsonl'), 'utf8').split('\n').filter((l) => l.trim());
    const wrong: string[] = [];
    for (const l of lines) {
      const j = JSON.parse(l) as { range: string; version: string; satisfies: boolean; options: { loose?: boolean; includePrerelease?: boolean } };
      if (satisfiesNpmRange(j.version, j.range, j.options) !== j.satisfies) wrong.push(l);
    }
    expect(wrong).to.deep.equal([]);
    expect(lines.length).to.equal(150);
    expect(lines.filter((l) => l.includes('"satisfies": false')).length).to.be.greaterThan(30);
    // `>a` is the negation of `<=a`; prereleases need a same-tuple prerelease comparator
    expect(satisfiesNpmRange('1.2.3', '>1.2.3')).to.equal(false);
    expect(satisfiesNpmRange('1.2.4', '>1.2.3')).to.equal(true);
    expect(satisfiesNpmRange('1.3.0-beta.1', '>=1.2.0 <2.0.0')).to.equal(false);
    expect(satisfiesNpmRange('1.3.0-beta.1', '>=1.2.0 <2.0.0', { includePrerelease: true })).to.equal(true);
    expect(() => satisfiesNpmRange('1.0.0', '>>>nope')).to.throw(/invalid npm range/);
  });

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
