/**
 * Progress of a vulnerability-database build on stderr (`db update` and a first-use download in
 * `scan`): a redrawn bar on a TTY, a plain line per source and every 10% otherwise.
 */
import { terminalText } from './terminal-text.js';

/** A progress reporter for {@link import('../vulndb/index.js').updateDb}'s `onProgress`. */
export interface DownloadProgress {
  tick: (p: { source: string; done: number; total?: number }) => void;
  end: () => void;
}

/** Least time between two redraws of the bar on a terminal that change only its count, in ms. */
const REDRAW_MS = 100;

/**
 * A progress reporter writing to `stream` (stderr). On a terminal the bar is redrawn when its source, its
 * filled part or its percentage changes, when the last item is done, and otherwise at most every
 * {@link REDRAW_MS} ms: a folder import reports every file (tens of thousands), and a write per file cost
 * more than reading the file. `now` is the clock (ms), for tests.
 */
export function downloadProgress(stream: NodeJS.WriteStream, now: () => number = Date.now): DownloadProgress {
  let lastSource = '';
  let lastPct = -1;
  let lastFilled = -1;
  let lastDraw = 0;
  // the terminal-safe text of the last source seen: a folder import ticks once per file (tens of
  // thousands of times) with the same source, which is made safe once
  let rawSource: string | undefined;
  let safeSource = '';
  return {
    tick(p) {
      if (p.source !== rawSource) {
        rawSource = p.source;
        safeSource = terminalText(p.source);
      }
      const source = safeSource;
      const pct = p.total ? Math.floor((p.done / p.total) * 100) : -1;
      if (stream.isTTY) {
        const width = 30;
        const filled = pct < 0 ? 0 : Math.round((pct / 100) * width);
        const t = now();
        if (source === lastSource && filled === lastFilled && pct === lastPct && p.done !== p.total && t - lastDraw < REDRAW_MS) return;
        lastFilled = filled;
        lastPct = pct;
        lastDraw = t;
        stream.write(`\r${source.slice(-40)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}${p.total ? `/${p.total}` : ''}`);
        lastSource = source;
        return;
      }
      if (source !== lastSource) {
        lastSource = source;
        lastPct = -1;
        stream.write(`reading ${source}\n`);
      }
      const step = pct < 0 ? -1 : Math.floor(pct / 10) * 10;
      if (step >= 0 && step !== lastPct) {
        lastPct = step;
        stream.write(`${source}: ${p.done}/${p.total} files (${step}%)\n`);
      }
    },
    end() {
      if (stream.isTTY && lastSource) stream.write('\n');
    },
  };
}
