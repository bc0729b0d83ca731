/**
 * Blob download benchmark (issue 6). In the same run, against a real Distribution 2.8 registry
 * (Debian docker-registry) on loopback, the same blob of random bytes is downloaded and its sha256
 * computed by:
 *   (1) `curl -s URL | sha256sum` (the baseline);
 *   (2) pushgate's registry client: `getBlob(repo, digest, { verify: true, size })` (digest and size
 *       checked while streaming), drained.
 * Rounds alternate; the median of each is compared. Goal: (2) ≥ 0.9× the throughput of (1).
 *
 * Usage: npx tsx bench/blob-download.ts [MiB=128] [rounds=5]
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { RegistryClient } from '../src/registry/client.js';
import { startRegistry } from '../test/helpers/lab.js';

const mib = Number(process.argv[2] ?? 128);
const rounds = Number(process.argv[3] ?? 5);
const PORT = 16120;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const reg = startRegistry(PORT);
  try {
    const bytes = randomBytes(mib * 1024 * 1024);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const client = new RegistryClient({ name: 'bench', url: reg.url });
    await client.uploadBlob('bench/blob', digest, bytes.length, bytes);
    const url = `${reg.url}/v2/bench/blob/blobs/${digest}`;

    const curlTimes: number[] = [];
    const clientTimes: number[] = [];
    for (let i = 0; i < rounds; i++) {
      let t = process.hrtime.bigint();
      const out = execFileSync('sh', ['-c', `curl -sf '${url}' | sha256sum`], { encoding: 'utf8', maxBuffer: 1024 });
      curlTimes.push(Number(process.hrtime.bigint() - t) / 1e9);
      if (!out.startsWith(digest.slice(7))) throw new Error(`curl | sha256sum gave ${out}`);

      t = process.hrtime.bigint();
      const s = await client.getBlob('bench/blob', digest, { verify: true, size: bytes.length });
      let n = 0;
      for await (const chunk of s) n += (chunk as Buffer).length;
      clientTimes.push(Number(process.hrtime.bigint() - t) / 1e9);
      if (n !== bytes.length) throw new Error(`client read ${n} of ${bytes.length} bytes`);
    }
    const c = median(curlTimes);
    const p = median(clientTimes);
    const ratio = c / p;
    console.log(`blob download + sha256, ${mib} MiB, ${rounds} alternating rounds, median`);
    console.log(`curl | sha256sum       ${c.toFixed(3)} s  ${(mib / c).toFixed(0)} MiB/s`);
    console.log(`registry client        ${p.toFixed(3)} s  ${(mib / p).toFixed(0)} MiB/s  (digest and size verified while streaming)`);
    console.log(`ratio ${ratio.toFixed(2)}× of curl (goal ≥ 0.9×): ${ratio >= 0.9 ? 'ok' : 'MISSED'}`);
  } finally {
    reg.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
