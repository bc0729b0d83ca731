/**
 * The OS table (src/core/os-table.ts): every family the product names is in it, covered by an OSV
 * ecosystem with a version order or named as uncovered; os-release fields give the OSV release
 * spelling; each family's release rule accepts its own release's records and no other.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { familyOf, OS_TABLE, osEcosystemFor } from '../../../src/core/os-table.js';
import { comparatorFor } from '../../../src/vulndb/ecosystems/index.js';
import { releaseMatches } from '../../../src/vulndb/release.js';
import { osReleaseAnalyzer, osvEcosystem, parseKeyValues } from '../../../src/scan/analyzers/os-release.js';
import type { AnalyzerContext } from '../../../src/scan/analyzers/types.js';
import { ROOT } from '../../helpers/lab.js';

/** OSV schema 1.7.5 defined ecosystems (ossf/osv-schema bindings/go/osvconstants/constants.go), the OS ones. */
const OSV_OS_ECOSYSTEMS = ['AlmaLinux', 'Alpaquita', 'Alpine', 'Azure Linux', 'BellSoft Hardened Containers', 'Chainguard', 'CleanStart', 'Debian',
  'Docker Hardened Images', 'Echo', 'FreeBSD', 'Mageia', 'MinimOS', 'openEuler', 'openSUSE', 'Photon OS', 'Red Hat', 'Rocky Linux', 'SUSE', 'Ubuntu', 'Wolfi'];

describe('core/os-table: the operating systems pushgate knows', () => {
  it('names every family the product covers, each either an OSV ecosystem with a version order or uncovered with a reason', () => {
    const ids = ['rhel', 'almalinux', 'rocky', 'centos', 'ol', 'amzn', 'fedora', 'sles', 'opensuse-leap', 'opensuse-tumbleweed', 'ubuntu', 'debian', 'alpine', 'wolfi',
      'chainguard', 'photon', 'mageia', 'openeuler', 'azurelinux', 'mariner'];
    for (const id of ids) {
      const f = familyOf(id);
      expect(f, id).to.not.equal(undefined);
      if (f!.ecosystem) {
        expect(OSV_OS_ECOSYSTEMS, id).to.include(f!.ecosystem);
        expect(comparatorFor(f!.ecosystem).name, id).to.equal(f!.comparator);
        expect(f!.uncovered, id).to.equal(undefined);
      } else {
        expect(f!.uncovered, id).to.be.a('string').and.match(/OSV/);
      }
    }
    expect(OS_TABLE.filter((f) => !f.ecosystem).map((f) => f.inventoryEcosystem)).to.deep.equal(['CentOS', 'Oracle Linux', 'Amazon Linux', 'Fedora', 'Mariner']);
    // endoflife.date product slugs, for the end-of-life check
    for (const f of OS_TABLE) if (f.eolProduct) expect(f.eolProduct, f.family).to.match(/^[a-z0-9-]+$/);
    expect(familyOf('rhel')!.eolProduct).to.equal('rhel');
    expect(familyOf('ubuntu')!.eolProduct).to.equal('ubuntu');
    expect(familyOf('alpine')!.eolProduct).to.equal('alpine-linux');
  });

  it('spells the image\'s release as OSV does', () => {
    const cases: Array<[Parameters<typeof osEcosystemFor>[0], string | undefined]> = [
      [{ id: 'rhel', versionId: '9.4' }, 'Red Hat:enterprise_linux:9'],
      [{ id: 'almalinux', versionId: '8.10' }, 'AlmaLinux:8'],
      [{ id: 'rocky', versionId: '9.3' }, 'Rocky Linux:9'],
      [{ id: 'ubuntu', versionId: '22.04' }, 'Ubuntu:22.04:LTS'],
      [{ id: 'ubuntu', versionId: '24.10' }, 'Ubuntu:24.10'],
      [{ id: 'ubuntu', versionId: '23.04' }, 'Ubuntu:23.04'],
      [{ id: 'debian', versionId: '12' }, 'Debian:12'],
      [{ id: 'debian' }, 'Debian'],
      [{ id: 'alpine', versionId: '3.19.1' }, 'Alpine:v3.19'],
      [{ id: 'sles', versionId: '15.5' }, 'SUSE:Linux Enterprise Server 15 SP5'],
      [{ id: 'sles', versionId: '15' }, 'SUSE:Linux Enterprise Server 15'],
      [{ id: 'opensuse-leap', versionId: '15.5' }, 'openSUSE:Leap 15.5'],
      [{ id: 'opensuse-tumbleweed', versionId: '20240101' }, 'openSUSE:Tumbleweed'],
      [{ id: 'photon', versionId: '4.0' }, 'Photon OS:4.0'],
      [{ id: 'mageia', versionId: '9' }, 'Mageia:9'],
      [{ id: 'openeuler', versionId: '22.03', version: '22.03 (LTS-SP3)' }, 'openEuler:22.03-LTS-SP3'],
      [{ id: 'azurelinux', versionId: '3.0' }, 'Azure Linux:3'],
      [{ id: 'wolfi', versionId: '20230201' }, 'Wolfi'],
      [{ id: 'chainguard' }, 'Chainguard'],
      [{ id: 'amzn', versionId: '2023' }, undefined],
      [{ id: 'ol', versionId: '8.10' }, undefined],
      [{ id: 'centos', versionId: '8' }, undefined],
      [{ id: 'mariner', versionId: '2.0' }, undefined],
      [{ id: 'plan9', versionId: '4' }, undefined],
    ];
    for (const [os, eco] of cases) expect(osEcosystemFor(os), JSON.stringify(os)).to.equal(eco);
  });

  it('Red Hat: records of the enterprise_linux stream of the same major apply; EUS/AUS, layered products and other majors do not', () => {
    const img = 'Red Hat:enterprise_linux:9';
    expect(releaseMatches('red hat', 'enterprise_linux:9::appstream', img)).to.equal(true);
    expect(releaseMatches('red hat', 'enterprise_linux:9::baseos', img)).to.equal(true);
    expect(releaseMatches('red hat', 'enterprise_linux:9', img)).to.equal(true);
    expect(releaseMatches('red hat', 'rhel_eus:9.2::baseos', img)).to.equal(false);
    expect(releaseMatches('red hat', 'rhel_aus:9.2::appstream', img)).to.equal(false);
    expect(releaseMatches('red hat', 'openshift:4.14::el9', img)).to.equal(false);
    expect(releaseMatches('red hat', 'enterprise_linux:8::baseos', img)).to.equal(false);
    expect(releaseMatches('red hat', 'enterprise_linux:8::baseos', 'Red Hat')).to.equal(false);
    expect(releaseMatches('red hat', '', 'Red Hat')).to.equal(true);
    fc.assert(fc.property(fc.integer({ min: 5, max: 12 }), fc.integer({ min: 5, max: 12 }), fc.constantFrom('baseos', 'appstream', 'crb'), (a, b, v) =>
      releaseMatches('red hat', `enterprise_linux:${a}::${v}`, `Red Hat:enterprise_linux:${b}`) === (a === b)));
  });

  it('Ubuntu: `YY.MM` and `YY.MM:LTS` records of the release apply; Ubuntu Pro (ESM) records need a subscription and do not', () => {
    expect(releaseMatches('ubuntu', '22.04:LTS', 'Ubuntu:22.04:LTS')).to.equal(true);
    expect(releaseMatches('ubuntu', '22.04', 'Ubuntu:22.04:LTS')).to.equal(true);
    expect(releaseMatches('ubuntu', 'Pro:22.04:LTS', 'Ubuntu:22.04:LTS')).to.equal(false);
    expect(releaseMatches('ubuntu', 'Pro:18.04:LTS', 'Ubuntu:18.04:LTS')).to.equal(false);
    expect(releaseMatches('ubuntu', '20.04:LTS', 'Ubuntu:22.04:LTS')).to.equal(false);
    expect(releaseMatches('ubuntu', '24.10', 'Ubuntu:24.10')).to.equal(true);
  });

  it('SUSE: any SLE product or module of the same version and service pack; openSUSE exactly', () => {
    const img = 'SUSE:Linux Enterprise Server 15 SP5';
    expect(releaseMatches('suse', 'Linux Enterprise Server 15 SP5', img)).to.equal(true);
    expect(releaseMatches('suse', 'Linux Enterprise Module for Basesystem 15 SP5', img)).to.equal(true);
    expect(releaseMatches('suse', 'Linux Enterprise Server for SAP Applications 15 SP5', img)).to.equal(true);
    expect(releaseMatches('suse', 'Linux Enterprise Server 15 SP4', img)).to.equal(false);
    expect(releaseMatches('suse', 'Linux Enterprise Micro 5.5', img)).to.equal(false);
    expect(releaseMatches('suse', 'Linux Enterprise Server 15', 'SUSE:Linux Enterprise Server 15')).to.equal(true);
    // subscription streams (LTSS, ESPOS) apply to no image; SLE Micro by its own major.minor
    expect(releaseMatches('suse', 'Linux Enterprise Server 15 SP5-LTSS', img)).to.equal(false);
    expect(releaseMatches('suse', 'Linux Enterprise Server 15 SP3-LTSS', 'SUSE:Linux Enterprise Server 15')).to.equal(false);
    expect(releaseMatches('suse', 'Linux Enterprise Micro 5.5', 'SUSE:Linux Enterprise Server 5 SP5')).to.equal(true);
    expect(releaseMatches('suse', 'Linux Enterprise Micro 5.5', 'SUSE:Linux Enterprise Micro 5.5')).to.equal(true);
    expect(releaseMatches('suse', 'Linux Enterprise Micro for Rancher 5.4', 'SUSE:Linux Enterprise Micro 5.4')).to.equal(true);
    expect(releaseMatches('suse', 'Linux Enterprise Micro 5.4', 'SUSE:Linux Enterprise Micro 5.5')).to.equal(false);
    // SUSE Linux Micro 6.x (os-release ID sl-micro) dropped "Enterprise" from the product name
    expect(releaseMatches('suse', 'Linux Micro 6.0', 'SUSE:Linux Micro 6.0')).to.equal(true);
    expect(releaseMatches('suse', 'Linux Micro 6.1', 'SUSE:Linux Micro 6.0')).to.equal(false);
    expect(releaseMatches('suse', 'Linux Micro 6.0', img)).to.equal(false);
    expect(releaseMatches('suse', 'Linux Enterprise Server 15 SP5', 'SUSE:Linux Micro 6.0')).to.equal(false);
    expect(releaseMatches('opensuse', 'Leap 15.5', 'openSUSE:Leap 15.5')).to.equal(true);
    expect(releaseMatches('opensuse', 'Leap 15.4', 'openSUSE:Leap 15.5')).to.equal(false);
    expect(releaseMatches('opensuse', 'Tumbleweed', 'openSUSE:Tumbleweed')).to.equal(true);
  });

  it('property: a SUSE record applies exactly to the image of its major and service pack, never with a stream suffix, whatever the product name', () => {
    const product = fc.constantFrom('Linux Enterprise Server', 'Linux Enterprise Module for Basesystem', 'Linux Enterprise Server for SAP Applications', 'Linux Enterprise High Performance Computing', 'Linux Enterprise Desktop');
    const suffix = fc.constantFrom('-LTSS', '-ESPOS', '-LTSS-EXTENDED-SECURITY', '-LTSS-TERADATA', '-BCL');
    fc.assert(
      fc.property(product, fc.integer({ min: 11, max: 16 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 11, max: 16 }), fc.integer({ min: 0, max: 7 }), (p, maj, sp, imgMaj, imgSp) => {
        const rec = `${p} ${maj}${sp ? ` SP${sp}` : ''}`;
        const image = `SUSE:Linux Enterprise Server ${imgMaj}${imgSp ? ` SP${imgSp}` : ''}`;
        return releaseMatches('suse', rec, image) === (maj === imgMaj && sp === imgSp);
      }),
    );
    fc.assert(
      fc.property(product, fc.integer({ min: 11, max: 16 }), fc.integer({ min: 0, max: 7 }), suffix, fc.integer({ min: 0, max: 7 }), (p, maj, sp, sfx, imgSp) => {
        const rec = `${p} ${maj}${sp ? ` SP${sp}` : ''}${sfx}`;
        return !releaseMatches('suse', rec, `SUSE:Linux Enterprise Server ${maj}${imgSp ? ` SP${imgSp}` : ''}`);
      }),
    );
  });

  it('property: a SLE Micro / SUSE Linux Micro record applies exactly to the Micro image of its major.minor, and never to an SLES image', () => {
    const product = fc.constantFrom('Linux Enterprise Micro', 'Linux Enterprise Micro for Rancher', 'Linux Micro');
    const microId = fc.constantFrom('sle-micro', 'sle-micro-rancher', 'sl-micro');
    fc.assert(
      fc.property(product, fc.integer({ min: 5, max: 6 }), fc.integer({ min: 0, max: 6 }), microId, fc.integer({ min: 5, max: 6 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 11, max: 16 }), fc.integer({ min: 0, max: 7 }),
        (p, maj, min, id, imgMaj, imgMin, slesMaj, slesSp) => {
          const rec = `${p} ${maj}.${min}`;
          const micro = osEcosystemFor({ id, versionId: `${imgMaj}.${imgMin}` });
          const sles = osEcosystemFor({ id: 'sles', versionId: `${slesMaj}.${slesSp}` });
          return releaseMatches('suse', rec, micro) === (maj === imgMaj && min === imgMin) && !releaseMatches('suse', rec, sles)
            && !releaseMatches('suse', `${rec}-LTSS`, micro);
        }),
      { numRuns: 300 },
    );
  });

  it('numbered releases by their number; rolling distributions take every record', () => {
    expect(releaseMatches('alpine', 'v3.19', 'Alpine:v3.19')).to.equal(true);
    expect(releaseMatches('alpine', 'v3.18', 'Alpine:v3.19')).to.equal(false);
    expect(releaseMatches('debian', '12', 'Debian:12')).to.equal(true);
    expect(releaseMatches('debian', '11', 'Debian:12')).to.equal(false);
    expect(releaseMatches('debian', '12', 'Debian')).to.equal(false);
    expect(releaseMatches('almalinux', '9', 'AlmaLinux:9')).to.equal(true);
    expect(releaseMatches('rocky linux', '8', 'Rocky Linux:9')).to.equal(false);
    expect(releaseMatches('openeuler', '22.03-LTS-SP3', 'openEuler:22.03-LTS-SP3')).to.equal(true);
    expect(releaseMatches('openeuler', '22.03-LTS-SP2', 'openEuler:22.03-LTS-SP3')).to.equal(false);
    expect(releaseMatches('photon os', '5.0', 'Photon OS:5.0')).to.equal(true);
    expect(releaseMatches('azure linux', '3', 'Azure Linux:3')).to.equal(true);
    expect(releaseMatches('wolfi', '', 'Wolfi')).to.equal(true);
    // a record of another family never applies
    expect(releaseMatches('almalinux', '8', 'Rocky Linux:8')).to.equal(false);
  });

  it('real os-release files of families without a public package database here give the release OSV spells', () => {
    // test/fixtures/os/README.md: trivy's and syft's os-release test data, unchanged
    const eco = (file: string): string | undefined => {
      const kv = parseKeyValues(fs.readFileSync(path.join(ROOT, 'test/fixtures/os/os-release', file), 'utf8'));
      return osvEcosystem(kv.ID, kv.VERSION_ID, kv.VERSION);
    };
    expect(eco('trivy-mageia')).to.equal('Mageia:9');
    expect(eco('syft-wolfi')).to.equal('Wolfi'); // VERSION_ID="20220914": a rolling distribution's build date, not a release
    expect(eco('syft-photon-2.0')).to.equal('Photon OS:2.0');
    expect(eco('trivy-photon')).to.equal('Photon OS:4.0'); // as PHSA records spell it (`Photon OS:3.0`, test/fixtures/os/osv-photon)
    expect(eco('trivy-azurelinux-3.0')).to.equal('Azure Linux:3');
  });

  it('real os-release files of grype\'s, trivy\'s and syft\'s test data: the analyzer reads the ID and VERSION_ID their own tests expect, and the table gives the ecosystem OSV spells', async () => {
    // test/fixtures/os/README.md: each file unchanged; `tool` is what that tool's test expects of it
    // (grype distro_test.go Type/Version, trivy release_test.go Family/Name, syft identify_release_test.go ID/VersionID)
    const cases: Array<{ file: string; tool: string; id: string; versionId: string; ecosystem: string | undefined }> = [
      { file: 'grype-chainguard', tool: 'grype: Chainguard 20230214', id: 'chainguard', versionId: '20230214', ecosystem: 'Chainguard' },
      { file: 'grype-azurelinux-3.0', tool: 'grype: Azure 3.0', id: 'azurelinux', versionId: '3.0', ecosystem: 'Azure Linux:3' },
      { file: 'grype-rocky-8.4', tool: 'grype: RockyLinux 8.4', id: 'rocky', versionId: '8.4', ecosystem: 'Rocky Linux:8' },
      { file: 'trivy-rocky-9.3', tool: 'trivy: rocky 9.3', id: 'rocky', versionId: '9.3', ecosystem: 'Rocky Linux:9' },
      { file: 'syft-opensuse-leap-15.2', tool: 'syft: opensuse-leap 15.2', id: 'opensuse-leap', versionId: '15.2', ecosystem: 'openSUSE:Leap 15.2' },
      // Leap 42.3 still wrote ID=opensuse; trivy reads it as opensuse.leap 42.3
      { file: 'trivy-opensuseleap-42.3', tool: 'trivy: opensuse.leap 42.3', id: 'opensuse', versionId: '42.3', ecosystem: 'openSUSE:Leap 42.3' },
      // VERSION_ID is a snapshot date (and a commented-out VERSION line): Tumbleweed has one ecosystem, no releases
      { file: 'trivy-opensusetumbleweed', tool: 'trivy: opensuse.tumbleweed 20220412', id: 'opensuse-tumbleweed', versionId: '20220412', ecosystem: 'openSUSE:Tumbleweed' },
      { file: 'trivy-mariner-1.0', tool: 'trivy: cbl-mariner 1.0', id: 'mariner', versionId: '1.0', ecosystem: undefined },
      // trivy reads all three as SLE Micro; SUSE's OSV names the products `SUSE Linux Enterprise Micro 5.x` and `SUSE Linux Micro 6.x`
      { file: 'trivy-slemicro', tool: 'trivy: slem 5.3', id: 'sle-micro', versionId: '5.3', ecosystem: 'SUSE:Linux Enterprise Micro 5.3' },
      { file: 'trivy-slemicro-rancher', tool: 'trivy: slem 5.4', id: 'sle-micro-rancher', versionId: '5.4', ecosystem: 'SUSE:Linux Enterprise Micro 5.4' },
      { file: 'trivy-slemicro6.0', tool: 'trivy: slem 6.0', id: 'sl-micro', versionId: '6.0', ecosystem: 'SUSE:Linux Micro 6.0' },
    ];
    for (const c of cases) {
      const content = fs.readFileSync(path.join(ROOT, 'test/fixtures/os/os-release', c.file));
      const out = await osReleaseAnalyzer.analyze!({ path: '/etc/os-release', size: content.length, mode: 0o644, content }, { tmpDir: os.tmpdir() } as AnalyzerContext);
      const hint = out?.os;
      expect([hint?.id, hint?.versionId], c.tool).to.deep.equal([c.id, c.versionId]);
      expect(osEcosystemFor(hint!), c.tool).to.equal(c.ecosystem);
    }
  });
});
