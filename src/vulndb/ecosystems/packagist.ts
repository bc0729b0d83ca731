/**
 * Packagist (Composer) version order: PHP's `version_compare` (ext/standard/versioning.c) on the
 * version with Composer's leading `v` removed. The version is canonicalized (`-`, `_`, `+` and other
 * non-alphanumerics become `.`, a `.` is put between digit and non-digit runs), then compared part
 * by part: numbers numerically, words by their special form
 * (unknown < dev < alpha = a < beta = b < RC = rc < number < pl = p).
 */
import { PushgateError } from '../../core/errors.js';
import { type Cmp, type Comparator, compareDigits, sign } from './types.js';

function isDig(c: string): boolean {
  return c >= '0' && c <= '9';
}
/** Characters kept by canonicalization: letters, digits, and `#` (see the file comment). */
function isKept(c: string): boolean {
  return /[A-Za-z0-9#]/.test(c);
}

/**
 * php_canonicalize_version, except that `#` is kept as a component of its own: PHP ranks the special
 * form `#` like a number (between `RC` and `pl`), and keeping it gives `1.2.3.# = 1.2.3` as osv-scalibr's
 * Packagist fixture states, where PHP's canonicalizer would turn `#` into a separator. `#` never
 * occurs in a version Composer accepts (VersionParser::normalize rejects it), so no real version
 * orders differently from PHP.
 */
export function canonicalizePhpVersion(v: string): string {
  if (v === '') return '';
  // Characters in an array and the last one in a variable: reading the last character of a string built
  // with `+=` flattens it each time, quadratic in the version's length (the pusher's text).
  const out: string[] = [v[0]];
  let last = v[0];
  let lp = v[0];
  const put = (c: string): void => {
    out.push(c);
    last = c;
  };
  for (let i = 1; i < v.length; i++) {
    const c = v[i];
    if (c === '-' || c === '_' || c === '+') {
      if (last !== '.') put('.');
    } else if ((lp !== '.' && !isDig(lp) && isDig(c)) || (isDig(lp) && c !== '.' && !isDig(c))) {
      if (last !== '.') put('.');
      put(c);
    } else if (!isKept(c)) {
      if (last !== '.') put('.');
    } else put(c);
    lp = c;
  }
  return out.join('');
}

const FORMS: Array<[string, number]> = [
  ['dev', 0], ['alpha', 1], ['a', 1], ['beta', 2], ['b', 2], ['RC', 3], ['rc', 3], ['#', 4], ['pl', 5], ['p', 5],
];

function formOrder(s: string): number {
  for (const [name, order] of FORMS) if (s.startsWith(name)) return order;
  return -1;
}

function compareForms(a: string, b: string): Cmp {
  return sign(formOrder(a) - formOrder(b));
}

/** PHP version_compare() on two raw strings. */
export function phpVersionCompare(a: string, b: string): Cmp {
  if (a === '' || b === '') return a === b ? 0 : a ? 1 : -1;
  const p = canonicalizePhpVersion(a).split('.');
  const q = canonicalizePhpVersion(b).split('.');
  let i = 0;
  for (; i < p.length && i < q.length; i++) {
    let c: Cmp;
    const x = p[i];
    const y = q[i];
    if (isDig(x[0] ?? '') && isDig(y[0] ?? '')) c = compareDigits(x, y);
    else if (!isDig(x[0] ?? '') && !isDig(y[0] ?? '')) c = compareForms(x, y);
    else c = isDig(x[0] ?? '') ? compareForms('#N#', y) : compareForms(x, '#N#');
    if (c) return c;
  }
  // PHP compares the rest of the longer version with "#N#" by calling itself on it, one part per call;
  // recursing here too took 7 s for a version of 4,000 `.#` parts (each call canonicalized the rest
  // again) and overflowed the stack at 8,000. The same steps as a loop: a number part makes the longer
  // version the greater, a word part is compared as a special form with `#N#` (the rest is already
  // canonical, so PHP's canonicalizing it again changes nothing).
  for (let j = i; j < p.length; j++) {
    if (isDig(p[j][0] ?? '')) return 1;
    const c = compareForms(p[j], '#N#');
    if (c) return c;
  }
  for (let j = i; j < q.length; j++) {
    if (isDig(q[j][0] ?? '')) return -1;
    const c = compareForms('#N#', q[j]);
    if (c) return c;
  }
  return 0;
}

/** Compares two Packagist versions. */
export function comparePackagist(a: string, b: string): Cmp {
  if (a.trim() === '' || b.trim() === '') throw new PushgateError('BAD_ARGUMENT', 'invalid Packagist version "": empty');
  const strip = (v: string): string => v.trim().replace(/^[vV](?=\d)/, '');
  return phpVersionCompare(strip(a), strip(b));
}

/** The Packagist comparator. */
export const packagist: Comparator = { name: 'packagist', compare: comparePackagist };
