/**
 * Severity, exploitation and end-of-life data on the lab's Debian 12 image, scanned by the real engine
 * and judged as `pushgate scan` judges it, against a database built from the fixture OSV records plus
 * the real NVD records, the CISA KEV catalog and endoflife.date pages (test/fixtures/vulndb).
 * The minimal lab image carries none of the catalog's CVEs, so a second image is assembled from its own
 * dpkg status and os-release plus the real bookworm `nginx-common 1.22.1-9+deb12u9` entry, which
 * DEBIAN-CL-CVE-2023-44487 (a KEV CVE) affects.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Finding } from '../../../src/core/finding.js';
import { judgeScan } from '../../../src/gate/judge.js';
import { compilePolicy, defaultPolicy } from '../../../src/policy/index.js';
import { scanTarget, type ImageScan } from '../../../src/scan/engine.js';
import { nvdRating, updateDb, VulnDb } from '../../../src/vulndb/index.js';
import { labImages, labOci } from '../../helpers/lab.js';
import { writeOciImage } from '../../helpers/oci-image.js';

const FIX = path.resolve('test/fixtures/vulndb');
const NVD = path.join(FIX, 'nvd/cve');
const KEV = path.join(FIX, 'kev/known_exploited_vulnerabilities.json');

/** A file of the lab image's layers (the last layer holding it wins), read with tar(1). */
function labFile(name: string, file: string): string {
  const layout = path.join(labImages(), name);
  const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const blob = (d: string) => path.join(layout, 'blobs', ...d.split(':'));
  const manifest = JSON.parse(fs.readFileSync(blob(index.manifests[0].digest), 'utf8')) as { layers: Array<{ digest: string }> };
  let out = '';
  for (const l of manifest.layers) {
    try {
      out = execFileSync('tar', ['-xOf', blob(l.digest), '--wildcards', `*${file}`], { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'ignore'] }) || out;
    } catch {
      // not in this layer
    }
  }
  if (!out) throw new Error(`${file} not found in lab image ${name}`);
  return out;
}

/** CVE id → NVD rating of the fixture records (what "NVD scores" means below). */
function nvdScored(): Map<string, string> {
  const m = new Map<string, string>();
  for (const f of fs.readdirSync(NVD)) {
    const r = nvdRating(JSON.parse(fs.readFileSync(path.join(NVD, f), 'utf8')) as Record<string, unknown>);
    if (r) m.set(r.cve, r.sev.severity);
  }
  return m;
}

const cves = (f: Finding) => [f.id, ...f.aliases].filter((x) => x.startsWith('CVE-'));

describe('vulndb enrichment on the lab Debian image (real engine, real NVD/KEV/endoflife.date data)', function () {
  this.timeout(300_000);
  let dir: string;
  let db: VulnDb;
  let debian: ImageScan;
  let withNginx: ImageScan;
  const kevCves = new Set((JSON.parse(fs.readFileSync(KEV, 'utf8')) as { vulnerabilities: Array<{ cveID: string }> }).vulnerabilities.map((v) => v.cveID));

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-enrich-lab-'));
    await updateDb({
      path: path.join(dir, 'v.sqlite'),
      sources: [path.join(FIX, 'osv'), `nvd:${NVD}`, `kev:${KEV}`, `eol:${path.join(FIX, 'eol/products')}`],
    });
    db = VulnDb.open(path.join(dir, 'v.sqlite'));
    debian = await scanTarget(labOci('debian-minbase', 'bookworm'));
    const status = `${labFile('debian-minbase', 'var/lib/dpkg/status').trimEnd()}\n\n${fs.readFileSync(path.join(FIX, 'dpkg/nginx-common.status'), 'utf8')}`;
    const img = writeOciImage(dir, 'debian-nginx', [{ files: { 'etc/os-release': labFile('debian-minbase', 'usr/lib/os-release'), 'var/lib/dpkg/status': status }, gzip: true }], {
      config: { User: '65534', Env: ['PATH=/usr/local/bin:/usr/bin', 'NODE_VERSION=18.20.8'] },
    });
    withNginx = await scanTarget(img.ref);
  });
  after(() => {
    db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('no finding that NVD scores is UNKNOWN, and each severity names its source', () => {
    const { report } = judgeScan(debian, db, defaultPolicy());
    const scored = nvdScored();
    const findings = report.findings;
    expect(findings.length).to.be.greaterThan(10);
    const nvdKnown = findings.filter((f) => cves(f).some((c) => scored.has(c)));
    expect(nvdKnown.length).to.be.greaterThan(5);
    for (const f of nvdKnown) {
      expect(f.severity, f.id).to.not.equal('unknown');
      // Debian's records carry no rating of their own: NVD's is the one used
      expect(f.severitySource, f.id).to.match(/^NVD (CNA \S+ )?CVSS_V[\d.]+ CVE-/);
      expect(f.severity, f.id).to.equal(scored.get(cves(f).find((c) => scored.has(c))!));
    }
    for (const f of findings) {
      if (f.severity === 'unknown') {
        expect(f.severitySource, f.id).to.equal('none');
        expect(cves(f).some((c) => scored.has(c)), f.id).to.equal(false);
      } else {
        const r = f.severities!.find((x) => x.from === f.severitySource);
        expect(r, f.id).to.include({ severity: f.severity });
      }
    }
  });

  it('its KEV CVEs are flagged: none in the minimal image; CVE-2023-44487 once nginx-common is installed', () => {
    const all = [...judgeScan(debian, db, defaultPolicy()).report.findings, ...judgeScan(withNginx, db, defaultPolicy()).report.findings];
    for (const f of all) expect(!!f.kev, f.id).to.equal(cves(f).some((c) => kevCves.has(c)));
    expect(judgeScan(debian, db, defaultPolicy()).report.findings.filter((f) => f.kev)).to.deep.equal([]);
    const { report } = judgeScan(withNginx, db, defaultPolicy());
    const flagged = report.findings.filter((f) => f.kev);
    expect(flagged.map((f) => `${f.id} ${f.package}`)).to.deep.equal(['DEBIAN-CL-CVE-2023-44487 nginx-common']);
    expect(flagged[0].kev).to.deep.equal({ cve: 'CVE-2023-44487', dateAdded: '2023-10-10', dueDate: '2023-10-31', knownRansomwareCampaignUse: 'Unknown' });
    // risk order: the KEV finding first, then by CVSS
    expect(report.findings[0].id).to.equal('DEBIAN-CL-CVE-2023-44487');
    const scores = report.findings.slice(1).map((f) => f.cvss?.score ?? -1);
    expect(scores).to.deep.equal([...scores].sort((a, b) => b - a));
  });

  it('gets os-eol today (Debian 12 regular support ended 2026-07-11, LTS until 2028-06-30) and not with a clock before that', () => {
    const today = judgeScan(debian, db, defaultPolicy()).report.eol;
    expect(today).to.deep.equal([{
      id: 'os-eol', product: 'debian', cycle: '12', codename: 'Bookworm', version: '12', via: 'os-release',
      eol: '2026-07-11', extendedSupportUntil: '2028-06-30', inExtendedSupport: true,
    }]);
    expect(judgeScan(debian, db, defaultPolicy(), { now: new Date('2026-07-10T12:00:00Z') }).report.eol).to.equal(undefined);
    expect(judgeScan(debian, db, defaultPolicy(), { now: new Date('2026-07-11T23:59:59Z') }).report.eol).to.equal(undefined);
    expect(judgeScan(debian, db, defaultPolicy(), { now: new Date('2026-07-12T00:00:00Z') }).report.eol?.map((e) => e.id)).to.deep.equal(['os-eol']);
    // the runtime an official image declares in its Env
    const eol2 = judgeScan(withNginx, db, defaultPolicy(), { now: new Date('2026-12-05T00:00:00Z') }).report.eol!;
    expect(eol2.map((e) => `${e.id} ${e.product} ${e.cycle} ${e.via}`)).to.deep.equal(['os-eol debian 12 os-release', 'runtime-eol nodejs 18 config:Env NODE_VERSION']);
  });

  it('the policy acts on them: kev → reject, eol with allowExtendedSupport and a grace period', () => {
    const policy = compilePolicy(`apiVersion: pushgate.dev/v1
kind: Policy
metadata: { name: enrich }
spec:
  ruleSets:
    default:
      rules:
        - { name: known-exploited, action: reject, match: { vulnerability: { kev: true } } }
        - { name: os-eol, action: quarantine, match: { eol: { kinds: [os], allowExtendedSupport: true, gracePeriod: 30d } } }
        - { name: runtime-eol, action: warn, match: { eol: { kinds: [runtime] } } }
`, '<test>');
    const at = (img: ImageScan, now: string) => judgeScan(img, db, policy, { now: new Date(now) }).report.verdict;
    const v = at(withNginx, '2026-12-05T00:00:00Z');
    expect(v.decision).to.equal('reject');
    expect(v.reasons.map((r) => r.rule)).to.deep.equal(['known-exploited', 'runtime-eol']);
    expect(v.reasons[0].message).to.include('nginx-common').and.include('CVE-2023-44487').and.include('CISA KEV since 2023-10-10');
    expect(v.reasons[1].message).to.include('nodejs 18').and.include('regular security support ended 2025-04-30');
    // Debian 12 is in LTS until 2028-06-30: allowed; once LTS ended and the grace passed, quarantined
    expect(at(debian, '2026-12-05T00:00:00Z').reasons).to.deep.equal([]);
    expect(at(debian, '2028-07-15T00:00:00Z').decision).to.equal('allow');
    const late = at(debian, '2028-08-01T00:00:00Z');
    expect(late.decision).to.equal('quarantine');
    expect(late.reasons[0].message).to.include('debian 12 (Bookworm)').and.include('extended support ended 2028-06-30');
  });
});
