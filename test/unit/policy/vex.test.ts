/**
 * OpenVEX statements: which findings a statement suppresses (id or alias, package purl, image digest
 * with or without subcomponents), the latest statement winning, and documents refused with the
 * statement and field that is wrong.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Finding } from '../../../src/core/finding.js';
import { applyVex, parseOpenVex } from '../../../src/policy/vex.js';
import { finding } from './inputs.js';

const IMG = `sha256:${'d'.repeat(64)}`;
const doc = (statements: unknown[]) => JSON.stringify({ '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://example.test/vex/1', author: 'sec@example.test', timestamp: '2026-01-01T00:00:00Z', version: 1, statements });
const admZip = (over: Partial<Finding> = {}) => finding({ id: 'NSWG-NPM-458', aliases: ['CVE-2018-1002204'], package: 'adm-zip', ecosystem: 'npm', installedVersion: '0.4.7', purl: 'pkg:npm/adm-zip@0.4.7', ...over });
const na = { status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' };

describe('VEX (OpenVEX)', () => {
  it('suppresses by alias for the image digest and a subcomponent; keeps the statement on the finding', () => {
    const st = parseOpenVex(doc([{ vulnerability: { name: 'CVE-2018-1002204' }, products: [{ '@id': `pkg:oci/app@${encodeURIComponent(IMG)}`, subcomponents: [{ '@id': 'pkg:npm/adm-zip@0.4.7' }] }], ...na }]), 'vex.json');
    const [f] = applyVex([admZip()], st, [IMG]);
    expect(f.vex).to.deep.equal({ status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path', source: 'vex.json#statements[0]' });
    expect(applyVex([admZip()], st, [`sha256:${'e'.repeat(64)}`])[0].vex, 'another image').to.equal(undefined);
    expect(applyVex([admZip({ purl: 'pkg:npm/other@1.0.0' })], st, [IMG])[0].vex, 'another subcomponent').to.equal(undefined);
    expect(applyVex([admZip({ id: 'GHSA-xxxx', aliases: ['CVE-2099-0001'] })], st, [IMG])[0].vex, 'another vulnerability').to.equal(undefined);
  });

  it('a product purl without version covers every version; with one, only that version; qualifiers are ignored', () => {
    const any = parseOpenVex(doc([{ vulnerability: { name: 'NSWG-NPM-458' }, products: [{ '@id': 'pkg:npm/adm-zip' }], status: 'fixed' }]), 'v');
    expect(applyVex([admZip({ purl: 'pkg:npm/adm-zip@0.4.7?arch=x' })], any, [])[0].vex?.status).to.equal('fixed');
    const pinned = parseOpenVex(doc([{ vulnerability: { name: 'NSWG-NPM-458' }, products: [{ '@id': 'pkg:npm/adm-zip@0.4.8' }], ...na }]), 'v');
    expect(applyVex([admZip()], pinned, [])[0].vex).to.equal(undefined);
  });

  it('the latest statement wins: affected after not_affected suppresses nothing', () => {
    const st = parseOpenVex(doc([
      { vulnerability: { name: 'CVE-2018-1002204' }, products: [{ '@id': 'pkg:npm/adm-zip' }], ...na, timestamp: '2026-01-01T00:00:00Z' },
      { vulnerability: { name: 'CVE-2018-1002204' }, products: [{ '@id': 'pkg:npm/adm-zip' }], status: 'affected', timestamp: '2026-02-01T00:00:00Z' },
    ]), 'v');
    expect(applyVex([admZip()], st, [])[0].vex).to.equal(undefined);
  });

  it('matches ids whatever their case (property)', () => {
    fc.assert(fc.property(fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }), (upper) => {
      const id = [...'cve-2018-1002204'].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('');
      const st = parseOpenVex(doc([{ vulnerability: { name: id }, products: [{ '@id': 'pkg:npm/adm-zip' }], ...na }]), 'v');
      return applyVex([admZip()], st, [])[0].vex?.status === 'not_affected';
    }));
  });

  it('refuses documents it cannot read with the statement and field', () => {
    expect(() => parseOpenVex('{', 'a.json')).to.throw(/a.json: not JSON/);
    expect(() => parseOpenVex('{"statements":[]}', 'a.json')).to.throw(/not an OpenVEX document/);
    expect(() => parseOpenVex(doc([{ vulnerability: { name: 'CVE-1' }, products: [{ '@id': 'pkg:npm/x' }], status: 'not_affected' }]), 'a.json')).to.throw(/statements\[0\]: not_affected needs a justification/);
    expect(() => parseOpenVex(doc([{ vulnerability: { name: 'CVE-1' }, products: [{ '@id': 'pkg:npm/x' }], status: 'maybe' }]), 'a.json')).to.throw(/status "maybe"/);
    expect(() => parseOpenVex(doc([{ vulnerability: { name: 'CVE-1' }, products: [{ '@id': 'https://not-a-purl' }], status: 'fixed' }]), 'a.json')).to.throw(/products\[0\] names neither/);
  });
});
