/** A counting semaphore: at most `max` holders at a time, FIFO wake-up. */
export class Limiter {
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  /** @param max slots (values < 1 mean 1) */
  constructor(readonly max: number) {
    if (!(max >= 1)) this.max = 1;
  }

  /** Waits for a slot; the returned function frees it (idempotent). */
  async acquire(): Promise<() => void> {
    if (this.active < this.max) {
      this.active++;
    } else {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
      // the releaser handed its slot over: `active` is unchanged
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.active--;
    };
  }

  /** Slots in use. */
  get inUse(): number {
    return this.active;
  }
}
