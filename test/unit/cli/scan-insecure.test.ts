/**
 * `pushgate scan --insecure` (Trivy's flag) covers the scanned reference's registry only: its TLS
 * certificate is not verified, while a token realm on another origin still is (it receives the
 * password); a registry that does not speak TLS is read over plain HTTP, and then, on a host that is not
 * loopback, without the credentials the user has for it. Real HTTPS and HTTP servers on this machine's
 * non-loopback address (a loopback registry is read over plain HTTP anyway), certificates from openssl.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { clientForHost, insecureFallback, isPlainHttpAnswer } from '../../../src/cli/registry-client.js';
import { defaultConfig } from '../../../src/config/load.js';
import { makeSandbox, runInSandbox } from '../../helpers/cli-sandbox.js';

/** This machine's first non-loopback IPv4 address. */
function lanAddress(): string {
  const a = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!a) throw new Error('this test needs a non-loopback IPv4 address on some interface');
  return a.address;
}

const MANIFEST_UNKNOWN = '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}';

describe('cli: scan --insecure', function () {
  this.timeout(60_000);
  let dir: string;
  let ip: string;
  const servers: Array<http.Server> = [];
  const seen: Array<{ server: string; url: string; authorization?: string }> = [];
  let registryTls: string;
  let realmTls: string;
  let plain: string;

  const listen = async (s: http.Server): Promise<string> => {
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, ip, r));
    return `${ip}:${(s.address() as AddressInfo).port}`;
  };

  before(async () => {
    ip = lanAddress();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-insecure-'));
    const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    fs.writeFileSync(path.join(dir, 'san.ext'), `subjectAltName=IP:${ip}\n`);
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=untrusted-ca']);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 's.key', '-out', 's.csr', '-subj', `/CN=${ip}`]);
    openssl(['x509', '-req', '-in', 's.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 's.crt', '-days', '2', '-extfile', 'san.ext']);
    const tls = { cert: fs.readFileSync(path.join(dir, 's.crt')), key: fs.readFileSync(path.join(dir, 's.key')) };
    // the token service, on its own origin with the same untrusted certificate
    realmTls = await listen(https.createServer(tls, (req, res) => {
      seen.push({ server: 'realm', url: req.url ?? '', authorization: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"token":"t"}');
    }));
    // a registry that asks for a bearer token from that realm, then knows no manifest
    registryTls = await listen(https.createServer(tls, (req, res) => {
      seen.push({ server: 'registry', url: req.url ?? '', authorization: req.headers.authorization });
      if (req.url?.includes('/needs-token/') && !req.headers.authorization?.startsWith('Bearer ')) {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="https://${realmTls}/token",service="r"`, 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(MANIFEST_UNKNOWN);
    }));
    // a registry without TLS that takes Basic credentials if sent
    plain = await listen(http.createServer((req, res) => {
      seen.push({ server: 'plain', url: req.url ?? '', authorization: req.headers.authorization });
      if (!req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"', 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(MANIFEST_UNKNOWN);
    }));
  });
  after(() => {
    for (const s of servers) s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    seen.length = 0;
  });

  const manifestError = async (client: ReturnType<typeof clientForHost>, repo = 'team/app'): Promise<Error> => {
    try {
      await client.getManifest(repo, '1');
    } catch (e) {
      return e as Error;
    }
    throw new Error('no error');
  };

  it('skips TLS verification for the registry itself only: a token realm on another origin is still verified', async () => {
    const config = defaultConfig();
    expect((await manifestError(clientForHost(config, registryTls))).message).to.match(/TLS verification failed/);
    const insecure = clientForHost(config, registryTls, { insecure: true });
    expect((await manifestError(insecure)).message).to.match(/manifest unknown|MANIFEST_UNKNOWN|not found/i);
    const creds = clientForHost(config, registryTls, { insecure: true, oneOff: { username: 'u', password: 'secret' } });
    const realm = await manifestError(creds, 'needs-token/app');
    expect(realm.message).to.match(/TLS verification failed|self-signed|unable to verify|certificate/i);
    expect(seen.filter((s) => s.server === 'realm')).to.deep.equal([]);
  });

  it('a registry without TLS is read over plain HTTP, never with the user\'s credentials (said once on stderr); a TLS registry is kept', async () => {
    const config = defaultConfig();
    const warned: string[] = [];
    const withCreds = clientForHost(config, plain, { insecure: true, oneOff: { username: 'u', password: 'secret' } });
    const client = await insecureFallback(config, plain, withCreds, { warn: (l) => warned.push(l) });
    expect(client).to.not.equal(withCreds);
    const e = await manifestError(client);
    expect(e.message).to.match(/401|UNAUTHORIZED/);
    expect(seen.filter((s) => s.server === 'plain').length).to.be.greaterThan(0);
    expect(seen.filter((s) => s.authorization)).to.deep.equal([]);
    expect(warned).to.have.length(1);
    expect(warned[0]).to.include(`${plain} answers plain HTTP only`).and.include(`url: http://${plain}`).and.not.include('secret');
    // a TLS registry stays on https, and without credentials nothing is said
    const tlsClient = clientForHost(config, registryTls, { insecure: true });
    expect(await insecureFallback(config, registryTls, tlsClient, { warn: (l) => warned.push(l) })).to.equal(tlsClient);
    const anon = await insecureFallback(config, plain, clientForHost(config, plain, { insecure: true }), { warn: (l) => warned.push(l) });
    seen.length = 0;
    await manifestError(anon);
    expect(seen.map((x) => x.server)).to.include('plain');
    expect(warned).to.have.length(1);
  });

  it('only a plain HTTP answer to TLS counts: other failures keep https', () => {
    const wrap = (cause: unknown) => Object.assign(new Error('registry x: GET /v2/: EPROTO'), { cause });
    expect(isPlainHttpAnswer(wrap(Object.assign(new Error('write EPROTO ...:ssl3_get_record:wrong version number'), { code: 'EPROTO' })))).to.equal(true);
    expect(isPlainHttpAnswer(wrap(Object.assign(new Error('write EPROTO ...:ssl3_read_bytes:sslv3 alert handshake failure'), { code: 'EPROTO' })))).to.equal(false);
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID']) {
      expect(isPlainHttpAnswer(wrap(Object.assign(new Error(code), { code }))), code).to.equal(false);
    }
  });

  it('the CLI: --insecure reads the TLS registry (the error is the registry\'s, not TLS); --help says what it covers; refused for file targets', async () => {
    const sb = makeSandbox();
    try {
      const before = await runInSandbox(sb, ['scan', `${registryTls}/team/app:1`, '--offline']);
      expect(before.status).to.equal(2);
      expect(before.stderr).to.match(/TLS verification failed/);
      const r = await runInSandbox(sb, ['scan', `${registryTls}/team/app:1`, '--offline', '--insecure']);
      expect(r.status).to.equal(2);
      expect(r.stderr).to.not.match(/TLS verification failed/);
      expect(r.stderr).to.match(/manifest unknown|MANIFEST_UNKNOWN|not found/i);
      const p = await runInSandbox(sb, ['scan', `${plain}/team/app:1`, '--offline', '--insecure', '--username', 'u', '--password-stdin'], { stdin: 'secret\n' });
      expect(p.stderr).to.include(`${plain} answers plain HTTP only`);
      expect(seen.filter((s) => s.authorization)).to.deep.equal([]);
      const help = (await runInSandbox(sb, ['scan', '--help'])).stdout.replace(/\s+/g, ' ');
      expect(help).to.include('--insecure').and.include('for the registry of the scanned reference only');
      const local = await runInSandbox(sb, ['scan', 'dir:.', '--insecure']);
      expect(local.status).to.equal(2);
      expect(local.stderr).to.match(/--insecure: dir: targets are read from files/);
    } finally {
      sb.remove();
    }
  });
});
