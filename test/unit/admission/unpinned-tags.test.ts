/**
 * A tag the node may run from its cache (pod author; anyone who can move a tag).
 *
 * The kubelet pulls a container's image only when its pull policy says so: with `IfNotPresent` (the
 * API server's default for any tag but `latest`) or `Never` it starts whatever the node cached under the
 * name. Resolving `reg/app:v1` in the registry at admission says nothing about that cache: v1 → X ran on a
 * node, X was quarantined and v1 restored to Y, and a new pod naming reg/app:v1 would start X there.
 * `admission.unpinnedTags` (default deny) refuses such references of guarded registries, saying to pin by
 * digest or set `imagePullPolicy: Always`; the mutating webhook's pin makes them arrive pinned.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../helpers/lab.js';
import { mutateReview, validateReview, type AdmissionDeps } from '../../../src/admission/review.js';
import { createDigestCache } from '../../../src/admission/digest-cache.js';
import { effectivePullPolicy } from '../../../src/admission/images.js';
import type { PushgateConfig } from '../../../src/config/types.js';
import { ConfigError, parseConfigText } from '../../../src/config/load.js';
import { FakeGate, admissionConfig, dg, verdict } from './fake-gate.js';

const FIX = path.join(ROOT, 'test', 'fixtures', 'admission');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
function load(name: string): Json {
  return JSON.parse(fs.readFileSync(path.join(FIX, `admissionreview-${name}.json`), 'utf8'));
}

const H = 'registry.example.test';
const RS_CONTROLLER = 'system:serviceaccount:kube-system:replicaset-controller';
const API_SERVER = { authenticated: true, id: 'cert:kube-apiserver' };
/** Warnings are cut to Kubernetes' recommended 120 characters (protocols.md §6.3). */
const cut = (w: string) => (w.length <= 120 ? w : `${w.slice(0, 119)}…`);

function setup(cfg: Partial<PushgateConfig['admission']> = {}): { gate: FakeGate; deps: AdmissionDeps } {
  const gate = new FakeGate();
  const tags: Array<[string, number]> = [['team/app:1.4.2', 1], ['team/app-migrations:1.4.2', 2], ['tools/debug:2.0', 3], ['ml/model:v3', 4]];
  for (const [t, n] of tags) {
    gate.tags.set(t, dg(n));
    gate.put(verdict(t.split(':')[0]!, dg(n), 'allow'));
  }
  const config = admissionConfig(cfg);
  return { gate, deps: { gate, config, digestCache: createDigestCache(gate, config.digestCacheTtlMs) } };
}

async function validate(body: unknown, deps: AdmissionDeps, authenticated = false): Promise<Json> {
  const r = await validateReview(body, deps, authenticated ? { caller: API_SERVER } : undefined);
  return (r.body as Json).response;
}

/** What the API server does with both webhooks: the mutating webhook's patch applied, then validation. */
async function mutateThenValidate(body: Json, deps: AdmissionDeps): Promise<Json> {
  const m = ((await mutateReview(body, deps)).body as Json).response;
  const next = structuredClone(body);
  if (m.patch) {
    for (const op of JSON.parse(Buffer.from(m.patch, 'base64').toString()) as Array<{ path: string; value: string }>) {
      const segs = op.path.split('/').slice(1);
      let cur = next.request.object;
      for (const s of segs.slice(0, -1)) cur = cur[s];
      cur[segs.at(-1)!] = op.value;
    }
  }
  return validate(next, deps);
}

function pod(containers: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): Json {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u', kind: { kind: 'Pod' }, operation: 'CREATE', namespace: 'team-app', userInfo: { username: 'alice' }, object: { metadata: { name: 'p' }, spec: { containers, ...extra } } },
  };
}

const pathPrefix = (fixture: string) =>
  fixture === 'pod-create' ? 'spec' : fixture === 'podtemplate' ? 'template.spec' : fixture === 'cronjob' ? 'spec.jobTemplate.spec.template.spec' : 'spec.template.spec';

describe('admission: a tag the node may run from its cache (admission.unpinnedTags)', () => {
  const kinds = ['pod-create', 'deployment-create', 'statefulset', 'daemonset', 'replicaset', 'job', 'cronjob', 'replicationcontroller', 'podtemplate'];
  for (const k of kinds) {
    it(`denies ${k} naming guarded tags with the API server's IfNotPresent default, and says what to do`, async () => {
      const { gate, deps } = setup();
      const body = load(k);
      // Created by a user, not by a controller for an existing workload.
      body.request.userInfo = { username: 'alice@example.test' };
      const r = await validate(body, deps, true);
      expect(r.allowed).to.equal(false);
      const msg: string = r.status.message;
      expect(msg).to.match(/^pushgate denied 2 image\(s\): /);
      expect(msg).to.contain(`image "${H}/team/app:1.4.2" at `);
      expect(msg).to.contain(`image "${H}/team/app-migrations:1.4.2" at `);
      expect(msg).to.contain(
        `image "${H}/team/app:1.4.2" at ${pathPrefix(k)}.containers[0].image (${dg(1).slice(0, 19)}…): unpinned-tag — tag without digest and imagePullPolicy IfNotPresent: the node may run an image it cached under this tag, not what the tag names now; ` +
          `pin it by digest (${H}/team/app:1.4.2@${dg(1)}, as pushgate's mutating webhook writes it) or set imagePullPolicy: Always`,
      );
      // The digest-pinned Docker Hub image (unguarded) is not named.
      expect(msg).not.to.contain('nginx');
      expect(gate.enqueued).to.deep.equal([]);
      expect(gate.metrics.map((m) => m.decision)).to.deep.equal(['deny']);
    });

    it(`admits ${k} once the mutating webhook pinned it (the chart's default: nothing visible changes)`, async () => {
      const { deps } = setup();
      const body = load(k);
      body.request.userInfo = { username: 'alice@example.test' };
      const r = await mutateThenValidate(body, deps);
      expect(r).to.deep.equal({ uid: body.request.uid, allowed: true });
    });
  }

  it('denies an image volume with IfNotPresent, naming its pullPolicy field', async () => {
    const { deps } = setup();
    const body = load('pod-image-volume');
    const r = await validate(body, deps);
    expect(r.allowed).to.equal(false);
    expect(r.status.message).to.contain(`image "${H}/ml/model:v3" at spec.volumes[1].image.reference (${dg(4).slice(0, 19)}…): unpinned-tag — tag without digest and pullPolicy IfNotPresent`);
    expect(r.status.message).to.contain('or set pullPolicy: Always');
    body.request.object.spec.volumes[1].image.pullPolicy = 'Always';
    for (const c of [...body.request.object.spec.initContainers, ...body.request.object.spec.containers]) c.imagePullPolicy = 'Always';
    expect((await validate(body, deps)).allowed).to.equal(true);
  });

  it('denies kubectl debug (pods/ephemeralcontainers) naming a tag with IfNotPresent; Always is admitted', async () => {
    const { deps } = setup();
    const body = load('pod-ephemeralcontainers');
    const r = await validate(body, deps);
    expect(r.allowed).to.equal(false);
    expect(r.status.message).to.contain(`image "${H}/tools/debug:2.0" at spec.ephemeralContainers[0].image (${dg(3).slice(0, 19)}…): unpinned-tag`);
    body.request.object.spec.ephemeralContainers[0].imagePullPolicy = 'Always';
    expect((await validate(body, deps)).allowed).to.equal(true);
  });

  it('the hostile sequence: v1 → X ran, X quarantined, v1 restored to allowed Y: a new pod naming v1 with IfNotPresent is denied', async () => {
    const { gate, deps } = setup();
    const X = dg(8);
    const Y = dg(9);
    gate.tags.set('team/app:v1', X);
    gate.put(verdict('team/app', X, 'allow'));
    expect((await validate(pod([{ name: 'a', image: `${H}/team/app:v1`, imagePullPolicy: 'Always' }]), deps)).allowed).to.equal(true);
    gate.put(verdict('team/app', X, 'quarantine', [['secrets', 'private key']]));
    gate.put(verdict('team/app', Y, 'allow'));
    gate.tags.set('team/app:v1', Y);
    // The registry's notification of the restore (drops the cached tag resolution).
    gate.emitPush({ id: 'n', source: 'distribution', registry: 'example', action: 'push', repository: 'team/app', tag: 'v1', digest: Y });
    // The node that ran the first pod still holds X under team/app:v1.
    const r = await validate(pod([{ name: 'a', image: `${H}/team/app:v1`, imagePullPolicy: 'IfNotPresent' }]), deps);
    expect(r.allowed).to.equal(false);
    expect(r.status.message).to.contain('unpinned-tag');
    // Pinned (what the mutating webhook writes) it is Y that runs; with Always the node pulls Y.
    expect((await validate(pod([{ name: 'a', image: `${H}/team/app:v1@${Y}`, imagePullPolicy: 'IfNotPresent' }]), deps)).allowed).to.equal(true);
    expect((await validate(pod([{ name: 'a', image: `${H}/team/app:v1`, imagePullPolicy: 'Always' }]), deps)).allowed).to.equal(true);
  });

  it('an image blocked anyway is refused for its verdict (pinning would not help), a missing tag as missing', async () => {
    const { gate, deps } = setup();
    gate.put(verdict('team/app', dg(1), 'quarantine', [['secrets', 'private key in /app/id_rsa']]));
    const r = await validate(pod([{ name: 'a', image: `${H}/team/app:1.4.2`, imagePullPolicy: 'IfNotPresent' }, { name: 'b', image: `${H}/team/app:gone`, imagePullPolicy: 'IfNotPresent' }]), deps);
    expect(r.allowed).to.equal(false);
    expect(r.status.message).to.contain(`: quarantine — secrets: private key in /app/id_rsa`);
    expect(r.status.message).to.contain('tag-not-found — tag gone does not exist in team/app');
    expect(r.status.message).not.to.contain('unpinned-tag');
  });

  it('follows Kubernetes pull-policy defaulting when the field is absent: latest or no tag pulls, any other tag may be cached', async () => {
    const { gate, deps } = setup();
    gate.tags.set('team/app:latest', dg(1));
    const allowed = async (image: string, imagePullPolicy?: unknown) => (await validate(pod([{ name: 'a', image, ...(imagePullPolicy === undefined ? {} : { imagePullPolicy }) }]), deps)).allowed;
    expect(await allowed(`${H}/team/app:latest`)).to.equal(true);
    expect(await allowed(`${H}/team/app`)).to.equal(true);
    expect(await allowed(`${H}/team/app`, '')).to.equal(true);
    expect(await allowed(`${H}/team/app:1.4.2`)).to.equal(false);
    expect(await allowed(`${H}/team/app:latest`, 'IfNotPresent')).to.equal(false);
    expect(await allowed(`${H}/team/app`, 'Never')).to.equal(false);
    expect(await allowed(`${H}/team/app:1.4.2@${dg(1)}`, 'Never')).to.equal(true);
    expect(await allowed(`${H}/team/app@${dg(1)}`)).to.equal(true);
  });

  it('refuses a pull policy that is none of Always, IfNotPresent, Never (ambiguous), naming it', async () => {
    const { deps } = setup();
    for (const p of ['always', 'IfNotPresent ', 7, { x: 1 }]) {
      const r = await validate(pod([{ name: 'a', image: `${H}/team/app:1.4.2`, imagePullPolicy: p }]), deps);
      expect(r.allowed, String(p)).to.equal(false);
      expect(r.status.message).to.contain(`imagePullPolicy ${JSON.stringify(p)} (not Always, IfNotPresent or Never)`);
    }
  });

  it('names only the places that may use the cache when one reference is written with several policies', async () => {
    const { deps } = setup();
    const image = `${H}/team/app:1.4.2`;
    const r = await validate(pod([{ name: 'a', image, imagePullPolicy: 'Always' }, { name: 'b', image, imagePullPolicy: 'Never' }]), deps);
    expect(r.allowed).to.equal(false);
    expect(r.status.message).to.contain(`image "${image}" at spec.containers[0].image, spec.containers[1].image (${dg(1).slice(0, 19)}…): unpinned-tag — tag without digest and imagePullPolicy Never at spec.containers[1].image:`);
  });

  it('warn: admits with a warning of at most 120 characters and an audit annotation; a blocking verdict still denies', async () => {
    const { gate, deps } = setup({ unpinnedTags: 'warn' });
    const r = await validate(load('deployment-create'), deps);
    expect(r.allowed).to.equal(true);
    expect(r.warnings).to.deep.equal([
      cut(`tag may run from node cache; pin by digest or set imagePullPolicy: Always: ${H}/team/app-migrations:1.4.2`),
      `tag may run from node cache; pin by digest or set imagePullPolicy: Always: ${H}/team/app:1.4.2`,
    ]);
    expect(r.warnings.every((w: string) => w.length <= 120)).to.equal(true);
    expect(r.auditAnnotations['unpinned-tag']).to.contain('pin it by digest');
    expect(gate.metrics.map((m) => m.decision)).to.deep.equal(['warn']);
    gate.put(verdict('team/app', dg(1), 'reject', [['fixable-critical-vulns', 'CVE-2026-1']]));
    const denied = await validate(load('deployment-create'), deps);
    expect(denied.allowed).to.equal(false);
    expect(denied.status.message).to.contain(`image "${H}/team/app:1.4.2" at spec.template.spec.containers[0].image (${dg(1).slice(0, 19)}…): reject — fixable-critical-vulns: CVE-2026-1`);
  });

  it('warn: a warn verdict keeps its own warning beside the pull-policy one', async () => {
    const { gate, deps } = setup({ unpinnedTags: 'warn' });
    gate.put(verdict('team/app', dg(1), 'warn', [['eol', 'runtime is end of life']]));
    const r = await validate(pod([{ name: 'a', image: `${H}/team/app:1.4.2` }]), deps);
    expect(r.allowed).to.equal(true);
    expect(r.warnings).to.deep.equal([
      `tag may run from node cache; pin by digest or set imagePullPolicy: Always: ${H}/team/app:1.4.2`,
      `${H}/team/app:1.4.2 at spec.containers[0].image: warn: eol: runtime is end of life`,
    ]);
  });

  it('a warn verdict of a pinned reference keeps its reason in the 120-character warning (the digest is shortened)', async () => {
    const { gate, deps } = setup();
    gate.put(verdict('team/app', dg(1), 'warn', [['eol', 'runtime is end of life']]));
    const r = await validate(pod([{ name: 'a', image: `${H}/team/app:1.4.2@${dg(1)}`, imagePullPolicy: 'IfNotPresent' }]), deps);
    expect(r.allowed).to.equal(true);
    expect(r.warnings).to.deep.equal([`${H}/team/app:1.4.2@${dg(1).slice(0, 19)}… at spec.containers[0].image: warn: eol: runtime is end of life`]);
  });

  it('allow: today\'s behaviour, the tag is resolved and admitted silently', async () => {
    const { gate, deps } = setup({ unpinnedTags: 'allow' });
    const body = load('deployment-create');
    expect(await validate(body, deps)).to.deep.equal({ uid: body.request.uid, allowed: true });
    expect(gate.resolveCalls).to.have.members(['team/app:1.4.2', 'team/app-migrations:1.4.2']);
  });

  it('exempt images and namespaces keep their exemption; unguarded registries follow admission.unguarded', async () => {
    const image = `${H}/team/app:1.4.2`;
    let { deps } = setup({ exemptions: { namespaces: [], images: [`${H}/team/*`] } });
    expect((await validate(pod([{ name: 'a', image }]), deps)).allowed).to.equal(true);
    ({ deps } = setup({ exemptions: { namespaces: ['team-*'], images: [] } }));
    expect((await validate(pod([{ name: 'a', image }]), deps)).allowed).to.equal(true);
    for (const [rule, allowed] of [['allow', true], ['warn', true], ['deny', false]] as const) {
      ({ deps } = setup({ unguarded: rule }));
      const r = await validate(pod([{ name: 'a', image: 'quay.io/team/app:1.0', imagePullPolicy: 'IfNotPresent' }]), deps);
      expect(r.allowed, rule).to.equal(allowed);
      expect(JSON.stringify(r)).not.to.contain('unpinned');
    }
  });

  it('a pod its controller creates for an existing workload is admitted with a warning (scale-ups keep working)', async () => {
    const { deps } = setup();
    // pod-create: CREATE by the replicaset-controller with a controller ownerReference, from the API server.
    expect(load('pod-create').request.userInfo.username).to.equal(RS_CONTROLLER);
    const r = await validate(load('pod-create'), deps, true);
    expect(r.allowed).to.equal(true);
    expect(r.warnings).to.have.length(2);
    expect(r.warnings[0]).to.match(/^tag may run from node cache; pin by digest or set imagePullPolicy: Always: /);
    expect(r.auditAnnotations['unpinned-tag']).to.contain('admitted for existing ReplicaSet/app-7d9c5b8f6d');
    // The same pod from a caller that did not authenticate (its userInfo is a claim), or by a user, is denied.
    expect((await validate(load('pod-create'), deps, false)).allowed).to.equal(false);
    const alice = load('pod-create');
    alice.request.userInfo = { username: 'alice' };
    expect((await validate(alice, deps, true)).allowed).to.equal(false);
    // With standing workloads off (the webhook does not judge workload kinds), controller pods are denied too.
    const { deps: strict } = setup({ standingWorkloads: false });
    expect((await validate(load('pod-create'), strict, true)).allowed).to.equal(false);
  });

  it('an UPDATE leaving a tag unchanged is admitted with a warning, without lookups', async () => {
    const { gate, deps } = setup();
    const body = load('deployment-create');
    body.request.operation = 'UPDATE';
    body.request.oldObject = structuredClone(body.request.object);
    body.request.object.spec.replicas = 5;
    const r = await validate(body, deps);
    expect(r.allowed).to.equal(true);
    expect(r.warnings).to.deep.equal([
      cut(`unchanged tag may run from node cache; pin by digest or set imagePullPolicy: Always: ${H}/team/app-migrations:1.4.2`),
      cut(`unchanged tag may run from node cache; pin by digest or set imagePullPolicy: Always: ${H}/team/app:1.4.2`),
    ]);
    expect(gate.resolveCalls).to.deep.equal([]);
    const { deps: off } = setup({ unpinnedTags: 'allow' });
    expect((await validate(body, off)).warnings).to.equal(undefined);
  });

  it('an UPDATE that turns Always into IfNotPresent on an unchanged tag is judged (and denied); the mutating webhook pins it', async () => {
    const { deps } = setup();
    const body = load('deployment-pull-policy-update');
    const r = await validate(body, deps);
    expect(r.allowed).to.equal(false);
    expect(r.status.message).to.match(/^pushgate denied 1 image\(s\): image "registry\.example\.test\/team\/app:1\.4\.2" at spec\.template\.spec\.containers\[0\]\.image \(sha256:010101010101…\): unpinned-tag/);
    const m = ((await mutateReview(body, deps)).body as Json).response;
    expect(JSON.parse(Buffer.from(m.patch, 'base64').toString())).to.deep.equal([{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `${H}/team/app:1.4.2@${dg(1)}` }]);
    expect(await mutateThenValidate(body, deps)).to.deep.equal({ uid: body.request.uid, allowed: true });
  });

  it('break-glass still admits (audited)', async () => {
    const { gate, deps } = setup({ breakGlass: { namespaces: ['team-app'], groups: [], users: [] } });
    const body = pod([{ name: 'a', image: `${H}/team/app:1.4.2` }]);
    body.request.object.metadata.annotations = { 'pushgate.io/break-glass': 'incident 42' };
    const r = await validate(body, deps);
    expect(r.allowed).to.equal(true);
    expect(gate.audits.map((a) => a.action)).to.deep.equal(['admission.break-glass']);
  });
});

describe('admission.unpinnedTags in the config', () => {
  const parse = (text: string) => parseConfigText(text, path.join(ROOT, 'x.yaml'), {});
  it('defaults to deny, takes deny, warn and allow, and refuses anything else naming the key', () => {
    expect(parse('log:\n  level: info\n').admission.unpinnedTags).to.equal('deny');
    for (const v of ['deny', 'warn', 'allow'] as const) expect(parse(`admission:\n  unpinnedTags: ${v}\n`).admission.unpinnedTags).to.equal(v);
    for (const bad of ['Deny', 'true', 'maybe', '[deny]']) {
      let problem = '';
      try {
        parse(`admission:\n  unpinnedTags: ${bad}\n`);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        problem = JSON.stringify(e.problems);
      }
      expect(problem, bad).to.contain('admission.unpinnedTags');
    }
  });
});

// ---- property: the decision over generated pod specs against a plain statement of the rule ----

type Where = 'containers' | 'initContainers' | 'ephemeralContainers' | 'volumes';
type Reg = 'guarded' | 'unguarded' | 'exempt';
type RefForm = 'tag' | 'latest' | 'none' | 'digest' | 'tag@digest';
interface Place { where: Where; reg: Reg; repo: 'a' | 'b'; form: RefForm; policy: string | undefined }

const HOSTS: Record<Reg, string> = { guarded: `${H}/team`, unguarded: 'quay.io/team', exempt: `${H}/tools` };
const D = (repo: string) => (repo === 'a' ? dg(11) : dg(12));

function imageOf(p: Place): string {
  const base = `${HOSTS[p.reg]}/${p.repo}`;
  switch (p.form) {
    case 'tag': return `${base}:v1`;
    case 'latest': return `${base}:latest`;
    case 'none': return base;
    case 'digest': return `${base}@${D(p.repo)}`;
    case 'tag@digest': return `${base}:v1@${D(p.repo)}`;
  }
}

/** The rule, stated plainly: a guarded, non-exempt reference without a digest whose pull policy is not Always. */
function mayUseCache(p: Place): boolean {
  if (p.reg !== 'guarded' || p.form === 'digest' || p.form === 'tag@digest') return false;
  const policy = p.policy === undefined ? (p.form === 'tag' ? 'IfNotPresent' : 'Always') : p.policy;
  return policy !== 'Always';
}

const KINDS: Array<[string, (spec: unknown) => unknown]> = [
  ['Pod', (spec) => ({ metadata: { name: 'p' }, spec })],
  ['Deployment', (spec) => ({ spec: { template: { spec } } })],
  ['CronJob', (spec) => ({ spec: { jobTemplate: { spec: { template: { spec } } } } })],
  ['PodTemplate', (spec) => ({ template: { spec } })],
];

function pathOf(kind: string, p: Place, i: number): string {
  const base = kind === 'Pod' ? 'spec' : kind === 'PodTemplate' ? 'template.spec' : kind === 'CronJob' ? 'spec.jobTemplate.spec.template.spec' : 'spec.template.spec';
  return p.where === 'volumes' ? `${base}.volumes[${i}].image.reference` : `${base}.${p.where}[${i}].image`;
}

describe('admission: unpinned tags, property over generated pod specs', () => {
  const place = fc.record<Place>({
    where: fc.constantFrom<Where>('containers', 'initContainers', 'ephemeralContainers', 'volumes'),
    reg: fc.constantFrom<Reg>('guarded', 'unguarded', 'exempt'),
    repo: fc.constantFrom('a', 'b'),
    form: fc.constantFrom<RefForm>('tag', 'latest', 'none', 'digest', 'tag@digest'),
    policy: fc.constantFrom(undefined, 'Always', 'IfNotPresent', 'Never'),
  });

  it('denies exactly the images at a place that may use the node cache (deny), warns about exactly those (warn), ignores pull policies (allow)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(place, { minLength: 1, maxLength: 7 }), fc.constantFrom(...KINDS), fc.constantFrom<'deny' | 'warn' | 'allow'>('deny', 'warn', 'allow'), async (places, [kind, wrap], rule) => {
        const gate = new FakeGate();
        for (const repo of ['a', 'b']) {
          gate.tags.set(`team/${repo}:v1`, D(repo));
          gate.tags.set(`team/${repo}:latest`, D(repo));
          gate.put(verdict(`team/${repo}`, D(repo), 'allow'));
        }
        const config = admissionConfig({ unpinnedTags: rule, unguarded: 'allow', exemptions: { namespaces: [], images: [`${H}/tools/**`] } });
        const deps = { gate, config, digestCache: createDigestCache(gate, config.digestCacheTtlMs) };
        const spec: Record<Where, Array<Record<string, unknown>>> = { containers: [], initContainers: [], ephemeralContainers: [], volumes: [] };
        const written: Record<Where, Place[]> = { containers: [], initContainers: [], ephemeralContainers: [], volumes: [] };
        places.forEach((p, n) => {
          const image = imageOf(p);
          written[p.where].push(p);
          if (p.where === 'volumes') spec.volumes.push({ name: `v${n}`, image: { reference: image, ...(p.policy === undefined ? {} : { pullPolicy: p.policy }) } });
          else spec[p.where].push({ name: `c${n}`, image, ...(p.policy === undefined ? {} : { imagePullPolicy: p.policy }) });
        });
        // Places per reference in document order (init, app, ephemeral containers, then image volumes).
        const at = new Map<string, { places: Place[]; paths: string[] }>();
        for (const where of ['initContainers', 'containers', 'ephemeralContainers', 'volumes'] as const) {
          written[where].forEach((p, i) => {
            const e = at.get(imageOf(p)) ?? { places: [], paths: [] };
            e.places.push(p);
            e.paths.push(pathOf(kind, p, i));
            at.set(imageOf(p), e);
          });
        }
        // The helper in src agrees with the plain statement on every place.
        for (const p of places) {
          const eff = effectivePullPolicy({ image: imageOf(p), pullPolicy: p.policy });
          expect(p.reg === 'guarded' && !p.form.includes('digest') ? eff !== 'Always' : false).to.equal(mayUseCache(p));
        }
        const body = {
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: { uid: 'u', kind: { kind }, operation: 'CREATE', namespace: 'team-app', userInfo: { username: 'alice' }, object: wrap(spec) },
        };
        const r = await validate(body, deps);
        const cached = [...at].filter(([, e]) => e.places.some(mayUseCache));
        const text = JSON.stringify(r);
        if (rule === 'allow' || cached.length === 0) {
          expect(r.allowed).to.equal(true);
          expect(text).not.to.contain('node cache');
          expect(text).not.to.contain('unpinned');
          return;
        }
        if (rule === 'deny') {
          expect(r.allowed).to.equal(false);
          const msg: string = r.status.message;
          expect(msg).to.match(new RegExp(`^pushgate denied ${cached.length} image\\(s\\): `));
          for (const [image, e] of cached) {
            expect(msg).to.contain(`image "${image}" at ${e.paths.join(', ')} (${D(e.places[0]!.repo).slice(0, 19)}…): unpinned-tag — tag without digest and `);
            expect(msg).to.contain(`pin it by digest (${image}@${D(e.places[0]!.repo)}, as pushgate's mutating webhook writes it)`);
            const cachedPaths = e.places.map((p, k) => (mayUseCache(p) ? e.paths[k] : undefined)).filter((x) => x);
            if (cachedPaths.length < e.places.length) expect(msg).to.contain(` at ${cachedPaths.join(', ')}: the node may run`);
          }
          for (const [image] of at) if (!cached.some(([c]) => c === image)) expect(msg).not.to.contain(`image "${image}"`);
          return;
        }
        expect(r.allowed).to.equal(true);
        expect(r.warnings.filter((w: string) => w.startsWith('tag may run from node cache')).sort()).to.deep.equal(
          cached.map(([image, e]) => cut(`tag may run from node cache; pin by digest or set ${e.places.find(mayUseCache)!.where === 'volumes' ? 'pullPolicy' : 'imagePullPolicy'}: Always: ${image}`)).sort(),
        );
      }),
      { numRuns: 300 },
    );
  });
});

describe('admission: unpinned tags on UPDATE, property over pull-policy changes', () => {
  it('an unchanged reference is judged only when its effective pull policy changed; unchanged and cacheable gives a warning', async () => {
    const policy = fc.constantFrom(undefined, 'Always', 'IfNotPresent', 'Never');
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('v1', 'latest', ''), policy, policy, async (tag, before, after) => {
        const { gate, deps } = setup();
        gate.tags.set('team/app:v1', dg(1));
        gate.tags.set('team/app:latest', dg(1));
        const image = `${H}/team/app${tag ? `:${tag}` : ''}`;
        const c = (p: string | undefined) => [{ name: 'app', image, ...(p === undefined ? {} : { imagePullPolicy: p }) }];
        const body = {
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: {
            uid: 'u', kind: { kind: 'Deployment' }, operation: 'UPDATE', namespace: 'team-app', userInfo: { username: 'alice' },
            object: { spec: { replicas: 3, template: { spec: { containers: c(after) } } } },
            oldObject: { spec: { replicas: 1, template: { spec: { containers: c(before) } } } },
          },
        };
        const eff = (p: string | undefined) => p ?? (tag === 'v1' ? 'IfNotPresent' : 'Always');
        const r = await validate(body, deps);
        if (eff(before) === eff(after)) {
          expect(r.allowed).to.equal(true);
          expect(gate.resolveCalls).to.deep.equal([]);
          expect((r.warnings ?? []).some((w: string) => w.startsWith('unchanged tag may run from node cache'))).to.equal(eff(after) !== 'Always');
        } else {
          expect(gate.resolveCalls).to.have.length(1);
          expect(r.allowed).to.equal(eff(after) === 'Always');
        }
      }),
      { numRuns: 100 },
    );
  });
});
