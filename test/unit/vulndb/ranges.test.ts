/**
 * One test per clause of the OSV evaluation rules (https://ossf.github.io/osv-schema/#evaluation).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../helpers/lab.js';
import { comparatorFor } from '../../../src/vulndb/ecosystems/index.js';
import { affectedFixed, compileAffected, compileRanges, compileSerialized, deserializeCompiled, evaluateAffected, prepareRange, rangesKey, serializeCompiled, type OsvRange } from '../../../src/vulndb/ranges.js';

const npm = comparatorFor('npm');
const deb = comparatorFor('Debian');

function affected(ranges: OsvRange[], v: string, versions?: string[], cmp = npm): { affected: boolean; fixed: string[] } {
  const r = evaluateAffected({ versions, ranges: ranges.map((x) => prepareRange(x, cmp)) }, v, cmp);
  return { affected: r.affected, fixed: r.fixed };
}
const sem = (...events: OsvRange['events']): OsvRange => ({ type: 'SEMVER', events });

describe('vulndb OSV range evaluation', () => {
  it('introduced "0" … fixed: below fixed is affected, fixed and above are not', () => {
    const r = [sem({ introduced: '0' }, { fixed: '0.4.9' })];
    expect(affected(r, '0.4.7')).to.deep.equal({ affected: true, fixed: ['0.4.9'] });
    expect(affected(r, '0.4.9').affected).to.equal(false);
    expect(affected(r, '1.0.0').affected).to.equal(false);
  });
  it('introduced is inclusive: below it is not affected', () => {
    const r = [sem({ introduced: '4.17.15' }, { fixed: '4.17.19' })];
    expect(affected(r, '4.17.14').affected).to.equal(false);
    expect(affected(r, '4.17.15').affected).to.equal(true);
  });
  it('several introduced/fixed pairs in one range', () => {
    const r = [sem({ introduced: '1.0.0' }, { fixed: '1.2.0' }, { introduced: '2.0.0' }, { fixed: '2.1.0' })];
    expect(affected(r, '1.1.0')).to.deep.equal({ affected: true, fixed: ['1.2.0'] });
    expect(affected(r, '1.5.0').affected).to.equal(false);
    expect(affected(r, '2.0.5')).to.deep.equal({ affected: true, fixed: ['2.1.0'] });
    expect(affected(r, '2.1.0').affected).to.equal(false);
  });
  it('unsorted events are sorted by the ecosystem order first (Debian order, not text order)', () => {
    const r: OsvRange[] = [{ type: 'ECOSYSTEM', events: [{ fixed: '1.10-1' }, { introduced: '1.9-1' }, { introduced: '0' }, { fixed: '1.2-1' }] }];
    expect(affected(r, '1.1-1', undefined, deb)).to.deep.equal({ affected: true, fixed: ['1.2-1'] });
    expect(affected(r, '1.5-1', undefined, deb).affected).to.equal(false);
    expect(affected(r, '1.9-2', undefined, deb)).to.deep.equal({ affected: true, fixed: ['1.10-1'] });
  });
  it('last_affected is inclusive and there is no fix', () => {
    const r = [sem({ introduced: '0' }, { last_affected: '1.3.0' })];
    expect(affected(r, '1.3.0')).to.deep.equal({ affected: true, fixed: [] });
    expect(affected(r, '1.3.1').affected).to.equal(false);
  });
  it('limit: versions at or above every limit are outside the range', () => {
    const r = [sem({ introduced: '0' }, { limit: '2.0.0' })];
    expect(affected(r, '1.9.9').affected).to.equal(true);
    expect(affected(r, '2.0.0').affected).to.equal(false);
    expect(affected([sem({ introduced: '0' }, { limit: '*' })], '9.0.0').affected).to.equal(true);
  });
  it('several ranges: any range that says affected wins', () => {
    const r = [sem({ introduced: '1.0.0' }, { fixed: '1.1.0' }), sem({ introduced: '3.0.0' })];
    expect(affected(r, '3.5.0')).to.deep.equal({ affected: true, fixed: [] });
    expect(affected(r, '2.0.0').affected).to.equal(false);
  });
  it('versions lists match exactly (and by ecosystem equality)', () => {
    expect(affected([], '1.2.3', ['1.2.3']).affected).to.equal(true);
    expect(affected([], '1.2.4', ['1.2.3']).affected).to.equal(false);
    expect(affected([], '1:2.0-1', ['2.0-1'], deb).affected).to.equal(false);
    expect(affected([], '0:2.0-1', ['2.0-1'], deb).affected).to.equal(true);
  });
  it('prereleases are ordered, not excluded (OSV, unlike node-semver ranges)', () => {
    expect(affected([sem({ introduced: '0' }, { fixed: '2.0.0' })], '2.0.0-rc.1').affected).to.equal(true);
  });
  it('a range with a version invalid for the ecosystem cannot be prepared, wherever it sits in a sorted or unsorted list', () => {
    expect(() => prepareRange(sem({ introduced: 'not-a-version' }), npm)).to.throw(/invalid npm version/);
    expect(() => prepareRange(sem({ introduced: '0' }, { fixed: '1.0.0' }, { introduced: '2.0.0' }, { fixed: 'nope' }), npm)).to.throw(/invalid npm version/);
    expect(() => prepareRange(sem({ introduced: '2.0.0' }, { fixed: '1.0.0' }, { introduced: 'x.y' }), npm)).to.throw(/invalid npm version/);
  });
  it('events already in order are kept as they are; equal versions keep the record order; "0" goes first', () => {
    const r = prepareRange(sem({ introduced: '1.0.0' }, { introduced: '0' }, { fixed: '1.0.0' }, { fixed: '2.0.0' }), npm);
    expect(r.events).to.deep.equal([
      { kind: 'introduced', version: '0' }, { kind: 'introduced', version: '1.0.0' }, { kind: 'fixed', version: '1.0.0' }, { kind: 'fixed', version: '2.0.0' },
    ]);
    const u = prepareRange(sem({ fixed: '1.0.0' }, { introduced: '2.0.0' }, { introduced: '1.0.0' }), npm);
    expect(u.events).to.deep.equal([{ kind: 'fixed', version: '1.0.0' }, { kind: 'introduced', version: '1.0.0' }, { kind: 'introduced', version: '2.0.0' }]);
  });
});

describe('vulndb: compileSerialized (the import path) writes what compileAffected + serializeCompiled write', () => {
  const same = (ranges: OsvRange[], versions: string[] | undefined, cmp = npm) => {
    const slow = compileAffected(ranges, versions, cmp);
    const fast = compileSerialized(ranges, versions, cmp);
    expect(fast.json).to.equal(serializeCompiled(slow));
    expect(fast.errors).to.deep.equal(slow.ranges.flatMap((r) => ('error' in r ? [r.error] : [])));
  };
  it('on every affected entry of the fixture records (Debian 12 and npm)', () => {
    const dir = path.join(ROOT, 'test/fixtures/vulndb/osv');
    let n = 0;
    for (const eco of fs.readdirSync(dir)) {
      for (const f of fs.readdirSync(path.join(dir, eco)).filter((x) => x.endsWith('.json'))) {
        const rec = JSON.parse(fs.readFileSync(path.join(dir, eco, f), 'utf8')) as { affected?: Array<{ package?: { ecosystem?: string }; ranges?: OsvRange[]; versions?: string[] }> };
        for (const a of rec.affected ?? []) {
          const ranges = (a.ranges ?? []).filter((r) => r.type === 'ECOSYSTEM' || r.type === 'SEMVER');
          same(ranges, a.versions?.length ? a.versions : undefined, comparatorFor(a.package?.ecosystem ?? 'npm'));
          n++;
        }
      }
    }
    expect(n).to.be.greaterThan(1000);
  });
  it('on unsorted events, ties, limits, "0", versions lists and invalid versions', () => {
    const sem = (...events: OsvRange['events']): OsvRange => ({ type: 'SEMVER', events });
    same([sem({ fixed: '2.0.0' }, { introduced: '0' }, { introduced: '1.5.0' }, { fixed: '1.0.0' }, { introduced: '1.0.0' })], undefined);
    same([sem({ introduced: '1.0.0' }, { limit: '3.0.0' }, { fixed: '2.0.0' }, { limit: '*' })], ['1.0.0', '1.1.0']);
    same([sem({ introduced: '0' }), sem({ introduced: '1.0.0' }, { last_affected: '1.2.0' })], []);
    same([sem({ introduced: 'bad' }, { fixed: '1.0.0' }), sem({ introduced: '2.0.0' }, { fixed: '1.0.0' }, { introduced: 'x.y' }), sem({ introduced: '1.0.0' })], undefined);
    same([{ type: 'ECOSYSTEM', events: [{ fixed: '1.10-1' }, { introduced: '1.9-1' }, { introduced: '0' }, { fixed: '1.2-1' }] }], undefined, deb);
  });
});

describe('vulndb: rangesKey (the import memo of compiled ranges)', () => {
  // versions built from the characters the key itself uses, so an ambiguous spelling would show
  const ver = fc.string({ unit: fc.constantFrom('1', '2', ':', ';', ',', '|', 'i', 'f'), maxLength: 3 });
  const event = fc.oneof(
    fc.record({ introduced: ver }),
    fc.record({ fixed: ver }),
    fc.record({ last_affected: ver }),
    fc.record({ limit: ver }),
    fc.record({ introduced: ver, fixed: ver }),
    fc.constant({}),
  );
  const entry = fc.record({
    ranges: fc.array(fc.record({ type: fc.constant('ECOSYSTEM'), events: fc.array(event, { maxLength: 4 }) }), { maxLength: 3 }),
    versions: fc.option(fc.array(ver, { maxLength: 3 }), { nil: undefined }),
  });
  const apk = comparatorFor('Alpine');
  it('range lists with the same key compile to the same stored text and errors, whatever the versions list', () => {
    // many small entries at once, so that keys do collide (equal entries, and any ambiguous spelling)
    fc.assert(
      fc.property(fc.array(entry, { minLength: 20, maxLength: 60 }), (entries) => {
        const byKey = new Map<string, ReturnType<typeof compileRanges>>();
        for (const e of entries) {
          const k = rangesKey(e.ranges as OsvRange[]);
          if (k === undefined) continue;
          const c = compileRanges(e.ranges as OsvRange[], apk);
          const prev = byKey.get(k);
          if (prev) expect(c, k).to.deep.equal(prev);
          else byKey.set(k, c);
          // the memo's parts put together are the entry's stored text
          const whole = compileSerialized(e.ranges as OsvRange[], e.versions, apk);
          expect(whole.json).to.equal(serializeCompiled(compileAffected(e.ranges as OsvRange[], e.versions, apk)));
          expect(whole.errors).to.deep.equal(c.errors);
        }
      }),
      { numRuns: 500 },
    );
  });
  it('a range list differing in one version, kind or range split gets another key', () => {
    const k = (ranges: OsvRange[]) => rangesKey(ranges);
    const base = k([sem({ introduced: '0' }, { fixed: '1.2' })]);
    expect(k([sem({ introduced: '0' }, { fixed: '1.3' })])).to.not.equal(base);
    expect(k([sem({ introduced: '0' }, { last_affected: '1.2' })])).to.not.equal(base);
    expect(k([sem({ introduced: '0' }), sem({ fixed: '1.2' })])).to.not.equal(base);
    expect(k([sem({ introduced: '0;f3:1.2' })])).to.not.equal(k([sem({ introduced: '0' }, { fixed: '1.2' })]));
    // separators inside versions: a key without length prefixes would spell these pairs alike
    expect(k([sem({ introduced: '0;f' }, { fixed: '1' })])).to.not.equal(k([sem({ introduced: '0' }, { fixed: ';f1' })]));
    expect(k([sem({ introduced: '0|1' })])).to.not.equal(k([sem({ introduced: '0' }), sem()]));
    expect(k([])).to.not.equal(k([sem()]));
    expect(k([sem({ introduced: '0' }, { fixed: '1.2' })])).to.equal(base);
  });
  it('is undefined for an event that is not an object or a version that is not a string (compiled unmemoized)', () => {
    expect(rangesKey([{ type: 'ECOSYSTEM', events: [null as unknown as OsvRange['events'][number]] }])).to.equal(undefined);
    expect(rangesKey([sem({ introduced: 1 as unknown as string })])).to.equal(undefined);
  });
});

describe('vulndb: affectedFixed (the matcher path) answers what evaluateAffected answers', () => {
  // valid and invalid versions of each order, duplicates, "0", "*" limits, empty fixed versions
  const pools = {
    npm: ['0', '1.0.0', '1.0.0-rc.1', '1.2.0', '2.0.0', '2.0.1', '10.0.0', '', 'bad', '*'],
    Debian: ['0', '1.0-1', '1:0.9-1', '1.0-1+deb12u1', '1.0~rc1-1', '2.0-1', '', 'a:b', '*'],
  } as const;
  for (const [eco, pool] of Object.entries(pools)) {
    const cmp = comparatorFor(eco);
    const ver = fc.constantFrom(...pool);
    const event = fc.oneof(
      fc.record({ introduced: ver }),
      fc.record({ fixed: ver }),
      fc.record({ last_affected: ver }),
      fc.record({ limit: ver }),
    );
    const entry = fc.record({
      ranges: fc.array(fc.record({ type: fc.constant('ECOSYSTEM'), events: fc.array(event, { maxLength: 5 }) }), { maxLength: 3 }),
      versions: fc.option(fc.array(ver, { maxLength: 3 }), { nil: undefined }),
    });
    it(`on generated entries, stored and read back as the index holds them (${eco}, property)`, () => {
      fc.assert(
        fc.property(entry, ver, (e, v) => {
          const c = deserializeCompiled(compileSerialized(e.ranges, e.versions?.length ? e.versions : undefined, cmp).json);
          let slow: ReturnType<typeof evaluateAffected>;
          try {
            slow = evaluateAffected(c, v, cmp);
          } catch (err) {
            // an installed version the order rejects (the matcher skips such a package before this)
            expect(() => affectedFixed(c, v, cmp)).to.throw((err as Error).message);
            return;
          }
          expect(affectedFixed(c, v, cmp)).to.deep.equal(slow.affected ? slow.fixed : undefined);
        }),
        { numRuns: 3000 },
      );
    });
  }
});
