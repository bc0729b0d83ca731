/**
 * The JSON text of finding objects, made once per object: a monitor pass writes each finding's text
 * several times (index rows, their signature, the report's patch) and reads most findings from stored
 * rows, whose text it has (the parsers record it here). Findings are not changed once made (the matcher
 * builds them; readers copy to change one, see src/store/sqlite-monitor.ts sharedFindingParser), so an
 * object's text stays its text.
 */

/** Text by finding object: set by the store's parsers (the row's text) and by {@link findingText}. */
export const TEXT = new WeakMap<object, string>();

/** `JSON.stringify(f)`, made once per object (any other value: stringified each time). */
export function findingText(f: unknown): string {
  if (typeof f !== 'object' || f === null) return JSON.stringify(f);
  let t = TEXT.get(f);
  if (t === undefined) {
    t = JSON.stringify(f);
    TEXT.set(f, t);
  }
  return t;
}

/**
 * `JSON.stringify(c)` of a change record (src/store/monitor-types.ts ChangeRecord), the same text,
 * with the findings of its `new` and `resolved` lists written by {@link findingText}: a database pass
 * writes a change record per changed image, whose new findings are objects shared by many images
 * (their text then made once). Any record that is not a plain object, or a list holding something
 * other than plain objects, is stringified as it is.
 */
export function changeText(c: object): string {
  if (Object.getPrototypeOf(c) !== Object.prototype || 'toJSON' in c) return JSON.stringify(c);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(c)) {
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    if ((k === 'new' || k === 'resolved') && Array.isArray(v) && v.every(plain)) parts.push(`${JSON.stringify(k)}:[${v.map(findingText).join(',')}]`);
    else parts.push(`${JSON.stringify(k)}:${JSON.stringify(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/** A plain object without `toJSON`: its text is {@link findingText}'s. */
function plain(x: unknown): boolean {
  return typeof x === 'object' && x !== null && Object.getPrototypeOf(x) === Object.prototype && !('toJSON' in x);
}
