/**
 * Shared pieces of the fault suites: small generated images as OCI layouts (kilobytes, pushed with
 * skopeo), a policy that quarantines secrets and allows an incomplete scan (so only a real verdict can
 * quarantine), a registry that can be stopped and started again on the same storage, and reads of a
 * tag's state on the registry.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import { ROOT } from '../../helpers/lab.js';
import { DEBIAN_12_OS_RELEASE, dpkgStatus, writeOciImage } from '../../helpers/oci-image.js';

/** One generated RSA key for every bad image of a run (generation is slow; the content only needs a key). */
let pem: string | undefined;

/**
 * Writes a small image as an OCI layout under `dir/<name>`: one gzip layer with /etc/os-release of
 * Debian 12, a dpkg status file with one package, and `app/id` (and, for a bad image, `app/id_rsa`, a PEM private key
 * the secrets analyzer finds), a config running as user 65534 whose label makes the digest unique per
 * `n`. @returns the `oci:` reference and the manifest digest skopeo will push (it pushes the manifest as is).
 */
export function tinyImage(dir: string, name: string, opts: { n: number; secret?: boolean }): { ref: string; digest: string } {
  const files: Record<string, string> = {
    'etc/os-release': DEBIAN_12_OS_RELEASE,
    'var/lib/dpkg/status': dpkgStatus(['base-files 12.4+deb12u5']),
    'app/id': `${name}\n`,
  };
  if (opts.secret) {
    pem ??= crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    files['app/id_rsa'] = pem;
  }
  // gzip-compressed: skopeo pushes a compressed layer as it is (it would compress an uncompressed one, changing the digest)
  return writeOciImage(dir, name, [{ files, gzip: true }], { config: { User: '65534', Labels: { n: String(opts.n) } } });
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
