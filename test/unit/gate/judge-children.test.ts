/**
 * An index child's judgement is the child as pulled by its own digest (src/gate/judge.ts): the same as
 * judging that manifest alone, whatever the index around it carries (a sibling that is no image, an
 * unreadable sibling, secrets in the index's annotations). The index's own decision still counts all of
 * that and is never milder than any child's. Property over generated platforms and index-level problems.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { decisionRank } from '../../../src/core/index.js';
import { judgeScan } from '../../../src/gate/judge.js';
import { compilePolicy } from '../../../src/policy/index.js';
import type { ImageScan, PlatformScan } from '../../../src/scan/engine.js';
import type { VulnDb } from '../../../src/vulndb/index.js';

const NO_ADVISORIES = { builtAt: '2026-01-01T00:00:00Z', match: () => [], coverage: () => [] } as unknown as VulnDb;
const INDEX = `sha256:${'f'.repeat(64)}`;
const POLICY = compilePolicy(`apiVersion: pushgate.dev/v1
kind: Policy
metadata: { name: children }
spec:
  ruleSets:
    strict:
      onIncomplete: quarantine
      rules:
        - { name: secrets, action: reject, match: { secret: {} } }
        - { name: root, action: warn, match: { image: { runsAsRoot: true } } }
  mappings: []
  default: { ruleSet: strict, mode: enforce }
`, '<children>');

interface Gen {
  secret: boolean;
  root: boolean;
  complete: boolean;
}

function platform(i: number, g: Gen): PlatformScan {
  return {
    platform: `linux/arch${i}`,
    manifestDigest: `sha256:${String(i).repeat(64)}`,
    configDigest: `sha256:${'c'.repeat(63)}${i}`,
    config: { architecture: `arch${i}`, os: 'linux', config: g.root ? {} : { User: '1000' }, rootfs: { type: 'layers', diff_ids: [] } },
    layers: [],
    inventory: {
      packages: [],
      secrets: g.secret ? [{ rule: 'private-key', severity: 'critical', path: '/k.pem', redacted: '-----BEGIN PRIVATE KEY----- (redacted)' }] : [],
      config: [],
      diagnostics: g.complete ? [] : [{ code: 'layer-unreadable', message: 'blob truncated', incomplete: true }],
    },
  } as PlatformScan;
}

describe('gate/judge: an index child is judged as pulled by its own digest', () => {
  it('property: each child equals the manifest judged alone; the index is never milder than a child', () => {
    const gen = fc.record({ secret: fc.boolean(), root: fc.boolean(), complete: fc.boolean() });
    fc.assert(
      fc.property(fc.array(gen, { minLength: 2, maxLength: 4 }), fc.boolean(), fc.boolean(), (gens, siblingNotImage, indexSecret) => {
        const platforms = gens.map((g, i) => platform(i, g));
        const index: ImageScan = {
          target: 'lab/app',
          digest: INDEX,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          platforms,
          diagnostics: siblingNotImage ? [{ code: 'child-not-image', message: 'a child is a Helm chart', incomplete: true }] : [],
          secrets: indexSecret ? [{ rule: 'aws-access-key', severity: 'critical', path: 'annotations', redacted: 'AKIA…' }] : [],
          bytesRead: 0,
        } as ImageScan;
        const j = judgeScan(index, NO_ADVISORIES, POLICY, { registry: 'lab', repository: 'app', tag: 'v1' });
        for (const [i, p] of platforms.entries()) {
          const alone = judgeScan({ target: 'lab/app', digest: p.manifestDigest, mediaType: 'application/vnd.oci.image.manifest.v1+json', platforms: [p], diagnostics: [], bytesRead: 0 }, NO_ADVISORIES, POLICY, { registry: 'lab', repository: 'app' });
          const child = j.children[i]!;
          expect(child.digest).to.equal(p.manifestDigest);
          expect(child.complete, `child ${i} complete`).to.equal(alone.report.complete);
          expect(child.raw.strict!.decision, `child ${i}`).to.equal(alone.raw!.strict!.decision);
          expect(decisionRank(j.raw!.strict!.decision)).to.be.at.least(decisionRank(child.raw.strict!.decision));
        }
        if (siblingNotImage) expect(j.raw!.strict!.decision, 'an incomplete index').to.be.oneOf(['quarantine', 'reject']);
        if (indexSecret) expect(j.raw!.strict!.decision, 'a secret in the index').to.equal('reject');
      }),
      { numRuns: 200 },
    );
  });

  it('property: the report keeps the root digest asked for and names every manifest judged, in platforms order', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 4 }), fc.boolean(), (ids, isIndex) => {
        const platforms = (isIndex ? ids : ids.slice(0, 1)).map((i) => platform(i, { secret: false, root: false, complete: true }));
        const root = isIndex ? INDEX : platforms[0]!.manifestDigest;
        const scan = { target: 'lab/app', digest: root, mediaType: `application/vnd.oci.image.${isIndex ? 'index' : 'manifest'}.v1+json`, platforms, diagnostics: [], bytesRead: 0 } as ImageScan;
        const { report } = judgeScan(scan, NO_ADVISORIES, POLICY, { registry: 'lab', repository: 'app' });
        expect(report.digest).to.equal(root);
        expect(report.platforms).to.deep.equal(platforms.map((p) => p.platform));
        expect(report.manifests).to.deep.equal(platforms.map((p) => ({ platform: p.platform, digest: p.manifestDigest })));
      }),
      { numRuns: 100 },
    );
    // a directory or SBOM scan has no manifest: no `manifests`
    const dir = { target: 'dir:/x', platforms: [{ ...platform(0, { secret: false, root: false, complete: true }), manifestDigest: '' }], diagnostics: [], bytesRead: 0 } as unknown as ImageScan;
    expect(judgeScan(dir, NO_ADVISORIES, POLICY).report).not.to.have.property('manifests');
  });
});
