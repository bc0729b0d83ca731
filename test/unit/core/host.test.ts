/**
 * The one host normalizer (src/core/host.ts): a table of spellings asserted both ways, and
 * property tests generating spellings (random case, leading zeros in the port, a trailing dot, the
 * scheme's default port written or not, loopback names) that must reach the registry, and other
 * hosts and ports that must not.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { formatHostPort, isPushgateError, parseHostPort, parseImageRef, RegistryHosts, sameRegistryUrl } from '../../../src/core/index.js';

const REGISTRIES = [
  { name: 'lab', url: 'http://127.0.0.1:5000', aliases: ['registry.internal:5000'] },
  { name: 'corp', url: 'https://Registry.Example.test', aliases: ['registry-mirror.example.test:8443', 'legacy.example.test'] },
  { name: 'plain', url: 'http://plain.example.test' },
  { name: 'v6', url: 'http://[::1]:6000' },
  { name: 'hub', url: 'https://registry-1.docker.io' },
];

describe('core/host: which registry a host[:port] reaches', () => {
  const hosts = new RegistryHosts(REGISTRIES);
  const table: Array<[string, string | undefined]> = [
    ['127.0.0.1:5000', 'lab'],
    ['localhost:5000', 'lab'],
    ['LOCALHOST:5000', 'lab'],
    ['localhost.:5000', 'lab'],
    ['127.0.0.1:05000', 'lab'],
    ['127.1.2.3:5000', 'lab'],
    ['[::1]:5000', 'lab'],
    ['[0:0:0:0:0:0:0:1]:5000', 'lab'],
    ['[::ffff:127.0.0.1]:5000', 'lab'],
    ['registry.internal:5000', 'lab'],
    ['REGISTRY.INTERNAL.:005000', 'lab'],
    ['registry.example.test', 'corp'],
    ['registry.example.test:443', 'corp'],
    ['Registry.Example.Test.:0443', 'corp'],
    ['registry-mirror.example.test:8443', 'corp'],
    ['legacy.example.test', 'corp'],
    ['legacy.example.test:443', 'corp'],
    ['plain.example.test', 'plain'],
    ['plain.example.test:80', 'plain'],
    ['localhost:6000', 'v6'],
    ['docker.io', 'hub'],
    ['index.docker.io', 'hub'],
    ['registry-1.docker.io:443', 'hub'],
    // never: another port, another host, loopback for a registry that is not loopback
    ['127.0.0.1:5001', undefined],
    ['localhost', undefined],
    ['127.0.0.1', undefined],
    ['registry.internal', undefined],
    ['registry.example.test:80', undefined],
    ['registry.example.test:8443', undefined],
    ['registry.example.test.evil.test', undefined],
    ['evilregistry.example.test', undefined],
    ['registry-mirror.example.test', undefined],
    ['plain.example.test:443', undefined],
    ['128.0.0.1:5000', undefined],
    ['10.0.0.1:5000', undefined],
    ['docker.io:5000', undefined],
  ];
  for (const [input, want] of table) {
    it(`${input} → ${want ?? 'no registry'}`, () => {
      expect(hosts.match(input)).to.equal(want);
    });
  }

  it('loopback names are one host only when the configured registry is loopback', () => {
    const remote = new RegistryHosts([{ name: 'r', url: 'http://10.1.2.3:5000' }]);
    for (const h of ['localhost:5000', '127.0.0.1:5000', '[::1]:5000']) expect(remote.match(h), h).to.equal(undefined);
    const named = new RegistryHosts([{ name: 'n', url: 'http://localhost:5000' }]);
    for (const h of ['127.0.0.1:5000', '127.0.0.2:5000', '[::1]:5000', 'localhost:5000']) expect(named.match(h), h).to.equal('n');
  });

  it('refuses what is not a host, and a host that reaches two registries', () => {
    for (const bad of ['', ':5000', 'a:b', 'a:0', 'a:65536', '::1', '[::1', '[xyz]:1', 'a_b.test', '-a.test', 'a..test', 'http://a.test']) {
      expect(() => parseHostPort(bad), bad).to.throw(/host/);
    }
    const twice = new RegistryHosts([{ name: 'a', url: 'http://127.0.0.1:5000' }, { name: 'b', url: 'http://localhost:5000' }]);
    expect(() => twice.match('127.0.0.1:5000')).to.throw(/several configured registries \(a, b\)/);
  });

  it('sameRegistryUrl compares proxy.upstream with registries[].url by the same rules', () => {
    expect(sameRegistryUrl('https://REGISTRY.example.test:443/', 'https://registry.example.test')).to.equal(true);
    expect(sameRegistryUrl('http://127.0.0.1:05000', 'http://127.0.0.1:5000')).to.equal(true);
    expect(sameRegistryUrl('http://127.0.0.1:5000', 'https://127.0.0.1:5000')).to.equal(false);
    expect(sameRegistryUrl('http://127.0.0.1:5000', 'http://127.0.0.1:5001')).to.equal(false);
  });
});

// ---- property tests ---------------------------------------------------------------------------

// A label beginning `xn--` is punycode (an IDNA A-label): random ones are not valid punycode, and the URL
// parser, like the registry's configuration, refuses such a host (a setting error, not a spelling).
const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/).filter((l) => !l.startsWith('xn--'));
// The last label starts with a letter (a top-level domain; an all-numeric one would be an IPv4 address).
const tld = fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/);
const dnsHost = fc
  .tuple(fc.array(label, { minLength: 1, maxLength: 3 }), tld)
  .map(([ls, t]) => [...ls, t].join('.'))
  .filter((h) => !['docker.io', 'index.docker.io', 'registry-1.docker.io'].includes(h) && !h.startsWith('localhost'));
/**
 * Host names of 200 to 253 characters (the longest a DNS name is, and the bound normalizeHost
 * holds), half of them 252 or 253: generated labels repeated, the first ones padded to the length.
 * dnsHost stays under 50, and no other test reached the bound.
 */
const longDnsHost = fc.tuple(fc.array(label, { minLength: 1, maxLength: 4 }), tld, fc.oneof(fc.integer({ min: 200, max: 253 }), fc.constantFrom(252, 253))).map(([ls, t, n]) => {
  const labels: string[] = [];
  for (let len = t.length; len + 1 + ls[labels.length % ls.length]!.length <= n; ) {
    labels.push(ls[labels.length % ls.length]!);
    len += 1 + labels[labels.length - 1]!.length;
  }
  for (let i = 0, deficit = n - [...labels, t].join('.').length; deficit > 0; i++) {
    const add = Math.min(deficit, 63 - labels[i]!.length);
    labels[i] += 'a'.repeat(add);
    deficit -= add;
  }
  return [...labels, t].join('.');
});
const port = fc.integer({ min: 1, max: 65535 });

/** The registry `hostPort` reaches, or `refused` when match() refuses it as no host (BAD_ARGUMENT). */
function matchOrRefused(hosts: RegistryHosts, hostPort: string): string | undefined {
  try {
    return hosts.match(hostPort);
  } catch (e) {
    if (isPushgateError(e, 'BAD_ARGUMENT')) return 'refused';
    throw e;
  }
}

/** Random letter case of each character. */
function recase(s: string, bits: boolean[]): string {
  return [...s].map((c, i) => (bits[i % bits.length] ? c.toUpperCase() : c)).join('');
}

/** A spelling of host:port that reaches the same place. */
const spelling = (host: string, p: number, dflt: number) =>
  fc.record({ bits: fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), zeros: fc.integer({ min: 0, max: 4 }), dot: fc.boolean(), omitDefault: fc.boolean() }).map(({ bits, zeros, dot, omitDefault }) => {
    const h = recase(host, bits) + (dot ? '.' : '');
    if (p === dflt && omitDefault) return h;
    return `${h}:${'0'.repeat(zeros)}${p}`;
  });

describe('core/host: property tests', () => {
  it('every spelling of a configured registry (or alias) reaches it', () => {
    const anyHost = fc.oneof({ weight: 3, arbitrary: dnsHost }, { weight: 1, arbitrary: longDnsHost });
    fc.assert(
      fc.property(anyHost, port, fc.constantFrom('http', 'https'), anyHost, port, (host, p, scheme, alias, ap) => {
        fc.pre(alias !== host);
        const dflt = scheme === 'https' ? 443 : 80;
        const hosts = new RegistryHosts([{ name: 'r', url: `${scheme}://${host}:${p}`, aliases: [`${alias}:${ap}`] }]);
        fc.assert(
          fc.property(spelling(host, p, dflt), spelling(alias, ap, dflt), (s, a) => {
            expect(hosts.match(s), s).to.equal('r');
            expect(hosts.match(a), a).to.equal('r');
          }),
          { numRuns: 10 },
        );
      }),
      { numRuns: 100 },
    );
  });

  it('as an image reference too: every spelling the reference grammar accepts is the guarded registry', () => {
    fc.assert(
      fc.property(dnsHost, port, fc.constantFrom('http', 'https'), fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }), fc.integer({ min: 0, max: 3 }), (host, p, scheme, bits, zeros) => {
        const hosts = new RegistryHosts([{ name: 'r', url: `${scheme}://${host}:${p}` }]);
        const ref = parseImageRef(`${recase(host, bits)}:${'0'.repeat(zeros)}${p}/team/app:v1`);
        expect(hosts.match(ref.registry)).to.equal('r');
      }),
      { numRuns: 300 },
    );
  });

  it('loopback spellings reach a loopback registry on its port, and nothing else does', () => {
    const loopbackSpelling = fc.oneof(
      fc.constant('localhost'),
      fc.constant('LocalHost.'),
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map(([a, b, c]) => `127.${a}.${b}.${c}`),
      fc.constant('[::1]'),
      fc.constant('[0::1]'),
    );
    fc.assert(
      fc.property(loopbackSpelling, loopbackSpelling, port, port, (configured, asked, p, other) => {
        const cfgHost = configured.replace(/\.$/, '');
        const hosts = new RegistryHosts([{ name: 'r', url: `http://${cfgHost}:${p}` }]);
        expect(hosts.match(`${asked}:${p}`)).to.equal('r');
        if (other !== p) expect(hosts.match(`${asked}:${other}`)).to.equal(undefined);
        // a registry that is not loopback is never reached by a loopback name
        expect(new RegistryHosts([{ name: 'x', url: `http://10.0.0.1:${p}` }]).match(`${asked}:${p}`)).to.equal(undefined);
      }),
      { numRuns: 300 },
    );
  });

  it('the unspecified addresses (0.0.0.0, [::], any spelling) reach a loopback registry on its port, as connect(2) sends them to loopback', () => {
    // Linux connects a socket aimed at 0.0.0.0 to 127.0.0.1 and one aimed at :: to ::1, and Go's dialer
    // (containerd, CRI-O, the kubelet) passes them on: `0.0.0.0:5000/app` pulls from the registry on
    // 127.0.0.1:5000 (test/security/unspecified-address.test.ts shows it with skopeo and a real registry).
    const loopbackSpelling = fc.oneof(
      fc.constant('localhost'),
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map(([a, b, c]) => `127.${a}.${b}.${c}`),
      fc.constant('[::1]'),
    );
    const v6Zero = fc.constantFrom('::', '0::', '::0', '0::0', '0:0:0:0:0:0:0:0', '0000::0000', '::ffff:0:0', '::FFFF:0000:0000');
    const unspecified = fc.oneof(
      fc.constantFrom('0.0.0.0', '0', '0x0', '0.0', '0.0.0', '00.0.0.0', '000.0.00.0', '0X00000000'),
      v6Zero.map((b) => `[${b}]`),
    );
    fc.assert(
      fc.property(loopbackSpelling, unspecified, port, port, (configured, asked, p, other) => {
        const hosts = new RegistryHosts([{ name: 'r', url: `http://${configured}:${p}` }]);
        expect(hosts.match(`${asked}:${p}`), asked).to.equal('r');
        expect(parseImageRef(`${asked}:${p}/app:1`).registry, asked).to.be.oneOf(['0.0.0.0:' + p, '[::]:' + p]);
        if (other !== p) expect(hosts.match(`${asked}:${other}`)).to.equal(undefined);
        // Not loopback anywhere else: a registry on another address is not reached through them.
        expect(new RegistryHosts([{ name: 'x', url: `http://10.0.0.1:${p}` }]).match(`${asked}:${p}`)).to.equal(undefined);
      }),
      { numRuns: 300 },
    );
  });

  it('a name under localhost. reaches a loopback registry on its port (RFC 6761; systemd-resolved answers it with loopback)', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
    const loopback = fc.constantFrom('localhost', '127.0.0.1', '127.3.2.1', '[::1]');
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 3 }), fc.boolean(), loopback, port, port, (labels, upper, configured, p, other) => {
        const name = `${labels.join('.')}.localhost`;
        const asked = upper ? name.toUpperCase() : name;
        const hosts = new RegistryHosts([{ name: 'r', url: `http://${configured}:${p}` }]);
        expect(hosts.match(`${asked}:${p}`), asked).to.equal('r');
        if (other !== p) expect(hosts.match(`${asked}:${other}`)).to.equal(undefined);
        // a registry elsewhere is not reached through it, nor is localhost a suffix of a longer label
        expect(new RegistryHosts([{ name: 'x', url: `http://10.0.0.1:${p}` }]).match(`${asked}:${p}`)).to.equal(undefined);
        expect(hosts.match(`${labels.join('.')}.notlocalhost:${p}`)).to.equal(undefined);
        expect(hosts.match(`${labels.join('.')}localhost:${p}`)).to.equal(undefined);
      }),
      { numRuns: 300 },
    );
  });

  it('never maps another host, or the same host on another port, to the registry', () => {
    const anyHost = fc.oneof({ weight: 3, arbitrary: dnsHost }, { weight: 1, arbitrary: longDnsHost });
    fc.assert(
      fc.property(anyHost, port, anyHost, port, fc.constantFrom('http', 'https'), (host, p, otherHost, otherPort, scheme) => {
        const hosts = new RegistryHosts([{ name: 'r', url: `${scheme}://${host}:${p}` }]);
        if (otherHost !== host) {
          expect(hosts.match(`${otherHost}:${p}`), otherHost).to.equal(undefined);
          expect(hosts.match(otherHost), otherHost).to.equal(undefined);
        }
        if (otherPort !== p) expect(hosts.match(`${host}:${otherPort}`)).to.equal(undefined);
        const dflt = scheme === 'https' ? 443 : 80;
        if (p !== dflt) expect(hosts.match(host), 'portless').to.equal(undefined);
        // One letter appended or a label added is another host; past 253 characters, no host (refused).
        for (const other of [`${host}x:${p}`, `a.${host}:${p}`, `${host}.evil.test:${p}`]) {
          expect(matchOrRefused(hosts, other), other).to.equal(other.length - `:${p}`.length > 253 ? 'refused' : undefined);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('core/host: every spelling of an IPv4 address is that address (inet_aton forms, IPv4-mapped IPv6)', () => {
  /** The spellings glibc's inet_aton accepts for a.b.c.d: 1 to 4 parts, each decimal, octal or hex. */
  function spell(octets: number[], parts: 1 | 2 | 3 | 4, radix: Array<'d' | 'o' | 'x'>): string {
    const n = ((octets[0] << 24) >>> 0) + (octets[1] << 16) + (octets[2] << 8) + octets[3];
    const values = parts === 4 ? octets : parts === 3 ? [octets[0], octets[1], (octets[2] << 8) + octets[3]] : parts === 2 ? [octets[0], n & 0xffffff] : [n];
    return values.map((v, i) => (radix[i] === 'x' ? `0x${v.toString(16)}` : radix[i] === 'o' && v > 0 ? `0${v.toString(8)}` : String(v))).join('.');
  }
  it('127.1, 2130706433, 0x7f.1, 0177.0.0.1, 10.5, 167772165, [::ffff:a00:5] name the dotted address', () => {
    for (const [spelled, canonical] of [['127.1:22510', '127.0.0.1:22510'], ['2130706433', '127.0.0.1'], ['0x7f.1', '127.0.0.1'], ['0x7f000001', '127.0.0.1'], ['0177.0.0.1', '127.0.0.1'], ['127.0.1', '127.0.0.1'], ['10.0.0.05:5000', '10.0.0.5:5000'], ['10.5', '10.0.0.5'], ['167772165', '10.0.0.5'], ['[::ffff:a00:5]:5000', '10.0.0.5:5000'], ['[::ffff:0a00:0005]', '10.0.0.5'], ['[::ffff:7f00:1]', '127.0.0.1'], ['127.000.000.001', '127.0.0.1']]) {
      expect(formatHostPort(parseHostPort(spelled)), spelled).to.equal(canonical);
    }
  });
  it('a name ending in a number that is no IPv4 address is refused, not taken as a host name', () => {
    for (const h of ['09.1.1.1', '1.2.3.4.5', '256.1.1.1', 'registry.5']) expect(() => parseHostPort(h), h).to.throw(/not an IPv4 address/);
  });
  it('property: any inet_aton spelling of an address, with a port, maps to the same host and registry', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const radix = fc.constantFrom<'d' | 'o' | 'x'>('d', 'o', 'x');
    fc.assert(
      fc.property(fc.tuple(octet, octet, octet, octet), fc.constantFrom<1 | 2 | 3 | 4>(1, 2, 3, 4), fc.array(radix, { minLength: 4, maxLength: 4 }), fc.integer({ min: 1, max: 65535 }), (o, parts, rx, port) => {
        const dotted = o.join('.');
        const spelled = `${spell(o, parts, rx)}:${port}`;
        expect(formatHostPort(parseHostPort(spelled)), spelled).to.equal(`${dotted}:${port}`);
        const hosts = new RegistryHosts([{ name: 'r', url: `http://${dotted}:${port}` } as never]);
        expect(hosts.match(spelled), spelled).to.equal('r');
      }),
      { numRuns: 500 },
    );
  });
});

describe('core/host: normalized spellings are kept between calls', () => {
  it('every call answers the same normalization in an object of its own; a refused spelling is refused every time', () => {
    const first = parseHostPort('0x7F.1:05000');
    expect(first).to.deep.equal({ host: '127.0.0.1', port: 5000 });
    first.host = 'evil.example.test';
    first.port = 1;
    // A caller changing its answer does not change what the next caller gets.
    expect(parseHostPort('0x7F.1:05000')).to.deep.equal({ host: '127.0.0.1', port: 5000 });
    for (let i = 0; i < 3; i++) expect(() => parseHostPort('999.1.2.3.4:5000')).to.throw(/not an IPv4 address/);
  });

  it('property: answers stay right while more spellings pass than are kept', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 65535 })), { minLength: 1500, maxLength: 1500 }), (pairs) => {
        for (const [o, port] of [...pairs, ...pairs]) {
          expect(parseHostPort(`10.0.0.${o}:${String(port).padStart(6, '0')}`)).to.deep.equal({ host: `10.0.0.${o}`, port });
        }
      }),
      { numRuns: 3 },
    );
  });
});
