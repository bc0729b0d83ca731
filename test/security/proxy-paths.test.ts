/**
 * The push proxy reads a request path as the registry's router does (src/proxy/route.ts).
 *
 * Attacker: a pusher with push rights who spells a manifest PUT so that a raw-URL match misses it
 * (`/%762/…`, `%6danifests`, `manifests%2F<tag>`, `%2F` in the repository, dot segments, …) while
 * CNCF Distribution decodes it and lands the tag. Every spelling is sent raw (node:net, nothing
 * normalizes it) through the real proxy of `pushgate serve` in front of a real Distribution 2.8
 * registry that does not notify pushgate (a spelling that slips past the proxy would stay), and
 * straight to that registry to show the spelling is a real manifest PUT there. The end state: the
 * violating image's tag and digest are not in the registry.
 *
 * A fast-check property then mutates manifest PUT paths at random and checks, against the live
 * registry, that src/proxy/route.ts predicts its routing and that the proxy either refuses the
 * path or judges exactly the (repository, tag) the registry would write.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { PushgateConfig } from '../../src/config/types.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { startProxy } from '../../src/proxy/proxy.js';
import { canonicalRequest, distributionRoute, type Route } from '../../src/proxy/route.js';
import { updateDb } from '../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, metricValue, silentLogger } from '../helpers/gate.js';
import { labImages, ROOT, skopeoCopyAsync, startRegistry, type LabRegistry } from '../helpers/lab.js';
import { GateDouble } from '../unit/proxy/gate-double.js';
import { proxyTestConfig } from '../unit/proxy/config.js';

const REG_PORT = 21110;
const PROXY_PORT = 21111; // pushgate serve's proxy listener (the real gate)
const DOUBLE_PROXY_PORT = 21112; // a proxy with the GateDouble (records what it was asked to judge)
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One HTTP/1.1 exchange with the request target written exactly as given. */
function rawRequest(port: number, method: string, target: string, headers: Record<string, string>, body: Buffer = Buffer.alloc(0)): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    // A server that answers before reading the whole body (a refusal) may reset the connection while the
    // body is still being written: the answer already received is what the client gets.
    s.on('error', (e) => {
      if (!chunks.length) reject(e);
    });
    s.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const cut = text.indexOf('\r\n\r\n');
      const lines = text.slice(0, cut).split('\r\n');
      const h: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        h[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(lines[0]!.split(' ')[1]), headers: h, body: text.slice(cut + 4) });
    });
    let head = `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\nContent-Length: ${body.length}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    s.write(`${head}\r\n`);
    // no half-close: Node's server (the proxy) aborts a request whose client ended its side
    s.write(body);
  });
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const enc = (s: string, upper = false): string => [...s].map((c) => `%${c.charCodeAt(0).toString(16)[upper ? 'toUpperCase' : 'toLowerCase']()}`).join('');

/** Spellings of `PUT /v2/<repo>/manifests/<ref>` (the registry routes all but the last group as that PUT). */
function variants(repo: string, ref: string, regHost: string): Array<{ label: string; target: string; lands: boolean }> {
  const [ns, app] = repo.split('/') as [string, string];
  return [
    { label: '%6d in "manifests"', target: `/v2/${repo}/%6danifests/${ref}`, lands: true },
    { label: '%6D (upper-case hex)', target: `/v2/${repo}/%6Danifests/${ref}`, lands: true },
    { label: '"manifests" fully encoded', target: `/v2/${repo}/${enc('manifests', true)}/${ref}`, lands: true },
    { label: '%2F before the reference', target: `/v2/${repo}/manifests%2F${ref}`, lands: true },
    { label: '%2f before the reference', target: `/v2/${repo}/manifests%2f${ref}`, lands: true },
    { label: '%76 in "v2"', target: `/%762/${repo}/manifests/${ref}`, lands: true },
    { label: '"v2/" encoded', target: `/${enc('v2/')}${repo}/manifests/${ref}`, lands: true },
    { label: '%2F inside the repository', target: `/v2/${ns}%2F${app}/manifests/${ref}`, lands: true },
    { label: 'repository letters encoded', target: `/v2/${enc(ns)}/${enc(app, true)}/manifests/${ref}`, lands: true },
    { label: 'tag encoded', target: `/v2/${repo}/manifests/${enc(ref)}`, lands: true },
    { label: 'whole path encoded', target: `/${enc(`v2/${repo}/manifests/${ref}`, true)}`, lands: true },
    { label: 'absolute-form target', target: `http://${regHost}/v2/${repo}/manifests/${ref}`, lands: true },
    { label: 'absolute-form target naming another host', target: `http://elsewhere.test/v2/${repo}/manifests/${ref}`, lands: true },
    // the registry answers these with a 301 to the clean path: nothing lands, the proxy refuses them
    { label: 'repeated slash', target: `/v2//${repo}/manifests/${ref}`, lands: false },
    { label: 'leading double slash', target: `//v2/${repo}/manifests/${ref}`, lands: false },
    { label: '/./ segment', target: `/v2/./${repo}/manifests/${ref}`, lands: false },
    { label: '/../ segment', target: `/v2/${ns}/x/../${app}/manifests/${ref}`, lands: false },
    { label: '%2e%2e segment', target: `/v2/x/%2e%2e/${repo}/manifests/${ref}`, lands: false },
    { label: '%2F%2F inside the repository', target: `/v2/${ns}%2F%2F${app}/manifests/${ref}`, lands: false },
    { label: 'trailing slash', target: `/v2/${repo}/manifests/${ref}/`, lands: false },
    { label: 'trailing %2F', target: `/v2/${repo}/manifests/${ref}%2F`, lands: false },
    // not a route at all for the registry (404), refused by the proxy as ambiguous
    { label: 'double encoding %256d', target: `/v2/${repo}/%256danifests/${ref}`, lands: false },
    { label: 'fragment', target: `/v2/${repo}/manifests/${ref}#x`, lands: false },
  ];
}

describe('security: manifest PUT path spellings through the proxy', function () {
  this.timeout(240_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let manifest: Buffer;
  let digest: string;

  async function tags(repo: string): Promise<string[]> {
    const r = await fetch(`${reg.url}/v2/${repo}/tags/list`);
    if (r.status === 404) return [];
    return ((await r.json()) as { tags: string[] | null }).tags ?? [];
  }

  before(async () => {
    const images = labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-sec-paths-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, 'sec-paths-token-0123456789')]);
    config.proxy = { ...config.proxy, listen: `127.0.0.1:${PROXY_PORT}`, upstream: `http://127.0.0.1:${REG_PORT}`, timeoutMs: 120_000, onTimeout: 'reject', onError: 'reject' };
    srv = await startServer(config, silentLogger);
    // No notifications: what slips past the proxy stays in the registry.
    reg = startRegistry(REG_PORT);
    // The blobs of a violating image (adm-zip 0.4.7) in lab/adm-zip: the skopeo push through the proxy
    // uploads them and is refused at the manifest; ctl/adm-zip gets the same image straight (the control).
    const push = await skopeoCopyAsync(`oci:${images}/adm-zip:0.4.7`, `127.0.0.1:${PROXY_PORT}/lab/adm-zip:seed`);
    expect(push.code, 'the plain push must be refused').to.not.equal(0);
    expect(push.stderr).to.match(/pushgate refused/);
    const ctl = await skopeoCopyAsync(`oci:${images}/adm-zip:0.4.7`, `${reg.host}/ctl/adm-zip:seed`);
    expect(ctl.code, ctl.stderr).to.equal(0);
    const m = await fetch(`${reg.url}/v2/ctl/adm-zip/manifests/seed`, { headers: { accept: `${OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json` } });
    manifest = Buffer.from(await m.arrayBuffer());
    digest = sha256(manifest);
    expect(m.headers.get('docker-content-digest')).to.equal(digest);
  });

  after(async () => {
    reg?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the plain spelling is judged and refused (403), nothing lands', async () => {
    const r = await rawRequest(PROXY_PORT, 'PUT', '/v2/lab/adm-zip/manifests/plain', { 'Content-Type': OCI_MANIFEST }, manifest);
    expect(r.status, r.body).to.equal(403);
    expect(r.body).to.match(/pushgate refused lab\/adm-zip:plain/);
    expect(await tags('lab/adm-zip')).to.deep.equal([]);
  });

  it('every encoded, dotted, slashed or absolute spelling is refused (400, counted) or judged; the violating image never lands', async () => {
    const refusedBefore = metricValue(await srv.metrics.text(), 'pushgate_proxy_refused_paths_total');
    const seen: string[] = [];
    const count = variants('lab/adm-zip', 'v0', reg.host).length;
    let refusals = 0;
    for (let i = 0; i < count; i++) {
      const v = variants('lab/adm-zip', `v${i}`, reg.host)[i]!;
      const r = await rawRequest(PROXY_PORT, 'PUT', v.target, { 'Content-Type': OCI_MANIFEST }, manifest);
      seen.push(`${v.label}: ${r.status}`);
      expect([400, 403], `${v.label} (${v.target}) → ${r.status} ${r.body}`).to.include(r.status);
      if (r.status === 400) {
        refusals++;
        const body = JSON.parse(r.body) as { errors: Array<{ code: string; message: string; detail: { reason: string } }> };
        expect(body.errors[0]!.message, v.label).to.match(/^pushgate proxy: request (path|target) /);
        expect(body.errors[0]!.detail.reason, v.label).to.be.a('string');
      }
    }
    // end state: no tag and no manifest of the violating image in the guarded repository
    expect(await tags('lab/adm-zip'), seen.join('\n')).to.deep.equal([]);
    expect((await fetch(`${reg.url}/v2/lab/adm-zip/manifests/${digest}`, { method: 'HEAD', headers: { accept: OCI_MANIFEST } })).status).to.equal(404);
    // every refusal is counted, by reason
    const text = await srv.metrics.text();
    expect(metricValue(text, 'pushgate_proxy_refused_paths_total') - refusedBefore).to.equal(refusals);
    for (const reason of ['encoded-route', 'unclean-path', 'request-target', 'double-encoding', 'bad-character']) {
      expect(metricValue(text, 'pushgate_proxy_refused_paths_total', { reason }), reason).to.be.greaterThan(0);
    }
  });

  it('a digest reference, plain or with an encoded ":", is judged or refused; the image stays absent by digest', async () => {
    const plain = await rawRequest(PROXY_PORT, 'PUT', `/v2/lab/adm-zip/manifests/${digest}`, { 'Content-Type': OCI_MANIFEST }, manifest);
    expect(plain.status, plain.body).to.equal(403);
    const r = await rawRequest(PROXY_PORT, 'PUT', `/v2/lab/adm-zip/manifests/${digest.replace(':', '%3A')}`, { 'Content-Type': OCI_MANIFEST }, manifest);
    expect([400, 403], r.body).to.include(r.status);
    expect((await fetch(`${reg.url}/v2/lab/adm-zip/manifests/${digest}`, { method: 'HEAD', headers: { accept: OCI_MANIFEST } })).status).to.equal(404);
  });

  it('control: straight to the registry, the same spellings are manifest PUTs that land (or 301/404 where marked)', async () => {
    const count = variants('ctl/adm-zip', 'c0', reg.host).length;
    for (let i = 0; i < count; i++) {
      const ref = `c${i}`;
      const v = variants('ctl/adm-zip', ref, reg.host)[i]!;
      const r = await rawRequest(REG_PORT, 'PUT', v.target, { 'Content-Type': OCI_MANIFEST }, manifest);
      const landed = (await tags('ctl/adm-zip')).includes(ref);
      expect(landed, `${v.label} (${v.target}) → ${r.status}`).to.equal(v.lands);
      if (!v.lands) expect([301, 404], v.label).to.include(r.status);
      // the proxy's model of the router agrees with what happened
      const model = distributionRoute(v.target);
      expect(model?.kind === 'manifest' && model.name === 'ctl/adm-zip' && model.reference === ref, v.label).to.equal(v.lands);
    }
  });

  it('client X-Forwarded-Host / -Proto / Forwarded / X-Real-IP do not reach the registry: its URLs name itself', async () => {
    const r = await rawRequest(PROXY_PORT, 'POST', '/v2/lab/hdr/blobs/uploads/', {
      'X-Forwarded-Host': 'evil.test',
      'X-Forwarded-Proto': 'https',
      Forwarded: 'host=evil2.test;proto=https',
      'X-Real-IP': '10.9.9.9',
    });
    expect(r.status).to.equal(202);
    // The registry built its Location from its own address (which the proxy made relative); had
    // the claims passed, it would name evil.test and stay absolute.
    expect(r.headers.location).to.match(/^\/v2\/lab\/hdr\/blobs\/uploads\/[0-9a-f-]+\?_state=/);
    expect(r.headers.location).to.not.match(/evil/);
  });

  it('a method-override header does not turn a POST into a manifest PUT', async () => {
    for (const h of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override']) {
      const r = await rawRequest(PROXY_PORT, 'POST', '/v2/lab/adm-zip/manifests/override', { 'Content-Type': OCI_MANIFEST, [h]: 'PUT' }, manifest);
      expect(r.status, h).to.be.within(400, 499);
    }
    expect(await tags('lab/adm-zip')).to.deep.equal([]);
  });
});

describe('security: property: the proxy routes generated manifest PUT paths as the registry does', function () {
  this.timeout(120_000);
  let reg: LabRegistry;
  let gate: GateDouble;
  let proxy: { port: number; close(): Promise<void> };
  let manifest: Buffer;
  let counter = 0;
  const stats = { refused: 0, judged: 0, registryManifest: 0, encodedManifest: 0 };

  async function tags(repo: string): Promise<string[]> {
    const r = await fetch(`${reg.url}/v2/${repo}/tags/list`);
    if (r.status === 404) return [];
    return ((await r.json()) as { tags: string[] | null }).tags ?? [];
  }

  before(async () => {
    reg = startRegistry(REG_PORT + 3);
    gate = new GateDouble({ upstream: reg.url });
    proxy = await startProxy({ gate, config: proxyTestConfig(reg.url, { listen: `127.0.0.1:${DOUBLE_PROXY_PORT}` }) });
    // A config-only image in ok/app: enough for the registry to accept and tag the manifest.
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: {} }));
    const start = await fetch(`${reg.url}/v2/ok/app/blobs/uploads/`, { method: 'POST' });
    const loc = new URL(start.headers.get('location')!, reg.url);
    loc.searchParams.set('digest', sha256(config));
    expect((await fetch(loc, { method: 'PUT', body: config })).status).to.equal(201);
    manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length }, layers: [] }));
  });

  after(async () => {
    await proxy?.close();
    reg?.stop();
  });

  /** What the registry did with a PUT: routed to the manifest handler (JSON answer or 201), redirected, 404 or 400. */
  function observed(r: RawAnswer): 'manifest' | 'redirect' | 'none' | 'bad-request' | 'other' {
    if (r.status === 201 || r.body.startsWith('{"errors"')) return 'manifest';
    if (r.status === 301) return 'redirect';
    if (r.status === 404) return 'none';
    if (r.status === 400) return 'bad-request';
    return 'other';
  }

  // One character of a path, spelled plainly, percent-encoded (either hex case), encoded twice or with its case flipped.
  const charSpelling = fc.oneof(
    { weight: 40, arbitrary: fc.constant('plain') },
    { weight: 3, arbitrary: fc.constant('pct') },
    { weight: 3, arbitrary: fc.constant('PCT') },
    { weight: 1, arbitrary: fc.constant('twice') },
    { weight: 1, arbitrary: fc.constant('case') },
  );
  // One separator `/` after the first, spelled plainly, encoded, doubled, or with a `.`, `%2e` or `x/..` segment.
  const sepSpelling = fc.oneof(
    { weight: 10, arbitrary: fc.constant('plain') },
    { weight: 2, arbitrary: fc.constant('enc') },
    { weight: 2, arbitrary: fc.constant('ENC') },
    { weight: 1, arbitrary: fc.constantFrom('double', 'dot', 'dotdot', 'encdot') },
  );
  const tail = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('', '?x=1') }, { weight: 3, arbitrary: fc.constantFrom('/', '/.', '%2F', ';p=1', '%3Bp=1') });

  function spell(base: string, chars: string[], seps: string[], end: string): string {
    let out = '';
    let ci = 0;
    let si = 0;
    for (const [i, c] of [...base].entries()) {
      if (c === '/' && i === 0) {
        out += c; // a target must start with "/" to reach either router
        continue;
      }
      if (c === '/') {
        const how = seps[si++ % seps.length];
        out += how === 'double' ? '//' : how === 'dot' ? '/./' : how === 'dotdot' ? '/x/../' : how === 'enc' ? '%2f' : how === 'ENC' ? '%2F' : how === 'encdot' ? '/%2e/' : '/';
        continue;
      }
      const how = chars[ci++ % chars.length];
      const hex = c.charCodeAt(0).toString(16);
      if (how === 'pct') out += `%${hex}`;
      else if (how === 'PCT') out += `%${hex.toUpperCase()}`;
      else if (how === 'twice') out += `%25${hex}`;
      else if (how === 'case') out += c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
      else out += c;
    }
    return out + end;
  }

  it('src/proxy/route.ts predicts the live registry, and the proxy refuses or judges exactly what the registry writes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(charSpelling, { minLength: 24, maxLength: 24 }), fc.array(sepSpelling, { minLength: 4, maxLength: 4 }), tail, async (chars, seps, end) => {
        const tag = `p${++counter}`;
        const target = spell(`/v2/ok/app/manifests/${tag}`, chars, seps, end);
        const model = distributionRoute(target);
        const decision = canonicalRequest(target);

        // 1. through the proxy: refused (400 from pushgate), or the gate was asked about exactly the routed (repository, tag)
        const before = gate.pending.length;
        const viaProxy = await rawRequest(DOUBLE_PROXY_PORT, 'PUT', target, { 'Content-Type': OCI_MANIFEST }, manifest);
        const asked = gate.pending.slice(before).map((p) => `${p.repository}:${p.tag}`);
        if (!decision.ok) {
          stats.refused++;
          expect(viaProxy.status, target).to.equal(400);
          expect(viaProxy.body, target).to.include(`"reason":"${decision.reason}"`);
          expect(asked, target).to.deep.equal([]);
        } else if (model?.kind === 'manifest') {
          stats.judged++;
          expect(asked, target).to.deep.equal([`${model.name}:${model.reference}`]);
        } else {
          expect(asked, target).to.deep.equal([]);
        }
        // nothing reached the tag list without the gate being asked about it
        if (asked.length === 0 && model?.kind === 'manifest') expect(await tags(model.name!), target).to.not.include(model.reference);

        // 2. straight to the registry: the model names what the router did
        const direct = await rawRequest(REG_PORT + 3, 'PUT', target, { 'Content-Type': OCI_MANIFEST }, manifest);
        const what = observed(direct);
        const expected = model === undefined ? 'bad-request' : model.kind === 'manifest' ? 'manifest' : model.kind === 'redirect' ? 'redirect' : 'none';
        expect(what, `${target} → ${direct.status} ${direct.body.slice(0, 120)}`).to.equal(expected);
        if (direct.status === 201) {
          const m = model as Extract<Route, { name?: string }>;
          expect(direct.headers.location, target).to.match(new RegExp(`/v2/${m.name}/manifests/sha256:`));
          expect(await tags(m.name!), target).to.include(m.reference);
        }
        if (what === 'redirect') expect(decodeURIComponent(direct.headers.location!.split('?')[0]!), target).to.equal((model as { location: string }).location);
        if (what === 'manifest') {
          stats.registryManifest++;
          if (target.includes('%')) stats.encodedManifest++;
        }
      }),
      // the plain spelling always, as the first run
      { numRuns: 80, examples: [[Array<string>(24).fill('plain'), Array<string>(4).fill('plain'), '']] },
    );
    // the generator reached the interesting cases: encoded spellings the registry takes as manifest PUTs
    expect(stats.encodedManifest, JSON.stringify(stats)).to.be.greaterThan(0);
    expect(stats.judged, JSON.stringify(stats)).to.be.greaterThan(0);
    expect(stats.refused, JSON.stringify(stats)).to.be.greaterThan(0);
  });
});
