/**
 * Alpine version order as apk-tools 2.x implements it (src/version.c, `apk_version_compare_blob`):
 * Gentoo-style `{digit}{.digit}...{letter}{_suf{#}}...{-r#}`. Like `apk version -t`, any two strings
 * are ordered: an invalid token simply ends the comparison, so this comparator never throws except
 * for an empty version. Numbers are C `int`s in apk-tools; they wrap the same way here.
 */
import { PushgateError } from '../../core/errors.js';
import type { Cmp, Comparator } from './types.js';

const INVALID = -1;
const DIGIT_OR_ZERO = 0;
const DIGIT = 1;
const LETTER = 2;
const SUFFIX = 3;
const SUFFIX_NO = 4;
const REVISION_NO = 5;
const END = 6;

const PRE = ['alpha', 'beta', 'pre', 'rc'];
const POST = ['cvs', 'svn', 'git', 'hg', 'p'];

class Cursor {
  pos = 0;
  type = DIGIT;
  constructor(readonly s: string) {}
  get len(): number {
    return this.s.length - this.pos;
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isLower(c: number): boolean {
  return c >= 97 && c <= 122;
}

function nextToken(c: Cursor): void {
  let n = INVALID;
  const ch = c.len > 0 ? c.s.charCodeAt(c.pos) : 0;
  if (c.len === 0 || ch === 0) n = END;
  else if ((c.type === DIGIT || c.type === DIGIT_OR_ZERO) && isLower(ch)) n = LETTER;
  else if (c.type === LETTER && isDigit(ch)) n = DIGIT;
  else if (c.type === SUFFIX && isDigit(ch)) n = SUFFIX_NO;
  else {
    if (ch === 46) n = DIGIT_OR_ZERO;
    else if (ch === 95) n = SUFFIX;
    else if (ch === 45) {
      if (c.len > 1 && c.s.charCodeAt(c.pos + 1) === 114) {
        n = REVISION_NO;
        c.pos++;
      } else n = INVALID;
    }
    c.pos++;
  }
  if (n < c.type) {
    if (!((n === DIGIT_OR_ZERO && c.type === DIGIT) || (n === SUFFIX && c.type === SUFFIX_NO) || (n === DIGIT && c.type === LETTER)))
      n = INVALID;
  }
  c.type = n;
}

function getToken(c: Cursor): number {
  let v = 0;
  let i = 0;
  let nt = INVALID;
  if (c.len <= 0) {
    c.type = END;
    return 0;
  }
  const s = c.s;
  const p = c.pos;
  // leading zeros of a `.`-component get special treatment (a negative count), then a digit run
  if (c.type === DIGIT_OR_ZERO && s.charCodeAt(p) === 48) {
    while (i < c.len && s.charCodeAt(p + i) === 48) i++;
    nt = DIGIT;
    v = -i;
  }
  switch (nt !== INVALID ? -2 : c.type) {
    case -2:
      break;
    case DIGIT_OR_ZERO:
    case DIGIT:
    case SUFFIX_NO:
    case REVISION_NO:
      while (i < c.len && isDigit(s.charCodeAt(p + i))) {
        v = (Math.imul(v, 10) + (s.charCodeAt(p + i) - 48)) | 0;
        i++;
      }
      break;
    case LETTER:
      v = s.charCodeAt(p);
      i = 1;
      break;
    case SUFFIX: {
      const rest = s.slice(p);
      const pre = PRE.findIndex((x) => rest.startsWith(x));
      if (pre >= 0) {
        v = pre - PRE.length;
        i = PRE[pre].length;
        break;
      }
      const post = POST.findIndex((x) => rest.startsWith(x));
      if (post >= 0) {
        v = post;
        i = POST[post].length;
        break;
      }
      c.type = INVALID;
      return -1;
    }
    default:
      c.type = INVALID;
      return -1;
  }
  c.pos += i;
  if (c.len === 0) c.type = END;
  else if (nt !== INVALID) c.type = nt;
  else nextToken(c);
  return v;
}

/** True when apk-tools would accept `v` as a valid version (`apk_version_validate`). */
export function isValidApkVersion(v: string): boolean {
  const c = new Cursor(v);
  while (c.type !== END && c.type !== INVALID) getToken(c);
  return c.type === END;
}

/** Compares two Alpine package versions (apk-tools 2.x `apk_version_compare`). */
export function compareApk(a: string, b: string): Cmp {
  if (a === '' || b === '') throw new PushgateError('BAD_ARGUMENT', 'invalid Alpine version "": empty');
  const ca = new Cursor(a);
  const cb = new Cursor(b);
  let av = 0;
  let bv = 0;
  while (ca.type === cb.type && ca.type !== END && ca.type !== INVALID && av === bv) {
    av = getToken(ca);
    bv = getToken(cb);
  }
  if (av < bv) return -1;
  if (av > bv) return 1;
  if (ca.type === cb.type) return 0;
  if (ca.type === SUFFIX) {
    const t = new Cursor(a);
    t.pos = ca.pos;
    t.type = ca.type;
    if (getToken(t) < 0) return -1;
  }
  if (cb.type === SUFFIX) {
    const t = new Cursor(b);
    t.pos = cb.pos;
    t.type = cb.type;
    if (getToken(t) < 0) return 1;
  }
  if (ca.type > cb.type) return -1;
  if (cb.type > ca.type) return 1;
  return 0;
}

/** The apk comparator. */
export const apk: Comparator = { name: 'apk', compare: compareApk };
