/**
 * What the push-rights check of a held manifest PUT takes for a yes. The registry authorizes the
 * check's `PATCH` before anything else (Distribution: 401 with the push challenge, or, once
 * authorized, 404 `BLOB_UPLOAD_INVALID`); a 429 or a 5xx says nothing about the client's rights (a
 * rate limit in front of the registry answers 503 to a client that floods it, an authorization backend
 * that fails answers 500), and neither does any answer but the registry's own after authorization: a
 * front proxy's 400 for a header line the client made too long (nginx: "Request Header Or Cookie Too
 * Large"), a 405 for PATCH, a redirect, an empty 404. Those were taken for a yes: a client without push
 * rights had its manifest held, judged and audited. Generated upstream answers (status × body), an
 * in-process upstream, the real proxy.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import http from 'node:http';
import { once } from 'node:events';
import { startProxy } from '../../../src/proxy/proxy.js';
import { GateDouble } from './gate-double.js';
import { proxyTestConfig } from './config.js';

const UP_PORT = 18092;
const PROXY_PORT = 18093;

/** Distribution 2.8's answer to an authorized PATCH of an upload that does not exist (the lab registry's, verbatim). */
const UPLOAD_INVALID = '{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"blob upload invalid","detail":{}}]}\n';
/** Bodies of the check's answer: what a registry says after authorization, before it, and what a front says. */
const BODIES: Record<string, string> = {
  'upload-invalid': UPLOAD_INVALID,
  'upload-unknown': '{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown to registry"}]}',
  'name-unknown': '{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}',
  'upload-and-denied': '{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"x"},{"code":"DENIED","message":"y"}]}',
  'no-errors': '{"errors":[]}',
  // nginx's answer to a header line longer than large_client_header_buffers (a client-chosen cookie).
  'nginx-400': '<html>\r\n<head><title>400 Request Header Or Cookie Too Large</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n</body>\r\n</html>\r\n',
  empty: '',
};
const authorized = (code: number, body: string) => (code === 400 || code === 404) && (body === 'upload-invalid' || body === 'upload-unknown');

const MANIFEST = JSON.stringify({ schemaVersion: 2, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'1'.repeat(64)}`, size: 2 }, layers: [] });

describe('proxy push-rights check: what counts as a yes', function () {
  this.timeout(60_000);
  let upstream: http.Server;
  let gate: GateDouble;
  let proxy: { port: number; close(): Promise<void> };
  /** The upstream's answer to the check's PATCH. */
  let checkStatus = 404;
  let checkBody = UPLOAD_INVALID;
  const seen: string[] = [];

  before(async () => {
    upstream = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      if (req.method === 'PATCH') {
        res.writeHead(checkStatus, checkStatus === 401 ? { 'www-authenticate': 'Basic realm="lab"' } : checkStatus === 429 || checkStatus === 503 ? { 'retry-after': '7' } : {});
        res.end(checkBody);
        return;
      }
      res.writeHead(req.method === 'PUT' ? 201 : 404);
      res.end();
    });
    upstream.listen(UP_PORT, '127.0.0.1');
    await once(upstream, 'listening');
    gate = new GateDouble({ upstream: `http://127.0.0.1:${UP_PORT}` });
    proxy = await startProxy({ gate, config: proxyTestConfig(`http://127.0.0.1:${UP_PORT}`, { listen: `127.0.0.1:${PROXY_PORT}`, timeoutMs: 2000 }) });
  });
  after(async () => {
    await proxy?.close();
    upstream?.closeAllConnections();
    upstream?.close();
  });

  it('property: only an answer that comes after authorization lets the manifest be judged; 401/403 are handed back, 429 and 5xx refused, any other answer refused as unanswered, nothing judged or forwarded', async () => {
    const status = fc.oneof(fc.integer({ min: 200, max: 599 }), fc.constantFrom(200, 202, 302, 400, 401, 403, 404, 405, 429, 500, 502, 503, 504));
    await fc.assert(
      fc.asyncProperty(status, fc.constantFrom(...Object.keys(BODIES)), async (code, bodyKind) => {
        checkStatus = code;
        checkBody = BODIES[bodyKind]!;
        const judged = gate.pending.length;
        seen.length = 0;
        const r = await fetch(`http://127.0.0.1:${PROXY_PORT}/v2/ok/app/manifests/v1`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: MANIFEST });
        const body = await r.text();
        const puts = seen.filter((s) => s.startsWith('PUT '));
        if (code === 401 || code === 403) {
          expect(r.status).to.equal(code);
        } else if (code === 429 || code >= 500) {
          expect(r.status, body).to.equal(code === 429 ? 429 : 502);
          expect(JSON.parse(body).errors[0].detail.reason).to.equal('push-check-unanswered');
          if (code === 429 || code === 503) expect(r.headers.get('retry-after')).to.equal('7');
        } else if (authorized(code, bodyKind)) {
          expect(gate.pending.length, body).to.equal(judged + 1);
          expect(puts).to.deep.equal(['PUT /v2/ok/app/manifests/v1']);
          return;
        } else {
          expect(r.status, body).to.equal(502);
          expect(JSON.parse(body).errors[0]).to.deep.include({ code: 'UNAVAILABLE', detail: { reason: 'push-check-unanswered', status: code } });
        }
        expect(gate.pending.length, 'judged').to.equal(judged);
        expect(puts, 'forwarded').to.deep.equal([]);
      }),
      { numRuns: 80 },
    );
  });
});
