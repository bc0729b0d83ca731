/**
 * VEX statements of the same time: "the most recent statement wins" cannot choose between them, and
 * their order is nobody's word (the order of files, of a referrers listing the pusher writes, of
 * statements in a document). Among equally recent statements covering a finding, one that suppresses
 * nothing (`affected`, `under_investigation`) wins whatever the order; the finding is suppressed only
 * when every most recent statement suppresses it.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Finding } from '../../../src/core/finding.js';
import { applyVex, parseVex, scopeToImage, type VexStatement } from '../../../src/policy/vex.js';
import { finding } from './inputs.js';

const IMG = `sha256:${'d'.repeat(64)}`;
const admZip = (): Finding => finding({ id: 'NSWG-NPM-458', aliases: ['CVE-2018-1002204'], package: 'adm-zip', ecosystem: 'npm', installedVersion: '0.4.7', purl: 'pkg:npm/adm-zip@0.4.7' });
const suppressed = (sts: readonly VexStatement[], digests = [IMG]) => applyVex([admZip()], sts, digests)[0]!.vex !== undefined;

/** A CycloneDX VEX document about adm-zip with no date anywhere (time 0), as many tools write them. */
const undatedCdx = (state: string) => JSON.stringify({
  bomFormat: 'CycloneDX', specVersion: '1.5', version: 1,
  components: [{ 'bom-ref': 'adm', type: 'library', name: 'adm-zip', purl: 'pkg:npm/adm-zip@0.4.7' }],
  vulnerabilities: [{ id: 'CVE-2018-1002204', analysis: { state, ...(state === 'not_affected' ? { justification: 'code_not_reachable' } : {}) }, affects: [{ ref: 'adm' }] }],
});

const openVex = (statements: unknown[], timestamp = '2026-01-01T00:00:00Z') => JSON.stringify({ '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://example.test/vex/1', author: 'sec@example.test', timestamp, version: 1, statements });

describe('VEX: statements of the same time', () => {
  it('two undated signed CycloneDX documents (a referrers listing orders them): exploitable wins in either order', () => {
    const notAffected = scopeToImage(parseVex(undatedCdx('not_affected'), 'referrer A'), IMG);
    const exploitable = scopeToImage(parseVex(undatedCdx('exploitable'), 'referrer B'), IMG);
    expect(suppressed([...exploitable, ...notAffected]), 'not_affected listed last').to.equal(false);
    expect(suppressed([...notAffected, ...exploitable]), 'exploitable listed last').to.equal(false);
    expect(suppressed([...notAffected, ...notAffected]), 'only suppressing statements').to.equal(true);
  });

  it('one OpenVEX document whose statements inherit its timestamp: affected for the image and not_affected for the package, either order', () => {
    const forImage = { vulnerability: { name: 'CVE-2018-1002204' }, products: [{ '@id': `pkg:oci/app@${encodeURIComponent(IMG)}` }], status: 'affected', action_statement: 'upgrade' };
    const forPackage = { vulnerability: { name: 'CVE-2018-1002204' }, products: [{ '@id': 'pkg:npm/adm-zip' }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' };
    expect(suppressed(parseVex(openVex([forImage, forPackage]), 'v'))).to.equal(false);
    expect(suppressed(parseVex(openVex([forPackage, forImage]), 'v'))).to.equal(false);
    // under_investigation too suppresses nothing
    expect(suppressed(parseVex(openVex([forPackage, { ...forImage, status: 'under_investigation' }]), 'v'))).to.equal(false);
  });

  it('a later statement still wins over an earlier one, whichever status', () => {
    const at = (status: string, ts: string) => ({ vulnerability: { name: 'CVE-2018-1002204' }, products: [{ '@id': 'pkg:npm/adm-zip' }], status, timestamp: ts, ...(status === 'not_affected' ? { justification: 'component_not_present' } : {}) });
    expect(suppressed(parseVex(openVex([at('affected', '2026-01-01T00:00:00Z'), at('not_affected', '2026-01-02T00:00:00Z')]), 'v'))).to.equal(true);
    expect(suppressed(parseVex(openVex([at('not_affected', '2026-01-02T00:00:00Z'), at('affected', '2026-01-01T00:00:00Z')]), 'v'))).to.equal(true);
    expect(suppressed(parseVex(openVex([at('not_affected', '2026-01-01T00:00:00Z'), at('affected', '2026-01-02T00:00:00Z')]), 'v'))).to.equal(false);
  });

  it('the outcome does not depend on the order of the statements (property)', () => {
    const status = fc.constantFrom<VexStatement['status']>('not_affected', 'fixed', 'affected', 'under_investigation');
    const statement = fc.record({ status, time: fc.constantFrom(0, 1_000, 2_000), product: fc.constantFrom('image', 'package', 'other') });
    fc.assert(fc.property(fc.array(statement, { minLength: 1, maxLength: 8 }), fc.func(fc.integer()), (specs, key) => {
      const sts: VexStatement[] = specs.map((s, i) => ({
        ids: ['CVE-2018-1002204'],
        products: [s.product === 'package' ? { digests: [], purl: { type: 'npm', namespace: '', name: 'adm-zip' }, subcomponents: [] } : { digests: [s.product === 'image' ? IMG : `sha256:${'e'.repeat(64)}`], subcomponents: [] }],
        status: s.status, time: s.time, source: `s${i}`,
        ...(s.status === 'not_affected' ? { justification: 'component_not_present' } : {}),
      }));
      const covering = specs.filter((s) => s.product !== 'other');
      const newest = Math.max(...covering.map((s) => s.time));
      const expected = covering.length > 0 && covering.filter((s) => s.time === newest).every((s) => s.status === 'not_affected' || s.status === 'fixed');
      const shuffled = sts.map((s, i) => ({ s, k: key(i) })).sort((a, b) => a.k - b.k).map((x) => x.s);
      expect(suppressed(sts), 'given order').to.equal(expected);
      expect(suppressed(shuffled), 'shuffled').to.equal(expected);
      expect(suppressed([...sts].reverse()), 'reversed').to.equal(expected);
    }), { numRuns: 500 });
  });
});
