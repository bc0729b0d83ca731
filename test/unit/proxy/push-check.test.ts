/**
 * The push-rights check of a held manifest PUT (src/proxy/manifest-gate.ts pushCheckPath): whatever
 * the repository name holds (components named `manifests`, `blobs`, `uploads`, separators) and
 * whatever the reference and query, the check's PATCH routes, as Distribution 2.8 routes it, to an
 * upload chunk of the same repository, the route Distribution authorizes as `pull,push`.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { canonicalRequest, distributionRoute } from '../../../src/proxy/route.js';
import { pushCheckPath, PUSH_CHECK_UPLOAD_ID } from '../../../src/proxy/manifest-gate.js';

const component = fc.oneof(
  fc.constantFrom('manifests', 'blobs', 'uploads', 'v2', 'tags', 'referrers', 'a', 'x__y', 'a.b-c'),
  fc.stringMatching(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/).filter((c) => c.length <= 30),
);
const name = fc.array(component, { minLength: 1, maxLength: 6 }).map((c) => c.join('/')).filter((n) => n.length <= 255);
const reference = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,40}$/), fc.stringMatching(/^[a-f0-9]{64}$/).map((h) => `sha256:${h}`));
const query = fc.oneof(fc.constant(''), fc.stringMatching(/^[a-z=&]{0,20}$/).map((q) => `?${q}`));

describe('proxy push-rights check path', () => {
  it('property: routes to an upload chunk of the PUT\'s repository, without the query', () => {
    fc.assert(
      fc.property(name, reference, query, (n, ref, q) => {
        const d = canonicalRequest(`/v2/${n}/manifests/${ref}${q}`);
        fc.pre(d.ok && d.route.kind === 'manifest');
        if (!d.ok) return;
        const p = pushCheckPath(d.target);
        expect(p).to.not.include('?');
        expect(distributionRoute(p), p).to.deep.equal({ kind: 'blob-upload-chunk', name: d.route.name, uuid: PUSH_CHECK_UPLOAD_ID });
      }),
      { numRuns: 500 },
    );
  });
});
