/**
 * src/proxy/route.ts as a table: how Distribution 2.8 routes a target (each row was observed on
 * the real registry, see test/security/proxy-paths.test.ts) and what the proxy does with it.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { canonicalRequest, cleanPath, decodePath, distributionRoute, encodePath } from '../../../src/proxy/route.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('proxy route: Distribution 2.8 routing of a request target', () => {
  const rows: Array<[target: string, route: ReturnType<typeof distributionRoute>]> = [
    ['/v2/', { kind: 'base' }],
    ['/v2', { kind: 'redirect', location: '/v2/' }],
    ['/v2/_catalog?n=10', { kind: 'catalog' }],
    ['/v2/x/app/tags/list', { kind: 'tags-list', name: 'x/app' }],
    ['/v2/x/app/manifests/v1', { kind: 'manifest', name: 'x/app', reference: 'v1' }],
    [`/v2/x/app/manifests/${D}`, { kind: 'manifest', name: 'x/app', reference: D }],
    ['/v2/x/app/%6danifests/v1', { kind: 'manifest', name: 'x/app', reference: 'v1' }],
    ['/%762/x%2Fapp/manifests%2Fv1', { kind: 'manifest', name: 'x/app', reference: 'v1' }],
    ['http://any.test/v2/x/app/manifests/v1', { kind: 'manifest', name: 'x/app', reference: 'v1' }],
    ['/v2/Foo:80/app/manifests/v1', { kind: 'manifest', name: 'Foo:80/app', reference: 'v1' }],
    ['/v2/X/manifests/v1', { kind: 'none' }],
    ['/v2/x/App/manifests/v1', { kind: 'none' }],
    ['/V2/x/app/manifests/v1', { kind: 'none' }],
    ['/v2/a..b/manifests/v1', { kind: 'none' }],
    ['/v2/a---b/manifests/_v', { kind: 'manifest', name: 'a---b', reference: '_v' }],
    ['/v2/x/app/manifests/.v', { kind: 'none' }],
    [`/v2/x/app/manifests/${'a'.repeat(129)}`, { kind: 'none' }],
    ['/v2/x/app/manifests/v1;p=1', { kind: 'none' }],
    ['/v2/x/app/manifests/v1#f', { kind: 'none' }],
    ['/v2/x/app/%256danifests/v1', { kind: 'none' }],
    ['/v2/x/app/manifests/v1/', { kind: 'redirect', location: '/v2/x/app/manifests/v1' }],
    ['/v2//x/app/manifests/v1', { kind: 'redirect', location: '/v2/x/app/manifests/v1' }],
    ['/v2/x/y/../app/manifests/v1', { kind: 'redirect', location: '/v2/x/app/manifests/v1' }],
    ['/v2/x/app/manifests/%2e%2e', { kind: 'redirect', location: '/v2/x/app' }],
    [`/v2/x/app/blobs/${D}`, { kind: 'blob', name: 'x/app', digest: D }],
    ['/v2/x/app/blobs/uploads/', { kind: 'blob-upload', name: 'x/app' }],
    ['/v2/x/app/blobs/uploads', { kind: 'redirect', location: '/v2/x/app/blobs/uploads/' }],
    ['/v2/x/app/blobs/uploads/0f-a=b?_state=s', { kind: 'blob-upload-chunk', name: 'x/app', uuid: '0f-a=b' }],
    [`/v2/x/app/referrers/${D}`, { kind: 'referrers', name: 'x/app', digest: D }],
    ['/v2/x/app/manifests/v%zz', undefined],
  ];
  for (const [target, route] of rows) {
    it(`${target} → ${route ? JSON.stringify(route) : '400 from Go'}`, () => {
      expect(distributionRoute(target)).to.deep.equal(route);
    });
  }
});

describe('proxy route: what the proxy forwards or refuses', () => {
  it('forwards plain paths as they are, with their query', () => {
    for (const t of ['/v2/', '/v2/x/app/manifests/v1', '/v2/x/app/blobs/uploads/u-1?_state=a%2Bb&digest=sha256%3Aab', '/v2/_catalog', '/healthz']) {
      const d = canonicalRequest(t);
      expect(d.ok, t).to.equal(true);
      if (d.ok) expect(d.target).to.equal(t);
    }
  });

  it('refuses, with a reason, every spelling whose decoded form routes elsewhere or that is ambiguous', () => {
    const rows: Array<[string, string]> = [
      ['/v2/x/app/%6danifests/v1', 'encoded-route'],
      ['/v2/x/app/manifests%2Fv1', 'encoded-route'],
      ['/%762/x/app/manifests/v1', 'encoded-route'],
      ['/v2/x%2fapp/manifests/v1', 'encoded-route'],
      [`/v2/x/app/manifests/${D.replace(':', '%3A')}`, 'encoded-route'],
      ['/v2/x/app/%256danifests/v1', 'double-encoding'],
      ['/v2/x/app/manifests/v%zz', 'bad-escape'],
      ['/v2/x/app/manifests/v1#f', 'bad-character'],
      ['/v2/x/app/manifests/v1%00', 'bad-character'],
      ['/v2/x\\app/manifests/v1', 'bad-character'],
      ['/v2/x/app/manifests/v1%20', 'bad-character'],
      ['/v2//x/app/manifests/v1', 'unclean-path'],
      ['/v2/x/./app/manifests/v1', 'unclean-path'],
      ['/v2/x/%2e%2e/x/app/manifests/v1', 'unclean-path'],
      ['/v2/x/app/manifests/v1/', 'unclean-path'],
      ['/v2', 'unclean-path'],
      ['http://reg.test/v2/x/app/manifests/v1', 'request-target'],
      ['*', 'request-target'],
    ];
    for (const [t, reason] of rows) {
      const d = canonicalRequest(t);
      expect(d.ok, t).to.equal(false);
      if (!d.ok) {
        expect(d.reason, t).to.equal(reason);
        expect(d.message, t).to.be.a('string').and.not.equal('');
      }
    }
  });

  it('forwards an encoded path that is no route either way as its canonical spelling', () => {
    const d = canonicalRequest('/v2/%7e');
    expect(d).to.deep.include({ ok: true, target: '/v2/~' });
  });

  it('stays linear on long hostile paths (no regex backtracking blow-up)', () => {
    const t0 = performance.now();
    for (const t of [`/v2/${'a'.repeat(5000)}!/tags/list`, `/v2/${'a-'.repeat(3000)}/blobs/uploads/${'a'.repeat(5000)}:`, `/v2/${'A'.repeat(4000)}-/x/manifests/v`]) {
      distributionRoute(t);
      canonicalRequest(t);
    }
    // A backtracking regex took minutes on these; a linear reader takes milliseconds. The bound leaves room for a loaded machine.
    expect(performance.now() - t0).to.be.lessThan(2000);
  });

  it('property: the forwarded target decodes back to the canonical path, and a forwarded target routes as the request did', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'v', '2', '/', '.', '%', '2', 'f', 'F', 'e', 'm', ':', '-', '_', '~', ' ', '?') }), (tail) => {
        const t = `/v2/${tail}`;
        const d = canonicalRequest(t);
        if (!d.ok) return;
        const path = d.target.split('?')[0]!;
        const decoded = decodePath(t.split('?')[0]!)!;
        expect(decodePath(path)).to.equal(decoded);
        expect(cleanPath(decoded)).to.equal(decoded);
        expect(distributionRoute(d.target)).to.deep.equal(d.route);
        expect(encodePath(decoded)).to.equal(path);
      }),
      { numRuns: 2000 },
    );
  });
});
