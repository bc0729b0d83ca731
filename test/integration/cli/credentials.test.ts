/**
 * `pushgate scan REF` finds registry credentials where container tools put them (src/cli/registry-client.ts,
 * src/registry/auth/auth-files.ts): Docker's config.json (`~/.docker`, `$DOCKER_CONFIG`; `auth` base64,
 * username/password, identitytoken), containers-auth.json (`$XDG_RUNTIME_DIR/containers/auth.json`,
 * `$REGISTRY_AUTH_FILE`, `$XDG_CONFIG_HOME/containers/auth.json`, namespace keys), a `--config` that names
 * the registry without `auth`, and `--username/--password-stdin`. Credential helpers are reported, never
 * run. Against the real Distribution 2.8 with htpasswd, and with token auth through a real token issuer
 * in this process (the CLI runs asynchronously so the issuer keeps answering).
 * Ports 23201 (htpasswd registry), 23202 (token registry), 23203 (token issuer).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import type { ScanReport } from '../../../src/core/index.js';
import { makeSandbox, runInSandbox, type CliSandbox } from '../../helpers/cli-sandbox.js';
import type { CliRun } from '../../helpers/cli.js';
import { ROOT, skopeoCopyAsync, startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { DEBIAN_12_OS_RELEASE, dpkgStatus, writeOciImage } from '../../helpers/oci-image.js';
import { makeSigner, startIssuer, type TokenIssuer } from '../registry/token-issuer.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

function writeJson(file: string, j: unknown): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(j));
  return file;
}

/** The scan read the image: a complete JSON report of its one Debian package. */
function readImage(r: CliRun, what: string): void {
  expect(r.status, `${what}: ${r.stderr}`).to.equal(0);
  const report = JSON.parse(r.stdout) as ScanReport;
  expect(report.complete, what).to.equal(true);
  expect(report.packages.map((p) => p.name), what).to.deep.equal(['zlib1g']);
}

/** The registry refused the scan: exit 2, one line naming the 401. */
function refused(r: CliRun, what: string): string {
  expect(r.status, `${what}: ${r.stderr}`).to.equal(2);
  expect(r.stdout, what).to.equal('');
  const last = r.stderr.trim().split('\n').pop() as string;
  expect(last, what).to.match(/^pushgate: .*401/);
  return r.stderr;
}

describe('cli: registry credentials from the files container tools write', function () {
  this.timeout(300_000);
  let sb: CliSandbox;
  let image: string;

  before(async () => {
    sb = makeSandbox();
    const u = await runInSandbox(sb, ['db', 'update', '--source', path.join(ROOT, 'test/fixtures/vulndb/osv/npm')]);
    expect(u.status, u.stderr).to.equal(0);
    image = writeOciImage(sb.newDir('images'), 'small', [{ files: { 'etc/os-release': DEBIAN_12_OS_RELEASE, 'var/lib/dpkg/status': dpkgStatus(['zlib1g 1:1.2.13.dfsg-1']) }, gzip: true }]).ref;
  });
  after(() => sb.remove());

  describe('htpasswd (Basic) registry', () => {
    let reg: LabRegistry;
    let ref: string;
    const scan = (env: NodeJS.ProcessEnv = {}, extra: string[] = [], stdin?: string): Promise<CliRun> =>
      runInSandbox(sb, ['scan', ref, '--format', 'json', ...extra], { env, stdin });
    const clean = (): void => {
      for (const p of [path.join(sb.home, '.docker'), path.join(sb.runtime, 'containers'), path.join(sb.config, 'containers')]) fs.rmSync(p, { recursive: true, force: true });
    };

    before(async () => {
      reg = startRegistry(23201, { auth: 'htpasswd' });
      const push = await skopeoCopyAsync(image, `${reg.host}/lab/app:1`, { creds: 'lab:labpass' });
      expect(push.code, push.stderr).to.equal(0);
      ref = `${reg.host}/lab/app:1`;
    });
    after(() => reg?.stop());
    afterEach(clean);

    it('no credentials anywhere: 401, one line saying how to log in', async () => {
      const line = refused(await scan(), 'anonymous').trim();
      expect(line.split('\n')).to.have.length(1);
      expect(line).to.match(new RegExp(`; to scan ${reg.host.replace(/\./g, '\\.')}, log in \\(docker login ${reg.host.replace(/\./g, '\\.')}, or podman/skopeo login .*\\) or pass --username USER --password-stdin$`));
    });

    it('~/.docker/config.json with auth (base64), and $DOCKER_CONFIG with username/password under a URL key', async () => {
      writeJson(path.join(sb.home, '.docker', 'config.json'), { auths: { [reg.host]: { auth: b64('lab:labpass') } } });
      readImage(await scan(), '~/.docker auth');
      const dc = sb.newDir('docker-config-dir');
      writeJson(path.join(dc, 'config.json'), { auths: { [`http://${reg.host}/v2/`]: { username: 'lab', password: 'labpass' } } });
      readImage(await scan({ DOCKER_CONFIG: dc }), 'DOCKER_CONFIG username/password');
      // DOCKER_CONFIG replaces ~/.docker: an empty one there means no credentials
      writeJson(path.join(dc, 'config.json'), { auths: {} });
      refused(await scan({ DOCKER_CONFIG: dc }), 'DOCKER_CONFIG without the host');
    });

    it('containers auth.json: $XDG_RUNTIME_DIR file with a namespace key; a key for another namespace does not apply', async () => {
      const runtime = path.join(sb.runtime, 'containers', 'auth.json');
      writeJson(runtime, { auths: { [`${reg.host}/other`]: { auth: b64('lab:labpass') } } });
      refused(await scan(), 'key for another namespace');
      writeJson(runtime, { auths: { [`${reg.host}/other`]: { auth: b64('lab:wrong') }, [`${reg.host}/lab`]: { auth: b64('lab:labpass') } } });
      readImage(await scan(), 'namespace key');
    });

    it('$REGISTRY_AUTH_FILE replaces the runtime file and comes before Docker; $XDG_CONFIG_HOME/containers/auth.json is read after the primary file', async () => {
      writeJson(path.join(sb.runtime, 'containers', 'auth.json'), { auths: { [reg.host]: { auth: b64('lab:wrong') } } });
      writeJson(path.join(sb.home, '.docker', 'config.json'), { auths: { [reg.host]: { auth: b64('lab:wrong-too') } } });
      refused(await scan(), 'runtime file first, wrong password');
      const explicit = writeJson(path.join(sb.newDir('explicit'), 'auth.json'), { auths: { [reg.host]: { auth: b64('lab:labpass') } } });
      readImage(await scan({ REGISTRY_AUTH_FILE: explicit }), 'REGISTRY_AUTH_FILE');
      fs.rmSync(path.join(sb.runtime, 'containers'), { recursive: true });
      writeJson(path.join(sb.config, 'containers', 'auth.json'), { auths: { [reg.host]: { auth: b64('lab:labpass') } } });
      readImage(await scan(), 'XDG_CONFIG_HOME file before ~/.docker');
    });

    it('--config naming the registry without auth still uses ~/.docker/config.json (was 401); with auth, the config wins', async () => {
      writeJson(path.join(sb.home, '.docker', 'config.json'), { auths: { [reg.host]: { auth: b64('lab:labpass') } } });
      const dir = sb.newDir('cfg-noauth');
      const noAuth = path.join(dir, 'pushgate.yaml');
      fs.writeFileSync(noAuth, `registries:\n  - name: lab\n    url: ${reg.url}\n`);
      readImage(await scan({}, ['--config', noAuth]), '--config without auth');
      const withAuth = path.join(dir, 'auth.yaml');
      fs.writeFileSync(withAuth, `registries:\n  - name: lab\n    url: ${reg.url}\n    auth:\n      username: lab\n      password: not-the-password\n`);
      refused(await scan({}, ['--config', withAuth]), 'explicit auth in the config wins over the files');
    });

    it('--username/--password-stdin: one trailing newline dropped; a wrong password is 401 and shown nowhere; misuse is one line', async () => {
      readImage(await scan({}, ['--username', 'lab', '--password-stdin'], 'labpass\n'), '--password-stdin');
      const wrong = await scan({}, ['--username', 'lab', '--password-stdin'], 'S3cretWrong');
      refused(wrong, 'wrong password');
      expect(wrong.stderr + wrong.stdout).not.to.include('S3cretWrong');
      const noStdin = await scan({}, ['--username', 'lab']);
      expect(noStdin.status).to.equal(2);
      expect(noStdin.stderr.trim()).to.equal('pushgate: --username needs --password-stdin: pipe the password in (a password on the command line shows in ps and shell history)');
      const empty = await scan({}, ['--username', 'lab', '--password-stdin'], '');
      expect(empty.stderr.trim()).to.match(/^pushgate: --password-stdin: stdin was empty/);
      const local = await runInSandbox(sb, ['scan', image, '--username', 'lab', '--password-stdin'], { stdin: 'labpass' });
      expect(local.stderr.trim()).to.match(/^pushgate: --username: oci: targets are read from files, not from a registry/);
    });

    it('a credential helper is never run: one note line says so and what to do; the scan goes on anonymously', async () => {
      const bin = sb.newDir('helper-bin');
      const marker = path.join(sb.root, 'helper-ran');
      fs.writeFileSync(path.join(bin, 'docker-credential-pass'), `#!/bin/sh\ntouch ${marker}\necho '{"Username":"lab","Secret":"labpass"}'\n`, { mode: 0o755 });
      writeJson(path.join(sb.home, '.docker', 'config.json'), { auths: { [reg.host]: {} }, credHelpers: { [reg.host]: 'pass' } });
      const r = await scan({ PATH: `${bin}:${process.env.PATH}` });
      const stderr = refused(r, 'helper only');
      expect(fs.existsSync(marker), 'the helper was executed').to.equal(false);
      expect(stderr.split('\n')[0]).to.equal(
        `pushgate: note: ${path.join(sb.home, '.docker', 'config.json')} sends ${reg.host} to the credential helper docker-credential-pass (credHelpers), which pushgate never runs; reading ${reg.host} anonymously. `
        + 'Pass --username USER --password-stdin, or log in with a tool that writes the credential into a file (podman/skopeo login --authfile FILE, then REGISTRY_AUTH_FILE=FILE)',
      );
      const help = await runInSandbox(sb, ['scan', '--help']);
      expect(help.stdout.replace(/\s+/g, ' ')).to.include('Credential helpers (credsStore, credHelpers) are never run');
    });
  });

  describe('token registry', () => {
    let reg: LabRegistry;
    let issuer: TokenIssuer;
    let signerDir: string;
    let ref: string;

    before(async () => {
      const signer = makeSigner();
      signerDir = path.dirname(signer.key);
      issuer = await startIssuer(23203, signer);
      reg = startRegistry(23202, { auth: 'token', env: { TOKEN_REALM: issuer.realm, TOKEN_ROOTCERTBUNDLE: signer.cert, TOKEN_SERVICE: 'lab-registry', TOKEN_ISSUER: 'lab-issuer' } });
      issuer.users = { ci: 'cipass' };
      const push = await skopeoCopyAsync(image, `${reg.host}/team/app:1`, { creds: 'ci:cipass' });
      expect(push.code, push.stderr).to.equal(0);
      // nothing for anonymous from here on
      issuer.grant = (user, _t, _n, actions) => (user === 'anonymous' ? [] : actions);
      ref = `${reg.host}/team/app:1`;
    });
    after(async () => {
      reg?.stop();
      await issuer?.close();
      fs.rmSync(signerDir, { recursive: true, force: true });
    });
    beforeEach(() => {
      issuer.log.length = 0;
      issuer.postMode = '405';
      issuer.refreshTokens = {};
      fs.rmSync(path.join(sb.home, '.docker'), { recursive: true, force: true });
      fs.rmSync(path.join(sb.runtime, 'containers'), { recursive: true, force: true });
    });

    it('anonymous: the issuer grants nothing, 401', async () => {
      refused(await runInSandbox(sb, ['scan', ref, '--format', 'json']), 'anonymous');
      expect(issuer.log.every((l) => l.user === 'anonymous')).to.equal(true);
    });

    it('containers auth.json: the Basic credential goes to the token realm, the token to the registry', async () => {
      writeJson(path.join(sb.runtime, 'containers', 'auth.json'), { auths: { [`${reg.host}/team/app`]: { auth: b64('ci:cipass') } } });
      readImage(await runInSandbox(sb, ['scan', ref, '--format', 'json']), 'auth.json to the realm');
      expect(issuer.log.map((l) => `${l.method} ${l.user}`)).to.include('GET ci');
    });

    it('Docker config.json identitytoken: exchanged with the OAuth2 refresh grant', async () => {
      issuer.postMode = 'oauth2';
      issuer.refreshTokens = { 'refresh-xyz': 'ci' };
      writeJson(path.join(sb.home, '.docker', 'config.json'), { auths: { [`http://${reg.host}`]: { identitytoken: 'refresh-xyz' } } });
      readImage(await runInSandbox(sb, ['scan', ref, '--format', 'json']), 'identitytoken');
      expect(issuer.log.filter((l) => l.method === 'POST').map((l) => [l.grantType, l.refreshToken])).to.deep.include(['refresh_token', 'refresh-xyz']);
    });

    it('credentials for another registry are never sent here (the key names 127.0.0.1:23201)', async () => {
      writeJson(path.join(sb.home, '.docker', 'config.json'), { auths: { '127.0.0.1:23201': { auth: b64('ci:cipass') } } });
      refused(await runInSandbox(sb, ['scan', ref, '--format', 'json']), 'other host');
      expect(issuer.log.map((l) => l.user)).not.to.include('ci');
    });
  });
});
