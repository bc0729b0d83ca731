/**
 * Gate latency benchmark (issues 3 and 9), everything real on loopback: a Distribution registry
 * (Debian docker-registry), `pushgate serve` in-process with its proxy listener, the Debian base
 * lab image. Measured in the same run, several rounds, medians:
 *   baseline  standalone scan of the image from the registry (what `pushgate scan REF` does)
 *   async     notification → stored verdict, cold (empty store) and warm (same layers, new manifest)
 *   sync      manifest PUT through the proxy → answer, cold and warm
 * Goals: async/sync cold ≤ 1.2× the standalone scan; sync warm ≤ 50 ms.
 * Usage: npx tsx bench/gate-latency.ts [rounds]
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runScan } from '../src/cli/commands/scan.js';
import { defaultConfig } from '../src/config/load.js';
import type { PushgateConfig } from '../src/config/types.js';
import { RegistryClient } from '../src/registry/client.js';
import { startServer } from '../src/server/serve.js';
import { updateDb } from '../src/vulndb/index.js';
import { labImages, ROOT, skopeoCopy } from '../test/helpers/lab.js';

const REG_PORT = 16300;
const PROXY_PORT = 16301;
const TOKEN = 'bench-token-0123456789abcdef';
const rounds = Number(process.argv[2] ?? 3);
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

function registry(action: 'start' | 'stop', storage: string): void {
  const args = [path.join(ROOT, 'scripts/lab/start-registry.sh'), '--storage', storage, ...(action === 'stop' ? ['--stop'] : ['--port', String(REG_PORT)])];
  const r = spawnSync('bash', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
}

/** A new manifest for the same layers: the config gets a label, so the digest differs. */
async function variant(client: RegistryClient, repo: string, tag: string, label: string): Promise<{ bytes: Buffer; digest: string }> {
  const m = await client.getManifest(repo, tag);
  const manifest = JSON.parse(m.bytes.toString('utf8'));
  const chunks: Buffer[] = [];
  for await (const c of await client.getBlob(repo, manifest.config.digest)) chunks.push(c as Buffer);
  const config = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  config.config.Labels = { ...(config.config.Labels ?? {}), 'bench.variant': label };
  const cbytes = Buffer.from(JSON.stringify(config));
  const cdigest = `sha256:${crypto.createHash('sha256').update(cbytes).digest('hex')}`;
  await client.uploadBlob(repo, cdigest, cbytes.length, cbytes);
  manifest.config = { ...manifest.config, digest: cdigest, size: cbytes.length };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return { bytes, digest: `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}` };
}

async function main(): Promise<void> {
  const images = labImages();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-gate-'));
  const storage = path.join(dir, 'registry');
  registry('start', storage);
  try {
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    skopeoCopy(`oci:${images}/debian-minbase:bookworm`, `127.0.0.1:${REG_PORT}/bench/base:src`);
    const client = new RegistryClient({ name: 'bench', url: `http://127.0.0.1:${REG_PORT}` });
    const cfgPath = path.join(dir, 'scan.yaml');
    fs.writeFileSync(cfgPath, `vulndb:\n  path: ${path.join(dir, 'vulndb.sqlite')}\n`);

    const base: number[] = [], asyncCold: number[] = [], asyncWarm: number[] = [], syncCold: number[] = [], syncWarm: number[] = [];
    await runScan(`127.0.0.1:${REG_PORT}/bench/base:src`, { config: cfgPath, format: 'json' }); // warm-up (JIT, page cache)
    for (let i = 0; i < rounds; i++) {
      const t0 = process.hrtime.bigint();
      await runScan(`127.0.0.1:${REG_PORT}/bench/base:src`, { config: cfgPath, format: 'json' });
      base.push(ms(t0));

      // A fresh pushgate (empty store: cold layer cache) per round.
      const config: PushgateConfig = defaultConfig();
      config.server.listen = '127.0.0.1:0';
      config.store.url = `sqlite:${path.join(dir, `pushgate-${i}.db`)}`;
      config.vulndb.path = path.join(dir, 'vulndb.sqlite');
      config.vulndb.sources = [];
      config.registries = [{ name: 'lab', url: `http://127.0.0.1:${REG_PORT}`, type: 'distribution', insecure: false, webhook: { token: TOKEN }, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 8, timeoutMs: 30_000 }];
      config.proxy = { ...config.proxy, listen: `127.0.0.1:${PROXY_PORT}`, upstream: `http://127.0.0.1:${REG_PORT}`, timeoutMs: 120_000 };
      const srv = await startServer(config, silent);
      const notify = async (digest: string, tag: string) => {
        const env = { events: [{ id: `b-${digest}-${tag}`, timestamp: new Date().toISOString(), action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 1, repository: 'bench/base', tag, url: `http://127.0.0.1:${REG_PORT}/v2/bench/base/manifests/${digest}` }, request: { id: 'r', method: 'PUT', useragent: 'skopeo' }, actor: {}, source: {} }] };
        const t = process.hrtime.bigint();
        const r = await fetch(`http://127.0.0.1:${srv.port}/webhooks/distribution`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(env) });
        if (r.status !== 202) throw new Error(`webhook answered ${r.status}`);
        while (!(await srv.store.getVerdict('lab', 'bench/base', digest))) await new Promise((res) => setTimeout(res, 5));
        return ms(t);
      };
      const put = async (bytes: Buffer, tag: string) => {
        const t = process.hrtime.bigint();
        const r = await fetch(`http://127.0.0.1:${PROXY_PORT}/v2/bench/base/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: bytes });
        await r.arrayBuffer();
        if (r.status !== 201) throw new Error(`proxy PUT answered ${r.status}`);
        return ms(t);
      };
      const a1 = await variant(client, 'bench/base', 'src', `async-cold-${i}`);
      await client.putManifest('bench/base', `ac${i}`, a1.bytes, 'application/vnd.oci.image.manifest.v1+json');
      asyncCold.push(await notify(a1.digest, `ac${i}`));
      const a2 = await variant(client, 'bench/base', 'src', `async-warm-${i}`);
      await client.putManifest('bench/base', `aw${i}`, a2.bytes, 'application/vnd.oci.image.manifest.v1+json');
      asyncWarm.push(await notify(a2.digest, `aw${i}`));
      await srv.close();

      // Sync path: a second fresh pushgate, cold then warm through the proxy.
      config.store.url = `sqlite:${path.join(dir, `pushgate-sync-${i}.db`)}`;
      const srv2 = await startServer(config, silent);
      const s1 = await variant(client, 'bench/base', 'src', `sync-cold-${i}`);
      syncCold.push(await put(s1.bytes, `sc${i}`));
      const s2 = await variant(client, 'bench/base', 'src', `sync-warm-${i}`);
      syncWarm.push(await put(s2.bytes, `sw${i}`));
      await srv2.close();
    }
    const b = median(base);
    const row = (name: string, xs: number[], goal: string) => console.log(`${name.padEnd(34)} ${median(xs).toFixed(0).padStart(7)} ms   ${(median(xs) / b).toFixed(2)}×   ${goal}`);
    console.log(`gate latency, Debian base image (${rounds} rounds, medians; baseline measured in the same run)`);
    console.log(`${'standalone scan from the registry'.padEnd(34)} ${b.toFixed(0).padStart(7)} ms   1.00×   baseline`);
    row('notification → verdict, cold', asyncCold, 'goal ≤ 1.2×');
    row('notification → verdict, warm', asyncWarm, '(same layers, new manifest)');
    row('proxy manifest PUT, cold', syncCold, 'goal ≤ 1.2×');
    row('proxy manifest PUT, warm', syncWarm, 'goal ≤ 50 ms');
  } finally {
    registry('stop', storage);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
