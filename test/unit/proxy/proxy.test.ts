/**
 * The proxy against an in-process upstream, for what a real registry cannot show on demand:
 * that bodies stream (the upstream sees bytes before the client has finished, and the client sees
 * bytes before the upstream has finished), which headers cross, and faults (upstream down, silent
 * upstream, a client leaving mid-upload, a gate that hangs or fails). TLS reload with real
 * certificates from openssl.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { startProxy } from '../../../src/proxy/proxy.js';
import { GateDouble } from './gate-double.js';
import { answerPushCheck, proxyTestConfig } from './config.js';
import { TAG_RE } from '../../../src/core/names.js';
import { isDigest } from '../../../src/core/digest.js';

const UP_PORT = 18080;
const PROXY_PORT = 18081;
const DOWN_PORT = 18082; // nothing listens here
const TLS_PROXY_PORT = 18083;
const SLOW_PROXY_PORT = 18084;
const DOWN_PROXY_PORT = 18087;

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A raw HTTP/1.1 exchange over a socket, so the test controls when each byte is sent. */
function rawRequest(port: number, head: string): net.Socket {
  const s = net.connect(port, '127.0.0.1');
  s.write(head);
  return s;
}

function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error('condition not met in time'));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

/** A well-formed image manifest with no layers, for pushes the proxy must judge or refuse. */
const PLAIN_MANIFEST = JSON.stringify({ schemaVersion: 2, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'1'.repeat(64)}`, size: 2 }, layers: [] });

describe('proxy (in-process upstream)', function () {
  this.timeout(20_000);
  let upstream: http.Server;
  let handle: Handler = (_q, r) => r.end();
  let gate: GateDouble;
  let proxy: { port: number; close(): Promise<void> };
  const base = `http://127.0.0.1:${PROXY_PORT}`;
  /** The upstream answers 404 to HEAD and 201 otherwise; the returned list records each request it saw. */
  const recordUpstream = (): string[] => {
    const seen: string[] = [];
    handle = (req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (answerPushCheck(req, res)) return;
      res.writeHead(req.method === 'HEAD' ? 404 : 201);
      res.end();
    };
    return seen;
  };

  before(async () => {
    upstream = http.createServer((q, r) => handle(q, r));
    upstream.listen(UP_PORT, '127.0.0.1');
    await once(upstream, 'listening');
    gate = new GateDouble({ upstream: `http://127.0.0.1:${UP_PORT}`, delayMs: (repo) => (repo.startsWith('hang/') ? 60_000 : 5) });
    proxy = await startProxy({ gate, config: proxyTestConfig(`http://127.0.0.1:${UP_PORT}`, { listen: `127.0.0.1:${PROXY_PORT}`, timeoutMs: 300 }) });
  });
  after(async () => {
    await proxy?.close();
    upstream?.closeAllConnections();
    upstream?.close();
  });

  it('streams a PATCH body to the upstream before the client has sent all of it, and the answer back before the upstream has finished', async () => {
    let received = 0;
    let upRes: http.ServerResponse | undefined;
    handle = (req, res) => {
      req.on('data', (c: Buffer) => {
        received += c.length;
      });
      req.on('end', () => {
        upRes = res;
        res.writeHead(202, { 'content-type': 'application/octet-stream' });
        res.write('first-part;');
      });
    };
    const s = rawRequest(PROXY_PORT, `PATCH /v2/ok/a/blobs/uploads/u1 HTTP/1.1\r\nHost: 127.0.0.1:${PROXY_PORT}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const chunk = Buffer.alloc(256 * 1024, 7);
    s.write(`${chunk.length.toString(16)}\r\n`);
    s.write(chunk);
    s.write('\r\n');
    await waitFor(() => received === chunk.length); // the upstream has the first chunk; the client has not finished
    s.write(`${chunk.length.toString(16)}\r\n`);
    s.write(chunk);
    s.write('\r\n0\r\n\r\n');
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
    });
    await waitFor(() => got.includes('first-part;')); // the client has the first part; the upstream has not finished
    expect(received).to.equal(2 * chunk.length);
    upRes!.end('second-part');
    await waitFor(() => got.includes('second-part'));
    s.destroy();
  });

  it('drops hop-by-hop headers and client claims (X-Forwarded-*, Forwarded, X-Real-IP), keeps end-to-end ones, sets X-Forwarded-For to the peer and rewrites Location to the proxy', async () => {
    let seen: http.IncomingHttpHeaders = {};
    handle = (req, res) => {
      seen = req.headers;
      res.writeHead(401, [
        'WWW-Authenticate', 'Bearer realm="http://auth.test/token",service="lab",scope="repository:ok/a:pull"',
        'WWW-Authenticate', 'Basic realm="lab"',
        'Location', `http://127.0.0.1:${UP_PORT}/v2/ok/a/blobs/uploads/x?_state=abc`,
        'Keep-Alive', 'timeout=5',
        'Connection', 'X-Upstream-Private',
        'X-Upstream-Private', 'secret-ish',
        'Content-Length', '2',
      ]);
      res.end('{}');
    };
    const r = await new Promise<{ status: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      const q = http.request(`${base}/v2/ok/a/blobs/uploads/?x=1`, {
        method: 'POST',
        headers: { authorization: 'Bearer abc.def.ghi', 'proxy-authorization': 'Basic Zm9vOmJhcg==', 'x-client-private': '1', connection: 'keep-alive, x-client-private', te: 'trailers', 'x-forwarded-for': '10.0.0.9', 'x-forwarded-host': 'evil.test', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443', forwarded: 'for=1.2.3.4;host=evil.test;proto=https', 'x-real-ip': '10.0.0.8' },
      }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
      });
      q.on('error', reject);
      q.end();
    });
    expect(seen.authorization).to.equal('Bearer abc.def.ghi');
    expect(seen['proxy-authorization']).to.equal(undefined);
    expect(seen['x-client-private']).to.equal(undefined);
    expect(seen.te).to.equal(undefined);
    expect(seen.host).to.equal(`127.0.0.1:${UP_PORT}`);
    // what the proxy knows, not what the client says
    expect(seen['x-forwarded-for']).to.equal('127.0.0.1');
    for (const claim of ['x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded', 'x-real-ip']) expect(seen[claim], claim).to.equal(undefined);
    expect(r.status).to.equal(401);
    expect(r.headers['www-authenticate']).to.equal('Bearer realm="http://auth.test/token",service="lab",scope="repository:ok/a:pull", Basic realm="lab"');
    expect(r.headers.location).to.equal('/v2/ok/a/blobs/uploads/x?_state=abc');
    expect(r.headers['x-upstream-private']).to.equal(undefined);
    expect(r.headers['keep-alive']).to.not.equal('timeout=5');
  });

  it('hands a 401 at the manifest PUT back with the challenge, without judging the manifest', async () => {
    const before = gate.pending.length;
    handle = (req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="lab"', 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    };
    const r = await fetch(`${base}/v2/ok/a/manifests/1`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: '{"schemaVersion":2,"config":{},"layers":[]}' });
    expect(r.status).to.equal(401);
    expect(r.headers.get('www-authenticate')).to.equal('Basic realm="lab"');
    expect(gate.pending.length).to.equal(before);
  });

  it('property: a manifest reference the registry routes but can store neither as a tag nor as a digest (foo:bar, sha256:<upper case>) is refused 400 TAG_INVALID before anything is judged or forwarded', async () => {
    const seen = recordUpstream();
    const valid = PLAIN_MANIFEST;
    const lower = fc.stringMatching(/^[a-z0-9]{1,6}$/);
    // go-digest's DigestRegexp, which Distribution's router accepts as a manifest reference.
    const digestLike = fc
      .tuple(fc.array(lower, { minLength: 1, maxLength: 2 }), fc.constantFrom('.', '+', '_', '-'), fc.stringMatching(/^[a-zA-Z0-9_-]{1,70}$/))
      .map(([parts, sep, enc]) => `${parts.join(sep)}:${enc}`);
    const upperSha = fc.stringMatching(/^[0-9A-F]{64}$/).filter((h) => /[A-F]/.test(h)).map((h) => `sha256:${h}`);
    await fc.assert(
      fc.asyncProperty(fc.oneof(digestLike, upperSha), async (ref) => {
        fc.pre(!TAG_RE.test(ref) && !isDigest(ref));
        seen.length = 0;
        const before = gate.pending.length;
        const r = await fetch(`${base}/v2/ok/a/manifests/${ref}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: valid });
        const body = await r.text();
        expect(r.status, `${ref}: ${body}`).to.equal(400);
        expect(body).to.match(/TAG_INVALID/);
        expect(gate.pending.length, 'judged').to.equal(before);
        expect(seen, 'forwarded').to.deep.equal([]);
      }),
      { numRuns: 60 },
    );
    // Control: a tag and a digest reference go on to the gate.
    const ok = await fetch(`${base}/v2/ok/a/manifests/v1.0`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: valid });
    expect(ok.status).to.not.equal(400);
  });

  it('property: a manifest PUT by a sha512 digest is refused 400 DIGEST_INVALID, saying why, before anything is judged or forwarded', async () => {
    const seen = recordUpstream();
    const valid = PLAIN_MANIFEST;
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[a-f0-9]{128}$/), async (h) => {
        seen.length = 0;
        const before = gate.pending.length;
        const r = await fetch(`${base}/v2/ok/a/manifests/sha512:${h}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: valid });
        const body = await r.text();
        expect(r.status, body).to.equal(400);
        expect(body).to.match(/DIGEST_INVALID/).and.match(/sha512/);
        expect(gate.pending.length, 'judged').to.equal(before);
        expect(seen, 'forwarded').to.deep.equal([]);
      }),
      { numRuns: 20 },
    );
  });

  it('property: a judged manifest PUT reaches the registry under its path alone: no query (end-7b ?tag= would tag it under names never judged)', async () => {
    const seen = recordUpstream();
    const digest = `sha256:${createHash('sha256').update(PLAIN_MANIFEST).digest('hex')}`;
    // Spellings Go's url.ParseQuery reads as `tag` (escaped, repeated, `+`), and others beside them.
    const key = fc.constantFrom('tag', 't%61g', '%74ag', '%74%61%67', 'TAG', 'tag[]', 'digest', '_state', 'x');
    const value = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/), fc.constantFrom('prod', 'latest', 'a+b', '%70rod', ''));
    const query = fc
      .array(fc.tuple(key, value), { minLength: 1, maxLength: 4 })
      .chain((pairs) => fc.tuple(fc.constant(pairs), fc.constantFrom('&', ';', '&&')))
      .map(([pairs, sep]) => pairs.map(([k, v]) => `${k}=${v}`).join(sep));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(digest, 'v1', 'latest'), query, async (ref, q) => {
        seen.length = 0;
        const r = await fetch(`${base}/v2/ok/a/manifests/${ref}?${q}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: PLAIN_MANIFEST });
        expect(r.status, await r.text()).to.equal(201);
        const puts = seen.filter((l) => l.startsWith('PUT '));
        expect(puts, `${ref}?${q}`).to.deep.equal([`PUT /v2/ok/a/manifests/${ref}`]);
        expect(seen.every((l) => !l.includes('?')), seen.join(', ')).to.equal(true);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses with "retry" when the gate hangs past proxy.timeout, without forwarding', async () => {
    let puts = 0;
    handle = (req, res) => {
      if (req.method === 'PUT') puts++;
      if (answerPushCheck(req, res)) return;
      res.writeHead(req.method === 'HEAD' ? 404 : 201);
      res.end();
    };
    const t0 = Date.now();
    const valid = PLAIN_MANIFEST;
    const r = await fetch(`${base}/v2/hang/a/manifests/1`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: valid });
    const ms = Date.now() - t0;
    expect(r.status).to.equal(403);
    expect(((await r.json()) as { errors: Array<{ message: string }> }).errors[0]!.message).to.include('did not finish in time (0.3s)');
    expect(ms).to.be.within(250, 3000);
    expect(puts).to.equal(0);
  });

  it('answers 502 UNAVAILABLE when the upstream is down, and 504 when it is silent; the proxy keeps serving', async () => {
    const down = await startProxy({ gate, config: proxyTestConfig(`http://127.0.0.1:${DOWN_PORT}`, { listen: `127.0.0.1:${DOWN_PROXY_PORT}` }) });
    try {
      const r = await fetch(`http://127.0.0.1:${DOWN_PROXY_PORT}/v2/`);
      expect(r.status).to.equal(502);
      const body = (await r.json()) as { errors: Array<{ code: string; message: string }> };
      expect(body.errors[0]!.code).to.equal('UNAVAILABLE');
      expect(body.errors[0]!.message).to.include('ECONNREFUSED');
      const m = await fetch(`http://127.0.0.1:${DOWN_PROXY_PORT}/v2/ok/a/manifests/1`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: '{"schemaVersion":2}' });
      expect(m.status).to.equal(502);
    } finally {
      await down.close();
    }
    const slow = await startProxy({ gate, config: proxyTestConfig(`http://127.0.0.1:${UP_PORT}`, { listen: `127.0.0.1:${SLOW_PROXY_PORT}` }, { registry: { timeoutMs: 300 } }) });
    try {
      handle = () => undefined; // never answers
      const r = await fetch(`http://127.0.0.1:${SLOW_PROXY_PORT}/v2/ok/a/blobs/sha256:${'a'.repeat(64)}`);
      expect(r.status).to.equal(504);
      handle = (_q, res) => res.end('{}');
      expect((await fetch(`http://127.0.0.1:${SLOW_PROXY_PORT}/v2/`)).status).to.equal(200);
    } finally {
      await slow.close();
    }
  });

  it('aborts the upstream request when the client leaves mid-upload, and keeps serving', async () => {
    let upstreamClosedEarly = false;
    let upstreamGot = 0;
    handle = (req, res) => {
      req.on('data', (c: Buffer) => {
        upstreamGot += c.length;
      });
      req.on('close', () => {
        if (!req.complete) upstreamClosedEarly = true;
      });
      req.on('end', () => res.end());
    };
    const s = rawRequest(PROXY_PORT, `PATCH /v2/ok/a/blobs/uploads/u2 HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n`);
    s.write(Buffer.alloc(100_000, 1));
    await waitFor(() => upstreamGot > 0);
    s.destroy();
    await waitFor(() => upstreamClosedEarly);
    handle = (_q, res) => res.end('{}');
    expect((await fetch(`${base}/v2/`)).status).to.equal(200);
  });

  it('serves TLS and picks up a new certificate when the files change', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-proxy-tls-'));
    const cert = path.join(dir, 'tls.crt');
    const key = path.join(dir, 'tls.key');
    const mkCert = (cn: string): void => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${key}.new`, '-out', `${cert}.new`, '-days', '1', '-subj', `/CN=${cn}`], { stdio: 'ignore' });
      fs.renameSync(`${key}.new`, key);
      fs.renameSync(`${cert}.new`, cert);
    };
    const peerCN = async (): Promise<string> => {
      const s = tls.connect({ host: '127.0.0.1', port: TLS_PROXY_PORT, rejectUnauthorized: false });
      await once(s, 'secureConnect');
      const cn = String(s.getPeerCertificate().subject.CN);
      s.destroy();
      return cn;
    };
    mkCert('first.test');
    const p = await startProxy({ gate, config: proxyTestConfig(`http://127.0.0.1:${UP_PORT}`, { listen: `127.0.0.1:${TLS_PROXY_PORT}`, tls: { cert, key } }) });
    try {
      expect(await peerCN()).to.equal('first.test');
      let seenProto: string | undefined = 'unset';
      handle = (req, res) => {
        seenProto = req.headers['x-forwarded-proto'] as string | undefined;
        res.end('{}');
      };
      const status = await new Promise<number>((resolve, reject) => {
        https.get({ host: '127.0.0.1', port: TLS_PROXY_PORT, path: '/v2/', rejectUnauthorized: false }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        }).on('error', reject);
      });
      expect(status).to.equal(200);
      // the registry builds its URLs from its own address; the proxy rewrites them for the client
      expect(seenProto).to.equal(undefined);
      await new Promise((r) => setTimeout(r, 1100)); // a different mtime second
      mkCert('second.test');
      const t0 = Date.now();
      let cn = await peerCN();
      while (cn !== 'second.test' && Date.now() - t0 < 5000) {
        await new Promise((r) => setTimeout(r, 200));
        cn = await peerCN();
      }
      expect(cn).to.equal('second.test');
    } finally {
      await p.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
