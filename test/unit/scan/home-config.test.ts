/**
 * `~/.rpmmacros` and `~/.dpkg.cfg` are under `$HOME`, which the image config's `Env` (or the user's
 * /etc/passwd entry) sets to any folder, and `RPM_CONFIGDIR` moves rpm's whole macro path: with `HOME=/srv`
 * the real rpm read `%_dbpath /opt/rpmdb` from `/srv/.rpmmacros` and the real dpkg read `admindir` from
 * `/srv/.dpkg.cfg`, while the scan, reading those files only under /root and /home/NAME (and macros only
 * under /usr/lib/rpm and /etc/rpm), judged the image complete. The oracles are the host's real rpm 4.18
 * (`rpm --eval %_dbpath`) and dpkg (`dpkg -l apt`, apt being installed on the host) run with that HOME or
 * RPM_CONFIGDIR over a tree holding the image's files.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scanTarget } from '../../../src/scan/engine.js';
import { gzLayer, makeTar, writeLayout } from './layout-helper.js';

const READ = ['/var/lib/rpm', '/usr/lib/sysimage/rpm'];

describe('scan: rpm and dpkg configuration under $HOME or RPM_CONFIGDIR', function () {
  this.timeout(300_000);
  let tmp: string;
  let n = 0;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-home-config-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function scan(files: Record<string, string>, env: string[]) {
    const dir = path.join(tmp, `l${n++}`);
    writeLayout(dir, [gzLayer(await makeTar(Object.entries(files).map(([name, c]) => ({ name: name.slice(1), content: Buffer.from(c) }))))], { config: { config: { Env: env } } });
    const inv = (await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') })).platforms[0]!.inventory;
    return inv.diagnostics;
  }

  const homes = fc.constantFrom('/srv', '/app/h', '/opt/x y', '/root', '/home/u');

  it('property: a %_dbpath rpm reads from $HOME/.rpmmacros or $RPM_CONFIGDIR/macros elsewhere makes the scan incomplete (fast-check, real rpm)', async () => {
    const seen = { moved: 0, kept: 0 };
    await fc.assert(fc.asyncProperty(
      fc.oneof(homes.map((home) => ({ home, cfg: undefined as string | undefined })), fc.constantFrom('/opt/cfg', '/usr/lib/rpm').map((cfg) => ({ home: '/root', cfg }))),
      fc.constantFrom('/opt/rpmdb', '%{_var}/lib/rpm', '/usr/lib/sysimage/rpm', '%{_var}/cache/x'),
      async ({ home, cfg }, body) => {
        const tree = path.join(tmp, `t${n++}`);
        const files: Record<string, string> = {};
        if (cfg) {
          const macros = fs.readFileSync('/usr/lib/rpm/macros', 'utf8').replace(/^%_dbpath\s.*$/m, `%_dbpath\t${body}`);
          files[`${cfg}/macros`] = macros;
          files[`${cfg}/rpmrc`] = fs.readFileSync('/usr/lib/rpm/rpmrc', 'utf8');
        } else {
          files[`${home}/.rpmmacros`] = `%_dbpath ${body}\n`;
        }
        for (const [p, c] of Object.entries(files)) { fs.mkdirSync(path.dirname(tree + p), { recursive: true }); fs.writeFileSync(tree + p, c); }
        fs.mkdirSync(tree + home, { recursive: true });
        const env = { PATH: process.env.PATH!, HOME: tree + home, ...(cfg ? { RPM_CONFIGDIR: tree + cfg } : {}) };
        const dbpath = execFileSync('rpm', ['--eval', '%_dbpath'], { encoding: 'utf8', env }).trim();
        const diags = (await scan(files, [`HOME=${home}`, ...(cfg ? [`RPM_CONFIGDIR=${cfg}`] : [])])).filter((d) => d.code === 'rpm-dbpath');
        const label = `${JSON.stringify({ home, cfg, body })}: rpm reads ${dbpath}`;
        if (READ.includes(dbpath) && !cfg) {
          seen.kept++;
          expect(diags, label).to.deep.equal([]);
        } else if (!READ.includes(dbpath)) {
          seen.moved++;
          expect(diags.length, label).to.be.greaterThan(0);
          expect(diags.every((d) => d.incomplete), label).to.equal(true);
        }
      },
    ), { numRuns: 30 });
    expect(seen.moved).to.be.greaterThan(0);
    expect(seen.kept).to.be.greaterThan(0);
  });

  it('property: RPM_CONFIGDIR is complete only where the real rpm reads /usr/lib/rpm; the empty value reads /rpmrc and /macros (fast-check, real rpm)', async () => {
    const { rpmEnvDiagnostics } = await import('../../../src/scan/analyzers/rpm-macros.js');
    const spelling = fc.tuple(fc.constantFrom('', '/', '//'), fc.constantFrom('', 'usr/lib/rpm', 'usr//lib/rpm', 'opt/cfg', 'usr/lib'), fc.constantFrom('', '/', '//'))
      .map(([a, b, c]) => `${a}${b}${b ? c : ''}`);
    await fc.assert(fc.asyncProperty(spelling, async (v) => {
      let read: string;
      try {
        read = execFileSync('rpm', ['--eval', '%{_rpmconfigdir}'], { encoding: 'utf8', cwd: '/', env: { PATH: process.env.PATH!, RPM_CONFIGDIR: v }, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
      } catch (e) {
        // rpm names the rpmrc it could not open: the directory it reads its configuration from
        const said = /Unable to open (.*)rpmrc for reading/.exec(String((e as { stderr?: unknown }).stderr))?.[1];
        expect(said, v).to.be.a('string');
        read = said!;
      }
      const atDefault = path.posix.normalize(`${read}/`) === '/usr/lib/rpm/';
      const diags = rpmEnvDiagnostics([`RPM_CONFIGDIR=${v}`]);
      expect(diags.length > 0, `RPM_CONFIGDIR=${JSON.stringify(v)}: rpm reads ${JSON.stringify(read)}`).to.equal(!atDefault);
      expect(diags.every((d) => d.incomplete)).to.equal(true);
      // the whole scan agrees
      const all = await scan({ '/etc/os-release': 'ID=fedora\n' }, [`RPM_CONFIGDIR=${v}`]);
      expect(all.some((d) => d.code === 'rpm-dbpath' && d.incomplete), v).to.equal(!atDefault);
    }), { numRuns: 25, examples: [[''], ['/usr/lib/rpm/'], ['//usr//lib/rpm']] });
  });

  it('property: an admindir dpkg reads from $HOME/.dpkg.cfg elsewhere makes the scan incomplete (fast-check, real dpkg)', async () => {
    const seen = { moved: 0, kept: 0 };
    await fc.assert(fc.asyncProperty(homes, fc.constantFrom('admindir /opt/nowhere', 'admindir=/var/lib/dpkg', 'root /opt/r', 'admindir /var/lib/dpkg/'), async (home, line) => {
      const tree = path.join(tmp, `d${n++}`);
      fs.mkdirSync(tree + home, { recursive: true });
      fs.writeFileSync(`${tree}${home}/.dpkg.cfg`, `${line}\n`);
      let apt: string;
      try {
        apt = execFileSync('dpkg', ['-l', 'apt'], { encoding: 'utf8', env: { PATH: process.env.PATH!, HOME: tree + home }, stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        apt = '';
      }
      const moved = !/^ii\s+apt\s/m.test(apt);
      const diags = (await scan({ [`${home}/.dpkg.cfg`]: `${line}\n` }, [`HOME=${home}`])).filter((d) => d.code === 'dpkg-admindir');
      const label = `${home} ${line}: dpkg ${moved ? 'reads elsewhere' : 'lists apt'}`;
      if (moved) {
        seen.moved++;
        expect(diags.length, label).to.be.greaterThan(0);
        expect(diags.every((d) => d.incomplete), label).to.equal(true);
      } else {
        seen.kept++;
        expect(diags, label).to.deep.equal([]);
      }
    }), { numRuns: 25 });
    expect(seen.moved).to.be.greaterThan(0);
    expect(seen.kept).to.be.greaterThan(0);
  });
});
