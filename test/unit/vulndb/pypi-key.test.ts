/**
 * The PyPI comparator compares memoized sort keys (src/vulndb/ecosystems/pypi.ts pep440Key, pyCompare)
 * instead of calling @renovatebot/pep440's `compare`, which parses both versions on every call. These
 * properties hold it to the comparator it replaced, written out below: the same answer (or the same
 * error) for any two strings, PEP 440 spellings generated from the grammar (epochs, trailing and leading
 * zeros, every pre/post/dev spelling and separator, local segments) and arbitrary strings.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Pep440 from '@renovatebot/pep440';
import { comparePyPI, legacyKey, pep440Key } from '../../../src/vulndb/ecosystems/pypi.js';
import { compareVersions } from '../../../src/vulndb/index.js';
import { sign, type Cmp } from '../../../src/vulndb/ecosystems/types.js';

const pep440 = createRequire(import.meta.url)('@renovatebot/pep440') as typeof Pep440;

function cmpTuple(a: string[], b: string[]): Cmp {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return sign(a.length - b.length);
}

/** The comparator before the keys: the library's `valid` and `compare` on every call. */
function oldComparePyPI(a: string, b: string): Cmp {
  if (a.trim() === '' || b.trim() === '') throw new Error('empty');
  const va = pep440.valid(a) !== null;
  const vb = pep440.valid(b) !== null;
  if (va && vb) return a === b ? 0 : sign(pep440.compare(a, b));
  if (va !== vb) return va ? 1 : -1;
  return cmpTuple(legacyKey(a), legacyKey(b));
}

const outcome = (f: () => Cmp): string => {
  try {
    return String(f());
  } catch {
    return 'throws';
  }
};

const num = fc.oneof(fc.constantFrom('0', '00', '1', '2', '9', '10', '010', '99999999999999999999'), fc.nat({ max: 30 }).map(String));
const sep = fc.constantFrom('', '.', '-', '_');
const casing = (s: string) => fc.constantFrom(s, s.toUpperCase(), s[0].toUpperCase() + s.slice(1));
const pre = fc.tuple(sep, fc.constantFrom('a', 'b', 'c', 'rc', 'alpha', 'beta', 'pre', 'preview').chain(casing), sep, fc.option(num, { nil: '' })).map((p) => p.join(''));
const post = fc.oneof(
  num.map((n) => `-${n}`),
  fc.tuple(sep, fc.constantFrom('post', 'rev', 'r').chain(casing), sep, fc.option(num, { nil: '' })).map((p) => p.join('')),
);
const dev = fc.tuple(sep, casing('dev'), sep, fc.option(num, { nil: '' })).map((p) => p.join(''));
const localPart = fc.oneof(num, fc.stringMatching(/^[a-zA-Z0-9]{1,4}$/));
const local = fc.tuple(localPart, fc.array(fc.tuple(fc.constantFrom('.', '-', '_'), localPart), { maxLength: 3 })).map(([h, t]) => `+${h}${t.map((x) => x.join('')).join('')}`);
/** PEP 440 versions (and near misses: the separators and letters are combined freely). */
const pep440Version = fc
  .record({
    v: fc.constantFrom('', 'v', 'V'),
    epoch: fc.option(num.map((n) => `${n}!`), { nil: '' }),
    release: fc.array(num, { minLength: 1, maxLength: 5 }).map((r) => r.join('.')),
    pre: fc.option(pre, { nil: '' }),
    post: fc.option(post, { nil: '' }),
    dev: fc.option(dev, { nil: '' }),
    local: fc.option(local, { nil: '' }),
  })
  .map((p) => `${p.v}${p.epoch}${p.release}${p.pre}${p.post}${p.dev}${p.local}`);
/** Pairs that share a prefix often (only a suffix differs), as neighbouring events of a range do. */
const version = fc.oneof({ weight: 6, arbitrary: pep440Version }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }, { weight: 1, arbitrary: fc.constantFrom('1.0', '1.0.0', '1!0', '1.0.post0', '1.0.dev0', '1.0a0', '1.0+0', '1.0+a', '01.0', ' 1.0', '1.0 ') });

describe('vulndb PyPI comparator: memoized PEP 440 keys', () => {
  it('is a PEP 440 version exactly when the library says it is valid', () => {
    fc.assert(fc.property(version, (v) => {
      expect(pep440Key(v) === null, v).to.equal(pep440.valid(v) === null);
    }), { numRuns: 3000 });
  });

  it('orders any two strings as the library-backed comparator did (answer or error)', () => {
    fc.assert(fc.property(version, version, (a, b) => {
      expect(outcome(() => comparePyPI(a, b)), `${a} vs ${b}`).to.equal(outcome(() => oldComparePyPI(a, b)));
    }), { numRuns: 20000 });
  });

  it('orders PEP 440 versions as Python\'s packaging does, numbers past 2^53 included (fast-check, real python3)', () => {
    // The library reads numbers with parseInt: 1.9007199254740993 and 1.9007199254740992 were one
    // version, so an installed 1.9007199254740992 was taken as the fixed 1.9007199254740993.
    const big = fc.oneof(num, fc.bigInt({ min: 2n ** 53n - 3n, max: 2n ** 70n }).map(String), fc.constantFrom('9007199254740992', '9007199254740993', '1' + '0'.repeat(400), '1' + '0'.repeat(399) + '1'));
    const bigVersion = fc
      .record({
        epoch: fc.option(big.map((n) => `${n}!`), { nil: '' }),
        release: fc.array(big, { minLength: 1, maxLength: 3 }).map((r) => r.join('.')),
        pre: fc.option(fc.tuple(fc.constantFrom('a', 'rc', '.beta'), big).map((p) => p.join('')), { nil: '' }),
        post: fc.option(fc.tuple(fc.constantFrom('-', '.post', 'r'), big).map((p) => p.join('')), { nil: '' }),
        dev: fc.option(big.map((n) => `.dev${n}`), { nil: '' }),
        local: fc.option(fc.array(fc.oneof(big, fc.constantFrom('abc', 'x1')), { minLength: 1, maxLength: 3 }).map((l) => `+${l.join('.')}`), { nil: '' }),
      })
      .map((p) => `${p.epoch}${p.release}${p.pre}${p.post}${p.dev}${p.local}`);
    // a pair differs in one number by one as often as not
    const bump = (v: string, k: number) => {
      const nums = [...v.matchAll(/[0-9]+/g)];
      const m = nums[k % nums.length]!;
      return `${v.slice(0, m.index)}${BigInt(m[0]) + 1n}${v.slice(m.index + m[0].length)}`;
    };
    const pairs = fc.sample(fc.tuple(bigVersion, bigVersion, fc.nat(), fc.boolean()).map(([a, b, k, near]) => (near ? [a, bump(a, k)] : [a, b]) as [string, string]), 3000);
    const py = `
import json, sys
try:
    from packaging.version import Version
except ImportError:
    from pip._vendor.packaging.version import Version
print(json.dumps([(lambda x, y: (x > y) - (x < y))(Version(a), Version(b)) for a, b in json.load(sys.stdin)]))
`;
    const want = JSON.parse(execFileSync('python3', ['-c', py], { input: JSON.stringify(pairs), encoding: 'utf8', maxBuffer: 1 << 26 })) as number[];
    pairs.forEach(([a, b], i) => expect(compareVersions('PyPI', a, b), `${a} vs ${b}`).to.equal(want[i]));
  });

  it('orders every version of the PyPI vector file against its neighbours as before', () => {
    const vs = [...new Set(fs.readFileSync(path.resolve('test/fixtures/vectors/pypi.txt'), 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#')).flatMap((l) => [l.split(' ')[0], l.split(' ')[2]]))];
    expect(vs.length).to.be.greaterThan(1000);
    for (let i = 0; i < vs.length; i++) {
      for (const j of [i + 1, i + 7, i + 101]) {
        const b = vs[j % vs.length];
        expect(outcome(() => comparePyPI(vs[i], b)), `${vs[i]} vs ${b}`).to.equal(outcome(() => oldComparePyPI(vs[i], b)));
      }
    }
  });
});
