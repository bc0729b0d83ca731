/**
 * `NAME.localhost` (hostile pod author against a loopback registry). The host normalizer counts a name under
 * `localhost.` as loopback (RFC 6761; systemd-resolved answers it so), so `evil.localhost:5000/app:1` was judged
 * as the guarded 127.0.0.1:5000's clean `app:1` and admitted, where `admission.unguarded: deny` had refused it
 * before. But the runtimes that pull for a pod are Go programs whose resolver has no rule for `.localhost`
 * (golang/go#22826): they ask /etc/hosts and the node's DNS, which may answer with any address, and the
 * node pulls whatever `app:1` is there. Admission now refuses such a name where it reaches a guarded registry
 * only by that rule (`invalid-reference`, naming the host to write); a registry configured as `x.localhost`
 * (a real name of the node's DNS) is judged as before.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { validateReview, type AdmissionDeps } from '../../../src/admission/review.js';
import { createDigestCache } from '../../../src/admission/digest-cache.js';
import { RegistryHosts } from '../../../src/core/host.js';
import type { RegistryConfig } from '../../../src/config/types.js';
import { FakeGate, REG, admissionConfig, dg, verdict } from './fake-gate.js';

class HostsGate extends FakeGate {
  private readonly hosts: RegistryHosts;
  constructor(private readonly reg: RegistryConfig) {
    super();
    this.hosts = new RegistryHosts([reg]);
  }
  override registryForHost(host: string): RegistryConfig | undefined {
    return this.hosts.match(host) === this.reg.name ? this.reg : undefined;
  }
}

function setup(reg: RegistryConfig): { gate: HostsGate; deps: AdmissionDeps } {
  const gate = new HostsGate(reg);
  const config = admissionConfig({ unguarded: 'deny' });
  gate.tags.set('app:1', dg(1));
  gate.put(verdict('app', dg(1), 'allow'));
  return { gate, deps: { gate, config, digestCache: createDigestCache(gate, config.digestCacheTtlMs) } };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function admit(deps: AdmissionDeps, image: string): Promise<any> {
  const review = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u1', kind: { kind: 'Pod' }, operation: 'CREATE', namespace: 'team-a', object: { spec: { containers: [{ name: 'c', image, imagePullPolicy: 'Always' }] } } } };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return ((await validateReview(review, deps)).body as any).response;
}

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);

describe('admission: a NAME.localhost reference to a loopback registry', () => {
  it('property: refused, by tag and by digest, never judged as the loopback registry\'s image (fast-check)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(label, { minLength: 1, maxLength: 3 }), fc.boolean(), fc.constantFrom('127.0.0.1', 'localhost', '[::1]'), fc.constantFrom(':1', `@${dg(1)}`),
      async (labels, upper, configured, suffix) => {
        const { gate, deps } = setup({ ...REG, url: `http://${configured}:5000` });
        const name = `${labels.join('.')}.localhost`;
        const image = `${upper ? name.toUpperCase() : name}:5000/app${suffix}`;
        const r = await admit(deps, image);
        expect(r.allowed, image).to.equal(false);
        expect(r.status.message, image).to.match(/invalid-reference/).and.to.include(`write the registry's own host (${configured}:5000)`);
        expect(gate.resolveCalls, image).to.deep.equal([]);
        // the registry's own spellings are judged as before
        expect((await admit(deps, `${configured}:5000/app:1`)).allowed, configured).to.equal(true);
      },
    ), { numRuns: 60 });
  });

  it('property: a registry configured as x.localhost (or with it as an alias) is judged by that name (fast-check)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(label, { minLength: 1, maxLength: 3 }), fc.boolean(), async (labels, alias) => {
      const name = `${labels.join('.')}.localhost`;
      const reg = alias ? { ...REG, url: 'http://127.0.0.1:5000', aliases: [`${name}:5000`] } : { ...REG, url: `http://${name}:5000` };
      const { gate, deps } = setup(reg);
      expect((await admit(deps, `${name}:5000/app:1`)).allowed, name).to.equal(true);
      gate.put(verdict('app', dg(2), 'quarantine'));
      expect((await admit(deps, `${name}:5000/app@${dg(2)}`)).allowed, name).to.equal(false);
    }), { numRuns: 40 });
  });
});
