/**
 * Every listener bounds its request, against a real `pushgate serve` child (API/webhooks, the push
 * proxy in front of a real Distribution registry with htpasswd auth, the admission listener over
 * mTLS) driven by raw-socket clients that send slowly, lie about sizes or never finish:
 * - proxy manifest PUT: the pusher's credentials are checked before a byte of the body is read
 *   (401 with nothing sent), then the size (413), then a held slot (429 + Retry-After beyond
 *   proxy.maxHeldManifests), then the body within proxy.bodyTimeout (408);
 * - slow bodies do not grow the process's memory without bound (RSS of the child before/during);
 * - webhooks and admission: server.readTimeout cuts slow senders off (408); the admin API answers
 *   401 to a caller without a token before reading its body;
 * - /metrics: 300 junk pushes to made-up repositories add no series; a judged repository is
 *   labelled, folded to metrics.repositoryDepth;
 * - non-ASCII repository names get a 4xx naming the rule, never a 5xx (table and fast-check).
 * Ports 22100-22119.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { updateDb } from '../../../src/vulndb/index.js';
import { serveChild } from '../../helpers/gate.js';
import { labImages, labOci, ROOT, skopeoCopyAsync, startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { basic, makeMtls, mib, podReview, postReview, rssBytes, scrape, series, serveConfig, slowRequest, type Mtls, type RawReply } from './harness.js';

const REG_PORT = 22101;
const API_PORT = 22110;
const PROXY_PORT = 22111;
const ADM_PORT = 22112;
const TOKEN = 'bounds-webhook-token-0123456789';
const API_TOKEN = 'bounds-viewer-token-0123456789';
const CREDS = 'lab:labpass';
const MAX_HELD = 8;
const BODY_TIMEOUT_S = 3;
const READ_TIMEOUT_S = 3;
const LIMIT = 4 * 1024 * 1024;

const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

function putHead(repo: string, ref: string, headers: string[]): string {
  return [`PUT /v2/${repo}/manifests/${ref} HTTP/1.1`, `Host: 127.0.0.1:${PROXY_PORT}`, `Content-Type: ${MANIFEST_TYPE}`, ...headers].join('\r\n');
}

/** One request on a raw socket (bytes as given, latin1), its whole response. */
function rawOnce(port: number, request: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(request));
    let d = Buffer.alloc(0);
    c.on('data', (x: Buffer) => {
      d = Buffer.concat([d, x]);
    });
    c.on('error', reject);
    c.on('close', () => {
      const text = d.toString('utf8');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

/** A manifest naming a config and a layer no registry holds: the gate cannot judge it. */
function junkManifest(): Buffer {
  const d = (): string => `sha256:${randomBytes(32).toString('hex')}`;
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d(), size: 100 }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d(), size: 100 }] }));
}

describe('bounds: every listener bounds its request (real registry, real pushgate serve)', function () {
  this.timeout(180_000);
  let dir: string;
  let reg: LabRegistry;
  let child: ChildProcess;
  let mtls: Mtls;
  let stderr = '';
  const metricsUrl = `http://127.0.0.1:${API_PORT}/metrics`;

  before(async () => {
    labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-bounds-'));
    reg = startRegistry(REG_PORT, { auth: 'htpasswd' });
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    mtls = makeMtls(dir);
    const file = serveConfig({
      dir,
      apiPort: API_PORT,
      proxyPort: PROXY_PORT,
      admissionPort: ADM_PORT,
      mtls,
      registryUrl: reg.url,
      registryCreds: CREDS,
      webhookToken: TOKEN,
      apiToken: API_TOKEN,
      extra: { readTimeout: `${READ_TIMEOUT_S}s`, bodyTimeout: `${BODY_TIMEOUT_S}s`, maxHeldManifests: MAX_HELD, repositoryDepth: 2 },
    });
    child = await serveChild(file, API_PORT, {}, (d) => {
      stderr = (stderr + d).slice(-20_000);
    });
    // The proxy and admission listeners come up after /healthz: wait for readiness of both.
    for (let i = 0; i < 100; i++) {
      const r = (await (await fetch(`http://127.0.0.1:${API_PORT}/readyz`)).json()) as { listeners?: Record<string, string> };
      if (r.listeners?.proxy === 'up' && r.listeners?.admission === 'up') break;
      await new Promise((res) => setTimeout(res, 100));
    }
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((res) => child.once('exit', res));
      child.kill('SIGTERM');
      await exited;
    }
    reg?.stop();
    if (process.env.KEEP_DIR) process.stderr.write(`kept ${dir}\n${stderr}\n`);
    else fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('proxy: a manifest PUT', () => {
    const refusedCredentials: Array<[string, string[]]> = [
      ['no Authorization', []],
      ['a wrong password', [`Authorization: ${basic('lab:wrong')}`]],
      ['an unknown user', [`Authorization: ${basic('mallory:labpass')}`]],
      ['a Bearer token the registry does not know', ['Authorization: Bearer not-a-token']],
      ['an empty Basic credential', ['Authorization: Basic ']],
    ];
    for (const [what, auth] of refusedCredentials) {
      for (const expectContinue of [false, true]) {
        it(`with ${what}${expectContinue ? ' and Expect: 100-continue' : ''} gets 401 without sending a byte of its 4 MB body`, async () => {
          const headers = [...auth, `Content-Length: ${LIMIT - 1}`, ...(expectContinue ? ['Expect: 100-continue'] : [])];
          // The client never sends its body: only an answer given before reading it can arrive.
          const r = await slowRequest(PROXY_PORT, putHead('team/app', 'v1', headers), { bodyBytes: LIMIT - 1, chunk: 1, everyMs: 1000, waitForContinue: true, giveUpMs: 10_000 });
          expect(r.status, JSON.stringify(r)).to.equal(401);
          expect(r.sent).to.equal(0);
          expect(r.continued, 'no 100 Continue before the credentials are accepted').to.equal(false);
          expect(r.headers['www-authenticate']).to.match(/^Basic realm=/);
          expect(r.ms).to.be.below(5000);
        });
      }
    }

    it('over scan.maxManifestBytes gets 413 once the credentials are accepted (declared or streamed), 401 first without them', async () => {
      const declared = await slowRequest(PROXY_PORT, putHead('team/app', 'big', [`Authorization: ${basic(CREDS)}`, `Content-Length: ${LIMIT + 1}`]), { bodyBytes: LIMIT + 1, chunk: 1, everyMs: 1000, waitForContinue: true, giveUpMs: 10_000 });
      expect(declared.status).to.equal(413);
      expect(declared.body).to.include('SIZE_INVALID').and.include('scan.maxManifestBytes');
      expect(declared.sent).to.equal(0);
      const anon = await slowRequest(PROXY_PORT, putHead('team/app', 'big', [`Content-Length: ${LIMIT + 1}`]), { bodyBytes: LIMIT + 1, chunk: 1, everyMs: 1000, waitForContinue: true, giveUpMs: 10_000 });
      expect(anon.status, 'no body limit is disclosed before authentication').to.equal(401);
      // Chunked: no length to judge by, the limit is hit while reading.
      const streamed = await slowRequest(PROXY_PORT, putHead('team/app', 'big', [`Authorization: ${basic(CREDS)}`, 'Transfer-Encoding: chunked']), { bodyBytes: 0, chunk: 1, everyMs: 1000, waitForContinue: true, giveUpMs: 20_000, chunked: { size: 256 * 1024, count: 20, everyMs: 5 } });
      expect(streamed.status).to.equal(413);
      expect(streamed.sent).to.be.above(LIMIT).and.below(LIMIT + 3 * 256 * 1024 + 64 * 1024);
    });

    it(`held beyond proxy.maxHeldManifests (${MAX_HELD}) gets 429 with Retry-After; held slow bodies get 408 after proxy.bodyTimeout; then pushes go through`, async () => {
      const held: Array<Promise<RawReply>> = [];
      for (let i = 0; i < MAX_HELD; i++) {
        held.push(slowRequest(PROXY_PORT, putHead(`team/slow${i}`, 'v1', [`Authorization: ${basic(CREDS)}`, 'Content-Length: 100000']), { bodyBytes: 100_000, chunk: 1000, everyMs: 200, holdLast: true, giveUpMs: 30_000 }));
      }
      // Every held one has passed its credentials check and holds a slot once it sent a byte.
      await new Promise((r) => setTimeout(r, 800));
      const over = await Promise.all(
        Array.from({ length: 4 }, (_, i) => slowRequest(PROXY_PORT, putHead(`team/over${i}`, 'v1', [`Authorization: ${basic(CREDS)}`, 'Content-Length: 100000']), { bodyBytes: 100_000, chunk: 1000, everyMs: 200, holdLast: true, giveUpMs: 10_000 })),
      );
      for (const r of over) {
        expect(r.status, JSON.stringify(r)).to.equal(429);
        expect(r.headers['retry-after']).to.equal('5');
        expect(r.body).to.include('TOOMANYREQUESTS').and.include('proxy.maxHeldManifests');
        expect(r.ms).to.be.below(3000);
      }
      const slow = await Promise.all(held);
      for (const r of slow) {
        expect(r.status, JSON.stringify(r)).to.equal(408);
        expect(r.body).to.include('proxy.bodyTimeout');
        expect(r.ms).to.be.within(BODY_TIMEOUT_S * 1000 - 200, BODY_TIMEOUT_S * 1000 + 3000);
      }
      const push = await skopeoCopyAsync(labOci('debian-minbase', 'bookworm'), `127.0.0.1:${PROXY_PORT}/team/after-slow:1`, { creds: CREDS });
      expect(push.code, push.stderr).to.equal(0);
    });

    it('slow-body clients (40 authenticated, 40 not, ~4 MB each) do not grow the process memory without bound', async () => {
      const pid = child.pid!;
      const before = rssBytes(pid);
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssBytes(pid));
      }, 100);
      const t0 = Date.now();
      const size = LIMIT - 64 * 1024;
      const authed: Array<Promise<RawReply>> = [];
      const anon: Array<Promise<RawReply>> = [];
      for (let i = 0; i < 40; i++) {
        authed.push(slowRequest(PROXY_PORT, putHead(`slow/a${i}`, 'v1', [`Authorization: ${basic(CREDS)}`, `Content-Length: ${size}`]), { bodyBytes: size, chunk: 256 * 1024, everyMs: 25, holdLast: true, giveUpMs: 30_000 }));
        anon.push(slowRequest(PROXY_PORT, putHead(`slow/u${i}`, 'v1', [`Content-Length: ${size}`]), { bodyBytes: size, chunk: 256 * 1024, everyMs: 25, holdLast: true, giveUpMs: 30_000 }));
      }
      const replies = await Promise.all(authed);
      const anonReplies = await Promise.all(anon);
      clearInterval(sampler);
      const after = rssBytes(pid);
      const count = (s: number): number => [...replies, ...anonReplies].filter((r) => r.status === s).length;
      process.stdout.write(
        `      slow bodies: 80 clients (40 authenticated) of ${mib(size)} MiB: 401×${count(401)} 429×${count(429)} 408×${count(408)} in ${((Date.now() - t0) / 1000).toFixed(1)}s; ` +
          `RSS before ${mib(before)} MiB, peak ${mib(peak)} MiB (+${mib(peak - before)}), after ${mib(after)} MiB\n`,
      );
      // An unauthenticated client is answered 401 and disconnected at once; one still writing may see
      // the reset before it reads the 401. Either way it never held a slot and sent little.
      for (const r of anonReplies) {
        expect(r.status === 401 || (r.status === 0 && r.closed), JSON.stringify({ ...r, body: undefined })).to.equal(true);
        expect(r.ms).to.be.below(3000);
      }
      expect(replies.map((r) => r.status).filter((s) => s !== 408 && s !== 429)).to.deep.equal([]);
      expect(count(408)).to.be.at.most(MAX_HELD);
      // What the authenticated ones may hold: maxHeldManifests × the manifest limit, plus headroom for the
      // process itself. Unbounded, 80 × 4 MB buffers would add more than 300 MiB.
      expect(peak - before).to.be.below(MAX_HELD * LIMIT + 64 * 1024 * 1024);
    });

    it('300 junk pushes to made-up repositories add no /metrics series; a judged repository is labelled, folded to metrics.repositoryDepth', async () => {
      const before = await scrape(metricsUrl);
      let i = 0;
      const statuses: number[] = [];
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          while (i < 300) {
            const n = i++;
            const body = junkManifest();
            const r = await fetch(`http://127.0.0.1:${PROXY_PORT}/v2/junk${n}/made-up-${randomBytes(3).toString('hex')}/manifests/v${n}`, { method: 'PUT', headers: { authorization: basic(CREDS), 'content-type': MANIFEST_TYPE }, body });
            statuses.push(r.status);
            await r.arrayBuffer();
          }
        }),
      );
      // And 300 events of made-up actions for made-up repositories from the authenticated sender.
      const events = Array.from({ length: 300 }, (_, n) => ({ id: `junk-${n}`, action: `junk-action-${n}`, target: { repository: `junk${n}/w`, digest: `sha256:${randomBytes(32).toString('hex')}` } }));
      const w = await fetch(`http://127.0.0.1:${API_PORT}/webhooks/distribution`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/vnd.docker.distribution.events.v2+json' }, body: JSON.stringify({ events }) });
      expect(w.status).to.equal(202);
      const after = await scrape(metricsUrl);
      process.stdout.write(
        `      junk: 300 proxy pushes (${[...new Set(statuses)].join(',')}) + 300 webhook events; /metrics ${before.length} → ${after.length} bytes; ` +
          `blocked_pushes series ${series(before, 'pushgate_blocked_pushes_total').length} → ${series(after, 'pushgate_blocked_pushes_total').length}, ` +
          `events_received series ${series(before, 'pushgate_events_received_total').length} → ${series(after, 'pushgate_events_received_total').length}\n`,
      );
      expect(statuses.every((s) => s >= 400 && s < 500), `statuses ${[...new Set(statuses)]}`).to.equal(true);
      expect(after.split('\n').filter((l) => l.includes('junk'))).to.deep.equal([]);
      expect(series(after, 'pushgate_blocked_pushes_total').length).to.be.at.most(series(before, 'pushgate_blocked_pushes_total').length + 1);
      expect(series(after, 'pushgate_events_received_total').length).to.be.at.most(series(before, 'pushgate_events_received_total').length + 1);
      expect(after.length - before.length).to.be.below(4096);

      const bad = await skopeoCopyAsync(labOci('adm-zip', '0.4.7'), `127.0.0.1:${PROXY_PORT}/team/app/api:1`, { creds: CREDS });
      expect(bad.code).to.not.equal(0);
      expect(bad.stderr).to.match(/denied: pushgate refused team\/app\/api:1/);
      const judged = await scrape(metricsUrl);
      expect(series(judged, 'pushgate_blocked_pushes_total').some((l) => l.includes('repository="team/app"') && l.includes('mode="sync"'))).to.equal(true);
      expect(judged).to.not.include('repository="team/app/api"');
    });
  });

  describe('non-ASCII repository names', () => {
    const paths: Array<[string, string, string]> = [
      // [method, target as sent (UTF-8 bytes), what]
      ['PUT', '/v2/tëam/app/manifests/v1', 'raw UTF-8 in a manifest PUT'],
      ['PUT', '/v2/team/%C3%A9/manifests/v1', 'percent-encoded UTF-8 in a manifest PUT'],
      ['HEAD', '/v2/tеam/app/manifests/v1', 'a Cyrillic homoglyph in a manifest HEAD'],
      ['GET', '/v2/ｔeam/app/tags/list', 'a fullwidth letter in tags/list'],
      ['POST', '/v2/team/äpp/blobs/uploads/', 'raw UTF-8 in a blob upload'],
      ['GET', '/v2/team/%E2%80%8Bapp/manifests/v1', 'an encoded zero-width space'],
      ['DELETE', '/v2/team/app%C2%A0/manifests/v1', 'an encoded no-break space'],
      ['GET', '/v2/team/app/tags/list?n=1&last=é', 'raw UTF-8 in the query'],
    ];
    for (const [method, target, what] of paths) {
      it(`${what}: 4xx naming the rule`, async () => {
        const body = method === 'PUT' ? junkManifest() : Buffer.alloc(0);
        const head = Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${PROXY_PORT}\r\nAuthorization: ${basic(CREDS)}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`, 'utf8');
        const r = await rawOnce(PROXY_PORT, Buffer.concat([head, body]));
        expect(r.status, r.body).to.be.within(400, 499);
        if (!target.includes('?')) expect(r.body, r.body).to.match(/non-ASCII/);
        else expect(r.body, 'a query is the registry\'s business: answered as it answers').to.not.match(/internal error/);
      });
    }

    it('webhook events and admin API lookups of non-ASCII names are refused or ignored, never a 5xx', async () => {
      const w = await fetch(`http://127.0.0.1:${API_PORT}/webhooks/distribution`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/vnd.docker.distribution.events.v2+json' },
        body: JSON.stringify({ events: [{ id: 'u1', action: 'push', target: { repository: 'tëam/app', digest: `sha256:${'a'.repeat(64)}`, tag: 'v1', mediaType: MANIFEST_TYPE } }] }),
      });
      expect(w.status).to.equal(202);
      expect(((await w.json()) as { accepted: number }).accepted).to.equal(0);
      for (const image of [`127.0.0.1:${REG_PORT}/tëam/app:1`, `127.0.0.1:${REG_PORT}/team/%C3%A9:1`, `127.0.0.1:${REG_PORT}/ｔeam/app@sha256:${'a'.repeat(64)}`]) {
        const r = await fetch(`http://127.0.0.1:${API_PORT}/api/v1/verdicts?image=${encodeURIComponent(image)}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
        expect(r.status, `${image}: ${await r.clone().text()}`).to.be.within(400, 499);
      }
    });

    it('property: a manifest PUT whose repository holds any non-ASCII character gets a 4xx, never a 5xx', async () => {
      const nonAscii = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }).filter((s) => /[^\u0020-\u007e]/.test(s) && /[^\p{ASCII}]/u.test(s) && !/[/?#%\s]/.test(s));
      await fc.assert(
        fc.asyncProperty(nonAscii, fc.constantFrom('raw', 'encoded'), fc.nat(2), async (bad, spelling, pos) => {
          const comps = ['team', 'app'];
          comps.splice(Math.min(pos, 2), 0, bad);
          const repo = comps.map((c) => (spelling === 'encoded' ? encodeURIComponent(c) : c)).join('/');
          const body = junkManifest();
          const head = Buffer.from(`PUT /v2/${repo}/manifests/v1 HTTP/1.1\r\nHost: x\r\nAuthorization: ${basic(CREDS)}\r\nContent-Type: ${MANIFEST_TYPE}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`, 'utf8');
          const r = await rawOnce(PROXY_PORT, Buffer.concat([head, body]));
          return r.status >= 400 && r.status < 500 && /non-ASCII/.test(r.body);
        }),
        { numRuns: 100 },
      );
    });
  });

  describe('webhooks, admission and the admin API', () => {
    it(`a webhook sender with the token that sends its body slowly gets 408 after server.readTimeout (${READ_TIMEOUT_S}s)`, async () => {
      const head = ['POST /webhooks/distribution HTTP/1.1', 'Host: x', `Authorization: Bearer ${TOKEN}`, 'Content-Type: application/json', 'Content-Length: 1000000'].join('\r\n');
      const rs = await Promise.all(Array.from({ length: 5 }, () => slowRequest(API_PORT, head, { bodyBytes: 1_000_000, chunk: 100, everyMs: 100, holdLast: true, giveUpMs: 20_000 })));
      for (const r of rs) {
        expect(r.status, JSON.stringify(r)).to.equal(408);
        expect(r.ms).to.be.within(READ_TIMEOUT_S * 1000 - 200, READ_TIMEOUT_S * 1000 + 2500);
      }
    });

    it('a keep-alive connection to the API listener idle for 6 s (past Node\'s default 5 s) still carries the next request', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const get = () => new Promise<{ status: number; port: number }>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port: API_PORT, path: '/healthz', agent }, (res) => {
            // the socket goes back to the agent at the end of the response: read its port before
            const port = res.socket.localPort ?? 0;
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, port }));
          }).on('error', reject);
        });
        const first = await get();
        let closed = false;
        for (const list of Object.values(agent.freeSockets)) for (const s of list ?? []) s.once('close', () => { closed = true; });
        await new Promise((res) => setTimeout(res, 6_000));
        expect(closed, 'the server closed the idle connection').to.equal(false);
        const second = await get();
        expect([first.status, second.status]).to.deep.equal([200, 200]);
        expect(second.port, 'the same connection').to.equal(first.port);
      } finally {
        agent.destroy();
      }
    });

    it('a webhook sender without the token gets 401 before any of its body is read', async () => {
      const head = ['POST /webhooks/distribution HTTP/1.1', 'Host: x', 'Content-Type: application/json', 'Content-Length: 1000000'].join('\r\n');
      const r = await slowRequest(API_PORT, head, { bodyBytes: 1_000_000, chunk: 1, everyMs: 1000, waitForContinue: true, giveUpMs: 10_000 });
      expect(r.status).to.equal(401);
      expect(r.sent).to.equal(0);
    });

    it('the admin API answers 401 to a caller without a token before reading its body', async () => {
      const head = ['POST /api/v1/scans HTTP/1.1', 'Host: x', 'Content-Type: application/json', 'Content-Length: 60000'].join('\r\n');
      const r = await slowRequest(API_PORT, head, { bodyBytes: 60_000, chunk: 1, everyMs: 1000, waitForContinue: true, giveUpMs: 10_000 });
      expect(r.status).to.equal(401);
      expect(r.sent).to.equal(0);
    });

    it('the admission listener: a review sent slowly by the authenticated API server gets 408 after server.readTimeout; a normal review is answered', async () => {
      const head = ['POST /admission/validate?timeout=10s HTTP/1.1', 'Host: x', 'Content-Type: application/json', 'Content-Length: 200000'].join('\r\n');
      const r = await slowRequest(ADM_PORT, head, { bodyBytes: 200_000, chunk: 100, everyMs: 100, holdLast: true, giveUpMs: 20_000, tls: mtls.client });
      expect(r.status, JSON.stringify(r)).to.equal(408);
      expect(r.ms).to.be.within(READ_TIMEOUT_S * 1000 - 200, READ_TIMEOUT_S * 1000 + 2500);
      const ok = await postReview(ADM_PORT, mtls.client, podReview('u-ok', ['docker.io/library/busybox:1']));
      expect(ok.status).to.equal(200);
      expect(ok.body.response?.allowed).to.equal(true);
    });
  });
});
