/**
 * The policy's `excludeBase` in the judge: a base the catalog verified (found by its diffID chain, or an
 * annotation/provenance claim checked against that chain) takes its findings out of the policy's view; a
 * base only the image's own history names does not, because the pusher writes the history and could call
 * every vulnerable layer "base". `pushgate scan` (trustAuthorBase) keeps the developer's own history and
 * `--file`. Property over which layers hold findings and which method found the base.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { BaseImage, Finding } from '../../../src/core/index.js';
import { judgeScan, type PlatformBase } from '../../../src/gate/judge.js';
import { compilePolicy } from '../../../src/policy/index.js';
import type { ImageScan, PlatformScan } from '../../../src/scan/engine.js';
import type { VulnDb } from '../../../src/vulndb/index.js';

const L = (c: string) => `sha256:${c.repeat(64)}`;
const BASE_LAYER = L('1');
const APP_LAYER = L('2');
const POLICY = compilePolicy(`apiVersion: pushgate.dev/v1
kind: Policy
metadata: { name: base-trust }
spec:
  ruleSets:
    strict:
      excludeBase: true
      rules:
        - { name: high, action: reject, match: { vulnerability: { minSeverity: high } } }
  mappings: []
  default: { ruleSet: strict, mode: enforce }
`, '<base-trust>');

function dbWith(findings: Finding[]): VulnDb {
  return { builtAt: '2026-01-01T00:00:00Z', match: () => findings.map((f) => ({ ...f })), coverage: () => [], eolCycles: () => [] } as unknown as VulnDb;
}

function finding(id: string, layer: string): Finding {
  return { id, aliases: [], package: `p-${id}`, ecosystem: 'npm', installedVersion: '1.0.0', fixedVersions: ['2.0.0'], severity: 'high', purl: `pkg:npm/p-${id}@1.0.0`, path: `/app/${id}/package.json`, layer } as unknown as Finding;
}

function scanOf(): { scan: ImageScan; p: PlatformScan } {
  const p = {
    platform: 'linux/amd64',
    manifestDigest: L('a'),
    configDigest: L('c'),
    config: { architecture: 'amd64', os: 'linux', config: { User: '1000' }, rootfs: { type: 'layers', diff_ids: [BASE_LAYER, APP_LAYER] } },
    layers: [{ digest: L('b'), diffID: BASE_LAYER, size: 1, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }, { digest: L('d'), diffID: APP_LAYER, size: 1, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }],
    baseLayers: [BASE_LAYER],
    inventory: { packages: [], secrets: [], config: [], diagnostics: [] },
  } as unknown as PlatformScan;
  return { p, scan: { target: 'lab/app', digest: L('a'), mediaType: 'application/vnd.oci.image.manifest.v1+json', platforms: [p], diagnostics: [], bytesRead: 0 } };
}

describe('gate/judge: excludeBase trusts only a base the catalog verified', () => {
  it('property: chain/annotation/provenance bases drop exactly the base findings; history or no detection drops none in the gate', () => {
    const method = fc.constantFrom<BaseImage['method']>('chain', 'annotation', 'provenance', 'history', 'none');
    fc.assert(fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }), fc.option(method, { nil: undefined }), fc.boolean(), (inBase, m, cli) => {
      const findings = inBase.map((b, i) => finding(`F${i}`, b ? BASE_LAYER : APP_LAYER));
      const { scan, p } = scanOf();
      const bases = m ? new Map<PlatformScan, PlatformBase>([[p, { base: { method: m, tags: [], layers: m === 'none' ? [] : [BASE_LAYER], note: 'test' } as BaseImage }]]) : undefined;
      const j = judgeScan(scan, dbWith(findings), POLICY, { registry: 'lab', repository: 'app' }, { ...(bases ? { bases } : {}), ...(cli ? { trustAuthorBase: true } : {}) });
      const judged = j.report.verdict.reasons.flatMap((r) => r.findings ?? []);
      const verified = (m !== undefined && ['chain', 'annotation', 'provenance'].includes(m)) || cli;
      const expected = findings.filter((_, i) => !(verified && inBase[i])).map((f) => f.id);
      expect(judged, `method ${m ?? '(no detection)'}, cli ${cli}`).to.deep.equal(expected);
    }), { numRuns: 200 });
  });
});
