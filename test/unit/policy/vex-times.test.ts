/**
 * VEX times decide which statement is the most recent, so every process must read a time the same way:
 * only RFC 3339 with an offset (what Go's time.RFC3339 parser, the OpenVEX, CycloneDX and CSAF schemas'
 * `date-time` take). `Date.parse` read a time without a zone in the process's own time zone (two replicas in
 * different zones ordered a zoneless `not_affected` and a zoned `affected` differently) and took date-only
 * and RFC 2822 forms Go refuses; such a time is now an error naming the field.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Finding } from '../../../src/core/finding.js';
import { applyVex, parseVex } from '../../../src/policy/vex.js';
import { finding } from './inputs.js';

const admZip = (): Finding => finding({ id: 'NSWG-NPM-458', aliases: ['CVE-2018-1002204'], package: 'adm-zip', ecosystem: 'npm', installedVersion: '0.4.7', purl: 'pkg:npm/adm-zip@0.4.7' });
const stmt = (status: string, timestamp?: string) => ({
  vulnerability: { name: 'CVE-2018-1002204' }, products: [{ '@id': 'pkg:npm/adm-zip' }], status,
  ...(status === 'not_affected' ? { justification: 'vulnerable_code_not_in_execute_path' } : {}),
  ...(timestamp !== undefined ? { timestamp } : {}),
});
const openVex = (statements: unknown[], timestamp = '2026-01-01T00:00:00Z') => JSON.stringify({ '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://example.test/vex/1', author: 'sec@example.test', timestamp, version: 1, statements });
const cdx = (fields: { metadata?: string; lastUpdated?: string; firstIssued?: string }) => JSON.stringify({
  bomFormat: 'CycloneDX', specVersion: '1.5', version: 1, ...(fields.metadata !== undefined ? { metadata: { timestamp: fields.metadata } } : {}),
  components: [{ 'bom-ref': 'adm', type: 'library', name: 'adm-zip', purl: 'pkg:npm/adm-zip@0.4.7' }],
  vulnerabilities: [{ id: 'CVE-2018-1002204', analysis: { state: 'not_affected', justification: 'code_not_reachable', ...(fields.lastUpdated !== undefined ? { lastUpdated: fields.lastUpdated } : {}), ...(fields.firstIssued !== undefined ? { firstIssued: fields.firstIssued } : {}) }, affects: [{ ref: 'adm' }] }],
});
const csaf = (date: string) => JSON.stringify({
  document: { category: 'csaf_vex', csaf_version: '2.0', title: 't', publisher: { category: 'vendor', name: 'x', namespace: 'https://example.test' }, tracking: { id: '1', status: 'final', version: '1', initial_release_date: '2026-01-01T00:00:00Z', current_release_date: date, revision_history: [{ number: '1', date: '2026-01-01T00:00:00Z', summary: 's' }] } },
  product_tree: { full_product_names: [{ product_id: 'P1', name: 'adm-zip', product_identification_helper: { purl: 'pkg:npm/adm-zip@0.4.7' } }] },
  vulnerabilities: [{ cve: 'CVE-2018-1002204', product_status: { known_not_affected: ['P1'] }, flags: [{ label: 'vulnerable_code_not_in_execute_path', product_ids: ['P1'] }] }],
});

/** Runs `f` with the process in time zone `tz` (Node reads TZ when it changes). */
function inZone<T>(tz: string, f: () => T): T {
  const before = process.env.TZ;
  process.env.TZ = tz;
  try {
    return f();
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
}

// Forms Date.parse takes (in some zone, or as a date) that RFC 3339 with an offset is not.
const zoneless = fc.tuple(fc.integer({ min: 2000, max: 2099 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 28 }), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.constantFrom('T', ' ')).chain(([y, mo, d, h, mi, sep]) => {
  const p = (n: number) => String(n).padStart(2, '0');
  const date = `${y}-${p(mo)}-${p(d)}`;
  const days = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return fc.constantFrom(`${date}${sep}${p(h)}:${p(mi)}:00`, `${date}T${p(h)}:${p(mi)}`, date, `${days[d % 7]}, ${p(d)} ${months[mo - 1]} ${y} ${p(h)}:${p(mi)}:00`, `${date}T${p(h)}:${p(mi)}:00z`, `${date}T${p(h)}:${p(mi)}:00+0100`);
});
const zoned = fc.tuple(fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true }), fc.constantFrom('Z', '+00:00', '-05:00', '+13:45'), fc.constantFrom('', '.5', '.123456789')).map(([d, off, frac]) => {
  const iso = d.toISOString().slice(0, 19);
  return `${iso}${frac}${off}`;
});

describe('VEX times: RFC 3339 with an offset only', () => {
  it('a zoneless time in a VEX document is refused, naming the field, in every format and every time zone (property)', () => {
    fc.assert(fc.property(zoneless, fc.constantFrom('UTC', 'America/New_York', 'Asia/Kolkata'), fc.constantFrom('openvex-doc', 'openvex-stmt', 'cdx-meta', 'cdx-updated', 'cdx-issued', 'csaf'), (t, tz, where) => {
      const text = where === 'openvex-doc' ? openVex([stmt('not_affected')], t)
        : where === 'openvex-stmt' ? openVex([stmt('not_affected', t)])
        : where === 'cdx-meta' ? cdx({ metadata: t })
        : where === 'cdx-updated' ? cdx({ lastUpdated: t })
        : where === 'cdx-issued' ? cdx({ firstIssued: t })
        : csaf(t);
      expect(() => inZone(tz, () => parseVex(text, 'doc.json')), `${where} ${t}`).to.throw(/is not an RFC 3339 time with an offset/);
    }), { numRuns: 300 });
  });

  it('a time with an offset reads the same instant in every time zone, so the most recent statement is the same everywhere (property)', () => {
    fc.assert(fc.property(zoned, zoned, (a, b) => {
      const [na, nb] = [Date.parse(a), Date.parse(b)];
      const doc = openVex([stmt('not_affected', a), stmt('affected', b)]);
      const answers = ['UTC', 'America/New_York', 'Asia/Kolkata'].map((tz) => inZone(tz, () => applyVex([admZip()], parseVex(doc, 'doc.json'), [])[0]!.vex !== undefined));
      expect(new Set(answers).size, `${a} / ${b}`).to.equal(1);
      expect(answers[0], `${a} / ${b}`).to.equal(na > nb);
    }), { numRuns: 200 });
  });

  it('fields out of range are refused as Go refuses them, not rolled over (property)', () => {
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    const bad = fc.oneof(
      fc.tuple(fc.integer({ min: 2001, max: 2099 }).filter((y) => y % 4 !== 0), fc.constantFrom(29, 30, 31)).map(([y, d]) => `${y}-02-${p(d)}T00:00:00Z`),
      fc.tuple(fc.constantFrom(4, 6, 9, 11), fc.constant(31)).map(([mo, d]) => `2026-${p(mo)}-${p(d)}T00:00:00Z`),
      fc.integer({ min: 13, max: 99 }).map((mo) => `2026-${p(mo)}-01T00:00:00Z`),
      fc.constantFrom('2026-00-10T00:00:00Z', '2026-01-00T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T23:60:00Z', '2026-01-01T23:59:60Z', '2026-01-01T00:00:00+24:00', '2026-01-01T00:00:00+01:60'),
    );
    fc.assert(fc.property(bad, (t) => {
      expect(() => parseVex(openVex([stmt('not_affected', t)]), 'doc.json'), t).to.throw(/is not an RFC 3339 time with an offset/);
    }), { numRuns: 200 });
    expect(() => parseVex(openVex([stmt('not_affected', '2024-02-29T23:59:59.999999999-23:59')]), 'doc.json'), 'a leap day, the edges').to.not.throw();
  });

  it('the replica split: a zoneless not_affected against a zoned affected was suppressed in one zone and not in another', () => {
    const doc = openVex([stmt('not_affected', '2026-01-01T02:00:00'), stmt('affected', '2026-01-01T03:00:00Z')]);
    expect(() => inZone('America/New_York', () => parseVex(doc, 'doc.json'))).to.throw(/statements\[0\]\.timestamp "2026-01-01T02:00:00" is not an RFC 3339 time/);
  });
});
