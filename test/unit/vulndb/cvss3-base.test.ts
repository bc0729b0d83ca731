/**
 * CVSS 3.0/3.1 vectors of the eight base metrics alone are scored by src/vulndb/severity.ts itself
 * (cvss3Base, from the specification's formulas), every other vector by ae-cvss-calculator. The scores
 * are stored in the index (and so in its content digest): the two must agree on every such vector.
 */
import { createRequire } from 'node:module';
import { expect } from 'chai';
import fc from 'fast-check';
import { cvss3Base, scoreCvss } from '../../../src/vulndb/severity.js';

type Ctor = new (v: string) => { calculateScores(): { base?: number; overall?: number } };
const lib = createRequire(import.meta.url)('ae-cvss-calculator') as Record<string, Ctor>;

/** The score the library gives a CVSS 3.x vector (its `base`, else `overall`, as severity.ts reads it). */
function libScore(vector: string): number | undefined {
  const s = new (vector.startsWith('CVSS:3.1/') ? lib.Cvss3P1 : lib.Cvss3P0)(vector).calculateScores();
  return s.base ?? s.overall;
}

// CVSS v3.1 specification, section 2 (v3.0: the same metrics and values)
const BASE: Array<[string, string[]]> = [
  ['AV', ['N', 'A', 'L', 'P']], ['AC', ['L', 'H']], ['PR', ['N', 'L', 'H']], ['UI', ['N', 'R']], ['S', ['U', 'C']],
  ['C', ['H', 'L', 'N']], ['I', ['H', 'L', 'N']], ['A', ['H', 'L', 'N']],
];

/** Every base-only vector of a version, in the specification's metric order. */
function* allBaseVectors(version: string): Generator<string> {
  const rec = function* (i: number, parts: string[]): Generator<string> {
    if (i === BASE.length) {
      yield `CVSS:${version}/${parts.join('/')}`;
      return;
    }
    for (const v of BASE[i][1]) yield* rec(i + 1, [...parts, `${BASE[i][0]}:${v}`]);
  };
  yield* rec(0, []);
}

describe('vulndb CVSS 3.x base scores', () => {
  it('every base-only CVSS 3.0 and 3.1 vector (2 × 2,592) scores what the library gives it, with its version', () => {
    let n = 0;
    for (const version of ['3.0', '3.1']) {
      for (const vector of allBaseVectors(version)) {
        const own = cvss3Base(vector);
        expect(own, vector).to.deep.equal({ score: libScore(vector), version });
        expect(scoreCvss(vector), vector).to.deep.equal(own);
        n++;
      }
    }
    expect(n).to.equal(2 * 2592);
  });

  it('a vector in any other spelling is left to the library, and scores as the library scores it (property)', () => {
    // temporal and environmental metrics, another metric order, parentheses, lower case, a metric left
    // out or given twice, other versions' prefixes
    const extra = fc.constantFrom('/E:P', '/E:U/RL:O/RC:C', '/CR:H/MAV:L', '/MS:C', '/E:X', '');
    const vector = fc
      .tuple(fc.constantFrom('3.0', '3.1'), fc.tuple(...BASE.map(([, values]) => fc.constantFrom(...values))), extra, fc.nat(7), fc.constantFrom('plain', 'swap', 'paren', 'lower', 'drop', 'twice', 'prefix'))
      .map(([version, values, tail, at, how]) => {
        const parts = BASE.map(([m], i) => `${m}:${values[i]}`);
        if (how === 'swap') [parts[at], parts[(at + 1) % parts.length]] = [parts[(at + 1) % parts.length], parts[at]];
        if (how === 'drop') parts.splice(at, 1);
        if (how === 'twice') parts.push(parts[at]);
        let v = `CVSS:${version}/${parts.join('/')}${tail}`;
        if (how === 'paren') v = `(${v})`;
        if (how === 'lower') v = v.toLowerCase();
        if (how === 'prefix') v = v.replace('CVSS:3.', 'CVSS:3.2/');
        return v;
      });
    fc.assert(
      fc.property(vector, (v) => {
        const got = scoreCvss(v);
        if (cvss3Base(v) !== undefined) {
          expect(got?.score, v).to.equal(libScore(v));
          return;
        }
        let want: number | undefined;
        try {
          want = /^CVSS:3\.[01]\//.test(v) ? libScore(v) : undefined;
        } catch {
          want = undefined;
        }
        expect(got?.score, v).to.equal(typeof want === 'number' && Number.isFinite(want) ? want : undefined);
      }),
      { numRuns: 300 },
    );
  });
});
