/**
 * Duration and size strings of the configuration and policy documents (DESIGN.md §3
 * "Configuration": durations are strings with a unit, sizes are strings or bytes).
 */

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;
const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|k|K|M|G|T)?$/;
const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
  k: 1024,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
};

/** True when `s` is a duration string pushgate accepts (`500ms`, `30s`, `5m`, `1h`, `14d`, `2w`). */
export function isDuration(s: unknown): boolean {
  return typeof s === 'string' && DURATION_RE.test(s.trim());
}

/**
 * Parses a duration string to milliseconds: a non-negative number followed by one unit,
 * `ms`, `s`, `m`, `h`, `d` (24 h) or `w` (7 d). A bare number is refused: the unit is required.
 * @returns milliseconds (rounded to an integer)
 * @throws Error when the string is not a duration (callers turn it into a ConfigProblem).
 */
export function parseDuration(s: string): number {
  const m = DURATION_RE.exec(String(s).trim());
  if (!m) throw new Error(`"${s}" is not a duration: write a number and a unit, e.g. 500ms, 30s, 5m, 1h, 14d`);
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2]]);
}

/** True when `v` is a size pushgate accepts: a non-negative integer (bytes) or a string such as `512MiB`. */
export function isSize(v: unknown): boolean {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0;
  return typeof v === 'string' && SIZE_RE.test(v.trim());
}

/**
 * Parses a size to bytes: an integer (bytes) or a string with an optional unit, decimal
 * (`KB`, `MB`, `GB`, `TB` = powers of 1000) or binary (`KiB`, `MiB`, `GiB`, `TiB`, and the
 * Kubernetes-like shorthands `K`, `M`, `G`, `T` = powers of 1024).
 * @returns bytes (rounded down to an integer)
 * @throws Error when the value is not a size.
 */
export function parseSize(v: string | number): number {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) throw new Error(`${v} is not a size: use a whole number of bytes or e.g. 512MiB`);
    return v;
  }
  const m = SIZE_RE.exec(String(v).trim());
  if (!m) throw new Error(`"${v}" is not a size: use bytes or a number with a unit, e.g. 512MiB, 2GB`);
  return Math.floor(Number(m[1]) * SIZE_UNITS[m[2] ?? 'B']);
}

/** Formats milliseconds back to the largest whole unit (`86400000` → `1d`), for messages. */
export function formatDuration(ms: number): string {
  for (const u of ['w', 'd', 'h', 'm', 's'] as const) {
    const f = DURATION_UNITS[u];
    if (ms >= f && ms % f === 0) return `${ms / f}${u}`;
  }
  return `${ms}ms`;
}

/** Formats bytes for messages (`1536` → `1.5KiB`). */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)}${units[i]}`;
}
