/**
 * Enforcement end to end on a real Distribution 2.8 registry (Debian docker-registry) whose
 * notifications go to a real in-process `pushgate serve` (HTTP on loopback), with real skopeo
 * pushes of the lab images and the offline OSV fixtures: quarantine, reject, warn, restore of a
 * re-pushed tag, referrers moving with a quarantined image, release through the admin API (JWT),
 * exceptions, the audit log, outbound notifications, hot reload (a bad policy keeps the old one;
 * a good one re-evaluates stored verdicts and acts on tags still present) and retention. After
 * each step both the repository and its quarantine repository are read back from the registry.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { defaultConfig } from '../../../src/config/load.js';
import type { PushgateConfig } from '../../../src/config/types.js';
import type { Verdict } from '../../../src/core/index.js';
import { computeDigest, referrersTag, RegistryClient } from '../../../src/registry/client.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { metricValue } from '../../helpers/gate.js';
import { labImages, ROOT, skopeoCopyAsync, startRegistry, type LabRegistry } from '../../helpers/lab.js';

const REG_PORT = 16210;
const PG_PORT = 16211;
const HOOK_PORT = 16212;
const TOKEN = 'enforce-webhook-token-0123456789';
const VIEWER = 'enforce-viewer-token-abcdef';
const SECRET = 'enforce-jwt-secret-0123456789abcdef';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

const POLICY_EXTRA = `
  mappings:
    - name: warned
      repository: "lab/warned-*"
      ruleSet: default
      mode: warn
    - name: audited
      repository: "lab/audited-*"
      ruleSet: default
      mode: audit
`;

function labDigest(name: string): { digest: string; size: number } {
  const idx = JSON.parse(fs.readFileSync(path.join(labImages(), name, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; size: number }> };
  return idx.manifests[0];
}

describe('enforce: quarantine, reject, warn, restore, referrers, release on a real Distribution registry', function () {
  this.timeout(300_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let base: string;
  let client: RegistryClient;
  let policyFile: string;
  let policyText: string;
  const logged: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
  const hooks: Array<{ path: string; body: Record<string, unknown>; auth?: string }> = [];
  let hookServer: http.Server;
  let failFirstHook = true;
  const log = (level: string) => (obj: object, msg?: string) => logged.push({ level, obj: obj as Record<string, unknown>, msg });
  const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  const admin = () => jwt.sign({ sub: 'alice', role: 'admin' }, SECRET, { algorithm: 'HS256', expiresIn: '5m' });

  async function tags(repo: string): Promise<string[]> {
    return (await client.listTags(repo)).sort();
  }
  async function at(repo: string, tag: string): Promise<string | undefined> {
    return (await client.resolve(repo, tag))?.digest;
  }
  async function verdictOf(repo: string, digest: string, pred: (v: Verdict) => boolean = (v) => !!v.enforcement, timeoutMs = 60_000): Promise<Verdict> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await srv.store.getVerdict('lab', repo, digest);
      if (v && pred(v)) return v;
      if (Date.now() > deadline) throw new Error(`no verdict for ${repo}@${digest} after ${timeoutMs} ms (last: ${JSON.stringify(v)})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  async function push(name: string, tag: string, repo: string, repoTag: string): Promise<void> {
    const r = await skopeoCopyAsync(`oci:${path.join(labImages(), name)}:${tag}`, `${reg.host}/${repo}:${repoTag}`);
    expect(r.code, r.stderr).to.equal(0);
  }
  async function api(method: string, p: string, token: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
    const r = await fetch(`${base}/api/v1${p}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const text = await r.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: r.status, json, text };
  }
  /**
   * Pushes an SBOM artifact whose subject is `subject` (with the fallback referrers tag, as oras/cosign do
   * on Distribution), as pushgate itself would write it: each manifest is remembered in the gate's
   * own-writes memo first, so its notification is pushgate's own traffic (a User-Agent is not).
   */
  async function pushReferrer(repo: string, subject: { digest: string; size: number }): Promise<string> {
    const cfg = Buffer.from('{}');
    const sbom = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'adm-zip-sbom', packages: [] }));
    await client.uploadBlob(repo, computeDigest(cfg), cfg.length, cfg);
    await client.uploadBlob(repo, computeDigest(sbom), sbom.length, sbom);
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/spdx+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: computeDigest(cfg), size: cfg.length },
      layers: [{ mediaType: 'application/spdx+json', digest: computeDigest(sbom), size: sbom.length }],
      subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.size },
    }));
    await srv.gate.rememberOwnWrite('lab', { repository: repo, digest: computeDigest(manifest) });
    const d = await client.putManifest(repo, computeDigest(manifest), manifest, OCI_MANIFEST);
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: d, size: manifest.length, artifactType: 'application/spdx+json' }] }));
    await srv.gate.rememberOwnWrite('lab', { repository: repo, digest: computeDigest(index), tag: referrersTag(subject.digest) });
    await client.putManifest(repo, referrersTag(subject.digest), index, OCI_INDEX);
    return d;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-enforce-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    policyText = fs.readFileSync(path.join(ROOT, 'config/policy.yaml'), 'utf8').replace(/\n {2}mappings: \[\]\n/, `\n${POLICY_EXTRA.slice(1)}`);
    expect(policyText).to.include('lab/warned-*');
    policyFile = path.join(dir, 'policy.yaml');
    fs.writeFileSync(policyFile, policyText);
    hookServer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (failFirstHook) {
          failFirstHook = false;
          res.writeHead(503).end();
          return;
        }
        hooks.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>, auth: req.headers.authorization });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => hookServer.listen(HOOK_PORT, '127.0.0.1', () => r()));
    const config: PushgateConfig = defaultConfig();
    config.server.listen = `127.0.0.1:${PG_PORT}`;
    config.server.publicUrl = 'https://pushgate.example.test';
    config.store.url = `sqlite:${path.join(dir, 'pushgate.db')}`;
    config.vulndb.path = path.join(dir, 'vulndb.sqlite');
    config.policy = policyFile;
    config.api.tokens = [VIEWER];
    config.api.jwt = { secret: SECRET };
    config.notify = [
      { url: `http://127.0.0.1:${HOOK_PORT}/json`, format: 'json', events: ['quarantine', 'reject'], headers: { authorization: 'Bearer notify-secret' } },
      { url: `http://127.0.0.1:${HOOK_PORT}/slack`, format: 'slack', events: ['quarantine'] },
    ];
    config.registries = [{ name: 'lab', url: `http://127.0.0.1:${REG_PORT}`, type: 'distribution', insecure: false, quarantine: { repositoryPrefix: 'quarantine/', retentionMs: 30 * 86_400_000 }, concurrency: 8, timeoutMs: 30_000, webhook: { token: TOKEN } }];
    srv = await startServer(config, logger, { policyWatchMs: 100 });
    base = `http://127.0.0.1:${srv.port}`;
    reg = startRegistry(REG_PORT, { notifyUrl: `${base}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}` });
    client = new RegistryClient({ name: 'lab', url: reg.url });
  });

  after(async () => {
    reg?.stop();
    await srv?.close();
    await new Promise<void>((r) => (hookServer ? hookServer.close(() => r()) : r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const base0 = () => labDigest('debian-minbase').digest;
  const bad = () => labDigest('adm-zip');

  it('an allowed push (warn: runs as root) keeps its tag; nothing in quarantine', async () => {
    await push('debian-minbase', 'bookworm', 'lab/app', 'v1');
    const v = await verdictOf('lab/app', base0());
    expect(v.decision).to.equal('warn');
    expect(v.enforcement?.status).to.equal('skipped');
    expect(await tags('lab/app')).to.deep.equal(['v1']);
    expect(await tags('quarantine/lab/app')).to.deep.equal([]);
  });

  it('a blocked re-push of v1 is quarantined with its referrers, and v1 is restored to the last allowed digest', async () => {
    const ownBefore = await metric('pushgate_events_dropped_total', { reason: 'own-traffic' });
    const sbom = await pushReferrer('lab/app', bad()); // remembered as pushgate's own writes: not judged
    await push('adm-zip', '0.4.7', 'lab/app', 'v1');
    const v = await verdictOf('lab/app', bad().digest);
    expect(v.decision).to.equal('quarantine');
    expect(v.enforcement?.status, v.enforcement?.detail).to.equal('done');
    expect(v.enforcement?.detail).to.match(/restored lab\/app:v1 to sha256:/);
    expect(v.enforcement?.detail).to.include(base0());
    expect(v.enforcement?.detail).to.match(/1 referrer .*fallback referrers tag/);
    // The repository: v1 serves the old allowed image again; the blocked digest and its SBOM are gone.
    expect(await tags('lab/app')).to.deep.equal(['v1']);
    expect(await at('lab/app', 'v1')).to.equal(base0());
    expect(await client.resolve('lab/app', bad().digest)).to.equal(undefined);
    expect(await client.resolve('lab/app', sbom)).to.equal(undefined);
    expect(await client.referrers('lab/app', bad().digest)).to.deep.equal([]);
    // The quarantine repository: the image under v1, its SBOM and the fallback tag moved with it.
    expect(await tags('quarantine/lab/app')).to.deep.equal([referrersTag(bad().digest), 'v1'].sort());
    expect(await at('quarantine/lab/app', 'v1')).to.equal(bad().digest);
    expect((await client.referrers('quarantine/lab/app', bad().digest)).map((d) => d.digest)).to.deep.equal([sbom]);
    // The restore's own notification is recognized and dropped, never judged or enforced again.
    await waitFor(async () => (await metric('pushgate_events_dropped_total', { reason: 'own-traffic' })) > ownBefore, 'own-traffic drop');
    expect((await srv.store.listQuarantine({ repository: 'lab/app', state: 'quarantined' })).map((q) => [q.tag, q.digest])).to.deep.equal([['v1', bad().digest]]);
  });

  it('notifications: a JSON webhook (retried after a 503) and a Slack body, with reasons and the report URL, no secrets', async () => {
    await srv.notifier!.idle();
    const json = hooks.find((h) => h.path === '/json');
    const slack = hooks.find((h) => h.path === '/slack');
    expect(json, 'json hook').to.not.equal(undefined);
    expect(json!.auth).to.equal('Bearer notify-secret');
    expect(json!.body).to.include({ event: 'quarantine', repository: 'lab/app', digest: bad().digest, reportUrl: `https://pushgate.example.test/api/v1/images/${bad().digest}` });
    expect((json!.body.reasons as Array<{ findings: string[] }>).flatMap((r) => r.findings)).to.include('NSWG-NPM-458');
    expect(slack!.body.text).to.match(/quarantined lab\/app:v1/);
    expect(JSON.stringify(slack!.body.blocks)).to.include('NSWG-NPM-458');
    for (const h of hooks) for (const s of [SECRET, TOKEN, VIEWER, 'notify-secret']) expect(JSON.stringify(h.body)).to.not.include(s);
  });

  it('reject (secrets): the digest is deleted, nothing is copied to quarantine', async () => {
    await push('node-app', 'vuln', 'lab/svc', '1.0');
    const v = await verdictOf('lab/svc', labDigest('node-app').digest);
    expect(v.decision).to.equal('reject');
    expect(v.enforcement).to.include({ action: 'delete', status: 'done' });
    expect(await tags('lab/svc')).to.deep.equal([]);
    expect(await tags('quarantine/lab/svc')).to.deep.equal([]);
  });

  it('warn and audit modes: a quarantine-worthy image keeps its tag and is only recorded', async () => {
    await push('adm-zip', '0.4.7', 'lab/warned-app', '1');
    await push('adm-zip', '0.4.7', 'lab/audited-app', '1');
    const w = await verdictOf('lab/warned-app', bad().digest);
    const a = await verdictOf('lab/audited-app', bad().digest);
    expect([w.decision, w.mode, w.enforcement?.status]).to.deep.equal(['warn', 'warn', 'skipped']);
    expect([a.decision, a.mode, a.enforcement?.status]).to.deep.equal(['quarantine', 'audit', 'skipped']);
    for (const repo of ['lab/warned-app', 'lab/audited-app']) {
      expect(await tags(repo)).to.deep.equal(['1']);
      expect(await tags(`quarantine/${repo}`)).to.deep.equal([]);
    }
  });

  it('admin API: a viewer cannot release; an admin releases v1 (copied back with its referrers, allow-by-release recorded)', async () => {
    const body = { image: `${reg.host}/lab/app:v1`, reason: 'adm-zip is only used at build time' };
    expect((await api('POST', '/quarantine/release', VIEWER, body)).status).to.equal(403);
    const listed = await api('GET', '/quarantine', VIEWER);
    expect((listed.json as Array<{ repository: string }>).map((q) => q.repository)).to.include('lab/app');
    const r = await api('POST', '/quarantine/release', admin(), body);
    expect(r.status, r.text).to.equal(200);
    const out = r.json as { verdict: Verdict; exception: { id: number; spec: { digest: string; registry?: string } } };
    expect(out.verdict.decision).to.equal('allow');
    expect(out.verdict.reasons[0]).to.include({ rule: 'released', action: 'allow' });
    expect(out.verdict.enforcement).to.include({ action: 'restore', status: 'done' });
    expect(out.exception.spec.digest).to.equal(bad().digest);
    // scoped to the registry it was released in: the same digest pushed to another registry is judged there
    expect(out.exception.spec.registry).to.equal('lab');
    // Registry: v1 is the released digest again, with its SBOM; the quarantine copy is gone.
    expect(await at('lab/app', 'v1')).to.equal(bad().digest);
    expect((await client.referrers('lab/app', bad().digest)).map((d) => d.artifactType)).to.deep.equal(['application/spdx+json']);
    expect(await tags('quarantine/lab/app')).to.deep.equal([]);
    expect(await srv.store.lastAllowed('lab', 'lab/app', 'v1')).to.equal(bad().digest);
    const audit = (await api('GET', '/audit?action=release', VIEWER)).json as Array<{ actor: string; action: string; detail: { reason: string } }>;
    expect(audit[0]).to.include({ actor: 'alice', action: 'release' });
    expect(audit[0].detail.reason).to.equal(body.reason);
    // Releasing again: nothing is in quarantine any more.
    expect((await api('POST', '/quarantine/release', admin(), body)).status).to.equal(404);
  });

  it('exceptions: viewers read, admins add; a bad one is refused with every problem', async () => {
    const ex = { reason: 'vendor patch due', owner: 'team-a', expires: '2099-12-31', ids: ['NSWG-NPM-458'], repository: 'lab/exempt-*' };
    expect((await api('POST', '/exceptions', VIEWER, ex)).status).to.equal(403);
    const badEx = await api('POST', '/exceptions', admin(), { reason: 'x', ids: ['A'] });
    expect(badEx.status).to.equal(400);
    expect(badEx.text).to.match(/owner/).and.match(/expires/);
    const ok = await api('POST', '/exceptions', admin(), ex);
    expect(ok.status, ok.text).to.equal(201);
    const list = (await api('GET', '/exceptions', VIEWER)).json as Array<{ actor: string; spec: { owner: string }; expired: boolean }>;
    expect(list.map((e) => [e.actor, e.spec.owner, e.expired])).to.deep.include(['alice', 'team-a', false]);
    await push('adm-zip', '0.4.7', 'lab/exempt-app', '1');
    const v = await verdictOf('lab/exempt-app', bad().digest);
    expect(v.decision).to.equal('warn'); // the fixable-vulns rule no longer fires; runs-as-root still warns
    expect(await tags('lab/exempt-app')).to.deep.equal(['1']);
  });

  it('reports: json, SARIF and CycloneDX from the API', async () => {
    const sarif = await api('GET', `/images/${bad().digest}?format=sarif`, VIEWER);
    expect(sarif.status).to.equal(200);
    const s = sarif.json as { version: string; runs: Array<{ results: Array<{ ruleId: string }> }> };
    expect(s.version).to.equal('2.1.0');
    expect(s.runs[0].results.map((r) => r.ruleId)).to.include('NSWG-NPM-458');
    const cdx = await api('GET', `/images/${bad().digest}?format=cyclonedx`, VIEWER);
    const c = cdx.json as { bomFormat: string; vulnerabilities: Array<{ id: string }> };
    expect(c.bomFormat).to.equal('CycloneDX');
    expect(c.vulnerabilities.map((x) => x.id)).to.include('NSWG-NPM-458');
    expect((await api('GET', `/images/${bad().digest}?format=xml`, VIEWER)).status).to.equal(400);
  });

  it('hot reload: an invalid policy keeps the old one and logs every problem with its line', async () => {
    const before = srv.gate.currentPolicy.revision;
    const broken = policyText.replace('action: quarantine', 'action: nuke').replace('minSeverity: high', 'minSeverity: severe');
    fs.writeFileSync(policyFile, broken);
    await waitFor(async () => logged.some((l) => l.msg === 'invalid policy: the old one stays in force'), 'reload rejection');
    const problems = logged.filter((l) => l.msg === 'policy reload rejected').map((l) => String(l.obj.problem));
    expect(problems.length).to.be.at.least(2);
    expect(problems.join('\n')).to.match(/policy\.yaml:\d+:\d+: .*action/).and.match(/policy\.yaml:\d+:\d+: .*minSeverity/);
    expect(srv.gate.currentPolicy.revision).to.equal(before);
    const r = await api('POST', '/policy/reload', admin());
    expect(r.status).to.equal(422);
  });

  it('hot reload: a stricter policy re-evaluates stored verdicts from stored scans and acts on tags still present', async () => {
    // lab/base:1 is allowed (warn) under the current policy...
    await push('debian-minbase', 'bookworm', 'lab/base', '1');
    await verdictOf('lab/base', base0());
    expect(await tags('lab/base')).to.deep.equal(['1']);
    const scansBefore = await metric('pushgate_scans_total', { result: 'complete' });
    // ...then runs-as-root becomes a quarantine rule.
    fs.writeFileSync(policyFile, policyText.replace(/(name: runs-as-root\n\s+action:) warn/, '$1 quarantine'));
    const v = await verdictOf('lab/base', base0(), (x) => x.decision === 'quarantine' && x.enforcement?.action === 'quarantine');
    expect(v.enforcement?.status).to.equal('done');
    expect(await tags('lab/base')).to.deep.equal([]);
    expect(await at('quarantine/lab/base', '1')).to.equal(base0());
    // Re-evaluated from the stored inventory, not rescanned.
    expect(await metric('pushgate_scans_total', { result: 'complete' })).to.equal(scansBefore);
    // A tag that moved on is not acted on: lab/app:v1 points at the released digest, which the release exception covers.
    expect(await at('lab/app', 'v1')).to.equal(bad().digest);
    const audit = (await api('GET', '/audit?action=policy-reloaded', VIEWER)).json as unknown[];
    expect(audit.length).to.equal(1);
    // The pusher learns why the tag vanished, as for a push.
    await srv.notifier!.idle();
    expect(hooks.some((h) => h.path === '/json' && h.body.repository === 'lab/base' && h.body.event === 'quarantine')).to.equal(true);
  });

  it('retention: quarantined copies older than quarantine.retention are deleted by the periodic pass', async () => {
    await srv.control.reevaluate(); // let the reload's pass finish (it also quarantined lab/exempt-app: root)
    const held = (await srv.store.listQuarantine({ state: 'quarantined' })).map((q) => q.repository).sort();
    // lab/app: the digest v1 was restored away from (runs as root) is still there by digest and blocks
    // under the stricter policy: quarantined by digest.
    expect(held).to.deep.equal(['lab/app', 'lab/base', 'lab/exempt-app']);
    expect((await srv.control.pruneQuarantine(Date.now() + 29 * 86_400_000)).deleted).to.equal(0); // younger than 30d: kept
    expect(await tags('quarantine/lab/base')).to.deep.equal(['1']);
    const r = await srv.control.pruneQuarantine(Date.now() + 31 * 86_400_000);
    expect(r).to.deep.equal({ deleted: held.length, gone: 0, failed: 0 });
    for (const repo of held) expect(await tags(`quarantine/${repo}`)).to.deep.equal([]);
    expect((await srv.store.listQuarantine({ state: 'expired' })).map((q) => q.repository).sort()).to.deep.equal(held);
    expect((await srv.control.pruneQuarantine(Date.now() + 31 * 86_400_000)).deleted).to.equal(0);
  });

  async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricValue(await (await fetch(`${base}/metrics`)).text(), name, labels);
  }
  async function waitFor(cond: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await cond())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});
