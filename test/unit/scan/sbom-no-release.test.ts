/**
 * An SBOM whose OS packages name no distribution release (no `distro=` qualifier, no operating-system
 * component): the packages are still the SBOM's, so the report counts them and its coverage names their
 * ecosystem NOT MATCHED, beside the `sbom-no-distro` diagnostic, as for an image without os-release.
 * Before, they were dropped: a two-package SPDX file showed `packages: 1` and no coverage line for them.
 * Judged against the offline OSV fixtures (Debian 12 and npm), in SPDX and CycloneDX alike.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { judgeScan } from '../../../src/gate/judge.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { scanSbom } from '../../../src/scan/sbom-input.js';
import { updateDb, VulnDb } from '../../../src/vulndb/index.js';
import { ROOT } from '../../helpers/lab.js';

/** Real Debian 12 packages of the fixtures (with bookworm advisories), and npm ones. */
const DEB = [['libc6', '2.36-9'], ['openssl', '3.0.11-1~deb12u1'], ['perl-base', '5.36.0-7'], ['apt', '2.6.1'], ['libpcre2-8-0', '10.42-1']] as const;
const NPM = [['adm-zip', '0.4.7'], ['lodash', '4.17.15'], ['left-pad', '1.3.0']] as const;

function spdx(purls: string[]): unknown {
  return {
    spdxVersion: 'SPDX-2.3', dataLicense: 'CC0-1.0', SPDXID: 'SPDXRef-DOCUMENT', name: 'x', documentNamespace: 'https://example.test/x',
    creationInfo: { created: '2024-01-01T00:00:00Z', creators: ['Tool: test'] },
    packages: purls.map((p, i) => ({ SPDXID: `SPDXRef-${i}`, name: `p${i}`, downloadLocation: 'NOASSERTION', externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p }] })),
  };
}
const cyclonedx = (purls: string[]): unknown => ({ bomFormat: 'CycloneDX', specVersion: '1.5', components: purls.map((p, i) => ({ type: 'library', name: `p${i}`, purl: p })) });

describe('scan: SBOM OS packages that name no release', () => {
  let dir: string;
  let db: VulnDb;
  let n = 0;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-sbom-no-release-'));
    await updateDb({ path: path.join(dir, 'v.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    db = VulnDb.open(path.join(dir, 'v.sqlite'));
  });
  after(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('are counted and shown NOT MATCHED in coverage, never matched, the diagnostic kept (property, SPDX and CycloneDX)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.nat(DEB.length - 1), { minLength: 1, maxLength: DEB.length }),
        fc.uniqueArray(fc.nat(NPM.length - 1), { maxLength: NPM.length }),
        fc.boolean(),
        (debs, npms, asSpdx) => {
          const purls = [...debs.map((i) => `pkg:deb/debian/${DEB[i][0]}@${encodeURIComponent(DEB[i][1])}?arch=amd64`), ...npms.map((i) => `pkg:npm/${NPM[i][0]}@${NPM[i][1]}`)];
          const file = path.join(dir, `sbom-${n++}.json`);
          fs.writeFileSync(file, JSON.stringify(asSpdx ? spdx(purls) : cyclonedx(purls)));
          const { report } = judgeScan(scanSbom(`sbom:${file}`), db, defaultPolicy(), {});
          expect(report.packages).to.have.length(debs.length + npms.length);
          expect(report.coverage?.find((c) => c.ecosystem === 'Debian')).to.deep.include({ packages: debs.length, covered: false });
          expect(report.findings.filter((f) => f.ecosystem.startsWith('Debian'))).to.deep.equal([]);
          expect(report.diagnostics.find((d) => d.code === 'sbom-no-distro')?.message).to.match(new RegExp(`^${debs.length} OS package\\(s\\) name no distribution release`));
          expect(report.complete).to.equal(false);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('with the release named (distro=), the same packages are matched: the test\'s packages do have advisories', () => {
    const file = path.join(dir, 'named.json');
    fs.writeFileSync(file, JSON.stringify(spdx(DEB.map(([name, v]) => `pkg:deb/debian/${name}@${encodeURIComponent(v)}?arch=amd64&distro=debian-12`))));
    const { report } = judgeScan(scanSbom(`sbom:${file}`), db, defaultPolicy(), {});
    expect(report.findings.filter((f) => f.ecosystem.startsWith('Debian')).length).to.be.greaterThan(0);
  });
});
