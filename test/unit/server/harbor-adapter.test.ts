/**
 * Unit tests of the Harbor scanner adapter's pure parts: credential check, report type
 * negotiation, scan request validation (against the spec payload in test/fixtures/notifications),
 * scan ids, and the report mapping (fields and types of the spec's report example).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import type { RegistryConfig } from '../../../src/config/types.js';
import type { ScanReport } from '../../../src/core/index.js';
import { adapterCredentialOk, AdapterMediaTypes, negotiateReportType, parseScanId, parseScanRequest, registryForUrl, scanId, toHarborReport } from '../../../src/server/harbor-adapter.js';
import { ROOT } from '../../helpers/lab.js';

const FIX = path.join(ROOT, 'test/fixtures/notifications');
const reg = (name: string, url: string): RegistryConfig => ({ name, url, type: 'harbor', insecure: false, webhook: {}, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 4, timeoutMs: 1000 });
const REGISTRIES = [reg('harbor', 'http://harbor-core.harbor.svc:8080'), reg('other', 'https://registry.example.test')];
const request = () => JSON.parse(fs.readFileSync(path.join(FIX, 'scanner-adapter-scan-request.json'), 'utf8')) as Record<string, Record<string, unknown>>;

describe('harbor adapter: credentials', () => {
  const tokens = ['tok-123', 'user:pw'];
  const cases: Array<[string | undefined, string | undefined, boolean]> = [
    ['Bearer tok-123', undefined, true],
    ['bearer tok-123', undefined, true],
    [`Basic ${Buffer.from('user:pw').toString('base64')}`, undefined, true],
    [undefined, 'tok-123', true],
    ['Bearer tok-12', undefined, false],
    ['Bearer tok-1234', undefined, false],
    [`Basic ${Buffer.from('user:other').toString('base64')}`, undefined, false],
    ['tok-123', undefined, false],
    [undefined, 'user', false],
    [undefined, undefined, false],
  ];
  for (const [auth, key, ok] of cases) {
    it(`${auth ?? '-'} / api key ${key ?? '-'} → ${ok}`, () => expect(adapterCredentialOk(auth, key, tokens)).to.equal(ok));
  }
  it('no tokens configured: nothing passes', () => expect(adapterCredentialOk('Bearer ', '', [])).to.equal(false));
});

describe('harbor adapter: report type negotiation', () => {
  const cases: Array<[string | undefined, string | undefined]> = [
    [undefined, AdapterMediaTypes.harborReport],
    ['', AdapterMediaTypes.harborReport],
    ['*/*', AdapterMediaTypes.harborReport],
    ['application/vnd.security.vulnerability.report; version=1.1', AdapterMediaTypes.vulnReport],
    ['application/vnd.security.vulnerability.report;version="1.1"', AdapterMediaTypes.vulnReport],
    ['application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0', AdapterMediaTypes.harborReport],
    ['application/vnd.scanner.adapter.vuln.report.raw, application/vnd.security.vulnerability.report; version=1.1', AdapterMediaTypes.vulnReport],
    ['application/vnd.security.vulnerability.report; version=2.0', undefined],
    ['application/vnd.scanner.adapter.vuln.report.raw', undefined],
    ['application/vnd.security.sbom.report+json; version=1.0', undefined],
  ];
  for (const [accept, want] of cases) it(`${accept ?? '(none)'} → ${want ?? 'none'}`, () => expect(negotiateReportType(accept)).to.equal(want));
});

describe('harbor adapter: scan requests', () => {
  it('the spec payload parses; its Basic robot credential is decoded for that scan', () => {
    const r = parseScanRequest(request(), REGISTRIES);
    expect(r).to.not.have.property('status');
    const ok = r as Exclude<typeof r, { status: number }>;
    expect(ok.target).to.deep.include({ repository: 'team/app', tag: '1.4.2', digest: 'sha256:dd1a4d68822034162e479d6e7cf9fc87f727c3e5d8e6066b917965d35b69691d' });
    expect(ok.target.registry.name).to.equal('harbor');
    expect(ok.credential).to.deep.equal({ username: 'robot$team+scanner-trivy-01', password: 'placeholder-secret' });
  });
  it('a Bearer credential is passed as a token', () => {
    const b = request();
    b.registry.authorization = 'Bearer eyJhbGciOi.x.y';
    const r = parseScanRequest(b, REGISTRIES) as { credential: unknown };
    expect(r.credential).to.deep.equal({ token: 'eyJhbGciOi.x.y' });
  });
  const bad: Array<[string, (b: Record<string, Record<string, unknown>>) => void, number, RegExp]> = [
    ['an unconfigured registry URL', (b) => (b.registry.url = 'http://evil.example.test:8080'), 422, /registries\[\]\.url/],
    ['the right host on another port', (b) => (b.registry.url = 'http://harbor-core.harbor.svc:8081'), 422, /not a registry pushgate guards/],
    ['the right host with another scheme', (b) => (b.registry.url = 'https://harbor-core.harbor.svc:8080'), 422, /not a registry pushgate guards/],
    ['no registry URL', (b) => delete b.registry.url, 422, /registry\.url/],
    ['a bad digest', (b) => (b.artifact.digest = 'sha256:abc'), 422, /digest/],
    ['no repository', (b) => delete b.artifact.repository, 422, /repository/],
    ['an unknown artifact type', (b) => (b.artifact.mime_type = 'application/vnd.cncf.helm.config.v1+json'), 422, /mime_type/],
    ['a Digest authorization', (b) => (b.registry.authorization = 'Digest x'), 422, /authorization/],
    ['sbom only', (b) => ((b as Record<string, unknown>).enabled_capabilities = [{ type: 'sbom' }]), 501, /vulnerability/],
    // Repository names and tags as Distribution's grammar accepts them, nothing else.
    ...['Team/App', 'team//app', '/team/app', 'team/app/', 'team/../app', 'team/app%2f', 'tëam/app', 'team/a\u0000pp', 'team/-app', 'team/app..x', 'x'.repeat(256)].map(
      (repo) => [`repository ${JSON.stringify(repo.slice(0, 20))}`, (b: Record<string, Record<string, unknown>>) => (b.artifact.repository = repo), 422, /is not a repository name/] as [string, (b: Record<string, Record<string, unknown>>) => void, number, RegExp],
    ),
    ...['.v1', '-v1', 'v 1', 'v1/x', 'v\u00e91', 'x'.repeat(129)].map(
      (tag) => [`tag ${JSON.stringify(tag.slice(0, 20))}`, (b: Record<string, Record<string, unknown>>) => (b.artifact.tag = tag), 422, /is not a tag/] as [string, (b: Record<string, Record<string, unknown>>) => void, number, RegExp],
    ),
  ];
  for (const [what, mutate, status, msg] of bad) {
    it(`refuses ${what} (${status})`, () => {
      const b = request();
      mutate(b);
      const r = parseScanRequest(b, REGISTRIES) as { status: number; message: string };
      expect(r.status).to.equal(status);
      expect(r.message).to.match(msg);
      expect(r.message).to.not.include('placeholder-secret');
    });
  }
  it('registry URLs match by scheme, host and port; a path or credentials in the URL do not matter', () => {
    expect(registryForUrl('http://harbor-core.harbor.svc:8080/', REGISTRIES)?.name).to.equal('harbor');
    expect(registryForUrl('https://registry.example.test:443', REGISTRIES)?.name).to.equal('other');
    expect(registryForUrl('not a url', REGISTRIES)).to.equal(undefined);
  });
});

describe('harbor adapter: scan ids and reports', () => {
  it('scan ids round-trip and reject anything else', () => {
    const id = scanId('harbor', 'team/app', `sha256:${'a'.repeat(64)}`);
    expect(parseScanId(id)).to.deep.equal({ registry: 'harbor', repository: 'team/app', digest: `sha256:${'a'.repeat(64)}` });
    for (const bad of ['', 'x', Buffer.from('a\nb\nc').toString('base64url'), '../etc', 'a'.repeat(2000)]) expect(parseScanId(bad), bad).to.equal(undefined);
  });

  const report: ScanReport = {
    target: 'h/team/app@sha256:…',
    packages: [],
    findings: [
      { id: 'DEBIAN-CVE-2099-0001', aliases: ['CVE-2099-0001'], summary: 'heap overflow', ecosystem: 'Debian:12', package: 'libexample1', installedVersion: '1.2.3-r0', fixedVersions: ['1.2.4-r0'], severity: 'critical', cvss: { score: 9.8, vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', version: '3.1' }, path: 'var/lib/dpkg/status' },
      { id: 'NSWG-NPM-516', aliases: [], ecosystem: 'npm', package: 'lodash', installedVersion: '4.17.15', fixedVersions: [], severity: 'medium', path: 'app/node_modules/lodash/package.json' },
    ],
    secrets: [],
    config: [],
    diagnostics: [],
    complete: true,
    verdict: { decision: 'quarantine', reasons: [], policy: { name: 'p', revision: 'r' }, complete: true },
    scannedAt: '2026-03-09T14:45:31.000Z',
  };
  const art = { repository: 'team/app', digest: `sha256:${'d'.repeat(64)}`, mimeType: 'application/vnd.oci.image.manifest.v1+json' };

  it('1.1: same fields and types as the spec example; CVE ids first, the matched record kept', () => {
    const example = JSON.parse(fs.readFileSync(path.join(FIX, 'scanner-adapter-report-1.1.json'), 'utf8')) as Record<string, unknown> & { vulnerabilities: Array<Record<string, unknown>> };
    const out = toHarborReport(report, art, '1.1') as unknown as Record<string, unknown> & { vulnerabilities: Array<Record<string, unknown>> };
    for (const k of Object.keys(example)) expect(typeof out[k], k).to.equal(typeof example[k]);
    expect(out.severity).to.equal('Critical');
    const [a, b] = out.vulnerabilities;
    for (const k of Object.keys(example.vulnerabilities[0]).filter((k) => k !== 'cwe_ids')) expect(typeof a[k], k).to.equal(typeof example.vulnerabilities[0][k]);
    expect(a).to.deep.include({ id: 'CVE-2099-0001', package: 'libexample1', version: '1.2.3-r0', fix_version: '1.2.4-r0', severity: 'Critical', description: 'heap overflow' });
    expect(a.preferred_cvss).to.deep.equal({ score_v3: 9.8, vector_v3: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' });
    expect((a.vendor_attributes as { pushgate: { id: string } }).pushgate.id).to.equal('DEBIAN-CVE-2099-0001');
    expect(b).to.deep.include({ id: 'NSWG-NPM-516', severity: 'Medium' });
    expect(b).to.not.have.property('fix_version');
  });

  it('1.0 leaves out the 1.1 fields; no findings → severity Unknown', () => {
    const out = toHarborReport(report, art, '1.0');
    for (const v of out.vulnerabilities) expect(v).to.not.have.any.keys('preferred_cvss', 'cwe_ids', 'vendor_attributes');
    expect(toHarborReport({ ...report, findings: [] }, art, '1.0').severity).to.equal('Unknown');
  });
});
