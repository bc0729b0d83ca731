/**
 * `pushgate scan --format table` never cuts a version: a real scan of the lab's Debian image with
 * the offline OSV fixtures, whose fixed versions (`1.5.4+dfsg2-5+deb12u1`) are longer than the
 * table's default columns, checked finding by finding against the JSON report of the same scan.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderTable } from '../../../src/cli/render.js';
import type { ScanReport } from '../../../src/core/index.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { runCli } from '../../helpers/cli.js';
import { labImages, ROOT } from '../../helpers/lab.js';

describe('cli: pushgate scan --format table keeps versions whole', function () {
  this.timeout(120_000);
  let dir: string;
  let table: string;
  let report: ScanReport;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-table-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const config = path.join(dir, 'pushgate.yaml');
    fs.writeFileSync(config, `vulndb:\n  path: ${path.join(dir, 'vulndb.sqlite')}\n`);
    const target = `oci:${labImages()}/debian-minbase:bookworm`;
    const t = runCli(['scan', target, '--config', config, '--format', 'table'], { cwd: dir });
    expect(t.status, t.stderr).to.equal(0);
    table = t.stdout;
    const j = runCli(['scan', target, '--config', config, '--format', 'json'], { cwd: dir });
    report = JSON.parse(j.stdout) as ScanReport;
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('every finding row shows its fixed versions whole, every package row its installed version', () => {
    const lines = table.split('\n');
    const longest = Math.max(...report.findings.flatMap((f) => f.fixedVersions.map((v) => v.length)));
    expect(longest, 'the image has a fixed version longer than the old 18-character column').to.be.greaterThan(18);
    expect(table).to.match(/ 1\.5\.4\+dfsg2-5\+deb12u1 +CVE-2026-124851\n/);
    for (const f of report.findings) {
      const row = lines.find((l) => l.startsWith('    ') && l.includes(` ${f.id} `));
      expect(row, f.id).to.not.equal(undefined);
      expect(row!.split(/ +/), f.id).to.include.members(f.fixedVersions.map((v, i, a) => (i < a.length - 1 ? `${v},` : v)));
      const pkg = lines.find((l) => l.startsWith(`${f.package} `));
      expect(pkg?.split(/ +/), f.package).to.include(f.installedVersion);
    }
  });

  it('columns grow to fit (rows stay aligned) and severities are not cut', () => {
    const findingRows = table.split('\n').filter((l) => /^ {4}[A-Z]+ +DEBIAN-/.test(l));
    const aboutAt = new Set(findingRows.map((l) => l.search(/CVE-\d+-\d+$/)));
    expect([...aboutAt], 'the alias column starts at one offset').to.have.length(1);
    expect(table).to.match(/\n {2}negligible +no-healthcheck /);
  });

  it('a version longer than any column (a Go pseudo-version) is shown whole; the rest of its row continues below at the columns', () => {
    const pseudo = 'v0.0.0-20240208230135-b75ee8823808d2ce4f1aa57fb5e2c7a1b9d0e4f3+incompatible';
    const f = report.findings[0];
    const text = renderTable({ ...report, findings: [{ ...f, installedVersion: pseudo, fixedVersions: [`${pseudo}.1`] }] });
    const lines = text.split('\n');
    const head = lines.find((l) => l.startsWith('PACKAGE '))!;
    const row = lines.findIndex((l) => l.startsWith(`${f.package} `));
    expect(lines[row], 'package row').to.match(new RegExp(` ${pseudo.replace(/[.+]/g, '\\$&')}$`));
    // FIXED IN and the counts start at their header's columns on the lines below
    expect(lines[row + 1].indexOf(`${pseudo}.1`), 'FIXED IN').to.equal(head.indexOf('FIXED IN'));
    expect(lines[row + 2].search(/\S/), 'VULNERABILITIES').to.equal(head.indexOf('VULNERABILITIES'));
    const finding = lines.findIndex((l) => l.startsWith('    ') && l.includes(` ${f.id} `));
    expect(lines[finding], 'finding row').to.match(new RegExp(` ${pseudo.replace(/[.+]/g, '\\$&')}\\.1$`));
    expect(lines[finding + 1], 'its text, below at its column').to.match(/^ {40,}\S/);
  });
});
