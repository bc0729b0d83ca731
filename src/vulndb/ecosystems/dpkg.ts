/**
 * Debian version order, as dpkg implements it (lib/dpkg/version.c `dpkg_version_compare`, `verrevcmp`;
 * deb-version(7)). Used for Debian and Ubuntu.
 *
 * `[epoch:]upstream[-revision]`: epochs compare numerically; upstream and revision compare by
 * alternating non-digit runs (letters sort before non-letters, `~` before everything, even the end)
 * and digit runs (numerically).
 */
import { PushgateError } from '../../core/errors.js';
import { type Cmp, type Comparator, compareDigits, memoParse } from './types.js';

interface DebVersion {
  epoch: string;
  upstream: string;
  revision: string;
}

const VALID_CHARS = /^[A-Za-z0-9.+~:-]+$/;

/** Parses `[epoch:]upstream[-revision]`; throws BAD_ARGUMENT like dpkg's parseversion does for errors. */
export function parseDpkgVersion(v: string): DebVersion {
  const s = v.trim();
  if (s === '' || !VALID_CHARS.test(s)) throw bad(v, 'empty or contains characters dpkg does not allow');
  let epoch = '0';
  let rest = s;
  const colon = s.indexOf(':');
  if (colon >= 0) {
    epoch = s.slice(0, colon);
    if (!/^\d+$/.test(epoch)) throw bad(v, 'epoch is not a number');
    rest = s.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest;
  const revision = dash >= 0 ? rest.slice(dash + 1) : '';
  if (upstream === '') throw bad(v, 'empty upstream version');
  if (!/^\d/.test(upstream)) throw bad(v, 'upstream version does not start with a digit');
  if (dash >= 0 && revision === '') throw bad(v, 'empty revision');
  return { epoch, upstream, revision };
}

function bad(v: string, why: string): PushgateError {
  return new PushgateError('BAD_ARGUMENT', `invalid Debian version ${JSON.stringify(v)}: ${why}`);
}

// dpkg's order(): ~ < end < letters < other characters
function order(c: number): number {
  if (c >= 48 && c <= 57) return 0;
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return c;
  if (c === 126) return -1;
  if (c) return c + 256;
  return 0;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** dpkg's verrevcmp over one part (upstream or revision). */
export function verrevcmp(a: string, b: string): Cmp {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = order(i < a.length ? a.charCodeAt(i) : 0);
      const bc = order(j < b.length ? b.charCodeAt(j) : 0);
      if (ac !== bc) return ac < bc ? -1 : 1;
      i++;
      j++;
    }
    const si = i;
    while (i < a.length && isDigit(a.charCodeAt(i))) i++;
    const sj = j;
    while (j < b.length && isDigit(b.charCodeAt(j))) j++;
    const firstDiff = compareDigits(a.slice(si, i) || '0', b.slice(sj, j) || '0');
    if (firstDiff) return firstDiff as Cmp;
  }
  return 0;
}

const parseCached = memoParse(parseDpkgVersion);

/** Compares two Debian versions (dpkg --compare-versions semantics). */
export function compareDpkg(a: string, b: string): Cmp {
  const va = parseCached(a);
  const vb = parseCached(b);
  return compareDigits(va.epoch, vb.epoch) || verrevcmp(va.upstream, vb.upstream) || verrevcmp(va.revision, vb.revision);
}

/** The dpkg comparator. */
export const dpkg: Comparator = { name: 'dpkg', compare: compareDpkg };
