/**
 * rpm opens its database at `%_dbpath`, which any macro file on rpm's macro path may set. A RHEL-like image
 * whose `/etc/rpm/macros.db` said `%_dbpath /opt/rpmdb`, with the database moved there, listed every
 * package to `rpm -qa` in the container and none to the scan (which reads `/var/lib/rpm` and
 * `/usr/lib/sysimage/rpm`): complete, no finding. The oracle is the real rpm 4.18 (Debian's `rpm`
 * package): `rpm --macros <the image's macro files> --eval %_dbpath` says where rpm reads, and
 * `rpm --root <tree> … -qa` lists the real CBL-Mariner 2.0 database put there.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../../helpers/lab.js';
import { scanLayers, treeEntries } from './layout-helper.js';

const MARINER = path.join(ROOT, 'test/fixtures/scan/parsers/rpm/cbl-mariner-2.0/rpmdb.sqlite');

describe('rpm: the database rpm reads is where %_dbpath says', function () {
  this.timeout(300_000);
  let tmp: string;
  let base: string;
  let n = 0;
  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-rpm-dbpath-'));
    // rpm's own macros as upstream ships them (Debian patches %_dbpath to ~/.rpmdb)
    base = fs.readFileSync('/usr/lib/rpm/macros', 'utf8').replace(/^%_dbpath\s.*$/m, '%_dbpath\t\t%{_var}/lib/rpm');
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** The directory rpm reads in a tree holding `files` (rpm's macro path order over the tree). */
  function rpmDbpath(tree: string): string {
    const order = ['usr/lib/rpm/macros', 'usr/lib/rpm/macros.d/macros.*', 'etc/rpm/macros.*', 'etc/rpm/macros', 'root/.rpmmacros'].map((p) => path.join(tree, p)).join(':');
    return execFileSync('rpm', ['--macros', order, '--eval', '%_dbpath'], { encoding: 'utf8', env: { ...process.env, HOME: path.join(tree, 'root') } }).trim();
  }

  it('property: a database moved by a macro file is read or the scan is incomplete (fast-check, real rpm)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('etc/rpm/macros.db', 'etc/rpm/macros', 'usr/lib/rpm/macros.d/macros.zz', 'root/.rpmmacros'),
      fc.oneof(
        fc.constantFrom('/opt/rpmdb', '%{_var}/lib/rpm', '%{_usr}/lib/sysimage/rpm', '/var/lib/rpm/', '%{_var}/cache/db', '%_var/lib/rpm', '/usr/lib/sysimage/rpm').map((v) => `%_dbpath ${v}`),
        fc.constantFrom('%_var /opt', '%_var /var'),
      ),
      fc.constantFrom('', '  ', '\t'),
      async (file, def, lead) => {
        const tree = path.join(tmp, `t${n++}`);
        const put = (p: string, c: string | Buffer) => { fs.mkdirSync(path.dirname(path.join(tree, p)), { recursive: true }); fs.writeFileSync(path.join(tree, p), c); };
        put('usr/lib/rpm/macros', base);
        put(file, `# moved\n${lead}${def.replace(' ', '\t')}\n`);
        const dbpath = rpmDbpath(tree);
        put(`${dbpath.slice(1)}/rpmdb.sqlite`, fs.readFileSync(MARINER));
        put('etc/os-release', 'ID=mariner\nVERSION_ID="2.0"\n');
        const listed = execFileSync('rpm', ['--root', tree, '--dbpath', dbpath, '-qa'], { encoding: 'utf8' }).split('\n').filter(Boolean);
        expect(listed.length, 'rpm lists the moved database').to.be.greaterThan(50);
        const inv = await scanLayers(tmp, `l${n++}`, [treeEntries(tree)]);
        const rpms = inv.packages.filter((p) => p.purl.startsWith('pkg:rpm/')).length;
        const moved = inv.diagnostics.filter((d) => d.code === 'rpm-dbpath');
        const label = `${file}: ${JSON.stringify(def)} → ${dbpath}`;
        const dir0 = path.posix.normalize(dbpath).replace(/(.)\/$/, '$1');
        if (dir0 === '/var/lib/rpm' || dir0 === '/usr/lib/sysimage/rpm') {
          expect(rpms, label).to.equal(listed.length);
          expect(moved, label).to.deep.equal([]);
        } else {
          // never complete without the packages rpm lists
          expect(moved.length, label).to.be.greaterThan(0);
          expect(moved.every((d) => d.incomplete), label).to.equal(true);
        }
      },
    ), { numRuns: 25 });
  });
});
