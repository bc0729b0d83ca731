/**
 * Registry authentication through the proxy: the client's credentials and the registry's
 * challenges cross unchanged, with htpasswd (Basic) and with Docker token auth (a real token
 * issuer, scripts/lab/token-server.mjs, and a real Distribution registry verifying its tokens).
 */
import { expect } from 'chai';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRegistry, labOci, labImages, ROOT, type LabRegistry } from '../../helpers/lab.js';
import { startProxy } from '../../../src/proxy/proxy.js';
import { GateDouble } from '../../unit/proxy/gate-double.js';
import { proxyTestConfig } from '../../unit/proxy/config.js';
import { skopeoCopyAsync, tagsOf } from './helpers.js';

const HTPASSWD_REG_PORT = 18011;
const TOKEN_REG_PORT = 18012;
const TOKEN_SERVER_PORT = 18090;
const HTPASSWD_PROXY_PORT = 18063;
const TOKEN_PROXY_PORT = 18064;

describe('proxy with registry authentication', function () {
  this.timeout(180_000);

  describe('htpasswd', () => {
    let reg: LabRegistry;
    let gate: GateDouble;
    let proxy: { port: number; close(): Promise<void> };
    let host: string;

    before(async () => {
      labImages();
      reg = startRegistry(HTPASSWD_REG_PORT, { auth: 'htpasswd' });
      gate = new GateDouble({ upstream: reg.url, creds: 'lab:labpass' });
      proxy = await startProxy({ gate, config: proxyTestConfig(reg.url, { listen: `127.0.0.1:${HTPASSWD_PROXY_PORT}` }) });
      host = `127.0.0.1:${proxy.port}`;
    });
    after(async () => {
      await proxy?.close();
      reg?.stop();
    });

    it('passes the Basic challenge back unchanged', async () => {
      const direct = await fetch(`${reg.url}/v2/`);
      const via = await fetch(`http://${host}/v2/`);
      expect(via.status).to.equal(401);
      expect(via.headers.get('www-authenticate')).to.equal(direct.headers.get('www-authenticate'));
      expect(via.headers.get('www-authenticate')).to.match(/^Basic realm=/);
    });

    it('refuses a push without credentials before any manifest is judged, accepts one with them, and still gates it', async () => {
      const anon = await skopeoCopyAsync(labOci('debian-minbase', 'bookworm'), `${host}/ok/app:1`);
      expect(anon.code).to.not.equal(0);
      expect(anon.stderr).to.match(/authentication required|unauthorized/i);
      expect(gate.pending).to.have.length(0);

      const ok = await skopeoCopyAsync(labOci('debian-minbase', 'bookworm'), `${host}/ok/app:1`, { creds: 'lab:labpass' });
      expect(ok.code, ok.stderr).to.equal(0);
      expect(await tagsOf(reg.url, 'ok/app', 'lab:labpass')).to.deep.equal(['1']);

      const bad = await skopeoCopyAsync(labOci('adm-zip', '0.4.7'), `${host}/bad/app:1`, { creds: 'lab:labpass' });
      expect(bad.code).to.not.equal(0);
      expect(bad.stderr).to.include('denied: pushgate refused bad/app:1 (quarantine); rules fixable-high-vulns');
      expect(await tagsOf(reg.url, 'bad/app', 'lab:labpass')).to.deep.equal([]);
      expect(gate.audits.find((a) => a.action === 'proxy.refuse')?.actor).to.equal('lab');
    });
  });

  describe('token', () => {
    let reg: LabRegistry;
    let gate: GateDouble;
    let proxy: { port: number; close(): Promise<void> };
    let issuer: ChildProcess;
    let dir: string;
    let host: string;

    before(async () => {
      labImages();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-proxy-token-'));
      const key = path.join(dir, 'signer.key');
      const cert = path.join(dir, 'signer.crt');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=lab-token-signer'], { stdio: 'ignore' });
      issuer = spawn(process.execPath, [path.join(ROOT, 'scripts', 'lab', 'token-server.mjs'), '--key', key, '--port', String(TOKEN_SERVER_PORT)], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        issuer.stdout!.on('data', (d: Buffer) => {
          if (d.toString().includes('LISTENING')) resolve();
        });
        issuer.on('exit', (c) => reject(new Error(`token-server exited ${c}`)));
      });
      reg = startRegistry(TOKEN_REG_PORT, { auth: 'token', env: { TOKEN_REALM: `http://127.0.0.1:${TOKEN_SERVER_PORT}/token`, TOKEN_ROOTCERTBUNDLE: cert } });
      gate = new GateDouble({ upstream: reg.url });
      proxy = await startProxy({ gate, config: proxyTestConfig(reg.url, { listen: `127.0.0.1:${TOKEN_PROXY_PORT}` }) });
      host = `127.0.0.1:${proxy.port}`;
    });
    after(async () => {
      await proxy?.close();
      reg?.stop();
      if (issuer?.pid) process.kill(issuer.pid);
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    /** Tags asked directly from the registry with a token from the issuer. */
    const tokenTags = async (repository: string): Promise<string[]> => {
      const t = (await (await fetch(`http://127.0.0.1:${TOKEN_SERVER_PORT}/token?service=lab-registry&scope=repository:${repository}:pull`)).json()) as { token: string };
      const r = await fetch(`${reg.url}/v2/${repository}/tags/list`, { headers: { authorization: `Bearer ${t.token}` } });
      if (r.status === 404) return [];
      return ((await r.json()) as { tags: string[] | null }).tags ?? [];
    };

    it("passes the Bearer challenge back unchanged, pointing at the registry's own token server", async () => {
      const direct = await fetch(`${reg.url}/v2/`);
      const via = await fetch(`http://${host}/v2/`);
      expect(via.status).to.equal(401);
      expect(via.headers.get('www-authenticate')).to.equal(direct.headers.get('www-authenticate'));
      expect(via.headers.get('www-authenticate')).to.include(`Bearer realm="http://127.0.0.1:${TOKEN_SERVER_PORT}/token"`);
    });

    it('pushes with a token the client fetched itself; a violating image is still refused', async () => {
      const ok = await skopeoCopyAsync(labOci('debian-minbase', 'bookworm'), `${host}/ok/app:1`, { creds: 'alice:any' });
      expect(ok.code, ok.stderr).to.equal(0);
      expect(await tokenTags('ok/app')).to.deep.equal(['1']);
      const bad = await skopeoCopyAsync(labOci('adm-zip', '0.4.7'), `${host}/bad/app:1`, { creds: 'alice:any' });
      expect(bad.code).to.not.equal(0);
      expect(bad.stderr).to.include('denied: pushgate refused bad/app:1 (quarantine)');
      expect(await tokenTags('bad/app')).to.deep.equal([]);
      expect(gate.audits.find((a) => a.action === 'proxy.refuse')?.actor).to.equal('alice (token)');
    });
  });
});
