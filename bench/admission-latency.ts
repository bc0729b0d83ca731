/**
 * Admission latency benchmark: the path a cluster runs, measured against a bare handler in the same run.
 *
 * Real components only: a CNCF Distribution registry (Debian docker-registry) holding lab images pushed
 * with skopeo; the real Gate (src/gate/gate.ts) with its real registry client, the vulnerability
 * database built from the OSV fixtures and the default policy, judging those images (`gate.assess`), so
 * the verdicts are the gate's own; the real store, once SQLite and once PostgreSQL (127.0.0.1:5432, a
 * fresh database); the real admission listener (startAdmissionListener) over HTTPS requiring a client
 * certificate that chains to `admission.clientCA` with an allowed name, as kube-apiserver presents.
 *
 * Under load (autocannon at a fixed rate, its load generator in a worker thread, 10 keep-alive
 * connections presenting the client certificate): (1) a bare express handler on the same TLS setup
 * (same server certificate, same client-certificate requirement) that parses the same body and answers
 * a fixed AdmissionReview; (2) pushgate's /admission/validate with the SQLite store; (3) the same with
 * the PostgreSQL store. The review is a Deployment of three images: two of the lab registry by tag
 * (tag → digest cache warm; the verdict is read from the store on every review, as in production) and
 * one of an unguarded registry. Goals: p99 within 2× of the bare handler and under 5 ms at the rate,
 * no errors. Then the cost of a cache miss: the same cache resolving a tag with a manifest HEAD against
 * the registry, median of 200.
 *
 * Signature rules: two more SQLite stacks, one whose policy requires a cosign signature by a key for the
 * guarded repositories (policy `spec.signatures`) and one without, both judging a Deployment of three
 * guarded images, each signed with that key (legacy `.sig` tag pushed to the registry in cosign's
 * format); verdicts, tags and signature checks cached after the first review, as in production. Goal:
 * p99 with signature rules within 1.2× of the same stack without them, under the same load, in the
 * same run.
 *
 * Usage: PUSHGATE_LAB_IMAGES=/work/lab-images npx tsx bench/admission-latency.ts [rate=1000] [seconds=10]
 * Ports: 127.0.0.1:22400 (registry), 22401 (admission, SQLite), 22402 (admission, PostgreSQL), 22403 (bare),
 * 22404 (SQLite, 3 images, no signature rules), 22405 (SQLite, 3 signed images, signature rules).
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import express from 'express';
import { createDigestCache, type DigestCache } from '../src/admission/digest-cache.js';
import { validateReview, type AdmissionDeps } from '../src/admission/review.js';
import type { PushgateConfig } from '../src/config/types.js';
import { Gate } from '../src/gate/gate.js';
import { blocks } from '../src/gate/verdict-view.js';
import { compilePolicy, defaultPolicy, type CompiledPolicy } from '../src/policy/index.js';
import { legacySignatureManifest, signLegacy } from '../test/helpers/cosign.js';
import { Raw } from '../test/helpers/raw-push.js';
import { startAdmissionListener, type AdmissionListener } from '../src/server/admission-listener.js';
import { openStore, type Store } from '../src/store/index.js';
import { updateDb } from '../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../test/helpers/gate.js';
import { ROOT, labOci, skopeoCopy, startRegistry } from '../test/helpers/lab.js';
import { freshDatabase } from '../test/helpers/postgres.js';

const rate = Number(process.argv[2] ?? 1000);
const seconds = Number(process.argv[3] ?? 10);
const REG_PORT = 22400;
const ADM_SQLITE_PORT = 22401;
const ADM_PG_PORT = 22402;
const BARE_PORT = 22403;
const UNSIGNED_PORT = 22404;
const SIGNED_PORT = 22405;
const CLIENT_CN = 'kube-apiserver-webhook-client';
const REGISTRY = 'lab';

/**
 * The two guarded images of the review, and the lab image pushed as each: debian-minbase, which the
 * default policy admits (warn: runs as root), so every review runs the whole decision and is allowed,
 * the common case. (Judged separately per repository; a rejected image, e.g. zstd with its planted
 * secrets, measures the deny path, which also builds the message.)
 */
const IMAGES = [
  { repository: 'team/app', tag: '1.4.2', source: labOci('debian-minbase', 'bookworm') },
  { repository: 'team/app-migrations', tag: '1.4.2', source: labOci('debian-minbase', 'bookworm') },
];

// The fixture's guarded images name registry.example.test; here they name the lab registry.
const body = fs
  .readFileSync(path.join(ROOT, 'test/fixtures/admission/admissionreview-deployment-create.json'), 'utf8')
  .replaceAll('registry.example.test/', `127.0.0.1:${REG_PORT}/`);

interface Identity { cert: Buffer; key: Buffer }

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Server pair (tls.crt/tls.key, SAN IP:127.0.0.1), a client CA (ca.crt) and a client certificate it signed (clientAuth, as kube-apiserver's). */
function makeCertificates(dir: string): Identity {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=pushgate.pushgate.svc', '-addext', 'subjectAltName=DNS:pushgate.pushgate.svc,IP:127.0.0.1', '-keyout', 'tls.key', '-out', 'tls.crt']);
  openssl(dir, ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=apiserver-client-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-keyout', 'ca.key', '-out', 'ca.crt']);
  fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  openssl(dir, ['req', ...ec, '-subj', `/CN=${CLIENT_CN}`, '-keyout', 'client.key', '-out', 'client.csr']);
  openssl(dir, ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'client.ext', '-out', 'client.crt']);
  return { cert: fs.readFileSync(path.join(dir, 'client.crt')), key: fs.readFileSync(path.join(dir, 'client.key')) };
}

function load(port: number, client: Identity, duration: number, review = body): Promise<autocannon.Result> {
  return autocannon({
    url: `https://127.0.0.1:${port}/admission/validate?timeout=10s`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: review,
    connections: 10,
    overallRate: rate,
    duration,
    tlsOptions: { cert: client.cert, key: client.key },
    // The load generator runs in a worker thread, so it does not share the servers' event loop.
    workers: 1,
  });
}

function summary(name: string, r: autocannon.Result): string {
  return `${name.padEnd(30)} req/s ${r.requests.average.toFixed(0).padStart(6)}  p50 ${r.latency.p50.toFixed(2)} ms  p99 ${r.latency.p99.toFixed(2)} ms  max ${r.latency.max.toFixed(2)} ms  errors ${r.errors + r.timeouts}  non-2xx ${r.non2xx}`;
}

/** One pushgate admission stack: a store, the Gate over it, the listener, and the deps the listener uses. */
interface Stack {
  name: string;
  store: Store;
  gate: Gate;
  deps: AdmissionDeps & { digestCache: DigestCache };
  listener: AdmissionListener;
  /** Registry requests the gate's client made (its `registryRequest` counter hook). */
  registryRequests: { n: number };
}

async function startStack(name: string, config: PushgateConfig, storeUrl: string, port: number, dir: string, policy: CompiledPolicy = defaultPolicy(), images = IMAGES): Promise<Stack> {
  const store = await openStore(storeUrl);
  const registryRequests = { n: 0 };
  const gate = new Gate({ config, store, policy, logger: silentLogger, counters: { registryRequest: () => void registryRequests.n++ } });
  // The gate judges the pushed images: scan, advisories, policy; the verdicts land in this store.
  for (const img of images) {
    const digest = (await gate.client(REGISTRY).resolve(img.repository, img.tag))?.digest;
    if (!digest) throw new Error(`${img.repository}:${img.tag} is not in the lab registry`);
    const v = await gate.assess({ registry: REGISTRY, repository: img.repository, digest, tag: img.tag, source: 'api' });
    console.log(`${name}: verdict for ${img.repository}:${img.tag} (${digest.slice(0, 19)}…): ${v.decision}${v.reasons.length ? ` (${v.reasons.map((r) => r.rule).join(', ')})` : ''}, complete ${v.complete}`);
  }
  const deps = { gate, config: config.admission, digestCache: createDigestCache(gate, config.admission.digestCacheTtlMs) };
  const listener = await startAdmissionListener(deps, {
    listen: `127.0.0.1:${port}`,
    cert: path.join(dir, 'tls.crt'),
    key: path.join(dir, 'tls.key'),
    clientCA: path.join(dir, 'ca.crt'),
    clientNames: [CLIENT_CN],
  });
  return { name, store, gate, deps, listener, registryRequests };
}

/** What a review of `body` should answer, from the stored verdicts: allowed iff every guarded image has a complete verdict whose view for its tag does not block. */
async function expectedAllowed(s: Stack): Promise<boolean> {
  for (const img of IMAGES) {
    const digest = await s.deps.digestCache.resolve(REGISTRY, img.repository, img.tag);
    const v = digest ? await s.gate.verdict(REGISTRY, img.repository, digest) : undefined;
    if (!v || !v.complete || blocks(s.gate.viewFor(v, img.tag))) return false;
  }
  return true;
}

/** In-process cost of one decision: JSON.parse + validateReview vs JSON.parse alone, same body, µs. */
async function inProcess(s: Stack): Promise<string> {
  const N = 5_000;
  for (let i = 0; i < 500; i++) await validateReview(JSON.parse(body), s.deps);
  let t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) JSON.parse(body);
  const parseUs = Number(process.hrtime.bigint() - t) / 1e3 / N;
  t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await validateReview(JSON.parse(body), s.deps);
  const reviewUs = Number(process.hrtime.bigint() - t) / 1e3 / N;
  return `in process (${s.name}): JSON.parse ${parseUs.toFixed(1)} µs, JSON.parse + validateReview (tag cached, verdict from the store) ${reviewUs.toFixed(1)} µs, ratio ${(reviewUs / parseUs).toFixed(2)}`;
}

function post(port: number, client: Identity, data: string): Promise<{ status: number; body: { response?: { allowed?: boolean; status?: { message?: string } } } }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: '/admission/validate?timeout=10s', method: 'POST', agent: false, rejectUnauthorized: false, cert: client.cert, key: client.key, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) });
          } catch (e) {
            reject(e as Error);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Rejects unless a connection without a client certificate is refused (the measured listener authenticates). */
async function expectRefusedWithoutCertificate(port: number): Promise<void> {
  const answered = await post(port, { cert: Buffer.alloc(0), key: Buffer.alloc(0) }, body).then(
    () => true,
    () => false,
  );
  if (answered) throw new Error(`the listener on ${port} answered a caller without a client certificate; the benchmark must measure the authenticated path`);
}

/** The images of the signature-rule comparison: the two above and a third repository, all signed. */
const SIGNED_IMAGES = [...IMAGES, { repository: 'team/app-worker', tag: '1.4.2', source: labOci('debian-minbase', 'bookworm') }];

function deploymentOf(images: string[]): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'bench-signed', kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' }, namespace: 'team-a', operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:deployment-controller' },
      object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'team-a' }, spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) } } } },
    },
  });
}

/**
 * Signature rules against none, same run, same load: three signed images, one key, checks cached.
 * @returns whether the goal (p99 ratio ≤ 1.2, no errors, every review allowed) holds.
 */
async function signatureRules(dir: string, config: PushgateConfig, host: string, client: Identity): Promise<boolean> {
  const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const raw = new Raw(host);
  const pushes: Array<{ repository: string; digest: string }> = [];
  for (const img of SIGNED_IMAGES) {
    if (!(await raw.served(img.repository, img.tag))) skopeoCopy(img.source, `${host}/${img.repository}:${img.tag}`);
    const m = await raw.getManifest(img.repository, img.tag);
    const digest = `sha256:${crypto.createHash('sha256').update(m!.bytes).digest('hex')}`;
    const sig = legacySignatureManifest([signLegacy(key.privateKey, `${host}/${img.repository}`, digest)]);
    await raw.pushBlobs(img.repository, sig.blobs);
    const r = await raw.putManifest(img.repository, `${digest.replace(':', '-')}.sig`, sig);
    if (r.status !== 201) throw new Error(`signature push: ${r.status} ${r.body}`);
    pushes.push({ repository: img.repository, digest });
  }
  const pemKey = String(key.publicKey.export({ type: 'spki', format: 'pem' })).trim().split('\n').map((l) => `            ${l}`).join('\n');
  const rules = compilePolicy(
    `apiVersion: pushgate.dev/v1\nkind: Policy\nmetadata: { name: s }\nspec:\n  ruleSets: { default: { rules: [] } }\n  signatures:\n    - name: team-signed\n      repository: "team/**"\n      authorities:\n        - name: release\n          key: |\n${pemKey}\n`,
    '<bench>',
  ).signatures;
  const base = defaultPolicy();
  const signedPolicy: CompiledPolicy = { ...base, signatures: rules, revision: `${base.revision}-signed` };
  const stacks: Stack[] = [];
  const stores: Array<() => Promise<void>> = [];
  try {
    for (const [name, policy, port] of [['SQLite, no signature rules', base, UNSIGNED_PORT], ['SQLite, signature rules', signedPolicy, SIGNED_PORT]] as const) {
      const url = `sqlite:${path.join(dir, `sig-${port}.db`)}`;
      const s = await startStack(name, config, url, port, dir, policy, SIGNED_IMAGES);
      stores.push(async () => {
        await s.listener.close();
        await s.gate.stop();
        await s.store.close();
      });
      stacks.push(s);
    }
    const review = deploymentOf(SIGNED_IMAGES.map((i) => `${host}/${i.repository}:${i.tag}`));
    for (const s of stacks) {
      const probe = await post(s.listener.port, client, review);
      if (probe.body.response?.allowed !== true) throw new Error(`${s.name}: expected the signed deployment to be admitted: ${JSON.stringify(probe.body)}`);
    }
    // The rule must bite: the same image in a repository without its signature is denied by the signature stack.
    skopeoCopy(SIGNED_IMAGES[0].source, `${host}/team/unsigned:1`);
    const digest = (await stacks[1].gate.client(REGISTRY).resolve('team/unsigned', '1'))!.digest;
    await stacks[1].gate.assess({ registry: REGISTRY, repository: 'team/unsigned', digest, tag: '1', source: 'api' });
    const denied = await post(stacks[1].listener.port, client, deploymentOf([`${host}/team/unsigned:1`]));
    if (denied.body.response?.allowed !== false || !/signature rule team-signed: unsigned/.test(denied.body.response.status?.message ?? '')) {
      throw new Error(`signature stack did not deny an unsigned image: ${JSON.stringify(denied.body)}`);
    }
    console.log(`signature stack denies an unsigned image: ${denied.body.response.status?.message?.slice(0, 160)}…`);
    for (const s of stacks) await load(s.listener.port, client, 2, review);
    // Three rounds in alternating order (A B, B A, A B), so drift in the machine's load hits both sides;
    // the goal is judged on the median of the per-round p99 ratios.
    const ROUNDS = 3;
    const slice = Math.max(3, Math.round(seconds / ROUNDS));
    console.log(`signature rules at ${rate} req/s, ${ROUNDS} rounds of ${slice} s each per stack, alternating: deployment with 3 guarded images by tag, each signed (legacy .sig, ECDSA P-256 key); verdicts, tags and signature checks cached`);
    const ratios: number[] = [];
    let clean = true;
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? stacks : [...stacks].reverse();
      const got = new Map<Stack, autocannon.Result>();
      for (const s of order) {
        const before = s.registryRequests.n;
        const r = await load(s.listener.port, client, slice, review);
        got.set(s, r);
        console.log(`round ${round + 1}: ${summary(s.name, r)}  registry requests during load: ${s.registryRequests.n - before}`);
        clean &&= r.errors + r.timeouts + r.non2xx === 0;
      }
      ratios.push(got.get(stacks[1])!.latency.p99 / Math.max(got.get(stacks[0])!.latency.p99, 0.001));
    }
    const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)];
    console.log(`p99 ratio with/without signature rules per round: ${ratios.map((r) => r.toFixed(2)).join(', ')}; median ${median.toFixed(2)} (goal ≤ 1.2); signed images ${pushes.length}`);
    // The same decision in process, per call, without HTTP and the load generator: what the rules add to a
    // review, measured in alternating blocks so both sides share the machine's state.
    const calls: [number[], number[]] = [[], []];
    for (let i = 0; i < 300; i++) for (const s of stacks) await validateReview(JSON.parse(review), s.deps);
    for (let block = 0; block < 20; block++) {
      for (const [k, s] of (block % 2 === 0 ? [0, 1] : [1, 0]).map((k) => [k, stacks[k]] as const)) {
        for (let i = 0; i < 200; i++) {
          const t = process.hrtime.bigint();
          await validateReview(JSON.parse(review), s.deps);
          calls[k].push(Number(process.hrtime.bigint() - t) / 1e3);
        }
      }
    }
    const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))];
    const inRatio = pct(calls[1], 0.99) / pct(calls[0], 0.99);
    console.log(`in process, ${calls[0].length} reviews each: without rules p50 ${pct(calls[0], 0.5).toFixed(0)} µs p99 ${pct(calls[0], 0.99).toFixed(0)} µs; with rules p50 ${pct(calls[1], 0.5).toFixed(0)} µs p99 ${pct(calls[1], 0.99).toFixed(0)} µs; p99 ratio ${inRatio.toFixed(2)} (goal ≤ 1.2)`);
    const met = median <= 1.2 && clean;
    console.log(`signature rules goal ${met ? 'MET' : 'NOT MET'}`);
    return met;
  } finally {
    for (const c of stores) await c().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bench-adm-'));
  const cleanup: Array<() => unknown> = [() => fs.rmSync(dir, { recursive: true, force: true })];
  try {
    const client = makeCertificates(dir);
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });

    const reg = startRegistry(REG_PORT);
    cleanup.unshift(() => reg.stop());
    for (const img of IMAGES) skopeoCopy(img.source, `${reg.host}/${img.repository}:${img.tag}`);

    const config = labGateConfig(dir, [labRegistryConfig(REGISTRY, REG_PORT, 'bench-token-0123456789abcdef')]);
    config.admission = { ...config.admission, namespaces: [{ match: '*', unknown: 'deny' }], unguarded: 'allow', digestCacheTtlMs: 10 * 60_000 };

    const pgdb = await freshDatabase('pushgate_bench_adm');
    cleanup.unshift(() => pgdb.drop());
    const stacks: Stack[] = [];
    for (const [name, url, port] of [['SQLite', config.store.url, ADM_SQLITE_PORT], ['PostgreSQL', pgdb.url, ADM_PG_PORT]] as const) {
      const s = await startStack(name, config, url, port, dir);
      cleanup.unshift(async () => {
        await s.listener.close();
        await s.gate.stop();
        await s.store.close();
      });
      stacks.push(s);
    }

    // Bare express handler, same TLS: server pair, client certificate required from the same CA.
    const app = express();
    app.use(express.json({ limit: '8mb' }));
    app.post('/admission/validate', (req, res) => {
      res.json({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: req.body.request.uid, allowed: true } });
    });
    const bare = https.createServer({ cert: fs.readFileSync(path.join(dir, 'tls.crt')), key: fs.readFileSync(path.join(dir, 'tls.key')), ca: fs.readFileSync(path.join(dir, 'ca.crt')), requestCert: true, rejectUnauthorized: true }, app);
    await new Promise<void>((r) => bare.listen(BARE_PORT, '127.0.0.1', r));
    cleanup.unshift(() => new Promise<void>((r) => {
      bare.close(() => r());
      bare.closeAllConnections();
    }));

    // Sanity: every measured server refuses a caller without a certificate; pushgate answers what its verdicts say.
    for (const port of [BARE_PORT, ...stacks.map((s) => s.listener.port)]) await expectRefusedWithoutCertificate(port);
    for (const s of stacks) {
      const probe = await post(s.listener.port, client, body);
      const want = await expectedAllowed(s);
      if (probe.status !== 200 || probe.body.response?.allowed !== want) throw new Error(`${s.name}: expected allowed=${want}, got HTTP ${probe.status} ${JSON.stringify(probe.body)}`);
      console.log(`${s.name}: review answered allowed=${probe.body.response?.allowed}${probe.body.response?.status?.message ? ` (${probe.body.response.status.message})` : ''}`);
    }

    for (const s of stacks) console.log(await inProcess(s));

    // Warm-up, then each under the same load, one after the other.
    for (const port of [BARE_PORT, ...stacks.map((s) => s.listener.port)]) await load(port, client, 2);
    const base = await load(BARE_PORT, client, seconds);
    const results: Array<{ s: Stack; r: autocannon.Result; registryRequests: number }> = [];
    for (const s of stacks) {
      const before = s.registryRequests.n;
      const r = await load(s.listener.port, client, seconds);
      results.push({ s, r, registryRequests: s.registryRequests.n - before });
    }
    console.log(`admission at ${rate} req/s for ${seconds} s, deployment with 3 images (2 guarded by tag, cached; verdicts read from the store), HTTPS loopback with client certificate (clientCA + clientNames)`);
    console.log(summary('bare express handler', base));
    for (const { s, r } of results) console.log(summary(`pushgate validate (${s.name})`, r));
    let ok = base.errors + base.timeouts + base.non2xx === 0;
    for (const { s, r, registryRequests } of results) {
      const ratio = r.latency.p99 / Math.max(base.latency.p99, 0.001);
      console.log(`p99 ratio pushgate/bare (${s.name}): ${ratio.toFixed(2)} (goal ≤ 2)  p99 ${r.latency.p99.toFixed(2)} ms (goal < 5)  registry requests during load: ${registryRequests}`);
      ok &&= ratio <= 2 && r.latency.p99 < 5 && r.errors + r.timeouts + r.non2xx === 0;
    }
    console.log(ok ? 'GOALS MET' : 'GOALS NOT MET');

    ok = (await signatureRules(dir, config, reg.host, client)) && ok;
    console.log(ok ? 'ALL GOALS MET' : 'GOALS NOT MET');

    // Cache miss: tag → digest with a manifest HEAD against the registry, through the real gate's client.
    const cache = createDigestCache(stacks[0].gate, 60_000);
    const miss: number[] = [];
    const hit: number[] = [];
    for (let i = 0; i < 200; i++) {
      cache.clear();
      let t = process.hrtime.bigint();
      await cache.resolve(REGISTRY, IMAGES[0].repository, IMAGES[0].tag);
      miss.push(Number(process.hrtime.bigint() - t) / 1e6);
      t = process.hrtime.bigint();
      await cache.resolve(REGISTRY, IMAGES[0].repository, IMAGES[0].tag);
      hit.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)];
    console.log(`tag resolution (local Distribution 2.8, HTTP): cache miss median ${med(miss).toFixed(2)} ms p99 ${p99(miss).toFixed(2)} ms; cache hit median ${(med(hit) * 1000).toFixed(1)} µs; miss/hit ${(med(miss) / med(hit)).toFixed(0)}×`);
  } finally {
    for (const c of cleanup) {
      try {
        await c();
      } catch (e) {
        console.error(`cleanup: ${(e as Error).message}`);
      }
    }
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
