/**
 * os-release is one file the pusher writes, and it alone picked the advisories OS packages were matched
 * in: the real Debian 12 lab image with apt downgraded to a vulnerable 2.0.0 and os-release rewritten to
 * `ID=ubuntu VERSION_ID=22.04` was judged against Ubuntu 22.04's advisories, none of which name Debian's
 * builds, and came out complete with no finding (23 with its own os-release). The package database says
 * which OS its packages come from (the package that installs the release files); an os-release naming
 * another family, another release, or a family of another database kind makes the scan incomplete.
 *
 * Images: real package databases (the lab image's Debian 12 dpkg status, trivy's Ubuntu 18.04 status,
 * go-rpmdb's SLES 15 BCI NDB and CBL-Mariner 2.0 rpmdb.sqlite, trivy's Alpine apk database with an
 * `alpine-release` stanza as Alpine ≥ 3.17 installs it) under generated os-release claims, scanned by
 * the real engine.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Diagnostic } from '../../../src/core/index.js';
import { OS_TABLE } from '../../../src/core/os-table.js';
import { scanTarget } from '../../../src/scan/engine.js';
import { osClaimMismatch } from '../../../src/scan/os-evidence.js';
import { labImages, ROOT } from '../../helpers/lab.js';
import { writeOciImage, type LayerFiles } from '../../helpers/oci-image.js';

const PARSERS = path.join(ROOT, 'test/fixtures/scan/parsers');

/** A real database, and the family (os-release ID) and release key it belongs to. */
interface Db {
  name: string;
  id: string;
  /** The release key the release package names (undefined: the family's release is not checked). */
  release?: string;
  files: LayerFiles['files'];
}

function debian12Status(tmp: string): Buffer {
  const layout = path.join(labImages(), 'debian-minbase');
  const blob = (d: string) => path.join(layout, 'blobs', 'sha256', d.slice(7));
  const idx = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const man = JSON.parse(fs.readFileSync(blob(idx.manifests[0].digest), 'utf8')) as { layers: Array<{ digest: string }> };
  execFileSync('tar', ['-xzf', blob(man.layers[0].digest), '-C', tmp, 'var/lib/dpkg/status']);
  const s = fs.readFileSync(path.join(tmp, 'var/lib/dpkg/status'), 'utf8');
  const apt = s.replace(/^(Package: apt\n(?:[^\n]+\n)*?Version: )\S+$/m, '$12.0.0');
  expect(apt).to.not.equal(s);
  return Buffer.from(apt);
}

const ALPINE_RELEASE = '\n\nC:Q1xxxxxxxxxxxxxxxxxxxxxxxxxxx=\nP:alpine-release\nV:3.19.1-r0\nA:x86_64\nS:1000\nI:4096\nT:Alpine release data\nU:https://alpinelinux.org\nL:MIT\no:alpine-base\nm:Natanael Copa <ncopa@alpinelinux.org>\nt:1706000000\nc:0000000000000000000000000000000000000000\n\n';

describe('os-release against the package database: the advisories of the OS the packages come from', function () {
  this.timeout(120_000);
  let dir: string;
  let dbs: Db[];
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-os-claim-'));
    dbs = [
      { name: 'debian12', id: 'debian', release: '12', files: { 'var/lib/dpkg/status': debian12Status(dir) } },
      { name: 'ubuntu1804', id: 'ubuntu', files: { 'var/lib/dpkg/status': fs.readFileSync(path.join(PARSERS, 'dpkg/trivy-valid/status')) } },
      { name: 'sles15', id: 'sles', files: { 'usr/lib/sysimage/rpm/Packages.db': fs.readFileSync(path.join(PARSERS, 'rpm/sle15-bci/Packages.db')) } },
      { name: 'mariner2', id: 'mariner', files: { 'var/lib/rpm/rpmdb.sqlite': fs.readFileSync(path.join(PARSERS, 'rpm/cbl-mariner-2.0/rpmdb.sqlite')) } },
      { name: 'alpine319', id: 'alpine', release: '3.19', files: { 'lib/apk/db/installed': Buffer.concat([fs.readFileSync(path.join(PARSERS, 'apk/trivy-apk/installed')), Buffer.from(ALPINE_RELEASE)]) } },
    ];
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  let n = 0;
  async function diagnostics(db: Db, osRelease: string): Promise<Diagnostic[]> {
    const { ref } = writeOciImage(dir, `img${n++}`, [{ files: { 'etc/os-release': Buffer.from(osRelease), ...db.files }, gzip: true }]);
    const s = await scanTarget(ref, { tmpDir: dir });
    return s.platforms[0]!.inventory.diagnostics;
  }
  const mismatches = (d: Diagnostic[]) => d.filter((x) => x.code === 'os-release-mismatch');

  it('the Debian 12 image claiming Ubuntu 22.04 or Debian 11 is incomplete; its own os-release is not', async () => {
    const deb = dbs[0]!;
    expect(mismatches(await diagnostics(deb, 'ID=debian\nVERSION_ID="12"\n'))).to.deep.equal([]);
    for (const claim of ['ID=ubuntu\nVERSION_ID="22.04"\n', 'ID=debian\nVERSION_ID="11"\n', 'ID=alpine\nVERSION_ID=3.19.1\n', 'ID=rhel\nVERSION_ID="9.3"\n']) {
      const m = mismatches(await diagnostics(deb, claim));
      expect(m, claim).to.have.length(1);
      expect(m[0]!.incomplete).to.equal(true);
    }
  });

  it('property: any claim of a known family is judged only when it names the database\'s family and release (fast-check, real databases)', async () => {
    const ids = OS_TABLE.flatMap((f) => f.ids);
    const same = (db: Db, id: string) => OS_TABLE.find((f) => f.ids.includes(id)) === OS_TABLE.find((f) => f.ids.includes(db.id));
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 0, max: dbs.length - 1 }),
      // mostly the database's own family, so that release claims are exercised too
      fc.oneof(fc.constant(undefined), fc.constantFrom(...ids)),
      fc.oneof(fc.constant(undefined), fc.stringMatching(/^(?:[0-9]{1,2}|3\.1[5-9]|12|11|13)(?:\.[0-9]{1,2})?$/)),
      async (i, otherId, versionId) => {
        const db = dbs[i]!;
        const id = otherId ?? db.id;
        const text = `ID=${id}\n${versionId === undefined ? '' : `VERSION_ID="${versionId}"\n`}`;
        const m = mismatches(await diagnostics(db, text));
        // A VERSION_ID that names no release of the family (Alpine's `12`) is os-release-unknown's
        // (judge.ts), not a mismatch.
        const key = versionId === undefined ? undefined : db.id === 'alpine' ? /^\d+\.\d+/.exec(versionId)?.[0] : /^\d+/.exec(versionId)?.[0];
        const releaseOk = db.release === undefined || key === undefined || key === db.release;
        const consistent = same(db, id) && releaseOk;
        expect(m.length, `${db.name} under ${JSON.stringify(text)}`).to.equal(consistent ? 0 : 1);
        if (m.length) expect(m[0]!.incomplete).to.equal(true);
      },
    ), { numRuns: 60 });
  });

  it('no release package, no claim checked (a database of one package, an OS the table does not know)', () => {
    expect(osClaimMismatch({ id: 'rocky', versionId: '8.10' }, [{ name: 'libuuid', version: '2.32.1-42.el8_8', purl: 'pkg:rpm/redhat/libuuid@2.32.1-42.el8_8' }])).to.equal(undefined);
    expect(osClaimMismatch({ id: 'kali', versionId: '2024.1' }, [{ name: 'base-files', version: '12.4+deb12u5', purl: 'pkg:deb/debian/base-files@12.4+deb12u5' }])).to.equal(undefined);
    // Oracle Linux 7 installs Red Hat's release package beside its own
    expect(osClaimMismatch({ id: 'ol', versionId: '7.9' }, [
      { name: 'redhat-release-server', version: '7.9-1.0.1.el7', purl: 'pkg:rpm/ol/redhat-release-server@7.9-1.0.1.el7' },
      { name: 'oraclelinux-release', version: '7:7.9-1.0.9.el7', purl: 'pkg:rpm/ol/oraclelinux-release@7.9-1.0.9.el7' },
    ])).to.equal(undefined);
  });
});
