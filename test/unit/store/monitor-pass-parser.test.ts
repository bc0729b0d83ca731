import { expect } from 'chai';
import fc from 'fast-check';
import { findingKey, type Digest, type Finding } from '../../../src/core/index.js';
import { findingParser, type IndexedFinding, type Store } from '../../../src/store/index.js';
import { changeText } from '../../../src/store/finding-text.js';
import { freshStoreEachTest } from '../../helpers/postgres.js';

/**
 * A monitor pass reads its images' index findings chunk by chunk with one parser for the pass
 * (src/monitor/monitor.ts pass): rows of equal bodies are one object across every read given that
 * parser, each reading as JSON.parse reads it; and change records are written as JSON.stringify writes
 * them, whatever finding texts are kept for shared objects.
 */

const digestOf = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}` as Digest;
function finding(id: string, name: string, path: string, severity = 'high'): Finding {
  return { id, aliases: [`CVE-${id}`], ecosystem: 'npm', package: name, installedVersion: '1.0.0', fixedVersions: ['1.0.1'], severity, path, records: [id] } as Finding;
}
const indexed = (f: Finding): IndexedFinding => ({ key: findingKey(f), pkg: `npm:${f.package}`, finding: f, firstSeen: 1000 });

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`store (${kind}): one finding parser across a pass's reads`, function () {
    this.timeout(60_000);
    const store = freshStoreEachTest(kind, 'pushgate_pass_parser');

    it('rows of equal bodies read by different calls with one parser are one object, equal to the stored finding', async () => {
      const s: Store = store();
      const shared = finding('GHSA-1', 'lodash', '/app/node_modules/lodash/package.json');
      const own = (n: number) => finding(`GHSA-${n + 10}`, 'minimist', `/app${n}/node_modules/minimist/package.json`, 'low');
      const digests = [1, 2, 3, 4].map(digestOf);
      await s.monitor.putIndexes(digests.map((digest, n) => ({ digest, vulndbDigest: 'sha256:db', reportAt: 1, findings: [indexed(shared), indexed(own(n))] })));
      const parse = findingParser();
      const a = await s.monitor.findingsAndSignatures(digests.slice(0, 2), parse);
      const b = await s.monitor.findingsAndSignatures(digests.slice(2), parse);
      const under = await s.monitor.findingsUnder(['npm:lodash'], parse);
      const sharedRead = (m: Map<Digest, IndexedFinding[]>, d: Digest) => m.get(d)!.find((f) => f.finding.package === 'lodash')!.finding;
      const one = sharedRead(a.findings, digests[0]);
      expect(one).to.deep.equal(shared);
      expect(sharedRead(a.findings, digests[1])).to.equal(one);
      expect(sharedRead(b.findings, digests[2])).to.equal(one);
      expect(sharedRead(b.findings, digests[3])).to.equal(one);
      expect(under).to.have.length(4);
      for (const u of under) expect(u.finding).to.equal(one);
      // an image's own finding reads as written
      expect(b.findings.get(digests[3])!.find((f) => f.finding.package === 'minimist')!.finding).to.deep.equal(own(3));
      // without a parser, each call parses its own rows
      const c = await s.monitor.findingsAndSignatures(digests.slice(0, 1));
      expect(sharedRead(c.findings, digests[0])).to.deep.equal(one);
      expect(sharedRead(c.findings, digests[0])).not.to.equal(one);
    });
  });
}

describe('store: a finding parser kept for a pass', () => {
  it('property: every row reads as JSON.parse reads it, however few bodies the parser keeps; equal bodies kept are one object', () => {
    const body = fc.record({ id: fc.constantFrom('A', 'B', 'C', 'D'), path: fc.constantFrom('/a', '/b') }).map((o) => JSON.stringify(o));
    fc.assert(
      fc.property(fc.array(body, { maxLength: 40 }), fc.integer({ min: 1, max: 5 }), (bodies, max) => {
        const parse = findingParser(max);
        for (const b of bodies) {
          const f = parse('k', 'npm:x', 1, b);
          expect(f.finding).to.deep.equal(JSON.parse(b));
          expect(f).to.include({ key: 'k', pkg: 'npm:x', firstSeen: 1 });
        }
        // with room for every body, rows of one body are one object
        const all = findingParser(bodies.length + 1);
        for (const b of bodies) expect(all('k', 'npm:x', 1, b).finding).to.equal(all('k', 'npm:x', 1, b).finding);
      }),
      { numRuns: 300 },
    );
  });
});

describe('store: a finding parser reading rows of many keys', () => {
  it('property: rows of any keys and bodies, interleaved, read as JSON.parse reads them; with room, equal bodies are one object whatever their keys, and a body read again under its key is that object', () => {
    const body = fc.record({ id: fc.constantFrom('A', 'B', 'C'), path: fc.constantFrom('/a', '/b'), n: fc.nat(2) }).map((o) => JSON.stringify(o));
    const row = fc.record({ key: fc.constantFrom('k1', 'k2', 'k3', 'k4'), body });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 60 }), fc.integer({ min: 1, max: 6 }), (rows, max) => {
        const small = findingParser(max);
        const roomy = findingParser(rows.length + 1);
        const byBody = new Map<string, unknown>();
        for (const [n, r] of rows.entries()) {
          // a new string per row, as a driver gives (no object shared with an earlier row's text)
          const text = (' ' + r.body).slice(1);
          const f = small(r.key, 'npm:x', n, text);
          expect(f.finding).to.deep.equal(JSON.parse(r.body));
          expect(f).to.include({ key: r.key, pkg: 'npm:x', firstSeen: n });
          const g = roomy(r.key, 'npm:y', n, text);
          expect(g).to.include({ key: r.key, pkg: 'npm:y', firstSeen: n });
          const first = byBody.get(r.body);
          if (first) expect(g.finding).to.equal(first);
          else {
            expect(g.finding).to.deep.equal(JSON.parse(r.body));
            byBody.set(r.body, g.finding);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('store: change record text', () => {
  const json = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, fc.string({ maxLength: 6 }), fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), tie('value'), { maxKeys: 3 })),
  })).value;
  const obj = fc.dictionary(fc.constantFrom('id', 'package', 'path', 'severity', 'x', '__proto__', 'toJSON'), json, { maxKeys: 5 });
  it('property: changeText(c) is JSON.stringify(c) for any record, findings shared between records or not', () => {
    fc.assert(
      fc.property(
        fc.array(obj, { maxLength: 4 }),
        fc.array(fc.record({ head: fc.dictionary(fc.constantFrom('registry', 'digest', 'run', 'new', 'resolved', 'severityChanged', 'tags'), json, { maxKeys: 5 }), neu: fc.array(fc.nat(3), { maxLength: 4 }), res: fc.option(fc.array(fc.nat(3), { maxLength: 4 }), { nil: undefined }), other: json, tail: json }), { minLength: 1, maxLength: 4 }),
        (pool, records) => {
          for (const r of records) {
            const pick = (ns: number[]) => ns.map((n) => pool[n] ?? n);
            const c = { ...r.head, new: pick(r.neu), resolved: r.res ? pick(r.res) : r.other, severityChanged: r.tail };
            expect(changeText(c)).to.equal(JSON.stringify(c));
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
