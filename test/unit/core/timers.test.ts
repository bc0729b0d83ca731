/**
 * setLongInterval: intervals longer than one Node timer holds (2^31-1 ms) are chained, never clamped to
 * 1 ms; and config rejects request timeouts no timer can hold while accepting long schedule intervals.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import path from 'node:path';
import { ConfigError, parseConfigText } from '../../../src/config/load.js';
import { elapsedMs, MAX_TIMER_MS, roundMs, setLongInterval } from '../../../src/core/timers.js';

/** Runs `fn` with setTimeout/clearTimeout replaced by a virtual clock; returns the clock's controls. */
function withVirtualClock<T>(fn: (clock: { advance(ms: number): void; delays: number[] }) => T): T {
  const real = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout };
  let now = 0;
  let id = 0;
  const pending = new Map<number, { at: number; cb: () => void }>();
  const delays: number[] = [];
  globalThis.setTimeout = ((cb: () => void, ms: number) => {
    // Node's own rule: a delay it cannot hold becomes 1 ms. A chained timer must never hit it.
    const d = ms > MAX_TIMER_MS || ms < 1 ? 1 : ms;
    delays.push(ms);
    const n = ++id;
    pending.set(n, { at: now + d, cb });
    return { unref() {}, ref() {}, [Symbol.toPrimitive]: () => n, n } as unknown as NodeJS.Timeout;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((t: { n: number } | undefined) => {
    if (t) pending.delete(t.n);
  }) as typeof clearTimeout;
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      const next = [...pending.entries()].sort((a, b) => a[1].at - b[1].at)[0];
      if (!next || next[1].at > end) break;
      pending.delete(next[0]);
      now = next[1].at;
      next[1].cb();
    }
    now = end;
  };
  try {
    return fn({ advance, delays });
  } finally {
    globalThis.setTimeout = real.setTimeout;
    globalThis.clearTimeout = real.clearTimeout;
  }
}

describe('core: setLongInterval', () => {
  it('fires once per interval for any interval length, never with a delay a timer cannot hold (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 * MAX_TIMER_MS }), fc.integer({ min: 1, max: 3 }), (interval, periods) =>
        withVirtualClock((clock) => {
          let calls = 0;
          const t = setLongInterval(() => calls++, interval);
          clock.advance(interval - 1);
          expect(calls).to.equal(0);
          clock.advance(1 + (periods - 1) * interval);
          expect(calls).to.equal(periods);
          expect(Math.max(...clock.delays)).to.be.at.most(MAX_TIMER_MS);
          t.stop();
          clock.advance(interval * 2);
          expect(calls).to.equal(periods);
        }),
      ),
      { numRuns: 200 },
    );
  });

  it('a 30-day interval does not fire within real milliseconds (setInterval would fire about every ms)', async () => {
    let calls = 0;
    const t = setLongInterval(() => calls++, 30 * 86_400_000);
    await new Promise((r) => setTimeout(r, 50));
    t.stop();
    expect(calls).to.equal(0);
  });

  it('a short interval fires with real timers and stops', async () => {
    let calls = 0;
    const t = setLongInterval(() => calls++, 10);
    await new Promise((r) => setTimeout(r, 65));
    t.stop();
    const seen = calls;
    expect(seen).to.be.within(2, 7);
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).to.equal(seen);
  });

  it('refuses an interval that is not positive and finite', () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => setLongInterval(() => undefined, bad)).to.throw(RangeError);
  });
});

describe('config: intervals and timeouts beyond one timer', () => {
  const file = path.join('/tmp', 'pushgate.yaml');
  it('accepts schedule intervals of months (vulndb.updateInterval, reconcile.interval)', () => {
    const c = parseConfigText('vulndb: { updateInterval: 30d }\nreconcile: { interval: 8w }\n', file, {});
    expect(c.vulndb.updateIntervalMs).to.equal(30 * 86_400_000);
    expect(c.reconcile?.intervalMs).to.equal(56 * 86_400_000);
  });
  it('refuses request timeouts no timer can hold, naming the key', () => {
    for (const [text, key] of [
      ['proxy: { listen: "127.0.0.1:5001", upstream: "http://127.0.0.1:5000", timeout: 25d }\nregistries: [{ name: a, url: "http://127.0.0.1:5000", type: distribution }]\n', 'proxy.timeout'],
      ['registries: [{ name: a, url: "http://127.0.0.1:5000", type: distribution, timeout: 4w }]\n', 'registries[0].timeout'],
    ]) {
      try {
        parseConfigText(text, file, {});
        expect.fail('expected a ConfigError');
      } catch (e) {
        expect(e).to.be.instanceOf(ConfigError);
        expect((e as Error).message).to.include(key).and.include('longest timeout');
      }
    }
  });
});

describe('serve: long schedules are not a busy loop', () => {
  it('vulndb.updateInterval and reconcile.interval of 25 days start no database rebuild or reconcile pass within a second', async () => {
    const { startServer } = await import('../../../src/server/serve.js');
    const { labGateConfig } = await import('../../helpers/gate.js');
    const fs = await import('node:fs');
    const os = await import('node:os');
    const { ROOT } = await import('../../helpers/lab.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-longtimer-'));
    const config = labGateConfig(dir, [{ name: 'a', url: 'http://127.0.0.1:9', type: 'distribution', insecure: false, webhook: { token: 't'.repeat(24) }, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 1, timeoutMs: 1000 }]);
    config.vulndb.sources = [path.join(ROOT, 'test/fixtures/vulndb/osv')];
    // A database is there, so serve has no reason to build one at start.
    const { updateDb } = await import('../../../src/vulndb/index.js');
    await updateDb({ path: config.vulndb.path, sources: config.vulndb.sources });
    config.vulndb.updateIntervalMs = 25 * 86_400_000;
    config.reconcile = { intervalMs: 25 * 86_400_000 };
    const lines: string[] = [];
    const log = (_o: object, msg?: string) => void lines.push(msg ?? '');
    const srv = await startServer(config, { debug: log, info: log, warn: log, error: log });
    try {
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await srv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(lines.filter((l) => /vulndb update|vulnerability database updated|reconcile pass/.test(l))).to.deep.equal([]);
  });
});

describe('elapsedMs / roundMs: durations as printed and stored', () => {
  it('are within 0.05 ms of the exact difference and their JSON has at most one decimal (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e7, noNaN: true }), fc.double({ min: 0, max: 1e7, noNaN: true }), (t0, d) => {
        const ms = elapsedMs(t0, t0 + d);
        expect(JSON.stringify(ms)).to.match(/^\d+(\.\d)?$/);
        expect(Math.abs(ms - (t0 + d - t0))).to.be.at.most(0.05 + 1e-6);
        expect(roundMs(ms)).to.equal(ms);
      }),
      { numRuns: 500 },
    );
    expect(roundMs(33.208369999999945)).to.equal(33.2);
  });
});
