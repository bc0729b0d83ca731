/**
 * Credentials of vulnerability sources stay out of what pushgate says and stores, and the NVD API key goes
 * to NVD only.
 *
 * - A `vulndb.sources` URL may carry a credential: user info (`https://user:pass@mirror/…`, which Node's
 *   fetch refuses to send, and whose error text repeats the URL) or a query token (a pre-signed S3/GCS/Azure
 *   URL, a package registry's `?private_token=`). Neither may reach the log, the error of a failed build
 *   (which the unauthenticated `/readyz` shows), the stored index (`sources`, `sourceStatus`, the HTTP cache
 *   keys) or the console's overview.
 * - `vulndb.nvdApiKey` is sent only to https://services.nvd.nist.gov and never along a redirect: Node's fetch
 *   drops `Authorization` when a redirect leaves the origin, but keeps every other header, `apiKey` included.
 *
 * Real components: `pushgate serve` as a child process (its /readyz and its log), real HTTP servers on
 * loopback serving an OSV zip and recording every request, Node's own fetch. NVD itself cannot be made to
 * redirect: its origin is mapped onto a loopback server by the fetch handed to the updater (the only fake).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { redactSecretsInText } from '../../src/core/redact.js';
import { fetchNvdApi, NVD_API_ORIGIN } from '../../src/vulndb/enrich/nvd.js';
import { updateDb, VulnDb } from '../../src/vulndb/index.js';
import { freePort } from '../helpers/ports.js';
import { ROOT } from '../helpers/lab.js';
import { makeZip } from '../unit/vulndb/zip.js';

const RECORD = JSON.stringify({
  id: 'GHSA-test-0001', modified: '2024-01-01T00:00:00Z',
  affected: [{ package: { ecosystem: 'npm', name: 'left-pad' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '2.0.0' }] }] }],
});

interface Recorder {
  server: http.Server;
  origin: string;
  requests: Array<{ url: string; headers: http.IncomingHttpHeaders }>;
}

/** A loopback HTTP server that records every request and answers with `handle`. */
async function recorder(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Recorder> {
  const requests: Recorder['requests'] = [];
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

/** Secrets as people write them: letters, digits and the URL-safe punctuation of tokens. */
const secretArb = fc.stringMatching(/^[A-Za-z0-9_-]{12,40}$/).map((s) => `S3cr${s}`);
/** Query parameter names that carry a credential in real pre-signed and token URLs. */
const paramArb = fc.constantFrom('token', 'private_token', 'access_token', 'X-Amz-Signature', 'X-Amz-Credential', 'X-Goog-Signature', 'sig', 'apiKey', 'api_key', 'password', 'auth');

describe('security: vulnerability source credentials', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-vulndb-creds-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('property: a query token of a source URL reaches no log line, stored name or status (real HTTP server)', async () => {
    const zip = makeZip({ 'R.json': RECORD });
    const srv = await recorder((_req, res) => res.writeHead(200, { 'content-type': 'application/zip', etag: '"v1"' }).end(zip));
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(paramArb, secretArb, fc.boolean(), async (param, secret, extra) => {
          const dir = path.join(tmp, `q-${run++}`);
          fs.mkdirSync(dir);
          const url = `${srv.origin}/osv/npm/all.zip?${extra ? 'ecosystem=npm&' : ''}${param}=${secret}`;
          const lines: string[] = [];
          const progress: string[] = [];
          const dbPath = path.join(dir, 'vulndb.sqlite');
          const stats = await updateDb({ path: dbPath, sources: [url], log: (l) => lines.push(l), onProgress: (p) => progress.push(p.source) });
          // the token was used: the download carried it
          expect(srv.requests.at(-1)!.url).to.include(secret);
          const db = VulnDb.open(dbPath);
          let status: unknown;
          let meta: string;
          try {
            status = db.status();
          } finally {
            db.close();
          }
          const raw = new (await import('better-sqlite3')).default(dbPath, { readonly: true });
          try {
            meta = JSON.stringify(raw.prepare('SELECT key, value FROM meta').all());
          } finally {
            raw.close();
          }
          const said = JSON.stringify({ lines, progress, stats, status, meta });
          expect(lines.length).to.be.greaterThan(0);
          expect(said).not.to.include(secret);
          // a second build still answers the conditional request from the cache kept under the redacted name
          srv.requests.length = 0;
          await updateDb({ path: dbPath, sources: [url], log: (l) => lines.push(l) });
          expect(srv.requests[0]!.headers['if-none-match']).to.equal('"v1"');
          expect(JSON.stringify(lines)).not.to.include(secret);
        }),
        { numRuns: 25 },
      );
    } finally {
      srv.server.close();
    }
  });

  it('property: user info of a source URL reaches neither the error nor the log (Node fetch refuses such URLs)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/), secretArb, fc.constantFrom('http', 'https'), async (user, secret, scheme) => {
        const dir = path.join(tmp, `u-${run++}`);
        fs.mkdirSync(dir);
        const lines: string[] = [];
        let err: unknown;
        try {
          await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [`${scheme}://${user}:${secret}@127.0.0.1:9/osv/npm/all.zip`], log: (l) => lines.push(l) });
        } catch (e) {
          err = e;
        }
        expect(err).to.be.instanceOf(Error);
        const e = err as Error;
        expect(JSON.stringify({ m: e.message, s: e.stack, c: String((e as { cause?: unknown }).cause ?? ''), lines })).not.to.include(secret);
        expect(e.message).to.include('127.0.0.1:9');
      }),
      { numRuns: 20 },
    );
  });

  it('pushgate serve: a source password is not on the unauthenticated /readyz nor in the log', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'serve-'));
    const port = await freePort();
    const secret = 'Hunter2MirrorPassword';
    const file = path.join(dir, 'pushgate.yaml');
    fs.writeFileSync(file, [
      'server:', `  listen: 127.0.0.1:${port}`,
      'log:', '  level: debug',
      'store:', `  url: sqlite:${dir}/pushgate.db`,
      'vulndb:', `  path: ${dir}/vulndb.sqlite`, `  sources: ['https://mirror-user:${secret}@127.0.0.1:9/osv/npm/all.zip?token=${secret}X']`,
      'registries:', '  - name: lab', '    url: http://127.0.0.1:9', '    webhook:', '      token: 0123456789abcdef0123456789abcdef',
      '',
    ].join('\n'));
    let out = '';
    const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), 'serve', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (out += String(d)));
    child.stderr!.on('data', (d) => (out += String(d)));
    try {
      let ready = '';
      for (let i = 0; i < 200 && !/last build failed/.test(ready); i++) {
        await new Promise((r) => setTimeout(r, 100));
        try {
          ready = await (await fetch(`http://127.0.0.1:${port}/readyz`)).text();
        } catch {
          /* not listening yet */
        }
      }
      expect(ready).to.match(/last build failed/);
      expect(ready).to.include('127.0.0.1:9');
      expect(ready).not.to.include(secret);
      expect(out).to.match(/vulnerability database could not be built/);
      expect(out).not.to.include(secret);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it('property: the NVD API key goes to NVD only, never along a redirect, never to another nvd: URL', async () => {
    const page = JSON.stringify({ totalResults: 0, vulnerabilities: [] });
    const elsewhere = await recorder((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(page));
    let redirect = { status: 302, to: '' };
    const nvd = await recorder((_req, res) => {
      if (redirect.to) res.writeHead(redirect.status, { location: redirect.to }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(page);
    });
    // NVD's origin mapped onto the loopback server; every other URL fetched as it is
    const toNvd = ((input: string | URL | Request, init?: RequestInit) => {
      const u = new URL(input instanceof Request ? input.url : input.toString());
      if (u.origin === NVD_API_ORIGIN) return fetch(`${nvd.origin}${u.pathname}${u.search}`, init);
      return fetch(u, init);
    }) as typeof fetch;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(301, 302, 303, 307, 308),
          fc.constantFrom('absolute', 'other-port-nvd-path', 'none'),
          fc.boolean(),
          secretArb,
          async (status, where, viaNvd, key) => {
            nvd.requests.length = 0;
            elsewhere.requests.length = 0;
            redirect = { status, to: where === 'none' ? '' : where === 'absolute' ? `${elsewhere.origin}/cdn/page.json` : `${elsewhere.origin}/rest/json/cves/2.0` };
            const url = viaNvd ? `${NVD_API_ORIGIN}/rest/json/cves/2.0` : `${elsewhere.origin}/rest/json/cves/2.0`;
            await fetchNvdApi(url, key, toNvd, () => undefined);
            for (const r of elsewhere.requests) expect(JSON.stringify(r.headers), `${elsewhere.origin}${r.url}`).not.to.include(key);
            if (viaNvd) expect(nvd.requests[0]!.headers.apikey).to.equal(key);
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      nvd.server.close();
      elsewhere.server.close();
    }
  });

  it('redaction covers the class: user info up to the last @, secret query parameters, text around them', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]{1,8}$/), secretArb, fc.constantFrom('', ')', '"', ' ', '@x'), paramArb, (user, secret, tail, param) => {
        const text = `GET https://${user}:${secret}@h.example:8443/p?${param}=${secret}&a=1${tail} failed`;
        const out = redactSecretsInText(text);
        expect(out).not.to.include(secret);
        expect(out).to.include('h.example:8443/p?');
        expect(out).to.include('&a=1');
      }),
    );
    expect(redactSecretsInText('no URL here: a=1&b=2')).to.equal('no URL here: a=1&b=2');
  });
});
