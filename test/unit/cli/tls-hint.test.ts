/**
 * A TLS verification failure in `pushgate scan`: the registry client's advice names configuration keys
 * (`registries[].ca`, `insecure`); for a registry the configuration does not name, the CLI says what
 * works from the command line (NODE_EXTRA_CA_CERTS, or a --config entry for the host). The error is the
 * real client's, from an HTTPS server whose certificate chains to a CA nobody trusts; with that CA in
 * NODE_EXTRA_CA_CERTS the same request passes TLS.
 */
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { withTlsHint } from '../../../src/cli/registry-client.js';
import { isPushgateError, PushgateError } from '../../../src/core/index.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { TLS_CONFIG_HINT } from '../../../src/registry/transport.js';

describe('cli: a TLS verification failure of a registry the configuration does not name', function () {
  this.timeout(60_000);
  let dir: string;
  let server: https.Server;
  let url: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-tls-hint-'));
    const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=untrusted-ca']);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 's.key', '-out', 's.csr', '-subj', '/CN=127.0.0.1']);
    openssl(['x509', '-req', '-in', 's.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 's.crt', '-days', '2', '-extfile', 'san.ext']);
    server = https.createServer({ cert: fs.readFileSync(path.join(dir, 's.crt')), key: fs.readFileSync(path.join(dir, 's.key')) }, (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const realError = async (): Promise<PushgateError> => {
    const client = new RegistryClient({ name: new URL(url).host, url, userAgent: 'test' });
    try {
      await client.getManifest('team/app', '1');
    } catch (e) {
      return e as PushgateError;
    }
    throw new Error('the untrusted certificate was accepted');
  };

  it('the client\'s configuration advice becomes NODE_EXTRA_CA_CERTS or a --config entry; a configured registry keeps it', async () => {
    const e = await realError();
    expect(e.message).to.include(`TLS verification failed`).and.include(`; ${TLS_CONFIG_HINT}`);
    const host = new URL(url).host;
    const cli = withTlsHint(e, host, false) as PushgateError;
    expect(isPushgateError(cli, e.code)).to.equal(true);
    expect(cli.retryable).to.equal(false);
    expect(cli.message).to.not.include(TLS_CONFIG_HINT);
    expect(cli.message).to.include('TLS verification failed').and.include('NODE_EXTRA_CA_CERTS=ca.pem pushgate scan').and.include(`url: https://${host}, ca: ca.pem`);
    expect(withTlsHint(e, host, true)).to.equal(e);
  });

  it('property: only a TLS failure\'s advice is replaced; other errors pass unchanged', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.constantFrom('127.0.0.1:5000', 'reg.example.test'), fc.boolean(), (text, host, tls) => {
        const e = new PushgateError('NETWORK', `registry ${host}: GET manifest x:1: ${text}${tls ? `; ${TLS_CONFIG_HINT}` : ''}`);
        const out = withTlsHint(e, host, false) as Error;
        if (!tls && !e.message.includes(`; ${TLS_CONFIG_HINT}`)) expect(out).to.equal(e);
        else expect(out.message).to.include(`registries[] (url: https://${host}`).and.include('NODE_EXTRA_CA_CERTS');
        const plain = new Error(`x; ${TLS_CONFIG_HINT}`);
        expect(withTlsHint(plain, host, false)).to.equal(plain);
      }),
      { numRuns: 200 },
    );
  });

  it('NODE_EXTRA_CA_CERTS, as the hint says, makes the same request pass TLS (the registry then answers 404)', async () => {
    const script = `import('${path.resolve('src/registry/client.ts')}').then(async ({ RegistryClient }) => {
      const c = new RegistryClient({ name: 'r', url: '${url}', userAgent: 't' });
      try { await c.getManifest('team/app', '1'); console.log('no error'); } catch (e) { console.log(e.message); }
    });`;
    // asynchronously: the server answering it runs in this process
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.crt') } });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    await new Promise((r) => child.on('close', r));
    expect(out, err).to.not.include('TLS verification failed');
    expect(out, err).to.match(/404|MANIFEST_UNKNOWN|manifest unknown/);
  });
});
