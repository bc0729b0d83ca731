/**
 * Pass-through throughput of the push gate's proxy (issue 9, goal ≥ 0.9× direct). In the same run,
 * against one real Distribution registry (Debian docker-registry) on loopback, curl (a separate
 * process, so the proxy does not share its event loop with the client) uploads a fresh random blob
 * monolithically (`POST` + `PUT <location>?digest=`, streamed from a file with `curl -T`) and
 * downloads it again (`GET`), once directly and once through the proxy, alternating for N rounds.
 * Prints the medians in MB/s and the ratio proxy/direct, plus a plain TCP relay in Node as the floor of
 * any userland proxy on this machine; then the same with curl limited to 125 MB/s (a 1 Gb/s link).
 *
 * Usage: npx tsx bench/proxy-throughput.ts [sizeMiB=256] [rounds=3]
 * The manifest-PUT gate latency (cold and warm layer cache) needs the real gate and is not
 * measured here.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry } from '../test/helpers/lab.js';
import { startProxy } from '../src/proxy/proxy.js';
import { GateDouble } from '../test/unit/proxy/gate-double.js';
import { proxyTestConfig } from '../test/unit/proxy/config.js';

const sizeMiB = Number(process.argv[2] ?? 256);
const rounds = Number(process.argv[3] ?? 3);
const REG_PORT = 18020;
const PROXY_PORT = 18070;
const RELAY_PORT = 18071;

function curl(args: string[]): Promise<{ code: string; seconds: number; headers: string }> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '-D', '-', '-o', '/dev/null', '-w', '\n%{http_code} %{time_total}', ...args], { maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) return reject(err);
      const lines = stdout.trimEnd().split('\n');
      const [code, t] = lines.pop()!.split(' ');
      resolve({ code: code!, seconds: Number(t), headers: lines.join('\n') });
    });
  });
}

async function fileDigest(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of fs.createReadStream(file, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

/** One upload + download against `base` (`http://host:port`); returns MB/s for each. */
async function round(base: string, repo: string, file: string, bytes: number, limit?: string): Promise<{ up: number; down: number }> {
  const lim = limit ? ['--limit-rate', limit] : [];
  fs.writeFileSync(file, randomBytes(32), { flag: 'r+' }); // fresh content: no dedup by the registry
  const digest = await fileDigest(file);
  const start = await curl(['-X', 'POST', `${base}/v2/${repo}/blobs/uploads/`]);
  if (start.code !== '202') throw new Error(`POST uploads: ${start.code}`);
  const loc = /^location:\s*(\S+)/im.exec(start.headers)![1]!;
  const url = new URL(loc, base);
  url.searchParams.set('digest', digest);
  const put = await curl([...lim, '-T', file, '-H', 'Content-Type: application/octet-stream', url.toString()]);
  if (put.code !== '201') throw new Error(`PUT upload: ${put.code}`);
  const get = await curl([...lim, `${base}/v2/${repo}/blobs/${digest}`]);
  if (get.code !== '200') throw new Error(`GET blob: ${get.code}`);
  const mb = bytes / 1e6;
  return { up: mb / put.seconds, down: mb / get.seconds };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-proxy-'));
  const file = path.join(dir, 'blob.bin');
  const bytes = sizeMiB * 1024 * 1024;
  const fd = fs.openSync(file, 'w');
  const chunk = randomBytes(1 << 20);
  for (let i = 0; i < sizeMiB; i++) fs.writeSync(fd, chunk, 0, chunk.length, i * chunk.length);
  fs.closeSync(fd);
  const reg = startRegistry(REG_PORT);
  const gate = new GateDouble({ upstream: reg.url });
  const proxy = await startProxy({ gate, config: proxyTestConfig(reg.url, { listen: `127.0.0.1:${PROXY_PORT}` }) });
  // The floor of any userland proxy on this machine: a TCP relay (bytes copied, no HTTP parsing).
  const relay = net.createServer((c) => {
    const u = net.connect(REG_PORT, '127.0.0.1');
    c.pipe(u).pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => relay.listen(RELAY_PORT, '127.0.0.1', r));
  try {
    await round(reg.url, 'bench/warmup', file, bytes);
    for (const limit of [undefined, '125M']) {
      const direct = { up: [] as number[], down: [] as number[] };
      const tcp = { up: [] as number[], down: [] as number[] };
      const via = { up: [] as number[], down: [] as number[] };
      for (let i = 0; i < rounds; i++) {
        const d = await round(reg.url, 'bench/direct', file, bytes, limit);
        const p = await round(`http://127.0.0.1:${proxy.port}`, 'bench/proxy', file, bytes, limit);
        const t = await round(`http://127.0.0.1:${RELAY_PORT}`, 'bench/relay', file, bytes, limit);
        tcp.up.push(t.up);
        tcp.down.push(t.down);
        direct.up.push(d.up);
        direct.down.push(d.down);
        via.up.push(p.up);
        via.down.push(p.down);
      }
      const row = (what: string, d: number[], p: number[], t: number[]): string =>
        `${what.padEnd(22)} direct ${median(d).toFixed(0).padStart(5)} MB/s  proxy ${median(p).toFixed(0).padStart(5)} MB/s  ratio ${(median(p) / median(d)).toFixed(2)}×` +
        `   (tcp relay ${median(t).toFixed(0).padStart(5)} MB/s, proxy/relay ${(median(p) / median(t)).toFixed(2)}×)`;
      console.log(`proxy pass-through, ${sizeMiB} MiB blob, median of ${rounds} rounds (goal ≥ 0.90×), ${limit ? `client limited to ${limit}B/s (a 1 Gb/s link)` : 'loopback, unlimited'}`);
      console.log(row('upload (PUT ?digest=)', direct.up, via.up, tcp.up));
      console.log(row('download (GET blob)', direct.down, via.down, tcp.down));
    }
  } finally {
    await proxy.close();
    relay.close();
    reg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
