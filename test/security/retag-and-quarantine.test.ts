/**
 * Retags and the quarantine prefix, against a real Distribution 2.8 registry notifying a real
 * `pushgate serve` (in-process, with its admission TLS listener), real skopeo pushes and retags.
 *
 * The attacks: a digest judged under a lax tag mapping (`rc-*`: warn mode; `*-dev`: a lenient rule
 * set) and retagged to a release tag must be judged by the release tag's mapping, by the gate and by
 * admission, whichever tag came first; re-evaluation after a policy change acts on each tag by its
 * own mapping; a push straight into the quarantine prefix is judged like any other (and deleted, not
 * quarantined into itself); an AdmissionReview naming a quarantine copy is denied and never makes
 * pushgate act on its own copy (a release afterwards still works).
 *
 * Kubernetes cannot run here: reviews are posted as the API server posts them (admission.k8s.io/v1).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../src/config/types.js';
import type { Verdict } from '../../src/core/index.js';
import { DEFAULT_POLICY_YAML } from '../../src/policy/index.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { updateDb } from '../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, silentLogger as silent } from '../helpers/gate.js';
import { labImages, ROOT, skopeoCopyAsync, startRegistry, type LabRegistry } from '../helpers/lab.js';

const REG_PORT = 21300;
const ADM_PORT = 21301;
const API_PORT = 21302;
const PROXY_PORT = 21303;
const TOKEN = 'retag-quarantine-token-0123456789';

/**
 * The built-in rules as rule set `default`, a `lenient` rule set that only warns about root, and
 * mappings: `rc-*` tags warn, `*-dev` tags use the lenient rule set (enforce), everything else
 * (the untagged digest too) enforces the default rules. `rootAction` is what running as root gets.
 */
function policyYaml(rootAction: 'warn' | 'quarantine'): string {
  const defaultRules = DEFAULT_POLICY_YAML.slice(DEFAULT_POLICY_YAML.indexOf('  ruleSets:'), DEFAULT_POLICY_YAML.indexOf('  mappings: []'))
    .replace('        - name: runs-as-root\n          action: warn', `        - name: runs-as-root\n          action: ${rootAction}`);
  return `apiVersion: pushgate.dev/v1
kind: Policy
metadata:
  name: retag-test
spec:
${defaultRules}    lenient:
      onIncomplete: warn
      rules:
        - name: runs-as-root
          action: warn
          match:
            image:
              runsAsRoot: true
  mappings:
    - name: release-candidates
      tag: "rc-*"
      ruleSet: default
      mode: warn
    - name: dev-builds
      tag: "*-dev"
      ruleSet: lenient
      mode: enforce
  default:
    ruleSet: default
    mode: enforce
`;
}

interface Review { response: { uid: string; allowed: boolean; status?: { message?: string }; warnings?: string[] } }

function postReview(images: string[], uid: string): Promise<Review> {
  const body = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'team-a',
      operation: 'CREATE',
      userInfo: { username: 'alice' },
      // Always: the node pulls what the tag names, so the tag's own mapping is what these tests are about
      // (a tag with IfNotPresent is refused by admission.unpinnedTags, test/unit/admission/unpinned-tags.test.ts).
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'team-a' }, spec: { containers: images.map((image, i) => ({ name: `c${i}`, image, imagePullPolicy: 'Always' })) } },
      dryRun: false,
    },
  };
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = https.request({ host: '127.0.0.1', port: ADM_PORT, path: '/admission/validate', method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json', 'content-length': data.length } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c) => parts.push(c as Buffer));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString('utf8')) as Review));
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function waitFor<T>(f: () => Promise<T | undefined | false>, what: string, ms = 60_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

describe('security: retags are judged by the tag they land on; the quarantine prefix is guarded', function () {
  this.timeout(300_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let images: string;
  let uid = 0;
  const host = `127.0.0.1:${REG_PORT}`;

  /** The digest `repo:tag` resolves to in the registry now (HEAD), or undefined when it does not. */
  async function resolve(repo: string, tag: string): Promise<string | undefined> {
    const r = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json' },
    });
    return r.status === 200 ? (r.headers.get('docker-content-digest') ?? undefined) : undefined;
  }

  async function push(image: string, dst: string): Promise<void> {
    const r = await skopeoCopyAsync(`oci:${images}/${image}`, `${host}/${dst}`);
    const log = () => fs.readFileSync(`${reg.storage}.state/registry.log`, 'utf8').split('\n').filter((l) => /level=(error|fatal)|HTTP\/1.1" 5/.test(l)).slice(-5).join('\n');
    expect(r.code, r.code ? `${r.stderr}\n${log()}` : '').to.equal(0);
  }

  /** `skopeo copy docker://host/src docker://host/dst`: a retag of the same manifest. */
  async function retag(src: string, dst: string): Promise<void> {
    const r = await skopeoCopyAsync(`docker://${host}/${src}`, `${host}/${dst}`);
    expect(r.code, r.stderr).to.equal(0);
  }

  /** Waits until the push event of `repository:tag` was handled (its verdict audit record is written). */
  async function handled(repository: string, tag: string): Promise<void> {
    await waitFor(async () => (await srv.store.listAudit(100, { repository, tag })).some((a) => a.action.startsWith('verdict:')), `the event of ${repository}:${tag}`);
  }

  async function verdict(repository: string, digest: string): Promise<Verdict> {
    return waitFor(() => srv.store.getVerdict('lab', repository, digest), `a verdict of ${repository}@${digest}`);
  }

  /** Pushes adm-zip (quarantine under the default mapping) as `repo:tag`; resolves with the digest of pushgate's quarantine copy. */
  async function quarantined(repo: string, tag: string): Promise<string> {
    await push('adm-zip:0.4.7', `${repo}:${tag}`);
    await handled(repo, tag);
    return waitFor(() => resolve(`quarantine/${repo}`, tag), `the quarantine copy of ${repo}:${tag}`);
  }

  async function admit(...refs: string[]): Promise<Review['response']> {
    return (await postReview(refs, `u-${++uid}`)).response;
  }

  before(async () => {
    images = labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-retag-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pushgate',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.crt')], { stdio: 'ignore' });
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    fs.writeFileSync(path.join(dir, 'policy.yaml'), policyYaml('warn'));
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.server.listen = `127.0.0.1:${API_PORT}`;
    config.policy = path.join(dir, 'policy.yaml');
    config.admission = { ...config.admission, listen: `127.0.0.1:${ADM_PORT}`, tls: { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key') }, namespaces: [{ match: '*', unknown: 'deny' }], unguarded: 'deny', digestCacheTtlMs: 0,
      // Reviews come from this test, not an API server: the quarantine-copy rule holds for whoever can post one.
      allowUnauthenticated: true };
    config.proxy = { ...config.proxy, listen: `127.0.0.1:${PROXY_PORT}`, upstream: `http://127.0.0.1:${REG_PORT}`, timeoutMs: 120_000, onTimeout: 'reject', onError: 'reject' };
    srv = await startServer(config, silent, { policyWatchMs: 3_600_000 });
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${srv.port}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}`, env: { NOTIFY_IGNORE_ACTIONS: 'pull' } });
  });

  after(async () => {
    reg?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  // [repository, lax tag, release tag]: a warn-mode tag, a tag whose mapping picks a lenient rule set,
  // and a second warn-mode spelling retagged to `latest`.
  const RETAGS: Array<[string, string, string]> = [
    ['lab/a1', 'rc-1', '1.0'],
    ['lab/a2', 'feature-dev', '2.0'],
    ['lab/a3', 'rc-2', 'latest'],
  ];

  it('warn → enforce: a digest judged under a lax tag and retagged to an enforced tag is denied at once and quarantined', async () => {
    for (const [repo, lax, release] of RETAGS) {
      await push('adm-zip:0.4.7', `${repo}:${lax}`);
      await handled(repo, lax);
      const digest = (await resolve(repo, lax))!;
      const v = await verdict(repo, digest);
      expect(srv.gate.viewFor(v, lax), `${repo}:${lax}`).to.include({ decision: 'warn', mode: lax.startsWith('rc-') ? 'warn' : 'enforce', ruleSet: lax.startsWith('rc-') ? 'default' : 'lenient' });
      expect(await resolve(repo, lax), `${repo}:${lax} stays`).to.equal(digest);
      const laxReview = await admit(`${host}/${repo}:${lax}`);
      expect(laxReview.allowed, `${repo}:${lax}`).to.equal(true);

      // The retag's notification waits in the queue: admission alone must already refuse the release tag.
      await srv.gate.stop();
      try {
        await retag(`${repo}:${lax}`, `${repo}:${release}`);
        expect(await resolve(repo, release), 'a retag keeps the digest').to.equal(digest);
        await waitFor(async () => (await srv.store.queueDepth()) > 0, 'the retag notification');
        const byTag = await admit(`${host}/${repo}:${release}`);
        expect(byTag.allowed, `${repo}:${release} before enforcement`).to.equal(false);
        expect(byTag.status?.message).to.match(/quarantine/);
        const byDigest = await admit(`${host}/${repo}@${digest}`);
        expect(byDigest.allowed, `${repo}@digest while ${release} points at it`).to.equal(false);
        // The pod author's tag beside a digest is not believed: the digest is judged as the registry serves it.
        const spoofed = await admit(`${host}/${repo}:${lax}@${digest}`);
        expect(spoofed.allowed, `${repo}:${lax}@digest`).to.equal(false);
      } finally {
        srv.gate.start();
      }
      await handled(repo, release);
      await waitFor(async () => (await resolve(repo, release)) === undefined, `${repo}:${release} removed`);
      expect(await resolve(`quarantine/${repo}`, release), 'the quarantine copy').to.equal(digest);
      const after = await admit(`${host}/${repo}:${release}`);
      expect(after.allowed).to.equal(false);
      const stored = await srv.store.getVerdict('lab', repo, digest);
      expect(stored!.tags).to.include.members([lax, release]);
      expect(stored!.decision, 'the stored summary is the strictest of its tags').to.equal('quarantine');
      expect(stored!.mode).to.equal('enforce');
    }
  });

  it('enforce → warn: a digest judged under an enforced tag, pushed again under a warn tag, is allowed there with a warning', async () => {
    for (const [repo, release, lax] of [['lab/b1', '1.0', 'rc-3'], ['lab/b2', 'stable', 'rc-4']] as const) {
      await push('adm-zip:0.4.7', `${repo}:${release}`);
      await handled(repo, release);
      await waitFor(async () => (await resolve(repo, release)) === undefined, `${repo}:${release} removed`);
      await push('adm-zip:0.4.7', `${repo}:${lax}`);
      await handled(repo, lax);
      const digest = (await resolve(repo, lax))!;
      expect(digest, `${repo}:${lax} stays pullable`).to.be.a('string');
      const v = await srv.store.getVerdict('lab', repo, digest);
      expect(srv.gate.viewFor(v!, lax)).to.include({ decision: 'warn', mode: 'warn' });
      expect(srv.gate.viewFor(v!, release)).to.include({ decision: 'quarantine', mode: 'enforce' });
      const r = await admit(`${host}/${repo}:${lax}`);
      expect(r.allowed).to.equal(true);
      expect((r.warnings ?? []).join(' ')).to.match(/quarantine|fixable/);
      expect((await admit(`${host}/${repo}:${release}`)).allowed).to.equal(false);
      // By digest: the untagged digest maps to the enforced default, the strictest reading wins.
      expect((await admit(`${host}/${repo}@${digest}`)).allowed).to.equal(false);
    }
  });

  it('the push proxy judges each held PUT by its own tag: the same manifest lands as rc-5 and is refused as 5.0, quarantine prefix included', async () => {
    for (const [repo, lax, release] of [['lab/p1', 'rc-5', '5.0'], ['lab/p2', 'main-dev', 'latest'], ['quarantine/lab/p3', 'rc-6', '6.0']] as const) {
      const ok = await skopeoCopyAsync(`oci:${images}/adm-zip:0.4.7`, `127.0.0.1:${PROXY_PORT}/${repo}:${lax}`);
      expect(ok.code, `${repo}:${lax} through the proxy: ${ok.stderr}`).to.equal(0);
      const digest = (await resolve(repo, lax))!;
      expect(digest).to.be.a('string');
      const refused = await skopeoCopyAsync(`oci:${images}/adm-zip:0.4.7`, `127.0.0.1:${PROXY_PORT}/${repo}:${release}`);
      expect(refused.code, `${repo}:${release} through the proxy`).to.not.equal(0);
      expect(refused.stderr).to.match(/pushgate refused/);
      expect(await resolve(repo, release), `${repo}:${release} never exists`).to.equal(undefined);
    }
  });

  it('the push proxy refuses a manifest reference the registry would take for a tag but cannot store (rc-7:x matches rc-*): nothing lands untagged', async () => {
    const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
    const ok = await skopeoCopyAsync(`oci:${images}/adm-zip:0.4.7`, `127.0.0.1:${PROXY_PORT}/lab/p4:rc-7`);
    expect(ok.code, ok.stderr).to.equal(0);
    const m = await fetch(`${reg.url}/v2/lab/p4/manifests/rc-7`, { headers: { accept } });
    const bytes = Buffer.from(await m.arrayBuffer());
    const digest = m.headers.get('docker-content-digest')!;
    // The blobs land in lab/p5, the manifest is refused under a release tag.
    const refused = await skopeoCopyAsync(`oci:${images}/adm-zip:0.4.7`, `127.0.0.1:${PROXY_PORT}/lab/p5:9.0`);
    expect(refused.code).to.not.equal(0);
    // Distribution routes `rc-7:x` (go-digest's DigestRegexp), stores the manifest untagged and only then
    // fails the tag: judged under the rc-* mapping it would land, pullable by digest, blocking untagged.
    const r = await fetch(`http://127.0.0.1:${PROXY_PORT}/v2/lab/p5/manifests/rc-7:x`, { method: 'PUT', headers: { 'content-type': m.headers.get('content-type')! }, body: bytes });
    const body = await r.text();
    expect(r.status, body).to.equal(400);
    expect(body).to.match(/TAG_INVALID/);
    expect(await resolve('lab/p5', digest), 'lab/p5@digest').to.equal(undefined);
  });

  it('a violating push straight into the quarantine prefix by anyone but pushgate is judged and deleted (never quarantined into itself)', async () => {
    const cases: Array<[string, string, string]> = [
      ['node-app:vuln', 'quarantine/lab/x', '1'],
      ['adm-zip:0.4.7', 'quarantine/lab/y', '2'],
      ['adm-zip:0.4.7', 'quarantine/other/z', '3.1-final'],
    ];
    for (const [image, repo, tag] of cases) {
      await push(image, `${repo}:${tag}`);
      await handled(repo, tag);
      await waitFor(async () => (await resolve(repo, tag)) === undefined, `${repo}:${tag} deleted`);
      const [v] = await srv.store.listVerdicts({ registry: 'lab', repository: repo });
      expect(v!.enforcement, `${repo}:${tag}`).to.include({ action: 'delete', status: 'done' });
      expect(await resolve(`quarantine/${repo}`, tag), 'no quarantine of a quarantine copy').to.equal(undefined);
    }
    // A push over pushgate's own quarantine copy's tag: judged, deleted, and the tag points at pushgate's copy again.
    const copy = await quarantined('lab/q1', '1.0');
    await push('node-app:vuln', 'quarantine/lab/q1:1.0');
    await handled('quarantine/lab/q1', '1.0');
    await waitFor(async () => (await resolve('quarantine/lab/q1', '1.0')) === copy, 'the copy restored');
    expect((await srv.store.listQuarantine({ registry: 'lab', repository: 'lab/q1', state: 'quarantined' })).map((q) => q.digest)).to.deep.equal([copy]);
  });

  it('an AdmissionReview naming a quarantine copy is denied and pushgate never acts on the copy; a release still works', async () => {
    const copy = await quarantined('lab/q2', 'latest');
    const messages: string[] = [];
    for (const ref of [`${host}/quarantine/lab/q2:latest`, `${host}/quarantine/lab/q2@${copy}`, `${host}/quarantine/lab/q2:latest@${copy}`, `${host}/quarantine/lab/never-pushed:1`]) {
      const r = await admit(ref);
      expect(r.allowed, ref).to.equal(false);
      messages.push(r.status?.message ?? '');
    }
    await new Promise((r) => setTimeout(r, 1500));
    expect(await srv.store.queueDepth(), 'nothing queued').to.equal(0);
    expect(await srv.store.getVerdict('lab', 'quarantine/lab/q2', copy), 'never judged').to.equal(undefined);
    expect((await srv.store.listAudit(100, { repository: 'quarantine/lab/q2' })).filter((a) => a.action.startsWith('verdict:')), 'no verdict or enforcement audited').to.deep.equal([]);
    expect(await resolve('quarantine/lab/q2', 'latest'), 'the copy is still there').to.equal(copy);
    for (const m of messages) expect(m).to.match(/quarantine-copy/);

    await srv.control.release('admin@example.test', { registry: 'lab', repository: 'lab/q2', tag: 'latest', reason: 'false positive, checked by hand' });
    expect(await resolve('lab/q2', 'latest')).to.equal(copy);
    const r = await admit(`${host}/lab/q2:latest`);
    expect(r.allowed, r.status?.message).to.equal(true);
  });

  it('re-evaluation after a policy change acts on each tag by its own mapping, not by the first tag', async () => {
    // debian-minbase runs as root: warn today; the new policy quarantines root images.
    // lab/c: `rc-7` (warn) sorts before `stable` (enforce); lab/d: only `rc-8` (warn).
    await push('debian-minbase:bookworm', 'lab/c:rc-7');
    await handled('lab/c', 'rc-7');
    await retag('lab/c:rc-7', 'lab/c:stable');
    await handled('lab/c', 'stable');
    await push('debian-minbase:bookworm', 'lab/d:rc-8');
    await handled('lab/d', 'rc-8');
    const digest = (await resolve('lab/c', 'stable'))!;
    expect(await resolve('lab/c', 'rc-7')).to.equal(digest);

    fs.writeFileSync(path.join(dir, 'policy.yaml'), policyYaml('quarantine'));
    const reload = await srv.control.reload();
    expect(reload.ok, reload.problems.join('\n')).to.equal(true);

    expect(await resolve('lab/c', 'stable'), 'the enforced tag is quarantined').to.equal(undefined);
    expect(await resolve('quarantine/lab/c', 'stable')).to.equal(digest);
    expect(await resolve('quarantine/lab/c', 'rc-7'), 'the warn tag was not acted on').to.equal(undefined);
    expect(await resolve('lab/d', 'rc-8'), 'a warn-only tag stays').to.equal(digest);
    const d = await srv.store.getVerdict('lab', 'lab/d', digest);
    expect(srv.gate.viewFor(d!, 'rc-8')).to.include({ decision: 'warn', mode: 'warn' });
    expect(srv.gate.viewFor(d!, '9.9')).to.include({ decision: 'quarantine', mode: 'enforce' });
    const r = await admit(`${host}/lab/d:rc-8`);
    expect(r.allowed).to.equal(true);
    expect((r.warnings ?? []).join(' ')).to.match(/root/);
    expect((await admit(`${host}/lab/c:stable`)).allowed).to.equal(false);
  });
});
