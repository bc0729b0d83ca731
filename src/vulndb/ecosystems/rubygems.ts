/**
 * RubyGems version order (`Gem::Version#<=>`, rubygems lib/rubygems/version.rb): `-` means `.pre.`;
 * segments are digit runs (numbers) and letter runs (strings, which make a prerelease); trailing zero
 * segments before the first string and at the end are dropped; a string sorts before a number.
 */
import { PushgateError } from '../../core/errors.js';
import { type Cmp, type Comparator, compareDigits, compareStrings } from './types.js';

// Gem::Version::ANCHORED_VERSION_PATTERN, also taking letters right after the first digits (`1beta`), as `Gem::Version.new` does in the test suite.
// The first segment is one digit and then any letters or digits: written `[0-9]+[0-9a-zA-Z]*` (the same
// strings), a digit run could be split between the two in every way, and a version of 16,000 digits and
// a `!` took a second to refuse, a MiB of them (a gemspec's version) an hour on the thread that judges.
// The trailing white space belongs to the version part, so that an all-blank version is not split between
// the leading and the trailing `\s*` in every way either (16,000 spaces and a `!`: 0.4 s).
const PATTERN = /^\s*(?:[0-9][0-9a-zA-Z]*(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?\s*)?$/;

type Seg = string; // digits or letters

function isNum(s: Seg): boolean {
  return s.charCodeAt(0) >= 48 && s.charCodeAt(0) <= 57;
}

function dropTrailingZeros(segs: Seg[]): Seg[] {
  let n = segs.length;
  while (n > 0 && isNum(segs[n - 1]) && /^0+$/.test(segs[n - 1])) n--;
  return segs.slice(0, n);
}

/** Gem::Version#canonical_segments. Throws BAD_ARGUMENT when `v` is not a valid gem version. */
export function gemSegments(v: string): Seg[] {
  if (!PATTERN.test(v)) throw new PushgateError('BAD_ARGUMENT', `invalid RubyGems version ${JSON.stringify(v)}`);
  const s = v.trim() === '' ? '0' : v.trim().replace(/-/g, '.pre.');
  const segs = s.match(/[0-9]+|[a-z]+/gi) ?? [];
  const firstStr = segs.findIndex((x) => !isNum(x));
  const numeric = firstStr < 0 ? segs : segs.slice(0, firstStr);
  const strings = firstStr < 0 ? [] : segs.slice(firstStr);
  return [...dropTrailingZeros(numeric), ...dropTrailingZeros(strings)];
}

/** Compares two gem versions. */
export function compareGem(a: string, b: string): Cmp {
  const l = gemSegments(a);
  const r = gemSegments(b);
  for (let i = 0; i < Math.max(l.length, r.length); i++) {
    const x = l[i] ?? '0';
    const y = r[i] ?? '0';
    if (x === y) continue;
    const xn = isNum(x);
    const yn = isNum(y);
    if (!xn && yn) return -1;
    if (xn && !yn) return 1;
    const c = xn ? compareDigits(x, y) : compareStrings(x, y);
    if (c) return c;
  }
  return 0;
}

/** The RubyGems comparator. */
export const rubygems: Comparator = { name: 'rubygems', compare: compareGem };
