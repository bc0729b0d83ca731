/**
 * RPM version order: `rpmvercmp` (rpm's rpmio/rpmvercmp.c) applied to epoch, version and release
 * in turn (`rpmVersionCompare` / `[epoch:]version[-release]`), with `~` sorting before everything
 * (even the end) and `^` after the end but before anything else. Used for Red Hat, Rocky Linux,
 * AlmaLinux, SUSE, openSUSE, Mageia and openEuler.
 */
import { PushgateError } from '../../core/errors.js';
import { type Cmp, type Comparator, compareDigits, compareStrings } from './types.js';

function isAlnum(c: string): boolean {
  return /[A-Za-z0-9]/.test(c);
}
function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}
function isAlpha(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/** rpm's rpmvercmp over one segment string (version or release). */
export function rpmvercmp(a: string, b: string): Cmp {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && !isAlnum(a[i]) && a[i] !== '~' && a[i] !== '^') i++;
    while (j < b.length && !isAlnum(b[j]) && b[j] !== '~' && b[j] !== '^') j++;
    // tilde: sorts before everything else
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++;
      j++;
      continue;
    }
    // caret: like the end of the string, but sorts after it
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (!(i < a.length && j < b.length)) break;
    const si = i;
    const sj = j;
    const numeric = isDigit(a[i]);
    if (numeric) {
      while (i < a.length && isDigit(a[i])) i++;
      while (j < b.length && isDigit(b[j])) j++;
    } else {
      while (i < a.length && isAlpha(a[i])) i++;
      while (j < b.length && isAlpha(b[j])) j++;
    }
    const sa = a.slice(si, i);
    const sb = b.slice(sj, j);
    // segments of different types: numeric is newer
    if (sb === '') return numeric ? 1 : -1;
    const r = numeric ? compareDigits(sa, sb) : compareStrings(sa, sb);
    if (r) return r;
  }
  if (i >= a.length && j >= b.length) return 0;
  // whichever has characters left wins
  return i < a.length ? 1 : -1;
}

interface Evr {
  epoch: string;
  version: string;
  /** null when the version has no `-release` part. */
  release: string | null;
}

/** Splits `[epoch:]version[-release]` (the release is after the last `-`). */
export function parseEvr(v: string): Evr {
  const s = v.trim();
  if (s === '' || /\s/.test(s)) throw new PushgateError('BAD_ARGUMENT', `invalid RPM version ${JSON.stringify(v)}: empty or contains blanks`);
  let epoch = '0';
  let rest = s;
  const m = /^(\d*):/.exec(s);
  if (m) {
    epoch = m[1] || '0';
    rest = s.slice(m[0].length);
  }
  const dash = rest.lastIndexOf('-');
  return dash >= 0
    ? { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) }
    : { epoch, version: rest, release: null };
}

/** Compares two RPM EVR strings (epoch, then version, then release with rpmvercmp). */
export function compareRpm(a: string, b: string): Cmp {
  const x = parseEvr(a);
  const y = parseEvr(b);
  const e = compareDigits(x.epoch, y.epoch);
  if (e) return e;
  const v = rpmvercmp(x.version, y.version);
  if (v) return v;
  // A version without a release sorts before the same version with any release (`1 < 1-`, `1 < 1-0`),
  // as osv-scalibr's Red Hat order does; OSV fixed versions and installed packages both carry one.
  if (x.release === null || y.release === null) return x.release === y.release ? 0 : x.release === null ? -1 : 1;
  return rpmvercmp(x.release, y.release);
}

/** The rpm comparator. */
export const rpm: Comparator = { name: 'rpm', compare: compareRpm };
