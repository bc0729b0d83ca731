/**
 * Report converters on real scans of the lab images (adm-zip: a fixable npm advisory; node-app:
 * secrets and npm advisories) judged with the offline OSV fixtures: SARIF 2.1.0 structure,
 * CycloneDX 1.6 validated against its JSON schema (the library's strict validator), and the
 * table grouped by package.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
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
import { labImages, labOci, ROOT } from '../../helpers/lab.js';
import { writeOciImage } from '../../helpers/oci-image.js';

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

  it('CycloneDX: the same report gives the same bytes (no random bom-ref orders the vulnerabilities), every bom-ref unique', () => {
    for (const report of [admZip, nodeApp]) {
      const a = formatReport(report, 'cyclonedx', '9.9.9').body;
      expect(formatReport(report, 'cyclonedx', '9.9.9').body).to.equal(a);
      const bom = JSON.parse(a) as { components: Array<{ 'bom-ref': string }>; vulnerabilities: Array<{ 'bom-ref': string }> };
      const refs = [...bom.components, ...bom.vulnerabilities].map((x) => x['bom-ref']);
      expect(new Set(refs).size).to.equal(refs.length);
    }
  });

  it('SARIF and CycloneDX carry the bases (how found, recommendations) and each package\'s and finding\'s origin; CycloneDX stays valid 1.6', async () => {
    // adm-zip is the lab's debootstrap layer plus its own: the first layer is the base's.
    const scan = await scanTarget(labOci('adm-zip', '0.4.7'));
    const p = scan.platforms[0];
    const ids = p.layers.map((l) => l.diffID ?? l.digest);
    const digest = `sha256:${'ab'.repeat(32)}` as const;
    const refreshed = `sha256:${'cd'.repeat(32)}` as const;
    const counts = { unknown: 0, negligible: 0, low: 1, medium: 2, high: 0, critical: 0 };
    const named = {
      method: 'chain' as const, registry: 'lab', repository: 'lab/debian', tags: ['12', '12.0'], digest, layers: ids.slice(0, 1), note: 'base lab/debian:12,12.0: chain',
      recommendations: [{ kind: 'refresh' as const, repository: 'lab/debian', tag: '12', digest: refreshed, summary: { counts, fixable: counts } }],
    };
    const history = { method: 'history' as const, tags: [], layers: ids.slice(0, 1), note: 'the first 1 layer(s), from history' };
    for (const base of [named, history]) {
      const r = judgeScan(scan, db, defaultPolicy(), {}, { bases: new Map([[p, { base }]]), trustAuthorBase: true }).report;
      const origins = new Set(r.findings.map((f) => f.origin));
      expect([...origins].sort(), 'findings from both').to.deep.equal(['app', 'base']);

      const run = (toSarif(r) as SarifLog).runs[0] as SarifLog['runs'][number] & { properties: { bases?: unknown[] } };
      expect(run.properties.bases).to.deep.equal(r.bases);
      for (const res of run.results.filter((x) => !x.ruleId.includes('/'))) expect(['base', 'app']).to.include(res.properties!.origin);
      const adm = run.results.find((x) => x.ruleId === 'NSWG-NPM-458')!;
      expect(adm.properties!.origin).to.equal('app');
      const withSecret = (toSarif({ ...r, secrets: [{ ...nodeApp.secrets[0], origin: 'app' }] }) as SarifLog).runs[0].results.find((x) => x.ruleId.startsWith('secret/'))!;
      expect(withSecret.properties).to.deep.equal({ origin: 'app' });

      const { body } = formatReport(r, 'cyclonedx');
      const err = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(body);
      expect(err, JSON.stringify(err)).to.equal(null);
      type Prop = { name: string; value: string };
      const bom = JSON.parse(body) as { metadata: { component: { properties?: Prop[]; pedigree?: { ancestors: Array<{ type: string; name: string; version?: string; hashes?: Array<{ alg: string; content: string }>; properties: Prop[] }> } } }; components: Array<{ name: string; properties: Prop[] }>; vulnerabilities: Array<{ id: string; properties?: Prop[] }> };
      const origin = (props: Prop[] | undefined) => props?.find((x) => x.name === 'pushgate:origin')?.value;
      expect(bom.components.every((c) => ['base', 'app'].includes(origin(c.properties)!))).to.equal(true);
      expect(origin(bom.components.find((c) => c.name === 'adm-zip')!.properties)).to.equal('app');
      expect(bom.vulnerabilities.map((v) => origin(v.properties)).sort()).to.deep.equal(r.findings.map((f) => f.origin).sort());
      if (base === named) {
        const anc = bom.metadata.component.pedigree!.ancestors;
        expect(anc).to.have.length(1);
        expect(anc[0]).to.deep.include({ type: 'container', name: 'lab/debian', version: '12' });
        expect(anc[0].hashes).to.deep.equal([{ alg: 'SHA-256', content: 'ab'.repeat(32) }]);
        expect(anc[0].properties).to.deep.include.members([
          { name: 'pushgate:base:method', value: 'chain' }, { name: 'pushgate:base:tags', value: '12,12.0' }, { name: 'pushgate:base:layers', value: '1' },
          { name: 'pushgate:base:recommendation', value: `refresh lab/debian:12@${refreshed}: 0 high, 2 medium, 1 low` },
        ]);
      } else {
        expect(bom.metadata.component.pedigree, 'an unnamed base is no ancestor').to.equal(undefined);
        expect(bom.metadata.component.properties).to.deep.include.members([{ name: 'pushgate:base:method', value: 'history' }, { name: 'pushgate:base:layers', value: '1' }]);
      }
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

describe('report formats: exploitation data (CISA KEV, FIRST EPSS) in SARIF and CycloneDX', function () {
  this.timeout(120_000);
  const FIX = path.join(ROOT, 'test/fixtures/vulndb');
  let dir: string;
  let db: VulnDb;
  let report: ScanReport;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-report-kev-'));
    // no real EPSS file is available: made-up scores in FIRST's published layout
    const epss = path.join(dir, 'epss_scores.csv');
    fs.writeFileSync(epss, '#model_version:v2025.03.14,score_date:2025-08-25T12:55:00Z\ncve,epss,percentile\nCVE-2023-44487,0.94410,0.99950\n');
    await updateDb({ path: path.join(dir, 'v.sqlite'), sources: [path.join(FIX, 'osv'), `nvd:${path.join(FIX, 'nvd/cve')}`, `kev:${path.join(FIX, 'kev/known_exploited_vulnerabilities.json')}`, `epss:${epss}`] });
    db = VulnDb.open(path.join(dir, 'v.sqlite'));
    // the lab Debian 12 image's os-release with the real bookworm nginx-common 1.22.1-9+deb12u9 entry,
    // which DEBIAN-CL-CVE-2023-44487 (CVE-2023-44487, in the KEV catalog) affects
    const layout = path.join(labImages(), 'debian-minbase');
    const blob = (d: string) => path.join(layout, 'blobs', ...d.split(':'));
    const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const manifest = JSON.parse(fs.readFileSync(blob(index.manifests[0].digest), 'utf8')) as { layers: Array<{ digest: string }> };
    const osRelease = manifest.layers.map((l) => {
      try {
        return execFileSync('tar', ['-xOf', blob(l.digest), '--wildcards', '*usr/lib/os-release'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        return '';
      }
    }).filter(Boolean).at(-1)!;
    const img = writeOciImage(dir, 'debian-nginx', [{ files: { 'etc/os-release': osRelease, 'var/lib/dpkg/status': fs.readFileSync(path.join(FIX, 'dpkg/nginx-common.status'), 'utf8') }, gzip: true }]);
    report = judgeScan(await scanTarget(img.ref, { tmpDir: dir }), db, defaultPolicy()).report;
  });
  after(() => {
    db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('SARIF: a known-exploited finding\'s result carries its KEV entry and EPSS score, its rule the known-exploited tag; others carry neither', () => {
    const kev = report.findings.filter((f) => f.kev);
    expect(kev.map((f) => f.id)).to.deep.equal(['DEBIAN-CL-CVE-2023-44487']);
    expect(report.findings.length).to.be.greaterThan(1);
    const run = (toSarif(report, '9.9.9') as SarifLog).runs[0];
    for (const f of report.findings) {
      const res = run.results.find((r) => r.ruleId === f.id)!;
      const rule = run.tool.driver.rules.find((r) => r.id === f.id)!;
      if (f.kev) {
        expect(res.properties).to.deep.include({ kev: { cve: 'CVE-2023-44487', dateAdded: '2023-10-10', dueDate: '2023-10-31', knownRansomwareCampaignUse: 'Unknown' } });
        expect(res.properties).to.deep.include({ epss: { cve: 'CVE-2023-44487', score: 0.9441, percentile: 0.9995 } });
        expect(rule.properties!.tags).to.include('known-exploited');
        expect(res.message.text).to.include('Known exploited (CISA KEV, CVE-2023-44487, added 2023-10-10, due 2023-10-31)').and.include('EPSS 0.9441');
      } else {
        expect(res.properties, f.id).to.not.have.any.keys('kev', 'epss');
        expect(rule.properties!.tags, f.id).to.not.include('known-exploited');
      }
      expect(res.properties!.severitySource, f.id).to.equal(f.severitySource);
    }
  });

  it('CycloneDX: KEV as an advisory and properties, EPSS as properties, every rating with its source; valid against the 1.6 schema', async () => {
    const { body } = formatReport(report, 'cyclonedx', '9.9.9');
    const err = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(body);
    expect(err, JSON.stringify(err)).to.equal(null);
    type Vuln = { id: string; ratings: Array<{ severity: string; score?: number; method?: string; source?: { name: string } }>; advisories?: Array<{ title: string; url: string }>; properties?: Array<{ name: string; value: string }> };
    const bom = JSON.parse(body) as { vulnerabilities: Vuln[] };
    const v = bom.vulnerabilities.find((x) => x.id === 'DEBIAN-CL-CVE-2023-44487')!;
    expect(v.advisories).to.deep.equal([{ title: 'CISA Known Exploited Vulnerabilities: CVE-2023-44487', url: 'https://www.cisa.gov/known-exploited-vulnerabilities-catalog?search_api_fulltext=CVE-2023-44487' }]);
    expect(Object.fromEntries((v.properties ?? []).map((p) => [p.name, p.value]))).to.deep.equal({
      'pushgate:kev:cve': 'CVE-2023-44487', 'pushgate:kev:dateAdded': '2023-10-10', 'pushgate:kev:dueDate': '2023-10-31', 'pushgate:kev:knownRansomwareCampaignUse': 'Unknown',
      'pushgate:epss:cve': 'CVE-2023-44487', 'pushgate:epss:score': '0.9441', 'pushgate:epss:percentile': '0.9995',
    });
    for (const f of report.findings) {
      const x = bom.vulnerabilities.find((y) => y.id === f.id)!;
      // one rating per source known for it, the one its severity came from among them
      const sources = new Set([f.severitySource, ...(f.severities ?? []).map((s) => s.from)].filter((s) => s && s !== 'none'));
      expect(x.ratings.map((r) => r.source?.name).filter(Boolean).sort(), f.id).to.deep.equal([...sources].sort());
      if (f.severitySource !== 'none') expect(x.ratings.find((r) => r.source?.name === f.severitySource)?.severity, f.id).to.equal(f.severity === 'negligible' ? 'info' : f.severity);
      if (!f.kev && !f.epss) expect(x.properties ?? [], f.id).to.deep.equal([]);
    }
  });
});

