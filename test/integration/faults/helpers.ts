/**
 * Shared pieces of the fault suites: small generated images as OCI layouts (kilobytes, pushed with
 * skopeo), a policy that quarantines secrets and allows an incomplete scan (so only a real verdict can
 * quarantine), a registry that can be stopped and started again on the same storage, and reads of a
 * tag's state on the registry.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { ROOT } from '../../helpers/lab.js';

/** One generated RSA key for every bad image of a run (generation is slow; the content only needs a key). */
let pem: string | undefined;

/**
 * Writes a small image as an OCI layout under `dir/<name>`: one gzip layer with /etc/os-release of
 * Debian 12, a dpkg status file with one package, and `app/id` (and, for a bad image, `app/id_rsa`, a PEM private key
 * the secrets analyzer finds), a config running as user 65534 whose label makes the digest unique per
 * `n`. @returns the `oci:` reference and the manifest digest skopeo will push (it pushes the manifest as is).
 */
export function tinyImage(dir: string, name: string, opts: { n: number; secret?: boolean }): { ref: string; digest: string } {
  const root = path.join(dir, `${name}-rootfs`);
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.mkdirSync(path.join(root, 'app'), { recursive: true });
  fs.mkdirSync(path.join(root, 'var/lib/dpkg'), { recursive: true });
  fs.writeFileSync(path.join(root, 'var/lib/dpkg/status'), 'Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u5\n');
  fs.writeFileSync(path.join(root, 'etc/os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n');
  fs.writeFileSync(path.join(root, 'app/id'), `${name}\n`);
  if (opts.secret) {
    pem ??= crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    fs.writeFileSync(path.join(root, 'app/id_rsa'), pem);
  }
  const layout = path.join(dir, name);
  const blobs = path.join(layout, 'blobs/sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer) => {
    const hex = crypto.createHash('sha256').update(b).digest('hex');
    fs.writeFileSync(path.join(blobs, hex), b);
    return { digest: `sha256:${hex}`, size: b.length };
  };
  // gzip-compressed: skopeo pushes a compressed layer as it is (it would compress an uncompressed one, changing the digest)
  const tar = execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--mtime=@0', '-C', root, '-cf', '-', 'etc', 'app', 'var']);
  const diffId = `sha256:${crypto.createHash('sha256').update(tar).digest('hex')}`;
  const layer = put(zlib.gzipSync(tar));
  const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { User: '65534', Labels: { n: String(opts.n) } }, rootfs: { type: 'layers', diff_ids: [diffId] } })));
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    ),
  );
  fs.writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': '1' } }] }));
  return { ref: `oci:${layout}:1`, digest: manifest.digest };
}

/** A policy: secrets are quarantined; an incomplete scan is allowed (only a real scan can block). */
export const FAULTS_POLICY = `apiVersion: pushgate.dev/v1
kind: Policy
metadata:
  name: faults
spec:
  ruleSets:
    default:
      onIncomplete: allow
      unknownSeverity: ignore
      excludeBase: false
      rules:
        - name: secrets
          action: quarantine
          match:
            secret: {}
  mappings: []
  default:
    ruleSet: default
    mode: enforce
  exceptions: []
`;

/**
 * Starts (or stops, keeping its storage) the lab registry of `storage` on 127.0.0.1:`port` with
 * notifications to `notifyUrl` (pulls not notified).
 */
export function registryOn(action: 'start' | 'stop', storage: string, port: number, notify?: { url: string; token: string }): void {
  const args = [path.join(ROOT, 'scripts/lab/start-registry.sh'), '--storage', storage];
  if (action === 'stop') args.push('--stop');
  else {
    args.push('--port', String(port), '--notify-ignore-actions', 'pull');
    if (notify) args.push('--notify-url', notify.url, '--notify-header', `Authorization: Bearer ${notify.token}`);
  }
  const r = spawnSync('bash', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`start-registry.sh ${action} failed:\n${r.stderr}`);
}

/** The digest `repo:tag` points at on the registry (HEAD), or undefined when the tag does not resolve. */
export async function tagDigest(base: string, repo: string, tag: string): Promise<string | undefined> {
  const r = await fetch(`${base}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
  return r.status === 200 ? (r.headers.get('docker-content-digest') ?? undefined) : undefined;
}

/** Polls `fn` every 100 ms until it returns a value other than undefined/false, or throws after `ms` with `what`. */
export async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
