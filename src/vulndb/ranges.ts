/**
 * Evaluation of OSV `affected` entries, as the schema's evaluation section specifies
 * (https://ossf.github.io/osv-schema/#evaluation): a version is affected when it is listed in
 * `versions`, or when any ECOSYSTEM/SEMVER range says so. Within a range the events are sorted by
 * the ecosystem's version order ("0" first, whatever order the record lists them in) and walked:
 * `introduced` (≤ v) sets vulnerable, `fixed` (≤ v) clears it, `last_affected` (< v) clears it;
 * when a range has `limit` events, v must be below one of them. GIT ranges are not evaluated.
 */
import type { Comparator } from './ecosystems/types.js';

/** One OSV range event. */
export interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}

/** One OSV range. */
export interface OsvRange {
  type: string;
  repo?: string;
  events: OsvEvent[];
}

/** A range's events prepared for evaluation: sorted once, kept with the range. */
export interface PreparedRange {
  events: Array<{ kind: 'introduced' | 'fixed' | 'last_affected'; version: string }>;
  limits: string[];
}

/** Result of evaluating one affected entry for one version. */
export interface RangeResult {
  affected: boolean;
  /** The smallest `fixed` version above the installed version in the ranges that matched. */
  fixed: string[];
  /** Ranges skipped because a version in them is invalid for the ecosystem. */
  invalidRanges: number;
}

function eventVersion(e: OsvEvent): string {
  return e.introduced ?? e.fixed ?? e.last_affected ?? e.limit ?? '';
}

/**
 * Sorts a range's events by version ("0" first; equal versions keep the record's order).
 * Throws PushgateError BAD_ARGUMENT when an event's version is invalid for the comparator.
 */
export function prepareRange(range: OsvRange, cmp: Comparator): PreparedRange {
  const events: PreparedRange['events'] = [];
  const limits: string[] = [];
  for (const e of range.events ?? []) {
    if (e.introduced !== undefined) events.push({ kind: 'introduced', version: e.introduced });
    else if (e.fixed !== undefined) events.push({ kind: 'fixed', version: e.fixed });
    else if (e.last_affected !== undefined) events.push({ kind: 'last_affected', version: e.last_affected });
    else if (e.limit !== undefined) limits.push(e.limit);
  }
  // '0' sorts first (it is below every version, in every ecosystem); the rest in the ecosystem's
  // order, ties in record order. Most records list their events in order already: n-1 comparisons
  // (each of which also validates both versions, throwing on an invalid one) confirm it, and only
  // an unsorted list pays for a full sort.
  const zeros = events.filter((e) => e.version === '0');
  const rest = events.filter((e) => e.version !== '0');
  if (rest.length === 1) cmp.compare(rest[0].version, rest[0].version); // validate
  let sorted = true;
  for (let i = 0; i + 1 < rest.length; i++) {
    if (cmp.compare(rest[i].version, rest[i + 1].version) > 0) { sorted = false; break; }
  }
  if (!sorted) {
    for (const e of rest) cmp.compare(e.version, e.version); // validate every one before sorting
    const decorated = rest.map((e, i) => ({ e, i }));
    decorated.sort((x, y) => cmp.compare(x.e.version, y.e.version) || x.i - y.i);
    return { events: [...zeros, ...decorated.map((d) => d.e)], limits };
  }
  return { events: [...zeros, ...rest], limits };
}

/**
 * Evaluates one prepared range for `version`: whether it is affected and the next fixed version.
 * The events are sorted, so the walk stops at the first event above `version` (every later one is
 * above it too): at most one comparison per event at or below the version, plus one.
 */
export function evaluateRange(r: PreparedRange, version: string, cmp: Comparator): { affected: boolean; fixed?: string } {
  const fixed = rangeFixed(r, version, cmp);
  if (fixed === undefined) return { affected: false };
  // a `fixed: ""` event names no version: affected, with nothing to upgrade to
  return fixed === NO_FIX ? { affected: true } : { affected: true, fixed };
}

/**
 * An affected entry as the index stores it (JSON in `affected.compiled`): the `versions` list and each
 * ECOSYSTEM/SEMVER range prepared at import time, or the reason it could not be (then it never matches).
 */
export interface CompiledAffected {
  versions?: string[];
  ranges: Array<PreparedRange | { error: string }>;
}

/** Prepares every range of an entry; a range that cannot be prepared is kept as `{ error }`. */
export function compileAffected(ranges: OsvRange[], versions: string[] | undefined, cmp: Comparator): CompiledAffected {
  const out: CompiledAffected = { ranges: [] };
  if (versions?.length) out.versions = versions;
  for (const r of ranges) {
    try {
      out.ranges.push(prepareRange(r, cmp));
    } catch (err) {
      out.ranges.push({ error: (err as Error).message });
    }
  }
  return out;
}

/** Evaluates `versions` and prepared ranges of one affected entry. */
export function evaluateAffected(
  entry: { versions?: string[]; ranges: Array<PreparedRange | Error | { error: string }> },
  version: string,
  cmp: Comparator,
): RangeResult {
  const res: RangeResult = { affected: false, fixed: [], invalidRanges: 0 };
  for (const v of entry.versions ?? []) {
    if (v === version || safeEq(cmp, v, version)) {
      res.affected = true;
      break;
    }
  }
  for (const r of entry.ranges) {
    if (r instanceof Error || 'error' in r) {
      res.invalidRanges++;
      continue;
    }
    const out = evaluateRange(r, version, cmp);
    if (out.affected) {
      res.affected = true;
      if (out.fixed && !res.fixed.includes(out.fixed)) res.fixed.push(out.fixed);
    }
  }
  return res;
}

/**
 * {@link evaluateAffected} for the matcher: the fixed versions (a new array, in the order
 * {@link evaluateAffected} lists them) when `version` is affected, else undefined. It allocates nothing for
 * an entry that does not apply, which is most of the entries a package is checked against.
 */
export function affectedFixed(entry: CompiledAffected, version: string, cmp: Comparator): string[] | undefined {
  let fixed: string[] | undefined;
  const versions = entry.versions;
  if (versions) {
    for (let i = 0; i < versions.length; i++) {
      if (versions[i] === version || safeEq(cmp, versions[i], version)) {
        fixed = [];
        break;
      }
    }
  }
  const ranges = entry.ranges;
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i];
    if ('error' in r) continue;
    const f = rangeFixed(r, version, cmp);
    if (f === undefined) continue;
    fixed ??= [];
    if (f !== NO_FIX && !fixed.includes(f)) fixed.push(f);
  }
  return fixed;
}

/**
 * {@link rangeFixed}'s answer for an affected range without a later `fixed` event; a `fixed: ""` event
 * gives it too, and {@link evaluateAffected} lists neither.
 */
const NO_FIX = '';

/** {@link evaluateRange} without a result object: undefined when not affected, else the next fixed version or {@link NO_FIX}. */
function rangeFixed(r: PreparedRange, version: string, cmp: Comparator): string | undefined {
  if (r.limits.length && !r.limits.some((l) => l === '*' || cmp.compare(version, l) < 0)) return undefined;
  let vulnerable = false;
  const ev = r.events;
  let i = 0;
  for (; i < ev.length; i++) {
    const e = ev[i];
    if (e.kind === 'introduced' && e.version === '0') {
      vulnerable = true;
      continue;
    }
    const c = cmp.compare(version, e.version);
    if (c < 0) break;
    if (e.kind === 'introduced') vulnerable = true;
    else if (e.kind === 'fixed') vulnerable = false;
    else if (c > 0) vulnerable = false; // last_affected: inclusive
  }
  if (!vulnerable) return undefined;
  for (; i < ev.length; i++) if (ev[i].kind === 'fixed') return ev[i].version;
  return NO_FIX;
}

function safeEq(cmp: Comparator, a: string, b: string): boolean {
  try {
    return cmp.compare(a, b) === 0;
  } catch {
    return false;
  }
}

export { eventVersion };

const KIND_CODE = { introduced: 'i', fixed: 'f', last_affected: 'l' } as const;
const CODE_KIND = { i: 'introduced', f: 'fixed', l: 'last_affected' } as const;

/** A stored range: flat `[code, version, code, version, …]` events, optional limits; or `{ e: error }`. */
type StoredRange = string[] | [string[], string[]] | { e: string };

/**
 * Serializes a compiled entry compactly for the index (`{"v":[versions],"r":[ranges]}`, events as a
 * flat list of one-letter kinds and versions): about half the size of the plain JSON.
 */
export function serializeCompiled(c: CompiledAffected): string {
  const r: StoredRange[] = c.ranges.map((x) => {
    if ('error' in x) return { e: x.error };
    const flat: string[] = [];
    for (const e of x.events) flat.push(KIND_CODE[e.kind], e.version);
    return x.limits.length ? [flat, x.limits] : flat;
  });
  return JSON.stringify(c.versions ? { v: c.versions, r } : { r });
}

/**
 * `serializeCompiled(compileAffected(ranges, versions, cmp))` in one pass, without the intermediate
 * objects (the import's hot path: tens of thousands of affected entries), plus the messages of the
 * ranges that could not be compiled. A test keeps the two equal.
 */
export function compileSerialized(ranges: OsvRange[], versions: string[] | undefined, cmp: Comparator): { json: string; errors: string[] } {
  const c = compileRanges(ranges, cmp);
  return { json: compiledJson(versions, c.json), errors: c.errors };
}

/**
 * The stored ranges of an entry (the `r` list {@link serializeCompiled} writes, as JSON text) and the
 * messages of the ranges that could not be compiled. The ranges are the part worth a memo
 * ({@link rangesKey}): the `versions` list, when there is one, is written as it is.
 */
export function compileRanges(ranges: OsvRange[], cmp: Comparator): { json: string; errors: string[] } {
  const r: StoredRange[] = [];
  const errors: string[] = [];
  for (const range of ranges) {
    try {
      r.push(storedRange(range, cmp));
    } catch (err) {
      const m = (err as Error).message;
      errors.push(m);
      r.push({ e: m });
    }
  }
  return { json: JSON.stringify(r), errors };
}

/**
 * The stored text of an entry from its `versions` and its ranges' JSON ({@link compileRanges}): what
 * `JSON.stringify(versions?.length ? { v: versions, r } : { r })` writes.
 */
export function compiledJson(versions: readonly string[] | undefined, rangesJson: string): string {
  return versions?.length ? `{"v":${JSON.stringify(versions)},"r":${rangesJson}}` : `{"r":${rangesJson}}`;
}

/**
 * A string that is equal for two range lists exactly when {@link compileRanges} reads the same data from
 * them (with one comparator): each range's events (the first of introduced/fixed/last_affected/limit set,
 * as {@link storedRange} picks it), every version length-prefixed so no two inputs spell the same key.
 * Undefined when an event is not an object or its version not a string (such input is compiled without
 * the memo: its error message is its own). Many affected entries have identical ranges (one advisory per
 * distribution release, the same fix in each), so the import compiles each distinct list once; a
 * `versions` list (PyPI, Go: dozens per entry, rarely twice the same) is left out of the key.
 */
export function rangesKey(ranges: readonly OsvRange[]): string | undefined {
  let k = '';
  for (const range of ranges) {
    const events = range.events;
    if (!Array.isArray(events)) return undefined;
    k += `|${events.length}`;
    for (const e of events as unknown[]) {
      if (typeof e !== 'object' || e === null) return undefined;
      const ev = e as OsvEvent;
      let code: string;
      let v: unknown;
      if (ev.introduced !== undefined) [code, v] = ['i', ev.introduced];
      else if (ev.fixed !== undefined) [code, v] = ['f', ev.fixed];
      else if (ev.last_affected !== undefined) [code, v] = ['l', ev.last_affected];
      else if (ev.limit !== undefined) [code, v] = ['m', ev.limit];
      else { k += ';-'; continue; }
      if (typeof v !== 'string') return undefined;
      k += `;${code}${v.length}:${v}`;
    }
  }
  return k;
}

/** One range as stored: the order and validation of {@link prepareRange}, written flat. */
function storedRange(range: OsvRange, cmp: Comparator): StoredRange {
  const zeros: string[] = [];
  const rest: string[] = [];
  let limits: string[] | undefined;
  let sorted = true;
  for (const e of range.events ?? []) {
    let code: 'i' | 'f' | 'l';
    let v: string;
    if (e.introduced !== undefined) { code = 'i'; v = e.introduced; }
    else if (e.fixed !== undefined) { code = 'f'; v = e.fixed; }
    else if (e.last_affected !== undefined) { code = 'l'; v = e.last_affected; }
    else { if (e.limit !== undefined) (limits ??= []).push(e.limit); continue; }
    if (v === '0') { zeros.push(code, v); continue; }
    if (sorted && rest.length && cmp.compare(rest[rest.length - 1], v) > 0) sorted = false;
    rest.push(code, v);
  }
  if (rest.length === 2) cmp.compare(rest[1], rest[1]); // validate
  let flat: string[];
  if (sorted) flat = zeros.length ? [...zeros, ...rest] : rest;
  else {
    const evs: Array<{ c: string; v: string; i: number }> = [];
    for (let i = 0; i < rest.length; i += 2) evs.push({ c: rest[i], v: rest[i + 1], i });
    for (const e of evs) cmp.compare(e.v, e.v); // validate every one before sorting
    evs.sort((x, y) => cmp.compare(x.v, y.v) || x.i - y.i);
    flat = [...zeros];
    for (const e of evs) flat.push(e.c, e.v);
  }
  return limits ? [flat, limits] : flat;
}

/** Reads what {@link serializeCompiled} wrote. */
export function deserializeCompiled(text: string): CompiledAffected {
  const o = JSON.parse(text) as { v?: string[]; r: StoredRange[] };
  const out: CompiledAffected = { ranges: [] };
  if (o.v) out.versions = o.v;
  for (const x of o.r) {
    if (!Array.isArray(x)) {
      out.ranges.push({ error: x.e });
      continue;
    }
    const [flat, limits] = Array.isArray(x[0]) ? (x as [string[], string[]]) : [x as string[], [] as string[]];
    const events: PreparedRange['events'] = [];
    for (let i = 0; i < flat.length; i += 2) events.push({ kind: CODE_KIND[flat[i] as 'i' | 'f' | 'l'], version: flat[i + 1] });
    out.ranges.push({ events, limits });
  }
  return out;
}
