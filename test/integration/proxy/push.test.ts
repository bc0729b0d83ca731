/**
 * The proxy in front of a real Distribution registry (Debian docker-registry), pushed through with
 * real skopeo. The gate is the GateApi test double (decision by repository, see gate-double.ts).
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry, labOci, labImages, type LabRegistry } from '../../helpers/lab.js';
import { startProxy } from '../../../src/proxy/proxy.js';
import { GateDouble } from '../../unit/proxy/gate-double.js';
import { proxyTestConfig } from '../../unit/proxy/config.js';
import { skopeoCopyAsync, tagsOf } from './helpers.js';

const REG_PORT = 18010;
const STRICT_PORT = 18060; // onTimeout reject, onError reject
const LENIENT_PORT = 18061; // onTimeout allow, onError allow
const FRESH_PORT = 18062; // strict, with an empty refused-child memory

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('proxy with a real registry and real skopeo', function () {
  this.timeout(180_000);
  let reg: LabRegistry;
  let gate: GateDouble;
  const proxies: Array<{ port: number; close(): Promise<void> }> = [];
  let strict: string;
  let lenient: string;
  let fresh: string;
  let tmp: string;

  before(async () => {
    labImages();
    reg = startRegistry(REG_PORT);
    gate = new GateDouble({ upstream: reg.url, delayMs: (repo) => (repo.startsWith('slow/') ? 2500 : 10) });
    const mk = async (port: number, onTimeout: 'allow' | 'reject', onError: 'allow' | 'reject'): Promise<string> => {
      const p = await startProxy({ gate, config: proxyTestConfig(reg.url, { listen: `127.0.0.1:${port}`, timeoutMs: 800, onTimeout, onError }) });
      proxies.push(p);
      return `127.0.0.1:${p.port}`;
    };
    strict = await mk(STRICT_PORT, 'reject', 'reject');
    lenient = await mk(LENIENT_PORT, 'allow', 'allow');
    fresh = await mk(FRESH_PORT, 'reject', 'reject');
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-proxy-it-'));
  });

  after(async () => {
    for (const p of proxies) await p.close();
    reg?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('lets a clean image through: it lands, is tagged, and pulls back through the proxy', async () => {
    const r = await skopeoCopyAsync(labOci('debian-minbase', 'bookworm'), `${strict}/ok/base:1`);
    expect(r.code, r.stderr).to.equal(0);
    expect(await tagsOf(reg.url, 'ok/base')).to.deep.equal(['1']);
    const judged = gate.pending.filter((m) => m.repository === 'ok/base');
    expect(judged).to.have.length(1);
    expect(judged[0]!.tag).to.equal('1');
    const back = await skopeoCopyAsync(`docker://${strict}/ok/base:1`, `oci:${path.join(tmp, 'back')}:1`);
    expect(back.code, back.stderr).to.equal(0);
    // same manifest bytes as pushed: the proxy forwarded them unchanged
    const idx = JSON.parse(fs.readFileSync(path.join(tmp, 'back', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    expect(idx.manifests[0]!.digest).to.equal(sha256(judged[0]!.bytes));
    expect(gate.requests.some((q) => q.method === 'PUT' && q.code === 201)).to.equal(true);
    expect(gate.gateSeconds.length).to.be.greaterThan(0);
  });

  it("refuses a vulnerable image: skopeo prints pushgate's message and the tag never appears", async () => {
    const r = await skopeoCopyAsync(labOci('adm-zip', '0.4.7'), `${strict}/bad/app:1`);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(/denied: pushgate refused bad\/app:1 \(quarantine\); rules fixable-high-vulns; worst: NSWG-NPM-458 adm-zip 0\.4\.7 \(high, fixed in 0\.4\.9\)/);
    expect(r.stderr).to.match(/report: http:\/\/127\.0\.0\.1:8080\/api\/v1\/images\/sha256:[0-9a-f]{64}/);
    expect(await tagsOf(reg.url, 'bad/app')).to.not.include('1');
    expect(gate.blocked).to.deep.include({ registry: 'lab', repository: 'bad/app', rule: 'fixable-high-vulns', mode: 'sync' });
    // The audit names the rules as verdict records do (`reasons`), so the console counts the refused push.
    const audit = gate.audits.find((a) => a.action === 'proxy.refuse' && a.repository === 'bad/app' && a.tag === '1');
    expect(audit?.detail?.reasons).to.deep.equal(['fixable-high-vulns']);
  });

  it('refuses an image with secrets, quoting the rule and its reason', async () => {
    const r = await skopeoCopyAsync(labOci('node-app', 'vuln'), `${strict}/secret/app:1`);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.include('pushgate refused secret/app:1 (reject); rules secrets; private key in /root/.ssh/id_rsa');
    expect(await tagsOf(reg.url, 'secret/app')).to.deep.equal([]);
  });

  it('refuses a multi-arch push whose arm64 child is refused, naming the platform; the allowed child stays pullable by digest', async () => {
    const r = await skopeoCopyAsync(labOci('multiarch', '1.0'), `${strict}/mixed/m:1`, { all: true });
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.include('for linux/arm64/v8 (reject); rules secrets');
    expect(await tagsOf(reg.url, 'mixed/m')).to.deep.equal([]);
    expect(gate.audits.filter((a) => a.action === 'proxy.refuse' && a.repository === 'mixed/m').map((a) => a.detail?.reasons)).to.deep.include(['secrets']);

    // The index itself, PUT by a client that carries on after a refused child: refused, naming the platform.
    // The lab images are rebuilt with debootstrap (not reproducible): take the digests from the layout.
    const layoutIndex = JSON.parse(fs.readFileSync(path.join(labImages(), 'multiarch', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const indexBytes = fs.readFileSync(path.join(labImages(), 'multiarch', 'blobs', 'sha256', layoutIndex.manifests[0]!.digest.slice(7)));
    const index = JSON.parse(indexBytes.toString()) as { manifests: Array<{ digest: string; platform: { architecture: string } }> };
    const amd64 = index.manifests.find((m) => m.platform.architecture === 'amd64')!.digest;
    const arm64 = index.manifests.find((m) => m.platform.architecture === 'arm64')!.digest;
    const head = await fetch(`${reg.url}/v2/mixed/m/manifests/${amd64}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect(head.status).to.equal(200);
    for (const proxy of [strict, fresh]) {
      // `fresh` never saw the child's refusal: it learns it from the gate's stored verdict
      const put = await fetch(`http://${proxy}/v2/mixed/m/manifests/1`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' }, body: indexBytes });
      expect(put.status).to.equal(403);
      const body = (await put.json()) as { errors: Array<{ code: string; message: string }> };
      expect(body.errors[0]!.code).to.equal('DENIED');
      expect(body.errors[0]!.message).to.match(new RegExp(`^pushgate refused index mixed/m:1: platform linux/arm64/v8 \\(${arm64.slice(0, 19)}, rules secrets\\) refused`));
    }
    expect(await tagsOf(reg.url, 'mixed/m')).to.deep.equal([]);
  });

  it('lets a warn verdict through with a Warning header, and an audit-mode reject through', async () => {
    const w = await skopeoCopyAsync(labOci('debian-minbase', 'bookworm'), `${strict}/warn/base:1`);
    expect(w.code, w.stderr).to.equal(0);
    expect(await tagsOf(reg.url, 'warn/base')).to.deep.equal(['1']);
    const bytes = gate.pending.find((m) => m.repository === 'warn/base')!.bytes;
    const put = await fetch(`http://${strict}/v2/warn/base/manifests/2`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: bytes });
    expect(put.status).to.equal(201);
    expect(put.headers.get('warning')).to.match(/^299 pushgate "pushgate warns: runs-as-root: the image runs as root/);
    expect(put.headers.get('docker-content-digest')).to.equal(sha256(bytes));
    expect(put.headers.get('location')).to.equal(`/v2/warn/base/manifests/${sha256(bytes)}`);

    const a = await skopeoCopyAsync(labOci('node-app', 'vuln'), `${strict}/audit/app:1`);
    expect(a.code, a.stderr).to.equal(0);
    expect(await tagsOf(reg.url, 'audit/app')).to.deep.equal(['1']);
  });

  it('ends a scan past proxy.timeout as configured: reject says retry, allow forwards and queues the scan', async () => {
    const t0 = Date.now();
    const r = await skopeoCopyAsync(labOci('debian-minbase', 'bookworm'), `${strict}/slow/app:1`);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(/denied: pushgate: the scan of slow\/app:1 did not finish in time \(0\.8s\); it goes on: retry the push/);
    expect(Date.now() - t0).to.be.lessThan(30_000);
    expect(await tagsOf(reg.url, 'slow/app')).to.deep.equal([]);
    expect(gate.blocked).to.deep.include({ registry: 'lab', repository: 'slow/app', rule: 'scan-timeout', mode: 'sync' });

    const ok = await skopeoCopyAsync(labOci('debian-minbase', 'bookworm'), `${lenient}/slow/app:2`);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(await tagsOf(reg.url, 'slow/app')).to.deep.equal(['2']);
    expect(gate.enqueued).to.deep.include({ registry: 'lab', repository: 'slow/app', digest: sha256(gate.pending.find((m) => m.tag === '2')!.bytes), tag: '2', source: 'proxy' });
  });

  it('follows proxy.onError when the gate cannot decide', async () => {
    const r = await skopeoCopyAsync(labOci('debian-minbase', 'bookworm'), `${strict}/err/app:1`);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.include('denied: pushgate could not check err/app:1 (registry');
    expect(r.stderr).to.include("retry, or ask the registry's administrators");
    expect(await tagsOf(reg.url, 'err/app')).to.deep.equal([]);
    const ok = await skopeoCopyAsync(labOci('debian-minbase', 'bookworm'), `${lenient}/err/app:2`);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(await tagsOf(reg.url, 'err/app')).to.deep.equal(['2']);
    expect(gate.audits.some((a) => a.action === 'proxy.error-allow' && a.tag === '2')).to.equal(true);
  });

  it('passes a cross-repository mount, Range, HEAD and a chunked PATCH upload through unchanged', async () => {
    const manifest = JSON.parse(gate.pending.find((m) => m.repository === 'ok/base')!.bytes.toString()) as { layers: Array<{ digest: string; size: number }> };
    const layer = manifest.layers[0]!;
    // cross-repository mount
    const mount = await fetch(`http://${strict}/v2/ok/other/blobs/uploads/?mount=${layer.digest}&from=ok/base`, { method: 'POST' });
    expect(mount.status).to.equal(201);
    expect(mount.headers.get('location')).to.equal(`/v2/ok/other/blobs/${layer.digest}`);
    // a copy between repositories through the proxy (skopeo mounts the blobs it knows)
    const copy = await skopeoCopyAsync(`docker://${strict}/ok/base:1`, `${strict}/ok/copy:1`);
    expect(copy.code, copy.stderr).to.equal(0);
    expect(await tagsOf(reg.url, 'ok/copy')).to.deep.equal(['1']);
    // HEAD and Range
    const head = await fetch(`http://${strict}/v2/ok/base/blobs/${layer.digest}`, { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(Number(head.headers.get('content-length'))).to.equal(layer.size);
    const direct = Buffer.from(await (await fetch(`${reg.url}/v2/ok/base/blobs/${layer.digest}`, { headers: { range: 'bytes=100-1123' } })).arrayBuffer());
    const ranged = await fetch(`http://${strict}/v2/ok/base/blobs/${layer.digest}`, { headers: { range: 'bytes=100-1123' } });
    expect(ranged.status).to.equal(206);
    expect(ranged.headers.get('content-range')).to.equal(`bytes 100-1123/${layer.size}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(direct)).to.equal(true);
    expect(direct.length).to.equal(1024);
    // chunked upload: POST, two PATCHes with Content-Range, PUT ?digest=
    const blob = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 31 + (i >> 10)) & 0xff;
    const digest = sha256(blob);
    const start = await fetch(`http://${strict}/v2/ok/chunked/blobs/uploads/`, { method: 'POST' });
    expect(start.status).to.equal(202);
    // Locations come back relative: the client resolves them against the proxy it talks to
    let loc = new URL(start.headers.get('location')!, `http://${strict}`).href;
    expect(start.headers.get('location')!.startsWith('/v2/ok/chunked/blobs/uploads/')).to.equal(true);
    const cut = 2 * 1024 * 1024;
    for (const [from, to] of [[0, cut], [cut, blob.length]] as const) {
      const p = await fetch(loc, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream', 'content-range': `${from}-${to - 1}` }, body: blob.subarray(from, to) });
      expect(p.status).to.equal(202);
      expect(p.headers.get('range')).to.equal(`0-${to - 1}`);
      expect(p.headers.get('location')!.startsWith('/v2/ok/chunked/blobs/uploads/')).to.equal(true);
      loc = new URL(p.headers.get('location')!, `http://${strict}`).href;
    }
    const done = await fetch(`${loc}${loc.includes('?') ? '&' : '?'}digest=${digest}`, { method: 'PUT' });
    expect(done.status).to.equal(201);
    const back = Buffer.from(await (await fetch(`${reg.url}/v2/ok/chunked/blobs/${digest}`)).arrayBuffer());
    expect(back.equals(blob)).to.equal(true);
  });

  it('answers 413 for a manifest over the limit and DIGEST_INVALID for bytes that do not match the digest', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 0x20);
    const r = await fetch(`http://${strict}/v2/ok/base/manifests/huge`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: big });
    expect(r.status).to.equal(413);
    const body = (await r.json()) as { errors: Array<{ code: string; message: string }> };
    expect(body.errors[0]!.message).to.include('scan.maxManifestBytes');
    const wrong = await fetch(`http://${strict}/v2/ok/base/manifests/sha256:${'0'.repeat(64)}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: '{"schemaVersion":2}' });
    expect(wrong.status).to.equal(400);
    expect(((await wrong.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).to.equal('DIGEST_INVALID');
    expect(await tagsOf(reg.url, 'ok/base')).to.deep.equal(['1']);
    // still serving
    expect((await fetch(`http://${strict}/v2/`)).status).to.equal(200);
  });
});
