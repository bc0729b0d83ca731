/**
 * Builds the project's Dockerfile with buildah (Debian package; chroot isolation, no daemon) against a
 * base image this test makes locally, and runs `pushgate --version` in the result.
 *
 * Storage: overlay where this kernel can mount it (tried on the first image), else vfs. vfs copies the
 * whole root filesystem for every stage, commit and container (the build stage is ~700 MB with the
 * toolchain and dev dependencies) and deletes those copies afterwards: on 2 cores that alone took
 * about 2 minutes of this test. The image built is the same either way.
 *
 * The base stands in for node:20-bookworm-slim (no registry outside npm and apt is reachable here): the
 * lab's debian-minbase image (built from Debian packages) plus this machine's node and npm, its Node
 * headers (so node-gyp needs no download), its apt sources and its CA trust store (so apt and npm inside
 * the build reach the same mirrors as the host). The longest step is better-sqlite3 compiled from
 * source in `npm ci` (no prebuilt binary is reachable here: the Dockerfile's fallback path for builds
 * without one, so it stays).
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, ensureTools, labImages } from '../../helpers/lab.js';

describe('Dockerfile built with buildah', function () {
  this.timeout(25 * 60_000);
  let dir: string;
  let storage: string[];
  const buildah = (args: string[], opts: { cwd?: string } = {}): string =>
    execFileSync('buildah', [...storage, ...args], { cwd: opts.cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });

  before(() => {
    ensureTools([['buildah', 'buildah'], ['skopeo', 'skopeo']]);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-buildah-'));

    // 1. debian-minbase into buildah's storage: overlay if a container of it runs, else vfs.
    const minbase = `oci:${path.join(labImages(), 'debian-minbase')}:bookworm`;
    const useDriver = (driver: string): void => {
      const root = path.join(dir, driver, 'root');
      const run = path.join(dir, driver, 'run');
      storage = ['--storage-driver', driver, '--root', root, '--runroot', run];
      execFileSync('skopeo', ['copy', '-q', minbase, `containers-storage:[${driver}@${root}+${run}]localhost/pushgate-test/minbase:bookworm`], { stdio: ['ignore', 'ignore', 'pipe'] });
    };
    try {
      useDriver('overlay');
      const probe = buildah(['from', '--pull=never', 'localhost/pushgate-test/minbase:bookworm']).trim();
      buildah(['run', '--isolation', 'chroot', probe, '--', 'true']);
      buildah(['rm', probe]);
    } catch {
      removeStorage();
      useDriver('vfs');
    }

    // 2. The node base: minbase + this machine's node, npm, headers, apt sources and trust store.
    const ctx = path.join(dir, 'base');
    const put = (src: string, dst: string) => {
      if (!fs.existsSync(src)) return;
      fs.mkdirSync(path.dirname(path.join(ctx, 'rootfs', dst)), { recursive: true });
      fs.cpSync(src, path.join(ctx, 'rootfs', dst), { recursive: true, dereference: true });
    };
    const prefix = path.resolve(path.dirname(process.execPath), '..');
    put(process.execPath, '/usr/local/bin/node');
    put(path.join(prefix, 'lib', 'node_modules', 'npm'), '/usr/local/lib/node_modules/npm');
    put(path.join(prefix, 'include', 'node'), '/usr/local/include/node');
    put('/etc/apt/sources.list', '/etc/apt/sources.list');
    put('/etc/apt/sources.list.d', '/etc/apt/sources.list.d');
    put('/usr/share/keyrings/debian-archive-keyring.gpg', '/usr/share/keyrings/debian-archive-keyring.gpg');
    put('/usr/local/share/ca-certificates', '/usr/local/share/ca-certificates');
    put('/etc/ssl/certs/ca-certificates.crt', '/etc/ssl/certs/ca-certificates.crt');
    fs.writeFileSync(path.join(ctx, 'Containerfile'), [
      'FROM localhost/pushgate-test/minbase:bookworm',
      'COPY rootfs/ /',
      'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && node --version',
      'ENV npm_config_nodedir=/usr/local NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt',
      '',
    ].join('\n'));
    buildah(['bud', '--isolation', 'chroot', '--pull=never', '-t', 'localhost/pushgate-test/node:20', '.'], { cwd: ctx });
  });

  /** Removes the working containers (unmounting their overlays) and the storage directories. */
  function removeStorage(): void {
    try {
      buildah(['rm', '--all']);
    } catch {
      // best effort: whatever is still mounted under dir is unmounted below
    }
    const mounted = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir + '/'));
    for (const m of mounted.reverse()) spawnSync('umount', ['-l', m]);
    for (const e of fs.readdirSync(dir)) if (e !== 'base') fs.rmSync(path.join(dir, e), { recursive: true, force: true });
  }

  after(() => {
    if (!dir) return;
    removeStorage();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('builds, and the image runs `pushgate --version` as uid 10001 with production dependencies only', () => {
    buildah(['bud', '--isolation', 'chroot', '--pull=never', '--format', 'docker', '--layers=false',
      '--build-arg', 'BUILD_IMAGE=localhost/pushgate-test/node:20', '--build-arg', 'RUNTIME_IMAGE=localhost/pushgate-test/node:20',
      '-t', 'localhost/pushgate-test/pushgate:test', '.'], { cwd: ROOT });
    const c = buildah(['from', '--pull=never', 'localhost/pushgate-test/pushgate:test']).trim();
    const version = buildah(['run', '--isolation', 'chroot', c, '--', 'node', '/app/bin/pushgate.js', '--version']).trim();
    expect(version).to.equal(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
    expect(buildah(['run', '--isolation', 'chroot', c, '--', 'id', '-u']).trim()).to.equal('10001');
    expect(buildah(['run', '--isolation', 'chroot', c, '--', 'zstd', '--version'])).to.contain('Zstandard');
    const modules = buildah(['run', '--isolation', 'chroot', c, '--', 'ls', '/app/node_modules']).split('\n');
    expect(modules).to.include.members(['express', 'better-sqlite3', 'prom-client']);
    for (const dev of ['mocha', 'chai', 'typescript', 'tsx', 'eslint']) expect(modules, dev).not.to.include(dev);
    // The native module loads in the runtime stage.
    buildah(['run', '--isolation', 'chroot', c, '--', 'node', '-e', 'require("/app/node_modules/better-sqlite3")(":memory:").prepare("select 1").get()']);
    const cfg = JSON.parse(buildah(['inspect', '--type', 'image', 'localhost/pushgate-test/pushgate:test'])).Docker.config;
    expect(cfg.User).to.equal('10001:10001');
    expect(Object.keys(cfg.ExposedPorts).sort()).to.deep.equal(['8080/tcp', '8443/tcp']);
    expect(cfg.Healthcheck.Test.join(' ')).to.contain('/healthz');
    expect(cfg.Env).to.include('PUSHGATE_CONFIG=/etc/pushgate/pushgate.yaml');
    // The image runs as built (`docker run IMAGE`): the file PUSHGATE_CONFIG names is there and loads,
    // and the state directory it names is writable by the image's user.
    expect(buildah(['run', '--isolation', 'chroot', c, '--', 'node', '/app/bin/pushgate.js', 'config', 'check'])).to.contain('/etc/pushgate/pushgate.yaml: ok');
    buildah(['run', '--isolation', 'chroot', c, '--', 'sh', '-c', 'touch /data/probe /spill/probe']);
  });
});
