/**
 * The release of an SBOM's OS packages. A package's `distro=` qualifier names its release; one that names
 * a release pushgate cannot read is some release, perhaps not the SBOM's, so it is never matched as the
 * SBOM's (a SUSE package beside RHEL ones was matched against RHEL's advisories, silently). trivy's
 * family names for SUSE (`slem` since 0.51, the written-out names before) are read as the os-release IDs.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { familyOf, OS_TABLE } from '../../../src/core/index.js';
import { parseDistro, scanSbom } from '../../../src/scan/sbom-input.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-sbom-distro-'));
let n = 0;

/** The inventory read from a CycloneDX SBOM of `components`. */
function read(components: unknown[]): { os?: { id: string; versionId?: string }; packages: Array<{ purl?: string }>; diagnostics: Array<{ code: string; incomplete?: boolean }> } {
  const file = path.join(dir, `bom-${n++}.json`);
  fs.writeFileSync(file, JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', components }));
  const scan = scanSbom(`sbom:${file}`);
  return scan.platforms[0]!.inventory as never;
}

const ids = new Set(OS_TABLE.flatMap((f) => f.ids));
const TRIVY_WORDS = ['redhat', 'alma', 'amazon', 'oracle', 'cbl-mariner', 'opensuse.leap', 'opensuse.tumbleweed', 'slem', 'suse linux enterprise server', 'suse linux enterprise micro'];

describe('scan: the distribution release of an SBOM\'s OS packages', () => {
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('trivy\'s SUSE names: slem and the written-out names of older releases, in the qualifier and the OS component', () => {
    expect(parseDistro('slem-5.5', 'suse')).to.deep.equal({ id: 'sle-micro', versionId: '5.5' });
    expect(parseDistro('suse linux enterprise server-15.5', 'suse')).to.deep.equal({ id: 'sles', versionId: '15.5' });
    expect(parseDistro('suse linux enterprise micro-5.4', 'suse')).to.deep.equal({ id: 'sle-micro', versionId: '5.4' });
    for (const id of ['sle-micro', 'sles']) expect(familyOf(id)?.ids).to.include(id);
    const inv = read([
      { type: 'operating-system', name: 'slem', version: '5.5' },
      { type: 'library', name: 'openssl', purl: 'pkg:rpm/suse/openssl@1.1.1l-150500.17.25.1?arch=x86_64' },
    ]);
    expect(inv.os).to.deep.equal({ id: 'sle-micro', versionId: '5.5' });
  });

  it('a package of an unknown release beside RHEL 9.3 ones is not matched against RHEL\'s advisories', () => {
    const other = 'pkg:rpm/other/openssl@1.1.1l-1?distro=someos-5.5';
    const inv = read([
      { type: 'library', name: 'bash', purl: 'pkg:rpm/redhat/bash@5.1.8-6.el9?distro=rhel-9.3' },
      { type: 'library', name: 'openssl', purl: other },
    ]);
    expect(inv.os).to.deep.equal({ id: 'rhel', versionId: '9.3' });
    expect(inv.packages.map((p) => p.purl)).to.deep.equal(['pkg:rpm/redhat/bash@5.1.8-6.el9?distro=rhel-9.3']);
  });

  it('property: packages whose distro= pushgate cannot read are not matched as the SBOM\'s release, and the inventory says it is incomplete', () => {
    const word = fc.stringMatching(/^[a-z][a-z]{1,10}$/).filter((w) => !ids.has(w) && !TRIVY_WORDS.includes(w) && !['buster', 'bullseye', 'bookworm', 'trixie', 'forky'].includes(w));
    fc.assert(
      fc.property(
        fc.constantFrom(['rhel-9.3', 'redhat', 'rpm'], ['debian-12', 'debian', 'deb'], ['alpine-3.19', 'alpine', 'apk'], ['sles-15.5', 'suse', 'rpm']),
        fc.integer({ min: 0, max: 4 }),
        fc.array(fc.tuple(word, fc.stringMatching(/^\d{1,3}(\.\d{1,2})?$/), fc.constantFrom('rpm', 'deb', 'apk')), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        ([release, ns, type], good, unknown, withOsComponent) => {
          const comps: unknown[] = [];
          if (withOsComponent) comps.push({ type: 'operating-system', name: release.split('-')[0], version: release.split('-')[1] });
          for (let i = 0; i < good; i++) comps.push({ type: 'library', name: `g${i}`, purl: `pkg:${type}/${ns}/g${i}@1.0-1?distro=${release}` });
          const bad = unknown.map(([w, v, t], i) => {
            const bns = t === 'deb' ? 'debian' : t === 'apk' ? 'alpine' : 'other';
            return `pkg:${t}/${bns}/u${i}@2.0-1?distro=${w}-${v}`;
          });
          for (const [i, purl] of bad.entries()) comps.push({ type: 'library', name: `u${i}`, purl });
          const inv = read(comps);
          const matched = new Set(inv.packages.map((p) => p.purl));
          for (const purl of bad) expect(matched.has(purl), `${purl} matched as ${JSON.stringify(inv.os)}`).to.equal(false);
          expect(inv.diagnostics.some((d) => d.code === 'sbom-distro-unknown' && d.incomplete), JSON.stringify(inv.diagnostics)).to.equal(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});
