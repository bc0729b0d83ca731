/**
 * A Composer version is the pusher's text (vendor/composer/installed.json), compared with advisories on
 * the thread that judges. PHP's version_compare compares the rest of the longer version by calling itself
 * once per part; restated as recursion, a version of 4,000 `.#` parts compared with `1` took 7 s (each
 * call canonicalized the rest again) and 8,000 overflowed the stack. The loop gives the recursion's
 * answers (property against the recursive reading) in linear time.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { canonicalizePhpVersion, comparePackagist, phpVersionCompare } from '../../../src/vulndb/ecosystems/packagist.js';

const FORMS = ['dev', 'alpha', 'a', 'beta', 'b', 'RC', 'rc', '#', 'pl', 'p'];
function formOrder(s: string): number {
  const order = [0, 1, 1, 2, 2, 3, 3, 4, 5, 5];
  const i = FORMS.findIndex((f) => s.startsWith(f));
  return i < 0 ? -1 : order[i]!;
}
const isDig = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** The recursive reading (php_version_compare as PHP writes it), the reference for short versions. */
function recursive(a: string, b: string): number {
  if (a === '' || b === '') return a === b ? 0 : a ? 1 : -1;
  const p = canonicalizePhpVersion(a).split('.');
  const q = canonicalizePhpVersion(b).split('.');
  let i = 0;
  for (; i < p.length && i < q.length; i++) {
    const x = p[i]!;
    const y = q[i]!;
    let c: number;
    if (isDig(x[0]) && isDig(y[0])) c = Math.sign(Number(BigInt(x) - BigInt(y)));
    else if (!isDig(x[0]) && !isDig(y[0])) c = Math.sign(formOrder(x) - formOrder(y));
    else c = isDig(x[0]) ? Math.sign(formOrder('#N#') - formOrder(y)) : Math.sign(formOrder(x) - formOrder('#N#'));
    if (c) return c;
  }
  if (i < p.length) return isDig(p[i]![0]) ? 1 : recursive(p.slice(i).join('.'), '#N#');
  if (i < q.length) return isDig(q[i]![0]) ? -1 : recursive('#N#', q.slice(i).join('.'));
  return 0;
}

describe('packagist versions: comparison in linear time', () => {
  it('gives the recursive reading\'s answer on generated versions (fast-check)', () => {
    const part = fc.constantFrom('0', '1', '10', '2', 'dev', 'alpha', 'a', 'b', 'RC', 'rc', '#', 'pl', 'p', 'x', '');
    const sep = fc.constantFrom('.', '-', '_', '+', '');
    const version = fc.array(fc.tuple(part, sep), { maxLength: 8 }).map((ps) => ps.map(([p, s]) => p + s).join(''));
    fc.assert(fc.property(version, version, (a, b) => {
      expect(phpVersionCompare(a, b), `${a} ${b}`).to.equal(recursive(a, b));
    }), { numRuns: 5000 });
  });

  it('compares versions of 200,000 word parts with short ones quickly and without overflowing the stack', () => {
    for (const v of ['1' + '.#'.repeat(200_000), '1' + '.#-'.repeat(200_000) + '1', '1.0' + '.#'.repeat(200_000) + '.x']) {
      const t0 = performance.now();
      expect(comparePackagist(v, '1')).to.be.oneOf([-1, 0, 1]);
      expect(comparePackagist('1', v)).to.be.oneOf([-1, 0, 1]);
      expect(performance.now() - t0).to.be.below(2_000);
    }
  });
});
