/**
 * Test-run-wide access to the lab: real OCI images built from Debian packages and the npm
 * registry (scripts/lab/build-images.sh, once per machine; idempotent), a real CNCF Distribution
 * registry (Debian `docker-registry`) and real pushes with Debian's `skopeo`.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LAB = path.join(ROOT, 'scripts', 'lab');

let imagesDir: string | undefined;

/**
 * Directory holding the lab OCI layouts (`debian-minbase`, `node-app`, `adm-zip`, `multiarch`,
 * `zstd`, `tar-noeof`, `debian-base`, `base-app`), built on first use. Override with `PUSHGATE_LAB_IMAGES`.
 */
export function labImages(): string {
  if (imagesDir) return imagesDir;
  const dir = process.env.PUSHGATE_LAB_IMAGES ?? path.join(ROOT, '.cache', 'lab-images');
  const r = spawnSync('bash', [path.join(LAB, 'build-images.sh'), dir], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build-images.sh failed:\n${r.stderr}`);
  imagesDir = dir;
  return dir;
}

/** `oci:<dir>/<name>:<tag>` for a lab image. */
export function labOci(name: string, tag: string): string {
  return `oci:${path.join(labImages(), name)}:${tag}`;
}

/**
 * The base-image lab (scripts/lab/build-images.sh `build_bases`, `build_base_app`), as `oci:` refs:
 * two real bookworm bases whose package versions differ and an app built with buildah on the older.
 */
export interface LabBaseImages {
  /** debian-base:12-archive: the main archive only (= debian-minbase:bookworm, same manifest). */
  archive: string;
  /** debian-base:12-security: the same rootfs with bookworm-updates and -security applied (1 layer). */
  security: string;
  /** -slim variants (docs, man pages and locales removed; dpkg path-exclude rules). */
  archiveSlim: string;
  securitySlim: string;
  /** base-app:1.0: test/fixtures/base/Dockerfile on `archive`; no org.opencontainers.image.base.* annotations. */
  app: string;
  /** base-app:1.0-annotated: the same config and layers, annotated with `archive`'s name and digest. */
  appAnnotated: string;
  /** The Dockerfile base-app was built from. */
  dockerfile: string;
}

let basesBuilt = false;

/**
 * The base-image lab's images ({@link LabBaseImages}), built on first use (`LAB_BASES=1`: about 1.5-2
 * minutes cold on 2 cores, so only the tests that use them pay for them; call it in a hook with a long
 * timeout).
 */
export function labBaseImages(): LabBaseImages {
  const dir = labImages();
  if (!basesBuilt) {
    const r = spawnSync('bash', [path.join(LAB, 'build-images.sh'), dir], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', env: { ...process.env, LAB_BASES: '1' } });
    if (r.status !== 0) throw new Error(`build-images.sh (LAB_BASES=1) failed:\n${r.stderr}`);
    basesBuilt = true;
  }
  return {
    archive: labOci('debian-base', '12-archive'),
    security: labOci('debian-base', '12-security'),
    archiveSlim: labOci('debian-base', '12-archive-slim'),
    securitySlim: labOci('debian-base', '12-security-slim'),
    app: labOci('base-app', '1.0'),
    appAnnotated: labOci('base-app', '1.0-annotated'),
    dockerfile: path.join(ROOT, 'test', 'fixtures', 'base', 'Dockerfile'),
  };
}

/** A running Distribution registry started by {@link startRegistry}. */
export interface LabRegistry {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT` */
  host: string;
  storage: string;
  stop(): void;
}

/**
 * Starts a Distribution 2.8 registry on 127.0.0.1:`port` with a fresh storage directory.
 * @param opts.notifyUrl where notifications go (loopback only); `notifyHeader` e.g. `Authorization: Bearer t`.
 * @param opts.auth `none` (default), `htpasswd` (lab/labpass) or `token` (needs env TOKEN_REALM, TOKEN_ROOTCERTBUNDLE).
 * @param opts.relativeUrls `http.relativeurls: true`: notification target URLs carry no host.
 */
export function startRegistry(port: number, opts: { notifyUrl?: string; notifyHeader?: string; auth?: string; env?: Record<string, string>; relativeUrls?: boolean } = {}): LabRegistry {
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), `pushgate-reg-${port}-`));
  const args = [path.join(LAB, 'start-registry.sh'), '--port', String(port), '--storage', storage];
  if (opts.notifyUrl) args.push('--notify-url', opts.notifyUrl);
  if (opts.notifyHeader) args.push('--notify-header', opts.notifyHeader);
  if (opts.auth) args.push('--auth', opts.auth);
  if (opts.relativeUrls) args.push('--relative-urls');
  const r = spawnSync('bash', args, { encoding: 'utf8', env: { ...process.env, ...opts.env } });
  if (r.status !== 0) throw new Error(`start-registry.sh failed:\n${r.stderr}`);
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    storage,
    stop() {
      spawnSync('bash', [path.join(LAB, 'start-registry.sh'), '--stop', '--storage', storage], { encoding: 'utf8' });
      fs.rmSync(storage, { recursive: true, force: true });
      fs.rmSync(`${storage}.state`, { recursive: true, force: true });
    },
  };
}

/**
 * Pushes with Debian's skopeo: `skopeo copy [--all] SRC docker://DST` (plain HTTP allowed).
 * @param creds `user:pass` for the destination, if it needs auth.
 */
export function skopeoCopy(src: string, dst: string, opts: { all?: boolean; creds?: string } = {}): void {
  const args = ['copy', '-q', '--dest-tls-verify=false', '--src-tls-verify=false'];
  if (opts.all) args.push('--all');
  if (opts.creds) args.push('--dest-creds', opts.creds);
  args.push(src, dst.startsWith('docker://') || dst.startsWith('oci:') ? dst : `docker://${dst}`);
  execFileSync('skopeo', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Result of one skopeo run. */
export interface SkopeoResult {
  code: number;
  stderr: string;
}

/**
 * `skopeo copy` over plain HTTP without throwing and without blocking the event loop (use it when the
 * server under test runs in this process); resolves with its exit code and stderr. */
export function skopeoCopyAsync(src: string, dst: string, opts: { all?: boolean; creds?: string; srcCreds?: string } = {}): Promise<SkopeoResult> {
  const args = ['copy', '-q', '--dest-tls-verify=false', '--src-tls-verify=false', '--retry-times=0'];
  if (opts.all) args.push('--all');
  if (opts.creds) args.push('--dest-creds', opts.creds);
  if (opts.srcCreds) args.push('--src-creds', opts.srcCreds);
  args.push(src, dst.startsWith('docker://') || dst.startsWith('oci:') ? dst : `docker://${dst}`);
  return new Promise((resolve) => {
    execFile('skopeo', args, { timeout: 120_000 }, (err, _stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stderr });
    });
  });
}

/** Installs Debian packages if their commands are missing (the test machine runs as root). */
export function ensureTools(pairs: Array<[cmd: string, pkg: string]>): void {
  const missing = pairs.filter(([cmd]) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0).map(([, p]) => p);
  if (missing.length === 0) return;
  execFileSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${missing.join(' ')}`], { stdio: 'inherit' });
}
