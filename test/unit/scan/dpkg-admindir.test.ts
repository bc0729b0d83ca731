/**
 * dpkg reads its database where its option files or environment say: `admindir /opt/dpkg` in
 * `/etc/dpkg/dpkg.cfg.d/<name>`, `/etc/dpkg/dpkg.cfg` or `~/.dpkg.cfg`, a `root`, or the `DPKG_ADMINDIR` /
 * `DPKG_ROOT` variables of the image config. The lab's Debian 12 image with its status copied to /opt/dpkg
 * (apt set back to 2.0.0 there, apt's record dropped from /var/lib/dpkg/status) and such a file had apt
 * 2.0.0 installed to `dpkg -l` run in a chroot of it (the real dpkg of the image), and the scan, which read
 * /var/lib/dpkg/status alone, judged it complete without apt. The chroot is the oracle: whenever the real
 * dpkg lists another apt than /var/lib/dpkg/status does, the scan must be incomplete.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scanTarget } from '../../../src/scan/engine.js';
import { labImages } from '../../helpers/lab.js';
import { gzLayer, makeTar, writeLayout } from './layout-helper.js';

describe('dpkg: the database dpkg reads is where its options say', function () {
  this.timeout(300_000);
  let tmp: string;
  let rootfs: string;
  let real: string;
  let noApt: string;
  let n = 0;
  before(function () {
    if (process.getuid?.() !== 0) throw new Error('chroot needs root: run this test as root');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-dpkg-admindir-'));
    rootfs = path.join(tmp, 'rootfs');
    fs.mkdirSync(rootfs);
    const layout = path.join(labImages(), 'debian-minbase');
    const blob = (d: string) => path.join(layout, 'blobs', 'sha256', d.slice(7));
    const idx = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const man = JSON.parse(fs.readFileSync(blob(idx.manifests[0]!.digest), 'utf8')) as { layers: Array<{ digest: string }> };
    for (const l of man.layers) execFileSync('tar', ['-xzf', blob(l.digest), '-C', rootfs]);
    const status = fs.readFileSync(path.join(rootfs, 'var/lib/dpkg/status'), 'utf8');
    real = status.replace(/^(Package: apt\n(?:[^\n]+\n)*?Version: )\S+$/m, '$12.0.0');
    noApt = status.replace(/^Package: apt\n(?:[^\n]+\n)*\n/m, '');
    expect(real).to.not.equal(status);
    expect(noApt).to.not.equal(status);
    fs.writeFileSync(path.join(rootfs, 'var/lib/dpkg/status'), noApt);
    for (const d of ['opt/dpkg', 'opt/r/var/lib/dpkg']) {
      fs.mkdirSync(path.join(rootfs, d), { recursive: true });
      fs.writeFileSync(path.join(rootfs, d, 'status'), real);
      fs.mkdirSync(path.join(rootfs, d, 'info'), { recursive: true });
      fs.mkdirSync(path.join(rootfs, d, 'updates'), { recursive: true });
    }
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('property: where the real dpkg lists another apt, the scan is incomplete (fast-check, chroot of the lab image)', async () => {
    const seen = { moved: 0, kept: 0 };
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        fc.record({
          file: fc.constantFrom('etc/dpkg/dpkg.cfg.d/zz-admin', 'etc/dpkg/dpkg.cfg.d/01_x', 'etc/dpkg/dpkg.cfg', 'root/.dpkg.cfg', 'etc/dpkg/dpkg.cfg.d/zz.conf'),
          line: fc.constantFrom('admindir /opt/dpkg', 'admindir=/opt/dpkg', 'admindir "/opt/dpkg"', 'admindir /opt/dpkg/', 'admindir /var/lib/dpkg', 'root /opt/r', 'root /', '# admindir /opt/dpkg'),
        }),
        fc.record({ env: fc.constantFrom('DPKG_ADMINDIR=/opt/dpkg', 'DPKG_ROOT=/opt/r', 'DPKG_ADMINDIR=/var/lib/dpkg', 'DPKG_ROOT=') }),
      ),
      async (how) => {
        const file = 'file' in how ? how.file : undefined;
        const env = 'env' in how ? how.env : undefined;
        const line = 'line' in how ? how.line : '';
        if (file) {
          fs.mkdirSync(path.dirname(path.join(rootfs, file)), { recursive: true });
          fs.writeFileSync(path.join(rootfs, file), `${line}\n`);
        }
        let apt: string;
        try {
          const [k, v] = env ? env.split('=') as [string, string] : [];
          apt = execFileSync('chroot', [rootfs, 'dpkg-query', '-W', '-f', '${db:Status-Abbrev}${Version}', 'apt'], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', ...(k ? { [k]: v } : {}) }, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
          // dpkg-query reads the environment; dpkg (dpkg -l) reads the option files and hands them on
          if (file) apt = execFileSync('chroot', [rootfs, 'dpkg', '-l', 'apt'], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' }, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter((l) => / apt /.test(l)).map((l) => l.split(/\s+/).slice(0, 3).join(' ')).join('');
        } catch {
          apt = 'none';
        } finally {
          if (file) fs.rmSync(path.join(rootfs, file));
        }
        const movedToReal = /2\.0\.0/.test(apt);
        seen[movedToReal ? 'moved' : 'kept']++;
        const entries = [
          { name: 'etc/os-release', content: fs.readFileSync(path.join(rootfs, 'usr/lib/os-release')) },
          { name: 'var/lib/dpkg/status', content: Buffer.from(noApt) },
          { name: 'opt/dpkg/status', content: Buffer.from(real) },
          { name: 'opt/r/var/lib/dpkg/status', content: Buffer.from(real) },
          ...(file ? [{ name: file, content: Buffer.from(`${line}\n`) }] : []),
        ];
        const dir = path.join(tmp, `l${n++}`);
        writeLayout(dir, [gzLayer(await makeTar(entries))], { config: env ? { config: { Env: [env] } } : {} });
        const inv = (await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') })).platforms[0]!.inventory;
        const moved = inv.diagnostics.filter((d) => d.code === 'dpkg-admindir');
        const label = `${JSON.stringify(how)}: dpkg says ${JSON.stringify(apt)}`;
        if (movedToReal) {
          expect(moved.length, label).to.be.greaterThan(0);
          expect(moved.every((d) => d.incomplete), label).to.equal(true);
        } else {
          expect(moved, label).to.deep.equal([]);
        }
      },
    ), { numRuns: 30 });
    // both outcomes happened: the oracle told moved databases from kept ones
    expect(seen.moved).to.be.greaterThan(0);
    expect(seen.kept).to.be.greaterThan(0);
  });
});
