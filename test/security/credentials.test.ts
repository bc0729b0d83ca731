/**
 * Credentials stay with their registry: the registry's password and its tokens go only to the
 * registry's origin and to the token realm it is allowed to use, never along a redirect to another
 * host, and a 401 from such a host is never answered with them.
 *
 * Real components: Distribution 2.8 (Debian docker-registry) with token auth (a real ES256 token
 * issuer in this process, token-issuer.ts) and with htpasswd, both run with Distribution's own
 * `redirect` storage middleware (REGISTRY_MIDDLEWARE_STORAGE), so the real registry answers blob
 * GET/HEAD with 307 to a storage host, as it does in front of S3 or CloudFront; real pushes with
 * skopeo; `pushgate scan` as a child process for the whole scan path.
 * In process, for what a real one cannot do on demand: the storage host at the middleware's base
 * URL (serves the blobs from the registry's storage directory like a CDN, or turns hostile: 401 with
 * a realm of its own, 401 Basic, 302/307/308 on to other hosts, chains, https → http); a hostile token
 * realm and a second storage host that record every request; and, for the property test, a fake
 * registry whose challenges and redirect chains are generated.
 * Ports 21500-21530 and 21599 (never listened on).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import util from 'node:util';
import { pino } from 'pino';
import { ROOT, skopeoCopyAsync, startRegistry, type LabRegistry } from '../helpers/lab.js';
import { rejects } from '../helpers/registry.js';
import { makeSigner, startIssuer, type TokenIssuer } from '../integration/registry/token-issuer.js';
import { RegistryClient, type RegistryClientOptions } from '../../src/registry/client.js';
import { REDACT_PATHS } from '../../src/server/logger.js';
import { DEBIAN_12_OS_RELEASE, dpkgStatus, writeOciImage } from '../helpers/oci-image.js';

const P = {
  issuer: 21500,
  tokenRegistry: 21501,
  basicRegistry: 21502,
  storage: 21510,
  storage2: 21511,
  storageTls: 21512,
  hostileRealm: 21513,
  fakeRegHttp: 21520,
  fakeRegHttps: 21521,
  foreignHttp: 21522,
  foreignHttps: 21523,
  evilRealm: 21524,
  closed: 21599,
};
const CI_USER = 'ci';
const CI_PASS = 'ci-Pa55-never-leaves';
const GATE_USER = 'gate';
const GATE_PASS = 'gate-Pa55-never-leaves';
const b64 = (u: string, p: string) => Buffer.from(`${u}:${p}`).toString('base64');
/** Every spelling of a credential that must never reach a foreign host. */
const SECRETS = [CI_PASS, GATE_PASS, b64(CI_USER, CI_PASS), b64(GATE_USER, GATE_PASS), 'eyJ' /* any JWT the real issuer signed */];

/** One request as a server saw it. */
interface Seen {
  server: string;
  port: number;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Listener {
  close(): Promise<void>;
}

/** Starts `handler` on 127.0.0.1 and [::1] at `port` (http, or https with `tlsOpts`), recording every request. */
async function listen(name: string, port: number, log: Seen[], handler: Handler, tlsOpts?: { key: string; cert: string }): Promise<Listener> {
  const servers: Array<http.Server | https.Server> = [];
  for (const host of ['127.0.0.1', '::1']) {
    const h: Handler = (req, res) => {
      log.push({ server: name, port, method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      handler(req, res);
    };
    const s = tlsOpts ? https.createServer(tlsOpts, h) : http.createServer(h);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => resolve());
    });
    servers.push(s);
  }
  return {
    close: () =>
      Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.closeAllConnections();
              s.close(() => r());
            }),
        ),
      ).then(() => undefined),
  };
}

/** A self-signed certificate for 127.0.0.1, [::1] and localhost. */
function makeTlsCert(dir: string): { key: string; cert: string } {
  const key = path.join(dir, 'tls.key');
  const cert = path.join(dir, 'tls.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost'], {
    stdio: 'ignore',
  });
  return { key: fs.readFileSync(key, 'utf8'), cert: fs.readFileSync(cert, 'utf8') };
}

/** Requests from `log` that carry a credential: an Authorization header, or a secret anywhere in the request line or headers. */
function credentialsIn(log: Seen[]): Seen[] {
  return log.filter((s) => s.headers.authorization !== undefined || SECRETS.some((x) => `${s.url} ${JSON.stringify(s.headers)}`.includes(x)));
}

async function drain(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A registry-storage blob path (`/docker/registry/v2/blobs/sha256/ab/<hex>/data`) → the file in one of `roots`. */
function storageFile(roots: string[], urlPath: string): string | undefined {
  if (!/^\/docker\/registry\/v2\/blobs\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64}\/data$/.test(urlPath)) return undefined;
  return roots.map((r) => path.join(r, urlPath)).find((f) => fs.existsSync(f));
}

/** Serves a blob from the registries' storage, as a CDN in front of it would (no credentials needed). */
function serveStored(roots: string[], req: http.IncomingMessage, res: http.ServerResponse): void {
  const f = storageFile(roots, new URL(req.url ?? '/', 'http://x').pathname);
  if (!f) {
    res.writeHead(404).end();
    return;
  }
  const body = fs.readFileSync(f);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * A small image as an OCI layout, made here so the suite moves kilobytes, not the lab's 50 MB base:
 * one uncompressed layer (tar(1)) holding /etc/os-release of Debian 12 and a dpkg status file with
 * two packages, an image config, a manifest and index.json. Returns the `oci:` reference.
 */
function makeTinyImage(dir: string): string {
  return writeOciImage(dir, 'tiny', [{ files: { 'etc/os-release': DEBIAN_12_OS_RELEASE, 'var/lib/dpkg/status': dpkgStatus(['base-files 12.4+deb12u5', 'zlib1g 1:1.2.13.dfsg-1']) } }]).ref;
}

/** `pushgate scan` as a child process (async: the hosts in this process must keep answering). */
function cliScan(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), 'scan', ...args], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('security: credentials stay with their registry (real Distribution redirecting blobs to storage)', function () {
  this.timeout(120_000);
  let dir: string;
  let tlsCert: { key: string; cert: string };
  const log: Seen[] = [];
  let issuer: TokenIssuer;
  let signer: { key: string; cert: string };
  let tokenReg: LabRegistry;
  let basicReg: LabRegistry;
  const listeners: Listener[] = [];
  /** What the storage host at the middleware's base URL does with the next request. */
  let storageMode: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  let storage2Mode: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  let storageTlsMode: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  const roots = () => [tokenReg.storage, basicReg.storage];
  const serve: Handler = (req, res) => serveStored(roots(), req, res);
  const redirect = (status: number, to: (req: http.IncomingMessage) => string): Handler => (req, res) => {
    res.writeHead(status, { location: to(req) });
    res.end();
  };
  const pathOf = (req: http.IncomingMessage) => new URL(req.url ?? '/', 'http://x').pathname;
  const redirectEnv = { REGISTRY_MIDDLEWARE_STORAGE: `[{name: redirect, options: {baseurl: "http://127.0.0.1:${P.storage}/"}}]` };
  const tokenClient = (o: Partial<RegistryClientOptions> = {}) => new RegistryClient({ name: 'lab', url: tokenReg.url, auth: { username: CI_USER, password: CI_PASS }, ca: tlsCert.cert, retries: 0, ...o });
  const basicClient = (o: Partial<RegistryClientOptions> = {}) => new RegistryClient({ name: 'lab', url: basicReg.url, auth: { username: GATE_USER, password: GATE_PASS }, ca: tlsCert.cert, retries: 0, ...o });
  let base: { digest: string; config: { digest: string; size: number }; layers: Array<{ digest: string; size: number }> };
  const at = (server: string) => log.filter((s) => s.server === server);
  const foreign = () => log.filter((s) => s.server !== 'issuer');

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-creds-'));
    tlsCert = makeTlsCert(dir);
    signer = makeSigner(dir);
    issuer = await startIssuer(P.issuer, signer);
    issuer.users = { [CI_USER]: CI_PASS };
    // the real issuer records into the same log (wrapping its handler is not possible: its own log suffices)
    tokenReg = startRegistry(P.tokenRegistry, { auth: 'token', env: { TOKEN_REALM: issuer.realm, TOKEN_ROOTCERTBUNDLE: signer.cert, ...redirectEnv } });
    basicReg = startRegistry(P.basicRegistry, { auth: 'htpasswd', env: { HTPASSWD_USER: GATE_USER, HTPASSWD_PASS: GATE_PASS, ...redirectEnv } });
    storageMode = serve;
    storage2Mode = serve;
    storageTlsMode = serve;
    listeners.push(await listen('storage', P.storage, log, (q, s) => storageMode(q, s)));
    listeners.push(await listen('storage2', P.storage2, log, (q, s) => storage2Mode(q, s)));
    listeners.push(await listen('storage-tls', P.storageTls, log, (q, s) => storageTlsMode(q, s), tlsCert));
    listeners.push(
      await listen('hostile-realm', P.hostileRealm, log, (_q, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ token: 'hostile-token', expires_in: 300 }));
      }),
    );
    const image = makeTinyImage(dir);
    const pushes = await Promise.all([
      skopeoCopyAsync(image, `${tokenReg.host}/lab/base:bookworm`, { creds: `${CI_USER}:${CI_PASS}` }),
      skopeoCopyAsync(image, `${basicReg.host}/lab/base:bookworm`, { creds: `${GATE_USER}:${GATE_PASS}` }),
    ]);
    for (const p of pushes) expect(p.code, p.stderr).to.equal(0);
    const m = await tokenClient().getManifest('lab/base', 'bookworm');
    const j = JSON.parse(m.bytes.toString('utf8')) as { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number }> };
    base = { digest: m.digest, config: j.config, layers: j.layers };
  });
  after(async () => {
    tokenReg?.stop();
    basicReg?.stop();
    await Promise.all(listeners.map((l) => l.close()));
    await issuer?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    log.length = 0;
    issuer.log.length = 0;
    issuer.grant = (_u, _t, _n, actions) => actions;
    storageMode = serve;
    storage2Mode = serve;
    storageTlsMode = serve;
  });
  /** No host but the registry and its realm ever saw a credential: asserted first in every test, before what the client reports. */
  const expectNoCredentialLeft = () => expect(credentialsIn(foreign()).map((s) => `${s.server} ${s.method} ${s.url} ${s.headers.authorization ?? ''}`)).to.deep.equal([]);

  /** Reads every blob of the pushed image through `c`, digest-verified. */
  async function readAllBlobs(c: RegistryClient): Promise<void> {
    for (const d of [base.config, ...base.layers]) {
      const got = await drain(await c.getBlob('lab/base', d.digest as `sha256:${string}`, { verify: true, size: d.size }));
      expect(got.length).to.equal(d.size);
    }
  }

  it('the real registry redirects blob GET and HEAD to storage on another port of the same host (another origin): the blobs arrive, storage saw no credential', async () => {
    for (const c of [tokenClient(), basicClient()]) {
      await readAllBlobs(c);
      expect(await c.blobExists('lab/base', base.config.digest)).to.equal(true);
    }
    expectNoCredentialLeft();
    const st = at('storage');
    expect(st.length).to.equal(2 * (base.layers.length + 2));
    expect(st.every((s) => s.headers.authorization === undefined)).to.equal(true);
    // the token registry's client got its tokens from the real issuer, as ci
    expect(issuer.log.map((l) => l.user)).to.deep.equal([CI_USER]);
  });

  for (const status of [302, 307, 308]) {
    it(`storage redirects on with ${status} to another host: followed without credentials, the blob arrives`, async () => {
      storageMode = redirect(status, (req) => `http://localhost:${P.storage2}${pathOf(req)}?X-Amz-Signature=s1`);
      await readAllBlobs(tokenClient());
      expectNoCredentialLeft();
      expect(at('storage2').length).to.equal(base.layers.length + 1);
      expect(at('storage2').every((s) => s.headers.authorization === undefined && s.method === 'GET')).to.equal(true);
    });
  }

  it('a chain of redirects (5 in all, counting the registry\'s): followed without credentials; one more is refused with a clear error', async () => {
    // registry → storage → storage2 → storage → storage2 → storage(tls) serves
    const hop = (req: http.IncomingMessage) => Number(new URL(req.url ?? '/', 'http://x').searchParams.get('hop') ?? '0');
    storageMode = (req, res) => (hop(req) === 0 ? redirect(302, (r) => `http://127.0.0.1:${P.storage2}${pathOf(r)}?hop=1`)(req, res) : redirect(307, (r) => `http://[::1]:${P.storage2}${pathOf(r)}?hop=3`)(req, res));
    storage2Mode = (req, res) => (hop(req) === 1 ? redirect(308, (r) => `http://127.0.0.1:${P.storage}${pathOf(r)}?hop=2`)(req, res) : redirect(302, (r) => `https://127.0.0.1:${P.storageTls}${pathOf(r)}?hop=4`)(req, res));
    const d = base.config;
    expect((await drain(await tokenClient().getBlob('lab/base', d.digest as `sha256:${string}`, { verify: true }))).length).to.equal(d.size);
    expectNoCredentialLeft();
    expect(log.filter((s) => s.server !== 'hostile-realm').map((s) => `${s.server}:${hop({ url: s.url } as http.IncomingMessage)}`)).to.deep.equal(['storage:0', 'storage2:1', 'storage:2', 'storage2:3', 'storage-tls:4']);
    log.length = 0;
    storageTlsMode = redirect(302, (r) => `https://localhost:${P.storageTls}${pathOf(r)}?hop=5`);
    const e = await rejects(tokenClient().getBlob('lab/base', d.digest as `sha256:${string}`));
    expectNoCredentialLeft();
    expect(e.message).to.match(/^registry lab: GET blob lab\/base@sha256:[0-9a-f]{64}: more than 5 redirects/);
    expect(at('storage-tls').length).to.equal(1);
  });

  it('storage answers 401 with a token realm on another host: refused with a clear error; the realm is never asked (token and Basic registry)', async () => {
    storageMode = (_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${P.hostileRealm}/token",service="storage",scope="repository:lab/base:pull"` });
      res.end();
    };
    for (const c of [tokenClient(), basicClient()]) {
      // as a scan does: the manifest first (the client learns the registry's scheme), then the blobs
      expect((await c.resolve('lab/base', 'bookworm'))?.digest).to.equal(base.digest);
      const e = await rejects(c.getBlob('lab/base', base.config.digest as `sha256:${string}`));
      expectNoCredentialLeft();
      expect(at('hostile-realm')).to.deep.equal([]);
      expect(e.code).to.equal('FORBIDDEN');
      expect(e.message).to.match(
        new RegExp(`^registry lab: GET blob lab/base@sha256:[0-9a-f]{64}: http://127\\.0\\.0\\.1:${P.storage}, which is not the registry's origin .*answered 401 \\(bearer challenge\\); pushgate sends the registry's credentials only to http://127\\.0\\.0\\.1:(${P.tokenRegistry}|${P.basicRegistry}) .*storage\\.redirect\\.disable`),
      );
      // and the client still works for everything the registry serves itself
      expect((await c.resolve('lab/base', 'bookworm'))?.digest).to.equal(base.digest);
    }
    expect(at('hostile-realm')).to.deep.equal([]);
    expect(at('storage').length).to.equal(2);
    expect(issuer.log.every((l) => l.user === CI_USER)).to.equal(true);
  });

  it('storage answers 401 Basic: refused, never answered with the password', async () => {
    storageMode = (_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="storage"' });
      res.end();
    };
    for (const c of [tokenClient(), basicClient()]) {
      expect((await c.resolve('lab/base', 'bookworm'))?.digest).to.equal(base.digest);
      const e = await rejects(c.getBlob('lab/base', base.config.digest as `sha256:${string}`));
      expectNoCredentialLeft();
      expect(e.code).to.equal('FORBIDDEN');
      expect(e.message).to.match(/answered 401 \(basic challenge\)/);
    }
    // one request per client: the challenge was not answered
    expect(at('storage').length).to.equal(2);
  });

  it('https storage redirecting to plain http: the downgrade is refused, the http host never contacted', async () => {
    storageMode = redirect(307, (r) => `https://127.0.0.1:${P.storageTls}${pathOf(r)}`);
    storageTlsMode = redirect(302, (r) => `http://127.0.0.1:${P.storage2}${pathOf(r)}`);
    const e = await rejects(tokenClient().getBlob('lab/base', base.config.digest as `sha256:${string}`));
    expectNoCredentialLeft();
    expect(e.code).to.equal('FORBIDDEN');
    expect(e.message).to.match(new RegExp(`not followed: redirect from https to plain http \\(http://127\\.0\\.0\\.1:${P.storage2}\\)`));
    expect(at('storage2')).to.deep.equal([]);
  });

  it('storage redirecting back to the registry: no credential once the chain left, so the registry\'s 401 is an error, not a token fetch', async () => {
    storageMode = redirect(302, () => `${tokenReg.url}/v2/lab/base/blobs/${base.config.digest}`);
    const c = tokenClient();
    await c.resolve('lab/base', 'bookworm');
    const tokens = issuer.log.length;
    const e = await rejects(c.getBlob('lab/base', base.config.digest as `sha256:${string}`));
    expectNoCredentialLeft();
    expect(e.code).to.equal('FORBIDDEN');
    expect(e.message).to.match(/the registry answered 401 to a request a redirect through another host brought back; credentials are not sent once a redirect left the registry's origin/);
    expect(issuer.log.length).to.equal(tokens);
  });

  it('the whole scan (`pushgate scan` with registries[].auth): a hostile storage host fails it with a clear error and learns nothing; a plain one lets it complete', async () => {
    const cfg = path.join(dir, 'pushgate.yaml');
    fs.writeFileSync(
      cfg,
      [
        'vulndb:',
        `  path: ${path.join(dir, 'no-vulndb.sqlite')}`,
        'registries:',
        '  - name: lab',
        `    url: ${basicReg.url}`,
        '    auth:',
        `      username: ${GATE_USER}`,
        `      password: ${GATE_PASS}`,
        '',
      ].join('\n'),
    );
    storageMode = (_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${P.hostileRealm}/token",service="storage"` });
      res.end();
    };
    const bad = await cliScan([`${basicReg.host}/lab/base:bookworm`, '--config', cfg, '--format', 'json']);
    expectNoCredentialLeft();
    expect(at('hostile-realm')).to.deep.equal([]);
    for (const x of SECRETS.slice(0, 4)) expect(bad.stdout + bad.stderr).not.to.include(x);
    // the blobs could not be read: the scan is incomplete and the default policy quarantines (fails closed)
    expect(bad.code, bad.stderr).to.equal(1);
    const failed = JSON.parse(bad.stdout) as { complete: boolean; verdict: { decision: string }; diagnostics: Array<{ code: string; message: string }> };
    expect(failed.complete).to.equal(false);
    expect(failed.verdict.decision).to.equal('quarantine');
    const refusals = failed.diagnostics.filter((d) => /answered 401 \(bearer challenge\); pushgate sends the registry's credentials only to/.test(d.message));
    expect(refusals.map((d) => d.code).sort()).to.deep.equal(['blob-missing', 'config-unreadable']);
    storageMode = serve;
    const good = await cliScan([`${basicReg.host}/lab/base:bookworm`, '--config', cfg, '--format', 'json']);
    expectNoCredentialLeft();
    expect(good.code, good.stderr).to.be.oneOf([0, 1]);
    const report = JSON.parse(good.stdout) as { digest: string; packages: unknown[]; diagnostics: Array<{ code: string }> };
    expect(report.digest).to.equal(base.digest);
    expect(report.packages.map((p) => (p as { name: string }).name).sort()).to.deep.equal(['base-files', 'zlib1g']);
    expect(report.diagnostics.map((d) => d.code)).to.deep.equal(['vulndb-missing']);
  });

  it('credentials never reach error messages or logs, even through a network error (axios keeps the request config)', async () => {
    const token = 'static-T0ken-never-logged';
    const c = new RegistryClient({ name: 'lab', url: `http://127.0.0.1:${P.closed}`, auth: { token }, retries: 0 });
    const e = await rejects(c.getManifest('lab/base', 'bookworm'));
    expect(e.code).to.equal('NETWORK');
    const lines: string[] = [];
    const logger = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, new Writable({ write: (chunk: Buffer, _enc, cb) => (lines.push(chunk.toString()), cb()) }));
    logger.error({ err: e }, 'scan failed');
    const everything = [util.inspect(e, { depth: Infinity, showHidden: true }), JSON.stringify(e), lines.join('\n'), e.message, e.stack ?? ''].join('\n');
    expect(everything).to.include('ECONNREFUSED');
    expect(everything).not.to.include(token);
    // and the same for a refused challenge with the real password configured
    storageMode = (_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="storage"' });
      res.end();
    };
    const e2 = await rejects(basicClient().getBlob('lab/base', base.config.digest as `sha256:${string}`));
    const all2 = [util.inspect(e2, { depth: Infinity, showHidden: true }), JSON.stringify(e2)].join('\n');
    for (const s of SECRETS.slice(0, 4)) expect(all2).not.to.include(s);
  });

  it('a realm change mid-session is refused: the first realm stays pinned, a configured list wins, the new realm is never asked', async () => {
    const c = tokenClient();
    expect((await c.resolve('lab/base', 'bookworm'))?.digest).to.equal(base.digest);
    expect(issuer.log.map((l) => l.user)).to.deep.equal([CI_USER]);
    // the registry restarts announcing another realm (same signer: old tokens stay valid)
    const script = path.join(ROOT, 'scripts/lab/start-registry.sh');
    spawnSync('bash', [script, '--stop', '--storage', tokenReg.storage]);
    const r = spawnSync('bash', [script, '--port', String(P.tokenRegistry), '--storage', tokenReg.storage, '--auth', 'token'], {
      encoding: 'utf8',
      env: { ...process.env, TOKEN_REALM: `http://127.0.0.1:${P.hostileRealm}/token`, TOKEN_ROOTCERTBUNDLE: signer.cert, ...redirectEnv },
    });
    expect(r.status, r.stderr).to.equal(0);
    try {
      // a scope the issuer refuses: the registry answers 401 naming its new realm
      issuer.grant = (_u, _t, name, actions) => (name === 'lab/other' ? [] : actions);
      const e = await rejects(c.resolve('lab/other', 'x'));
      expectNoCredentialLeft();
      expect(at('hostile-realm')).to.deep.equal([]);
      expect(e.code).to.equal('FORBIDDEN');
      expect(e.message).to.match(
        new RegExp(`token realm refused: the registry announced token realm http://127\\.0\\.0\\.1:${P.hostileRealm}, but its first announced realm was http://127\\.0\\.0\\.1:${P.issuer}; .*registries\\[lab\\]\\.auth\\.realms`),
      );
      // what was granted before still works with the pinned realm
      expect((await c.resolve('lab/base', 'bookworm'))?.digest).to.equal(base.digest);
      // a fresh client configured with the legitimate realm refuses the announced one at once
      const configured = tokenClient({ auth: { username: CI_USER, password: CI_PASS, realms: [issuer.realm] } });
      const e2 = await rejects(configured.resolve('lab/base', 'bookworm'));
      expectNoCredentialLeft();
      expect(e2.message).to.match(new RegExp(`announced token realm http://127\\.0\\.0\\.1:${P.hostileRealm}, which is not in registries\\[lab\\]\\.auth\\.realms \\(http://127\\.0\\.0\\.1:${P.issuer}\\)`));
      expect(at('hostile-realm')).to.deep.equal([]);
    } finally {
      spawnSync('bash', [script, '--stop', '--storage', tokenReg.storage]);
      const back = spawnSync('bash', [script, '--port', String(P.tokenRegistry), '--storage', tokenReg.storage, '--auth', 'token'], {
        encoding: 'utf8',
        env: { ...process.env, TOKEN_REALM: issuer.realm, TOKEN_ROOTCERTBUNDLE: signer.cert, ...redirectEnv },
      });
      expect(back.status, back.stderr).to.equal(0);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Property: generated registries, realms and redirect chains against a fake registry on loopback.

type Scheme = 'http' | 'https';
/** Which loopback identity a host spelling names: 127.0.0.1, the name localhost, or [::1]. */
type Ident = 'v4' | 'name' | 'v6';
/** Which listener a URL reaches: the registry's ports or the foreign ones. */
type Kind = 'reg' | 'foreign';
interface Place {
  scheme: Scheme;
  ident: Ident;
  kind: Kind;
}

const portOf = (p: Place) => (p.kind === 'reg' ? (p.scheme === 'http' ? P.fakeRegHttp : P.fakeRegHttps) : p.scheme === 'http' ? P.foreignHttp : P.foreignHttps);
const samePlace = (a: Place, b: Place) => a.scheme === b.scheme && a.ident === b.ident && a.kind === b.kind;

const placeArb: fc.Arbitrary<Place> = fc.record({
  scheme: fc.constantFrom<Scheme>('http', 'https'),
  ident: fc.constantFrom<Ident>('v4', 'v4', 'name', 'v6'),
  kind: fc.constantFrom<Kind>('reg', 'foreign'),
});
/** Spellings of one identity, as a registry or a storage service might write them. */
const SPELL: Record<Ident, string[]> = {
  v4: ['127.0.0.1', '127.1', '0x7f.0.0.1', '2130706433', '0177.0.0.1', '127.0.0.1.', '127.000.000.001'],
  name: ['localhost', 'LOCALHOST', 'LocalHost'],
  v6: ['[::1]', '[0:0:0:0:0:0:0:1]', '[::0001]'],
};
const spellArb = fc.record({ host: fc.nat(), port: fc.boolean(), scheme: fc.boolean() });
type Spell = { host: number; port: boolean; scheme: boolean };
function spell(p: Place, s: Spell): string {
  const hosts = SPELL[p.ident];
  const port = String(portOf(p));
  return `${s.scheme ? p.scheme.toUpperCase() : p.scheme}://${hosts[s.host % hosts.length]}:${s.port ? `0${port}` : port}`;
}

/** One redirect: where to, how the Location is written, with which status. */
interface Hop {
  to: Place;
  spell: Spell;
  form: 'absolute' | 'path' | 'scheme-relative';
  status: 301 | 302 | 303 | 307 | 308;
}
const hopArb: fc.Arbitrary<Hop> = fc.record({
  to: placeArb,
  spell: spellArb,
  form: fc.constantFrom<Hop['form']>('absolute', 'absolute', 'path', 'scheme-relative'),
  status: fc.constantFrom<Hop['status']>(301, 302, 303, 307, 308),
});

interface Case {
  regScheme: Scheme;
  realm: Place;
  realmSpell: Spell;
  /** undefined: trust on first use; else the configured realms (places). */
  configured?: Array<{ place: Place; spell: Spell }>;
  chain: Hop[];
  /** What the last URL of the chain answers. */
  end: 'blob' | '401-basic' | '401-bearer-evil';
}

describe('security: credentials stay with their registry (property: generated realms and redirect chains)', function () {
  this.timeout(120_000);
  const log: Seen[] = [];
  const listeners: Listener[] = [];
  const blob = crypto.randomBytes(4096);
  const digest = `sha256:${crypto.createHash('sha256').update(blob).digest('hex')}` as const;
  const USER = 'prop';
  const PASS = 'prop-Pa55';
  /** run id → the run's plan. */
  const plans = new Map<string, { locations: string[]; end: Case['end'] }>();

  /** One handler for every listener: the path says what is asked. */
  const handler =
    (server: string): Handler =>
    (req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      let m: RegExpExecArray | null;
      if ((m = /^\/token\/(\w+)$/.exec(u.pathname))) {
        const ok = req.headers.authorization === `Basic ${b64(USER, PASS)}`;
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
        res.end(ok ? JSON.stringify({ token: `tok-${m[1]}`, expires_in: 300 }) : '{}');
        return;
      }
      if ((m = /^\/v2\/p(\w+)\/blobs\/sha256:[0-9a-f]{64}$/.exec(u.pathname)) && server.startsWith('reg')) {
        const plan = plans.get(m[1]);
        if (!plan) return void res.writeHead(404).end();
        if (req.headers.authorization !== `Bearer tok-${m[1]}`) {
          res.writeHead(401, { 'www-authenticate': `Bearer realm="${realmFor.get(m[1])}",service="fake"` });
          return void res.end();
        }
        return next(plan, 0, res);
      }
      if (u.pathname === '/v2/linked/tags/list') {
        // page 1 on the registry (after its Basic challenge), page 2 wherever its Link points, open to all
        const page2 = u.searchParams.get('last') !== null;
        if (!page2 && req.headers.authorization !== `Basic ${b64(USER, PASS)}`) {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' });
          return void res.end();
        }
        res.writeHead(200, { 'content-type': 'application/json', ...(page2 ? {} : { link: `<${linkTo}/v2/linked/tags/list?last=a>; rel="next"` }) });
        return void res.end(JSON.stringify({ name: 'linked', tags: [page2 ? 'b' : 'a'] }));
      }
      if ((m = /^\/c\/(\w+)\/(\d+)$/.exec(u.pathname))) {
        const plan = plans.get(m[1]);
        if (!plan) return void res.writeHead(404).end();
        return next(plan, Number(m[2]), res);
      }
      res.writeHead(404).end();
    };
  const realmFor = new Map<string, string>();
  let linkTo = '';
  function next(plan: { locations: string[]; end: Case['end'] }, i: number, res: http.ServerResponse): void {
    if (i < plan.locations.length) {
      const [status, loc] = plan.locations[i].split(' ');
      res.writeHead(Number(status), { location: loc });
      return void res.end();
    }
    if (plan.end === 'blob') {
      res.writeHead(200, { 'content-length': String(blob.length) });
      return void res.end(blob);
    }
    res.writeHead(401, { 'www-authenticate': plan.end === '401-basic' ? 'Basic realm="x"' : `Bearer realm="http://127.0.0.1:${P.evilRealm}/token/evil",service="evil"` });
    res.end();
  }

  before(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-creds-prop-'));
    const tlsCert = makeTlsCert(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    listeners.push(await listen('reg-http', P.fakeRegHttp, log, handler('reg-http')));
    listeners.push(await listen('reg-https', P.fakeRegHttps, log, handler('reg-https'), tlsCert));
    listeners.push(await listen('foreign-http', P.foreignHttp, log, handler('foreign-http')));
    listeners.push(await listen('foreign-https', P.foreignHttps, log, handler('foreign-https'), tlsCert));
    listeners.push(await listen('evil-realm', P.evilRealm, log, handler('evil-realm')));
  });
  after(async () => {
    await Promise.all(listeners.map((l) => l.close()));
  });

  it('a tag-list Link to another origin is not followed: no request, so no credential, goes there (same host: other port, other scheme, [::1], localhost)', async () => {
    for (const to of [`http://127.0.0.1:${P.foreignHttp}`, `https://127.0.0.1:${P.fakeRegHttps}`, `http://[::1]:${P.fakeRegHttp}`, `http://LOCALHOST:${P.fakeRegHttp}`]) {
      linkTo = to;
      log.length = 0;
      const client = new RegistryClient({ name: 'prop', url: `http://127.0.0.1:${P.fakeRegHttp}`, insecure: true, retries: 0, auth: { username: USER, password: PASS } });
      let err: unknown;
      try {
        await client.listTags('linked');
      } catch (e) {
        err = e;
      }
      expect((err as Error | undefined)?.message, to).to.match(/not to the registry's origin/);
      expect(log.map((x) => `${x.port} ${x.headers.authorization ? 'auth' : '-'}`), to).to.deep.equal([`${P.fakeRegHttp} -`, `${P.fakeRegHttp} auth`]);
    }
  });

  it('credentials are attached iff the target is the registry origin (and the chain never left it) or an admitted realm', async () => {
    let runNo = 0;
    const caseArb: fc.Arbitrary<Case> = fc.record(
      {
        regScheme: fc.constantFrom<Scheme>('http', 'https'),
        realm: placeArb,
        realmSpell: spellArb,
        configured: fc.option(fc.array(fc.record({ place: placeArb, spell: spellArb }), { minLength: 1, maxLength: 2 }), { nil: undefined }),
        chain: fc.array(hopArb, { maxLength: 7 }),
        end: fc.constantFrom<Case['end']>('blob', 'blob', '401-basic', '401-bearer-evil'),
      },
      { requiredKeys: ['regScheme', 'realm', 'realmSpell', 'chain', 'end'] },
    );
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const run = `r${++runNo}x${crypto.randomBytes(3).toString('hex')}`;
        const reg: Place = { scheme: c.regScheme, ident: 'v4', kind: 'reg' };
        const regUrl = `${c.regScheme}://127.0.0.1:${portOf(reg)}`;
        const realmUrl = `${spell(c.realm, c.realmSpell)}/token/${run}`;
        realmFor.set(run, realmUrl);

        // the model: where each Location leads, written in the generated form
        const places: Place[] = [reg];
        const locations: string[] = [];
        for (const h of c.chain) {
          const cur = places[places.length - 1];
          const to: Place = h.form === 'path' ? cur : h.form === 'scheme-relative' ? { ...h.to, scheme: cur.scheme } : h.to;
          const abs = spell(to, h.spell);
          const p = `/c/${run}/${locations.length + 1}`;
          locations.push(`${h.status} ${h.form === 'path' ? p : h.form === 'scheme-relative' ? abs.replace(/^[a-z]+:/i, '') + p : abs + p}`);
          places.push(to);
        }
        plans.set(run, { locations, end: c.end });

        // the oracle, written from the rules, not from the code
        const httpForHttps = c.configured?.some((x) => x.place.scheme === 'http') && c.regScheme === 'https';
        const realmAdmitted = c.configured ? c.configured.some((x) => samePlace(x.place, c.realm)) : !(c.regScheme === 'https' && c.realm.scheme === 'http');
        const expected: Array<{ path: string; port: number; auth?: string }> = [];
        const blobPath = `/v2/p${run}/blobs/${digest}`;
        let outcome: 'blob' | 'error' = 'error';
        expected.push({ path: blobPath, port: portOf(reg) });
        if (!httpForHttps && realmAdmitted) {
          expected.push({ path: `/token/${run}`, port: portOf(c.realm), auth: `Basic ${b64(USER, PASS)}` });
          expected.push({ path: blobPath, port: portOf(reg), auth: `Bearer tok-${run}` });
          let stayed = true;
          let i = 1;
          for (; i < places.length; i++) {
            if (i > 5) break; // the sixth redirect is refused
            if (places[i - 1].scheme === 'https' && places[i].scheme === 'http') break; // downgrade refused
            stayed = stayed && samePlace(places[i], reg);
            expected.push({ path: `/c/${run}/${i}`, port: portOf(places[i]), ...(stayed ? { auth: `Bearer tok-${run}` } : {}) });
          }
          if (i === places.length && c.end === 'blob') outcome = 'blob';
          // a Basic challenge from the registry's own origin would be answered by design: not this property's subject
          fc.pre(!(i === places.length && c.end === '401-basic' && stayed));
        }

        log.length = 0;
        let got: 'blob' | 'error' = 'error';
        let error: unknown;
        try {
          // insecure: TLS verification is not this property's subject, and a CA bundle next to the
          // system roots costs ~60 ms per fresh client's TLS context
          const client = new RegistryClient({
            name: 'prop',
            url: regUrl,
            insecure: true,
            retries: 0,
            auth: { username: USER, password: PASS, ...(c.configured ? { realms: c.configured.map((x) => `${spell(x.place, x.spell)}/token`) } : {}) },
          });
          const body = await drain(await client.getBlob(`p${run}`, digest, { verify: true }));
          got = body.equals(blob) ? 'blob' : 'error';
        } catch (e) {
          error = e;
        }
        const seen = log.map((s) => ({ path: new URL(s.url, 'http://x').pathname, port: s.port, ...(s.headers.authorization ? { auth: s.headers.authorization } : {}) }));
        if (httpForHttps) {
          expect((error as Error | undefined)?.message).to.match(/plain http for an https registry/);
          expect(seen).to.deep.equal([]);
          return;
        }
        expect(seen).to.deep.equal(expected);
        expect(got, String(error)).to.equal(outcome);
        // never any Basic except to the admitted realm, never a token to another origin
        for (const s of log) {
          const a = s.headers.authorization;
          if (!a) continue;
          if (a.startsWith('Basic')) expect(new URL(s.url, 'http://x').pathname).to.equal(`/token/${run}`);
          else expect(s.port).to.equal(portOf(reg));
        }
        expect(log.filter((s) => s.server === 'evil-realm')).to.deep.equal([]);
      }),
      { numRuns: 150 },
    );
  });

});
