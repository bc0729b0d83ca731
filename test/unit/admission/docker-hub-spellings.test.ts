/**
 * Docker Hub spellings the runtimes do not fold (hostile pod author against a registry that mirrors
 * Docker Hub for the cluster: `registries[].aliases: [docker.io]`).
 *
 * distribution/reference (normalize.go, which containerd, CRI-O and the kubelet use) folds exactly two
 * domain strings into Docker Hub: `docker.io` and `index.docker.io` (legacyDefaultDomain), and adds
 * `library/` only then. `registry-1.docker.io/team/app`, `DOCKER.IO/team/app` or `docker.io:443/team/app`
 * keep their domain as written: no `library/` prefix, and a mirror configured for `docker.io`
 * (containerd `certs.d/docker.io/hosts.toml`, CRI-O `[[registry]] prefix = "docker.io"`) does not apply, so
 * `registry-1.docker.io/…` is pulled from the real Docker Hub. pushgate's host normalizer folds all of these
 * into `docker.io`, so without a check it judged the mirror's `team/app` (a clean image the pusher put
 * there) and admitted a pod that runs whatever Docker Hub serves under that name.
 *
 * The review now refuses such a spelling when Docker Hub's name reaches a guarded registry
 * (`invalid-reference`, naming the spelling to write), and still judges the two spellings the runtimes fold.
 * The real host normalizer ({@link RegistryHosts}) decides what is guarded, as in the gate.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { validateReview, type AdmissionDeps } from '../../../src/admission/review.js';
import { createDigestCache } from '../../../src/admission/digest-cache.js';
import { RegistryHosts } from '../../../src/core/host.js';
import { parseImageRef } from '../../../src/core/index.js';
import type { RegistryConfig } from '../../../src/config/types.js';
import { FakeGate, REG, admissionConfig, dg, verdict } from './fake-gate.js';

/** The guarded registry is the cluster's Docker Hub mirror. */
const MIRROR: RegistryConfig = { ...REG, aliases: ['docker.io'] };

class MirrorGate extends FakeGate {
  private readonly hosts = new RegistryHosts([MIRROR]);
  override registryForHost(host: string): RegistryConfig | undefined {
    return this.hosts.match(host) === MIRROR.name ? MIRROR : undefined;
  }
}

function setup(): { gate: MirrorGate; deps: AdmissionDeps } {
  const gate = new MirrorGate();
  const config = admissionConfig();
  return { gate, deps: { gate, config, digestCache: createDigestCache(gate, config.digestCacheTtlMs) } };
}

function podReview(image: string, uid = 'u1'): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid, kind: { kind: 'Pod' }, operation: 'CREATE', namespace: 'team-a', object: { spec: { containers: [{ name: 'c', image, imagePullPolicy: 'Always' }] } } },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function admit(deps: AdmissionDeps, image: string): Promise<any> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return ((await validateReview(podReview(image), deps)).body as any).response;
}

/** Every letter case of `s` is reachable by the generator. */
const anyCase = (s: string) => fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }).map((up) => [...s].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));

/** Domains the host normalizer folds into Docker Hub but the runtimes read as another registry. */
const unfoldedHubDomain = fc
  .tuple(fc.constantFrom('docker.io', 'index.docker.io', 'registry-1.docker.io'), fc.constantFrom('', ':443', ':0443'))
  .chain(([h, port]) => anyCase(h).map((hh) => `${hh}${port}`))
  .filter((d) => d !== 'docker.io' && d !== 'index.docker.io');

const component = fc.stringMatching(/^[a-z0-9]{1,8}$/);
const repoPath = fc.array(component, { minLength: 1, maxLength: 3 }).map((c) => c.join('/'));

describe('admission: Docker Hub spellings the runtimes do not fold (docker.io mirrored by a guarded registry)', () => {
  it('registry-1.docker.io/team/app is refused, not judged as the mirror\'s clean team/app', async () => {
    const { gate, deps } = setup();
    gate.tags.set('team/app:1', dg(1));
    gate.put(verdict('team/app', dg(1), 'allow'));
    const r = await admit(deps, 'registry-1.docker.io/team/app:1');
    expect(r.allowed).to.equal(false);
    expect(r.status.message).to.match(/invalid-reference/).and.to.match(/docker\.io\/team\/app/);
    expect(gate.resolveCalls, 'the mirror is not asked about another registry\'s tag').to.deep.equal([]);
  });

  it('the spellings the runtimes fold (docker.io, index.docker.io, no domain) are judged against the mirror', async () => {
    const { gate, deps } = setup();
    gate.tags.set('team/app:1', dg(1));
    gate.tags.set('library/nginx:latest', dg(2));
    gate.put(verdict('team/app', dg(1), 'allow'));
    gate.put(verdict('library/nginx', dg(2), 'allow'));
    for (const image of ['docker.io/team/app:1', 'index.docker.io/team/app:1', 'team/app:1', 'nginx', 'docker.io/nginx', 'index.docker.io/library/nginx:latest']) {
      const r = await admit(deps, image);
      expect(r.allowed, image).to.equal(true);
    }
  });

  it('without a guarded Docker Hub name the spelling stays unguarded (the runtime reaches Docker Hub or nothing)', async () => {
    const gate = new FakeGate();
    const config = admissionConfig();
    const deps = { gate, config, digestCache: createDigestCache(gate, config.digestCacheTtlMs) };
    expect((await admit(deps, 'registry-1.docker.io/team/app:1')).allowed).to.equal(true);
  });

  it('property: every unfolded Docker Hub spelling of a clean mirror image is denied with the spelling to write; the folded ones are admitted', async () => {
    await fc.assert(
      fc.asyncProperty(unfoldedHubDomain, repoPath, fc.constantFrom('', ':1', `@${dg(5)}`), async (domain, repo, suffix) => {
        const { gate, deps } = setup();
        const folded = parseImageRef(`docker.io/${repo}${suffix}`);
        if (folded.tag) gate.tags.set(`${folded.repository}:${folded.tag}`, dg(5));
        gate.put(verdict(folded.repository, dg(5), 'allow'));
        const bad = await admit(deps, `${domain}/${repo}${suffix}`);
        expect(bad.allowed, `${domain}/${repo}${suffix}`).to.equal(false);
        expect(bad.status.message).to.match(/invalid-reference/).and.to.include('docker.io/');
        for (const ok of [`docker.io/${repo}${suffix}`, `index.docker.io/${repo}${suffix}`]) {
          expect((await admit(deps, ok)).allowed, ok).to.equal(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});
