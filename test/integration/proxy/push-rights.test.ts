/**
 * Whom the push proxy judges for: only a client the registry would let push. A Docker token with
 * `pull` on a repository (a reader, or anonymous pull on a public registry) passes a check that only
 * reads the repository, so a manifest PUT with it was held, scanned, stored as a verdict and audited
 * as a refused push (`proxy.refuse`, `blocked_pushes_total`) of a repository that client cannot write,
 * and it took one of the `proxy.maxHeldManifests` slots pushers need. Real Distribution 2.8 with token
 * auth, the in-process token issuer granting per user and repository, the real proxy.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { startRegistry, labImages, type LabRegistry } from '../../helpers/lab.js';
import { startProxy } from '../../../src/proxy/proxy.js';
import { GateDouble } from '../../unit/proxy/gate-double.js';
import { proxyTestConfig } from '../../unit/proxy/config.js';
import { makeSigner, startIssuer, type TokenIssuer } from '../registry/token-issuer.js';

const REG_PORT = 18013;
const ISSUER_PORT = 18091;
const PROXY_PORT = 18065;

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('proxy: only a client with push rights gets its manifest judged (real registry, token auth)', function () {
  this.timeout(120_000);
  let reg: LabRegistry;
  let issuer: TokenIssuer;
  let gate: GateDouble;
  let proxy: { port: number; close(): Promise<void> };
  /** Actions per user; a user missing here is a reader: pull on every repository. */
  const writers = new Set(['alice']);

  before(async () => {
    labImages();
    issuer = await startIssuer(ISSUER_PORT, makeSigner());
    issuer.users = { alice: 'a', reader: 'r' };
    issuer.grant = (user, _type, _name, actions) => (writers.has(user) ? actions : actions.filter((a) => a === 'pull'));
    reg = startRegistry(REG_PORT, { auth: 'token', env: { TOKEN_REALM: issuer.realm, TOKEN_ROOTCERTBUNDLE: issuer.certFile } });
    gate = new GateDouble({ upstream: reg.url });
    proxy = await startProxy({ gate, config: proxyTestConfig(reg.url, { listen: `127.0.0.1:${PROXY_PORT}` }) });
  });
  after(async () => {
    await proxy?.close();
    reg?.stop();
    await issuer?.close();
  });

  /** A token as a client gets it: Basic credentials (or none) and the scope it asks for. */
  const token = async (user: string | undefined, repository: string, actions: string): Promise<string> => {
    const headers: Record<string, string> = user ? { authorization: `Basic ${Buffer.from(`${user}:${issuer.users[user]}`).toString('base64')}` } : {};
    const r = await fetch(`${issuer.realm}?service=lab-registry&scope=repository:${repository}:${actions}`, { headers });
    return ((await r.json()) as { token: string }).token;
  };

  /** A manifest whose config blob alice pushed, so the registry would take it from a writer. */
  const manifestIn = async (repository: string): Promise<Buffer> => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const digest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    const t = await token('alice', repository, 'pull,push');
    const auth = { authorization: `Bearer ${t}` };
    const start = await fetch(`${reg.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: auth });
    expect(start.status, await start.text()).to.equal(202);
    const at = new URL(start.headers.get('location')!, reg.url);
    at.searchParams.set('digest', digest);
    const up = await fetch(at, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: config });
    expect(up.status, await up.text()).to.equal(201);
    return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest, size: config.length }, layers: [] }));
  };

  const put = (repository: string, tag: string, body: Buffer, bearer?: string): Promise<Response> =>
    fetch(`http://127.0.0.1:${proxy.port}/v2/${repository}/manifests/${tag}`, {
      method: 'PUT',
      headers: { 'content-type': OCI_MANIFEST, ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      body,
    });

  it('property: a pull-only or anonymous token is answered with the registry\'s push challenge; nothing is judged, stored or audited', async () => {
    const repos = ['bad/app', 'ok/app', 'warn/app'];
    const bodies = new Map<string, Buffer>();
    for (const r of repos) bodies.set(r, await manifestIn(r));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...repos), fc.constantFrom<'reader' | undefined>('reader', undefined), fc.constantFrom('pull', 'pull,push'), fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/), async (repository, user, asked, tag) => {
        const judged = gate.pending.length;
        const audited = gate.audits.length;
        const blocked = gate.blocked.length;
        const r = await put(repository, tag, bodies.get(repository)!, await token(user, repository, asked));
        const text = await r.text();
        expect(r.status, `${user ?? 'anonymous'} ${asked} ${repository}:${tag}: ${text}`).to.be.oneOf([401, 403]);
        // The challenge the client needs: push on this repository.
        if (r.status === 401) expect(r.headers.get('www-authenticate') ?? '', 'the challenge').to.match(/scope="repository:[^"]*push/).and.include(`repository:${repository}:`);
        expect(gate.pending.length, 'judged').to.equal(judged);
        expect(gate.audits.length, 'audited').to.equal(audited);
        expect(gate.blocked.length, 'counted as a refused push').to.equal(blocked);
      }),
      { numRuns: 25 },
    );
  });

  it('a writer is still judged: a violating manifest is refused by pushgate, a clean one lands', async () => {
    const bad = await manifestIn('bad/app');
    const judged = gate.pending.length;
    const r = await put('bad/app', '1', bad, await token('alice', 'bad/app', 'pull,push'));
    expect(r.status, await r.text()).to.equal(403);
    expect(gate.pending.length).to.equal(judged + 1);
    expect(gate.audits.at(-1)?.action).to.equal('proxy.refuse');
    const ok = await manifestIn('ok/app');
    const r2 = await put('ok/app', '1', ok, await token('alice', 'ok/app', 'pull,push'));
    expect(r2.status, await r2.text()).to.equal(201);
  });
});
