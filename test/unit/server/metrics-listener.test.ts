/**
 * `metrics.listen` separate from `server.listen`: the metrics listener is a plain node:http server (no
 * express), so its handler may use only what node's ServerResponse has. A scrape must answer the
 * Prometheus text and leave `pushgate serve` running; anything else on that port is a 404.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { serveChild } from '../../helpers/gate.js';
import { freePort } from '../../helpers/ports.js';

describe('serve: a separate metrics listener', function () {
  this.timeout(60_000);
  let dir: string;
  let child: ChildProcess | undefined;
  let main: number;
  let metricsPort: number;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-metrics-listener-'));
    // an empty source folder: the database build fails quickly in the background; /healthz and
    // /metrics do not need a database
    fs.mkdirSync(path.join(dir, 'osv'));
    main = await freePort();
    metricsPort = await freePort();
    const cfg = path.join(dir, 'pushgate.yaml');
    fs.writeFileSync(
      cfg,
      [
        `server: { listen: "127.0.0.1:${main}" }`,
        `metrics: { listen: "127.0.0.1:${metricsPort}" }`,
        `store: { url: "sqlite:${path.join(dir, 'pushgate.db')}" }`,
        `vulndb: { path: "${path.join(dir, 'vulndb.sqlite')}", sources: ["${path.join(dir, 'osv')}"] }`,
        '',
      ].join('\n'),
    );
    child = await serveChild(cfg, main);
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('GET /metrics answers the Prometheus text, again and again, and serve keeps running', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(r.status).to.equal(200);
      expect(r.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
      expect(await r.text()).to.match(/^# HELP pushgate_/m);
    }
    expect((await fetch(`http://127.0.0.1:${main}/healthz`)).status).to.equal(200);
    expect(child!.exitCode).to.equal(null);
  });

  it('every other path and method on the metrics port is a 404, and /metrics is not on the main listener', async () => {
    for (const [method, p] of [['GET', '/'], ['GET', '/healthz'], ['GET', '/metrics/'], ['POST', '/webhooks/distribution'], ['GET', '/api/v1/overview']] as const) {
      const r = await fetch(`http://127.0.0.1:${metricsPort}${p}`, { method });
      expect(r.status, `${method} ${p}`).to.equal(404);
    }
    expect((await fetch(`http://127.0.0.1:${main}/metrics`)).status).to.equal(404);
    expect(child!.exitCode).to.equal(null);
  });
  it('raw requests of any shape (methods, upgrades, absolute-form, huge headers, garbage, half-sent headers) leave serve answering', async () => {
    const raw = (text: string | Buffer, end = true) => new Promise<string>((resolve) => {
      const s = net.connect(metricsPort, '127.0.0.1');
      let got = '';
      s.on('data', (d) => { got += d.toString('latin1'); });
      s.on('error', () => resolve(got));
      s.on('close', () => resolve(got));
      s.write(text);
      if (end) s.end();
      else setTimeout(() => { s.destroy(); }, 200);
    });
    const big = 'x'.repeat(70_000);
    const sends: Array<string | Buffer> = [
      'HEAD /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
      'POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
      'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
      'GET http://a/metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
      `GET /metrics HTTP/1.1\r\nHost: a\r\nX-Big: ${big}\r\nConnection: close\r\n\r\n`,
      'GET /metrics HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
      'GET /metrics HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n',
      Buffer.from([0, 1, 2, 255, 13, 10, 13, 10]),
      'GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\nGET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
    ];
    for (const t of sends) await raw(t);
    // half-sent headers held open while others scrape
    const held = [raw('GET /metrics HTTP/1.1\r\nHost: a\r\nX-A: ', false), raw('GET /metr', false)];
    const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(r.status).to.equal(200);
    await Promise.all(held);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).to.equal(200);
    expect((await fetch(`http://127.0.0.1:${main}/healthz`)).status).to.equal(200);
    expect(child!.exitCode).to.equal(null);
  });
});
