/**
 * Alpine version order as the current apk-tools implements it (src/version.c of apk-tools 3, whose
 * own test data test/unit/version.data is part of the vector set pushgate checks against; apk-tools
 * 2.x orders ordinary versions the same way, the two differ on the corner cases listed below).
 *
 * Grammar: `digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#}`. A version is read as a sequence of
 * tokens, each of a kind that may only follow kinds before it in this list:
 * initial number, `.`number, letter, `_`suffix, suffix number, `~`commit hash, `-r`revision.
 * Two versions are compared token by token while both have a token of the same kind:
 * - numbers numerically, except a `.`number where either side has a leading zero: those compare as
 *   strings (Gentoo rule: `8.2.0015 < 8.2.002`, `8.2.0 < 8.2.001`);
 * - a letter by its character; a suffix by its rank alpha < beta < pre < rc < (none) < cvs < svn <
 *   git < hg < p; a commit hash as a string.
 * When one side runs out or switches kind first, the longer side is greater unless its next token is
 * a pre-release suffix (`1.0_rc1 < 1.0`); otherwise the side whose next token kind comes later in the
 * list above is the smaller (`1.0~1234 < 1.0.1`), an invalid remainder being the last kind of all.
 *
 * Choice (issue 4 names apk-tools 2.x; the vectors mix apk-tools 3's own test data with osv-scalibr
 * lines produced by apk-tools 2.x): where they differ (leading zeros, malformed versions), this
 * follows apk-tools 3 (`~hash`; leading-zero components as
 * strings; an invalid tail sorts below everything: `1-r-0 < 1-r0`, `1 > 1-ruff`; `6.0_pre1 < 6.0`)
 * and keeps 2.x's leniency where 3 has no rule that contradicts it: an empty digit run reads as 0
 * (`1-r = 1-r0`, `0..8 > 0...8`, `a < b`) and a number may follow a letter (`5.7.1p1-r0 < 5.7.1p1-r1`).
 * Any two strings are ordered, so this comparator only throws for an empty version;
 * {@link isValidApkVersion} is apk-tools 3's strict validation.
 */
import { PushgateError } from '../../core/errors.js';
import { type Cmp, type Comparator, compareDigits, compareStrings, memoParse } from './types.js';

const INITIAL_DIGIT = 0;
const DIGIT = 1;
const LETTER = 2;
const SUFFIX = 3;
const SUFFIX_NO = 4;
const COMMIT_HASH = 5;
const REVISION_NO = 6;
const END = 7;
const INVALID = 8;

/** Suffix ranks: pre-release suffixes below NONE, post-release ones above. */
const SUFFIX_RANK: Record<string, number> = { alpha: 0, beta: 1, pre: 2, rc: 3, cvs: 5, svn: 6, git: 7, hg: 8, p: 9 };
const SUFFIX_NONE = 4;

/** One token of a version: its kind, its text, and (for suffixes) its rank. */
interface Token {
  kind: number;
  text: string;
  rank: number;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isLower(c: number): boolean {
  return c >= 97 && c <= 122;
}
function isHex(c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/**
 * Splits a version into tokens; the last one is END or INVALID. With `lenient` (comparison), an empty
 * digit run (`1-r`, `0..8`, a version not starting with a digit such as `a`) is the number 0, as
 * apk-tools 2.x reads it, except an empty `.`/`-r` component directly followed by a letter, which is
 * invalid as in apk-tools 3 (`0.r1 < 0r2`, `1 > 1-ruff`); without `lenient` (validation) every empty
 * digit run makes the version invalid, as apk-tools 3 does.
 */
function tokenize(v: string, lenient: boolean): Token[] {
  const out: Token[] = [];
  let pos = 0;
  const span = (pred: (c: number) => boolean): string => {
    const s = pos;
    while (pos < v.length && pred(v.charCodeAt(pos))) pos++;
    return v.slice(s, pos);
  };
  const digits = (kind: number): Token => {
    const text = span(isDigit);
    if (text) return { kind, text, rank: 0 };
    // an empty `.` or `-r` component followed by a letter (`0.r1`, `1-ruff`) is invalid in both readings
    if (!lenient || (kind !== INITIAL_DIGIT && isLower(v.charCodeAt(pos)))) return bad();
    return { kind, text, rank: 0 };
  };
  let t = digits(INITIAL_DIGIT);
  out.push(t);
  while (t.kind < END) {
    const prev = t.kind;
    const c = pos < v.length ? v.charCodeAt(pos) : -1;
    if (c < 0) t = { kind: END, text: '', rank: 0 };
    else if (isLower(c)) {
      t = prev > DIGIT ? bad() : { kind: LETTER, text: v[pos++], rank: 0 };
    } else if (c === 46 /* . */) {
      pos++;
      t = prev > DIGIT ? bad() : digits(DIGIT);
    } else if (isDigit(c)) {
      // a number right after a letter (`5.7.1p1`) is one more component, as in apk-tools 2.x
      t = prev === LETTER ? digits(DIGIT) : prev === SUFFIX ? digits(SUFFIX_NO) : bad();
    } else if (c === 95 /* _ */) {
      pos++;
      const text = span(isLower);
      const rank = Object.prototype.hasOwnProperty.call(SUFFIX_RANK, text) ? SUFFIX_RANK[text] : -1;
      t = prev > SUFFIX_NO || rank < 0 ? bad() : { kind: SUFFIX, text, rank };
    } else if (c === 126 /* ~ */) {
      pos++;
      const text = span(isHex);
      t = prev >= COMMIT_HASH || !text ? bad() : { kind: COMMIT_HASH, text, rank: 0 };
    } else if (c === 45 /* - */ && prev < REVISION_NO && v.charCodeAt(pos + 1) === 114 /* r */) {
      pos += 2;
      t = digits(REVISION_NO);
    } else t = bad();
    out.push(t);
  }
  return out;
}

function bad(): Token {
  return { kind: INVALID, text: '', rank: 0 };
}

function tokenCmp(a: Token, b: Token): Cmp {
  switch (a.kind) {
    case DIGIT:
      // a leading zero on either side: plain string order (Gentoo)
      if (a.text.charCodeAt(0) === 48 || b.text.charCodeAt(0) === 48) return compareStrings(a.text, b.text);
      return compareDigits(a.text || '0', b.text || '0');
    case INITIAL_DIGIT:
    case SUFFIX_NO:
    case REVISION_NO:
      return compareDigits(a.text || '0', b.text || '0');
    case LETTER:
      return compareStrings(a.text, b.text);
    case SUFFIX:
      return a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0;
    default:
      return compareStrings(a.text, b.text);
  }
}

/**
 * apk-tools' `apk_version_compare_fuzzy`: with `fuzzy`, `a` equals `b` when `b` is a prefix of `a`
 * token-wise (`3.6.9 ~ 3.6`).
 */
function compareTokens(ta: Token[], tb: Token[], fuzzy: boolean): Cmp {
  let i = 0;
  for (; ta[i].kind === tb[i].kind && ta[i].kind < END; i++) {
    const r = tokenCmp(ta[i], tb[i]);
    if (r !== 0) return r;
  }
  const a = ta[i];
  const b = tb[i];
  if (a.kind === b.kind) return 0;
  if (b.kind === END && fuzzy) return 0;
  if (a.kind === SUFFIX && a.rank < SUFFIX_NONE) return -1;
  if (b.kind === SUFFIX && b.rank < SUFFIX_NONE) return 1;
  if (a.kind > b.kind) return -1;
  if (b.kind > a.kind) return 1;
  return 0;
}

/** True when apk-tools accepts `v` as a version (`apk_version_validate`). */
export function isValidApkVersion(v: string): boolean {
  const t = tokenize(v, false);
  return t[t.length - 1].kind === END;
}

/** Compares two Alpine package versions (apk-tools `apk_version_compare`). Throws BAD_ARGUMENT only for an empty version. */
export function compareApk(a: string, b: string): Cmp {
  if (a === '' || b === '') throw new PushgateError('BAD_ARGUMENT', 'invalid Alpine version "": empty');
  if (a === b) return 0;
  return compareTokens(tokenizeCached(a), tokenizeCached(b), false);
}

const tokenizeCached = memoParse((v: string) => tokenize(v, true));

/**
 * apk-tools' `apk_version_match(a, op, b)` for a dependency operator: `<`, `<=`, `=`, `>=`, `>`,
 * `~` (fuzzy: `b` is a token prefix of `a`), `<~`, `>~`, each optionally negated by a leading `!`.
 * Throws PushgateError BAD_ARGUMENT for an operator that is none of these.
 */
export function apkVersionMatch(a: string, op: string, b: string): boolean {
  const negate = op.startsWith('!');
  const ops = negate ? op.slice(1) : op;
  if (!/^[<>=~]+$/.test(ops)) throw new PushgateError('BAD_ARGUMENT', `invalid apk version operator ${JSON.stringify(op)}: use <, <=, =, >=, >, ~, <~, >~ (optionally with a leading !)`);
  const fuzzy = ops.includes('~');
  const r = compareTokens(tokenizeCached(a), tokenizeCached(b), fuzzy);
  const ok = (r < 0 && ops.includes('<')) || (r > 0 && ops.includes('>')) || (r === 0 && (ops.includes('=') || fuzzy));
  return negate ? !ok : ok;
}

/** The apk comparator. */
export const apk: Comparator = { name: 'apk', compare: compareApk };
