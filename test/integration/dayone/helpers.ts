/**
 * Helpers of the day-one suites: a shared vulnerability database built once from the OSV fixtures,
 * small images built in memory (allowed, or holding a private key the default policy rejects),
 * a manifest of thousands of identical tiny layers, and polling.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig, RegistryConfig } from '../../../src/config/types.js';
import { defaultConfig } from '../../../src/config/load.js';
import type { RegistryClient } from '../../../src/registry/client.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { ROOT } from '../../helpers/lab.js';
import { ensureBlob, imageConfig, imageManifest, makeLayer, secretLayer, sha } from '../notifications/helpers.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** A scratch directory with a vulnerability database built from the OSV fixtures. */
export async function scratchWithDb(prefix: string): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pushgate-${prefix}-`));
  await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
  return dir;
}

/** pushgate's configuration for these suites: the store and database in `dir`, workers 2. */
export function dayoneConfig(dir: string, listen: string, registries: RegistryConfig[]): PushgateConfig {
  const config = defaultConfig();
  config.server.listen = listen;
  config.store.url = `sqlite:${path.join(dir, 'pushgate.db')}`;
  config.vulndb.path = path.join(dir, 'vulndb.sqlite');
  config.vulndb.sources = [];
  config.scan.workers = 2;
  config.registries = registries;
  return config;
}

/** A one-layer image built in memory: its blobs and manifest bytes. */
export interface BuiltImage {
  blobs: Buffer[];
  bytes: Buffer;
  digest: string;
}

/** Builds a one-layer image: `secret` puts an RSA private key in it (the default policy rejects it), else it is allowed (warn: root). */
export async function buildImage(o: { secret: boolean; n: number }): Promise<BuiltImage> {
  const layer = o.secret ? await secretLayer() : await makeLayer({ 'etc/os-release': `ID=lab\nVERSION_ID=${o.n}\n` });
  const config = imageConfig(layer.diffId, o.n);
  const bytes = imageManifest(config, layer.gz);
  return { blobs: [layer.gz, config], bytes, digest: sha(bytes) };
}

/** Pushes a built image to `repo` under `ref` (a tag, or its digest when undefined); returns the digest. */
export async function pushBuilt(c: RegistryClient, repo: string, ref: string | undefined, img: BuiltImage): Promise<string> {
  for (const b of img.blobs) await ensureBlob(c, repo, b);
  return c.putManifest(repo, ref ?? img.digest, img.bytes, OCI_MANIFEST);
}

/** Builds and pushes a one-layer image ({@link buildImage}); returns its digest and manifest bytes. */
export async function pushImage(c: RegistryClient, repo: string, ref: string | undefined, o: { secret: boolean; n: number }): Promise<{ digest: string; bytes: Buffer }> {
  const img = await buildImage(o);
  return { digest: await pushBuilt(c, repo, ref, img), bytes: img.bytes };
}

/**
 * A manifest of `n` identical tiny layers (one blob uploaded once): Distribution sends a push
 * notification of about 150 bytes per layer with `includereferences: true`.
 */
export async function pushManyLayers(c: RegistryClient, repo: string, tag: string, n: number): Promise<string> {
  const layer = await makeLayer({ 'etc/os-release': 'ID=lab\nVERSION_ID=many\n' });
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: Array.from({ length: n }, () => layer.diffId) } }));
  await ensureBlob(c, repo, layer.gz);
  await ensureBlob(c, repo, config);
  const d = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer.gz), size: layer.gz.length };
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: Array.from({ length: n }, () => d) }));
  return c.putManifest(repo, tag, bytes, OCI_MANIFEST);
}

/** Polls `f` every 100 ms until it returns a truthy value or `ms` pass (then throws naming `what`). */
export async function waitFor<T>(f: () => Promise<T>, what: string, ms = 60_000): Promise<NonNullable<T>> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
