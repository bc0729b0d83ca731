/**
 * Trivy's spellings in `pushgate scan`: `--format cyclonedx-json` is `cyclonedx` (SPDX names are refused
 * saying pushgate writes no SPDX), and a plain-text `.trivyignore` (one id a line, `#` comments,
 * `exp:YYYY-MM-DD`) is read when named with `--ignore-file`, never from the working directory by itself.
 * The CLI runs in a sandbox (temporary HOME, XDG_* and working directory) on a file tree holding
 * adm-zip 0.4.7 (NSWG-NPM-458, CVE-2018-1002204), judged against the offline OSV fixtures.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { applyIgnoreFile, isTrivyIgnoreText, loadIgnoreFile, parseIgnoreFile, parseTrivyIgnore } from '../../../src/cli/ignore-file.js';
import { parseScanFormat, SCAN_FORMATS } from '../../../src/cli/commands/scan.js';
import type { Finding, ScanReport } from '../../../src/core/index.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { makeSandbox, writeAdmZipRootfs, runInSandbox, type CliSandbox } from '../../helpers/cli-sandbox.js';
import { ROOT } from '../../helpers/lab.js';

function finding(id: string, aliases: string[] = []): Finding {
  return { id, aliases, ecosystem: 'npm', package: 'p', installedVersion: '1', fixedVersions: [], severity: 'high', path: '/app/package.json' } as Finding;
}

describe('cli: --format with Trivy\'s names', () => {
  it('each format by its own name, cyclonedx-json as cyclonedx; anything else refused (property)', () => {
    for (const f of SCAN_FORMATS) expect(parseScanFormat(f)).to.equal(f);
    expect(parseScanFormat('cyclonedx-json')).to.equal('cyclonedx');
    for (const f of ['spdx', 'spdx-json', 'spdx-tv']) expect(() => parseScanFormat(f)).to.throw(/^There is no SPDX output: pushgate writes its SBOM as CycloneDX, --format cyclonedx/);
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        const known = (SCAN_FORMATS as readonly string[]).includes(s) || s === 'cyclonedx-json';
        if (known) expect(parseScanFormat(s)).to.be.oneOf([...SCAN_FORMATS]);
        else expect(() => parseScanFormat(s)).to.throw(/^Allowed choices are table, json, sarif, cyclonedx \(or Trivy's cyclonedx-json\)$|no SPDX/);
      }),
      { numRuns: 300 },
    );
  });
});

describe('cli: plain-text .trivyignore', () => {
  const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/);
  const date = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));

  it('ids, comments and exp: dates read as Trivy writes them; YAML ignore files are never taken for it (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ id, exp: fc.option(date, { nil: undefined }), comment: fc.boolean() }), { maxLength: 12 }), fc.boolean(), (lines, crlf) => {
        const text = ['# accepted risks', '', ...lines.map((l) => `${l.id}${l.exp ? ` exp:${l.exp}` : ''}${l.comment ? '  # why' : ''}`)].join(crlf ? '\r\n' : '\n');
        expect(isTrivyIgnoreText(text)).to.equal(true);
        const f = parseTrivyIgnore(text, '.trivyignore');
        expect(f.entries.map((e) => [e.spec.id, e.spec.expires, e.line])).to.deep.equal(lines.map((l, i) => [l.id, l.exp, i + 3]));
        for (const [i, l] of lines.entries()) {
          const e = f.entries[i];
          expect(e.covers(finding(l.id.toLowerCase()))).to.equal(true);
          expect(e.covers(finding('OTHER-1', [l.id.toUpperCase()]))).to.equal(true);
          // a date lasts through that day (UTC), as every pushgate expiry
          expect(e.expiresAt).to.equal(l.exp ? Date.parse(`${l.exp}T23:59:59.999Z`) : Infinity);
        }
      }),
      { numRuns: 300 },
    );
    const yaml = [
      'vulnerabilities:\n  - id: CVE-2024-1\n',
      'vulnerabilities:\n- id: CVE-2024-1\n  expires: 2030-01-01\n',
      '# only\nvulnerabilities: []\n',
      fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('The ignore file follows Trivy\'s `.trivyignore.yaml`:\n\n```yaml\n')[1].split('```')[0],
    ];
    for (const y of yaml) {
      expect(isTrivyIgnoreText(y), y).to.equal(false);
      parseIgnoreFile(y, 'x.yaml');
    }
  });

  it('an exp: that is no calendar date is an error naming the file and line', () => {
    expect(() => parseTrivyIgnore('CVE-1\nCVE-2 exp:2024-02-30\n', '.trivyignore')).to.throw(/^invalid ignore file \.trivyignore: line 2: exp:2024-02-30: the expiry must be exp:YYYY-MM-DD/);
    expect(() => parseTrivyIgnore('CVE-2 exp:tomorrow\n', '.trivyignore')).to.throw(/line 1: exp:tomorrow/);
  });

  it('read only when named: .trivyignore in the working directory is not read; a .yaml name is always YAML', () => {
    const sb = makeSandbox();
    try {
      fs.writeFileSync(path.join(sb.cwd, '.trivyignore'), 'CVE-2018-1002204\n');
      expect(loadIgnoreFile(undefined, sb.cwd)).to.equal(undefined);
      const named = loadIgnoreFile(path.join(sb.cwd, '.trivyignore'), sb.cwd)!;
      expect(applyIgnoreFile([finding('NSWG-NPM-458', ['CVE-2018-1002204'])], named, Date.now()).kept).to.deep.equal([]);
      fs.writeFileSync(path.join(sb.cwd, 'ids.yaml'), 'CVE-2018-1002204\n');
      expect(() => loadIgnoreFile(path.join(sb.cwd, 'ids.yaml'), sb.cwd)).to.throw(/invalid ignore file/);
    } finally {
      sb.remove();
    }
  });
});

describe('cli: pushgate scan with Trivy\'s habits', function () {
  this.timeout(120_000);
  let sb: CliSandbox;
  before(async () => {
    sb = makeSandbox();
    writeAdmZipRootfs(sb);
    await updateDb({ path: path.join(sb.cwd, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv/npm')] });
  });
  after(() => sb.remove());
  const scan = (args: string[]) => runInSandbox(sb, ['scan', 'dir:rootfs', '--db', 'vulndb.sqlite', '--offline', '-q', ...args]);

  it('--format cyclonedx-json writes the CycloneDX report; spdx-json is refused (exit 2, one line); --help names both', async () => {
    const cdx = await scan(['--format', 'cyclonedx-json']);
    expect(cdx.status, cdx.stderr).to.equal(1);
    const bom = JSON.parse(cdx.stdout) as { bomFormat: string; vulnerabilities?: Array<{ id: string }> };
    expect(bom.bomFormat).to.equal('CycloneDX');
    expect(bom.vulnerabilities?.map((v) => v.id)).to.include('NSWG-NPM-458');
    const spdx = await scan(['--format', 'spdx-json']);
    expect(spdx.status).to.equal(2);
    expect(spdx.stdout).to.equal('');
    expect(spdx.stderr.trim().split('\n')).to.have.length(1);
    expect(spdx.stderr).to.include('There is no SPDX output');
    const help = await runInSandbox(sb, ['scan', '--help']);
    expect(help.stdout.replace(/\s+/g, ' ')).to.include("Trivy's cyclonedx-json is cyclonedx").and.include('.trivyignore');
  });

  it('--ignore-file .trivyignore hides the finding it names (by alias) and says so; without the flag it is not read', async () => {
    fs.writeFileSync(path.join(sb.cwd, '.trivyignore'), '# adm-zip is only used by the build\nCVE-2018-1002204 exp:2999-12-31\n');
    const plain = JSON.parse((await scan(['--format', 'json'])).stdout) as ScanReport;
    expect(plain.findings.map((f) => f.id)).to.include('NSWG-NPM-458');
    const r = await scan(['--format', 'json', '--ignore-file', '.trivyignore']);
    expect(r.status, r.stderr).to.equal(0);
    const report = JSON.parse(r.stdout) as ScanReport;
    expect(report.findings.map((f) => f.id)).to.not.include('NSWG-NPM-458');
    expect(report.diagnostics.find((d) => d.code === 'ignore-file')?.message).to.match(/1 finding\(s\) ignored by \.trivyignore: NSWG-NPM-458 \(line 2\)/);
  });
});
