/**
 * Local image sources: `oci:DIR[:TAG]` (OCI image layout, image-layout.md), `archive:FILE` (a
 * `docker save` tar, legacy `manifest.json` form or the OCI layout form Docker 25+ writes, or an OCI
 * archive tar) and `dir:PATH` (a root filesystem). Manifest and config bytes are verified against
 * their digests; layer blobs are streamed unverified (the engine verifies them while reading).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  MediaTypes, PushgateError, digestHex, isContentDigest, isDigest, manifestMediaType, parseDockerSaveManifest, parseImageConfig, parseManifestDocument, shortDigest,
  type Descriptor, type Digest, type DockerSaveItem, type ImageIndex,
} from '../core/index.js';
import type { DirectorySource, ImageSource } from './source.js';
import { CHUNK } from './layer-stream.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

function sha256(b: Buffer): Digest {
  return `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
}

function verifyBytes(b: Buffer, desc: Descriptor, what: string): Buffer {
  if (desc.size !== undefined && b.length !== desc.size) {
    throw new PushgateError('SIZE_MISMATCH', `${what} ${shortDigest(desc.digest)}: ${b.length} bytes, descriptor says ${desc.size}`);
  }
  if (desc.digest.startsWith('sha256:') && sha256(b) !== desc.digest) {
    throw new PushgateError('DIGEST_MISMATCH', `${what} ${shortDigest(desc.digest)}: content does not match its digest`);
  }
  return b;
}

/** Random access to files of a directory or of an uncompressed tar. */
interface Store {
  has(name: string): boolean;
  read(name: string): Buffer;
  stream(name: string): Readable;
  /** Size in bytes of a member. */
  size(name: string): number;
}

/** What a file that is not a regular file is, for messages: "a directory", "a FIFO (named pipe)", … */
function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * A directory's files, regular files only: reading a FIFO or a device would block or never end, so
 * a layout member that is one (symlinks followed) is an error naming it, like a missing one.
 */
function dirStore(dir: string, where: string): Store {
  const p = (n: string) => path.join(dir, n);
  const regular = (n: string): string => {
    const st = fs.statSync(p(n), { throwIfNoEntry: false });
    if (!st) throw new PushgateError('NOT_FOUND', `${where}: no file ${n}`);
    if (!st.isFile()) throw new PushgateError('BAD_ARGUMENT', `${where}: ${n} is ${fileKind(st)}, not a regular file`);
    return p(n);
  };
  return {
    has: (n) => fs.existsSync(p(n)),
    read: (n) => fs.readFileSync(regular(n)),
    size: (n) => fs.statSync(regular(n)).size,
    stream: (n) => fs.createReadStream(regular(n), { highWaterMark: CHUNK }),
  };
}

/** Indexes an uncompressed tar's members (ustar, GNU long names, PAX path) by reading headers only. */
function tarStore(file: string): Store {
  const fd = fs.openSync(file, 'r');
  const members = new Map<string, { offset: number; size: number }>();
  const stat = fs.fstatSync(fd);
  const h = Buffer.alloc(512);
  let off = 0;
  let longName: string | undefined;
  const octal = (b: Buffer, o: number, l: number) => {
    if (b[o] & 0x80) return Number(b.readBigUInt64BE(o + l - 8));
    const s = b.toString('latin1', o, o + l).replace(/\0.*$/s, '').trim();
    return s ? parseInt(s, 8) : 0;
  };
  try {
    while (off + 512 <= stat.size) {
      fs.readSync(fd, h, 0, 512, off);
      if (h.every((x) => x === 0)) break;
      const size = octal(h, 124, 12);
      const type = String.fromCharCode(h[156] || 0x30);
      let name = h.toString('utf8', 0, 100).replace(/\0.*$/s, '');
      const prefix = h.toString('latin1', 257, 263).startsWith('ustar') ? h.toString('utf8', 345, 500).replace(/\0.*$/s, '') : '';
      if (prefix) name = `${prefix}/${name}`;
      const dataOff = off + 512;
      off = dataOff + Math.ceil(size / 512) * 512;
      if (type === 'L' || type === 'x') {
        const body = Buffer.alloc(Math.min(size, 1 << 20));
        fs.readSync(fd, body, 0, body.length, dataOff);
        if (type === 'L') longName = body.toString('utf8').replace(/\0.*$/s, '');
        else {
          const m = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
          if (m) longName = m[1];
        }
        continue;
      }
      if (longName) { name = longName; longName = undefined; }
      if (type === '0' || type === '\0' || type === '7') members.set(name.replace(/^\.\//, ''), { offset: dataOff, size });
    }
  } finally {
    fs.closeSync(fd);
  }
  const get = (n: string) => {
    const m = members.get(n.replace(/^\.\//, ''));
    if (!m) throw new PushgateError('NOT_FOUND', `archive ${file}: no member "${n}"`);
    return m;
  };
  return {
    has: (n) => members.has(n.replace(/^\.\//, '')),
    size: (n) => get(n).size,
    read: (n) => {
      const m = get(n);
      const b = Buffer.alloc(m.size);
      const f = fs.openSync(file, 'r');
      try { fs.readSync(f, b, 0, m.size, m.offset); } finally { fs.closeSync(f); }
      return b;
    },
    stream: (n) => {
      const m = get(n);
      if (m.size === 0) return fs.createReadStream(file, { start: 1, end: 0 });
      return fs.createReadStream(file, { start: m.offset, end: m.offset + m.size - 1, highWaterMark: CHUNK });
    },
  };
}

function blobName(d: Digest): string {
  if (!isContentDigest(d)) throw new PushgateError('BAD_REFERENCE', `"${d}" is not a digest`);
  return `blobs/${d.slice(0, d.indexOf(':'))}/${digestHex(d)}`;
}

/** The `imageLayoutVersion` this reader knows (OCI image-spec image-layout.md). */
export const IMAGE_LAYOUT_VERSION = '1.0.0';

/**
 * Checks the layout's `oci-layout` file as containerd's importer does: a layout of another
 * `imageLayoutVersion` may lay out blobs or index.json differently, so it is refused by name
 * rather than read as if it were 1.0.0. A layout without the file (written by hand or by an old
 * tool) is read as 1.0.0.
 * @throws PushgateError BAD_ARGUMENT naming `oci-layout` and the field.
 */
function checkLayoutVersion(store: Store, where: string): void {
  if (!store.has('oci-layout')) return;
  let doc: unknown;
  try {
    doc = JSON.parse(store.read('oci-layout').toString('utf8'));
  } catch (e) {
    throw new PushgateError('BAD_ARGUMENT', `${where}: oci-layout is not valid JSON (expected {"imageLayoutVersion": "${IMAGE_LAYOUT_VERSION}"})`, { cause: e });
  }
  const v = typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as { imageLayoutVersion?: unknown }).imageLayoutVersion : undefined;
  if (v !== IMAGE_LAYOUT_VERSION) {
    throw new PushgateError('BAD_ARGUMENT', `${where}: oci-layout imageLayoutVersion is ${v === undefined ? 'missing' : JSON.stringify(v)}; only "${IMAGE_LAYOUT_VERSION}" is supported`);
  }
}

/** An OCI image layout (directory or inside a tar) as an ImageSource. */
function layoutSource(target: string, store: Store, tag: string | undefined, where: string): ImageSource {
  if (!store.has('index.json')) throw new PushgateError('NOT_FOUND', `${where}: no index.json (not an OCI image layout)`);
  checkLayoutVersion(store, where);
  let index: ImageIndex;
  const indexBytes = store.read('index.json');
  try {
    const parsed = parseManifestDocument(indexBytes, MediaTypes.ociIndex);
    index = parsed.kind === 'index' ? parsed.index : ({} as ImageIndex);
  } catch (e) {
    throw new PushgateError('BAD_ARGUMENT', `${where}: index.json: ${(e as Error).message}`, { cause: e });
  }
  if (typeof index !== 'object' || index === null) throw new PushgateError('BAD_ARGUMENT', `${where}: index.json is not an OCI image index (expected {"manifests": [...]})`);
  const list = Array.isArray(index.manifests) ? index.manifests : [];
  const badEntry = list.findIndex((m) => typeof m !== 'object' || m === null || typeof m.digest !== 'string' || !isDigest(m.digest));
  if (badEntry >= 0) throw new PushgateError('BAD_ARGUMENT', `${where}: index.json manifests[${badEntry}] is not a descriptor with a sha256 digest`);
  let desc: Descriptor | undefined;
  const tags = list.map((m) => m.annotations?.[REF_NAME]).filter((t): t is string => !!t);
  if (tag !== undefined) {
    desc = list.find((m) => m.annotations?.[REF_NAME] === tag);
    if (!desc) throw new PushgateError('NOT_FOUND', `${where}: no tag "${tag}" (tags: ${tags.join(', ') || 'none'})`);
  } else if (list.length === 1) desc = list[0];
  else if (list.length === 0) throw new PushgateError('NOT_FOUND', `${where}: the layout holds no manifest`);
  else throw new PushgateError('BAD_ARGUMENT', `${where} holds ${list.length} manifests; name one with :TAG (tags: ${tags.join(', ') || 'none'})`);
  const chosen = desc;
  const readBlob = (d: Descriptor, what: string): Buffer => {
    const n = blobName(d.digest);
    if (!store.has(n)) throw new PushgateError('NOT_FOUND', `${what} ${shortDigest(d.digest)} is missing from ${where}`);
    return verifyBytes(store.read(n), d, what);
  };
  return {
    target,
    async root() {
      const bytes = readBlob(chosen, 'manifest');
      // The engine reads (and, when ambiguous, refuses) the manifest; this only names its type.
      return { digest: chosen.digest, mediaType: manifestMediaType(bytes, chosen.mediaType), bytes };
    },
    async manifest(d) {
      return readBlob(d, 'manifest');
    },
    async blob(d) {
      const n = blobName(d.digest);
      if (!store.has(n)) throw new PushgateError('NOT_FOUND', `blob ${shortDigest(d.digest)} is missing from ${where}`);
      return store.stream(n);
    },
  };
}

/** A legacy `docker save` archive (manifest.json + config + uncompressed layer tars). */
function dockerSaveSource(target: string, store: Store, file: string, tag: string | undefined): ImageSource {
  let list: DockerSaveItem[];
  try {
    list = parseDockerSaveManifest(store.read('manifest.json'));
  } catch (e) {
    throw new PushgateError('BAD_ARGUMENT', `archive ${file}: ${(e as Error).message} (is this a docker save archive?)`, { cause: e });
  }
  let entry = list[0];
  if (tag !== undefined) {
    const f = list.find((e) => (e.RepoTags ?? []).some((t) => t === tag || t.endsWith(`:${tag}`)));
    if (!f) throw new PushgateError('NOT_FOUND', `archive ${file}: no image tagged "${tag}"`);
    entry = f;
  } else if (list.length !== 1) {
    throw new PushgateError('BAD_ARGUMENT', `archive ${file} holds ${list.length} images; name one with :TAG`);
  }
  if (!entry) throw new PushgateError('NOT_FOUND', `archive ${file}: manifest.json lists no image`);
  const configBytes = store.read(entry.Config);
  let config: { rootfs?: { diff_ids?: string[] } };
  try {
    config = parseImageConfig(configBytes);
  } catch (e) {
    throw new PushgateError('BAD_ARGUMENT', `archive ${file}: ${entry.Config}: ${(e as Error).message}`, { cause: e });
  }
  const diffIds = config.rootfs?.diff_ids ?? [];
  const byDigest = new Map<string, string>();
  const configDigest = sha256(configBytes);
  byDigest.set(configDigest, entry.Config);
  const layers: Descriptor[] = entry.Layers.map((l, i) => {
    // Legacy layer.tar files are uncompressed: their sha256 is the diffID.
    const digest = diffIds[i] ?? sha256(store.read(l));
    byDigest.set(digest, l);
    return { mediaType: MediaTypes.dockerLayerGzip.replace('.gzip', ''), digest, size: store.size(l) };
  });
  const manifest = { schemaVersion: 2, mediaType: MediaTypes.dockerManifest, config: { mediaType: MediaTypes.dockerConfig, digest: configDigest, size: configBytes.length }, layers };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return {
    target,
    async root() { return { digest: sha256(bytes), mediaType: MediaTypes.dockerManifest, bytes }; },
    async manifest() { throw new PushgateError('NOT_FOUND', `archive ${file}: a docker save archive has no child manifests`); },
    async blob(d) {
      const n = byDigest.get(d.digest);
      if (!n || !store.has(n)) throw new PushgateError('NOT_FOUND', `blob ${shortDigest(d.digest)} is missing from ${file}`);
      return store.stream(n);
    },
  };
}

function splitTag(rest: string): { p: string; tag?: string } {
  const i = rest.lastIndexOf(':');
  if (i > 0 && !rest.slice(i + 1).includes('/')) return { p: rest.slice(0, i), tag: rest.slice(i + 1) };
  return { p: rest };
}

/**
 * Opens `oci:DIR[:TAG]` (tag = text after the last `:` when it has no `/`; no tag → the layout's only
 * manifest, else an error listing the tags), `archive:FILE[:TAG]` (docker save tar or OCI archive tar,
 * uncompressed) or `dir:PATH` (a root filesystem).
 * @throws PushgateError NOT_FOUND (path, tag or index.json missing) / BAD_ARGUMENT (unknown scheme,
 *   ambiguous layout, unreadable archive, an archive or layout file that is not a regular file: a
 *   FIFO, a device or a directory would block or never end) with a one-line message.
 */
export async function openLocalSource(target: string): Promise<ImageSource | DirectorySource> {
  const colon = target.indexOf(':');
  const scheme = colon > 0 ? target.slice(0, colon) : '';
  const rest = target.slice(colon + 1);
  if (scheme === 'dir') {
    const root = path.resolve(rest);
    if (!fs.existsSync(root)) throw new PushgateError('NOT_FOUND', `dir:${rest}: no such directory`);
    if (!fs.statSync(root).isDirectory()) throw new PushgateError('BAD_ARGUMENT', `dir:${rest}: not a directory`);
    return { kind: 'directory', target, root };
  }
  if (scheme === 'oci') {
    let { p, tag } = splitTag(rest);
    if (tag !== undefined && !fs.existsSync(p) && fs.existsSync(rest)) { p = rest; tag = undefined; }
    if (!fs.existsSync(p)) throw new PushgateError('NOT_FOUND', `oci:${p}: no such directory`);
    if (!fs.statSync(p).isDirectory()) throw new PushgateError('BAD_ARGUMENT', `oci:${p}: not a directory (use archive: for a tar file)`);
    return layoutSource(target, dirStore(p, `oci:${p}`), tag, `oci:${p}`);
  }
  if (scheme === 'archive' || scheme === 'docker-archive' || scheme === 'oci-archive') {
    let { p, tag } = splitTag(rest);
    if (tag !== undefined && !fs.existsSync(p) && fs.existsSync(rest)) { p = rest; tag = undefined; }
    if (!fs.existsSync(p)) throw new PushgateError('NOT_FOUND', `archive:${p}: no such file`);
    // A FIFO or a device would block or never end: the archive is read at random offsets, so it must be a file.
    const st = fs.statSync(p);
    if (!st.isFile()) {
      const hint = st.isDirectory() ? '; use oci: for an OCI layout directory, dir: for a root filesystem' : '';
      throw new PushgateError('BAD_ARGUMENT', `archive:${p} is ${fileKind(st)}; the archive must be a regular file (a docker save or OCI archive tar)${hint}`);
    }
    const head = Buffer.alloc(4);
    const fd = fs.openSync(p, 'r');
    try { fs.readSync(fd, head, 0, 4, 0); } finally { fs.closeSync(fd); }
    if (head[0] === 0x1f && head[1] === 0x8b) throw new PushgateError('BAD_ARGUMENT', `archive:${p} is gzip-compressed; gunzip it first`);
    const store = tarStore(p);
    if (store.has('index.json') && (tag !== undefined || !store.has('manifest.json'))) return layoutSource(target, store, tag, `archive:${p}`);
    if (store.has('manifest.json')) return dockerSaveSource(target, store, p, tag);
    if (store.has('index.json')) return layoutSource(target, store, tag, `archive:${p}`);
    throw new PushgateError('BAD_ARGUMENT', `archive:${p}: neither a docker save archive (manifest.json) nor an OCI archive (index.json)`);
  }
  throw new PushgateError('BAD_ARGUMENT', `target "${target}": expected oci:DIR[:TAG], archive:FILE or dir:PATH`);
}
