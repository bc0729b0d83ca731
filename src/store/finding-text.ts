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
