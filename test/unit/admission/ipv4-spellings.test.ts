/**
 * IPv4 spellings the container runtimes read as host names (hostile pod author against a registry
 * guarded by its IP address).
 *
 * pushgate's host normalizer reads a host whose last label is a number as inet_aton does (glibc, the
 * WHATWG URL parser): `2130706433`, `127.1`, `0x7f.1`, `0177.0.0.1` and `10.0.0.05` are addresses. The
 * runtimes that pull for a pod are Go programs (containerd, CRI-O, the kubelet): Go's net.ParseIP takes
 * only four decimal parts without leading zeros and looks anything else up as a host name (its own
 * resolver: /etc/hosts, then DNS with the search domains). So `2130706433:5000/app:1` was judged as the
 * guarded 127.0.0.1:5000's clean `app:1` and admitted, while a Go runtime pulls whatever the name
 * `2130706433` resolves to. Admission now refuses such a spelling where it reaches a guarded registry
 * (`invalid-reference`, naming the address to write); the dotted spelling Go reads is judged as before.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { validateReview, type AdmissionDeps } from '../../../src/admission/review.js';
import { createDigestCache } from '../../../src/admission/digest-cache.js';
import { RegistryHosts } from '../../../src/core/host.js';
import { ambiguousIpv4Spelling } from '../../../src/core/index.js';
import type { RegistryConfig } from '../../../src/config/types.js';
import { FakeGate, REG, admissionConfig, dg, verdict } from './fake-gate.js';

/** A registry guarded by its address (as a cluster-internal registry often is). */
const BY_ADDRESS: RegistryConfig = { ...REG, url: 'http://10.1.2.3:5000' };

class AddressGate extends FakeGate {
  private readonly hosts = new RegistryHosts([BY_ADDRESS]);
  override registryForHost(host: string): RegistryConfig | undefined {
    return this.hosts.match(host) === BY_ADDRESS.name ? BY_ADDRESS : undefined;
  }
}

function setup(): { gate: AddressGate; deps: AdmissionDeps } {
  const gate = new AddressGate();
  const config = admissionConfig();
  return { gate, deps: { gate, config, digestCache: createDigestCache(gate, config.digestCacheTtlMs) } };
}

function podReview(image: string): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u1', kind: { kind: 'Pod' }, operation: 'CREATE', namespace: 'team-a', object: { spec: { containers: [{ name: 'c', image, imagePullPolicy: 'Always' }] } } },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function admit(deps: AdmissionDeps, image: string): Promise<any> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return ((await validateReview(podReview(image), deps)).body as any).response;
}

/** 10.1.2.3's parts and its 32-bit value. */
const PARTS = [10, 1, 2, 3];
const VALUE = ((10 << 24) | (1 << 16) | (2 << 8) | 3) >>> 0;

/** One number in an inet_aton radix: decimal, octal (leading 0) or hexadecimal (0x, any case), zero-padded. */
const numberIn = (n: number) =>
  fc.tuple(fc.constantFrom<'d' | 'o' | 'x' | 'X'>('d', 'o', 'x', 'X'), fc.nat({ max: 2 })).map(([radix, pad]) => {
    if (radix === 'd') return String(n); // a leading zero would make it octal
    if (radix === 'o') return `0${'0'.repeat(pad)}${n.toString(8)}`;
    return `${radix === 'x' ? '0x' : '0X'}${'0'.repeat(pad)}${n.toString(16)}`;
  });

/** Every inet_aton spelling of 10.1.2.3: a.b.c.d, a.b.c (c 16 bits), a.b (b 24 bits), a (32 bits), each part in any radix. */
const inetAtonSpelling = fc.constantFrom(4, 3, 2, 1).chain((k) => {
  const parts = k === 4 ? PARTS : k === 3 ? [10, 1, (2 << 8) | 3] : k === 2 ? [10, (1 << 16) | (2 << 8) | 3] : [VALUE];
  return fc.tuple(...parts.map(numberIn)).map((ps) => ps.join('.'));
});

/**
 * Leading zeros on a dotted quad (`10.01.2.03`): an address to glibc (octal, the same value for parts
 * under 8: not on the 10), a name to Go.
 */
const zeroPadded = fc.array(fc.nat({ max: 2 }), { minLength: 3, maxLength: 3 })
  .filter((pads) => pads.some((p) => p > 0))
  .map((pads) => [PARTS[0], ...PARTS.slice(1).map((p, i) => `${'0'.repeat(pads[i])}${p}`)].join('.'));

const GO_SPELLING = '10.1.2.3';

describe('admission: IPv4 spellings a Go runtime looks up as a host name (a registry guarded by its address)', () => {
  it('2130706433-style spellings of a guarded address are refused, not judged as the guarded registry\'s clean image', async () => {
    const { gate, deps } = setup();
    gate.tags.set('app:1', dg(1));
    gate.put(verdict('app', dg(1), 'allow'));
    for (const host of [String(VALUE), '10.66051', '10.1.515', '0xa.1.2.3', '012.1.2.3', '10.1.2.03', '0x0a010203']) {
      const r = await admit(deps, `${host}:5000/app:1`);
      expect(r.allowed, host).to.equal(false);
      expect(r.status.message, host).to.match(/invalid-reference/).and.to.include('write 10.1.2.3');
    }
    expect(gate.resolveCalls, 'no tag of the guarded registry is resolved for another host').to.deep.equal([]);
  });

  it('the spelling Go reads (four decimal parts, no leading zeros) is judged as before', async () => {
    const { gate, deps } = setup();
    gate.tags.set('app:1', dg(1));
    gate.put(verdict('app', dg(1), 'allow'));
    expect((await admit(deps, `${GO_SPELLING}:5000/app:1`)).allowed).to.equal(true);
    gate.put(verdict('app', dg(2), 'quarantine'));
    expect((await admit(deps, `${GO_SPELLING}:5000/app@${dg(2)}`)).allowed).to.equal(false);
  });

  it('an unguarded address keeps the unguarded rule (the spelling reaches no guarded registry)', async () => {
    const { deps } = setup();
    expect((await admit(deps, '2130706433:5000/app:1')).allowed).to.equal(true);
  });

  it('property: every inet_aton spelling of the guarded address but Go\'s is refused with the address to write, by tag and by digest', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(inetAtonSpelling, zeroPadded), fc.constantFrom(':5000', ':05000'), fc.constantFrom(':1', `@${dg(1)}`), async (host, port, suffix) => {
        const { gate, deps } = setup();
        gate.tags.set('app:1', dg(1));
        gate.put(verdict('app', dg(1), 'allow'));
        const image = `${host}${port}/app${suffix}`;
        const r = await admit(deps, image);
        if (host === GO_SPELLING) {
          expect(r.allowed, image).to.equal(true);
          expect(ambiguousIpv4Spelling(image)).to.equal(undefined);
        } else {
          expect(r.allowed, image).to.equal(false);
          expect(r.status.message, image).to.match(/invalid-reference/).and.to.include('write 10.1.2.3');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('names that only end in letters, IPv6 literals and Go\'s dotted quads are not this case', () => {
    for (const image of ['registry.example.test/app:1', 'localhost:5000/app', '10.1.2.3:5000/app', '[::ffff:a01:203]:5000/app', '[::1]:5000/app', 'nginx', 'a1.example/app', '255.255.255.255/app', '0.0.0.0:1/app']) {
      expect(ambiguousIpv4Spelling(image), image).to.equal(undefined);
    }
  });
});
