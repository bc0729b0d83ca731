/**
 * A manifest uploaded as a blob is not a way past the push proxy.
 *
 * Attacker: a pusher with push rights behind the proxy. Distribution 2.x looks a manifest up under the
 * repository's blob links too (registry.go `manifestLinkPathFns`, kept for 2.1.0's layout), so the
 * bytes of a violating image's manifest uploaded through the blob API (`POST …/blobs/uploads/`, then
 * `PATCH` chunks and `PUT ?digest=`, or a mount from a repository holding that blob) make
 * `<repo>@<digest>` pullable as that image. The proxy judged no manifest PUT, and the registry notifies
 * only a blob push (filtered out by the shipped notification config) or a mount.
 *
 * Real components: a Distribution 2.8 registry (Debian docker-registry) without notifications (what
 * slips past the proxy stays), the real `pushgate serve` with its proxy in front of it, the lab image
 * adm-zip 0.4.7 (blocked by the default policy: its skopeo push through the proxy is refused). The
 * control sends the same requests straight to the registry and pulls the image by digest. A fast-check
 * property generates upload shapes (one PUT, PATCH chunks cut anywhere, a mount), documents (the
 * manifest, respaced, as an index naming it, Docker schema 2 and 1 and minimal `{"schemaVersion":2}` shapes) and ordinary blobs
 * (tar bytes, JSON configs): no manifest is ever served under a blob link after the proxy answered,
 * and every ordinary blob lands (201) and stays.
 * Ports 22410-22411.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../src/config/types.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { updateDb } from '../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, metricValue, silentLogger } from '../helpers/gate.js';
import { labImages, ROOT, skopeoCopyAsync, startRegistry, type LabRegistry } from '../helpers/lab.js';
import { ACCEPT, OCI_INDEX, sha } from '../helpers/raw-push.js';

const REG_PORT = 22410;
const PROXY_PORT = 22411;

/** How the blob is put into the repository. */
type Upload = { kind: 'put' } | { kind: 'chunks'; cuts: number[] } | { kind: 'mount' };

describe('security: a manifest uploaded as a blob through the proxy is never served as a manifest', function () {
  this.timeout(300_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let proxy: string;
  let manifest: Buffer;
  let digest: string;
  let mediaType: string;

  /** Uploads `bytes` into `repo` at `base` (the proxy or the registry) the way `how` says. @returns the final status. */
  async function upload(base: string, repo: string, bytes: Buffer, how: Upload): Promise<{ status: number; body: string }> {
    const d = sha(bytes);
    if (how.kind === 'mount') {
      // The source holds the blob from before (pushed straight to the registry: another way in, or older data).
      await upload(reg.url, `src/${repo}`, bytes, { kind: 'put' });
      const r = await fetch(`${base}/v2/${repo}/blobs/uploads/?mount=${d}&from=src/${repo}`, { method: 'POST' });
      return { status: r.status, body: await r.text() };
    }
    const post = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await post.arrayBuffer();
    expect(post.status, `POST upload ${repo}`).to.equal(202);
    let loc = new URL(post.headers.get('location')!, base);
    let rest = bytes;
    if (how.kind === 'chunks') {
      let at = 0;
      for (const cut of [...new Set(how.cuts.map((c) => Math.min(c, bytes.length)))].sort((a, b) => a - b)) {
        if (cut <= at) continue;
        const chunk = bytes.subarray(at, cut);
        const p = await fetch(new URL(loc.pathname + loc.search, base), { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${at}-${cut - 1}` }, body: chunk });
        await p.arrayBuffer();
        expect(p.status, `PATCH ${at}-${cut - 1}`).to.equal(202);
        loc = new URL(p.headers.get('location')!, base);
        at = cut;
      }
      rest = bytes.subarray(at);
    }
    loc = new URL(loc.pathname + loc.search, base);
    loc.searchParams.set('digest', d);
    const put = await fetch(loc, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: rest });
    return { status: put.status, body: await put.text() };
  }

  /** The status of `GET /v2/<repo>/manifests/<digest>` straight from the registry, and whether it served these bytes. */
  async function servedManifest(repo: string, bytes: Buffer): Promise<boolean> {
    const r = await fetch(`${reg.url}/v2/${repo}/manifests/${sha(bytes)}`, { headers: { Accept: ACCEPT } });
    const got = Buffer.from(await r.arrayBuffer());
    return r.status === 200 && got.equals(bytes);
  }

  async function servedBlob(repo: string, bytes: Buffer): Promise<boolean> {
    const r = await fetch(`${reg.url}/v2/${repo}/blobs/${sha(bytes)}`);
    const got = Buffer.from(await r.arrayBuffer());
    return r.status === 200 && got.equals(bytes);
  }

  before(async () => {
    const images = labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-sec-blobman-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, 'sec-blobman-token-0123456789')]);
    config.proxy = { ...config.proxy, listen: `127.0.0.1:${PROXY_PORT}`, upstream: `http://127.0.0.1:${REG_PORT}`, timeoutMs: 120_000, onTimeout: 'reject', onError: 'reject' };
    srv = await startServer(config, silentLogger);
    reg = startRegistry(REG_PORT);
    proxy = `http://127.0.0.1:${PROXY_PORT}`;
    // The violating image through the proxy: refused at its manifest, its blobs land.
    const push = await skopeoCopyAsync(`oci:${images}/adm-zip:0.4.7`, `127.0.0.1:${PROXY_PORT}/lab/adm-zip:seed`);
    expect(push.code, 'the push of the violating image must be refused').to.not.equal(0);
    expect(push.stderr).to.match(/pushgate refused/);
    // Its manifest bytes, as any pusher has them (from the OCI layout it pushed).
    const ctl = await skopeoCopyAsync(`oci:${images}/adm-zip:0.4.7`, `${reg.host}/ctl/adm-zip:seed`);
    expect(ctl.code, ctl.stderr).to.equal(0);
    const m = await fetch(`${reg.url}/v2/ctl/adm-zip/manifests/seed`, { headers: { Accept: ACCEPT } });
    manifest = Buffer.from(await m.arrayBuffer());
    mediaType = m.headers.get('content-type')!;
    digest = sha(manifest);
    expect(await servedManifest('lab/adm-zip', manifest), 'the refused manifest is not in lab/adm-zip').to.equal(false);
  });

  after(async () => {
    reg?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('control: straight to the registry, the manifest uploaded as a blob (one PUT, chunks, a mount) is served by digest as the image', async () => {
    const ways: Upload[] = [{ kind: 'put' }, { kind: 'chunks', cuts: [7, 100] }, { kind: 'mount' }];
    for (const [i, how] of ways.entries()) {
      const repo = `ctl/direct${i}`;
      const r = await upload(reg.url, repo, manifest, how);
      expect(r.status, `${how.kind}: ${r.body}`).to.equal(201);
      expect(await servedManifest(repo, manifest), how.kind).to.equal(true);
    }
    // what a client pulls: the registry names it an image manifest of the violating image's layers
    const h = await fetch(`${reg.url}/v2/ctl/direct0/manifests/${digest}`, { headers: { Accept: ACCEPT } });
    expect(h.headers.get('content-type')).to.equal(mediaType);
    // and a client pulls it as the image (skopeo reads it by digest and copies it on) once its blobs
    // are there too, as they are in lab/adm-zip after the refused push
    const doc = JSON.parse(manifest.toString()) as { config: { digest: string }; layers: Array<{ digest: string }> };
    for (const b of [doc.config, ...doc.layers]) {
      const mnt = await fetch(`${reg.url}/v2/ctl/direct1/blobs/uploads/?mount=${b.digest}&from=ctl/adm-zip`, { method: 'POST' });
      expect(mnt.status).to.equal(201);
    }
    const pulled = await skopeoCopyAsync(`docker://${reg.host}/ctl/direct1@${digest}`, `${reg.host}/ctl/pulled:1`);
    expect(pulled.code, pulled.stderr).to.equal(0);
    expect(await servedManifest('ctl/pulled', manifest)).to.equal(true);
  });

  it('through the proxy: each way is refused (400 MANIFEST_INVALID), the blob link is removed, nothing is served; counted and audited', async () => {
    const before = metricValue(await srv.metrics.text(), 'pushgate_proxy_refused_paths_total', { reason: 'blob-manifest' });
    const ways: Upload[] = [{ kind: 'put' }, { kind: 'chunks', cuts: [7, 100] }, { kind: 'mount' }];
    for (const how of ways) {
      const r = await upload(proxy, 'lab/adm-zip', manifest, how);
      expect(r.status, `${how.kind}: ${r.body}`).to.equal(400);
      const err = (JSON.parse(r.body) as { errors: Array<{ code: string; message: string; detail: { reason: string } }> }).errors[0]!;
      expect(err.code).to.equal('MANIFEST_INVALID');
      expect(err.detail.reason).to.equal('blob-manifest');
      expect(err.message).to.match(/PUT \/v2\/lab\/adm-zip\/manifests\//);
      expect(await servedManifest('lab/adm-zip', manifest), how.kind).to.equal(false);
      expect(await servedBlob('lab/adm-zip', manifest), how.kind).to.equal(false);
    }
    expect(metricValue(await srv.metrics.text(), 'pushgate_proxy_refused_paths_total', { reason: 'blob-manifest' }) - before).to.equal(ways.length);
    const audit = await srv.store.listAudit(50, { repository: 'lab/adm-zip' });
    expect(audit.filter((a) => a.action === 'proxy.refuse' && a.digest === digest && (a.detail as { reason?: string }).reason === 'blob-manifest')).to.have.length(ways.length);
  });

  it('an ordinary image still pushes through the proxy: its config (a JSON blob) and layers land', async () => {
    const push = await skopeoCopyAsync(`oci:${labImages()}/debian-minbase:bookworm`, `127.0.0.1:${PROXY_PORT}/lab/clean:1`);
    expect(push.code, push.stderr).to.equal(0);
    const r = await fetch(`${reg.url}/v2/lab/clean/manifests/1`, { headers: { Accept: ACCEPT } });
    expect(r.status).to.equal(200);
  });

  it('property: after the proxy answers, no generated manifest document is served under a blob link; every ordinary blob lands and stays', async () => {
    const doc = fc.oneof(
      fc.constant({ label: 'manifest', bytes: () => manifest }),
      fc.constantFrom(' ', '\n', '\t', '\r\n  ').map((ws) => ({ label: 'respaced', bytes: () => Buffer.concat([Buffer.from(ws), manifest, Buffer.from(ws)]) })),
      // Go's decoder skips any amount of leading white space, past what the proxy reads of a blob too
      fc.integer({ min: 60 * 1024, max: 200 * 1024 }).map((n) => ({ label: `${n} spaces first`, bytes: () => Buffer.concat([Buffer.alloc(n, 0x20), manifest]) })),
      fc.constant({ label: 'index', bytes: () => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType, digest, size: manifest.length, platform: { architecture: 'amd64', os: 'linux' } }] })) }),
      fc.constantFrom('application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.oci.image.manifest.v1+json').map((t) => ({
        label: t,
        bytes: () => Buffer.from(JSON.stringify(t.includes('list') ? { schemaVersion: 2, mediaType: t, manifests: [] } : { schemaVersion: 2, mediaType: t, config: (JSON.parse(manifest.toString()) as { config: unknown }).config, layers: [] })),
      })),
      // Docker schema 1, which the registry serves too (as prettyjws) and older runtimes pull
      fc.string({ maxLength: 12 }).map((s) => ({ label: 'schema1', bytes: () => Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', tag: s.replace(/[^a-z]/g, '') || 'a', fsLayers: [], history: [] })) })),
      fc.string({ maxLength: 12 }).map((s) => ({ label: 'minimal', bytes: () => Buffer.from(JSON.stringify({ schemaVersion: 2, annotations: { n: s } })) })),
    );
    const ordinary = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 3000 }).filter((a) => a.find((b) => ![0x20, 0x09, 0x0a, 0x0d].includes(b)) !== 0x7b).map((a) => ({ label: 'bytes', bytes: () => Buffer.from(a) })),
      fc.string({ maxLength: 40 }).map((s) => ({ label: 'config', bytes: () => Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: { Env: [s] } })) })),
    );
    const how: fc.Arbitrary<Upload> = fc.oneof(
      fc.constant({ kind: 'put' as const }),
      fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 4 }).map((cuts) => ({ kind: 'chunks' as const, cuts })),
      fc.constant({ kind: 'mount' as const }),
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(doc.map((d) => ({ ...d, manifest: true })), ordinary.map((d) => ({ ...d, manifest: false }))), how, async (item, way) => {
        const repo = `prop/r${n++}`;
        const bytes = item.bytes();
        const r = await upload(proxy, repo, bytes, way);
        if (item.manifest) {
          expect(r.status, `${item.label} ${way.kind}: ${r.body}`).to.equal(400);
          expect(await servedManifest(repo, bytes), `${item.label} ${way.kind} served as a manifest`).to.equal(false);
        } else {
          expect(r.status, `${item.label} ${way.kind}: ${r.body}`).to.equal(201);
          expect(await servedBlob(repo, bytes), `${item.label} ${way.kind} blob`).to.equal(true);
        }
      }),
      { numRuns: 60 },
    );
  });
});
