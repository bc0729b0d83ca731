/**
 * TLS against the real Distribution 2.8 serving HTTPS with client-certificate verification
 * (`http.tls.clientcas`), certificates made with openssl. Port 15010.
 */
import { expect } from 'chai';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { RegistryClient } from '../../../src/registry/client.js';
import { RegistryError } from '../../../src/registry/errors.js';

const PORT = 15010;

function openssl(args: string[], cwd: string) {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

function makePki(dir: string) {
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=pushgate-test-ca'], dir);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext'], dir);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=pushgate'], dir);
  openssl(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2', '-extfile', 'client.ext'], dir);
}

async function waitUp(dir: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = https.get(
        { host: '127.0.0.1', port: PORT, path: '/v2/', ca: fs.readFileSync(path.join(dir, 'ca.crt')), cert: fs.readFileSync(path.join(dir, 'client.crt')), key: fs.readFileSync(path.join(dir, 'client.key')) },
        (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        },
      );
      req.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error('TLS registry did not come up');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('registry client TLS against Distribution 2.8 (https + client certificates)', function () {
  this.timeout(60_000);
  let dir: string;
  let proc: ChildProcess | undefined;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-tls-'));
    makePki(dir);
    fs.mkdirSync(path.join(dir, 'storage'));
    fs.writeFileSync(
      path.join(dir, 'config.yml'),
      [
        'version: 0.1',
        'log: { level: error }',
        `storage: { filesystem: { rootdirectory: "${path.join(dir, 'storage')}" }, delete: { enabled: true } }`,
        'http:',
        `  addr: 127.0.0.1:${PORT}`,
        '  tls:',
        `    certificate: "${path.join(dir, 'server.crt')}"`,
        `    key: "${path.join(dir, 'server.key')}"`,
        '    clientcas:',
        `      - "${path.join(dir, 'ca.crt')}"`,
      ].join('\n'),
    );
    proc = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
    await waitUp(dir);
  });
  after(() => {
    if (proc?.pid) process.kill(proc.pid);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const url = `https://127.0.0.1:${PORT}`;
  const errOf = async (c: RegistryClient) => {
    try {
      await c.catalog();
    } catch (e) {
      return e as RegistryError;
    }
    throw new Error('expected failure');
  };

  it('per-registry CA bundle and client certificate: works', async () => {
    const c = new RegistryClient({ name: 'tls', url, ca: path.join(dir, 'ca.crt'), clientCert: path.join(dir, 'client.crt'), clientKey: path.join(dir, 'client.key') });
    expect(await c.catalog()).to.deep.equal([]);
    // PEM text works as well as a path
    const c2 = new RegistryClient({ name: 'tls', url, ca: fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8'), clientCert: path.join(dir, 'client.crt'), clientKey: path.join(dir, 'client.key') });
    expect(await c2.catalog()).to.deep.equal([]);
  });

  it('system CAs only: certificate error, not retried, with a hint', async () => {
    const calls: unknown[] = [];
    const e = await errOf(new RegistryClient({ name: 'tls', url, clientCert: path.join(dir, 'client.crt'), clientKey: path.join(dir, 'client.key'), onRequest: (x) => calls.push(x) }));
    expect(e).to.be.instanceOf(RegistryError);
    expect(e.retryable).to.equal(false);
    expect(e.message).to.match(/TLS verification failed.*registries\[\]\.ca/);
    expect(calls).to.have.length(1);
  });

  it('insecure: true skips verification (the client certificate is still sent)', async () => {
    const c = new RegistryClient({ name: 'tls', url, insecure: true, clientCert: path.join(dir, 'client.crt'), clientKey: path.join(dir, 'client.key') });
    expect(await c.catalog()).to.deep.equal([]);
  });

  it('without the client certificate the registry refuses the handshake', async () => {
    const e = await errOf(new RegistryClient({ name: 'tls', url, ca: path.join(dir, 'ca.crt'), retries: 0 }));
    expect(e.code).to.equal('NETWORK');
  });

  it('bad TLS settings are configuration errors', () => {
    expect(() => new RegistryClient({ name: 'tls', url, ca: path.join(dir, 'missing.pem') })).to.throw(/cannot read CA bundle/);
    expect(() => new RegistryClient({ name: 'tls', url, clientCert: path.join(dir, 'client.crt') })).to.throw(/clientCert and clientKey go together/);
    expect(() => new RegistryClient({ name: 'tls', url: '127.0.0.1:5000' })).to.throw(/scheme|http/);
    expect(() => new RegistryClient({ name: 'tls', url: 'https://u:p@r.test' })).to.throw(/must not carry credentials/);
  });
});
