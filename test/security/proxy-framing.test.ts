/**
 * Request smuggling through the push proxy (attacker: a pusher with push rights who wants a violating
 * manifest to land unjudged). The proxy forwards every request but a manifest PUT on its own
 * keep-alive connections to the registry. A `GET`, `HEAD`, `DELETE` or `OPTIONS` whose body is sent
 * with `Transfer-Encoding: chunked` and holds the bytes of a manifest PUT must reach the registry as
 * that request's body: if the proxy wrote the bytes without framing, Distribution (Go's net/http)
 * would read them as the next request on the connection and tag the violating manifest.
 *
 * Real Distribution 2.8 without notifications (what slips past the proxy stays), the proxy with the
 * GateDouble (`bad/` repositories are refused), raw sockets (nothing normalizes the request). The
 * control: the same manifest PUT through the proxy is refused, and straight to the registry it lands.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { startProxy } from '../../src/proxy/proxy.js';
import { startRegistry, type LabRegistry } from '../helpers/lab.js';
import { freePort } from '../helpers/ports.js';
import { GateDouble } from '../unit/proxy/gate-double.js';
import { proxyTestConfig } from '../unit/proxy/config.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Writes `wire` to `port` as given; resolves with what came back within `ms` (or until closed). */
function raw(port: number, wire: Buffer, ms = 1500): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(t);
      s.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const t = setTimeout(done, ms);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', done);
    s.on('close', done);
    s.write(wire);
  });
}

describe('security: request smuggling through the push proxy', function () {
  this.timeout(120_000);
  let reg: LabRegistry;
  let proxy: { port: number; close(): Promise<void> };
  let manifest: Buffer;

  async function tags(repo: string): Promise<string[]> {
    const r = await fetch(`${reg.url}/v2/${repo}/tags/list`);
    if (r.status === 404) return [];
    return ((await r.json()) as { tags: string[] | null }).tags ?? [];
  }

  /** A manifest PUT of `repo:tag` as raw request bytes. */
  function putBytes(repo: string, tag: string): Buffer {
    return Buffer.concat([Buffer.from(`PUT /v2/${repo}/manifests/${tag} HTTP/1.1\r\nHost: registry\r\nContent-Type: ${OCI_MANIFEST}\r\nContent-Length: ${manifest.length}\r\n\r\n`), manifest]);
  }

  before(async () => {
    reg = startRegistry(await freePort());
    const gate = new GateDouble({ upstream: reg.url });
    proxy = await startProxy({ gate, config: proxyTestConfig(reg.url, { listen: '127.0.0.1:0' }) });
    // A config-only image whose config blob is in bad/app and ctl/app: the registry accepts its manifest.
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: {} }));
    for (const repo of ['bad/app', 'ctl/app']) {
      const start = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
      const loc = new URL(start.headers.get('location')!, reg.url);
      loc.searchParams.set('digest', sha256(config));
      expect((await fetch(loc, { method: 'PUT', body: config })).status).to.equal(201);
    }
    manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [] }));
  });

  after(async () => {
    await proxy?.close();
    reg?.stop();
  });

  it('control: the manifest PUT through the proxy is refused; straight to the registry, the same bytes after a GET on one connection land', async () => {
    const refused = await raw(proxy.port, putBytes('bad/app', 'plain'));
    expect(refused).to.match(/^HTTP\/1\.1 403 /);
    // Go's server reads a second request after the first on a keep-alive connection: smuggled bytes would land.
    const regPort = Number(new URL(reg.url).port);
    await raw(regPort, Buffer.concat([Buffer.from('GET /v2/ HTTP/1.1\r\nHost: registry\r\n\r\n'), putBytes('ctl/app', 'pipelined')]));
    expect(await tags('ctl/app')).to.include('pipelined');
    expect(await tags('bad/app')).to.deep.equal([]);
  });

  // Chunked bodies on the methods Node's client does not re-chunk, and a Content-Length the client names
  // in `Connection` (hop-by-hop for a proxy, RFC 9110 §7.6.1) on any method.
  const cases: Array<[method: string, framing: 'chunked' | 'length, Connection: content-length']> = [
    ['GET', 'chunked'], ['HEAD', 'chunked'], ['DELETE', 'chunked'], ['OPTIONS', 'chunked'],
    ['GET', 'length, Connection: content-length'], ['DELETE', 'length, Connection: content-length'], ['PATCH', 'length, Connection: content-length'],
  ];
  for (const [i, [method, framing]] of cases.entries()) {
    it(`a ${method} body (${framing}) holding a manifest PUT never lands a tag`, async () => {
      const tag = `smuggled-${i}`;
      const inner = putBytes('bad/app', tag);
      // a path the registry answers at once (200, 404 or 405), so the connection is free for the next request
      const head = framing === 'chunked'
        ? `${method} /v2/ HTTP/1.1\r\nHost: proxy\r\nTransfer-Encoding: chunked\r\n\r\n${inner.length.toString(16)}\r\n`
        : `${method} /v2/ HTTP/1.1\r\nHost: proxy\r\nConnection: keep-alive, Content-Length\r\nContent-Length: ${inner.length}\r\n\r\n`;
      const wire = Buffer.concat([Buffer.from(head), inner, Buffer.from(framing === 'chunked' ? '\r\n0\r\n\r\n' : '')]);
      const answer = await raw(proxy.port, wire);
      expect(answer, answer).to.match(/^HTTP\/1\.1 \d{3} /);
      // a later request on the proxy's upstream connections must not find the tag either
      await raw(proxy.port, Buffer.from('GET /v2/ HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n'));
      expect(await tags('bad/app'), `${method} ${framing}`).to.not.include(tag);
      expect((await fetch(`${reg.url}/v2/bad/app/manifests/${sha256(manifest)}`, { method: 'HEAD', headers: { accept: OCI_MANIFEST } })).status, method).to.equal(404);
    });
  }
});
