/**
 * A notification receiver whose answer never ends: pushgate takes the status and drops the body
 * unread, so the heap does not grow with what the receiver streams. In-process receiver on loopback.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Notifier } from '../../../src/gate/notify.js';
import { streamBlankBody } from '../../helpers/endless-body.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
/** What the receiver writes at most before it ends on its own, bytes (a ceiling for the test's heap). */
const RECEIVER_CAP = 256 * 1024 * 1024;

describe('notify: a receiver that streams its answer without end', function () {
  this.timeout(60_000);

  it('the body is dropped unread: the receiver gets to write little, whatever the status', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(200, 202, 204, 400, 500), fc.constantFrom<'json' | 'slack'>('json', 'slack'), async (status, format) => {
        let sent = 0;
        let got = 0;
        const server = http.createServer((req, res) => {
          req.resume();
          got++;
          res.writeHead(status === 204 ? 200 : status, { 'content-type': 'application/json' });
          streamBlankBody(res, RECEIVER_CAP, (n) => (sent += n));
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
        try {
          const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
          const n = new Notifier({ targets: [{ url, format, events: ['new-findings'] }], logger: quiet, attempts: 1, timeoutMs: 3000 });
          await n.newFindings({
            event: 'new-findings', registry: 'r', repository: 'team/app', tags: ['v1'], digest: `sha256:${'a'.repeat(64)}`,
            advisories: [{ id: 'CVE-2026-0001', aliases: [], severity: 'high', packages: [{ name: 'lib', installedVersion: '1.0', fixedVersions: ['1.1'], path: '/usr/lib' }] }],
            decision: { before: 'allow', after: 'reject' }, onNewFindings: { action: 'notify', effect: 'none' }, vulndb: { before: null, after: null }, reportUrl: null, at: '2026-01-01T00:00:00.000Z',
          });
          expect(got).to.equal(1);
          // At most what sat in socket buffers when pushgate dropped the answer.
          expect(sent).to.be.below(32 * 1024 * 1024);
        } finally {
          server.closeAllConnections();
          await new Promise<void>((r) => server.close(() => r()));
        }
      }),
      { numRuns: 5 },
    );
  });
});
