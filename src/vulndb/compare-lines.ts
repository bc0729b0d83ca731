/**
 * `pushgate versions compare`: turns "A B" lines into "A < B", "A = B", "A > B" or "A ! B reason".
 */
import { isPushgateError } from '../core/errors.js';
import { comparatorFor } from './ecosystems/index.js';

/**
 * Compares each non-blank, non-`#` line `A B` of `input` in `ecosystem`'s order and returns the
 * result lines joined by `\n` (with a trailing newline when there is any line). A line that is not two
 * versions, or a version the ecosystem rejects, gives `A ! B reason`. Throws PushgateError
 * BAD_ARGUMENT only for an unknown ecosystem.
 */
export function compareLines(ecosystem: string, input: string): string {
  const cmp = comparatorFor(ecosystem);
  const out: string[] = [];
  for (const raw of input.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    const a = parts[0];
    const b = parts[1] ?? '';
    if (parts.length !== 2) {
      out.push(`${a} ! ${parts.slice(1).join(' ')} expected two versions separated by a blank`);
      continue;
    }
    try {
      const r = cmp.compare(a, b);
      out.push(`${a} ${r < 0 ? '<' : r > 0 ? '>' : '='} ${b}`);
    } catch (err) {
      if (!isPushgateError(err, 'BAD_ARGUMENT')) throw err;
      out.push(`${a} ! ${b} ${err.message}`);
    }
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
