/**
 * Test helper: writes small but real OCI image layouts (image-layout.md) from layer blobs built in
 * the test with tar-stream, so whiteout, bad-input and limit cases run on genuine tar and gzip bytes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import type { Inventory } from '../../../src/core/index.js';
import { scanTarget } from '../../../src/scan/engine.js';

/** One tar entry to write. */
export interface TarEntry {
  name: string;
  content?: string | Buffer;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  linkname?: string;
  mode?: number;
}

/** Builds a tar (with its end-of-archive blocks) from entries. */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => { chunks.push(c as Buffer); });
  const done = new Promise<void>((resolve, reject) => { pack.on('end', resolve); pack.on('error', reject); });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = e.content === undefined ? undefined : Buffer.from(e.content);
    await new Promise<void>((resolve, reject) => {
      const h = { name: e.name, type, linkname: e.linkname, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), size: body?.length ?? 0, mtime: new Date(0) };
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) pack.entry(h, body, cb);
      else pack.entry(h, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** sha256 digest string of bytes. */
export function sha256(b: Buffer): string {
  return `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
}

function writeBlob(dir: string, b: Buffer): { digest: string; size: number } {
  const d = sha256(b);
  fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'blobs', 'sha256', d.slice(7)), b);
  return { digest: d, size: b.length };
}

/** A layer for {@link writeLayout}: the blob bytes as stored and the uncompressed tar (for the diffID). */
export interface LayerBlob { blob: Buffer; tar: Buffer; mediaType?: string }

/** Gzip-compresses a tar into a layer blob. */
export function gzLayer(t: Buffer): LayerBlob {
  return { blob: zlib.gzipSync(t), tar: t, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' };
}

/** Writes an OCI layout with one image manifest tagged `tag`; returns the layer digests. */
export function writeLayout(dir: string, layers: LayerBlob[], opts: { tag?: string; config?: Record<string, unknown> } = {}): string[] {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const descs = layers.map((l) => ({ mediaType: l.mediaType ?? 'application/vnd.oci.image.layer.v1.tar+gzip', ...writeBlob(dir, l.blob) }));
  const config = { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l.tar)) }, ...opts.config };
  const c = writeBlob(dir, Buffer.from(JSON.stringify(config)));
  const m = writeBlob(dir, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...c }, layers: descs })));
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': opts.tag ?? 'test' } }] }));
  return descs.map((d) => d.digest);
}

/**
 * A zip of stored (uncompressed) entries (APPNOTE 4.3: local headers, central directory, end record),
 * from `[name, bytes]` pairs or a name → text record.
 */
export function storedZip(files: Array<[string, Buffer]> | Record<string, string>): Buffer {
  const entries: Array<[string, Buffer]> = Array.isArray(files) ? files : Object.entries(files).map(([k, v]) => [k, Buffer.from(v)]);
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const n = Buffer.from(name);
    const crc = zlib.crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18); local.writeUInt32LE(data.length, 22); local.writeUInt16LE(n.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20); central.writeUInt32LE(data.length, 24); central.writeUInt16LE(n.length, 28); central.writeUInt32LE(offset, 42);
    locals.push(local, n, data);
    centrals.push(central, n);
    offset += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(centrals.length / 2, 8); end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(cd.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/**
 * Scans an OCI layout of gzip `layers` (each a list of tar entries, lowest first) written under
 * `tmp/name`, with `tmp/scratch` as the scan's temporary directory; returns the first platform's inventory.
 */
export async function scanLayers(tmp: string, name: string, layers: TarEntry[][]): Promise<Inventory> {
  const dir = path.join(tmp, name);
  writeLayout(dir, await Promise.all(layers.map(async (l) => gzLayer(await makeTar(l)))));
  return (await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') })).platforms[0].inventory;
}

/**
 * Every regular file under `root` (a directory on this machine), as tar entries named `under/<relative
 * path>` (or the relative path alone when `under` is empty): a tree built with real tools, laid into a layer.
 */
export function treeEntries(root: string, under = ''): TarEntry[] {
  const out: TarEntry[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push({ name: under ? `${under}/${path.relative(root, p)}` : path.relative(root, p), content: fs.readFileSync(p) });
    }
  };
  walk(root);
  return out;
}
