/**
 * SemVer orders. `npm` uses node-semver itself (loose parsing, as npm does; versions node-semver
 * rejects, such as numbers above 2^53 or `1.2.3.4`, are invalid). crates.io and Go use a SemVer 2.0
 * (https://semver.org/#spec-item-11) comparator with arbitrary-size numbers; Go additionally accepts
 * the `v` prefix, `v1`/`v1.2` shorthands (golang.org/x/mod/semver), `+incompatible` (build metadata,
 * ignored), and the toolchain spellings of `stdlib` versions (`go1.19` = `1.19` = `1.19.0`,
 * `1.21rc2` = `1.21.0-rc.2`).
 */
import { semverParse } from '../libs.js';
import { PushgateError } from '../../core/errors.js';
import { type Cmp, type Comparator, compareDigits, compareStrings, memoParse } from './types.js';

/** node-semver order for npm. */
const parseNpm = memoParse((v: string) => semverParse()(v, { loose: true }));

export const npmSemver: Comparator = {
  name: 'semver',
  compare(a: string, b: string): Cmp {
    const pa = parseNpm(a);
    if (!pa) throw invalid('npm', a);
    const pb = parseNpm(b);
    if (!pb) throw invalid('npm', b);
    return pa.compare(pb);
  },
};

function invalid(eco: string, v: string): PushgateError {
  return new PushgateError('BAD_ARGUMENT', `invalid ${eco} version ${JSON.stringify(v)}: not SemVer`);
}

/** A parsed SemVer 2.0 version; numbers kept as digit strings. */
export interface SemVer2 {
  major: string;
  minor: string;
  patch: string;
  pre: string[];
}

const NUM = '(0|[1-9]\\d*)';
const PRE_ID = '(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)';
const STRICT = new RegExp(`^${NUM}\\.${NUM}\\.${NUM}(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`);
const SHORT = new RegExp(`^${NUM}(?:\\.${NUM}(?:\\.${NUM})?)?(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$`);

/** Parses SemVer 2.0 (`allowShort`: `1` and `1.2` mean `1.0.0` and `1.2.0`); null when invalid. */
export function parseSemVer2(v: string, allowShort = false): SemVer2 | null {
  const m = (allowShort ? SHORT : STRICT).exec(v);
  if (!m) return null;
  return { major: m[1], minor: m[2] ?? '0', patch: m[3] ?? '0', pre: m[4] ? m[4].split('.') : [] };
}

/** SemVer 2.0 precedence (build metadata ignored). */
export function compareSemVer2(a: SemVer2, b: SemVer2): Cmp {
  const r = compareDigits(a.major, b.major) || compareDigits(a.minor, b.minor) || compareDigits(a.patch, b.patch);
  if (r) return r;
  if (!a.pre.length || !b.pre.length) return a.pre.length === b.pre.length ? 0 : a.pre.length ? -1 : 1;
  for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i++) {
    if (i >= a.pre.length) return -1;
    if (i >= b.pre.length) return 1;
    const x = a.pre[i];
    const y = b.pre[i];
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    const c = xn && yn ? compareDigits(x, y) : xn ? -1 : yn ? 1 : compareStrings(x, y);
    if (c) return c;
  }
  return 0;
}

const parseCrates = memoParse((v: string) => parseSemVer2(v));
const parseGo = memoParse((v: string) => parseSemVer2(normalizeGoVersion(v), true));

/** crates.io: strict SemVer 2.0 with arbitrary-size numbers. */
export const cratesSemver: Comparator = {
  name: 'semver',
  compare(a: string, b: string): Cmp {
    const pa = parseCrates(a);
    if (!pa) throw invalid('crates.io', a);
    const pb = parseCrates(b);
    if (!pb) throw invalid('crates.io', b);
    return compareSemVer2(pa, pb);
  },
};

/** Normalizes a Go module or toolchain version to SemVer text (`v1.2.3+incompatible` → `1.2.3`, `go1.21rc2` → `1.21.0-rc.2`). */
export function normalizeGoVersion(v: string): string {
  let s = v.trim();
  if (s.startsWith('go')) s = s.slice(2);
  else if (s.startsWith('v')) s = s.slice(1);
  s = s.replace(/\+incompatible$/, '');
  // Go toolchain pre-releases: 1.21rc2, 1.20beta1, 1.21.0-rc.2 stays
  const tc = /^(\d+)\.(\d+)(?:\.(\d+))?(alpha|beta|rc)(\d+)$/.exec(s);
  if (tc) s = `${tc[1]}.${tc[2]}.${tc[3] ?? '0'}-${tc[4]}.${tc[5]}`;
  return s;
}

/** Go: SemVer with `v` prefix, shorthands, `+incompatible` and toolchain versions (see file comment). */
export const goSemver: Comparator = {
  name: 'go-semver',
  compare(a: string, b: string): Cmp {
    const pa = parseGo(a);
    if (!pa) throw invalid('Go', a);
    const pb = parseGo(b);
    if (!pb) throw invalid('Go', b);
    return compareSemVer2(pa, pb);
  },
};
