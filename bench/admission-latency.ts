/**
 * Admission latency benchmark (issue 8). In the same run, over HTTPS on loopback with autocannon at a fixed
 * rate: (1) pushgate's admission listener answering /admission/validate for a Deployment whose three
 * images have cached verdicts (tag → digest cache warm, verdicts in memory), and (2) a bare express
 * handler that parses the same body and returns a fixed AdmissionReview. Goals: p99 within 2× of the bare
 * handler and under 5 ms at 1,000 requests/s, no errors. Then the cost of a cache miss: resolving a tag
 * with a manifest HEAD against a local Distribution registry (Debian docker-registry), median of N.
 *
 * Usage: npx tsx bench/admission-latency.ts [rate=1000] [seconds=10]
 * Verdicts come from the admission tests' in-memory GateApi double (a cached verdict is a map lookup in
 * the real gate too); the registry client is the real one.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import express from 'express';
import { createDigestCache } from '../src/admission/digest-cache.js';
import { validateReview } from '../src/admission/review.js';
import { startAdmissionListener } from '../src/server/admission-listener.js';
import { RegistryClient } from '../src/registry/client.js';
import type { GateApi } from '../src/gate/types.js';
import { ROOT, labImages, skopeoCopy, startRegistry } from '../test/helpers/lab.js';
import { FakeGate, admissionConfig, verdict, REG } from '../test/unit/admission/fake-gate.js';

const rate = Number(process.argv[2] ?? 1000);
const seconds = Number(process.argv[3] ?? 10);
const body = fs.readFileSync(path.join(ROOT, 'test/fixtures/admission/admissionreview-deployment-create.json'), 'utf8');

async function load(url: string): Promise<autocannon.Result> {
  return autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: 10,
    overallRate: rate,
    duration: seconds,
    // The load generator runs in a worker thread, so it does not share the servers' event loop.
    workers: 1,
  });
}

function summary(name: string, r: autocannon.Result): string {
  return `${name.padEnd(22)} req/s ${r.requests.average.toFixed(0).padStart(6)}  p50 ${r.latency.p50.toFixed(2)} ms  p99 ${r.latency.p99.toFixed(2)} ms  max ${r.latency.max.toFixed(2)} ms  errors ${r.errors + r.timeouts}  non-2xx ${r.non2xx}`;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-adm-'));
  const cert = path.join(dir, 'tls.crt');
  const key = path.join(dir, 'tls.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=bench', '-keyout', key, '-out', cert], { stdio: 'ignore' });

  // (1) pushgate: warm cache, cached verdicts (allow), so every request runs the whole decision.
  const gate = new FakeGate();
  const D = ['sha256:' + '1'.repeat(64), 'sha256:' + '2'.repeat(64)];
  gate.tags.set('team/app:1.4.2', D[0]);
  gate.tags.set('team/app-migrations:1.4.2', D[1]);
  gate.put(verdict('team/app', D[0], 'allow'));
  gate.put(verdict('team/app-migrations', D[1], 'allow'));
  const config = admissionConfig({ unguarded: 'allow' });
  const deps = { gate, config, digestCache: createDigestCache(gate, 10 * 60_000) };
  // Without a client CA: autocannon presents no client certificate (the handshake cost is not what is measured).
  const adm = await startAdmissionListener(deps, { listen: '127.0.0.1:17020', cert, key, allowUnauthenticated: true });

  // (2) bare express handler on the same TLS setup: parse JSON, answer a fixed allowed review.
  const app = express();
  app.use(express.json({ limit: '8mb' }));
  app.post('/admission/validate', (req, res) => {
    res.json({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: req.body.request.uid, allowed: true } });
  });
  const bare = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, app);
  await new Promise<void>((r) => bare.listen(17021, '127.0.0.1', r));

  // In-process cost of one decision: JSON.parse + validateReview vs JSON.parse alone, same body.
  {
    const N = 20_000;
    for (let i = 0; i < 2_000; i++) await validateReview(JSON.parse(body), deps);
    let t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) JSON.parse(body);
    const parseUs = Number(process.hrtime.bigint() - t) / 1e3 / N;
    t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) await validateReview(JSON.parse(body), deps);
    const reviewUs = Number(process.hrtime.bigint() - t) / 1e3 / N;
    console.log(`in process: JSON.parse ${parseUs.toFixed(1)} µs, JSON.parse + validateReview (cached) ${reviewUs.toFixed(1)} µs, ratio ${(reviewUs / parseUs).toFixed(2)}`);
  }

  // Sanity: pushgate answers allowed, from the cache.
  const probe = await fetchJson(adm.port, body);
  if (probe.response?.allowed !== true) throw new Error(`unexpected answer: ${JSON.stringify(probe)}`);
  const resolvesBefore = gate.resolveCalls.length;

  // Warm-up, then alternate the two under the same load.
  await autocannon({ url: `https://127.0.0.1:${adm.port}/admission/validate`, method: 'POST', body, headers: { 'content-type': 'application/json' }, duration: 2, connections: 10, overallRate: rate });
  await autocannon({ url: 'https://127.0.0.1:17021/admission/validate', method: 'POST', body, headers: { 'content-type': 'application/json' }, duration: 2, connections: 10, overallRate: rate });
  const ours = await load(`https://127.0.0.1:${adm.port}/admission/validate`);
  const base = await load('https://127.0.0.1:17021/admission/validate');
  console.log(`admission at ${rate} req/s for ${seconds} s, deployment with 3 images (2 guarded, cached), HTTPS loopback`);
  console.log(summary('bare express handler', base));
  console.log(summary('pushgate validate', ours));
  const ratio = ours.latency.p99 / Math.max(base.latency.p99, 0.001);
  console.log(`p99 ratio pushgate/bare: ${ratio.toFixed(2)} (goal ≤ 2)  p99 ${ours.latency.p99.toFixed(2)} ms (goal < 5)  registry HEADs during load: ${gate.resolveCalls.length - resolvesBefore}`);
  const ok = ratio <= 2 && ours.latency.p99 < 5 && ours.errors + ours.timeouts + ours.non2xx === 0;
  console.log(ok ? 'GOALS MET' : 'GOALS NOT MET');
  await adm.close();
  await new Promise<void>((r) => bare.close(() => r()));
  bare.closeAllConnections();

  // (3) cache miss: tag → digest with a HEAD against a local Distribution registry.
  const reg = startRegistry(17022);
  try {
    skopeoCopy(`oci:${path.join(labImages(), 'debian-minbase')}:bookworm`, `${reg.host}/team/app:1.0`);
    const client = new RegistryClient({ name: 'lab', url: reg.url });
    const g2 = new FakeGate();
    g2.client = (() => client) as GateApi['client'];
    const cache = createDigestCache(g2, 60_000);
    const miss: number[] = [];
    const hit: number[] = [];
    for (let i = 0; i < 200; i++) {
      cache.clear();
      let t = process.hrtime.bigint();
      await cache.resolve(REG.name, 'team/app', '1.0');
      miss.push(Number(process.hrtime.bigint() - t) / 1e6);
      t = process.hrtime.bigint();
      await cache.resolve(REG.name, 'team/app', '1.0');
      hit.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)];
    console.log(`tag resolution (local Distribution 2.8, HTTP): cache miss median ${med(miss).toFixed(2)} ms p99 ${p99(miss).toFixed(2)} ms; cache hit median ${(med(hit) * 1000).toFixed(1)} µs; miss/hit ${(med(miss) / med(hit)).toFixed(0)}×`);
  } finally {
    reg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function fetchJson(port: number, data: string): Promise<{ response?: { allowed?: boolean } }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/admission/validate', method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
    });
    req.on('error', reject);
    req.end(data);
  });
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
