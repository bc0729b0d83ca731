/**
 * Authentication against the real Distribution 2.8: htpasswd (Basic) and token auth, the latter with
 * a real token issuer in the test (ES256, libtrust kid) whose grants each test controls.
 * Ports 15001-15004.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labOci, skopeoCopy, startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { makeSigner, startIssuer, type TokenIssuer } from './token-issuer.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { rejects } from '../../helpers/registry.js';

/** skopeo copy, asynchronously: the token issuer runs in this process and must keep answering. */
async function skopeoCopyAsync(src: string, dst: string, creds?: string): Promise<void> {
  const args = ['copy', '-q', '--dest-tls-verify=false', '--src-tls-verify=false'];
  if (creds) args.push('--dest-creds', creds);
  await promisify(execFile)('skopeo', [...args, src, `docker://${dst}`]);
}


function dockerConfig(auths: Record<string, Record<string, string>>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-dockercfg-'));
  const f = path.join(dir, 'config.json');
  fs.writeFileSync(f, JSON.stringify({ auths }));
  return f;
}

describe('registry client auth: htpasswd (Basic) on Distribution 2.8', function () {
  this.timeout(60_000);
  let reg: LabRegistry;
  before(() => {
    reg = startRegistry(15001, { auth: 'htpasswd' });
    skopeoCopy(labOci('debian-minbase', 'bookworm'), `${reg.host}/lab/base:bookworm`, { creds: 'lab:labpass' });
  });
  after(() => reg?.stop());

  it('anonymous: 401 UNAUTHORIZED with a message saying what to fix', async () => {
    const c = new RegistryClient({ name: 'lab', url: reg.url });
    const e = await rejects(c.getManifest('lab/base', 'bookworm'));
    expect(e.status).to.equal(401);
    expect(e.code).to.equal('UNAUTHORIZED');
    expect(e.registryCodes).to.deep.equal(['UNAUTHORIZED']);
    expect(e.message).to.match(/^registry lab: GET manifest lab\/base:bookworm: 401 UNAUTHORIZED: authentication required.*registries\[\]\.auth/);
  });

  it('username/password: Basic after the challenge, then pre-emptively', async () => {
    const calls: string[] = [];
    const c = new RegistryClient({ name: 'lab', url: reg.url, auth: { username: 'lab', password: 'labpass' }, onRequest: (e) => calls.push(`${e.method} ${e.code}`) });
    const m = await c.getManifest('lab/base', 'bookworm');
    expect(m.digest).to.match(/^sha256:/);
    expect(await c.listTags('lab/base')).to.deep.equal(['bookworm']);
    expect(calls).to.deep.equal(['GET 401', 'GET 200', 'GET 200']);
  });

  it('wrong password: one retry, then 401 (no loop), and the password is in no message', async () => {
    const calls: string[] = [];
    const c = new RegistryClient({ name: 'lab', url: reg.url, auth: { username: 'lab', password: 's3cret-wrong' }, onRequest: (e) => calls.push(`${e.method} ${e.code}`) });
    const e = await rejects(c.resolve('lab/base', 'bookworm'));
    expect(e.status).to.equal(401);
    expect(calls).to.deep.equal(['HEAD 401', 'HEAD 401']);
    expect(JSON.stringify({ m: e.message, u: e.url, d: e.details })).not.to.include('s3cret');
  });

  it('Docker config.json: base64 auth and username/password entries, keyed by host or URL', async () => {
    const b64 = Buffer.from('lab:labpass').toString('base64');
    for (const auths of [{ [reg.host]: { auth: b64 } }, { [`http://${reg.host}/v2/`]: { username: 'lab', password: 'labpass' } }]) {
      const c = new RegistryClient({ name: 'lab', url: reg.url, auth: { dockerConfig: dockerConfig(auths) } });
      expect((await c.resolve('lab/base', 'bookworm'))?.digest).to.match(/^sha256:/);
    }
    const other = new RegistryClient({ name: 'lab', url: reg.url, auth: { dockerConfig: dockerConfig({ 'other.example:5000': { auth: b64 } }) } });
    expect((await rejects(other.resolve('lab/base', 'bookworm'))).status).to.equal(401);
    const broken = new RegistryClient({ name: 'lab', url: reg.url, auth: { dockerConfig: dockerConfig({ [reg.host]: { auth: Buffer.from('nocolon').toString('base64') } }) } });
    let err: unknown;
    try {
      await broken.resolve('lab/base', 'bookworm');
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).to.equal('BAD_CONFIG');
  });
});

describe('registry client auth: token auth on Distribution 2.8', function () {
  this.timeout(60_000);
  let reg: LabRegistry;
  let issuer: TokenIssuer;
  let signerDir: string;

  before(async () => {
    const signer = makeSigner();
    signerDir = path.dirname(signer.key);
    issuer = await startIssuer(15003, signer);
    reg = startRegistry(15002, { auth: 'token', env: { TOKEN_REALM: issuer.realm, TOKEN_ROOTCERTBUNDLE: signer.cert, TOKEN_SERVICE: 'lab-registry', TOKEN_ISSUER: 'lab-issuer' } });
    issuer.users = { ci: 'cipass' };
    // skopeo pushes through the same token flow
    await skopeoCopyAsync(labOci('debian-minbase', 'bookworm'), `${reg.host}/lab/base:bookworm`, 'ci:cipass');
  });
  after(async () => {
    reg?.stop();
    await issuer?.close();
    fs.rmSync(signerDir, { recursive: true, force: true });
  });
  beforeEach(() => {
    issuer.log.length = 0;
    issuer.grant = (_u, _t, _n, actions) => actions;
    issuer.postMode = '405';
    issuer.refreshTokens = {};
  });

  it('Bearer through the challenge (realm, service, scope); the token is cached per scope', async () => {
    const c = new RegistryClient({ name: 'lab', url: reg.url, auth: { username: 'ci', password: 'cipass' } });
    const m = await c.getManifest('lab/base', 'bookworm');
    await c.getManifest('lab/base', m.digest);
    await c.resolve('lab/base', 'bookworm');
    expect(issuer.log).to.deep.equal([{ method: 'GET', scopes: ['repository:lab/base:pull'], user: 'ci' }]);
    // a different scope needs its own token
    await c.copyImage('lab/base', m.digest, 'quarantine/lab/base', 'bookworm');
    expect(issuer.log.map((l) => l.scopes.join(' '))).to.include('repository:lab/base:pull repository:quarantine/lab/base:pull,push');
    expect(await c.listTags('quarantine/lab/base')).to.deep.equal(['bookworm']);
    expect(c.tokenRequests).to.equal(issuer.log.length);
  });

  it('insufficient_scope: one fresh token, then a 401 error, never a loop', async () => {
    issuer.grant = (_u, _t, name, actions) => (name.startsWith('quarantine/') ? actions.filter((a) => a === 'pull') : actions);
    const c = new RegistryClient({ name: 'lab', url: reg.url, auth: { username: 'ci', password: 'cipass' } });
    const m = await c.getManifest('lab/base', 'bookworm');
    issuer.log.length = 0;
    const calls: string[] = [];
    const c2 = new RegistryClient({ name: 'lab', url: reg.url, auth: { username: 'ci', password: 'cipass' }, onRequest: (e) => calls.push(`${e.method} ${e.code}`) });
    await c2.resolve('lab/base', 'bookworm');
    calls.length = 0;
    issuer.log.length = 0;
    const e = await rejects(c2.putManifest('quarantine/lab/denied', 'x', m.bytes, m.mediaType));
    expect(e.status).to.equal(401);
    expect(e.code).to.equal('UNAUTHORIZED');
    expect(e.message).to.match(/^registry lab: PUT manifest quarantine\/lab\/denied:x: 401 UNAUTHORIZED: authentication required/);
    // the token for the new scope, one fresh token after the refusal, and no more
    expect(issuer.log.map((l) => l.scopes.join(' '))).to.deep.equal(['repository:quarantine/lab/denied:pull,push', 'repository:quarantine/lab/denied:pull,push']);
    expect(calls.filter((x) => x.startsWith('PUT'))).to.deep.equal(['PUT 401', 'PUT 401']);
    await rejects(c2.putManifest('quarantine/lab/denied', 'x', m.bytes, m.mediaType));
    expect(issuer.log.length).to.equal(4);
    expect(calls.filter((x) => x.startsWith('PUT')).length).to.equal(4);
  });

  it('wrong password at the token server: UNAUTHORIZED naming the config key', async () => {
    const c = new RegistryClient({ name: 'lab', url: reg.url, auth: { username: 'ci', password: 'nope-nope' } });
    const e = await rejects(c.resolve('lab/base', 'bookworm'));
    expect(e.code).to.equal('UNAUTHORIZED');
    expect(e.message).to.match(/token request to http:\/\/127\.0\.0\.1:15003\/token: 401 \(bad credentials\): the token issuer refused pushgate.s credentials; check registries\[\]\.auth/);
    expect(e.message + e.url).not.to.include('nope-nope');
  });

  it('anonymous pulls get an anonymous token', async () => {
    const c = new RegistryClient({ name: 'lab', url: reg.url });
    expect((await c.resolve('lab/base', 'bookworm'))?.digest).to.match(/^sha256:/);
    expect(issuer.log).to.deep.equal([{ method: 'GET', scopes: ['repository:lab/base:pull'], user: 'anonymous' }]);
  });

  it('identitytoken from config.json: OAuth2 POST refresh grant', async () => {
    issuer.postMode = 'oauth2';
    issuer.refreshTokens = { 'refresh-abc': 'ci' };
    const cfg = dockerConfig({ [reg.host]: { identitytoken: 'refresh-abc' } });
    const c = new RegistryClient({ name: 'lab', url: reg.url, auth: { dockerConfig: cfg } });
    expect((await c.resolve('lab/base', 'bookworm'))?.digest).to.match(/^sha256:/);
    expect(issuer.log).to.deep.equal([{ method: 'POST', scopes: ['repository:lab/base:pull'], grantType: 'refresh_token', refreshToken: 'refresh-abc' }]);
  });

  it('POST answered 405 (Harbor): falls back to GET with the Basic credentials', async () => {
    issuer.postMode = '405';
    const cfg = dockerConfig({ [reg.host]: { auth: Buffer.from('ci:cipass').toString('base64'), identitytoken: 'refresh-abc' } });
    const c = new RegistryClient({ name: 'lab', url: reg.url, auth: { dockerConfig: cfg } });
    expect((await c.resolve('lab/base', 'bookworm'))?.digest).to.match(/^sha256:/);
    expect(issuer.log.map((l) => `${l.method} ${l.user ?? ''}`)).to.deep.equal(['POST ', 'GET ci']);
  });
});

describe('registry client auth: tokens renewed before expiry', function () {
  this.timeout(60_000);
  let reg: LabRegistry;
  let issuer: TokenIssuer;
  let signerDir: string;
  before(async () => {
    const signer = makeSigner();
    signerDir = path.dirname(signer.key);
    // tokens live 61 s (clients never take less than 60 s); the client renews 10 % early
    issuer = await startIssuer(15004, signer, { ttl: 61 });
    reg = startRegistry(15005, { auth: 'token', env: { TOKEN_REALM: issuer.realm, TOKEN_ROOTCERTBUNDLE: signer.cert } });
    await skopeoCopyAsync(labOci('zstd', '1.0'), `${reg.host}/lab/z:1`);
    issuer.log.length = 0;
  });
  after(async () => {
    reg?.stop();
    await issuer?.close();
    fs.rmSync(signerDir, { recursive: true, force: true });
  });

  it('reuses a token while fresh (a real expiry would take a minute: the margin is unit-tested)', async () => {
    const c = new RegistryClient({ name: 'lab', url: reg.url });
    for (let i = 0; i < 5; i++) await c.resolve('lab/z', '1');
    expect(issuer.log.length).to.equal(1);
  });
});
