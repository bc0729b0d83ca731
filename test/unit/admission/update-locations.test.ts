/**
 * What an UPDATE leaves unchanged (pod author with update rights on a Pod or workload).
 *
 * An UPDATE is admitted without judging the images it leaves unchanged: nothing new runs from them.
 * "Unchanged" is per place, not per object: the same container (by list and name, which Kubernetes
 * keeps unique in a pod) or image volume (by name) keeps the same reference. An image that ran in one
 * place of the old object (an init container, a break-glass debug container, an image volume, or one
 * that has since become blocking) and is now written into another place is new there: in a Pod, the
 * kubelet restarts that container with it. Reordering the containers of a template changes nothing.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { mutateReview, validateReview, type AdmissionDeps } from '../../../src/admission/review.js';
import { createDigestCache } from '../../../src/admission/digest-cache.js';
import { FakeGate, admissionConfig, dg, verdict } from './fake-gate.js';

const IMAGES = ['team/a:1', 'team/b:1', 'team/c:1', 'team/d:1'];

function setup(): { gate: FakeGate; deps: AdmissionDeps } {
  const gate = new FakeGate();
  IMAGES.forEach((ref, i) => {
    const [repo, tag] = ref.split(':') as [string, string];
    gate.tags.set(`${repo}:${tag}`, dg(i + 1));
    gate.put(verdict(repo, dg(i + 1), 'reject', [['fixable-critical-vulns', 'CVE-2024-0001']]));
  });
  // Tags without a pull policy (IfNotPresent by default): these tests are about places, so
  // admission.unpinnedTags is off here; pull policy changes are covered in unpinned-tags.test.ts.
  const config = admissionConfig({ unpinnedTags: 'allow' });
  return { gate, deps: { gate, config, digestCache: createDigestCache(gate, config.digestCacheTtlMs) } };
}

interface C { name: string; image: string }
interface Spec { initContainers: C[]; containers: C[]; volumes: Array<{ name: string; image: { reference: string } }> }

function podUpdate(oldSpec: Spec, newSpec: Spec): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u', kind: { kind: 'Pod' }, operation: 'UPDATE', namespace: 'team-a',
      object: { metadata: { name: 'p' }, spec: newSpec },
      oldObject: { metadata: { name: 'p' }, spec: oldSpec },
    },
  };
}

const full = (i: number) => `registry.example.test/${IMAGES[i]}`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function review(deps: AdmissionDeps, body: unknown): Promise<any> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return ((await validateReview(body, deps)).body as any).response;
}

describe('admission: an UPDATE is unchanged per container and image volume, not per object', () => {
  it('a Pod UPDATE that puts its init container\'s (now blocking) image into the main container is judged and denied', async () => {
    const { gate, deps } = setup();
    const old: Spec = { initContainers: [{ name: 'migrate', image: full(1) }], containers: [{ name: 'app', image: full(0) }], volumes: [] };
    const next: Spec = { ...old, containers: [{ name: 'app', image: full(1) }] };
    const r = await review(deps, podUpdate(old, next));
    expect(r.allowed).to.equal(false);
    expect(r.status.message).to.contain('spec.containers[0].image');
    expect(gate.resolveCalls).to.deep.equal(['team/b:1']);
  });

  it('an image volume\'s reference written into a container is judged there', async () => {
    const { gate, deps } = setup();
    const old: Spec = { initContainers: [], containers: [{ name: 'app', image: full(0) }], volumes: [{ name: 'models', image: { reference: full(2) } }] };
    const next: Spec = { ...old, containers: [{ name: 'app', image: full(2) }] };
    expect((await review(deps, podUpdate(old, next))).allowed).to.equal(false);
    expect(gate.resolveCalls).to.deep.equal(['team/c:1']);
  });

  it('reordering containers (same names, same images) judges nothing', async () => {
    const { gate, deps } = setup();
    const old: Spec = { initContainers: [], containers: [{ name: 'a', image: full(0) }, { name: 'b', image: full(1) }], volumes: [] };
    const next: Spec = { ...old, containers: [old.containers[1]!, old.containers[0]!] };
    expect((await review(deps, podUpdate(old, next))).allowed).to.equal(true);
    expect(gate.resolveCalls).to.deep.equal([]);
  });

  it('the mutating webhook keeps each container\'s pin through a reorder and pins nothing it left in place', async () => {
    const { gate, deps } = setup();
    gate.put(verdict('team/a', dg(1), 'allow'));
    gate.put(verdict('team/b', dg(2), 'allow'));
    const old: Spec = { initContainers: [], containers: [{ name: 'a', image: `${full(0)}@${dg(1)}` }, { name: 'b', image: full(1) }], volumes: [] };
    // re-applied from source (tags, not pins) with the containers in another order
    const next: Spec = { ...old, containers: [{ name: 'b', image: full(1) }, { name: 'a', image: full(0) }] };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const r = (await mutateReview(podUpdate(old, next), deps)).body as any;
    const patch = JSON.parse(Buffer.from(r.response.patch, 'base64').toString('utf8'));
    expect(patch).to.deep.equal([{ op: 'replace', path: '/spec/containers/1/image', value: `${full(0)}@${dg(1)}` }]);
    expect(gate.resolveCalls, 'nothing left in place is looked up').to.deep.equal([]);
  });

  it('property: exactly the images at a (list, name) whose reference changed are judged', async () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const containerSet = fc.uniqueArray(fc.constantFrom(...names), { minLength: 1, maxLength: 6 });
    const img = fc.integer({ min: 0, max: IMAGES.length - 1 });
    const arb = fc.record({
      placed: containerSet.chain((ns) => fc.tuple(...ns.map((n) => fc.record({ name: fc.constant(n), list: fc.constantFrom('initContainers', 'containers', 'volumes'), before: img, after: img, present: fc.boolean() })))),
      shuffle: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ placed, shuffle }) => {
        const { gate, deps } = setup();
        const build = (pick: (p: (typeof placed)[number]) => number | undefined): Spec => {
          const s: Spec = { initContainers: [], containers: [], volumes: [] };
          for (const p of placed) {
            const i = pick(p);
            if (i === undefined) continue;
            if (p.list === 'volumes') s.volumes.push({ name: p.name, image: { reference: full(i) } });
            else s[p.list as 'containers'].push({ name: p.name, image: full(i) });
          }
          if (s.containers.length === 0) s.containers.push({ name: 'main', image: full(0) });
          return s;
        };
        const old = build((p) => (p.present ? p.before : undefined));
        const next = build((p) => p.after);
        if (shuffle) next.containers.reverse();
        const oldAt = new Map<string, string>();
        for (const [list, arr] of [['initContainers', old.initContainers], ['containers', old.containers]] as const) for (const c of arr) oldAt.set(`${list}/${c.name}`, c.image);
        for (const v of old.volumes) oldAt.set(`volumes/${v.name}`, v.image.reference);
        const expected = new Set<string>();
        for (const [list, arr] of [['initContainers', next.initContainers], ['containers', next.containers]] as const) for (const c of arr) if (oldAt.get(`${list}/${c.name}`) !== c.image) expected.add(c.image);
        for (const v of next.volumes) if (oldAt.get(`volumes/${v.name}`) !== v.image.reference) expected.add(v.image.reference);
        const r = await review(deps, podUpdate(old, next));
        const judged = new Set(gate.resolveCalls.map((c) => `registry.example.test/${c}`));
        expect([...judged].sort()).to.deep.equal([...expected].sort());
        expect(r.allowed).to.equal(expected.size === 0);
      }),
      { numRuns: 300 },
    );
  });
});
