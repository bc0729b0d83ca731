/**
 * Raw OCI distribution API pushes for security suites: small generated images (an npm package.json of
 * adm-zip 0.4.7 with a fixable high advisory, 0.4.9 clean, or a private key), indexes over them, and the
 * blob upload / manifest PUT by tag or by digest any client may send, straight to a registry.
 */
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, 'application/vnd.docker.distribution.manifest.list.v2+json'].join(', ');

export type Kind = 'good' | 'bad' | 'secret';

/** A generated image: its manifest and the blobs it names. */
export interface Image {
  kind: Kind;
  digest: string;
  bytes: Buffer;
  mediaType: string;
  blobs: Buffer[];
}

export const sha = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A one-layer image of `kind` (see the module comment), with `nonce` in it. */
export function makeImage(kind: Kind, nonce: string, mediaType = OCI_MANIFEST): Image {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'digestpush-img-'));
  try {
    const pkg = path.join(root, 'app/node_modules/adm-zip');
    fs.mkdirSync(pkg, { recursive: true });
    fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'adm-zip', version: kind === 'bad' ? '0.4.7' : '0.4.9' }));
    fs.writeFileSync(path.join(root, 'app/nonce'), nonce);
    if (kind === 'secret') {
      fs.writeFileSync(path.join(root, 'app/id_rsa'), `-----BEGIN RSA PRIVATE KEY-----\n${crypto.randomBytes(48).toString('base64')}\n-----END RSA PRIVATE KEY-----\n`);
    }
    const layer = execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--mtime=@0', '-C', root, '-cf', '-', 'app']);
    const docker = mediaType === DOCKER_MANIFEST;
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { User: '65534' }, rootfs: { type: 'layers', diff_ids: [sha(layer)] } }));
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType,
        config: { mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
        layers: [{ mediaType: docker ? 'application/vnd.docker.image.rootfs.diff.tar' : 'application/vnd.oci.image.layer.v1.tar', digest: sha(layer), size: layer.length }],
      }),
    );
    return { kind, digest: sha(bytes), bytes, mediaType, blobs: [config, layer] };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** An index over `children` (manifests or indexes). */
export function makeIndex(children: Array<Pick<Image, 'digest' | 'bytes' | 'mediaType'>>): Pick<Image, 'digest' | 'bytes' | 'mediaType'> {
  const bytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: children.map((c, i) => ({ mediaType: c.mediaType, digest: c.digest, size: c.bytes.length, platform: { architecture: ['amd64', 'arm64', 's390x', 'ppc64le'][i % 4], os: 'linux' } })) }),
  );
  return { digest: sha(bytes), bytes, mediaType: OCI_INDEX };
}

/** Raw OCI distribution API calls against one registry. */
export class Raw {
  constructor(readonly host: string) {}

  async pushBlobs(repo: string, blobs: Buffer[]): Promise<void> {
    for (const b of blobs) {
      const post = await fetch(`http://${this.host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
      await post.arrayBuffer();
      const loc = new URL(post.headers.get('location')!, `http://${this.host}`);
      loc.searchParams.set('digest', sha(b));
      const put = await fetch(loc, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: b });
      await put.arrayBuffer();
      if (put.status !== 201) throw new Error(`blob upload to ${repo}: ${put.status}`);
    }
  }

  /** PUT a manifest; returns the status (and the registry's error code when refused). */
  async putManifest(repo: string, ref: string, m: Pick<Image, 'bytes' | 'mediaType'>): Promise<{ status: number; body: string }> {
    const r = await fetch(`http://${this.host}/v2/${repo}/manifests/${ref}`, { method: 'PUT', headers: { 'Content-Type': m.mediaType }, body: m.bytes });
    return { status: r.status, body: await r.text() };
  }

  /** The digest `repo:ref` serves to any puller, or undefined (404). */
  async served(repo: string, ref: string): Promise<string | undefined> {
    const r = await fetch(`http://${this.host}/v2/${repo}/manifests/${ref}`, { headers: { Accept: ACCEPT } });
    const b = Buffer.from(await r.arrayBuffer());
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`GET ${repo}/${ref}: ${r.status}`);
    return sha(b);
  }

  async getManifest(repo: string, ref: string): Promise<{ bytes: Buffer; mediaType: string } | undefined> {
    const r = await fetch(`http://${this.host}/v2/${repo}/manifests/${ref}`, { headers: { Accept: ACCEPT } });
    const bytes = Buffer.from(await r.arrayBuffer());
    return r.status === 200 ? { bytes, mediaType: r.headers.get('content-type') ?? OCI_MANIFEST } : undefined;
  }
}

/** `img` with an annotation of `padBytes` characters padding its manifest (same blobs), e.g. past a client's read limit. */
export function oversize(img: Image, padBytes: number): Image {
  const doc = JSON.parse(img.bytes.toString()) as Record<string, unknown>;
  doc.annotations = { 'org.example.pad': 'x'.repeat(padBytes) };
  const bytes = Buffer.from(JSON.stringify(doc));
  return { ...img, digest: sha(bytes), bytes };
}
