/**
 * Report converters on real scans of the lab images (adm-zip: a fixable npm advisory; node-app:
 * secrets and npm advisories) judged with the offline OSV fixtures: SARIF 2.1.0 structure,
 * CycloneDX 1.6 validated against its JSON schema (the library's strict validator), and the
 * table grouped by package.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { renderTable } from '../../../src/cli/render.js';
import type { ScanReport } from '../../../src/core/index.js';
import { judgeScan } from '../../../src/gate/judge.js';
import { formatReport, toSarif } from '../../../src/gate/report-formats.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { scanTarget } from '../../../src/scan/engine.js';
import { updateDb, VulnDb } from '../../../src/vulndb/index.js';
import { labOci, ROOT } from '../../helpers/lab.js';

interface SarifLog {
  $schema: string;
  version: string;
  runs: Array<{
    tool: { driver: { name: string; rules: Array<{ id: string; properties?: Record<string, unknown> }> } };
    results: Array<{ ruleId: string; level: string; message: { text: string }; locations: Array<{ physicalLocation: { artifactLocation: { uri: string }; region?: { startLine: number } } }>; properties?: Record<string, unknown> }>;
    properties: { decision: string };
  }>;
}

describe('report formats: SARIF 2.1.0, CycloneDX 1.6, table by package', function () {
  this.timeout(120_000);
  let dir: string;
  let db: VulnDb;
  let admZip: ScanReport;
  let nodeApp: ScanReport;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-report-'));
    await updateDb({ path: path.join(dir, 'v.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    db = VulnDb.open(path.join(dir, 'v.sqlite'));
    admZip = judgeScan(await scanTarget(labOci('adm-zip', '0.4.7')), db, defaultPolicy()).report;
    nodeApp = judgeScan(await scanTarget(labOci('node-app', 'vuln')), db, defaultPolicy()).report;
  });
  after(() => {
    db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('SARIF: one rule per advisory, results reference known rules, levels and security-severity as GitHub reads them', () => {
    expect(admZip.findings.map((f) => f.id)).to.include('NSWG-NPM-458');
    const log = toSarif(admZip, '9.9.9') as SarifLog;
    expect(log.version).to.equal('2.1.0');
    expect(log.$schema).to.match(/sarif-2\.1\.0/);
    const run = log.runs[0];
    expect(run.tool.driver.name).to.equal('pushgate');
    const ruleIds = new Set(run.tool.driver.rules.map((r) => r.id));
    expect(ruleIds.size).to.equal(run.tool.driver.rules.length);
    for (const r of run.results) {
      expect(ruleIds.has(r.ruleId), r.ruleId).to.equal(true);
      expect(['error', 'warning', 'note']).to.include(r.level);
      expect(r.message.text.length).to.be.greaterThan(0);
      expect(r.locations[0].physicalLocation.artifactLocation.uri).to.not.match(/^\//);
    }
    const adv = run.results.find((r) => r.ruleId === 'NSWG-NPM-458')!;
    const f = admZip.findings.find((x) => x.id === 'NSWG-NPM-458')!;
    expect(adv.message.text).to.include(`adm-zip ${f.installedVersion}`).and.include(`fixed in ${f.fixedVersions.join(', ')}`);
    expect(adv.properties).to.include({ package: 'adm-zip', installedVersion: f.installedVersion });
    const rule = run.tool.driver.rules.find((r) => r.id === 'NSWG-NPM-458')!;
    expect(Number(rule.properties!['security-severity'])).to.be.within(0, 10);
    expect(run.properties.decision).to.equal(admZip.verdict.decision);
  });

  it('a VEX-suppressed finding stays in SARIF (suppressions) and CycloneDX (analysis, valid 1.6) with its statement', async () => {
    const vex = { status: 'not_affected' as const, justification: 'vulnerable_code_not_in_execute_path', impactStatement: 'never extracts archives', source: '/etc/pushgate/vex/app.json#statements[0]' };
    const suppressed: ScanReport = { ...admZip, findings: admZip.findings.map((f) => (f.id === 'NSWG-NPM-458' ? { ...f, vex } : f)) };
    const res = (toSarif(suppressed) as SarifLog).runs[0].results.find((r) => r.ruleId === 'NSWG-NPM-458') as unknown as { suppressions?: Array<{ kind: string; justification: string }> };
    expect(res.suppressions).to.deep.equal([{ kind: 'external', status: 'accepted', justification: 'not_affected (vulnerable_code_not_in_execute_path): never extracts archives — VEX /etc/pushgate/vex/app.json#statements[0]' }]);
    const { body } = formatReport(suppressed, 'cyclonedx');
    expect(await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(body)).to.equal(null);
    const v = (JSON.parse(body) as { vulnerabilities: Array<{ id: string; analysis?: Record<string, string> }> }).vulnerabilities.find((x) => x.id === 'NSWG-NPM-458');
    expect(v?.analysis).to.deep.include({ state: 'not_affected', justification: 'code_not_reachable' });
    expect(v?.analysis?.detail).to.include('VEX /etc/pushgate/vex/app.json#statements[0]');
  });

  it('SARIF: secrets carry their line and only the redacted text', () => {
    expect(nodeApp.secrets.length).to.be.greaterThan(0);
    const log = JSON.parse(formatReport(nodeApp, 'sarif').body) as SarifLog;
    const secrets = log.runs[0].results.filter((r) => r.ruleId.startsWith('secret/'));
    expect(secrets).to.have.length(nodeApp.secrets.length);
    for (const s of nodeApp.secrets) {
      const r = secrets.find((x) => x.ruleId === `secret/${s.rule}` && x.message.text.includes(s.path.replace(/^\//, '')));
      expect(r, s.rule).to.not.equal(undefined);
      expect(r!.message.text).to.include(s.redacted);
      if (s.line) expect(r!.locations[0].physicalLocation.region?.startLine).to.equal(s.line);
    }
  });

  it('CycloneDX: valid against the 1.6 JSON schema; every vulnerability affects a listed component', async () => {
    for (const report of [admZip, nodeApp]) {
      const { body, mediaType } = formatReport(report, 'cyclonedx', '9.9.9');
      expect(mediaType).to.match(/cyclonedx\+json/);
      const err = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(body);
      expect(err, JSON.stringify(err)).to.equal(null);
      const bom = JSON.parse(body) as { components: Array<{ 'bom-ref': string; purl: string }>; vulnerabilities: Array<{ id: string; affects: Array<{ ref: string }>; ratings: Array<{ severity: string }>; recommendation: string }> };
      expect(bom.components).to.have.length(new Set(report.packages.map((p) => `${p.purl}#${p.path}`)).size);
      const refs = new Set(bom.components.map((c) => c['bom-ref']));
      expect(bom.vulnerabilities).to.have.length(report.findings.length);
      for (const v of bom.vulnerabilities) {
        expect(v.affects.length, v.id).to.equal(1);
        expect(refs.has(v.affects[0].ref), v.id).to.equal(true);
      }
      const adm = bom.vulnerabilities.find((v) => v.id === 'NSWG-NPM-458');
      if (report === admZip) expect(adm?.recommendation).to.match(/^Upgrade adm-zip to /);
    }
  });

  it('table: findings grouped by package with installed and fixed versions, worst package first', () => {
    const text = renderTable(nodeApp);
    const lines = text.split('\n');
    const header = lines.findIndex((l) => l.startsWith('PACKAGE'));
    expect(header).to.be.greaterThan(0);
    expect(lines[header]).to.match(/PACKAGE\s+ECOSYSTEM\s+INSTALLED\s+FIXED IN\s+VULNERABILITIES/);
    const byPkg = new Map<string, typeof nodeApp.findings>();
    for (const f of nodeApp.findings) byPkg.set(`${f.package}@${f.path}`, [...(byPkg.get(`${f.package}@${f.path}`) ?? []), f]);
    for (const fs2 of byPkg.values()) {
      const f = fs2[0];
      const row = lines.find((l) => l.startsWith(`${f.package} `) && l.includes(f.installedVersion));
      expect(row, f.package).to.not.equal(undefined);
      for (const v of fs2.flatMap((x) => x.fixedVersions)) expect(row).to.include(v);
      // each finding appears once, indented under its package
      for (const x of fs2) expect(lines.filter((l) => l.startsWith('    ') && l.includes(` ${x.id} `)).length, x.id).to.be.at.least(1);
    }
  });
});
