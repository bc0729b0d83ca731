/**
 * Soak run: one real `pushgate serve` (compiled, as the container runs it) with every listener, a
 * real Distribution registry that notifies it, and mixed traffic for a bounded time:
 *   pushes     skopeo pushes of small generated images (fresh digests; some hold a private key,
 *              so the default policy rejects them): straight to the registry (judged from its
 *              notification) and through the push proxy (judged while held);
 *   reviews    AdmissionReviews over mTLS naming pushed images (by tag and digest) and unknown ones;
 *   junk       manifest PUTs to made-up repositories through the proxy, slow and unauthenticated
 *              bodies, oversized manifests, non-ASCII paths, unauthenticated and made-up webhook
 *              envelopes.
 * Sampled: the RSS of the serve process (every second) and the /metrics size and series (every 5 s).
 * At the end the queue must drain and every push the registry accepted or the proxy judged must
 * have a stored verdict (no event lost). Goals: RSS < 256 MiB, /metrics bounded (its size at the
 * end within 10% + 4 KiB of its size after the first minute), no event lost. Prints the figures;
 * exit 1 when a goal is missed.
 *
 * Usage: npx tsx bench/soak.ts [minutes=3] (at most 10)
 * Ports 22150-22159.
 */
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { openStore } from '../src/store/index.js';
import { updateDb } from '../src/vulndb/index.js';
import { serveChild } from '../test/helpers/gate.js';
import { ROOT, startRegistry, type LabRegistry } from '../test/helpers/lab.js';
import { basic, makeMtls, mib, podReview, postReview, rssBytes, scrape, series, serveConfig, slowRequest } from '../test/integration/bounds/harness.js';

const MINUTES = Number(process.argv[2] ?? 3);
if (!(MINUTES > 0 && MINUTES <= 10)) {
  process.stderr.write('soak: minutes must be > 0 and ≤ 10\n');
  process.exit(2);
}
const REG_PORT = 22150;
const API_PORT = 22151;
const PROXY_PORT = 22152;
const ADM_PORT = 22153;
const TOKEN = 'soak-webhook-token-0123456789';
const RSS_GOAL = 256 * 1024 * 1024;
const REPOS = 12;

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function tarGz(files: Record<string, string>): Promise<{ gz: Buffer; diffId: string }> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const [name, body] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, body);
  pack.finalize();
  await done;
  const raw = Buffer.concat(chunks);
  return { gz: zlib.gzipSync(raw), diffId: sha(raw) };
}

/**
 * Writes an OCI image layout of one small image (a base layer, plus a private key when `secret`)
 * whose config is unique to `n`; returns the layout directory and the manifest digest.
 */
function ociImage(root: string, n: number, base: { gz: Buffer; diffId: string }, secret: { gz: Buffer; diffId: string } | undefined): { dir: string; digest: string } {
  const dir = path.join(root, `img-${n}`);
  const blobs = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer): string => {
    const d = sha(b);
    fs.writeFileSync(path.join(blobs, d.slice(7)), b);
    return d;
  };
  const layers = secret ? [base, secret] : [base];
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', created: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(), config: { User: '1000', Labels: { 'soak.n': String(n) } }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: put(l.gz), size: l.gz.length })),
    }),
  );
  const digest = put(manifest);
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
  return { dir, digest };
}

function skopeo(src: string, dst: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('skopeo', ['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', '--retry-times=0', src, `docker://${dst}`], { timeout: 120_000 }, (err, _o, stderr) => resolve({ code: err ? 1 : 0, stderr }));
  });
}

interface Pushed {
  repository: string;
  digest: string;
  via: 'registry' | 'proxy';
  outcome: 'pushed' | 'refused' | 'failed';
  detail?: string;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-soak-'));
  process.stdout.write(`soak: ${MINUTES} min in ${dir}; building dist/ …\n`);
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
  const mtls = makeMtls(dir);
  let reg: LabRegistry | undefined;
  let child: ChildProcess | undefined;
  try {
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${API_PORT}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}`, env: { NOTIFY_IGNORE_ACTIONS: 'pull' } });
    const file = serveConfig({ dir, apiPort: API_PORT, proxyPort: PROXY_PORT, admissionPort: ADM_PORT, mtls, registryUrl: reg.url, webhookToken: TOKEN, extra: { readTimeout: '5s', bodyTimeout: '5s', maxHeldManifests: 8, workers: 2, logLevel: 'error' } });
    child = await serveChild(file, API_PORT, { PUSHGATE_USE_DIST: '1' });
    const pid = child.pid!;
    for (let i = 0; i < 100; i++) {
      const r = (await (await fetch(`http://127.0.0.1:${API_PORT}/readyz`)).json()) as { listeners?: Record<string, string> };
      if (r.listeners?.proxy === 'up' && r.listeners?.admission === 'up') break;
      await sleep(100);
    }
    const metricsUrl = `http://127.0.0.1:${API_PORT}/metrics`;
    const base = await tarGz({ 'etc/os-release': 'ID=soak\nVERSION_ID=1\n', 'app/main.sh': '#!/bin/sh\necho soak\n' });
    const pem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const secret = await tarGz({ 'app/id_rsa': pem });

    const startRss = rssBytes(pid);
    const rss: number[] = [];
    const metricsSizes: Array<{ t: number; bytes: number; series: number }> = [];
    const t0 = Date.now();
    const until = t0 + MINUTES * 60_000;
    const running = (): boolean => Date.now() < until;
    const sampler = setInterval(() => {
      try {
        rss.push(rssBytes(pid));
      } catch {
        // the child exited; the end checks say so
      }
    }, 1000);
    const metricsSampler = setInterval(() => {
      void scrape(metricsUrl)
        .then((t) => metricsSizes.push({ t: Date.now() - t0, bytes: t.length, series: t.split('\n').filter((l) => l && !l.startsWith('#')).length }))
        .catch(() => undefined);
    }, 5000);

    const pushed: Pushed[] = [];
    const counts = { reviews: 0, reviewErrors: 0, junkProxy: 0, junkWebhook: 0, slow: 0, nonAscii: 0, oversized: 0, fiveHundreds: 0 };
    let n = 0;
    const pusher = async (via: 'registry' | 'proxy'): Promise<void> => {
      while (running()) {
        const k = n++;
        const isSecret = k % 4 === 3;
        const img = ociImage(dir, k, base, isSecret ? secret : undefined);
        const repository = `soak/app${k % REPOS}`;
        const host = via === 'registry' ? reg!.host : `127.0.0.1:${PROXY_PORT}`;
        const r = await skopeo(`oci:${img.dir}:latest`, `${host}/${repository}:t${k}`);
        fs.rmSync(img.dir, { recursive: true, force: true });
        const outcome = r.code === 0 ? 'pushed' : /denied: pushgate refused/.test(r.stderr) ? 'refused' : 'failed';
        pushed.push({ repository, digest: img.digest, via, outcome, detail: outcome === 'failed' ? r.stderr.slice(-300) : undefined });
      }
    };
    const reviewer = async (): Promise<void> => {
      while (running()) {
        const done = pushed.filter((p) => p.outcome === 'pushed');
        const p = done[Math.floor(Math.random() * done.length)];
        const images = [`docker.io/library/busybox:${randomBytes(2).toString('hex')}`];
        if (p) images.push(`${reg!.host}/${p.repository}@${p.digest}`);
        images.push(`${reg!.host}/soak/unknown${Math.floor(Math.random() * 5)}:x`);
        try {
          const r = await postReview(ADM_PORT, mtls.client, podReview(randomBytes(8).toString('hex'), images));
          counts.reviews++;
          if (r.status >= 500) counts.fiveHundreds++;
        } catch {
          counts.reviewErrors++;
        }
        await sleep(50);
      }
    };
    const junk = async (): Promise<void> => {
      let j = 0;
      while (running()) {
        j++;
        const kind = j % 6;
        if (kind === 0) {
          const d = (): string => `sha256:${randomBytes(32).toString('hex')}`;
          const body = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d(), size: 10 }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d(), size: 10 }] });
          const r = await fetch(`http://127.0.0.1:${PROXY_PORT}/v2/junk${j}/x${randomBytes(3).toString('hex')}/manifests/v1`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body }).catch(() => undefined);
          if (r && r.status >= 500) counts.fiveHundreds++;
          await r?.arrayBuffer();
          counts.junkProxy++;
        } else if (kind === 1) {
          const events = Array.from({ length: 50 }, (_, i) => ({ id: `junk-${j}-${i}`, action: `junk-${j}-${i}`, target: { repository: `junk${j}/w${i}`, digest: `sha256:${randomBytes(32).toString('hex')}` } }));
          const r1 = await fetch(`http://127.0.0.1:${API_PORT}/webhooks/distribution`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
          const r2 = await fetch(`http://127.0.0.1:${API_PORT}/webhooks/distribution`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
          if (r1.status >= 500 || r2.status >= 500) counts.fiveHundreds++;
          counts.junkWebhook += 2;
        } else if (kind === 2) {
          const head = [`PUT /v2/junk/slow${j}/manifests/v1 HTTP/1.1`, 'Host: x', 'Content-Type: application/vnd.oci.image.manifest.v1+json', 'Content-Length: 3000000'].join('\r\n');
          // Not awaited: slow clients pile up while other traffic goes on.
          void slowRequest(PROXY_PORT, head, { bodyBytes: 3_000_000, chunk: 64 * 1024, everyMs: 50, holdLast: true, giveUpMs: 20_000 }).then((r) => {
            if (r.status >= 500) counts.fiveHundreds++;
          });
          counts.slow++;
        } else if (kind === 3) {
          const r = await fetch(`http://127.0.0.1:${PROXY_PORT}/v2/team/%C3%A9${j}/manifests/v1`, { method: 'PUT', headers: { authorization: basic('x:y') }, body: '{}' }).catch(() => undefined);
          if (r && r.status >= 500) counts.fiveHundreds++;
          await r?.arrayBuffer();
          counts.nonAscii++;
        } else if (kind === 4) {
          const r = await fetch(`http://127.0.0.1:${PROXY_PORT}/v2/junk/big${j}/manifests/v1`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: Buffer.alloc(5 * 1024 * 1024, 0x20) }).catch(() => undefined);
          if (r && r.status >= 500) counts.fiveHundreds++;
          await r?.arrayBuffer();
          counts.oversized++;
        } else {
          await fetch(`http://127.0.0.1:${API_PORT}/api/v1/verdicts?image=${encodeURIComponent(`${reg!.host}/jünk${j}:1`)}`).then((r) => r.arrayBuffer().then(() => r.status >= 500 && counts.fiveHundreds++)).catch(() => undefined);
        }
        await sleep(100);
      }
    };
    const progress = setInterval(() => {
      const last = rss[rss.length - 1] ?? 0;
      process.stdout.write(`  t=${Math.round((Date.now() - t0) / 1000)}s pushes=${pushed.length} reviews=${counts.reviews} rss=${mib(last)}MiB metrics=${metricsSizes[metricsSizes.length - 1]?.bytes ?? 0}B\n`);
    }, 30_000);
    await Promise.all([pusher('registry'), pusher('proxy'), reviewer(), junk()]);
    clearInterval(progress);

    // Drain: every accepted event judged (queue depth 0), at most 2 minutes.
    const drainStart = Date.now();
    let depth = -1;
    while (Date.now() - drainStart < 120_000) {
      const text = await scrape(metricsUrl);
      depth = Number(/^pushgate_queue_depth (\S+)$/m.exec(text)?.[1] ?? NaN);
      if (depth === 0) break;
      await sleep(1000);
    }
    clearInterval(sampler);
    clearInterval(metricsSampler);
    const finalMetrics = await scrape(metricsUrl);
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    child = undefined;

    // No event lost: every push the registry accepted or the proxy judged has a stored verdict.
    const store = await openStore(`sqlite:${dir}/pushgate.db`);
    const missing: Pushed[] = [];
    try {
      for (const p of pushed) {
        if (p.outcome === 'failed') continue;
        if (!(await store.getVerdict('lab', p.repository, p.digest))) missing.push(p);
      }
    } finally {
      await store.close();
    }
    const peak = Math.max(startRss, ...rss);
    const firstMinute = metricsSizes.find((m) => m.t >= 60_000) ?? metricsSizes[0];
    const lastSize = finalMetrics.length;
    const by = (via: string, outcome: string): number => pushed.filter((p) => p.via === via && p.outcome === outcome).length;
    const failed = pushed.filter((p) => p.outcome === 'failed');
    const lines = [
      `soak: ${MINUTES} min, pushgate serve (dist) pid ${pid}`,
      `  pushes      registry: ${by('registry', 'pushed')} pushed, ${by('registry', 'failed')} failed; proxy: ${by('proxy', 'pushed')} pushed, ${by('proxy', 'refused')} refused, ${by('proxy', 'failed')} failed`,
      `  reviews     ${counts.reviews} answered over mTLS, ${counts.reviewErrors} connection errors`,
      `  junk        ${counts.junkProxy} made-up proxy pushes, ${counts.junkWebhook} webhook envelopes (half unauthenticated), ${counts.slow} slow bodies, ${counts.oversized} oversized manifests, ${counts.nonAscii} non-ASCII paths; 5xx answers: ${counts.fiveHundreds}`,
      `  RSS         start ${mib(startRss)} MiB, peak ${mib(peak)} MiB, end ${mib(rss[rss.length - 1] ?? 0)} MiB (goal < ${mib(RSS_GOAL)} MiB)`,
      `  /metrics    after 1 min ${firstMinute?.bytes ?? 0} B (${firstMinute?.series ?? 0} series), end ${lastSize} B (${finalMetrics.split('\n').filter((l) => l && !l.startsWith('#')).length} series); blocked_pushes series ${series(finalMetrics, 'pushgate_blocked_pushes_total').length}`,
      `  queue       depth ${depth} after ${((Date.now() - drainStart) / 1000).toFixed(0)} s of draining`,
      `  verdicts    ${pushed.length - failed.length - missing.length}/${pushed.length - failed.length} accepted or judged pushes have a stored verdict${missing.length ? `; missing: ${missing.slice(0, 5).map((m) => `${m.repository}@${m.digest.slice(0, 19)} (${m.via})`).join(', ')}` : ''}`,
    ];
    if (failed.length) lines.push(`  failed pushes (first): ${failed[0]!.detail?.replace(/\s+/g, ' ')}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    const ok = peak < RSS_GOAL && missing.length === 0 && depth === 0 && counts.fiveHundreds === 0 && (!firstMinute || lastSize <= firstMinute.bytes * 1.1 + 4096);
    process.stdout.write(ok ? 'soak: all goals met\n' : 'soak: GOAL MISSED\n');
    process.exitCode = ok ? 0 : 1;
  } finally {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    reg?.stop();
    if (!process.env.KEEP_DIR) fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
