/**
 * Faults a real registry will not produce on demand, from an in-process fake on loopback
 * (ports 15050-15059): 429 with Retry-After, 5xx bursts, truncated bodies (Range resume), redirects
 * to another host, missing or wrong Docker-Content-Digest, schema 1, oversized manifests, hung
 * servers, and the concurrency limit. Everything else is tested against the real Distribution.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryClient, type RegistryClientOptions } from '../../../src/registry/client.js';
import { RegistryError } from '../../../src/registry/errors.js';
import { MediaTypes } from '../../../src/core/manifest.js';
import { rejects } from '../../helpers/registry.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const sha = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;

async function serve(port: number, handler: Handler): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}


async function drain(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: `sha256:${'1'.repeat(64)}`, size: 2 },
    layers: [],
  }),
);
const MD = sha(MANIFEST);

describe('registry client faults (in-process fake registry)', function () {
  this.timeout(20_000);
  let srv: { url: string; close: () => Promise<void> } | undefined;
  let other: { url: string; close: () => Promise<void> } | undefined;
  afterEach(async () => {
    await srv?.close();
    await other?.close();
    srv = other = undefined;
  });
  const client = (o: Partial<RegistryClientOptions> = {}) => new RegistryClient({ name: 'fake', url: srv!.url, retryBaseMs: 10, retryMaxMs: 50, ...o });
  const sendManifest = (res: http.ServerResponse, body = MANIFEST, headers: Record<string, string> = {}) => {
    res.writeHead(200, { 'content-type': MediaTypes.ociManifest, 'docker-content-digest': sha(body), 'content-length': String(body.length), ...headers });
    res.end(body);
  };

  it('429 with Retry-After: waits as told, then succeeds', async () => {
    const times: number[] = [];
    srv = await serve(15050, (req, res) => {
      times.push(Date.now());
      if (times.length === 1) {
        res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
        return;
      }
      sendManifest(res);
    });
    const m = await client().getManifest('team/app', 'v1');
    expect(m.digest).to.equal(MD);
    expect(times[1] - times[0]).to.be.within(950, 3000);
  });

  it('429 after the last retry: retryable RegistryError with the code and Retry-After', async () => {
    let n = 0;
    srv = await serve(15050, (_req, res) => {
      n++;
      res.writeHead(429, { 'retry-after': '0', 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}');
    });
    const e = await rejects(client({ retries: 2 }).getManifest('team/app', 'v1'));
    expect(n).to.equal(3);
    expect(e).to.include({ status: 429, retryable: true, code: 'REGISTRY' });
    expect(e.registryCodes).to.deep.equal(['TOOMANYREQUESTS']);
    expect(e.details).to.deep.equal({ retryAfterMs: 0 });
    expect(e.message).to.equal('registry fake: GET manifest team/app:v1: 429 TOOMANYREQUESTS: slow down: rate limited; retry later');
  });

  it('a burst of 500/502/503 is retried with backoff; 400, 404 and 403 are not retried', async () => {
    let n = 0;
    srv = await serve(15050, (_req, res) => {
      n++;
      if (n <= 3) {
        res.writeHead([500, 502, 503][n - 1]);
        res.end('oops');
        return;
      }
      sendManifest(res);
    });
    const codes: Array<number | string> = [];
    const m = await client({ onRequest: (e) => codes.push(e.code) }).getManifest('team/app', 'v1');
    expect(m.digest).to.equal(MD);
    expect(codes).to.deep.equal([500, 502, 503, 200]);
    for (const status of [400, 403, 404]) {
      await srv.close();
      n = 0;
      srv = await serve(15050, (_req, res) => {
        n++;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"DENIED","message":"no"}]}');
      });
      const e = await rejects(client().getManifest('team/app', 'v1'));
      expect(n, String(status)).to.equal(1);
      expect(e.retryable).to.equal(false);
      expect(e.status).to.equal(status);
    }
  });

  it('a refused connection is a retryable NETWORK error after the retries', async () => {
    srv = await serve(15050, (_req, res) => res.end());
    const url = srv.url;
    await srv.close();
    srv = undefined;
    const codes: Array<number | string> = [];
    const c = new RegistryClient({ name: 'fake', url, retries: 2, retryBaseMs: 5, onRequest: (e) => codes.push(e.code) });
    const e = await rejects(c.resolve('team/app', 'v1'));
    expect(e).to.include({ code: 'NETWORK', retryable: true });
    expect(e.message).to.match(/^registry fake: HEAD manifest team\/app:v1: ECONNREFUSED/);
    // the address tried, which the registry's name alone does not say
    expect(e.message).to.include(`ECONNREFUSED (${new URL(url).origin})`);
    expect(codes).to.deep.equal(['error', 'error', 'error']);
  });

  it('per-request timeout and per-operation deadline', async () => {
    srv = await serve(15050, () => {
      /* never answers */
    });
    const t0 = Date.now();
    const e = await rejects(client({ timeoutMs: 200, retries: 1 }).getManifest('team/app', 'v1'));
    expect(e.code).to.equal('NETWORK');
    expect(e.message).to.match(/no answer within 200 ms/);
    expect(Date.now() - t0).to.be.within(350, 2000);
    const t1 = Date.now();
    await rejects(client({ timeoutMs: 300, retries: 100, operationTimeoutMs: 700 }).getManifest('team/app', 'v1'));
    expect(Date.now() - t1).to.be.within(600, 1500);
  });

  it('Docker-Content-Digest missing on HEAD: resolves with a GET', async () => {
    const seen: string[] = [];
    srv = await serve(15050, (req, res) => {
      seen.push(req.method!);
      expect(req.headers.accept).to.include(MediaTypes.ociIndex);
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'content-type': MediaTypes.ociManifest });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': MediaTypes.ociManifest });
      res.end(MANIFEST);
    });
    expect(await client().resolve('team/app', 'v1')).to.deep.equal({ digest: MD, mediaType: MediaTypes.ociManifest, size: MANIFEST.length });
    expect(seen).to.deep.equal(['HEAD', 'GET']);
  });

  it('wrong Docker-Content-Digest, wrong content for a digest, schema 1, oversized: typed errors', async () => {
    let mode = 'dcd';
    srv = await serve(15050, (_req, res) => {
      if (mode === 'dcd') return sendManifest(res, MANIFEST, { 'docker-content-digest': `sha256:${'f'.repeat(64)}` });
      if (mode === 'schema1') {
        const b = Buffer.from('{"schemaVersion":1,"name":"team/app","tag":"v1","fsLayers":[]}');
        return sendManifest(res, b, { 'content-type': MediaTypes.dockerSchema1Signed });
      }
      if (mode === 'big') return sendManifest(res, Buffer.alloc(5000, 32));
      sendManifest(res);
    });
    let e = await rejects(client().getManifest('team/app', 'v1'));
    expect(e.code).to.equal('DIGEST_MISMATCH');
    expect(e.message).to.include('Docker-Content-Digest says sha256:ffff');
    mode = 'ok';
    e = await rejects(client().getManifest('team/app', `sha256:${'e'.repeat(64)}`));
    expect(e.code).to.equal('DIGEST_MISMATCH');
    expect(e.message).to.include('not the requested digest');
    mode = 'schema1';
    e = await rejects(client().getManifest('team/app', 'v1'));
    expect(e.code).to.equal('UNSUPPORTED');
    expect(e.message).to.match(/schema 1/);
    mode = 'big';
    e = await rejects(client({ maxManifestBytes: 4096 }).getManifest('team/app', 'v1'));
    expect(e.code).to.equal('SIZE_MISMATCH');
  });

  it('blob redirect to another host: followed without the Authorization header', async () => {
    const blob = crypto.randomBytes(100_000);
    const seenAuth: Array<string | undefined> = [];
    other = await serve(15051, (req, res) => {
      seenAuth.push(req.headers.authorization);
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.end(blob);
    });
    srv = await serve(15050, (req, res) => {
      if (req.headers.authorization !== `Basic ${Buffer.from('u:p').toString('base64')}`) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' });
        res.end();
        return;
      }
      res.writeHead(307, { location: `${other!.url}/storage/blob?X-Amz-Signature=abc` });
      res.end();
    });
    const c = client({ auth: { username: 'u', password: 'p' } });
    const got = await drain(await c.getBlob('team/app', sha(blob), { verify: true, size: blob.length }));
    expect(got.equals(blob)).to.equal(true);
    expect(seenAuth).to.deep.equal([undefined]);
  });

  it('truncated blob: resumed with Range from where it broke', async () => {
    const blob = crypto.randomBytes(300_000);
    const ranges: Array<string | undefined> = [];
    srv = await serve(15050, (req, res) => {
      ranges.push(req.headers.range);
      const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      const part = blob.subarray(start);
      res.writeHead(m ? 206 : 200, {
        'content-length': String(part.length),
        'accept-ranges': 'bytes',
        ...(m ? { 'content-range': `bytes ${start}-${blob.length - 1}/${blob.length}` } : {}),
      });
      // first two answers break off after 100 kB
      if (ranges.length <= 2) {
        res.write(part.subarray(0, 100_000), () => res.destroy());
      } else res.end(part);
    });
    const got = await drain(await client().getBlob('team/app', sha(blob), { verify: true, size: blob.length }));
    expect(got.equals(blob)).to.equal(true);
    expect(ranges).to.deep.equal([undefined, 'bytes=100000-', 'bytes=200000-']);
  });

  it('truncated blob without Range support: resumed by skipping; wrong bytes → DIGEST_MISMATCH', async () => {
    const blob = crypto.randomBytes(200_000);
    let n = 0;
    let corrupt = false;
    srv = await serve(15050, (_req, res) => {
      n++;
      const body = corrupt ? Buffer.concat([blob.subarray(0, 1000), Buffer.alloc(blob.length - 1000)]) : blob;
      res.writeHead(200, { 'content-length': String(body.length) });
      if (n === 1) res.write(body.subarray(0, 50_000), () => res.destroy());
      else res.end(body);
    });
    expect((await drain(await client().getBlob('team/app', sha(blob), { verify: true }))).equals(blob)).to.equal(true);
    corrupt = true;
    let err: unknown;
    try {
      await drain(await client().getBlob('team/app', sha(blob), { verify: true }));
    } catch (e) {
      err = e;
    }
    expect((err as RegistryError).code).to.equal('DIGEST_MISMATCH');
  });

  it('a blob that keeps breaking ends in a NETWORK stream error, not a hang', async () => {
    const blob = crypto.randomBytes(100_000);
    srv = await serve(15050, (_req, res) => {
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.write(blob.subarray(0, 10), () => res.destroy());
    });
    let err: unknown;
    try {
      await drain(await client({ blobResumes: 2 }).getBlob('team/app', sha(blob)));
    } catch (e) {
      err = e;
    }
    expect((err as RegistryError).code).to.equal('NETWORK');
    expect((err as Error).message).to.match(/connection lost after 10 of 100000 bytes/);
  });

  it('concurrency limit: never more requests in flight than configured', async () => {
    let active = 0;
    let peak = 0;
    srv = await serve(15050, (_req, res) => {
      active++;
      peak = Math.max(peak, active);
      setTimeout(() => {
        active--;
        sendManifest(res);
      }, 30);
    });
    const c = client({ concurrency: 3 });
    await Promise.all(Array.from({ length: 12 }, () => c.getManifest('team/app', 'v1')));
    expect(peak).to.equal(3);
    expect(c.inFlight).to.equal(0);
  });

  it('tags: relative Link pagination and "tags": null past the end', async () => {
    srv = await serve(15050, (req, res) => {
      const u = new URL(req.url!, 'http://x');
      const last = u.searchParams.get('last');
      res.setHeader('content-type', 'application/json');
      if (!last) {
        res.setHeader('link', '</v2/team/app/tags/list?last=b&n=2>; rel="next"');
        res.end('{"name":"team/app","tags":["a","b"]}');
      } else if (last === 'b') {
        res.setHeader('link', '</v2/team/app/tags/list?last=c&n=2>; rel="next"');
        res.end('{"name":"team/app","tags":["c"]}');
      } else res.end('{"name":"team/app","tags":null}');
    });
    expect(await client().listTags('team/app')).to.deep.equal(['a', 'b', 'c']);
  });

  it('referrers API: client-side filter when OCI-Filters-Applied is absent', async () => {
    const idx = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [
      { mediaType: MediaTypes.ociManifest, digest: `sha256:${'a'.repeat(64)}`, size: 1, artifactType: 'application/spdx+json' },
      { mediaType: MediaTypes.ociManifest, digest: `sha256:${'b'.repeat(64)}`, size: 1, artifactType: 'application/vnd.dev.cosign.simplesigning.v1+json' },
    ] };
    srv = await serve(15050, (req, res) => {
      expect(req.url).to.match(/^\/v2\/team\/app\/referrers\/sha256:/);
      res.writeHead(200, { 'content-type': MediaTypes.ociIndex });
      res.end(JSON.stringify(idx));
    });
    const c = client();
    expect(await c.referrers('team/app', MD)).to.have.length(2);
    expect((await c.referrers('team/app', MD, 'application/spdx+json')).map((d) => d.digest)).to.deep.equal([`sha256:${'a'.repeat(64)}`]);
  });

  it('copy falls back to a streamed upload when the mount is refused (202)', async () => {
    const blob = crypto.randomBytes(50_000);
    const digest = sha(blob);
    let uploaded: Buffer | undefined;
    srv = await serve(15050, (req, res) => {
      const u = new URL(req.url!, 'http://x');
      if (req.method === 'HEAD') return res.writeHead(404).end();
      if (req.method === 'POST' && u.searchParams.get('mount')) {
        res.writeHead(202, { location: '/v2/dst/blobs/uploads/session-1?state=x' });
        return res.end();
      }
      if (req.method === 'GET' && u.pathname === `/v2/src/blobs/${digest}`) {
        res.writeHead(200, { 'content-length': String(blob.length) });
        return res.end(blob);
      }
      if (req.method === 'PUT' && u.pathname === '/v2/dst/blobs/uploads/session-1') {
        expect(u.searchParams.get('digest')).to.equal(digest);
        expect(u.searchParams.get('state')).to.equal('x');
        const chunks: Buffer[] = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          uploaded = Buffer.concat(chunks);
          res.writeHead(201, { location: `/v2/dst/blobs/${digest}` }).end();
        });
        return;
      }
      res.writeHead(500).end();
    });
    await client({ concurrency: 1 }).copyBlob('src', 'dst', { mediaType: 'application/octet-stream', digest, size: blob.length });
    expect(uploaded?.equals(blob)).to.equal(true);
  });

  it('a DELETE refused with 405 (deletes turned off) names the registry setting to change, keeping the registry\'s own words', async () => {
    srv = await serve(0, (req, res) => {
      if (req.method === 'DELETE') {
        res.writeHead(405, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }] }));
        return;
      }
      res.writeHead(200).end('{}');
    });
    const e = await rejects(client({ retries: 0 }).deleteManifest('team/app', MD as never));
    expect(e.status).to.equal(405);
    expect(e.registryCodes).to.deep.equal(['UNSUPPORTED']);
    expect(e.message).to.contain('The operation is unsupported.');
    expect(e.message).to.contain('storage.delete.enabled: true');
  });

});
