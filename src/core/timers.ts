/**
 * Timers for configured intervals. Node's setTimeout/setInterval hold a signed 32-bit millisecond delay:
 * anything above 2^31-1 ms (about 24.8 days) is silently replaced by 1 ms (Node docs, timers), so a
 * `reconcile.interval: 30d` would fire about every millisecond. These helpers chain timeouts of at most
 * {@link MAX_TIMER_MS} so any finite interval means what it says.
 */

/** The longest delay one Node timer holds, ms (2^31-1). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A running long interval. */
export interface LongInterval {
  /** Stops it; a tick already running is not interrupted. */
  stop(): void;
}

/**
 * Calls `fn` every `intervalMs` ms (first call after one interval), for intervals of any length.
 * The timers are unref'd: they never keep the process alive.
 * @param intervalMs a positive finite number of milliseconds.
 * @throws RangeError when `intervalMs` is not positive and finite.
 */
export function setLongInterval(fn: () => void, intervalMs: number): LongInterval {
  if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) throw new RangeError(`interval must be a positive finite number of ms, got ${intervalMs}`);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const arm = (left: number) => {
    if (stopped) return;
    const step = Math.min(left, MAX_TIMER_MS);
    timer = setTimeout(() => {
      if (left > step) return arm(left - step);
      arm(intervalMs);
      fn();
    }, step);
    timer.unref();
  };
  arm(intervalMs);
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/**
 * Milliseconds since `t0` (a `performance.now()` reading), rounded to 0.1 ms. Durations are printed
 * as JSON, logged and stored: `performance.now()` differences carry float noise
 * (`33.208369999999945`) and a precision below a tenth of a millisecond that no reader uses.
 */
export function elapsedMs(t0: number, now = performance.now()): number {
  return roundMs(now - t0);
}

/** `ms` rounded to 0.1 ms: its JSON text has at most one decimal (`33.2`, `0`). */
export function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}
