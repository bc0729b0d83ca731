/**
 * `pushgate serve`'s startup line names every listener the process opened: the main one first (in the
 * form scripts read), then the separate metrics listener, the admission listener (TLS, and whether it
 * authenticates callers) and the push proxy (TLS or clear text), each with its bound port. The real CLI
 * in a child process on ephemeral loopback ports; each named port is then connected to, so the line
 * cannot name a port nothing listens on. The line's composition over every mix of listeners is a
 * property (startupLine).
 */
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startupLine } from '../../../src/cli/commands/serve.js';
import type { PushgateConfig } from '../../../src/config/types.js';
import { ROOT } from '../../helpers/lab.js';
import { freePort } from '../../helpers/ports.js';

/** Resolves once a TCP connection to 127.0.0.1:`port` is accepted; rejects on refusal. */
function connects(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve();
    });
    s.once('error', reject);
  });
}

describe('cli: pushgate serve names every listener it opened', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-serve-line-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pushgate', '-keyout', 'tls.key', '-out', 'tls.crt'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('main, metrics, admission and proxy: one line, every port bound', async () => {
    const metricsPort = await freePort();
    fs.mkdirSync(path.join(dir, 'no-sources'), { recursive: true });
    const cfg = path.join(dir, 'serve.yaml');
    fs.writeFileSync(cfg, [
      'server:', '  listen: 127.0.0.1:0',
      'metrics:', `  listen: 127.0.0.1:${metricsPort}`,
      'store:', `  url: sqlite:${path.join(dir, 'pushgate.db')}`,
      // an empty directory: serve starts without a database (its build is retried in the background)
      'vulndb:', `  path: ${path.join(dir, 'vulndb.sqlite')}`, '  sources: [' + JSON.stringify(path.join(dir, 'no-sources')) + ']',
      'registries:', '  - name: lab', '    url: http://127.0.0.1:9', '    webhook:', '      token: abcdefabcdefabcdefabcdef',
      'admission:', '  listen: 127.0.0.1:0', '  tls:', `    cert: ${path.join(dir, 'tls.crt')}`, `    key: ${path.join(dir, 'tls.key')}`, `  clientCA: ${path.join(dir, 'tls.crt')}`,
      'proxy:', '  listen: 127.0.0.1:0', '  upstream: http://127.0.0.1:9',
    ].join('\n'));
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), 'serve', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let err = '';
        child.stderr!.on('data', (d) => {
          err += String(d);
          const l = err.split('\n').find((x) => x.startsWith('pushgate: serving on'));
          if (l !== undefined && err.includes(`${l}\n`)) resolve(l);
        });
        child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
      });
      const m = /^pushgate: serving on 127\.0\.0\.1:0 \(port (\d+)\); metrics on 127\.0\.0\.1:(\d+) \(port (\d+)\); admission on 127\.0\.0\.1:0 \(port (\d+), TLS, client certificate required\); push proxy on 127\.0\.0\.1:0 \(port (\d+), clear text\); configuration (.+)$/.exec(line);
      expect(m, line).to.not.equal(null);
      const [main, metricsListen, metrics, admission, proxy] = m!.slice(1, 6).map(Number);
      // the file it read, absolute
      expect(m![6]).to.equal(cfg);
      expect(metricsListen).to.equal(metricsPort);
      expect(metrics).to.equal(metricsPort);
      // the form the scale-out harness and scripts read still finds the main port
      expect(Number(/pushgate: serving on \S+ \(port (\d+)\)/.exec(line)![1])).to.equal(main);
      expect(new Set([main, metrics, admission, proxy]).size).to.equal(4);
      for (const p of [main, metrics, admission, proxy]) await connects(p);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    }
  });

  it('property: the main listener first, each configured listener once with its port, none that is not', () => {
    const listen = fc.constantFrom('0.0.0.0:8080', '127.0.0.1:0', '[::1]:9000');
    fc.assert(
      fc.property(
        fc.record({
          main: listen, port: fc.integer({ min: 1, max: 65535 }),
          metrics: fc.option(fc.tuple(listen, fc.integer({ min: 1, max: 65535 })), { nil: undefined }),
          admission: fc.option(fc.tuple(fc.option(listen, { nil: undefined }), fc.integer({ min: 1, max: 65535 }), fc.boolean()), { nil: undefined }),
          admissionTls: fc.boolean(),
          registries: fc.nat({ max: 2 }),
          proxy: fc.option(fc.tuple(listen, fc.integer({ min: 1, max: 65535 }), fc.boolean()), { nil: undefined }),
          file: fc.option(fc.constantFrom('/etc/pushgate/pushgate.yaml', 'config/pushgate.yaml', 'my conf.yaml'), { nil: undefined }),
        }),
        (c) => {
          const config = {
            server: { listen: c.main },
            metrics: { listen: c.metrics?.[0] },
            // a running admission listener has TLS (it does not start without)
            admission: { listen: c.admission?.[0], ...(c.admission?.[2] ? { clientCA: '/ca.crt' } : {}), ...(c.admission || c.admissionTls ? { tls: { cert: 'c', key: 'k' } } : {}) },
            registries: Array.from({ length: c.registries }, (_, i) => ({ name: `r${i}` })),
            proxy: { listen: c.proxy?.[0], ...(c.proxy?.[2] ? { tls: { cert: 'c', key: 'k' } } : {}) },
          } as unknown as PushgateConfig;
          const line = startupLine(config, { port: c.port, metricsPort: c.metrics?.[1], admissionPort: c.admission?.[1], proxyPort: c.proxy?.[1] }, c.file);
          const parts = line.split('; ');
          // last: the file read, absolute, or that the built-in defaults serve and where none was found
          expect(parts.pop()).to.equal(c.file !== undefined ? `configuration ${path.resolve(c.file)}` : `configuration: built-in defaults (no --config, no PUSHGATE_CONFIG, no config/pushgate.yaml in ${process.cwd()})`);
          expect(parts[0]).to.equal(`pushgate: serving on ${c.main} (port ${c.port})`);
          const off = !c.admission && !c.admissionTls;
          expect(parts.length).to.equal(1 + [c.metrics, c.admission, c.proxy, off, c.registries === 0].filter(Boolean).length);
          expect(parts.includes('admission listener off (admission.tls is not set: the API server calls webhooks over HTTPS only)'), 'off').to.equal(off);
          expect(parts.includes('no registries configured: nothing is gated until registries[] names one'), 'no registries').to.equal(c.registries === 0);
          expect(parts.some((p) => p.startsWith('metrics on ')), 'metrics').to.equal(!!c.metrics);
          if (c.metrics) expect(parts).to.include(`metrics on ${c.metrics[0]} (port ${c.metrics[1]})`);
          if (c.admission) expect(parts).to.include(`admission on ${c.admission[0] ?? '0.0.0.0:8443'} (port ${c.admission[1]}, TLS, ${c.admission[2] ? 'client certificate required' : 'NO client authentication'})`);
          else expect(line).to.not.include('admission on');
          if (c.proxy) expect(parts).to.include(`push proxy on ${c.proxy[0]} (port ${c.proxy[1]}, ${c.proxy[2] ? 'TLS' : 'clear text'})`);
          else expect(line).to.not.include('push proxy on');
        },
      ),
      { numRuns: 200 },
    );
  });
});
