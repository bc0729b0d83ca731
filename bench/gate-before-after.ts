/**
 * Before/after benchmark of the real product: the compiled `pushgate serve` of a baseline commit and of
 * the working tree, run one after the other in the same run, each with its own real Distribution registry
 * (Debian docker-registry) on loopback, its SQLite store on disk and its vulnerability database built by its
 * own `db update` from the offline fixtures. For each side:
 *   admission  p50/p99 of AdmissionReviews (a Deployment naming the pushed lab Debian image by tag) at a fixed
 *              rate over HTTPS (with a client certificate where the side supports `admission.clientCA`);
 *              the verdict exists (the registry's notification was judged) before the load starts.
 *   ingest     notifications accepted per second (one event per POST, each a new digest) at full speed
 *              against /webhooks/distribution, gate workers running as in production.
 * Sides alternate (base, current, base, current, …) and the median of ROUNDS is printed with the ratio
 * current/base. Goal (gate integrity): admission p99 and ingest rate within 10% of the baseline.
 * Besides latency, each phase reports the CPU time the serve process spent per request (user+system
 * from /proc/<pid>/stat over the phase, divided by the requests answered): on a shared machine it
 * varies far less than latency, and it is what a replica pays per review or notification.
 *
 * Usage: npx tsx bench/gate-before-after.ts [BASE_REF=a6fa1a5] [rounds=3] [rate=500] [seconds=8]
 * The default baseline is the last commit before the gate-integrity changes.
 * Environment:
 *   PUSHGATE_BENCH_PORT      first of the 30 loopback ports used (default 16400)
 *   PUSHGATE_BENCH_NO_CA=1   also measure the working tree without admission.clientCA (side
 *                            `current-noca`), when the baseline has no client-certificate check:
 *                            shows what the TLS client authentication itself costs
 *   PUSHGATE_BENCH_INGEST=existing  the ingest notifications name the pushed image (re-pushes under 8
 *                            tags: the gate judges a stored scan) instead of a new digest each that the
 *                            registry does not hold (the default, `missing`: the gate's manifest GET
 *                            gets 404; since the queue rework a 404 is tried 3 times, as eventually
 *                            consistent registry storage can answer 404 just after a push)
 *   PUSHGATE_BENCH_PROFILE=DIR  run every serve with `node --cpu-prof` writing into DIR/<side>-<time>/
 *                            (one .cpuprofile per thread; the largest is the main thread)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { labImages, ROOT, skopeoCopy, startRegistry, type LabRegistry } from '../test/helpers/lab.js';

const BASE_REF = process.argv[2] ?? 'a6fa1a5';
const ROUNDS = Number(process.argv[3] ?? 3);
const RATE = Number(process.argv[4] ?? 500);
const SECONDS = Number(process.argv[5] ?? 8);
const TOKEN = 'bench-before-after-token-0123456789';
/** `missing` (default): each notification names a new digest the registry does not hold; `existing`: re-pushes of the pushed image. */
const INGEST = process.env.PUSHGATE_BENCH_INGEST === 'existing' ? 'existing' : 'missing';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Side {
  name: string;
  /** First of the 5 ports of this side in a round (registry, server, admission). */
  portOffset: number;
  /** Directory whose `dist/cli/main.js` is the compiled CLI. */
  tree: string;
  clientCA: boolean;
}

/** Compiles the sources of `tree` (a checkout or an extracted commit) into `tree/dist`. */
function build(tree: string): void {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(tree, 'tsconfig.build.json'), '--outDir', path.join(tree, 'dist')], { stdio: 'inherit' });
}

function prepareSides(work: string): Side[] {
  const base = path.join(ROOT, '.cache', `bench-base-${BASE_REF}`);
  if (!fs.existsSync(path.join(base, 'dist/cli/main.js'))) {
    fs.rmSync(base, { recursive: true, force: true });
    fs.mkdirSync(base, { recursive: true });
    const tar = execFileSync('git', ['-C', ROOT, 'archive', BASE_REF, 'src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'], { maxBuffer: 256 << 20 });
    execFileSync('tar', ['-x', '-C', base], { input: tar });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(base, 'node_modules'));
    build(base);
  }
  // The working tree, compiled into a copy so a stale dist/ in the checkout is never measured.
  const cur = path.join(work, 'current');
  fs.mkdirSync(cur);
  for (const f of ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json']) fs.cpSync(path.join(ROOT, f), path.join(cur, f), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(cur, 'node_modules'));
  build(cur);
  const supportsClientCA = (tree: string) => fs.readFileSync(path.join(tree, 'dist/config/schema.js'), 'utf8').includes('clientCA');
  const sides: Side[] = [
    { name: `base ${BASE_REF}`, portOffset: 0, tree: base, clientCA: supportsClientCA(base) },
    { name: 'current', portOffset: 3, tree: cur, clientCA: supportsClientCA(cur) },
  ];
  if (process.env.PUSHGATE_BENCH_NO_CA === '1' && !sides[0].clientCA) sides.push({ name: 'current-noca', portOffset: 6, tree: cur, clientCA: false });
  return sides;
}

interface Pki { dir: string; ca: string; cert: string; key: string; clientCert: string; clientKey: string }

function pki(dir: string): Pki {
  const p = (f: string) => path.join(dir, f);
  const ossl = (...a: string[]) => execFileSync('openssl', a, { stdio: 'ignore' });
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=bench-ca', '-keyout', p('ca.key'), '-out', p('ca.crt'));
  for (const n of ['server', 'client']) {
    ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${n === 'server' ? '127.0.0.1' : 'kube-apiserver'}`, '-keyout', p(`${n}.key`), '-out', p(`${n}.csr`));
    fs.writeFileSync(p(`${n}.ext`), n === 'server' ? 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n');
    ossl('x509', '-req', '-in', p(`${n}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', p(`${n}.ext`), '-out', p(`${n}.crt`));
  }
  return { dir, ca: p('ca.crt'), cert: p('server.crt'), key: p('server.key'), clientCert: p('client.crt'), clientKey: p('client.key') };
}

function configYaml(side: Side, dir: string, keys: Pki, regPort: number, port: number, admPort: number): string {
  return [
    `server: { listen: "127.0.0.1:${port}" }`,
    `store: { url: "sqlite:${path.join(dir, 'pushgate.db')}" }`,
    `vulndb: { path: "${path.join(dir, 'vulndb.sqlite')}", sources: ["${path.join(ROOT, 'test/fixtures/vulndb/osv')}"] }`,
    'registries:',
    `  - { name: lab, url: "http://127.0.0.1:${regPort}", type: distribution, webhook: { token: "${TOKEN}" } }`,
    'admission:',
    `  listen: "127.0.0.1:${admPort}"`,
    `  tls: { cert: "${keys.cert}", key: "${keys.key}" }`,
    // The working tree refuses an admission listener without clientCA unless told to serve anyone.
    ...(side.clientCA ? [`  clientCA: "${keys.ca}"`] : side.name === 'current-noca' ? ['  allowUnauthenticated: true'] : []),
    '  namespaces: [{ match: "*", unknown: deny }]',
    '',
  ].join('\n');
}

function serve(side: Side, config: string, port: number, profDir: string | undefined): Promise<ChildProcess> {
  const nodeArgs = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
  const c = spawn(process.execPath, [...nodeArgs, path.join(side.tree, 'dist/cli/main.js'), 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  c.stderr!.on('data', (d) => (err = (err + String(d)).slice(-5000)));
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      fetch(`http://127.0.0.1:${port}/healthz`).then((r) => {
        if (r.ok) {
          clearInterval(t);
          resolve(c);
        }
      }, () => undefined);
    }, 100);
    c.on('exit', (code) => {
      clearInterval(t);
      reject(new Error(`${side.name}: serve exited ${code}: ${err}`));
    });
  });
}

function review(image: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      resource: { group: 'apps', version: 'v1', resource: 'deployments' },
      namespace: 'team-a',
      operation: 'CREATE',
      userInfo: { username: 'dev@example.com', groups: ['system:authenticated'] },
      object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'app', namespace: 'team-a' }, spec: { template: { spec: { containers: [{ name: 'app', image }] } } } },
    },
  });
}

async function postReview(url: string, body: string, keys: Pki, side: Side): Promise<{ allowed?: boolean; status?: { message?: string } }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, ca: fs.readFileSync(keys.ca), ...(side.clientCA ? { cert: fs.readFileSync(keys.clientCert), key: fs.readFileSync(keys.clientKey) } : {}) }, (res) => {
      let s = '';
      res.on('data', (d) => (s += d));
      res.on('end', () => {
        try {
          resolve((JSON.parse(s) as { response: { allowed?: boolean } }).response);
        } catch (e) {
          reject(new Error(`${res.statusCode}: ${s.slice(0, 200)} (${String(e)})`));
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

let seq = 0;
/**
 * One notification of one manifest push. `existing` unset: a new made-up digest in bench/app (the
 * registry answers the gate's manifest GET with 404). Set: a re-push of that image under one of 8 tags.
 */
function envelope(regPort: number, existing?: { repository: string; digest: string }): string {
  seq++;
  const digest = existing?.digest ?? `sha256:${(0x1000000 + seq).toString(16).padStart(64, '0')}`;
  const repository = existing?.repository ?? 'bench/app';
  const tag = existing ? `bench-${seq % 8}` : `t${seq}`;
  return JSON.stringify({
    events: [
      {
        id: `bench-${process.pid}-${seq}`,
        timestamp: new Date().toISOString(),
        action: 'push',
        target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 1234, length: 1234, repository, url: `http://127.0.0.1:${regPort}/v2/${repository}/manifests/${digest}`, tag },
        request: { id: `r${seq}`, addr: '127.0.0.1:1', host: `127.0.0.1:${regPort}`, method: 'PUT', useragent: 'skopeo/1.9' },
        actor: { name: 'ci' },
        source: { addr: 'registry:5000', instanceID: 'bench' },
      },
    ],
  });
}

interface Figures {
  p50: number;
  p99: number;
  admErrors: number;
  /** CPU ms of the serve process per admission review answered. */
  admCpu: number;
  ingest: number;
  ingestErrors: number;
  /** CPU ms of the serve process per notification accepted (gate workers included). */
  ingestCpu: number;
}

/** CPU time (user + system) the process `pid` has used so far, ms (Linux /proc; NaN elsewhere). */
function cpuMs(pid: number | undefined): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15, in clock ticks.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    return ((Number(f[11]) + Number(f[12])) * 1000) / ticks;
  } catch {
    return NaN;
  }
}

/** Stops a serve child: SIGTERM (so a --cpu-prof profile is written), SIGKILL after 10 s. */
async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(process.env.PUSHGATE_BENCH_PROFILE ? 'SIGTERM' : 'SIGKILL');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

async function round(side: Side, keys: Pki, work: string, r: number): Promise<Figures> {
  const dir = fs.mkdtempSync(path.join(work, `${side.name.split(' ')[0]}-${r}-`));
  const regPort = Number(process.env.PUSHGATE_BENCH_PORT ?? 16400) + (r % 3) * 10 + side.portOffset;
  const port = regPort + 1;
  const admPort = regPort + 2;
  const cfg = path.join(dir, 'pushgate.yaml');
  fs.writeFileSync(cfg, configYaml(side, dir, keys, regPort, port, admPort));
  execFileSync(process.execPath, [path.join(side.tree, 'dist/cli/main.js'), 'db', 'update', '--config', cfg], { stdio: 'ignore' });
  let reg: LabRegistry | undefined;
  let child: ChildProcess | undefined;
  // One directory per serve process: every thread (main, inflate workers) writes its own file there,
  // and phases.json gives the phases in the profiles' clock (CLOCK_MONOTONIC µs, as process.hrtime).
  const profDir = process.env.PUSHGATE_BENCH_PROFILE ? path.join(process.env.PUSHGATE_BENCH_PROFILE, `${side.name.split(' ')[0]}-${r + 1}`) : undefined;
  const mark = (): number => Number(process.hrtime.bigint() / 1000n);
  try {
    child = await serve(side, cfg, port, profDir);
    reg = startRegistry(regPort, { notifyUrl: `http://127.0.0.1:${port}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}` });
    skopeoCopy(`oci:${path.join(labImages(), 'debian-minbase')}:bookworm`, `127.0.0.1:${regPort}/lab/debian:bookworm`);
    const body = review(`127.0.0.1:${regPort}/lab/debian:bookworm`);
    const url = `https://127.0.0.1:${admPort}/admission/validate`;
    const t0 = Date.now();
    for (;;) {
      const res = await postReview(url, body, keys, side).catch((e: Error) => ({ allowed: false, status: { message: e.message } }));
      if (res.allowed) break;
      if (Date.now() - t0 > 120_000) throw new Error(`${side.name}: no verdict after 120 s: ${res.status?.message}`);
      await new Promise((s) => setTimeout(s, 250));
    }
    const cpu0 = cpuMs(child.pid);
    const t0us = mark();
    const adm = await autocannon({
      url,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      connections: 10,
      overallRate: RATE,
      duration: SECONDS,
      ...(side.clientCA ? { tlsOptions: { cert: fs.readFileSync(keys.clientCert, 'utf8'), key: fs.readFileSync(keys.clientKey, 'utf8') } } : {}),
    } as autocannon.Options);
    // Ingest of re-pushes names the image pushed above (its manifest exists; its scan is stored).
    let existing: { repository: string; digest: string } | undefined;
    if (INGEST === 'existing') {
      const head = await fetch(`http://127.0.0.1:${regPort}/v2/lab/debian/manifests/bookworm`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
      existing = { repository: 'lab/debian', digest: head.headers.get('docker-content-digest')! };
    }
    const cpu1 = cpuMs(child.pid);
    const t1us = mark();
    const ing = await autocannon({
      url: `http://127.0.0.1:${port}/webhooks/distribution`,
      method: 'POST',
      connections: 20,
      duration: SECONDS,
      requests: [{ setupRequest: (req) => ({ ...req, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' }, body: envelope(regPort, existing) }) }],
    });
    const cpu2 = cpuMs(child.pid);
    if (profDir) fs.mkdirSync(profDir, { recursive: true });
    if (profDir) fs.writeFileSync(path.join(profDir, 'phases.json'), JSON.stringify({ admission: [t0us, t1us], ingest: [t1us, mark()] }));
    return {
      p50: adm.latency.p50,
      p99: adm.latency.p99,
      admErrors: adm.errors + adm.timeouts + adm.non2xx,
      admCpu: (cpu1 - cpu0) / Math.max(1, adm['2xx']),
      ingest: ing['2xx'] / (ing.duration || SECONDS),
      ingestErrors: ing.errors + ing.timeouts + ing.non2xx,
      ingestCpu: (cpu2 - cpu1) / Math.max(1, ing['2xx']),
    };
  } finally {
    await stop(child);
    reg?.stop();
  }
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-ba-'));
  try {
    labImages();
    const sides = prepareSides(work);
    const keys = pki(work);
    const results = new Map<string, Figures[]>(sides.map((s) => [s.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const side of sides) {
        const f = await round(side, keys, work, r);
        results.get(side.name)!.push(f);
        console.log(
          `round ${r + 1} ${side.name.padEnd(14)} admission p50 ${f.p50.toFixed(2)} ms p99 ${f.p99.toFixed(2)} ms cpu ${f.admCpu.toFixed(3)} ms/review (errors ${f.admErrors})  ingest ${f.ingest.toFixed(0)} events/s cpu ${f.ingestCpu.toFixed(3)} ms/event (errors ${f.ingestErrors})`,
        );
      }
    }
    const med = (name: string, k: keyof Figures) => median(results.get(name)!.map((f) => f[k]));
    const [b, c] = sides.map((s) => s.name);
    console.log(`\nmedians of ${ROUNDS} rounds; admission at ${RATE} req/s for ${SECONDS} s (client certificate: base ${sides[0].clientCA}, current ${sides[1].clientCA}); ingest (${INGEST} manifests) at full speed, 20 connections`);
    for (const s of sides) {
      console.log(
        `${s.name.padEnd(14)} admission p50 ${med(s.name, 'p50').toFixed(2)} ms p99 ${med(s.name, 'p99').toFixed(2)} ms cpu ${med(s.name, 'admCpu').toFixed(3)} ms/review  ingest ${med(s.name, 'ingest').toFixed(0)} events/s cpu ${med(s.name, 'ingestCpu').toFixed(3)} ms/event`,
      );
    }
    const p99Ratio = med(c, 'p99') / med(b, 'p99');
    const ingRatio = med(c, 'ingest') / med(b, 'ingest');
    console.log(`admission p99 current/base ${p99Ratio.toFixed(2)}× (goal ≤ 1.10×): ${p99Ratio <= 1.1 ? 'met' : 'MISSED'}`);
    console.log(`ingest rate current/base ${ingRatio.toFixed(2)}× (goal ≥ 0.90×): ${ingRatio >= 0.9 ? 'met' : 'MISSED'}`);
    console.log(`cpu per review current/base ${(med(c, 'admCpu') / med(b, 'admCpu')).toFixed(2)}×, cpu per event current/base ${(med(c, 'ingestCpu') / med(b, 'ingestCpu')).toFixed(2)}×`);
  } finally {
    if (process.env.PUSHGATE_BENCH_KEEP === '1') console.log(`kept ${work}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
