import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { ROOT } from '../../helpers/lab.js';
import { startAdmissionListener, deadlineFromQuery, type AdmissionListener } from '../../../src/server/admission-listener.js';
import { createDigestCache } from '../../../src/admission/digest-cache.js';
import { FakeGate, admissionConfig, dg, verdict } from './fake-gate.js';

/** A self-signed certificate for `cn` with SAN localhost/127.0.0.1, written to dir (real openssl). */
function makeCert(dir: string, cn: string): { cert: string; key: string } {
  const cert = path.join(dir, `${cn}.crt`);
  const key = path.join(dir, `${cn}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

interface Reply { status: number; body: string; cn: string; headers: Record<string, unknown> }

function post(port: number, p: string, body: string | Buffer, opts: { method?: string; ctype?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: p, method: opts.method ?? 'POST', rejectUnauthorized: false, agent: false,
        headers: { 'content-type': opts.ctype ?? 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const cn = String((res.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), cn, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('server/admission-listener', function () {
  this.timeout(20_000);
  let dir: string;
  let listener: AdmissionListener;
  let gate: FakeGate;
  let certFile: string;
  let keyFile: string;
  const reloads: Array<Error | undefined> = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-adm-'));
    const a = makeCert(dir, 'first');
    certFile = path.join(dir, 'tls.crt');
    keyFile = path.join(dir, 'tls.key');
    fs.copyFileSync(a.cert, certFile);
    fs.copyFileSync(a.key, keyFile);
    gate = new FakeGate();
    gate.tags.set('team/app:1.4.2', dg(1));
    gate.tags.set('team/app-migrations:1.4.2', dg(2));
    gate.put(verdict('team/app', dg(1), 'allow'));
    gate.put(verdict('team/app-migrations', dg(2), 'quarantine', [['fixable-high-vulns', 'openssl']]));
    const config = admissionConfig();
    listener = await startAdmissionListener(
      { gate, config, digestCache: createDigestCache(gate, config.digestCacheTtlMs) },
      { listen: '127.0.0.1:0', cert: certFile, key: keyFile, reloadIntervalMs: 50, bodyLimitBytes: 64 * 1024, onReload: (e) => reloads.push(e), allowUnauthenticated: true },
    );
  });
  after(async () => {
    await listener?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers POST /admission/validate with an AdmissionReview echoing the uid', async () => {
    const body = fs.readFileSync(path.join(ROOT, 'test/fixtures/admission/admissionreview-pod-create.json'));
    const r = await post(listener.port, '/admission/validate?timeout=5s', body);
    expect(r.status).to.equal(200);
    expect(r.headers['content-type']).to.equal('application/json');
    const j = JSON.parse(r.body);
    expect(j.response.uid).to.equal('3b2f6c1e-8a4d-4f0b-9c7e-1d2e3f4a5b6c');
    expect(j.response.allowed).to.equal(false);
    expect(j.response.status.message).to.contain('spec.initContainers[0].image');
  });

  it('answers POST /admission/mutate with a JSONPatch', async () => {
    const body = fs.readFileSync(path.join(ROOT, 'test/fixtures/admission/admissionreview-pod-create.json'));
    const r = await post(listener.port, '/admission/mutate', body);
    const j = JSON.parse(r.body);
    const patch = JSON.parse(Buffer.from(j.response.patch, 'base64').toString());
    expect(patch).to.deep.equal([{ op: 'replace', path: '/spec/containers/0/image', value: `registry.example.test/team/app:1.4.2@${dg(1)}` }]);
  });

  it('answers errors as JSON: 400 unreadable, 404, 405, 413, 415', async () => {
    let r = await post(listener.port, '/admission/validate', '{not json');
    expect(r.status).to.equal(400);
    expect(JSON.parse(r.body).error.message).to.contain('not JSON');
    r = await post(listener.port, '/admission/validate', '{"request":{}}');
    expect(r.status).to.equal(400);
    r = await post(listener.port, '/nope', '{}');
    expect(r.status).to.equal(404);
    r = await post(listener.port, '/admission/validate', '', { method: 'GET' });
    expect(r.status).to.equal(405);
    r = await post(listener.port, '/admission/validate', Buffer.alloc(100 * 1024, 0x20));
    expect(r.status).to.equal(413);
    expect(JSON.parse(r.body).error.message).to.contain('limit');
    r = await post(listener.port, '/admission/validate', '{}', { ctype: 'text/plain' });
    expect(r.status).to.equal(415);
    r = await post(listener.port, '/healthz', '', { method: 'GET' });
    expect(r.status).to.equal(200);
  });

  it('reloads a rotated certificate without restarting, and keeps the old one when the new pair is broken', async () => {
    expect((await post(listener.port, '/healthz', '', { method: 'GET' })).cn).to.equal('first');
    // A half-written rotation: new cert, old key → rejected, the old pair keeps serving.
    const b = makeCert(dir, 'second');
    fs.copyFileSync(b.cert, certFile);
    await new Promise((r) => setTimeout(r, 200));
    expect(reloads.some((e) => e instanceof Error)).to.equal(true);
    expect((await post(listener.port, '/healthz', '', { method: 'GET' })).cn).to.equal('first');
    fs.copyFileSync(b.key, keyFile);
    const t0 = Date.now();
    let cn = '';
    while (Date.now() - t0 < 3000) {
      cn = (await post(listener.port, '/healthz', '', { method: 'GET' })).cn;
      if (cn === 'second') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(cn).to.equal('second');
  });

  it('derives the review budget from ?timeout=', () => {
    expect(deadlineFromQuery('/admission/validate?timeout=10s')).to.equal(9_700);
    expect(deadlineFromQuery('/admission/validate?timeout=1s')).to.equal(800);
    expect(deadlineFromQuery('/admission/validate?timeout=500ms')).to.equal(400);
    expect(deadlineFromQuery('/admission/validate')).to.equal(9_000);
    expect(deadlineFromQuery('/admission/validate?timeout=banana')).to.equal(9_000);
  });

  it('refuses to start with unreadable certificate files or a bad listen address', async () => {
    const { gate: g, config } = { gate: new FakeGate(), config: admissionConfig() };
    let err: unknown;
    try {
      await startAdmissionListener({ gate: g, config }, { listen: '127.0.0.1:0', cert: path.join(dir, 'missing.crt'), key: keyFile, allowUnauthenticated: true });
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string })?.code).to.equal('BAD_CONFIG');
    err = undefined;
    try {
      await startAdmissionListener({ gate: g, config }, { listen: 'nonsense', cert: certFile, key: keyFile, allowUnauthenticated: true });
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string })?.code).to.equal('BAD_CONFIG');
    // Neither a client CA nor an explicit opt-out: every listener authenticates its callers.
    err = undefined;
    try {
      await startAdmissionListener({ gate: g, config }, { listen: '127.0.0.1:0', cert: certFile, key: keyFile });
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string })?.code).to.equal('BAD_CONFIG');
    expect((err as Error).message).to.contain('admission.clientCA');
  });
});
