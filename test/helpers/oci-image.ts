/**
 * Small generated images as OCI image layouts (kilobytes instead of the lab's 50 MB base), for suites that
 * push many images or need exact layer contents: each layer is a tar(1) of a folder of files (reproducible:
 * sorted, owner 0, mtime 0), gzip-compressed or not, under an image config and a manifest named by one tag
 * in index.json. skopeo pushes such a layout as it is, so the manifest digest here is the one the registry
 * stores.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

/** One layer: its files (path relative to the root → content), gzip-compressed or a plain tar. */
export interface LayerFiles {
  files: Record<string, string | Buffer>;
  gzip?: boolean;
}

/** /etc/os-release of Debian 12 (bookworm), as a layer file. */
export const DEBIAN_12_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n';

/** A dpkg status file listing `packages` (`name version` each) as installed, as a layer file. */
export function dpkgStatus(packages: string[]): string {
  return packages.map((p) => `Package: ${p.split(' ')[0]}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${p.split(' ')[1]}\n`).join('\n');
}

/**
 * Writes an OCI layout at `dir/name` holding one image tagged `tag` (default `1`).
 * @param opts.config the image config's `config` object (default `{ User: '65534' }`: not root).
 * @param opts.history the image config's `history` (image-spec config.md), none by default.
 * @param opts.annotations the manifest's annotations (e.g. `org.opencontainers.image.base.digest`).
 * @returns the `oci:` reference and the manifest digest.
 */
export function writeOciImage(dir: string, name: string, layers: LayerFiles[], opts: { config?: Record<string, unknown>; tag?: string; history?: Array<Record<string, unknown>>; annotations?: Record<string, string> } = {}): { ref: string; digest: string } {
  const layout = path.join(dir, name);
  const blobs = path.join(layout, 'blobs/sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer) => {
    const hex = crypto.createHash('sha256').update(b).digest('hex');
    fs.writeFileSync(path.join(blobs, hex), b);
    return { digest: `sha256:${hex}`, size: b.length };
  };
  const descs = [];
  const diffIds = [];
  for (const [i, l] of layers.entries()) {
    const root = path.join(dir, `${name}-rootfs-${i}`);
    fs.mkdirSync(root, { recursive: true });
    for (const [p, c] of Object.entries(l.files)) {
      fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
      fs.writeFileSync(path.join(root, p), c);
    }
    const tar = execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--mtime=@0', '-C', root, '-cf', '-', '.'], { maxBuffer: 1 << 30 });
    diffIds.push(`sha256:${crypto.createHash('sha256').update(tar).digest('hex')}`);
    descs.push({ mediaType: `application/vnd.oci.image.layer.v1.tar${l.gzip ? '+gzip' : ''}`, ...put(l.gzip ? zlib.gzipSync(tar) : tar) });
  }
  const config = put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: opts.config ?? { User: '65534' }, rootfs: { type: 'layers', diff_ids: diffIds }, ...(opts.history ? { history: opts.history } : {}) })));
  const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: descs, ...(opts.annotations ? { annotations: opts.annotations } : {}) })));
  const tag = opts.tag ?? '1';
  fs.writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
  return { ref: `oci:${layout}:${tag}`, digest: manifest.digest };
}
