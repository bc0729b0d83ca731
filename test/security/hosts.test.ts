/**
 * Host spellings and client-chosen headers never decide what is guarded (the "hosts" class of
 * issue-13's attacks), end to end: `pushgate serve` (in-process) with the shipped admission defaults
 * (`admission.unguarded: allow`, no namespace rules) and its real TLS admission listener, real
 * Distribution 2.8 registries notifying it, real skopeo pushes and real manifest PUTs sent with chosen
 * `Host`, `X-Forwarded-Host` and `User-Agent` headers. A recorder between the registries and pushgate
 * keeps every notification, so each variant also shows what the registry actually put in
 * `target.url` and `request.useragent`.
 *
 * Asserted end states: an image whose verdict failed, or that was never scanned, is denied by the
 * admission listener under every spelling of a guarded registry (case, default and zero-padded
 * ports, loopback names, aliases, Docker Hub forms), its quarantine copy too; a push whose
 * notification names a foreign host, no host, or pushgate's User-Agent is judged and its tag is not
 * pullable outside quarantine. Ports: 21200-21229.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../src/config/types.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { updateDb } from '../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../helpers/gate.js';
import { labImages, ROOT, skopeoCopyAsync, startRegistry, type LabRegistry } from '../helpers/lab.js';

const ADM_PORT = 21201;
const RECORDER_PORT = 21202;
const LAB_PORT = 21210;
const REL_PORT = 21211;
const UNGUARDED_PORT = 21229;
const LAB_TOKEN = 'hosts-lab-token-0123456789';
const REL_TOKEN = 'hosts-rel-token-0123456789';
const MISSING = `sha256:${'e'.repeat(64)}`;
const API_TOKEN = 'hosts-api-viewer-token';

interface Review { response: { uid: string; allowed: boolean; status?: { message?: string }; warnings?: string[] } }
interface Notification { events: Array<{ id: string; action: string; target: { repository?: string; tag?: string; digest?: string; url?: string }; request?: { useragent?: string; host?: string } }> }

function review(images: string[], uid: string): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'team-a', operation: 'CREATE',
      userInfo: { username: 'alice' }, dryRun: true,
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'team-a' }, spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) } } },
  };
}

/** The API server's client certificate (admission.clientCA signs it), set up in `before`. */
const apiserver: { cert?: Buffer; key?: Buffer } = {};

function admit(images: string[], uid: string): Promise<Review> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(review(images, uid)));
    const req = https.request({ host: '127.0.0.1', port: ADM_PORT, path: '/admission/validate', method: 'POST', rejectUnauthorized: false, cert: apiserver.cert, key: apiserver.key, headers: { 'content-type': 'application/json', 'content-length': data.length } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString('utf8')) as Review));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** One HTTP exchange with the registry on 127.0.0.1:`port`, with chosen headers (Host included). */
function exchange(port: number, method: string, p: string, headers: Record<string, string>, body?: Buffer | fs.ReadStream, length?: number): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string | number> = { ...headers };
    if (length !== undefined) h['content-length'] = length;
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers: h }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
    });
    req.on('error', reject);
    if (body instanceof fs.ReadStream) body.pipe(req);
    else req.end(body);
  });
}

/**
 * Pushes the lab OCI layout `image:tag` to `repository:tag` of the registry on `port` over the
 * distribution API, every request carrying `headers` (the registry builds the notification's
 * `target.url` from `Host`/`X-Forwarded-Host` and copies `User-Agent` into `request.useragent`).
 * Blobs are mounted from `mountFrom` when the registry has them there, else uploaded. The manifest
 * goes to `pushTag` (default: the lab tag).
 */
async function rawPush(port: number, image: string, tag: string, repository: string, headers: Record<string, string>, mountFrom: string, pushTag = tag): Promise<string> {
  const dir = path.join(labImages(), image);
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; mediaType: string; annotations?: Record<string, string> }> };
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag) ?? index.manifests[0];
  const blob = (d: string) => path.join(dir, 'blobs', ...d.split(':'));
  const manifest = fs.readFileSync(blob(desc.digest));
  const m = JSON.parse(manifest.toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
  for (const d of [m.config.digest, ...m.layers.map((l) => l.digest)]) {
    const mount = await exchange(port, 'POST', `/v2/${repository}/blobs/uploads/?mount=${d}&from=${mountFrom}`, headers, Buffer.alloc(0), 0);
    if (mount.status === 201) continue;
    expect(mount.status, mount.body).to.equal(202);
    const loc = new URL(String(mount.headers.location), `http://127.0.0.1:${port}`);
    loc.searchParams.set('digest', d);
    const size = fs.statSync(blob(d)).size;
    const put = await exchange(port, 'PUT', `${loc.pathname}${loc.search}`, { ...headers, 'content-type': 'application/octet-stream' }, fs.createReadStream(blob(d)), size);
    expect(put.status, put.body).to.equal(201);
  }
  const put = await exchange(port, 'PUT', `/v2/${repository}/manifests/${pushTag}`, { ...headers, 'content-type': desc.mediaType }, manifest, manifest.length);
  expect(put.status, put.body).to.equal(201);
  return desc.digest;
}

describe('security/hosts: no host spelling or client header decides what is guarded', function () {
  this.timeout(300_000);
  let dir: string;
  let srv: RunningServer;
  let lab: LabRegistry;
  let rel: LabRegistry;
  let recorder: http.Server;
  const notifications: Notification[] = [];
  const labHost = `127.0.0.1:${LAB_PORT}`;
  let failed: string; // digest of the adm-zip image (policy: quarantine)
  let allowed: string; // digest of debian-minbase (policy: warn)

  const waitFor = async <T>(what: string, get: () => Promise<T | undefined>, ms = 90_000): Promise<T> => {
    const until = Date.now() + ms;
    for (;;) {
      const v = await get();
      if (v !== undefined) return v;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const verdictOf = (registry: string, repository: string, digest: string) =>
    waitFor(`the verdict of ${registry}/${repository}@${digest}`, async () => {
      const v = await srv.store.getVerdict(registry, repository, digest);
      return v?.enforcement && v.enforcement.status !== 'failed' ? v : undefined;
    });
  const manifestStatus = async (port: number, repository: string, ref: string) =>
    (await fetch(`http://127.0.0.1:${port}/v2/${repository}/manifests/${ref}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).status;
  const recorded = (repository: string, tag: string) => notifications.flatMap((n) => n.events).find((e) => e.action === 'push' && e.target.repository === repository && e.target.tag === tag);

  before(async () => {
    const images = labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-hosts-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pushgate',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.crt')], { stdio: 'ignore' });
    // the API server authenticates to the admission listener with a client certificate of this CA
    const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore', cwd: dir });
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=hosts-test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=kube-apiserver', '-keyout', 'client.key', '-out', 'client.csr');
    ssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', 'client.crt');
    apiserver.cert = fs.readFileSync(path.join(dir, 'client.crt'));
    apiserver.key = fs.readFileSync(path.join(dir, 'client.key'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const config: PushgateConfig = labGateConfig(dir, [
      { ...labRegistryConfig('lab', LAB_PORT, LAB_TOKEN), aliases: ['registry.lab.test:21210', 'lab.example.test'] },
      labRegistryConfig('rel', REL_PORT, REL_TOKEN),
      // never contacted: references to them are by digest and the reviews are dry runs
      { ...labRegistryConfig('tls', 443, 'hosts-tls-token-0123456789'), url: 'https://registry.tls.test' },
      { ...labRegistryConfig('hub', 443, 'hosts-hub-token-0123456789'), url: 'https://registry-1.docker.io' },
    ]);
    config.api.tokens = [API_TOKEN];
    // the shipped admission defaults: unguarded images are allowed, never-scanned ones denied
    expect(config.admission.unguarded).to.equal('allow');
    config.admission = { ...config.admission, listen: `127.0.0.1:${ADM_PORT}`, tls: { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key') }, clientCA: path.join(dir, 'ca.crt') };
    srv = await startServer(config, silentLogger);
    // the recorder: keeps each notification, then hands it on unchanged (headers included)
    recorder = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        const fwd = http.request({ host: '127.0.0.1', port: srv.port, method: 'POST', path: '/webhooks/distribution', headers: { authorization: req.headers.authorization ?? '', 'content-type': req.headers['content-type'] ?? 'application/json' } }, (r) => {
          res.writeHead(r.statusCode ?? 502);
          r.pipe(res);
          // recorded once pushgate has answered it (own traffic is decided by then)
          r.on('end', () => {
            try {
              notifications.push(JSON.parse(body.toString('utf8')) as Notification);
            } catch {
              // not JSON: pushgate answered 400
            }
          });
        });
        fwd.on('error', () => res.writeHead(502).end());
        fwd.end(body);
      });
    });
    await new Promise<void>((r) => recorder.listen(RECORDER_PORT, '127.0.0.1', () => r()));
    const notifyUrl = `http://127.0.0.1:${RECORDER_PORT}/`;
    lab = startRegistry(LAB_PORT, { notifyUrl, notifyHeader: `Authorization: Bearer ${LAB_TOKEN}` });
    rel = startRegistry(REL_PORT, { notifyUrl, notifyHeader: `Authorization: Bearer ${REL_TOKEN}`, relativeUrls: true });
    const seeds: Array<[string, string]> = [['debian-minbase:bookworm', 'lab/base:bookworm'], ['adm-zip:0.4.7', 'lab/seed:0.4.7']];
    for (const [src, dst] of seeds) {
      const r = await skopeoCopyAsync(`oci:${images}/${src}`, `${labHost}/${dst}`);
      expect(r.code, r.stderr).to.equal(0);
    }
    allowed = (await waitFor('base tag', async () => (await srv.store.getVerdictByTag('lab', 'lab/base', 'bookworm')) ?? undefined)).digest;
    const seed = await waitFor('seed verdict', async () => (await srv.store.listVerdicts({ registry: 'lab', repository: 'lab/seed' }))[0]?.enforcement ? (await srv.store.listVerdicts({ registry: 'lab', repository: 'lab/seed' }))[0] : undefined);
    failed = seed.digest;
    expect(seed.decision).to.equal('quarantine');
    expect(seed.enforcement?.status, seed.enforcement?.detail).to.equal('done');
  });

  after(async () => {
    lab?.stop();
    rel?.stop();
    await new Promise<void>((r) => (recorder ? recorder.close(() => r()) : r()));
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('admission: every spelling of a guarded registry is guarded', () => {
    const labSpellings = [
      '127.0.0.1:21210', 'localhost:21210', 'LOCALHOST:21210', 'LocalHost:21210', '127.0.0.1:021210', '127.0.0.1:0000021210', 'localhost:021210',
      '127.0.0.2:21210', '127.255.0.1:21210', '[::1]:21210', '[0:0:0:0:0:0:0:1]:21210',
      // The IPv4-mapped form (dialled as IPv4 by Go and the kernel alike).
      '[::ffff:7f00:1]:21210',
      'registry.lab.test:21210', 'REGISTRY.LAB.TEST:21210', 'Registry.Lab.Test:021210', 'lab.example.test', 'lab.example.test:80', 'LAB.EXAMPLE.TEST:080',
    ];

    // inet_aton spellings of 127.0.0.1: glibc reads them as the address, Go's resolver (the runtimes')
    // as host names to look up, so which registry they pull from is not pushgate's to know.
    const shorthandSpellings = ['127.1:21210', '127.0.1:21210', '2130706433:21210', '0x7f.1:21210', '0x7f000001:21210', '0177.0.0.1:21210', '127.000.000.001:21210'];

    it('shorthand IPv4 spellings of a guarded address are refused with the address to write, for a failed, an allowed and an unscanned image', async () => {
      let i = 0;
      for (const host of shorthandSpellings) {
        for (const image of [`${host}/lab/seed@${failed}`, `${host}/lab/base@${allowed}`, `${host}/lab/never@${MISSING}`, `${host}/quarantine/lab/seed:0.4.7`]) {
          const r = await admit([image], `s-${i++}`);
          expect(r.response.allowed, image).to.equal(false);
          expect(r.response.status?.message, image).to.match(/invalid-reference/).and.to.include('write 127.0.0.1');
        }
      }
    });

    it('a failed image (verdict quarantine) is denied by digest under every spelling', async () => {
      let i = 0;
      for (const host of labSpellings) {
        const r = await admit([`${host}/lab/seed@${failed}`], `f-${i++}`);
        expect(r.response.allowed, host).to.equal(false);
        expect(r.response.status?.message, host).to.match(/quarantine/);
      }
    });

    it('its quarantine copy is denied by tag under every spelling (resolved through the configured url)', async () => {
      expect(await manifestStatus(LAB_PORT, 'quarantine/lab/seed', '0.4.7')).to.equal(200);
      let i = 0;
      for (const host of labSpellings) {
        const r = await admit([`${host}/quarantine/lab/seed:0.4.7`], `q-${i++}`);
        expect(r.response.allowed, host).to.equal(false);
      }
    });

    it('an unscanned image is denied under every spelling of every guarded registry: case, :443/:80, zero-padded port, aliases, Docker Hub forms', async () => {
      const spellings = [
        ...labSpellings.map((h) => `${h}/lab/never@${MISSING}`),
        ...['registry.tls.test', 'REGISTRY.TLS.TEST', 'registry.tls.test:443', 'Registry.TLS.test:0443'].map((h) => `${h}/team/app@${MISSING}`),
        ...['nginx', 'library/nginx', 'docker.io/library/nginx', 'index.docker.io/library/nginx'].map((r) => `${r}@${MISSING}`),
      ];
      let i = 0;
      for (const image of spellings) {
        const r = await admit([image], `u-${i++}`);
        expect(r.response.allowed, image).to.equal(false);
        expect(r.response.status?.message, image).to.match(/never scanned|no verdict|unknown/);
      }
      // Docker Hub host names the runtimes do not fold into docker.io (no library/ prefix, no docker.io
      // mirror applies): refused while Docker Hub's name is guarded, naming the spelling to write.
      for (const r of ['DOCKER.IO/library/nginx', 'registry-1.docker.io/library/nginx', 'registry-1.docker.io:443/library/nginx', 'Index.Docker.IO/library/nginx']) {
        const res = await admit([`${r}@${MISSING}`], `u-${i++}`);
        expect(res.response.allowed, r).to.equal(false);
        expect(res.response.status?.message, r).to.match(/invalid-reference/).and.to.include('write docker.io/library/nginx');
      }
    });

    it('references the runtime would refuse or read ambiguously are denied with the reason', async () => {
      const bad = [`registry.lab.test.:21210/lab/seed@${failed}`, `127.0.0.1:21210/Lab/Seed@${failed}`, ` 127.0.0.1:21210/lab/seed@${failed}`, `127.0.0.1:99999/lab/seed@${failed}`, `::1:21210/lab/seed@${failed}`];
      let i = 0;
      for (const image of bad) {
        const r = await admit([image], `b-${i++}`);
        expect(r.response.allowed, image).to.equal(false);
        expect(r.response.status?.message, image).to.match(/invalid-reference/);
      }
    });

    it('controls: the allowed image is admitted, another port or host is unguarded (shipped default: allow)', async () => {
      expect((await admit([`LOCALHOST:021210/lab/base@${allowed}`], 'c-1')).response.allowed).to.equal(true);
      for (const image of [`127.0.0.1:${UNGUARDED_PORT}/lab/seed@${failed}`, `registry.lab.test:21211/lab/seed@${failed}`, `lab.example.test:443/lab/seed@${failed}`, `registry.tls.test:80/team/app@${MISSING}`, `quay.io/library/nginx@${MISSING}`]) {
        expect((await admit([image], 'c-2')).response.allowed, image).to.equal(true);
      }
    });
  });

  it('admin API: GET /api/v1/verdicts?image=REF finds the verdict under every spelling, and none for another host', async () => {
    const get = (image: string) => fetch(`http://127.0.0.1:${srv.port}/api/v1/verdicts?image=${encodeURIComponent(image)}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    for (const host of ['127.0.0.1:21210', 'LOCALHOST:021210', '[::1]:21210', 'Registry.Lab.Test:21210', 'lab.example.test:80']) {
      const r = await get(`${host}/lab/seed@${failed}`);
      expect(r.status, host).to.equal(200);
      expect(((await r.json()) as { decision: string }).decision, host).to.equal('quarantine');
    }
    for (const image of [`127.0.0.1:${UNGUARDED_PORT}/lab/seed@${failed}`, `lab.example.test:443/lab/seed@${failed}`]) expect((await get(image)).status, image).to.equal(404);
    expect((await get(`registry.lab.test.:21210/lab/seed@${failed}`)).status, 'trailing dot: refused').to.equal(400);
  });

  describe('webhooks: an authenticated sender\'s events are judged whatever host or client they name', () => {
    const judged = async (port: number, registry: string, repository: string, tag: string, digest: string) => {
      const v = await verdictOf(registry, repository, digest);
      expect(v.decision).to.equal('quarantine');
      expect(v.enforcement?.status, v.enforcement?.detail).to.equal('done');
      expect(await manifestStatus(port, repository, tag), `${repository}:${tag} pullable`).to.equal(404);
      expect(await manifestStatus(port, `quarantine/${repository}`, tag), 'quarantine copy').to.equal(200);
    };

    it('a skopeo push to localhost:PORT (Host: localhost) is judged and quarantined', async () => {
      const r = await skopeoCopyAsync(`oci:${labImages()}/adm-zip:0.4.7`, `localhost:${LAB_PORT}/lab/w-localhost:0.4.7`);
      expect(r.code, r.stderr).to.equal(0);
      await judged(LAB_PORT, 'lab', 'lab/w-localhost', '0.4.7', failed);
      expect(recorded('lab/w-localhost', '0.4.7')?.target.url).to.match(/^http:\/\/localhost:21210\//);
    });

    it('manifest PUTs naming a foreign Host or X-Forwarded-Host are judged and quarantined', async () => {
      const variants: Array<[string, Record<string, string>, RegExp]> = [
        ['w-host', { host: 'registry.elsewhere.test' }, /^http:\/\/registry\.elsewhere\.test\//],
        ['w-host-port', { host: 'REGISTRY.ELSEWHERE.TEST:8443' }, /^http:\/\/REGISTRY\.ELSEWHERE\.TEST:8443\//i],
        ['w-xfh', { 'x-forwarded-host': 'evil.example.test', 'x-forwarded-proto': 'https' }, /^https:\/\/evil\.example\.test\//],
      ];
      for (const [repo, headers, url] of variants) {
        const digest = await rawPush(LAB_PORT, 'adm-zip', '0.4.7', `lab/${repo}`, { 'user-agent': 'curl/8.5.0', ...headers }, 'lab/seed');
        expect(digest).to.equal(failed);
        await judged(LAB_PORT, 'lab', `lab/${repo}`, '0.4.7', failed);
        expect(recorded(`lab/${repo}`, '0.4.7')?.target.url, repo).to.match(url);
      }
    });

    it('a manifest PUT with User-Agent pushgate/… is judged and quarantined (a header is no identity)', async () => {
      for (const [repo, ua] of [['w-ua', 'pushgate/0.1.0'], ['w-ua2', 'pushgate/ (own traffic)']]) {
        await rawPush(LAB_PORT, 'adm-zip', '0.4.7', `lab/${repo}`, { 'user-agent': ua }, 'lab/seed');
        await judged(LAB_PORT, 'lab', `lab/${repo}`, '0.4.7', failed);
        expect(recorded(`lab/${repo}`, '0.4.7')?.request?.useragent).to.equal(ua);
      }
    });

    it('a registry with http.relativeurls: true (no host in target.url) is judged and enforced', async () => {
      const r = await skopeoCopyAsync(`oci:${labImages()}/adm-zip:0.4.7`, `127.0.0.1:${REL_PORT}/team/rel:0.4.7`);
      expect(r.code, r.stderr).to.equal(0);
      await judged(REL_PORT, 'rel', 'team/rel', '0.4.7', failed);
      expect(recorded('team/rel', '0.4.7')?.target.url).to.match(/^\/v2\/team\/rel\/manifests\//);
    });

    it('what pushgate wrote itself (the restored tag of a blocked re-push) is its own traffic, from the store\'s memo', async () => {
      const r1 = await skopeoCopyAsync(`oci:${labImages()}/debian-minbase:bookworm`, `${labHost}/lab/restore:1`);
      expect(r1.code, r1.stderr).to.equal(0);
      await verdictOf('lab', 'lab/restore', allowed);
      // a blocked re-push of tag 1: quarantined, and tag 1 restored by pushgate to the allowed digest
      await rawPush(LAB_PORT, 'adm-zip', '0.4.7', 'lab/restore', { 'user-agent': 'curl/8.5.0' }, 'lab/seed', '1');
      const digestOf1 = async () => (await fetch(`http://${labHost}/v2/lab/restore/manifests/1`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).headers.get('docker-content-digest');
      await waitFor('tag 1 restored', async () => ((await digestOf1()) === allowed && (await srv.store.getVerdict('lab', 'lab/restore', failed))?.enforcement ? true : undefined));
      // the restore's notification (pushgate's own PUT of tag 1 → allowed) consumed the memo: the
      // store says which event did, and no other event can use it any more
      const restoreEvent = await waitFor('the restore notification', async () =>
        notifications.flatMap((n) => n.events).filter((e) => e.action === 'push' && e.target.repository === 'lab/restore' && e.target.tag === '1' && e.target.digest === allowed)[1]);
      const key = { registry: 'lab', repository: 'lab/restore', digest: allowed as `sha256:${string}`, tag: '1' };
      expect(await srv.store.consumeOwnWrite(key, 'someone-else', Date.now()), 'memo still open').to.equal(false);
      expect(await srv.store.consumeOwnWrite(key, restoreEvent.id, Date.now()), 'consumed by the restore notification').to.equal(true);
      expect(await digestOf1()).to.equal(allowed);
      expect(await manifestStatus(LAB_PORT, 'lab/restore', failed)).to.equal(404);
    });
  });
});
