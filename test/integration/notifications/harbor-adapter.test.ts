/**
 * Harbor's Pluggable Scanner Adapter API v1.1 served by a real `pushgate serve` (in-process, real
 * HTTP on loopback) scanning a lab image in a real Distribution 2.8 registry with htpasswd auth.
 * Harbor itself cannot run here: the requests are the spec payload (test/fixtures/notifications,
 * from ../shared/payloads) pointed at the lab registry, sent the way Harbor's client sends them
 * (pkg/scan/rest/v1: no redirect following, Refresh-After read on 302).
 *
 * pushgate is configured with no credentials for the registry: only the scan request's
 * short-lived credential can read it, so a report proves the credential was used, and a wrong one
 * proves nothing else was.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig } from '../../../src/config/load.js';
import type { PushgateConfig } from '../../../src/config/types.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { labImages, ROOT, skopeoCopy, startRegistry, type LabRegistry } from '../../helpers/lab.js';

const REG_PORT = 16100;
const ADAPTER_TOKEN = 'harbor-adapter-token-0123456789';
const REPORT_11 = 'application/vnd.security.vulnerability.report; version=1.1';
const REPORT_10 = 'application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0';
const ERROR_TYPE = 'application/vnd.scanner.adapter.error+json; version=1.0';
const FIX = path.join(ROOT, 'test/fixtures/notifications');

type ScanRequest = { registry: { url: string; authorization?: string; insecure?: boolean }; artifact: { repository: string; digest: string; tag?: string; mime_type: string; size?: number } };

describe('harbor scanner adapter API v1.1 against a real registry (Harbor cannot run here: spec payloads)', function () {
  this.timeout(120_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let base: string;
  let digest: string;
  const logged: string[] = [];
  const logger = {
    debug: (o: object, m?: string) => logged.push(JSON.stringify(o) + (m ?? '')),
    info: (o: object, m?: string) => logged.push(JSON.stringify(o) + (m ?? '')),
    warn: (o: object, m?: string) => logged.push(JSON.stringify(o) + (m ?? '')),
    error: (o: object, m?: string) => logged.push(JSON.stringify(o) + (m ?? '')),
  };
  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

  function scanRequest(over: { url?: string; authorization?: string; digest?: string } = {}): ScanRequest {
    const r = JSON.parse(fs.readFileSync(path.join(FIX, 'scanner-adapter-scan-request.json'), 'utf8')) as ScanRequest;
    r.registry.url = over.url ?? reg.url;
    r.registry.authorization = over.authorization ?? basic('lab', 'labpass');
    r.artifact.digest = over.digest ?? digest;
    return r;
  }

  const adapter = (p: string, init: RequestInit = {}, auth: Record<string, string> = { authorization: `Bearer ${ADAPTER_TOKEN}` }) =>
    fetch(`${base}/harbor-adapter/api/v1${p}`, { redirect: 'manual', ...init, headers: { ...auth, ...(init.headers as Record<string, string> | undefined) } });

  const postScan = (body: unknown) =>
    adapter('/scan', {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.scanner.adapter.scan.request+json; version=1.0', accept: 'application/vnd.scanner.adapter.scan.response+json; version=1.0' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  async function poll(id: string, accept: string): Promise<Response> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await adapter(`/scan/${id}/report`, { headers: { accept } });
      if (r.status !== 302) return r;
      expect(Number(r.headers.get('refresh-after'))).to.be.within(1, 127);
      if (Date.now() > deadline) throw new Error('report not ready after 60 s');
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  before(async () => {
    const images = labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-harbor-adapter-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    reg = startRegistry(REG_PORT, { auth: 'htpasswd' });
    skopeoCopy(`oci:${images}/node-app:vuln`, `${reg.host}/team/app:1.4.2`, { creds: 'lab:labpass' });
    const idx = JSON.parse(fs.readFileSync(path.join(images, 'node-app', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    digest = idx.manifests[0].digest;
    const config: PushgateConfig = defaultConfig();
    config.server.listen = '127.0.0.1:0';
    config.store.url = `sqlite:${path.join(dir, 'pushgate.db')}`;
    config.vulndb.path = path.join(dir, 'vulndb.sqlite');
    config.harborAdapter = { tokens: [ADAPTER_TOKEN, 'harbor:basic-secret'] };
    // No auth: pushgate itself cannot read this registry.
    config.registries = [{ name: 'harbor', url: reg.url, type: 'distribution', insecure: false, webhook: {}, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 4, timeoutMs: 10_000 }];
    srv = await startServer(config, logger);
    base = `http://127.0.0.1:${srv.port}`;
  });

  after(async () => {
    reg?.stop();
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('metadata: its own credential (Bearer, Basic, X-ScannerAdapter-API-Key); capabilities Harbor accepts', async () => {
    const none = await adapter('/metadata', {}, {});
    expect(none.status).to.equal(401);
    expect(none.headers.get('content-type')).to.equal(ERROR_TYPE);
    expect(((await none.json()) as { error: { message: string } }).error.message).to.match(/credential/);
    expect((await adapter('/metadata', {}, { authorization: 'Bearer wrong' })).status).to.equal(401);
    // The webhook token or a registry password is not the adapter's credential.
    expect((await adapter('/metadata', {}, { authorization: basic('lab', 'labpass') })).status).to.equal(401);
    const auths: Array<Record<string, string>> = [{ authorization: `Bearer ${ADAPTER_TOKEN}` }, { authorization: basic('harbor', 'basic-secret') }, { 'x-scanneradapter-api-key': ADAPTER_TOKEN }];
    for (const auth of auths) {
      const r = await adapter('/metadata', { headers: { accept: 'application/vnd.scanner.adapter.metadata+json; version=1.0' } }, auth);
      expect(r.status, JSON.stringify(Object.keys(auth))).to.equal(200);
      expect(r.headers.get('content-type')).to.equal('application/vnd.scanner.adapter.metadata+json; version=1.0');
      const m = (await r.json()) as { scanner: Record<string, string>; capabilities: Array<{ consumes_mime_types: string[]; produces_mime_types: string[] }>; properties: Record<string, string> };
      expect(m.scanner.name && m.scanner.vendor && m.scanner.version).to.be.a('string').and.not.equal('');
      // Harbor refuses metadata unless every capability consumes Docker v2 manifests and produces a report type it knows.
      for (const c of m.capabilities) {
        expect(c.consumes_mime_types).to.include('application/vnd.docker.distribution.manifest.v2+json');
        expect(c.produces_mime_types).to.include.members([REPORT_10, REPORT_11]);
      }
      expect(Date.parse(m.properties['harbor.scanner-adapter/vulnerability-database-updated-at'])).to.be.greaterThan(0);
    }
  });

  it('scan: 202 {id}, 302 with Refresh-After while running, then the 1.1 report of the lab image', async () => {
    const r = await postScan(scanRequest());
    expect(r.status).to.equal(202);
    expect(r.headers.get('content-type')).to.equal('application/vnd.scanner.adapter.scan.response+json; version=1.0');
    const { id } = (await r.json()) as { id: string };
    expect(id).to.be.a('string').and.not.equal('');
    const first = await adapter(`/scan/${id}/report`, { headers: { accept: REPORT_11 } });
    expect(first.status).to.equal(302);
    expect(first.headers.get('location')).to.equal(null);
    expect(first.headers.get('refresh-after')).to.match(/^\d+$/);
    const done = await poll(id, REPORT_11);
    expect(done.status).to.equal(200);
    expect(done.headers.get('content-type')).to.equal(REPORT_11);
    const report = (await done.json()) as Record<string, unknown> & { vulnerabilities: Array<Record<string, unknown>>; artifact: Record<string, unknown>; severity: string };
    // Same fields and types as the spec example.
    const example = JSON.parse(fs.readFileSync(path.join(FIX, 'scanner-adapter-report-1.1.json'), 'utf8')) as Record<string, unknown> & { vulnerabilities: Array<Record<string, unknown>> };
    for (const k of Object.keys(example)) expect(typeof report[k], k).to.equal(typeof example[k]);
    expect(Date.parse(report.generated_at as string)).to.be.greaterThan(0);
    expect(report.artifact).to.include({ repository: 'team/app', digest, mime_type: 'application/vnd.oci.image.manifest.v1+json' });
    const lodash = report.vulnerabilities.find((v) => v.package === 'lodash');
    expect(lodash, JSON.stringify(report.vulnerabilities.map((v) => v.id))).to.not.equal(undefined);
    expect(lodash).to.include({ version: '4.17.15', severity: 'Medium' });
    for (const k of ['id', 'package', 'version', 'severity', 'links']) expect(typeof lodash![k], k).to.equal(typeof example.vulnerabilities[0][k]);
    expect(lodash!.vendor_attributes).to.be.an('object');
    expect(['Unknown', 'Negligible', 'Low', 'Medium', 'High', 'Critical']).to.include(report.severity);
    // The verdict is stored like any other (admission can use it).
    const v = await srv.store.getVerdict('harbor', 'team/app', digest);
    expect(v?.decision).to.equal('reject');
  });

  it('report types: 1.0 without the 1.1 fields (also the default without Accept), 400 for a type pushgate does not produce', async () => {
    const { id } = (await (await postScan(scanRequest())).json()) as { id: string };
    for (const accept of [REPORT_10, '']) {
      const r = await poll(id, accept);
      expect(r.status).to.equal(200);
      expect(r.headers.get('content-type')).to.equal(REPORT_10);
      const rep = (await r.json()) as { vulnerabilities: Array<Record<string, unknown>> };
      expect(rep.vulnerabilities.length).to.be.greaterThan(0);
      for (const v of rep.vulnerabilities) expect(v).to.not.have.any.keys('preferred_cvss', 'cwe_ids', 'vendor_attributes');
    }
    const raw = await adapter(`/scan/${id}/report`, { headers: { accept: 'application/vnd.scanner.adapter.vuln.report.raw' } });
    expect(raw.status).to.equal(400);
    expect(raw.headers.get('content-type')).to.equal(ERROR_TYPE);
  });

  it('refuses a registry.url pushgate does not guard (422, says why) and bad requests (400, 422), in the error format', async () => {
    const other = await postScan(scanRequest({ url: 'http://harbor-core.harbor.svc:8080' }));
    expect(other.status).to.equal(422);
    expect(other.headers.get('content-type')).to.equal(ERROR_TYPE);
    expect(((await other.json()) as { error: { message: string } }).error.message).to.match(/registries\[\]\.url/);
    expect((await postScan('{not json')).status).to.equal(400);
    expect((await postScan(scanRequest({ digest: 'sha256:nothex' }))).status).to.equal(422);
    expect((await postScan(scanRequest({ authorization: 'Digest abc' }))).status).to.equal(422);
    expect((await adapter('/scan/bm90LWFuLWlk/report')).status).to.equal(404);
  });

  it("uses the request's credential for that scan only: a wrong one fails (500), and it is never logged or stored", async () => {
    // A digest the store has no report for, so nothing cached answers.
    const images = labImages();
    skopeoCopy(`oci:${images}/debian-minbase:bookworm`, `${reg.host}/team/base:1`, { creds: 'lab:labpass' });
    const idx = JSON.parse(fs.readFileSync(path.join(images, 'debian-minbase', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const baseDigest = idx.manifests[0].digest;
    const wrong = scanRequest({ authorization: basic('lab', 'wrong-pass-4711'), digest: baseDigest });
    wrong.artifact.repository = 'team/base';
    const { id } = (await (await postScan(wrong)).json()) as { id: string };
    const r = await poll(id, REPORT_11);
    expect(r.status).to.equal(500);
    expect(r.headers.get('content-type')).to.equal(ERROR_TYPE);
    expect(((await r.json()) as { error: { message: string } }).error.message).to.match(/401|unauthori[sz]ed|credential/i);
    // The same artifact with the right credential succeeds: the request's credential is what reads the registry.
    const right = scanRequest({ digest: baseDigest });
    right.artifact.repository = 'team/base';
    const ok = await poll(((await (await postScan(right)).json()) as { id: string }).id, REPORT_11);
    expect(ok.status).to.equal(200);
    const secrets = ['labpass', 'wrong-pass-4711', Buffer.from('lab:labpass').toString('base64'), Buffer.from('lab:wrong-pass-4711').toString('base64')];
    const audit = JSON.stringify(await srv.store.listAudit(1000));
    const verdict = JSON.stringify(await srv.store.getVerdict('harbor', 'team/base', baseDigest));
    for (const s of secrets) {
      expect(logged.join('\n').includes(s), `log contains ${s}`).to.equal(false);
      expect(audit.includes(s)).to.equal(false);
      expect(verdict.includes(s)).to.equal(false);
    }
    expect(logged.join('\n')).to.match(/scan accepted/);
  });
});
