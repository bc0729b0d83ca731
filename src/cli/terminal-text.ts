/**
 * Text from an image or a registry made safe for a terminal: the one function every human-readable
 * renderer passes such strings through (package names, versions, paths, advisory text, repository
 * names, registry error messages). JSON, SARIF and CycloneDX output keep the exact values.
 *
 * Every character a terminal would act on instead of printing is replaced by a visible escape, so it
 * cannot recolour, move the cursor, rewrite earlier lines, set the window title (OSC), hide text or
 * reorder it, and two names that differ only in such a character still print differently
 * (`libssl3\x1b[8m` never looks like `libssl3`):
 * - C0 controls U+0000–U+001F, tab and newline included (a tab or newline inside a value would
 *   break the table's columns and rows; the renderers' own newlines are added after this), and DEL
 *   U+007F → `\xHH`. ESC is one of them, so an escape sequence (CSI, OSC, …) loses its introducer and
 *   the rest of it prints as the plain text it is;
 * - C1 controls U+0080–U+009F (CSI is U+009B on terminals that read 8-bit controls) → `\u{HH}`;
 * - Unicode bidirectional formatting characters (U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069;
 *   "Trojan Source", CVE-2021-42574) and the line and paragraph separators U+2028–U+2029 → `\u{HHHH}`.
 * Backslashes are left as they are: a literal `\x1b` in a name is rare, and doubling every backslash
 * would garble the paths of Windows images.
 */

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

function escapeChar(c: string): string {
  const n = c.charCodeAt(0);
  if (n < 0x80) return `\\x${n.toString(16).padStart(2, '0')}`;
  return `\\u{${n.toString(16)}}`;
}

/** `s` with every terminal-active character replaced by a visible escape (see the module comment). */
export function terminalText(s: string): string {
  return s.replace(UNSAFE, escapeChar);
}

/** True when `s` holds a character {@link terminalText} would replace. */
export function hasTerminalControls(s: string): boolean {
  UNSAFE.lastIndex = 0;
  const r = UNSAFE.test(s);
  UNSAFE.lastIndex = 0;
  return r;
}

/**
 * A deep copy of `value` with {@link terminalText} applied to every string in it (object keys
 * included): for renderers that print many fields of a report, so none is forgotten.
 */
export function terminalSafe<T>(value: T): T {
  if (typeof value === 'string') return terminalText(value) as T;
  if (Array.isArray(value)) return value.map((v) => terminalSafe(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[terminalText(k)] = terminalSafe(v);
    return out as T;
  }
  return value;
}
