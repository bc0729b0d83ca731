/**
 * PyPI version order: PEP 440 (https://peps.python.org/pep-0440/) through @renovatebot/pep440.
 * Versions that are not PEP 440 are "legacy versions" ordered as packaging < 22 `LegacyVersion` did
 * (setuptools' old parse_version key, epoch -1), so every legacy version sorts before every PEP 440
 * version.
 */
import { pep440 } from '../libs.js';
import { PushgateError } from '../../core/errors.js';
import { type Cmp, type Comparator, memoParse, sign } from './types.js';

const REPLACE: Record<string, string> = { pre: 'c', preview: 'c', '-': 'final-', rc: 'c', dev: '@' };

/** packaging.version._legacy_cmpkey parts. */
export function legacyKey(v: string): string[] {
  const parts: string[] = [];
  const raw = v.toLowerCase().split(/(\d+|[a-z]+|\.|-)/);
  const gen: string[] = [];
  for (let part of raw) {
    part = REPLACE[part] ?? part;
    if (!part || part === '.') continue;
    gen.push(/^[0-9]/.test(part) ? part.padStart(8, '0') : `*${part}`);
  }
  gen.push('*final');
  for (const part of gen) {
    if (part.startsWith('*')) {
      if (part < '*final') while (parts.length && parts[parts.length - 1] === '*final-') parts.pop();
      while (parts.length && parts[parts.length - 1] === '00000000') parts.pop();
    }
    parts.push(part);
  }
  return parts;
}

function cmpTuple(a: string[], b: string[]): Cmp {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return sign(a.length - b.length);
}

/**
 * A PEP 440 version's sort key as @renovatebot/pep440 4.x orders versions (`calculateKey` of its
 * lib/operator.js, applied to its `parse`: epoch, release without trailing zeros, pre, post, dev, local,
 * with ±Infinity standing for an absent part), compared by {@link pyCompare}. The library's `compare`
 * parses both versions on every call (one large regular expression each); an import compares each
 * event version of a range with its neighbour, a match compares the installed version with every event,
 * so the key is computed once per distinct version instead. A test keeps `pyCompare` of two keys equal to
 * the library's `compare` over generated versions.
 */
type Pep440Key = [bigint, bigint[], unknown, unknown, unknown, unknown];

/** The {@link Pep440Key} of `v`, or null when `v` is not a PEP 440 version (the library's `valid` and `parse` use one regular expression). */
export function pep440Key(v: string): Pep440Key | null {
  const parsed = pep440().parse(v);
  if (!parsed) return null;
  // The library reads each number with parseInt, which rounds past 2^53 (9007199254740993 read as
  // ...992, so 1.9007199254740993 equalled 1.9007199254740992 and 2^1024 digits were Infinity); Python
  // compares them as exact integers. The digits are taken again from the text, as bigints.
  const raw = PEP440.exec(v);
  if (!raw) return null;
  const big = (d: string | undefined): bigint => BigInt(d ?? '0');
  const epoch = big(raw[1]);
  let { pre, post, dev, local } = parsed as { pre: unknown; post: unknown; dev: unknown; local: unknown };
  if (pre) pre = [(pre as [string, number])[0], big(raw[5])];
  if (post) post = [(post as [string, number])[0], big(raw[6] ?? raw[8])];
  if (dev) dev = [(dev as [string, number])[0], big(raw[10])];
  if (local) local = raw[11]!.split(/[-_.]/).map((i) => (/^[0-9]+$/.test(i) ? BigInt(i) : i.toLowerCase()));
  const release: bigint[] = raw[2]!.split('.').map((d) => BigInt(d));
  let n = release.length;
  while (n > 0 && release[n - 1] === 0n) n--;
  release.length = n;
  if (!pre && !post && dev) pre = -Infinity;
  else if (!pre) pre = Infinity;
  if (!post) post = -Infinity;
  if (!dev) dev = Infinity;
  if (!local) local = -Infinity;
  else local = (local as Array<string | bigint>).map((i) => (typeof i === 'bigint' ? [i, ''] : [-Infinity, i]));
  return [epoch, release, pre, post, dev, local];
}

/**
 * packaging's VERSION_PATTERN (PEP 440 appendix B), anchored with the white space packaging strips:
 * 1 epoch, 2 release, 3 pre, 4 pre letter, 5 pre number, 6 post number after `-`, 7 post letter,
 * 8 post number, 9 dev letter, 10 dev number, 11 local.
 */
const PEP440 = /^\s*v?(?:(?:([0-9]+)!)?([0-9]+(?:\.[0-9]+)*)([-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?([0-9]+)?)?(?:-([0-9]+)|[-_.]?(post|rev|r)[-_.]?([0-9]+)?)?(?:[-_.]?(dev)[-_.]?([0-9]+)?)?)(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$/i;

/** Python's comparison of two keys as the library ports it (`pyCompare` of lib/operator.js): negative, 0 or positive. */
export function pyCompare(elemIn: unknown, otherIn: unknown): number {
  let elem = elemIn;
  let other = otherIn;
  if (elem === other) return 0;
  if (Array.isArray(elem) !== Array.isArray(other)) {
    elem = Array.isArray(elem) ? elem : [elem];
    other = Array.isArray(other) ? other : [other];
  }
  if (Array.isArray(elem)) {
    const o = other as unknown[];
    const len = Math.min(elem.length, o.length);
    for (let i = 0; i < len; i += 1) {
      const res = pyCompare(elem[i], o[i]);
      if (res !== 0) return res;
    }
    return elem.length - o.length;
  }
  if (elem === -Infinity || other === Infinity) return -1;
  if (elem === Infinity || other === -Infinity) return 1;
  return (elem as number | string) < (other as number | string) ? -1 : 1;
}

const pep440KeyCached = memoParse(pep440Key);
const legacyKeyCached = memoParse(legacyKey);

/** Compares two PyPI versions (PEP 440; legacy versions first). */
export function comparePyPI(a: string, b: string): Cmp {
  if (a.trim() === '' || b.trim() === '') throw new PushgateError('BAD_ARGUMENT', 'invalid PyPI version "": empty');
  const ka = pep440KeyCached(a);
  const kb = pep440KeyCached(b);
  if (ka && kb) return a === b ? 0 : sign(pyCompare(ka, kb));
  if (!ka !== !kb) return ka ? 1 : -1;
  return cmpTuple(legacyKeyCached(a), legacyKeyCached(b));
}

/** The PyPI comparator. */
export const pypi: Comparator = { name: 'pep440', compare: comparePyPI };
