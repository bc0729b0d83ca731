/**
 * Debian's rpm-common (pulled into Debian and Ubuntu images by alien, rpmlint, python3-rpm) sets
 * `%_dbpath %(bash -c 'echo ~/.rpmdb')`: rpm reads the invoking user's `~/.rpmdb`. pushgate cannot
 * expand that, and called every such image incomplete (quarantined by default) though nothing had ever
 * installed an rpm package into it. The definition itself now says nothing; an rpm database file in a
 * `.rpmdb` folder (any folder: $HOME is the image's to set) is what makes the scan incomplete. The
 * oracle is the real rpm 4.18 with this machine's own Debian macro file.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scanTarget } from '../../../src/scan/engine.js';
import { ROOT } from '../../helpers/lab.js';
import { gzLayer, makeTar, writeLayout } from './layout-helper.js';

const DEBIAN_MACROS = '/usr/lib/rpm/macros';
const MARINER = path.join(ROOT, 'test/fixtures/scan/parsers/rpm/cbl-mariner-2.0/rpmdb.sqlite');

describe("rpm: Debian's %_dbpath ~/.rpmdb", function () {
  this.timeout(300_000);
  let tmp: string;
  let macros: string;
  let n = 0;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-rpm-home-'));
    macros = fs.readFileSync(DEBIAN_MACROS, 'utf8');
    expect(macros, "this machine's rpm-common is Debian's").to.match(/^%_dbpath\s+%\(bash -c 'echo ~\/\.rpmdb'\)$/m);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** The rpm-dbpath diagnostics of an image holding `files`. */
  async function dbpathOf(files: Record<string, string | Buffer>): Promise<Array<{ path?: string; incomplete?: boolean }>> {
    const entries = Object.entries(files).map(([name, c]) => ({ name, content: Buffer.isBuffer(c) ? c : Buffer.from(c) }));
    const dir = path.join(tmp, `l${n++}`);
    writeLayout(dir, [gzLayer(await makeTar(entries))]);
    const inv = (await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') })).platforms[0]!.inventory;
    return inv.diagnostics.filter((d) => d.code === 'rpm-dbpath');
  }

  it('property: rpm reads HOME/.rpmdb; an image with a database there is incomplete, one without is not (real rpm, fast-check)', async () => {
    const seg = fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/);
    await fc.assert(fc.asyncProperty(
      fc.array(seg, { minLength: 1, maxLength: 3 }), fc.constantFrom('rpmdb.sqlite', 'Packages', 'Packages.db'), fc.boolean(),
      async (homeParts, dbFile, hasDb) => {
        const home = `/${homeParts.join('/')}`;
        // where the real rpm, with Debian's macros, reads for a user whose HOME is `home`
        const said = execFileSync('rpm', ['--eval', '%_dbpath'], { encoding: 'utf8', env: { ...process.env, HOME: home } }).trim();
        expect(said).to.equal(`${home}/.rpmdb`);
        const files: Record<string, string | Buffer> = { 'usr/lib/rpm/macros': macros, 'etc/os-release': 'ID=debian\nVERSION_ID="12"\n' };
        if (hasDb) files[`${said.slice(1)}/${dbFile}`] = dbFile === 'rpmdb.sqlite' ? fs.readFileSync(MARINER) : Buffer.from('db');
        const moved = await dbpathOf(files);
        if (hasDb) {
          expect(moved.length, said).to.be.greaterThan(0);
          expect(moved.every((d) => d.incomplete)).to.equal(true);
          expect(moved.map((d) => d.path)).to.include(`/${said.slice(1)}/${dbFile}`);
        } else {
          expect(moved, said).to.deep.equal([]);
        }
      },
    ), { numRuns: 20, examples: [[['root'], 'rpmdb.sqlite', true], [['root'], 'Packages', false]] });
  });

  it('any other shell expansion is still not judged (incomplete)', async () => {
    for (const body of ["%(bash -c 'echo /opt/db')", "%(bash -c 'echo ~/.rpmdb'; echo x)", "%(sh -c 'echo ~/.rpmdb')"]) {
      const moved = await dbpathOf({ 'usr/lib/rpm/macros': macros.replace(/^%_dbpath\s.*$/m, `%_dbpath\t${body}`) });
      expect(moved.length, body).to.be.greaterThan(0);
    }
  });
});
