/**
 * Image tags read as a version line and a flavour, the way base image publishers name them
 * (Docker Official Images: `12`, `12.8`, `12.8-slim`, `3.19-alpine3.19`, `bookworm-slim`): a leading
 * dotted number is the version, the rest from the first `-`/`_`/`+` on is the flavour. A tag with no
 * leading number (`latest`, `bookworm`, `stable-slim`) has no version; its whole text is its flavour.
 *
 * A line is a flavour plus a version precision: `12.8-slim` and `12.9-slim` are one line (two
 * components, flavour `-slim`); `12-slim` is the coarser line that moves along with it.
 */

/** A parsed tag. */
export interface ParsedTag {
  tag: string;
  /** The leading dotted number's components (`12.8` → `[12, 8]`); undefined when the tag starts with none. */
  version?: number[];
  /** What follows the version (`-slim`, `-alpine3.19`, `''`), or the whole tag when it has no version. */
  flavour: string;
}

// At most 9 digits a component: larger numbers are build stamps, not versions, and stay exact as numbers.
// No leading zeros (`012.8`, `12.08`): read as numbers they would equal `12.8` and rank as that release,
// which no publisher of such a tag means; a tag like that has no version (its text is its flavour).
const NUM = '(?:0|[1-9]\\d{0,8})';
const VERSION = new RegExp(`^v?(${NUM}(?:\\.${NUM}){0,5})(?:([-_+].*))?$`);

/** Splits a tag into version and flavour (see the module comment). Never throws. */
export function parseTag(tag: string): ParsedTag {
  const m = VERSION.exec(tag);
  if (!m) return { tag, flavour: tag };
  return { tag, version: m[1].split('.').map(Number), flavour: m[2] ?? '' };
}

/**
 * Orders two versions component by component; a missing component is lower (`12` < `12.0`).
 * @returns negative, 0 or positive, like a sort comparator.
 */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] === undefined) return -1;
    if (b[i] === undefined) return 1;
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return 0;
}

/** How a candidate tag relates to the base's tag. */
export type TagRelation = 'same' | 'update' | 'older' | 'other-flavour' | 'other-major' | 'unrelated';

/**
 * How `candidate` relates to `current`: `same` tag; `update` for a higher version of the same line
 * (same flavour, same precision, same major: `12.8` → `12.9`); `older` for a lower or equal one of
 * that line; `other-major` for the same flavour and precision under another major; `other-flavour`
 * for a versioned tag of another flavour (`12.8` → `12.9-slim`, `12-slim`); `unrelated` when either
 * has no version (`latest`, `bookworm`) or the precision differs within a flavour (`12` vs `12.8`, one
 * moves with the other).
 */
export function relateTags(current: ParsedTag, candidate: ParsedTag): TagRelation {
  if (current.tag === candidate.tag) return 'same';
  const a = current.version;
  const b = candidate.version;
  if (!a || !b) return 'unrelated';
  if (current.flavour !== candidate.flavour) return 'other-flavour';
  if (a.length !== b.length) return 'unrelated';
  if (a[0] !== b[0]) return 'other-major';
  return compareVersions(b, a) > 0 ? 'update' : 'older';
}
