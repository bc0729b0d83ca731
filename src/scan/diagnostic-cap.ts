/**
 * Bounds on how many diagnostics of one code a scan keeps. Most diagnostics are per entry (an entry
 * behind a link, a malformed package file) and a layer can hold 500,000 entries with names of up to
 * 4 KB: kept in full, their paths and messages alone would hold gigabytes in the scan worker and in
 * every stored report. The first {@link DIAGNOSTICS_PER_CODE} of a code are kept as they are; the rest
 * are counted into one summary diagnostic of the same code (so a policy or a reader keyed on the code
 * still sees it), incomplete when any of those it stands for was. Nothing a diagnostic says about
 * completeness is lost: only the detail of the repeats.
 */
import type { Diagnostic } from '../core/inventory.js';

/** Diagnostics kept per code: per layer by the walker, per image by the merge and the inventory. */
export const DIAGNOSTICS_PER_CODE = 100;

/** What was left out of one code: how many, and whether any of them made the scan incomplete. */
interface Dropped {
  n: number;
  incomplete: boolean;
  layer?: Diagnostic['layer'];
  platform?: string;
}

/**
 * A diagnostic list that keeps at most `limit` diagnostics per code and counts the rest.
 * `list` is the array kept diagnostics are pushed to (it is the caller's, so code that reads it sees
 * them at once); {@link withSummaries} is that list plus one summary per code with left-out ones.
 */
export class DiagnosticCap {
  private readonly kept = new Map<string, number>();
  private readonly dropped = new Map<string, Dropped>();

  constructor(readonly list: Diagnostic[], private readonly limit = DIAGNOSTICS_PER_CODE) {
    for (const d of list) this.kept.set(d.code, (this.kept.get(d.code) ?? 0) + 1);
  }

  /** Keeps `d` when fewer than `limit` of its code are kept, else counts it (a summary's `more` too). */
  push(d: Diagnostic): void {
    const k = this.kept.get(d.code) ?? 0;
    if (k < this.limit && d.more === undefined) {
      this.kept.set(d.code, k + 1);
      this.list.push(d);
      return;
    }
    const x = this.dropped.get(d.code) ?? { n: 0, incomplete: false, layer: d.layer, platform: d.platform };
    x.n += d.more ?? 1;
    x.incomplete ||= d.incomplete === true;
    if (x.layer !== d.layer) x.layer = undefined;
    if (x.platform !== d.platform) x.platform = undefined;
    this.dropped.set(d.code, x);
  }

  /** How many diagnostics were left out so far (summaries' counts included). */
  get droppedCount(): number {
    let n = 0;
    for (const x of this.dropped.values()) n += x.n;
    return n;
  }

  /** The kept diagnostics and, per code with left-out ones, a summary saying how many (a new array when there are any). */
  withSummaries(): Diagnostic[] {
    if (!this.dropped.size) return this.list;
    const out = [...this.list];
    for (const [code, x] of this.dropped) {
      out.push({
        code,
        message: `${x.n} more ${code} diagnostic${x.n === 1 ? '' : 's'} not listed (the first ${this.limit} of a code are)`,
        more: x.n,
        ...(x.layer !== undefined ? { layer: x.layer } : {}),
        ...(x.platform !== undefined ? { platform: x.platform } : {}),
        ...(x.incomplete ? { incomplete: true } : {}),
      });
    }
    return out;
  }
}

/** `diagnostics` with at most `limit` per code and a summary per code for the rest (summaries merged). */
export function capDiagnostics(diagnostics: Iterable<Diagnostic>, limit = DIAGNOSTICS_PER_CODE): Diagnostic[] {
  const cap = new DiagnosticCap([], limit);
  for (const d of diagnostics) cap.push(d);
  return cap.withSummaries();
}
