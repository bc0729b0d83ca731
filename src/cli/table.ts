/**
 * Aligned text tables for the terminal (`scan --format table`, `affected`): the one layout every
 * table of the CLI uses, so they behave alike when a value is long.
 *
 * - A column is as wide as its widest cell, measured in terminal columns ({@link displayWidth}), at
 *   least its `min` (the header, or a customary width) and at most `max` ({@link MAX_COLUMN}): one
 *   outlier does not push every row of the table to the right.
 * - A cell wider than its column is printed whole, never cut or split (a version, id, name or
 *   repository cut short is a wrong one, and one split over two lines cannot be copied or grepped),
 *   and the cells after it continue on the next line at their own columns: every cell still starts
 *   where its column starts (as `--help` output puts a description under a long option).
 * - The last column is free text: never padded, never measured.
 * - Every cell goes through {@link terminalText} (idempotent), so no control character reaches the
 *   terminal even from a caller that forgot to escape a value.
 */
import { terminalText } from './terminal-text.js';

/** Widest a column grows to fit its cells, in terminal columns; a wider cell continues its row on the next line. */
export const MAX_COLUMN = 48;

// Characters a terminal draws in no column of their own: combining marks, and (by code point, which a
// regular expression class would read as joined to their neighbours) zero-width space and joiners, word
// joiner, byte order mark and variation selectors.
const COMBINING = /^[\p{Mn}\p{Me}]$/u;
function zeroWidth(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  return (c >= 0x200b && c <= 0x200d) || c === 0x2060 || c === 0xfeff || (c >= 0xfe00 && c <= 0xfe0f) || COMBINING.test(ch);
}
// East Asian Wide and Fullwidth characters (UAX #11, the common blocks) and emoji drawn as emoji: two columns.
const WIDE = /^[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1b000}-\u{1b2ff}\u{20000}-\u{2fffd}\u{30000}-\u{3fffd}\p{Emoji_Presentation}]$/u;

/**
 * The number of terminal columns `s` takes: two for an East Asian wide or fullwidth character or an
 * emoji, none for a combining mark or zero-width character, one for anything else (per code point,
 * not per UTF-16 unit). Ambiguous-width characters count one, as most terminals draw them.
 */
export function displayWidth(s: string): number {
  let n = 0;
  for (const ch of s) n += zeroWidth(ch) ? 0 : WIDE.test(ch) ? 2 : 1;
  return n;
}

/** Layout of a table ({@link tableLines}). */
export interface TableOptions {
  /** Printed before every line, e.g. `'  '` (default none). */
  indent?: string;
  /** Spaces between columns (default 1). */
  gap?: number;
  /** Narrowest width of each column, in terminal columns (default 0; a missing entry is 0). */
  min?: readonly number[];
  /** Widest a column grows to fit its cells (default {@link MAX_COLUMN}). */
  max?: number;
}

/**
 * The width of each column but the last: the display width of its widest cell no wider than `max`,
 * at least `min[i]` (the last column is free text and gets 0).
 * @param rows cells already escaped for the terminal (rows may be shorter than others: missing cells are empty).
 */
export function columnWidths(rows: readonly (readonly string[])[], opts: TableOptions = {}): number[] {
  const max = opts.max ?? MAX_COLUMN;
  const columns = Math.max(0, ...rows.map((r) => r.length));
  const widths: number[] = [];
  for (let i = 0; i < columns; i++) {
    if (i === columns - 1) {
      widths.push(0);
      continue;
    }
    let w = opts.min?.[i] ?? 0;
    for (const r of rows) {
      const d = displayWidth(r[i] ?? '');
      if (d <= max && d > w) w = d;
    }
    widths.push(w);
  }
  return widths;
}

/**
 * The lines of one row laid out in `widths` (from {@link columnWidths}): one line, or more when a cell
 * is wider than its column (the cells after it continue on the next line at their own columns).
 * Lines carry `opts.indent` and no trailing spaces.
 */
export function rowLines(cells: readonly string[], widths: readonly number[], opts: TableOptions = {}): string[] {
  const gap = opts.gap ?? 1;
  const indent = opts.indent ?? '';
  const lines: string[] = [];
  let line = '';
  let used = 0;
  let start = 0;
  cells.forEach((raw, i) => {
    const c = terminalText(raw);
    if (i > 0) {
      start += (widths[i - 1] ?? 0) + gap;
      if (used + gap > start) {
        // the cell before did not fit its column: this one starts its column on a new line
        lines.push(line);
        line = '';
        used = 0;
      }
      line += ' '.repeat(start - used);
      used = start;
    }
    line += c;
    used += displayWidth(c);
  });
  lines.push(line);
  // a continuation that holds only empty cells is no line at all
  return lines.map((l) => `${indent}${l}`.trimEnd()).filter((l, i) => i === 0 || l.trim() !== '');
}

/**
 * A whole table: `rows` (a header first, if any) laid out as {@link rowLines} says, with widths from
 * every row ({@link columnWidths}). Cells are escaped for the terminal before they are measured.
 */
export function tableLines(rows: readonly (readonly string[])[], opts: TableOptions = {}): string[] {
  const safe = rows.map((r) => r.map(terminalText));
  const widths = columnWidths(safe, opts);
  return safe.flatMap((r) => rowLines(r, widths, opts));
}
