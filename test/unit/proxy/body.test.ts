/**
 * The held-manifest bounds: readBody keeps at most the limit and gives up at the timeout; the held
 * count never exceeds its maximum and a release is counted once.
 */
import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { HeldManifests, readBody, type BodyRead } from '../../../src/proxy/body.js';

function serveOnce(limit: number, timeoutMs: number): Promise<{ port: number; result: Promise<BodyRead>; close(): void }> {
  return new Promise((resolve) => {
    let done!: (r: BodyRead) => void;
    const result = new Promise<BodyRead>((r) => (done = r));
    const s = http.createServer((req, res) => {
      void readBody(req, limit, timeoutMs).then((r) => {
        done(r);
        res.end();
      });
    });
    s.listen(0, '127.0.0.1', () => resolve({ port: (s.address() as AddressInfo).port, result, close: () => s.close() }));
  });
}

describe('proxy: held manifest bounds', () => {
  it('reads a body under the limit whole', async () => {
    const s = await serveOnce(1000, 2000);
    await fetch(`http://127.0.0.1:${s.port}/`, { method: 'PUT', body: 'x'.repeat(999) });
    const r = await s.result;
    expect(r.kind).to.equal('body');
    expect(r.kind === 'body' && r.bytes.length).to.equal(999);
    s.close();
  });

  it('stops at the limit (chunked, no length declared)', async () => {
    const s = await serveOnce(1000, 2000);
    const c = net.connect(s.port, '127.0.0.1', () => {
      c.write('PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
      for (let i = 0; i < 5; i++) c.write(`12c\r\n${'y'.repeat(300)}\r\n`);
    });
    c.on('error', () => undefined);
    const r = await s.result;
    expect(r.kind).to.equal('too-large');
    c.destroy();
    s.close();
  });

  it('gives up at the timeout on a body that never ends', async () => {
    const s = await serveOnce(1_000_000, 300);
    const c = net.connect(s.port, '127.0.0.1', () => c.write('PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc'));
    c.on('error', () => undefined);
    const t0 = Date.now();
    const r = await s.result;
    expect(r).to.deep.equal({ kind: 'timeout', received: 3 });
    expect(Date.now() - t0).to.be.within(250, 1500);
    c.destroy();
    s.close();
  });

  it('property: the held count never exceeds its maximum and each release counts once', () => {
    // Up to 100 operations (`size: 'max'`): at fast-check's default size, at most 10, a maximum of 4 or
    // more was never reached.
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.oneof(fc.constant('take' as const), fc.nat(20)), { maxLength: 100, size: 'max' }), (max, ops) => {
        const h = new HeldManifests(max);
        const releases: Array<() => void> = [];
        for (const op of ops) {
          if (op === 'take') {
            const r = h.tryAcquire();
            if (r) releases.push(r);
            else if (h.held !== max) return false;
          } else if (releases.length) {
            const r = releases[op % releases.length]!;
            r();
            r();
            releases.splice(releases.indexOf(r), 1);
          }
          if (h.held !== releases.length || h.held > max) return false;
        }
        return true;
      }),
    );
  });
});
