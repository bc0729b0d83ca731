/**
 * A manifest uploaded as a blob stays unserved however the upload names or finishes it.
 *
 * Attacker: a pusher with push rights behind the proxy (see blob-manifests.test.ts for the way in: the
 * registry serves a blob linked in a repository as a manifest by digest). Three ways past the check
 * the proxy runs on a completed upload:
 * - an alias: `PUT <upload>?digest=sha512:…` (or sha384, or the `digest` in an
 *   `application/x-www-form-urlencoded` body, which Go's `r.FormValue` reads and the proxy does not)
 *   links the blob under that digest *and* its sha256 one; the registry answers with the sha256 one,
 *   whose link alone was removed, and `<repo>@sha512:…` stayed served as the manifest;
 * - a hang-up: the client sends the complete upload and closes its connection before the answer; the
 *   proxy dropped the upstream exchange, the registry (having every byte) linked the blob anyway, and no
 *   check ran;
 * - a failed check: when the registry's answer to the check was an error the link was left in place
 *   (the client told to push again, which an attacker does not).
 *
 * Real components: a Distribution 2.8 registry (Debian docker-registry), the real `pushgate serve` with
 * its proxy, and between them an in-process front that, only where the test says, holds the registry's
 * answer to an upload (a registry on remote storage answers slowly) or answers pushgate's check with a
 * 503 (what a real registry does not produce on demand). Every verdict is read straight from the
 * registry, by every digest algorithm it links blobs under.
 * Ports 22470-22472.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../src/config/types.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { updateDb } from '../../src/vulndb/index.js';
import { startFaultFront, type FaultFront } from '../helpers/fault-front.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../helpers/gate.js';
import { ROOT, startRegistry, type LabRegistry } from '../helpers/lab.js';
import { ACCEPT, OCI_MANIFEST, sleep } from '../helpers/raw-push.js';

const REG_PORT = 22470;
const FRONT_PORT = 22471;
const PROXY_PORT = 22472;
const ALGS = ['sha256', 'sha384', 'sha512'] as const;

const dg = (alg: string, b: Buffer): string => `${alg}:${crypto.createHash(alg).update(b).digest('hex')}`;

/** A manifest document no manifest PUT brought, unique per `nonce`. */
function manifestBytes(nonce: string, pad = ''): Buffer {
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: dg('sha256', Buffer.from(nonce)), size: nonce.length };
  return Buffer.from(pad + JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [], annotations: { nonce } }) + pad);
}

describe('security: a manifest uploaded as a blob is served under no digest, whatever the upload names and however it ends', function () {
  this.timeout(300_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let front: FaultFront;
  const proxy = `http://127.0.0.1:${PROXY_PORT}`;

  /** Whether the registry (straight, not through the front) serves `bytes` as a manifest of `repo` under any algorithm's digest. */
  async function servedUnder(repo: string, bytes: Buffer): Promise<string[]> {
    const out: string[] = [];
    for (const alg of ALGS) {
      const r = await fetch(`${reg.url}/v2/${repo}/manifests/${dg(alg, bytes)}`, { headers: { Accept: ACCEPT } });
      const got = Buffer.from(await r.arrayBuffer());
      if (r.status === 200 && got.equals(bytes)) out.push(alg);
    }
    return out;
  }

  /** Starts an upload through the proxy, PATCHes `patched` bytes; @returns the upload's URL (through the proxy). */
  async function begin(repo: string, patched: Buffer): Promise<URL> {
    const post = await fetch(`${proxy}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await post.arrayBuffer();
    expect(post.status).to.equal(202);
    let loc = new URL(post.headers.get('location')!, proxy);
    if (patched.length) {
      const p = await fetch(loc, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body: patched });
      await p.arrayBuffer();
      expect(p.status).to.equal(202);
      loc = new URL(p.headers.get('location')!, proxy);
    }
    return loc;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-sec-blobalias-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    reg = startRegistry(REG_PORT);
    front = await startFaultFront(
      FRONT_PORT,
      REG_PORT,
      // pushgate's check of an upload into unchecked/*: the registry errs
      (method, p) => (method === 'HEAD' && p.startsWith('/v2/unchecked/') && p.includes('/manifests/') ? { status: 503 } : undefined),
      undefined,
      // the registry's answer to a completed upload into hangup/* comes late (it has linked the blob)
      (method, p, status) => (method === 'PUT' && p.startsWith('/v2/hangup/') && status === 201 ? sleep(600) : undefined),
    );
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', FRONT_PORT, 'sec-blobalias-token-0123456789')]);
    config.proxy = { ...config.proxy, listen: `127.0.0.1:${PROXY_PORT}`, upstream: front.url, timeoutMs: 120_000, onTimeout: 'reject', onError: 'reject' };
    srv = await startServer(config, silentLogger);
  });

  after(async () => {
    await srv?.close();
    await front?.close();
    reg?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('control: straight to the registry, an upload completed with a sha384/sha512 digest (query or form body) is linked and served under it and under sha256', async () => {
    for (const [i, alg] of (['sha384', 'sha512'] as const).entries()) {
      for (const inBody of [false, true]) {
        const repo = `ctl/alias${i}${inBody ? 'b' : 'q'}`;
        const bytes = manifestBytes(`ctl-${alg}-${inBody}`);
        const post = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
        await post.arrayBuffer();
        const loc = new URL(post.headers.get('location')!, reg.url);
        const p = await fetch(loc, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body: bytes });
        await p.arrayBuffer();
        const put = new URL(p.headers.get('location')!, reg.url);
        if (!inBody) put.searchParams.set('digest', dg(alg, bytes));
        const r = await fetch(put, inBody ? { method: 'PUT', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `digest=${dg(alg, bytes)}` } : { method: 'PUT' });
        expect(r.status, await r.text()).to.equal(201);
        expect(r.headers.get('docker-content-digest'), 'the registry names the sha256 digest only').to.equal(dg('sha256', bytes));
        expect(await servedUnder(repo, bytes)).to.deep.equal(['sha256', alg]);
      }
    }
  });

  it('property: whatever digest the completing PUT names (sha256/384/512, query or form body, bytes in PATCH or PUT), the proxy refuses and nothing is served under any digest', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ALGS),
        fc.constantFrom('query', 'form', 'put-body'),
        fc.constantFrom('', ' ', '\n\t '),
        async (alg, where, pad) => {
          const repo = `prop/a${n++}`;
          const bytes = manifestBytes(`prop-${n}-${alg}-${where}`, pad);
          const loc = await begin(repo, where === 'put-body' ? Buffer.alloc(0) : bytes);
          let r: Response;
          if (where === 'form') {
            r = await fetch(loc, { method: 'PUT', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `digest=${encodeURIComponent(dg(alg, bytes))}` });
          } else {
            loc.searchParams.set('digest', dg(alg, bytes));
            r = await fetch(loc, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: where === 'put-body' ? bytes : Buffer.alloc(0) });
          }
          const body = await r.text();
          expect(r.status, `${alg} ${where}: ${body}`).to.equal(400);
          expect(await servedUnder(repo, bytes), `${alg} ${where}: served`).to.deep.equal([]);
        },
      ),
      { numRuns: 24 },
    );
  });

  it('a mount by a sha384/sha512 digest (query or form body) leaves nothing served (Distribution 2.8 links it to no content; a registry that served it would be refused)', async () => {
    for (const alg of ['sha384', 'sha512'] as const) {
      for (const inBody of [false, true]) {
        const src = `src/m${alg}${inBody ? 'b' : 'q'}`;
        const repo = `mount/m${alg}${inBody ? 'b' : 'q'}`;
        const bytes = manifestBytes(`mount-${alg}-${inBody}`);
        // the source holds the blob under the alias (straight to the registry: older data, another way in)
        const post = await fetch(`${reg.url}/v2/${src}/blobs/uploads/`, { method: 'POST' });
        await post.arrayBuffer();
        const loc = new URL(post.headers.get('location')!, reg.url);
        loc.searchParams.set('digest', dg(alg, bytes));
        expect((await fetch(loc, { method: 'PUT', body: bytes })).status).to.equal(201);
        const q = `mount=${encodeURIComponent(dg(alg, bytes))}&from=${encodeURIComponent(src)}`;
        const r = inBody
          ? await fetch(`${proxy}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: q })
          : await fetch(`${proxy}/v2/${repo}/blobs/uploads/?${q}`, { method: 'POST' });
        const body = await r.text();
        expect(r.status, `${alg} ${inBody}: ${body}`).to.be.oneOf([201, 400]);
        expect(await servedUnder(repo, bytes), `${alg} ${inBody}`).to.deep.equal([]);
      }
    }
  });

  it('a client that sends the complete upload and hangs up before the answer leaves nothing served', async () => {
    for (const [i, alg] of ALGS.entries()) {
      const repo = `hangup/h${i}`;
      const bytes = manifestBytes(`hangup-${alg}`);
      const loc = await begin(repo, bytes);
      loc.searchParams.set('digest', dg(alg, bytes));
      // raw HTTP: the whole request, then the connection closed while the registry's answer is held
      const sock = net.connect(PROXY_PORT, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      sock.write(`PUT ${loc.pathname}${loc.search} HTTP/1.1\r\nHost: 127.0.0.1:${PROXY_PORT}\r\nContent-Length: 0\r\n\r\n`);
      await sleep(200);
      sock.destroy();
      // the registry has linked it by now, and answers the proxy later
      expect(await servedUnder(repo, bytes), `${alg}: linked (the registry acted on the complete request)`).to.not.deep.equal([]);
      const deadline = Date.now() + 10_000;
      let served = await servedUnder(repo, bytes);
      while (served.length && Date.now() < deadline) {
        await sleep(100);
        served = await servedUnder(repo, bytes);
      }
      expect(served, `${alg}: still served after the proxy's answer came`).to.deep.equal([]);
    }
  });

  it('when the registry errs on the check, the blob is unlinked all the same (502, push again), never left served', async () => {
    for (const alg of ALGS) {
      const repo = `unchecked/u${alg}`;
      const bytes = manifestBytes(`unchecked-${alg}`);
      const loc = await begin(repo, bytes);
      loc.searchParams.set('digest', dg(alg, bytes));
      const r = await fetch(loc, { method: 'PUT' });
      const body = await r.text();
      expect(r.status, body).to.equal(502);
      expect(await servedUnder(repo, bytes), alg).to.deep.equal([]);
    }
    // an ordinary blob whose check failed is unlinked too; pushed again where the check works, it lands
    const blob = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const again = await begin('ok/again', blob);
    again.searchParams.set('digest', dg('sha256', blob));
    expect((await fetch(again, { method: 'PUT' })).status).to.equal(201);
    expect((await fetch(`${reg.url}/v2/ok/again/blobs/${dg('sha256', blob)}`, { method: 'HEAD' })).status).to.equal(200);
  });
});
