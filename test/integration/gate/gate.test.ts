/**
 * The gate end to end with real components: a real Distribution 2.8 registry (Debian
 * docker-registry) whose notifications go to a real `pushgate serve` (in-process, real HTTP on
 * loopback), real skopeo pushes of images built from Debian packages, the offline OSV fixtures.
 */
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../../src/config/types.js';
import type { Verdict } from '../../../src/core/index.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, metricValue, silentLogger as silent } from '../../helpers/gate.js';
import { labImages, ROOT, skopeoCopy, startRegistry, type LabRegistry } from '../../helpers/lab.js';

const REG_PORT = 16010;
const REG2_PORT = 16011;
const TOKEN = 'lab-webhook-token-0123456789';
const TOKEN2 = 'lab2-webhook-token-9876543210';
const API = 'api-token-abcdef';
const JWT_SECRET = 'gate-test-jwt-secret-0123456789abcdef';


async function tags(reg: LabRegistry, repo: string): Promise<string[]> {
  const r = await fetch(`${reg.url}/v2/${repo}/tags/list`);
  if (r.status === 404) return [];
  const body = (await r.json()) as { tags: string[] | null };
  return body.tags ?? [];
}

describe('gate: pushes to a real Distribution registry are judged and enforced', function () {
  this.timeout(240_000);
  let images: string;
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let reg2: LabRegistry;
  let base: string;

  async function verdict(ref: string, timeoutMs = 60_000): Promise<Verdict> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await fetch(`${base}/api/v1/verdicts?image=${encodeURIComponent(ref)}`, { headers: { authorization: `Bearer ${API}` } });
      if (r.status === 200) {
        const v = (await r.json()) as Verdict;
        if (v.enforcement) return v;
      }
      if (Date.now() > deadline) throw new Error(`no verdict for ${ref} after ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricValue(await (await fetch(`${base}/metrics`)).text(), name, labels);
  }

  before(async () => {
    images = labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-gate-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN), labRegistryConfig('lab2', REG2_PORT, TOKEN2)]);
    config.api.tokens = [API];
    config.api.jwt = { secret: JWT_SECRET };
    srv = await startServer(config, silent);
    base = `http://127.0.0.1:${srv.port}`;
    reg = startRegistry(REG_PORT, { notifyUrl: `${base}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}` });
    reg2 = startRegistry(REG2_PORT); // no notifications: events for it are posted by the test
  });

  after(async () => {
    reg?.stop();
    reg2?.stop();
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('debian-minbase → warn (runs as root); the tag stays', async () => {
    skopeoCopy(`oci:${images}/debian-minbase:bookworm`, `${reg.host}/lab/debian:bookworm`);
    const v = await verdict(`${reg.host}/lab/debian:bookworm`);
    expect(v.decision).to.equal('warn');
    expect(v.complete).to.equal(true);
    expect(v.reasons.map((r) => r.rule).join(' ')).to.match(/root/);
    expect(v.enforcement?.status).to.equal('skipped');
    expect(await tags(reg, 'lab/debian')).to.deep.equal(['bookworm']);
  });

  it('the scans API: POST queues a scan of a tag, GET tells queued or done with the verdict', async () => {
    // a scan is enforced as a push: the admin role (a viewer's static token is refused)
    const viewer = { authorization: `Bearer ${API}`, 'content-type': 'application/json' };
    expect((await fetch(`${base}/api/v1/scans`, { method: 'POST', headers: viewer, body: JSON.stringify({ image: `${reg.host}/lab/debian:bookworm` }) })).status).to.equal(403);
    const headers = { authorization: `Bearer ${jwt.sign({ sub: 'ops', role: 'admin' }, JWT_SECRET, { algorithm: 'HS256', expiresIn: '5m' })}`, 'content-type': 'application/json' };
    const r = await fetch(`${base}/api/v1/scans`, { method: 'POST', headers, body: JSON.stringify({ image: `${reg.host}/lab/debian:bookworm` }) });
    expect(r.status).to.equal(202);
    const { id } = (await r.json()) as { id: string };
    const deadline = Date.now() + 60_000;
    let s: { status: string; verdict?: Verdict };
    do {
      s = (await (await fetch(`${base}/api/v1/scans/${id}`, { headers })).json()) as typeof s;
      if (s.status === 'done') break;
      await new Promise((res) => setTimeout(res, 100));
    } while (Date.now() < deadline);
    expect(s.status).to.equal('done');
    expect(s.verdict?.decision).to.equal('warn');
    expect((await fetch(`${base}/api/v1/scans/not-a-scan`, { headers })).status).to.equal(404);
    const other = await fetch(`${base}/api/v1/scans`, { method: 'POST', headers, body: JSON.stringify({ image: 'registry.elsewhere.test/x/y:1' }) });
    expect(other.status).to.equal(403);
  });

  it('node-app:vuln → reject (private key, AWS key); the tag is deleted', async () => {
    skopeoCopy(`oci:${images}/node-app:vuln`, `${reg.host}/lab/node-app:vuln`);
    const v = await verdict(`${reg.host}/lab/node-app:vuln`);
    expect(v.decision).to.equal('reject');
    const msgs = v.reasons.map((r) => `${r.rule} ${r.message} ${(r.findings ?? []).join(' ')}`).join('\n');
    expect(msgs).to.match(/private/i);
    expect(msgs).to.match(/aws/i);
    expect(v.enforcement).to.include({ action: 'delete', status: 'done' });
    expect(await tags(reg, 'lab/node-app')).to.deep.equal([]);
    const text = await (await fetch(`${base}/api/v1/images/${v.digest}`, { headers: { authorization: `Bearer ${API}` } })).text();
    const report = JSON.parse(text) as { findings: Array<{ id: string }>; secrets: Array<{ redacted: string }> };
    expect(report.findings.map((f) => f.id)).to.include('NSWG-NPM-516');
    expect(report.secrets.length).to.be.greaterThan(1);
    // The secret values themselves never reach a report: read them from the layer and look for them.
    const idx = JSON.parse(fs.readFileSync(path.join(images, 'node-app', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const man = JSON.parse(fs.readFileSync(path.join(images, 'node-app', 'blobs', 'sha256', idx.manifests[0].digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
    const appLayer = path.join(images, 'node-app', 'blobs', 'sha256', man.layers[man.layers.length - 1].digest.slice(7));
    const env = execFileSync('tar', ['-xzOf', appLayer, 'app/.env'], { encoding: 'utf8' });
    const key = execFileSync('tar', ['-xzOf', appLayer, 'app/.ssh/id_rsa'], { encoding: 'utf8' });
    const values = [...env.matchAll(/^AWS_(?:ACCESS_KEY_ID|SECRET_ACCESS_KEY)=(.+)$/gm)].map((m) => m[1]);
    expect(values).to.have.length(2);
    for (const v of [...values, key.split('\n')[1]]) expect(text.includes(v), 'secret value in report').to.equal(false);
  });

  it('adm-zip 0.4.7 → quarantine: copied to quarantine/, original deleted', async () => {
    skopeoCopy(`oci:${images}/adm-zip:0.4.7`, `${reg.host}/lab/adm-zip:0.4.7`);
    const v = await verdict(`${reg.host}/lab/adm-zip:0.4.7`);
    expect(v.decision).to.equal('quarantine');
    expect(v.reasons.flatMap((r) => r.findings ?? [])).to.include('NSWG-NPM-458');
    expect(v.enforcement).to.include({ action: 'quarantine', status: 'done' });
    expect(await tags(reg, 'lab/adm-zip')).to.deep.equal([]);
    expect(await tags(reg, 'quarantine/lab/adm-zip')).to.deep.equal(['0.4.7']);
  });

  it('a multi-arch index → the worst of its children; every child gets a verdict', async () => {
    skopeoCopy(`oci:${images}/multiarch:1.0`, `${reg.host}/lab/multiarch:1.0`, { all: true });
    const v = await verdict(`${reg.host}/lab/multiarch:1.0`);
    // The children (pushed by digest first) are rejected and deleted at their own events; an index read
    // after that finds them gone: incomplete, so onIncomplete (quarantine) rather than reject.
    expect(v.decision).to.be.oneOf(['reject', 'quarantine']);
    const index = JSON.parse(fs.readFileSync(path.join(images, 'multiarch', 'blobs', 'sha256', v.digest.slice(7)), 'utf8')) as { manifests: Array<{ digest: string }> };
    expect(index.manifests).to.have.length(2);
    for (const m of index.manifests) {
      const child = await srv.store.getVerdict('lab', 'lab/multiarch', m.digest);
      expect(child?.decision, m.digest).to.equal('reject');
    }
    expect(await tags(reg, 'lab/multiarch')).to.deep.equal([]);
  });

  it('a re-push of a blocked digest is enforced again without a rescan; pulls never trigger scans', async () => {
    const scansBefore = await metric('pushgate_scans_total');
    const completeBefore = await metric('pushgate_scans_total', { result: 'complete' });
    const blockedBefore = await metric('pushgate_blocked_pushes_total', { repository: 'lab/node-app', mode: 'async' });
    skopeoCopy(`oci:${images}/node-app:vuln`, `${reg.host}/lab/node-app:again`);
    const deadline = Date.now() + 60_000;
    while ((await tags(reg, 'lab/node-app')).includes('again') || (await metric('pushgate_blocked_pushes_total', { repository: 'lab/node-app', mode: 'async' })) === blockedBefore) {
      if (Date.now() > deadline) throw new Error('re-push was not enforced');
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await tags(reg, 'lab/node-app')).to.deep.equal([]);
    // One blocked push is one count, however many steps its enforcement took.
    expect(await metric('pushgate_blocked_pushes_total', { repository: 'lab/node-app', mode: 'async' })).to.equal(blockedBefore + 1);
    expect(await metric('pushgate_scans_total', { result: 'complete' })).to.equal(completeBefore);
    expect(await metric('pushgate_scans_total')).to.equal(scansBefore + 1); // one cached reuse, no new scan
    // pushgate's own GET/HEAD requests made the registry emit pull events: dropped, counted, never scanned.
    expect(await metric('pushgate_events_dropped_total', { reason: 'pull' })).to.be.greaterThan(0);
  });

  it('bad input: 401 for a wrong token; an unreadable envelope from the registry is 202 and recorded as lost (a 4xx would stall its queue); the server keeps serving', async () => {
    const post = (body: string, token?: string) =>
      fetch(`${base}/webhooks/distribution`, { method: 'POST', headers: { 'content-type': 'application/vnd.docker.distribution.events.v1+json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });
    expect((await post('{"events":[]}')).status).to.equal(401);
    expect((await post('{"events":[]}', 'wrong-token')).status).to.equal(401);
    expect((await post('not json', TOKEN)).status).to.equal(202);
    expect((await post('{"no":"events"}', TOKEN)).status).to.equal(202);
    expect((await srv.store.listAudit(10, { action: 'events-lost' })).map((a) => a.detail?.reason)).to.include.members(['not-json', 'not-an-envelope']);
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
  });

  it('an authenticated event is judged whatever host its target.url names (the token names the registry)', async () => {
    skopeoCopy(`oci:${images}/adm-zip:0.4.7`, `${reg2.host}/lab/elsewhere:0.4.7`);
    const idx = JSON.parse(fs.readFileSync(path.join(images, 'adm-zip', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const digest = idx.manifests[0].digest;
    const ev = {
      events: [{ id: 'foreign-host-1', timestamp: new Date().toISOString(), action: 'push',
        target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 500, repository: 'lab/elsewhere', url: `http://registry.elsewhere.test:5000/v2/lab/elsewhere/manifests/${digest}`, tag: '0.4.7' },
        request: { id: 'r', method: 'PUT', useragent: 'pushgate/0.0.1', host: 'registry.elsewhere.test:5000' }, actor: {}, source: { addr: 'registry.elsewhere.test:5000' } }],
    };
    const r = await fetch(`${base}/webhooks/distribution`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN2}`, 'content-type': 'application/json' }, body: JSON.stringify(ev) });
    expect(r.status).to.equal(202);
    expect(((await r.json()) as { accepted: number }).accepted).to.equal(1);
    const v = await verdict(`${reg2.host}/lab/elsewhere@${digest}`);
    expect(v.registry).to.equal('lab2');
    expect(v.decision).to.equal('quarantine');
    expect(await tags(reg2, 'lab/elsewhere')).to.deep.equal([]);
    expect(await tags(reg2, 'quarantine/lab/elsewhere')).to.deep.equal(['0.4.7']);
  });

  it('a layer whose digest does not match → verdict incomplete, judged by onIncomplete (quarantine)', async () => {
    skopeoCopy(`oci:${images}/tar-noeof:1.0`, `${reg2.host}/lab/corrupt:1.0`);
    const idx = JSON.parse(fs.readFileSync(path.join(images, 'tar-noeof', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const mdigest = idx.manifests[0].digest;
    const manifest = JSON.parse(fs.readFileSync(path.join(images, 'tar-noeof', 'blobs', 'sha256', mdigest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
    const last = manifest.layers[manifest.layers.length - 1].digest.slice(7);
    const blob = path.join(reg2.storage, 'docker/registry/v2/blobs/sha256', last.slice(0, 2), last, 'data');
    const bytes = fs.readFileSync(blob);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    fs.writeFileSync(blob, bytes);
    const ev = {
      events: [{ id: 'corrupt-1', timestamp: new Date().toISOString(), action: 'push',
        target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: mdigest, size: 1000, repository: 'lab/corrupt', url: `http://${reg2.host}/v2/lab/corrupt/manifests/${mdigest}`, tag: '1.0' },
        request: { id: 'r', method: 'PUT', useragent: 'skopeo' }, actor: {}, source: { addr: reg2.host } }],
    };
    const r = await fetch(`${base}/webhooks/distribution`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN2}`, 'content-type': 'application/json' }, body: JSON.stringify(ev) });
    expect(r.status).to.equal(202);
    const v = await verdict(`${reg2.host}/lab/corrupt:1.0`);
    expect(v.complete).to.equal(false);
    expect(v.decision).to.equal('quarantine');
    const report = await srv.store.getReport(mdigest);
    expect(report?.diagnostics.map((d) => d.code).join(' ')).to.match(/digest/);
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
  });
});
