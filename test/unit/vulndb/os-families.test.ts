/**
 * Every OS family of the OS table (src/core/os-table.ts) that real test data exists for: an image
 * assembled as an OCI layout from a real package database of that family plus its os-release, scanned
 * by the real engine and judged with real OSV records of its ecosystem (test/fixtures/os/README.md says
 * where each file comes from). Covered families find their advisory and only their own; families OSV does
 * not publish, or whose advisories are not loaded, are named in an `ecosystem-uncovered` diagnostic
 * that the default policy warns about.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Package, ScanReport } from '../../../src/core/index.js';
import { osEcosystemFor } from '../../../src/core/os-table.js';
import { comparatorFor } from '../../../src/vulndb/ecosystems/index.js';
import { judgeScan } from '../../../src/gate/judge.js';
import { compilePolicy, defaultPolicy } from '../../../src/policy/index.js';
import { scanTarget } from '../../../src/scan/engine.js';
import { updateDb, VulnDb } from '../../../src/vulndb/index.js';
import { ROOT } from '../../helpers/lab.js';
import { writeOciImage, type LayerFiles } from '../../helpers/oci-image.js';

const OS = path.join(ROOT, 'test/fixtures/os');
const PARSERS = path.join(ROOT, 'test/fixtures/scan/parsers');
const read = (p: string): Buffer => fs.readFileSync(p);
const osRelease = (name: string): Buffer => read(path.join(OS, 'os-release', name));
/** The real RHEL 8 (UBI 8) Berkeley DB rpmdb of go-rpmdb's testdata: libuuid 2.32.1-42.el8_8. */
const EL8_BDB = (): Buffer => read(path.join(PARSERS, 'rpm/libuuid/Packages'));

describe('OS families: real package databases matched against real OSV records of their ecosystem', function () {
  this.timeout(60_000);
  let dir: string;
  let vdb: VulnDb;
  let badRecords: Array<{ file: string; error: string }>;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-os-families-'));
    ({ badRecords } = await updateDb({
      path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(OS, 'osv'), path.join(OS, 'osv-derived'), path.join(OS, 'osv-alpine'), path.join(OS, 'osv-photon')],
    }));
    vdb = VulnDb.open(path.join(dir, 'vulndb.sqlite'));
  });
  after(() => {
    vdb?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function scan(name: string, files: LayerFiles['files'], policy = defaultPolicy()): Promise<ScanReport> {
    const { ref } = writeOciImage(dir, name, [{ files, gzip: true }]);
    const s = await scanTarget(ref, { tmpDir: dir });
    return judgeScan(s, vdb, policy, { repository: name, tag: '1' }).report;
  }
  const ids = (r: ScanReport) => r.findings.map((f) => `${f.id} ${f.package} ${f.installedVersion} → ${f.fixedVersions.join(',')}`);
  const uncovered = (r: ScanReport) => r.diagnostics.filter((d) => d.code === 'ecosystem-uncovered');

  it('UBI/RHEL 8: libuuid is found by the release-qualified Red Hat record (enterprise_linux:8::baseos), not by AlmaLinux\'s', async () => {
    const r = await scan('rhel8', { 'etc/os-release': osRelease('rhel-8'), 'var/lib/rpm/Packages': EL8_BDB() });
    expect(r.packages.map((p) => `${p.ecosystem} ${p.name} ${p.version} ${p.purl}`)).to.deep.equal([
      'Red Hat libuuid 2.32.1-42.el8_8 pkg:rpm/redhat/libuuid@2.32.1-42.el8_8?arch=x86_64&distro=rhel-8.1',
    ]);
    expect(ids(r)).to.deep.equal(['RHSA-2026:1852 libuuid 2.32.1-42.el8_8 → 0:2.32.1-48.el8_10']);
    expect(r.coverage).to.deep.equal([{ ecosystem: 'Red Hat:enterprise_linux:8', packages: 1, covered: true }]);
    expect(uncovered(r)).to.deep.equal([]);
    expect(r.verdict.decision).to.equal('allow'); // a moderate finding without a severity of its own
  });

  it('RHEL 9: the RHEL 8 stream\'s record does not apply; no record of the release is loaded, which is said', async () => {
    const r = await scan('rhel9', { 'etc/os-release': osRelease('rhel-9'), 'var/lib/rpm/Packages': EL8_BDB() });
    expect(r.findings).to.deep.equal([]);
    expect(uncovered(r).map((d) => [d.ecosystem, d.packages])).to.deep.equal([['Red Hat:enterprise_linux:9', 1]]);
    expect(uncovered(r)[0].message).to.include('none for Red Hat:enterprise_linux:9');
    expect(r.verdict.decision).to.equal('warn');
    expect(r.verdict.reasons.map((x) => x.rule)).to.deep.equal(['uncovered-ecosystem']);
  });

  it('AlmaLinux 8: the ALSA record names the binary RPM libuuid and finds it; the Red Hat record does not apply', async () => {
    const r = await scan('alma8', { 'etc/os-release': osRelease('almalinux-8.10'), 'var/lib/rpm/Packages': EL8_BDB() });
    expect(r.packages.map((p) => p.ecosystem)).to.deep.equal(['AlmaLinux']);
    expect(ids(r)).to.deep.equal(['ALSA-2026:1852 libuuid 2.32.1-42.el8_8 → 2.32.1-48.el8_10']);
    expect(r.coverage).to.deep.equal([{ ecosystem: 'AlmaLinux:8', packages: 1, covered: true }]);
  });

  it('Rocky Linux 8: neither the AlmaLinux nor the Red Hat record is used; no Rocky Linux advisories loaded is named', async () => {
    const r = await scan('rocky8', { 'etc/os-release': osRelease('rocky-8.10'), 'var/lib/rpm/Packages': EL8_BDB() });
    expect(r.findings).to.deep.equal([]);
    const [d] = uncovered(r);
    expect([d.ecosystem, d.packages]).to.deep.equal(['Rocky Linux:8', 1]);
    expect(d.message).to.include('no Rocky Linux advisories loaded').and.include('--ecosystems Rocky Linux');
  });

  for (const [name, release, family, eco] of [
    ['centos-stream8', 'trivy-centos-stream', 'CentOS', 'CentOS'],
    ['oracle8', 'trivy-oracle', 'Oracle Linux', 'Oracle Linux'],
  ] as const) {
    it(`${family}: an rpm family OSV does not publish is uncovered, never matched against Red Hat's or AlmaLinux's records`, async () => {
      const r = await scan(name, { 'etc/os-release': osRelease(release), 'var/lib/rpm/Packages': EL8_BDB() });
      expect(r.packages.map((p) => p.ecosystem)).to.deep.equal([eco]);
      expect(r.findings).to.deep.equal([]);
      expect(uncovered(r).map((d) => [d.ecosystem, d.packages])).to.deep.equal([[eco, 1]]);
      expect(uncovered(r)[0].message).to.include('OSV has no');
    });
  }

  it('Oracle Linux without os-release: /etc/oracle-release wins over the /etc/redhat-release Oracle also ships', async () => {
    const r = await scan('oracle8-release', {
      'etc/oracle-release': osRelease('oracle-8.oracle-release'), 'etc/redhat-release': osRelease('oracle-8.redhat-release'), 'var/lib/rpm/Packages': EL8_BDB(),
    });
    expect(r.os?.id).to.equal('ol');
    expect(r.findings).to.deep.equal([]);
    expect(uncovered(r).map((d) => d.ecosystem)).to.deep.equal(['Oracle Linux']);
  });

  it('Amazon Linux 2023 (real rpmdb.sqlite, /etc/system-release): every package counted as uncovered', async () => {
    const csv = fs.readFileSync(path.join(OS, 'rpm/amzn2023/packages.csv'), 'utf8').trim().split('\n').filter((l) => l.split('¶')[1] !== 'gpg-pubkey');
    const r = await scan('amzn2023', { 'etc/system-release': osRelease('amzn-2023.system-release'), 'var/lib/rpm/rpmdb.sqlite': read(path.join(OS, 'rpm/amzn2023/rpmdb.sqlite')) });
    expect(r.os).to.deep.equal({ id: 'amzn', versionId: '2023' });
    expect(r.packages).to.have.length(csv.length);
    expect(new Set(r.packages.map((p) => p.ecosystem))).to.deep.equal(new Set(['Amazon Linux']));
    expect(r.packages.find((p) => p.name === 'crypto-policies')?.purl).to.match(/^pkg:rpm\/amazon\/crypto-policies@20220428-1\.gitdfb10ea\.amzn2023\.0\.2\?arch=noarch/);
    expect(uncovered(r).map((d) => [d.ecosystem, d.packages])).to.deep.equal([['Amazon Linux', csv.length]]);
  });

  it('CBL-Mariner 2.0 (real rpmdb.sqlite): OSV publishes Azure Linux 3 only, so Mariner is uncovered', async () => {
    const r = await scan('mariner2', { 'etc/os-release': osRelease('trivy-mariner-2.0'), 'var/lib/rpm/rpmdb.sqlite': read(path.join(PARSERS, 'rpm/cbl-mariner-2.0/rpmdb.sqlite')) });
    expect(r.packages).to.have.length(129);
    expect(uncovered(r).map((d) => [d.ecosystem, d.packages])).to.deep.equal([['Mariner', 129]]);
    expect(uncovered(r)[0].message).to.include('Azure Linux 3 only');
  });

  it('Fedora (a real package header in an rpmdb.sqlite): uncovered', async () => {
    const db = path.join(dir, 'fedora-rpmdb.sqlite');
    const sq = new Database(db);
    sq.exec('CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)');
    sq.prepare('INSERT INTO Packages (blob) VALUES (?)').run(read(path.join(OS, 'rpm/fedora34-header/package.header')));
    sq.close();
    const r = await scan('fedora', { 'etc/os-release': osRelease('trivy-fedora'), 'var/lib/rpm/rpmdb.sqlite': read(db) });
    expect(r.packages.map((p) => `${p.ecosystem} ${p.name} ${p.version}`)).to.deep.equal(['Fedora crypto-policies 20210213-1.git5c710c0.fc34']);
    expect(uncovered(r).map((d) => d.ecosystem)).to.deep.equal(['Fedora']);
  });

  it('SLES 15 SP3 / BCI (real NDB Packages.db): SUSE packages of release `Linux Enterprise Server 15 SP3`; no SUSE advisories loaded is named', async () => {
    const r = await scan('sles15', { 'etc/os-release': osRelease('trivy-sles'), 'usr/lib/sysimage/rpm/Packages.db': read(path.join(PARSERS, 'rpm/sle15-bci/Packages.db')) });
    expect(r.packages).to.have.length(35);
    expect(uncovered(r).map((d) => [d.ecosystem, d.packages])).to.deep.equal([['SUSE:Linux Enterprise Server 15 SP3', 35]]);
    expect(uncovered(r)[0].message).to.include('no SUSE advisories loaded');
  });

  it('Ubuntu 18.04 (real dpkg status): USN-5380-1 finds bash by its Ubuntu:18.04:LTS entry only (not its 20.04 or Pro 14.04/16.04 entries)', async () => {
    const r = await scan('ubuntu1804', { 'etc/os-release': osRelease('ubuntu-18.04'), 'var/lib/dpkg/status': read(path.join(PARSERS, 'dpkg/trivy-valid/status')) });
    expect(r.findings.map((f) => `${f.id} ${f.package} ${f.installedVersion} → ${f.fixedVersions.join(',')}`)).to.deep.equal(['USN-5380-1 bash 4.4.18-2ubuntu1 → 4.4.18-2ubuntu1.3']);
    const cov = r.coverage!.find((c) => c.ecosystem === 'Ubuntu:18.04:LTS');
    expect(cov).to.deep.include({ covered: true });
    expect(r.packages.find((p) => p.name === 'bash')?.purl).to.match(/^pkg:deb\/ubuntu\/bash@4\.4\.18-2ubuntu1\?arch=amd64&distro=ubuntu-18\.04/);
  });

  it('Alpine 3.4 (real apk database): each record\'s Alpine:v3.4 entry decides; on Alpine 3.3 the same packages meet the 3.3 entries', async () => {
    const installed = read(path.join(PARSERS, 'apk/trivy-apk/installed'));
    const r = await scan('alpine34', { 'etc/os-release': osRelease('alpine-3.4'), 'lib/apk/db/installed': installed });
    expect(ids(r).sort()).to.deep.equal([
      'ALPINE-CVE-2016-6301 busybox 1.24.2-r9 → 1.24.2-r12',
      'ALPINE-CVE-2016-8859 musl 1.1.14-r10 → 1.1.14-r13',
      'ALPINE-CVE-2016-8859 musl-utils 1.1.14-r10 → 1.1.14-r13',
      'ALPINE-CVE-2016-9840 zlib 1.2.8-r2 → 1.2.11-r0',
    ]);
    expect(r.coverage).to.deep.equal([{ ecosystem: 'Alpine:v3.4', packages: 15, covered: true }]);
    // the same packages on 3.3: busybox's 3.3 fix (1.24.2-r1) and musl's (1.1.12-r6) are older than what is installed
    const r33 = await scan('alpine33', { 'etc/os-release': osRelease('alpine-3.3'), 'lib/apk/db/installed': installed });
    expect(ids(r33)).to.deep.equal(['ALPINE-CVE-2016-9840 zlib 1.2.8-r2 → 1.2.11-r0']);
  });

  it('distroless Debian 11: status.d entries are read whatever their file names (md5sums aside); no Debian advisories loaded is named', async () => {
    const foo = read(path.join(OS, 'distroless/foo'));
    const r = await scan('distroless', {
      'etc/os-release': osRelease('distroless-debian-11'),
      'var/lib/dpkg/status.d/foo': foo, 'var/lib/dpkg/status.d/foo.md5sums': read(path.join(OS, 'distroless/foo.md5sums')),
      'var/lib/dpkg/status.d/libfoo3:amd64': foo, 'var/lib/dpkg/status.d/base.2024-01': foo,
    });
    const foos = r.packages.filter((p) => p.name === 'foo');
    expect(foos.map((p) => p.path).sort()).to.deep.equal(['/var/lib/dpkg/status.d/base.2024-01', '/var/lib/dpkg/status.d/foo', '/var/lib/dpkg/status.d/libfoo3:amd64']);
    expect(foos.every((p) => p.ecosystem === 'Debian' && p.version === '1.2.3' && p.purl.startsWith('pkg:deb/debian/foo@1.2.3?arch=amd64&distro=debian-11'))).to.equal(true);
    expect(r.diagnostics.filter((d) => d.code === 'parse-error')).to.deep.equal([]);
    expect(uncovered(r).map((d) => d.ecosystem)).to.deep.equal(['Debian:11']);
    expect(uncovered(r)[0].message).to.include('no Debian advisories loaded');
  });

  describe('Photon OS: the published PHSA records against the packages of a real Photon 3.0 image', () => {
    /** trivy's inventory of its photon-30 test image (no Photon rpmdb is public here), as the rpm analyzer writes packages. */
    const photon30 = (): Package[] => (JSON.parse(fs.readFileSync(path.join(OS, 'inventory/trivy-photon-30.json.golden'), 'utf8')) as Array<{
      Name: string; Epoch?: number; Version: string; Release: string; Arch: string; SrcName?: string; SrcVersion?: string; SrcRelease?: string;
    }>).filter((p) => p.Name !== 'gpg-pubkey').map((p) => {
      const version = `${p.Epoch ? `${p.Epoch}:` : ''}${p.Version}-${p.Release}`;
      return {
        ecosystem: 'Photon OS', name: p.Name, version, sourceName: p.SrcName ?? p.Name,
        sourceVersion: p.SrcVersion ? `${p.Epoch ? `${p.Epoch}:` : ''}${p.SrcVersion}-${p.SrcRelease}` : version,
        purl: `pkg:rpm/photon/${p.Name}@${version}?arch=${p.Arch}&distro=photon-3.0`, arch: p.Arch, path: '/var/lib/rpm/Packages', analyzer: 'os/rpm',
      };
    });
    const line = (f: { id: string; package: string; installedVersion: string; fixedVersions: string[] }) => `${f.id} ${f.package} ${f.installedVersion} → ${f.fixedVersions.join(',')}`;

    it('Photon OS 3.0: bash and curl/curl-libs at the fixes trivy reports for that image, and openssl and libsolv the same records also name', () => {
      const pkgs = photon30();
      const os = { id: 'photon', versionId: '3.0' };
      // trivy's expected result has the first three only because its DB fixture carries only those CVEs
      expect(vdb.match(pkgs, os).map(line).sort()).to.deep.equal([
        'PHSA-2019-3.0-0032 curl 7.61.1-4.ph3 → 7.61.1-5.ph3',
        'PHSA-2019-3.0-0032 curl-libs 7.61.1-4.ph3 → 7.61.1-5.ph3',
        'PHSA-2019-3.0-0032 openssl 1.0.2s-1.ph3 → 1.0.2t-1.ph3',
        'PHSA-2020-3.0-0057 bash 4.4.18-1.ph3 → 4.4.18-2.ph3',
        'PHSA-2020-3.0-0057 libsolv 0.6.26-5.ph3 → 0.6.35-2.ph3',
      ]);
      expect(vdb.coverage(pkgs, os)).to.deep.equal([{ ecosystem: 'Photon OS:3.0', packages: pkgs.length, covered: true }]);
    });

    it('Photon OS 4.0 (os-release of trivy\'s testdata): the 3.0 entries do not apply, and no 4.0 record loaded is said', () => {
      const rel = fs.readFileSync(path.join(OS, 'os-release/trivy-photon'), 'utf8');
      const os = { id: /^ID=(.*)$/m.exec(rel)![1], versionId: /^VERSION_ID=(.*)$/m.exec(rel)![1] };
      expect(os).to.deep.equal({ id: 'photon', versionId: '4.0' });
      expect(vdb.match(photon30(), os)).to.deep.equal([]);
      expect(vdb.coverage(photon30(), os)[0]).to.deep.include({ ecosystem: 'Photon OS:4.0', covered: false });
    });

    it('the converter\'s malformed twin entries (`ranges` as a bare object) are skipped one by one, not the whole record', () => {
      const photonBad = badRecords.filter((b) => b.file.includes('osv-photon'));
      // PHSA-2019-3.0-0032: 3 of 6 entries; PHSA-2020-3.0-0057: 5 of 10
      expect(photonBad.map((b) => b.error)).to.have.length(8);
      expect(photonBad.every((b) => /^PHSA-20(19|20)-3\.0-00(32|57): affected\[\d\]\.ranges is not an array \(entry skipped\)$/.test(b.error))).to.equal(true);
    });
  });

  describe('Rocky Linux, Wolfi and Chainguard: real OSV records of their ecosystems (anchore/vunnel test data)', () => {
    let vdb2: VulnDb;
    before(async () => {
      await updateDb({ path: path.join(dir, 'vunnel.sqlite'), sources: [path.join(OS, 'osv-vunnel'), path.join(OS, 'osv'), path.join(OS, 'osv-derived')] });
      vdb2 = VulnDb.open(path.join(dir, 'vunnel.sqlite'));
    });
    after(() => vdb2?.close());
    const line = (f: { id: string; package: string; installedVersion: string; fixedVersions: string[] }) => `${f.id} ${f.package} ${f.installedVersion} → ${f.fixedVersions.join(',')}`;
    /** An installed RPM as the rpm analyzer writes it (no Rocky rpmdb holding these packages is public here). */
    const rpm = (eco: string, ns: string, distro: string, name: string, version: string): Package => ({
      ecosystem: eco, name, version, sourceName: name, sourceVersion: version, purl: `pkg:rpm/${ns}/${name}@${version}?arch=x86_64&distro=${distro}`, arch: 'x86_64', path: '/var/lib/rpm/rpmdb.sqlite', analyzer: 'os/rpm',
    });
    const osOf = (file: string) => {
      const rel = osRelease(file).toString('utf8');
      const v = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(rel)?.[1] ?? '';
      return { id: v('ID'), versionId: v('VERSION_ID') };
    };

    it('Rocky Linux 8: RLSA-2021:3891 finds java-11-openjdk below its fix by its `Rocky Linux:8` entry; not at the fix, not on Rocky 9, not on AlmaLinux 8', () => {
      const rocky8 = osOf('rocky-8.10');
      expect(rocky8).to.deep.equal({ id: 'rocky', versionId: '8.10' });
      const jdk = (v: string) => [rpm('Rocky Linux', 'rocky', 'rocky-8.10', 'java-11-openjdk', v)];
      expect(vdb2.match(jdk('1:11.0.12.0.7-0.el8_4'), rocky8).map(line)).to.deep.equal(['RLSA-2021:3891 java-11-openjdk 1:11.0.12.0.7-0.el8_4 → 1:11.0.13.0.8-1.el8_4']);
      expect(vdb2.match(jdk('1:11.0.13.0.8-1.el8_4'), rocky8)).to.deep.equal([]);
      // the epoch decides: 0 (none written) is below 1 whatever the version
      expect(vdb2.match(jdk('11.0.20.0.8-1.el8'), rocky8).map(line)).to.deep.equal(['RLSA-2021:3891 java-11-openjdk 11.0.20.0.8-1.el8 → 1:11.0.13.0.8-1.el8_4']);
      expect(vdb2.coverage(jdk('1:11.0.12.0.7-0.el8_4'), rocky8)).to.deep.equal([{ ecosystem: 'Rocky Linux:8', packages: 1, covered: true }]);
      const rocky9 = osOf('trivy-rocky-9.3');
      expect(rocky9).to.deep.equal({ id: 'rocky', versionId: '9.3' });
      expect(vdb2.match(jdk('1:11.0.12.0.7-0.el8_4'), rocky9)).to.deep.equal([]);
      const alma = [rpm('AlmaLinux', 'almalinux', 'almalinux-8.10', 'java-11-openjdk', '1:11.0.12.0.7-0.el8_4')];
      expect(vdb2.match(alma, osOf('almalinux-8.10'))).to.deep.equal([]);
    });

    it('Rocky Linux 9.3 (trivy\'s os-release): RLSA-2024:3671 finds the ruby:3.3 module\'s ruby by its `Rocky Linux:9` entry, module release tags compared as RPM does', () => {
      const rocky9 = osOf('trivy-rocky-9.3');
      const pkgs = [
        rpm('Rocky Linux', 'rocky', 'rocky-9.3', 'ruby', '3.3.0-1.module+el9.3.0+16003+2a2a3ec0'),
        rpm('Rocky Linux', 'rocky', 'rocky-9.3', 'rubygem-pg', '1.5.4-1.module+el9.4.0+20787+4c237fd3'),
      ];
      expect(vdb2.match(pkgs, rocky9).map(line)).to.deep.equal(['RLSA-2024:3671 ruby 3.3.0-1.module+el9.3.0+16003+2a2a3ec0 → 0:3.3.1-2.module+el9.4.0+20787+4c237fd3']);
      expect(vdb2.match(pkgs, osOf('rocky-8.10'))).to.deep.equal([]);
    });

    it('Wolfi (syft\'s os-release, an apk database): CGA-224q-ccj5-2p53 finds haproxy-3.1 by its Wolfi entry; its Chainguard entries never apply to Wolfi', async () => {
      const img = writeOciImage(dir, 'wolfi', [{ files: { 'etc/os-release': osRelease('syft-wolfi'), 'lib/apk/db/installed': read(path.join(OS, 'apk/wolfi-haproxy.installed')) }, gzip: true }]);
      const judged = judgeScan(await scanTarget(img.ref, { tmpDir: dir }), vdb2, defaultPolicy()).report;
      expect(judged.packages.map((p) => `${p.ecosystem} ${p.name} ${p.version} ${p.purl}`)).to.deep.equal([
        'Wolfi haproxy-3.1 3.1.6-r0 pkg:apk/wolfi/haproxy-3.1@3.1.6-r0?arch=x86_64&distro=20220914',
        'Wolfi haproxy-2.8 2.8.10-r0 pkg:apk/wolfi/haproxy-2.8@2.8.10-r0?arch=x86_64&distro=20220914',
      ]);
      expect(ids(judged)).to.deep.equal(['CGA-224q-ccj5-2p53 haproxy-3.1 3.1.6-r0 → 3.1.7-r0']);
      expect(judged.findings[0].aliases).to.include('CVE-2025-32464');
      expect(uncovered(judged)).to.deep.equal([]);
    });

    it('Chainguard: the same record finds haproxy-2.8 by its Chainguard entry, and not haproxy-3.1 (a Wolfi entry)', () => {
      const apk = (eco: string, ns: string, name: string, version: string): Package => ({
        ecosystem: eco, name, version, sourceName: name, sourceVersion: version, purl: `pkg:apk/${ns}/${name}@${version}?arch=x86_64`, arch: 'x86_64', path: '/lib/apk/db/installed', analyzer: 'os/apk',
      });
      const pkgs = [apk('Chainguard', 'chainguard', 'haproxy-2.8', '2.8.10-r0'), apk('Chainguard', 'chainguard', 'haproxy-3.1', '3.1.6-r0')];
      expect(vdb2.match(pkgs, { id: 'chainguard', versionId: '' }).map(line)).to.deep.equal(['CGA-224q-ccj5-2p53 haproxy-2.8 2.8.10-r0 → 2.8.18-r0']);
      expect(vdb2.match([apk('Chainguard', 'chainguard', 'haproxy-2.8', '2.8.18-r0')], { id: 'chainguard', versionId: '' })).to.deep.equal([]);
    });
  });

  describe('Wolfi, openEuler, Mageia, SUSE: real OSV records (and a real Wolfi apk database) from vuls-data-update and apko test data', () => {
    let vdb3: VulnDb;
    let bad3: Array<{ file: string; error: string }>;
    before(async () => {
      ({ badRecords: bad3 } = await updateDb({ path: path.join(dir, 'vuls.sqlite'), sources: [path.join(OS, 'osv-vuls'), path.join(OS, 'osv-vunnel')] }));
      vdb3 = VulnDb.open(path.join(dir, 'vuls.sqlite'));
    });
    after(() => vdb3?.close());
    const line = (f: { id: string; package: string; installedVersion: string; fixedVersions: string[] }) => `${f.id} ${f.package} ${f.installedVersion} → ${f.fixedVersions.join(',')}`;
    /** An installed RPM as the rpm analyzer writes it (no openEuler or Mageia rpmdb is public here). */
    const rpm = (eco: string, ns: string, distro: string, name: string, version: string): Package => ({
      ecosystem: eco, name, version, sourceName: name, sourceVersion: version, purl: `pkg:rpm/${ns}/${name}@${version}?arch=x86_64&distro=${distro}`, arch: 'x86_64', path: '/var/lib/rpm/rpmdb.sqlite', analyzer: 'os/rpm',
    });

    it('every record imports whole: none of their entries is skipped', () => {
      expect(bad3).to.deep.equal([]);
      expect(Object.keys(vdb3.status().byEcosystem)).to.include.members(['Chainguard', 'Mageia', 'SUSE', 'Wolfi', 'openEuler']);
    });

    it('Wolfi (the real apk database of a wolfi-base image, syft\'s os-release): 15 Wolfi packages, Wolfi covered, and no record names any of them', async () => {
      const img = writeOciImage(dir, 'wolfi-base', [{ files: { 'etc/os-release': osRelease('syft-wolfi'), 'lib/apk/db/installed': read(path.join(OS, 'apk/apko-wolfi-base.installed')) }, gzip: true }]);
      const r = judgeScan(await scanTarget(img.ref, { tmpDir: dir }), vdb3, defaultPolicy()).report;
      expect(r.packages).to.have.length(15);
      expect(new Set(r.packages.map((p) => p.ecosystem))).to.deep.equal(new Set(['Wolfi']));
      const ssl = r.packages.find((p) => p.name === 'libssl3');
      expect([ssl?.version, ssl?.sourceName, ssl?.purl]).to.deep.equal(['3.5.1-r1', 'openssl', 'pkg:apk/wolfi/libssl3@3.5.1-r1?arch=x86_64&distro=20220914']);
      // CGA-224q-ccj5-2p53 (haproxy) and CGA-2c2h-8fj5-55vx (nri-memcached) are Wolfi records; wolfi-base has neither package
      expect(r.findings).to.deep.equal([]);
      expect(r.coverage).to.deep.equal([{ ecosystem: 'Wolfi', packages: 15, covered: true }]);
      expect(uncovered(r)).to.deep.equal([]);
      expect(r.verdict.decision).to.equal('allow');
    });

    it('Wolfi and Chainguard: CGA-2c2h-8fj5-55vx finds nri-memcached below 2.5.7-r1 by the entry of the image\'s own ecosystem only', () => {
      const apk = (eco: string, ns: string, version: string): Package => ({
        ecosystem: eco, name: 'nri-memcached', version, sourceName: 'nri-memcached', sourceVersion: version, purl: `pkg:apk/${ns}/nri-memcached@${version}?arch=x86_64`, arch: 'x86_64', path: '/lib/apk/db/installed', analyzer: 'os/apk',
      });
      for (const [eco, ns, id] of [['Wolfi', 'wolfi', 'wolfi'], ['Chainguard', 'chainguard', 'chainguard']] as const) {
        const found = vdb3.match([apk(eco, ns, '2.5.6-r0')], { id, versionId: '' });
        expect(found.map(line), eco).to.deep.equal(['CGA-2c2h-8fj5-55vx nri-memcached 2.5.6-r0 → 2.5.7-r1']);
        expect(vdb3.match([apk(eco, ns, '2.5.7-r1')], { id, versionId: '' }), eco).to.deep.equal([]);
      }
    });

    it('openEuler 20.03 LTS: OESA-2021-1001 finds dnsmasq 2.82-4.oe1 (a build the record lists) by `openEuler:20.03-LTS`, and on LTS-SP1; not at 2.82-5.oe1, not on 22.03 LTS', () => {
      const dnsmasq = (v: string) => [rpm('openEuler', 'openeuler', 'openeuler-20.03', 'dnsmasq', v)];
      /** The OS as the scanner records it: os-release ID, VERSION_ID, and the table's ecosystem from VERSION's qualifier. */
      const euler = (versionId: string, version: string) => ({ id: 'openeuler', versionId, ecosystem: osEcosystemFor({ id: 'openeuler', versionId, version }) });
      const lts = euler('20.03', '20.03 (LTS)');
      expect(lts.ecosystem).to.equal('openEuler:20.03-LTS');
      expect(vdb3.match(dnsmasq('2.82-4.oe1'), lts).map(line)).to.deep.equal(['OESA-2021-1001 dnsmasq 2.82-4.oe1 → 2.82-5.oe1']);
      expect(vdb3.match(dnsmasq('2.82-4.oe1'), lts)[0].aliases).to.include('CVE-2020-25681');
      expect(vdb3.match(dnsmasq('2.82-5.oe1'), lts)).to.deep.equal([]);
      expect(vdb3.coverage(dnsmasq('2.82-4.oe1'), lts)).to.deep.equal([{ ecosystem: 'openEuler:20.03-LTS', packages: 1, covered: true }]);
      const sp1 = euler('20.03', '20.03 (LTS-SP1)');
      expect(vdb3.match(dnsmasq('2.82-4.oe1'), sp1).map(line)).to.deep.equal(['OESA-2021-1001 dnsmasq 2.82-4.oe1 → 2.82-5.oe1']);
      const lts2203 = euler('22.03', '22.03 (LTS)');
      expect(vdb3.match(dnsmasq('2.82-4.oe1'), lts2203)).to.deep.equal([]);
      expect(vdb3.coverage(dnsmasq('2.82-4.oe1'), lts2203)[0]).to.deep.include({ ecosystem: 'openEuler:22.03-LTS', covered: false });
    });

    it('Mageia 9 (trivy\'s os-release): MGASA-2025-0124 finds microcode below 0.20250211-2.mga9.nonfree by `Mageia:9`; not at the fix, not on Mageia 8', () => {
      const rel = osRelease('trivy-mageia').toString('utf8');
      const mga = { id: /^ID="?([^"\n]*)"?$/m.exec(rel)![1], versionId: /^VERSION_ID="?([^"\n]*)"?$/m.exec(rel)![1] };
      expect(mga).to.deep.equal({ id: 'mageia', versionId: '9' });
      const microcode = (v: string) => [rpm('Mageia', 'mageia', 'mageia-9', 'microcode', v)];
      expect(vdb3.match(microcode('0.20250211-1.mga9.nonfree'), mga).map(line)).to.deep.equal(['MGASA-2025-0124 microcode 0.20250211-1.mga9.nonfree → 0.20250211-2.mga9.nonfree']);
      expect(vdb3.match(microcode('0.20250211-2.mga9.nonfree'), mga)).to.deep.equal([]);
      expect(vdb3.coverage(microcode('0.20250211-1.mga9.nonfree'), mga)).to.deep.equal([{ ecosystem: 'Mageia:9', packages: 1, covered: true }]);
      expect(vdb3.match(microcode('0.20250211-1.mga9.nonfree'), { id: 'mageia', versionId: '8' })).to.deep.equal([]);
    });

    it('SLES 15 SP3 / BCI (real NDB Packages.db) with a SUSE record loaded (openSUSE-SU-2016:1623-1, `SUSE:Package Hub 12`): none for the image\'s release, which is said', async () => {
      const img = writeOciImage(dir, 'sles15-suse', [{ files: { 'etc/os-release': osRelease('trivy-sles'), 'usr/lib/sysimage/rpm/Packages.db': read(path.join(PARSERS, 'rpm/sle15-bci/Packages.db')) }, gzip: true }]);
      const r = judgeScan(await scanTarget(img.ref, { tmpDir: dir }), vdb3, defaultPolicy()).report;
      expect(r.findings).to.deep.equal([]);
      expect(uncovered(r).map((d) => [d.ecosystem, d.packages])).to.deep.equal([['SUSE:Linux Enterprise Server 15 SP3', 35]]);
      expect(uncovered(r)[0].message).to.include('none for SUSE:Linux Enterprise Server 15 SP3');
    });
  });

  describe('Chainguard: grype\'s Chainguard os-release and Chainguard OSV records (anchore/grype test data)', () => {
    let vdb4: VulnDb;
    let bad4: Array<{ file: string; error: string }>;
    before(async () => {
      ({ badRecords: bad4 } = await updateDb({ path: path.join(dir, 'grype.sqlite'), sources: [path.join(OS, 'osv-grype'), path.join(OS, 'osv-vunnel')] }));
      vdb4 = VulnDb.open(path.join(dir, 'grype.sqlite'));
    });
    after(() => vdb4?.close());
    const line = (f: { id: string; package: string; installedVersion: string; fixedVersions: string[] }) => `${f.id} ${f.package} ${f.installedVersion} → ${f.fixedVersions.join(',')}`;
    /** An installed apk package as the apk analyzer writes it (no Chainguard apk database is public here). */
    const apk = (eco: 'Chainguard' | 'Wolfi', name: string, version: string): Package => ({
      ecosystem: eco, name, version, sourceName: name, sourceVersion: version, purl: `pkg:apk/${eco.toLowerCase()}/${name}@${version}?arch=x86_64`, arch: 'x86_64', path: '/lib/apk/db/installed', analyzer: 'os/apk',
    });
    const CG = { id: 'chainguard', versionId: '20230214' };
    const WOLFI = { id: 'wolfi', versionId: '20220914' };

    it('an image with Chainguard\'s os-release (grype\'s, ID=chainguard): its apk packages are Chainguard\'s, matched by the Chainguard entries of CGA-224q-ccj5-2p53 only', async () => {
      // the os-release is real (grype's test data); the two-stanza apk database is the one written for the Wolfi image above
      const img = writeOciImage(dir, 'chainguard', [{ files: { 'etc/os-release': osRelease('grype-chainguard'), 'lib/apk/db/installed': read(path.join(OS, 'apk/wolfi-haproxy.installed')) }, gzip: true }]);
      const r = judgeScan(await scanTarget(img.ref, { tmpDir: dir }), vdb4, defaultPolicy()).report;
      expect(r.os).to.deep.include({ id: 'chainguard', versionId: '20230214' });
      expect(r.packages.map((p) => `${p.ecosystem} ${p.name} ${p.purl}`)).to.deep.equal([
        'Chainguard haproxy-3.1 pkg:apk/chainguard/haproxy-3.1@3.1.6-r0?arch=x86_64&distro=20230214',
        'Chainguard haproxy-2.8 pkg:apk/chainguard/haproxy-2.8@2.8.10-r0?arch=x86_64&distro=20230214',
      ]);
      // haproxy-2.8 has a Chainguard entry (fixed 2.8.18-r0); haproxy-3.1 only a Wolfi one
      expect(ids(r)).to.deep.equal(['CGA-224q-ccj5-2p53 haproxy-2.8 2.8.10-r0 → 2.8.18-r0']);
      expect(r.coverage).to.deep.equal([{ ecosystem: 'Chainguard', packages: 2, covered: true }]);
      expect(uncovered(r)).to.deep.equal([]);
    });

    it('every record imports whole, the degenerate `fixed: "0"` entry included', () => {
      expect(bad4).to.deep.equal([]);
      // records per ecosystem: each of the three CGA records has Chainguard and Wolfi entries
      expect(vdb4.status().byEcosystem).to.include({ Chainguard: 3, Wolfi: 3 });
    });

    it('CGA-xcpc-gm23-prj9: syncthing and syncthing-fips below 2.0.14-r1 on Chainguard; on Wolfi syncthing only (syncthing-fips has no Wolfi entry)', () => {
      const pkgs = (eco: 'Chainguard' | 'Wolfi', v: string) => ['syncthing', 'syncthing-fips'].map((n) => apk(eco, n, v));
      expect(vdb4.match(pkgs('Chainguard', '2.0.13-r3'), CG).map(line)).to.deep.equal([
        'CGA-xcpc-gm23-prj9 syncthing 2.0.13-r3 → 2.0.14-r1',
        'CGA-xcpc-gm23-prj9 syncthing-fips 2.0.13-r3 → 2.0.14-r1',
      ]);
      expect(vdb4.match(pkgs('Chainguard', '2.0.13-r3'), CG)[0].aliases).to.include.members(['CVE-2025-68121', 'GHSA-qgxr-kfqx-v5q9']);
      expect(vdb4.match(pkgs('Chainguard', '2.0.14-r1'), CG)).to.deep.equal([]);
      expect(vdb4.match(pkgs('Wolfi', '2.0.13-r3'), WOLFI).map(line)).to.deep.equal(['CGA-xcpc-gm23-prj9 syncthing 2.0.13-r3 → 2.0.14-r1']);
      // CGA-22hv-wp9q-4779: langfuse-fips-3-worker's Chainguard fix (3.152.0-r0) is not langfuse-3-worker's (3.153.0-r0)
      const lf = [apk('Chainguard', 'langfuse-3-worker', '3.152.0-r0'), apk('Chainguard', 'langfuse-fips-3-worker', '3.152.0-r0')];
      expect(vdb4.match(lf, CG).map(line)).to.deep.equal(['CGA-22hv-wp9q-4779 langfuse-3-worker 3.152.0-r0 → 3.153.0-r0']);
    });

    // Chainguard marks a package the advisory does not apply to with `introduced: 0, fixed: 0`: no version
    // is below "0", so nothing is affected (grype's transform of this record: constraint "< 0").
    it('property: syncthing-compat (`introduced: "0", fixed: "0"`) is never affected, whatever its version; syncthing is exactly below 2.0.14-r1', () => {
      const cmp = comparatorFor('Chainguard');
      fc.assert(fc.property(
        fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 20 }), fc.nat({ max: 20 }), fc.nat({ max: 5 })),
        ([a, b, c, rel]) => {
          const v = `${a}.${b}.${c}-r${rel}`;
          expect(vdb4.match([apk('Chainguard', 'syncthing-compat', v)], CG), v).to.deep.equal([]);
          const hit = vdb4.match([apk('Chainguard', 'syncthing', v)], CG).length === 1;
          expect(hit, v).to.equal(cmp.compare(v, '2.0.14-r1') < 0);
        },
      ), { numRuns: 200 });
    });
  });

  describe('Azure Linux 3: a record derived from Microsoft\'s OVAL (microsoft/AzureLinuxVulnerabilityData)', () => {
    const OVAL = path.join(OS, 'oval-azurelinux/azurelinux-3.0-oval-def-35400.xml');
    const REC = path.join(OS, 'osv-derived/AZL-OVAL-35400-1.json');
    /** An installed RPM as the rpm analyzer writes it for Azure Linux (no Azure Linux 3 rpmdb is public here). */
    const rpm = (eco: string, ns: string, distro: string, name: string, version: string): Package => ({
      ecosystem: eco, name, version, sourceName: name, sourceVersion: version, purl: `pkg:rpm/${ns}/${name}@${version}?arch=x86_64&distro=${distro}`, arch: 'x86_64', path: '/var/lib/rpm/rpmdb.sqlite', analyzer: 'os/rpm',
    });
    const azl3 = () => {
      const rel = osRelease('trivy-azurelinux-3.0').toString('utf8');
      const v = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(rel)?.[1] ?? '';
      return { id: v('ID'), versionId: v('VERSION_ID') };
    };
    const line = (f: { id: string; package: string; installedVersion: string; fixedVersions: string[] }) => `${f.id} ${f.package} ${f.installedVersion} → ${f.fixedVersions.join(',')}`;

    it('the record says what OVAL definition 35400 says: package, bound (EVR "less than", epoch kept), CVE, severity, date', () => {
      const oval = fs.readFileSync(OVAL, 'utf8');
      const rec = JSON.parse(fs.readFileSync(REC, 'utf8')) as { upstream: string[]; published: string; affected: Array<{ package: { ecosystem: string; name: string }; ranges: Array<{ events: Array<Record<string, string>> }>; database_specific: { severity: string } }> };
      const tag = (t: string) => new RegExp(`<${t}[^>]*>([^<]*)</${t}>`).exec(oval)?.[1];
      expect(/<platform>Azure Linux<\/platform>/.test(oval) && /operation="less than"/.test(oval)).to.equal(true);
      expect(rec.affected.map((a) => [a.package.ecosystem, a.package.name, a.ranges[0].events])).to.deep.equal([
        ['Azure Linux:3', tag('linux-def:name'), [{ introduced: '0' }, { fixed: tag('linux-def:evr') }]],
      ]);
      expect(rec.upstream).to.deep.equal([/ref_id="(CVE-[^"]+)"/.exec(oval)?.[1]]);
      expect(rec.affected[0].database_specific.severity).to.equal(tag('severity'));
      expect(rec.published).to.equal(tag('advisory_date'));
    });

    it('finds zlib below 1.3.1-1.azl3 by its `Azure Linux:3` entry; not at or above the fix', () => {
      const os3 = azl3();
      expect(os3).to.deep.equal({ id: 'azurelinux', versionId: '3.0' });
      const zlib = (v: string) => [rpm('Azure Linux', 'azurelinux', 'azurelinux-3.0', 'zlib', v)];
      expect(vdb.match(zlib('1.3-1.azl3'), os3).map(line)).to.deep.equal(['AZL-OVAL-35400-1 zlib 1.3-1.azl3 → 0:1.3.1-1.azl3']);
      expect(vdb.match(zlib('1.3-1.azl3'), os3)[0].aliases).to.include('CVE-2023-45853');
      expect(vdb.match(zlib('1.3.1-1.azl3'), os3)).to.deep.equal([]);
      expect(vdb.match(zlib('1.3.1-2.azl3'), os3)).to.deep.equal([]);
      expect(vdb.coverage(zlib('1.3-1.azl3'), os3)).to.deep.equal([{ ecosystem: 'Azure Linux:3', packages: 1, covered: true }]);
    });

    it('never applies to CBL-Mariner 2.0 (real rpmdb.sqlite with zlib), nor to another family\'s zlib', async () => {
      const r = await scan('mariner2-zlib', { 'etc/os-release': osRelease('trivy-mariner-2.0'), 'var/lib/rpm/rpmdb.sqlite': read(path.join(PARSERS, 'rpm/cbl-mariner-2.0/rpmdb.sqlite')) });
      const zlib = r.packages.find((p) => p.name === 'zlib');
      expect(zlib?.ecosystem).to.equal('Mariner');
      expect(r.findings).to.deep.equal([]);
      expect(vdb.match([rpm('Rocky Linux', 'rocky', 'rocky-8.10', 'zlib', '1.2.11-25.el8')], { id: 'rocky', versionId: '8.10' })).to.deep.equal([]);
      expect(vdb.match([rpm('Azure Linux', 'azurelinux', 'azurelinux-3.0', 'zlib', '1.3-1.azl3')], { id: 'mariner', versionId: '2.0' })).to.deep.equal([]);
    });
  });

  it('onUncovered decides: allow drops the reason, reject blocks, and an exception for the ecosystem covers it', async () => {
    const files = { 'etc/os-release': osRelease('trivy-oracle'), 'var/lib/rpm/Packages': EL8_BDB() };
    const policy = (on: string, exceptions = '') => compilePolicy([
      'apiVersion: pushgate.dev/v1', 'kind: Policy', 'metadata: { name: t }', 'spec:', '  ruleSets:', '    default:',
      `      onUncovered: ${on}`, '      rules: []', exceptions,
    ].join('\n'), '<t>');
    expect((await scan('ol-allow', files, policy('allow'))).verdict.decision).to.equal('allow');
    const rejected = await scan('ol-reject', files, policy('reject'));
    expect(rejected.verdict.decision).to.equal('reject');
    expect(rejected.verdict.reasons[0].message).to.include('1 ecosystem(s) not matched against advisories').and.include('1 Oracle Linux package(s)');
    const excepted = await scan('ol-exc', files, policy('reject', '  exceptions:\n    - { name: ol, rules: [uncovered-ecosystem], ids: [Oracle Linux], expires: 2099-01-01, owner: platform-team, reason: no OSV source for Oracle Linux }'));
    expect(excepted.verdict.decision).to.equal('allow');
  });

  // os-release is the image author's file: a family whose advisories are per release, with a VERSION_ID
  // that is missing or names no release, must not come out "covered, nothing found".
  it('property: a VERSION_ID that is missing or no release (RHEL, AlmaLinux, Alpine, Ubuntu) makes the scan incomplete (os-release-unknown), never covered and clean', async () => {
    const apk = read(path.join(PARSERS, 'apk/trivy-apk/installed'));
    const dpkg = read(path.join(PARSERS, 'dpkg/trivy-valid/status'));
    const images: Array<{ release: string; db: LayerFiles['files']; vulnerable: boolean }> = [
      { release: 'rhel-8', db: { 'var/lib/rpm/Packages': EL8_BDB() }, vulnerable: true },
      { release: 'almalinux-8.10', db: { 'var/lib/rpm/Packages': EL8_BDB() }, vulnerable: true },
      { release: 'alpine-3.4', db: { 'lib/apk/db/installed': apk }, vulnerable: true },
      { release: 'ubuntu-18.04', db: { 'var/lib/dpkg/status': dpkg }, vulnerable: true },
    ];
    let n = 0;
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...images),
      // no VERSION_ID line at all, or a value without a digit (a codename, a word, nothing)
      fc.option(fc.stringMatching(/^[a-z_ -]{0,12}$/), { nil: undefined }),
      async (img, versionId) => {
        const text = osRelease(img.release).toString('utf8').split('\n').filter((l) => !l.startsWith('VERSION_ID=') && !l.startsWith('VERSION=')).join('\n');
        const withId = versionId === undefined ? text : `${text}\nVERSION_ID="${versionId}"\n`;
        const r = await scan(`forged${n++}`, { 'etc/os-release': Buffer.from(withId), ...img.db });
        const d = r.diagnostics.filter((x) => x.code === 'os-release-unknown');
        expect(d, `${img.release} VERSION_ID=${String(versionId)}`).to.have.length(1);
        expect(d[0].incomplete).to.equal(true);
        expect(r.complete).to.equal(false);
        expect(r.coverage?.every((c) => !c.covered || c.ecosystem !== d[0].ecosystem)).to.equal(true);
        expect(r.verdict.decision).to.equal('quarantine'); // onIncomplete of the default policy
      },
    ), { numRuns: 12 });
  });

});
