/**
 * The shape every per-ecosystem version comparator implements. One comparator per ecosystem,
 * chosen by the dispatcher in ./index.ts; there is no fallback between them.
 */

/** Result of a version comparison: a < b → -1, a = b → 0, a > b → 1. */
export type Cmp = -1 | 0 | 1;

/** A version order of one ecosystem family. */
export interface Comparator {
  /** Short name used in messages (`dpkg`, `apk`, `rpm`, `semver`, …). */
  readonly name: string;
  /**
   * Compares two versions. Throws PushgateError BAD_ARGUMENT naming the version when either is not
   * a valid version of this ecosystem (comparators that, like apk, order any string never throw).
   */
  compare(a: string, b: string): Cmp;
}

/** Sign of a number as a {@link Cmp}. */
export function sign(n: number): Cmp {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** Compares two strings of decimal digits (any length, leading zeros allowed) numerically. */
export function compareDigits(a: string, b: string): Cmp {
  let i = 0;
  while (i < a.length - 1 && a.charCodeAt(i) === 48) i++;
  let j = 0;
  while (j < b.length - 1 && b.charCodeAt(j) === 48) j++;
  const la = a.length - i;
  const lb = b.length - j;
  if (la !== lb) return la < lb ? -1 : 1;
  for (; i < a.length; i++, j++) {
    const d = a.charCodeAt(i) - b.charCodeAt(j);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Plain code-unit string order (C `strcmp` on ASCII). */
export function compareStrings(a: string, b: string): Cmp {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Wraps a pure parse function with a per-string cache (cleared when it holds `max` entries), so a
 * version met again (an installed version against many events, an event version across calls) is
 * parsed once. The parse result must not be mutated by callers. Thrown errors are not cached.
 */
export function memoParse<T>(parse: (v: string) => T, max = 50_000): (v: string) => T {
  const cache = new Map<string, T>();
  return (v: string): T => {
    const hit = cache.get(v);
    if (hit !== undefined) return hit;
    const r = parse(v);
    if (cache.size >= max) cache.clear();
    cache.set(v, r);
    return r;
  };
}
