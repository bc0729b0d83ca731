/**
 * Helpers for the notification tests: small images built in memory (one gzip tar layer, distinct
 * configs) and OCI artifacts, pushed with pushgate's own registry client to a real registry; a
 * registry restarted on the same storage.
 */
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { defaultConfig } from '../../../src/config/load.js';
import type { PushgateConfig } from '../../../src/config/types.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { ROOT } from '../../helpers/lab.js';

/** sha256 digest of bytes. */
export function sha(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A gzip tar layer holding `files`; returns the compressed bytes and the diffID. */
export async function makeLayer(files: Record<string, string>): Promise<{ gz: Buffer; diffId: string }> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const [name, body] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body);
  pack.finalize();
  await done;
  const raw = Buffer.concat(chunks);
  return { gz: zlib.gzipSync(raw), diffId: sha(raw) };
}

/** A layer with a real RSA private key at /app/id_rsa: the default policy rejects any image holding it. */
export async function secretLayer(): Promise<{ gz: Buffer; diffId: string }> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  return makeLayer({ 'etc/os-release': 'ID=lab\nVERSION_ID=1\n', 'app/id_rsa': pem });
}

/** An image config whose `created` and label make its digest distinct per `n`. */
export function imageConfig(diffId: string, n: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(),
      config: { Labels: { 'test.pushgate/n': String(n) } },
      rootfs: { type: 'layers', diff_ids: [diffId] },
    }),
  );
}

/** An OCI image manifest of `config` and one gzip layer. */
export function imageManifest(config: Buffer, layer: Buffer): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
    }),
  );
}

/** Uploads a blob unless the repository has it. */
export async function ensureBlob(c: RegistryClient, repo: string, bytes: Buffer): Promise<void> {
  const d = sha(bytes);
  if (!(await c.blobExists(repo, d))) await c.uploadBlob(repo, d, bytes.length, bytes);
}

/** An anonymous client of a lab registry (plain HTTP on loopback). */
export function labClient(url: string): RegistryClient {
  return new RegistryClient({ name: 'test-pusher', url, userAgent: 'test-pusher/1', concurrency: 16 });
}

/** Starts (or stops) the lab registry on `storage` (state beside it), keeping its content across restarts. */
export function registryOn(action: 'start' | 'stop', storage: string, port: number, extra: string[] = [], env: Record<string, string> = {}): void {
  const args = [path.join(ROOT, 'scripts/lab/start-registry.sh'), '--storage', storage];
  if (action === 'stop') args.push('--stop');
  else args.push('--port', String(port), ...extra);
  const r = spawnSync('bash', args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(r.stderr);
}

/** A `pushgate serve` and a real Distribution registry whose notifications reach nobody (lost). */
export interface SilentRegistryGate {
  dir: string;
  srv: RunningServer;
  config: PushgateConfig;
  storage: string;
  /** Stops the registry and the server and removes `dir`. */
  stop(): Promise<void>;
}

/**
 * Starts `pushgate serve` (SQLite store, the OSV fixtures' database, reconcile not scheduled) guarding a
 * Distribution registry on `regPort` named `lab` (quarantine prefix `quarantine/`), and starts that registry
 * with its notifications sent to `nobodyPort`, where nothing listens: every event is lost, so only reconcile
 * can find what is pushed.
 */
export async function startGateWithLostNotifications(o: { regPort: number; nobodyPort: number; token: string; prefix: string }): Promise<SilentRegistryGate> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), o.prefix));
  await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
  const config = defaultConfig();
  config.server.listen = '127.0.0.1:0';
  config.store.url = `sqlite:${path.join(dir, 'pushgate.db')}`;
  config.vulndb.path = path.join(dir, 'vulndb.sqlite');
  config.reconcile = { intervalMs: 0 };
  config.registries = [{ name: 'lab', url: `http://127.0.0.1:${o.regPort}`, type: 'distribution', insecure: false, webhook: { token: o.token }, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 8, timeoutMs: 5_000 }];
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  const srv = await startServer(config, silent);
  const storage = path.join(dir, 'reg');
  registryOn('start', storage, o.regPort, ['--notify-url', `http://127.0.0.1:${o.nobodyPort}/webhooks/distribution`, '--notify-header', `Authorization: Bearer ${o.token}`]);
  return {
    dir, srv, config, storage,
    async stop() {
      registryOn('stop', storage, o.regPort);
      await srv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
