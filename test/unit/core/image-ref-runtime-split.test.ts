/**
 * Differential property: pushgate's reading of an image reference against the runtimes' reading of
 * its domain (distribution/reference normalize.go `splitDockerDomain`, used by containerd, CRI-O and
 * the kubelet), over references built from the spellings a hostile pod author reaches for: Docker Hub
 * host names in any case, ports (`:443`, `:0443`, empty), trailing dots, `localhost`, IPv6 literals,
 * percent-encoding, Unicode lookalikes (dotless ı, Kelvin sign K, ideographic full stop), punycode.
 *
 * The model below is written from the Go source's rules, not copied: the first `/`-separated
 * component is the domain only if it contains `.` or `:`, is `localhost`, or has an upper-case
 * letter; `index.docker.io` becomes `docker.io`; `library/` is added only for `docker.io`.
 *
 * Whenever pushgate judges a reference as Docker Hub's (any port) and does not refuse the spelling,
 * the runtime must read the same domain and repository; a reference the runtime reads as Docker
 * Hub's must be Docker Hub's to pushgate too.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { parseImageRef, unfoldedDockerHubSpelling } from '../../../src/core/index.js';

/** The runtimes' domain and remote name of a reference (normalize.go splitDockerDomain). */
function runtimeSplit(input: string): { domain: string; remote: string } {
  let name = input;
  const at = name.indexOf('@');
  if (at >= 0) name = name.slice(0, at);
  const lastSlash = name.lastIndexOf('/');
  const lastColon = name.lastIndexOf(':');
  if (lastColon > lastSlash) name = name.slice(0, lastColon);
  const i = name.indexOf('/');
  const first = i < 0 ? '' : name.slice(0, i);
  let domain = 'docker.io';
  let remote = name;
  if (i >= 0 && (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first)) {
    domain = first;
    remote = name.slice(i + 1);
  }
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !remote.includes('/')) remote = `library/${remote}`;
  return { domain, remote };
}

/** Domain spellings: Docker Hub names in any case, with the suffixes and lookalikes a pod author tries. */
const hubName = fc.constantFrom('docker.io', 'index.docker.io', 'registry-1.docker.io', 'docker.io.', 'd\u0131cker.io', 'doc\u212aer.io', 'docker\u3002io', 'docker%2eio', 'xn--dcker-9ua.io', 'localhost', '[::1]', 'docker');
const anyCase = (s: string) => fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }).map((up) => [...s].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));
const port = fc.constantFrom('', '', ':443', ':0443', ':80', ':', ':5000');
const domain = fc.tuple(hubName.chain(anyCase), port).map(([h, p]) => h + p);
const PIECES = ['a', 'library', 'nginx', 'A', '.', '-', '_', '__', '0', '\u212a', '%2e', ' '];
const component = fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 3 }).map((a) => a.join(''));
const suffix = fc.constantFrom('', ':v1', ':V1', `@sha256:${'a'.repeat(64)}`, `:v1@sha256:${'a'.repeat(64)}`);
const reference = fc
  .tuple(fc.option(domain, { nil: undefined }), fc.array(component, { minLength: 1, maxLength: 3 }), suffix)
  .map(([d, path, sfx]) => `${d === undefined ? '' : `${d}/`}${path.join('/')}${sfx}`);

describe('image references: pushgate reads Docker Hub references as the runtimes do, or refuses them', () => {
  it('property: an accepted Docker Hub reference names the same domain and repository to the runtime; a runtime Docker Hub reference is Docker Hub\'s to pushgate', () => {
    fc.assert(
      fc.property(reference, (s) => {
        let ref;
        try {
          ref = parseImageRef(s);
        } catch {
          return; // refused: the runtime never gets it from an admitted pod
        }
        const rt = runtimeSplit(s);
        const hub = ref.registry === 'docker.io' || ref.registry.startsWith('docker.io:');
        if (hub && unfoldedDockerHubSpelling(s, ref) === undefined) {
          expect(rt, s).to.deep.equal({ domain: 'docker.io', remote: ref.repository });
        }
        if (rt.domain === 'docker.io') expect(ref.registry, s).to.equal('docker.io');
      }),
      { numRuns: 20_000 },
    );
  });

  it('the lookalike and malformed Docker Hub domains are refused outright', () => {
    for (const s of ['docker.io./nginx', 'docker.io:/nginx', 'd\u0131cker.io/nginx', 'doc\u212aer.io/nginx', 'docker\u3002io/nginx', 'docker%2eio/nginx', ' docker.io/nginx', 'docker.io/nginx\n', 'docker.io/Library/nginx']) {
      expect(() => parseImageRef(s), JSON.stringify(s)).to.throw(/image reference/);
    }
  });
});
