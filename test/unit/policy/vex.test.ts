/**
 * VEX statements (OpenVEX, CycloneDX VEX, CSAF VEX): which findings a statement suppresses (id or alias, package purl, image digest
 * with or without subcomponents), the latest statement winning, and documents refused with the
 * statement and field that is wrong.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Finding } from '../../../src/core/finding.js';
import fs from 'node:fs';
import path from 'node:path';
import { applyVex, parseOpenVex, parseVex, vexAuthor } from '../../../src/policy/vex.js';
import { ROOT } from '../../helpers/lab.js';
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
    expect(() => parseOpenVex('{"statements":[]}', 'a.json')).to.throw(/not a VEX document/);
    expect(() => parseOpenVex(doc([{ vulnerability: { name: 'CVE-1' }, products: [{ '@id': 'pkg:npm/x' }], status: 'not_affected' }]), 'a.json')).to.throw(/statements\[0\]: not_affected needs a justification/);
    expect(() => parseOpenVex(doc([{ vulnerability: { name: 'CVE-1' }, products: [{ '@id': 'pkg:npm/x' }], status: 'maybe' }]), 'a.json')).to.throw(/status "maybe"/);
    expect(() => parseOpenVex(doc([{ vulnerability: { name: 'CVE-1' }, products: [{ '@id': 'https://not-a-purl' }], status: 'fixed' }]), 'a.json')).to.throw(/products\[0\] names neither/);
  });
});

describe('VEX (CycloneDX)', () => {
  const jackson = (over: Partial<Finding> = {}) => finding({ id: 'GHSA-288c-cq4h-88gq', aliases: ['CVE-2020-25649'], package: 'com.fasterxml.jackson.core:jackson-databind', ecosystem: 'Maven', installedVersion: '2.10.0', purl: 'pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0', ...over });

  it("reads the CycloneDX project's VEX example: not_affected through a BOM-Link to a purl suppresses that version only", () => {
    const st = parseVex(fs.readFileSync(path.join(ROOT, 'test/fixtures/vex/cyclonedx-vex-excerpt.json'), 'utf8'), 'cdx.json');
    const [f] = applyVex([jackson()], st, []);
    expect(f.vex).to.deep.equal({ status: 'not_affected', justification: 'code_not_reachable', impactStatement: 'Automated dataflow analysis and manual code review indicates that the vulnerable code is not reachable, either directly or indirectly.', source: 'cdx.json#vulnerabilities[0]' });
    expect(applyVex([jackson({ purl: 'pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.12.0', installedVersion: '2.12.0' })], st, [])[0].vex).to.equal(undefined);
  });

  it('maps resolved to fixed and exploitable to affected; components by bom-ref; a product without a purl does not apply here; a bad state is refused', () => {
    const bom = (state: string, ref = 'comp-1') => JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', version: 1, components: [{ 'bom-ref': 'comp-1', type: 'library', name: 'jackson-databind', purl: 'pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0' }, { 'bom-ref': 'app', type: 'application', name: 'app' }], vulnerabilities: [{ id: 'CVE-2020-25649', analysis: { state }, affects: [{ ref }] }] });
    expect(applyVex([jackson()], parseVex(bom('resolved'), 'b'), [])[0].vex?.status).to.equal('fixed');
    expect(applyVex([jackson()], parseVex(bom('exploitable'), 'b'), [])[0].vex).to.equal(undefined);
    expect(parseVex(bom('not_affected', 'app'), 'b')).to.deep.equal([]);
    expect(() => parseVex(bom('maybe'), 'b.json')).to.throw(/b.json#vulnerabilities\[0\]: analysis.state "maybe"/);
  });
});

describe('VEX (CSAF 2.0 VEX profile)', () => {
  const csaf = (status: Record<string, string[]>) => JSON.stringify({
    document: { category: 'csaf_vex', csaf_version: '2.0', title: 't', publisher: { category: 'vendor', name: 'Lab', namespace: 'https://lab.example' }, tracking: { id: 'LAB-1', current_release_date: '2026-01-01T00:00:00Z', initial_release_date: '2026-01-01T00:00:00Z', revision_history: [], status: 'final', version: '1' } },
    product_tree: {
      branches: [{ category: 'vendor', name: 'Lab', branches: [
        { category: 'product_version', name: 'app', product: { product_id: 'IMG', name: 'app image', product_identification_helper: { purl: `pkg:oci/app@${encodeURIComponent(IMG)}` } } },
        { category: 'product_version', name: 'adm-zip', product: { product_id: 'ADMZIP', name: 'adm-zip 0.4.7', product_identification_helper: { purl: 'pkg:npm/adm-zip@0.4.7' } } },
      ] }],
      relationships: [{ category: 'default_component_of', product_reference: 'ADMZIP', relates_to_product_reference: 'IMG', full_product_name: { product_id: 'IMG:ADMZIP', name: 'adm-zip in app' } }],
    },
    vulnerabilities: [{ cve: 'CVE-2018-1002204', product_status: status, flags: [{ label: 'vulnerable_code_not_in_execute_path', product_ids: ['IMG:ADMZIP'] }], threats: [{ category: 'impact', details: 'extraction is never used', product_ids: ['IMG:ADMZIP'] }] }],
  });

  it('known_not_affected of a component in the image suppresses it in that image only, with flag and impact', () => {
    const st = parseVex(csaf({ known_not_affected: ['IMG:ADMZIP'] }), 'csaf.json');
    expect(applyVex([admZip()], st, [IMG])[0].vex).to.deep.equal({ status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path', impactStatement: 'extraction is never used', source: 'csaf.json#vulnerabilities[0] (IMG:ADMZIP)' });
    expect(applyVex([admZip()], st, [`sha256:${'e'.repeat(64)}`])[0].vex).to.equal(undefined);
    expect(applyVex([admZip()], parseVex(csaf({ known_affected: ['IMG:ADMZIP'] }), 'c'), [IMG])[0].vex).to.equal(undefined);
    expect(applyVex([admZip()], parseVex(csaf({ fixed: ['ADMZIP'] }), 'c'), [])[0].vex?.status).to.equal('fixed');
  });

  it('refuses a CSAF document that is not of category csaf_vex', () => {
    expect(() => parseVex(JSON.stringify({ document: { category: 'csaf_security_advisory', csaf_version: '2.0' } }), 'adv.json')).to.throw(/category "csaf_security_advisory", not csaf_vex/);
  });
});

describe('VEX: the author a document names (for the admin API list)', () => {
  it('OpenVEX author, CycloneDX metadata authors (else manufacturer/supplier), CSAF publisher; "" otherwise', () => {
    expect(vexAuthor(JSON.stringify({ '@context': 'https://openvex.dev/ns/v0.2.0', author: 'sec@example.test' }))).to.equal('sec@example.test');
    expect(vexAuthor(JSON.stringify({ bomFormat: 'CycloneDX', metadata: { authors: [{ name: 'A' }, { name: 'B' }] } }))).to.equal('A, B');
    expect(vexAuthor(JSON.stringify({ bomFormat: 'CycloneDX', metadata: { supplier: { name: 'Vendor' } } }))).to.equal('Vendor');
    expect(vexAuthor(JSON.stringify({ document: { category: 'csaf_vex', publisher: { name: 'Example PSIRT', category: 'vendor' } } }))).to.equal('Example PSIRT');
    expect(vexAuthor(JSON.stringify({ statements: [] }))).to.equal('');
    expect(vexAuthor('{"author"')).to.equal('');
  });
});

describe('VEX: nesting as deep as a 4 MB body allows', () => {
  // The admin API takes bodies up to 4 MB; product trees and component lists nest at the author's will.
  const DEPTH = 200_000;
  const nest = (open: string, close: string, inner: string) => `${open.repeat(DEPTH)}${inner}${close.repeat(DEPTH)}`;

  it('CSAF branches and CycloneDX components nested 200k deep are read (the innermost product counts), not a stack overflow', () => {
    const leaf = '{"product":{"product_id":"ADMZIP","name":"adm-zip","product_identification_helper":{"purl":"pkg:npm/adm-zip@0.4.7"}}}';
    const csaf = `{"document":{"category":"csaf_vex","csaf_version":"2.0"},"product_tree":{"branches":[${nest('{"branches":[', ']}', leaf)}]},"vulnerabilities":[{"cve":"CVE-2018-1002204","product_status":{"fixed":["ADMZIP"]}}]}`;
    expect(csaf.length).to.be.below(4 * 1024 * 1024);
    expect(applyVex([admZip()], parseVex(csaf, 'deep-csaf.json'), [])[0].vex?.status).to.equal('fixed');
    const comp = '{"bom-ref":"z","purl":"pkg:npm/adm-zip@0.4.7"}';
    const cdx = `{"bomFormat":"CycloneDX","specVersion":"1.6","components":[${nest('{"components":[', ']}', comp)}],"vulnerabilities":[{"id":"CVE-2018-1002204","analysis":{"state":"resolved"},"affects":[{"ref":"z"}]}]}`;
    expect(cdx.length).to.be.below(4 * 1024 * 1024);
    expect(applyVex([admZip()], parseVex(cdx, 'deep-cdx.json'), [])[0].vex?.status).to.equal('fixed');
  });
});
