/**
 * The ignore file of `pushgate scan` (src/cli/ignore-file.ts) and the `--ignore-unfixed` filter:
 * parsing with positions, scopes (purl, path), expiry, and properties over generated findings:
 * an entry matches by id or alias whatever the letter case, and `--ignore-unfixed` never leaves a
 * finding without a fixed version nor drops one with a fix.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { applyIgnoreFile, expiredEntries, parseIgnoreFile } from '../../../src/cli/ignore-file.js';
import { dropUnfixed } from '../../../src/cli/scan-options.js';
import { isConfigError } from '../../../src/config/errors.js';
import type { Finding, PushgateError } from '../../../src/core/index.js';
import { ROOT } from '../../helpers/lab.js';

function finding(over: Partial<Finding> = {}): Finding {
  return {
    id: 'DEBIAN-CL-CVE-2024-22365', aliases: ['CVE-2024-22365'], ecosystem: 'Debian', package: 'libpam0g', installedVersion: '1.5.2-6+deb12u2',
    fixedVersions: ['1.5.2-6+deb12u3'], severity: 'medium', path: '/var/lib/dpkg/status', purl: 'pkg:deb/debian/libpam0g@1.5.2-6%2Bdeb12u2?arch=amd64', ...over,
  };
}

const NOW = Date.parse('2026-06-15T12:00:00Z');

describe('cli: ignore file', () => {
  it('an entry matches the advisory id or an alias, case-insensitively; unscoped it covers every package', () => {
    const f = parseIgnoreFile('vulnerabilities:\n  - id: cve-2024-22365\n    statement: PAM is not used in the container\n', '.pushgateignore.yaml');
    const r = applyIgnoreFile([finding(), finding({ package: 'libpam-modules' }), finding({ id: 'NSWG-NPM-1', aliases: [] })], f, NOW);
    expect(r.ignored.map((i) => i.finding.package)).to.deep.equal(['libpam0g', 'libpam-modules']);
    expect(r.kept.map((k) => k.id)).to.deep.equal(['NSWG-NPM-1']);
    expect(r.ignored[0].entry.line).to.equal(2);
    expect(r.ignored[0].entry.spec.statement).to.equal('PAM is not used in the container');
  });

  it('purls scope by package (any version unless the purl names one, qualifiers when given); paths by glob', () => {
    const f = parseIgnoreFile([
      'vulnerabilities:',
      '  - id: CVE-2024-22365',
      '    purls: [pkg:deb/debian/libpam0g]',
      '  - id: CVE-2024-22365',
      '    purls: ["pkg:deb/debian/libpam-modules@9.9?arch=arm64"]',
      '  - id: NSWG-NPM-124',
      '    paths: ["/app/**"]',
      '    reason: admin UI only',
    ].join('\n'), 'f.yaml');
    const fs = [
      finding(),
      finding({ package: 'libpam-modules', purl: 'pkg:deb/debian/libpam-modules@1.5.2-6%2Bdeb12u2?arch=amd64' }),
      finding({ id: 'NSWG-NPM-124', aliases: [], package: 'bootstrap-tagsinput', path: '/app/node_modules/bootstrap-tagsinput/package.json', purl: 'pkg:npm/bootstrap-tagsinput@0.8.0' }),
      finding({ id: 'NSWG-NPM-124', aliases: [], package: 'bootstrap-tagsinput', path: '/srv/node_modules/bootstrap-tagsinput/package.json', purl: 'pkg:npm/bootstrap-tagsinput@0.8.0' }),
    ];
    const r = applyIgnoreFile(fs, f, NOW);
    expect(r.ignored.map((i) => `${i.finding.package} ${i.finding.path} ${i.entry.line}`)).to.deep.equal([
      'libpam0g /var/lib/dpkg/status 2',
      'bootstrap-tagsinput /app/node_modules/bootstrap-tagsinput/package.json 6',
    ]);
  });

  it("the README's example entry hides the finding it names in the Debian image (its path scope matches where dpkg packages are read from)", () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const example = /The ignore file follows Trivy's[^]*?```yaml\n([^]*?)```/.exec(readme)?.[1];
    expect(example, 'the example block after "The ignore file follows Trivy\'s"').to.be.a('string');
    const r = applyIgnoreFile([finding(), finding({ package: 'libpam-modules', purl: 'pkg:deb/debian/libpam-modules@1.5.2-6%2Bdeb12u2?arch=amd64' })], parseIgnoreFile(example!, 'README.md'), NOW);
    expect(r.ignored.map((i) => i.finding.package)).to.deep.equal(['libpam0g']);
    expect(r.kept.map((k) => k.package)).to.deep.equal(['libpam-modules']);
  });

  it('an expired entry hides nothing and is listed; a date lasts through that day (UTC)', () => {
    const f = parseIgnoreFile('vulnerabilities:\n  - id: CVE-2024-22365\n    expires: 2026-06-15\n  - id: CVE-2024-22365\n    expires: 2026-06-14T23:00:00Z\n', 'f.yaml');
    expect(expiredEntries(f, NOW).map((e) => e.line)).to.deep.equal([4]);
    expect(applyIgnoreFile([finding()], f, NOW).ignored[0].entry.line, 'through the end of 2026-06-15').to.equal(2);
    const next = Date.parse('2026-06-16T00:00:00Z');
    expect(expiredEntries(f, next).map((e) => e.line)).to.deep.equal([2, 4]);
    expect(applyIgnoreFile([finding()], f, next).kept).to.have.length(1);
  });

  it('a malformed file is one clear error naming the line (ajv schema, YAML syntax, bad purl, bad date)', () => {
    const cases: Array<[string, RegExp]> = [
      ['vulnerabilities:\n  - id: CVE-1\n    purl: [pkg:npm/x]\n', /^invalid ignore file f\.yaml: line 3: vulnerabilities\[0\]\.purl: unknown key \(allowed here: id, purls, paths, statement, reason, expires\)/],
      ['vulnerabilities:\n  - statement: no id\n', /^invalid ignore file f\.yaml: line 2: vulnerabilities\[0\]\.id: is required/],
      ['vulnerabilities:\n  - id: CVE-1\n    expires: next week\n', /^invalid ignore file f\.yaml: line 3: vulnerabilities\[0\]\.expires: must be a date \(2026-12-31\) or an RFC 3339 date-time/],
      ['vulnerabilities:\n  - id: CVE-1\n    purls: ["pkg:"]\n', /^invalid ignore file f\.yaml: line 3: vulnerabilities\[0\]\.purls\[0\]: not a package URL/],
      ['vulnerabilities:\n  - id: CVE-1\n   bad: [\n', /^invalid ignore file f\.yaml: line \d: .*YAML syntax/],
      ['- id: CVE-1\n', /^invalid ignore file f\.yaml: line 1: must be a mapping|^invalid ignore file f\.yaml: line 1: .*mapping/],
      ['vulnerabilities:\n  - id: CVE-1\n    statement: a\n    reason: b\n', /^invalid ignore file f\.yaml: line 4: vulnerabilities\[0\]\.reason: give `statement` or `reason`/],
    ];
    for (const [text, re] of cases) {
      let err: unknown;
      try { parseIgnoreFile(text, 'f.yaml'); } catch (e) { err = e; }
      expect((err as PushgateError).code, text).to.equal('BAD_CONFIG');
      expect((err as Error).message.split('\n')[0], text).to.match(re);
    }
    expect(parseIgnoreFile('', 'f.yaml').entries, 'an empty file ignores nothing').to.deep.equal([]);
    let many: unknown;
    try { parseIgnoreFile('vulnerabilities:\n  - id: CVE-1\n    expires: soon\n  - {}\n', 'f.yaml'); } catch (e) { many = e; }
    expect(isConfigError(many)).to.equal(true);
    expect((many as Error).message.split('\n')).to.deep.equal([
      'invalid ignore file f.yaml: line 3: vulnerabilities[0].expires: must be a date (2026-12-31) or an RFC 3339 date-time (got string "soon") (and 1 more problem(s))',
      'f.yaml:3:14: vulnerabilities[0].expires: must be a date (2026-12-31) or an RFC 3339 date-time (got string "soon")',
      'f.yaml:4:5: vulnerabilities[1].id: is required',
    ]);
  });

  it('property: matching by id or alias does not depend on the letter case of either side', () => {
    const id = fc.tuple(fc.constantFrom('CVE', 'GHSA', 'DEBIAN-CL-CVE', 'NSWG-NPM', 'PYSEC'), fc.stringMatching(/^[0-9a-z]{1,6}(-[0-9a-z]{1,6})?$/)).map(([p, s]) => `${p}-${s}`.toUpperCase());
    const mask = fc.array(fc.boolean(), { minLength: 1, maxLength: 24 });
    /** `s` with each letter upper- or lower-cased by `m` (cyclically). */
    const spell = (s: string, m: boolean[]) => [...s].map((c, i) => (m[i % m.length] ? c.toUpperCase() : c.toLowerCase())).join('');
    fc.assert(fc.property(id, fc.array(id, { maxLength: 3 }), fc.nat(3), fc.boolean(), mask, mask, mask, (primary, aliases, pick, viaAlias, entryCase, idCase, aliasCase) => {
      const target = viaAlias && aliases.length ? aliases[pick % aliases.length] : primary;
      const f = finding({ id: spell(primary, idCase), aliases: aliases.map((a) => spell(a, aliasCase)) });
      const entry = spell(target, entryCase);
      const file = parseIgnoreFile(`vulnerabilities:\n  - id: ${JSON.stringify(entry)}\n`, 'f.yaml');
      expect(applyIgnoreFile([f], file, NOW).ignored, `${entry} vs ${f.id} ${f.aliases.join(' ')}`).to.have.length(1);
      // no generated id or alias has two hyphens after its prefix, so this is never one of them
      const other = parseIgnoreFile(`vulnerabilities:\n  - id: ${JSON.stringify(`${entry}-X-Y`)}\n`, 'f.yaml');
      expect(applyIgnoreFile([f], other, NOW).ignored, 'a longer id is another id').to.have.length(0);
    }), { numRuns: 300 });
  });

  it('property: --ignore-unfixed keeps exactly the findings with a fixed version, in order', () => {
    const arb = fc.array(fc.record({ id: fc.string({ minLength: 1, maxLength: 8 }), fixed: fc.array(fc.string({ minLength: 1, maxLength: 6 }), { maxLength: 3 }) }), { maxLength: 30 });
    fc.assert(fc.property(arb, (xs) => {
      const fs = xs.map((x) => finding({ id: x.id, fixedVersions: x.fixed }));
      const kept = dropUnfixed(fs);
      expect(kept.every((f) => f.fixedVersions.length > 0)).to.equal(true);
      expect(kept).to.deep.equal(fs.filter((f) => f.fixedVersions.length > 0));
    }), { numRuns: 200 });
  });
});
