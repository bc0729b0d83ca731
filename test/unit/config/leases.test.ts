/**
 * `queue.eventLease` and `queue.outboxLease`: how long a process that died keeps its claimed events and
 * outbox notices from the others. Durations within safe bounds (the defaults, 30 s and 120 s, unchanged);
 * outside them a problem names the key and the bounds.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, defaultConfig, parseConfigText } from '../../../src/config/load.js';
import { DEFAULT_EVENT_LEASE_MS, DEFAULT_OUTBOX_LEASE_MS, EVENT_LEASE_BOUNDS, OUTBOX_LEASE_BOUNDS } from '../../../src/config/types.js';

const f = path.join(os.tmpdir(), 'leases.yaml');
const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

function problemsOf(text: string): string[] {
  try {
    parseConfigText(text, f, {});
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.problems.map((p) => `${p.key}: ${p.message}`);
  }
}

describe('config: queue.eventLease and queue.outboxLease', () => {
  it('default to 30 s and 120 s (the built-in config and a file without them)', () => {
    expect(DEFAULT_EVENT_LEASE_MS).to.equal(30_000);
    expect(DEFAULT_OUTBOX_LEASE_MS).to.equal(120_000);
    expect(defaultConfig().queue).to.include({ eventLeaseMs: 30_000, outboxLeaseMs: 120_000 });
    expect(parseConfigText('log:\n  level: info\n', f, {}).queue).to.include({ eventLeaseMs: 30_000, outboxLeaseMs: 120_000 });
  });

  it('a lease outside its bounds is refused naming the key and the bounds; a bare number is refused', () => {
    expect(problemsOf('queue:\n  eventLease: 1s\n')).to.deep.equal(['queue.eventLease: 1s is outside 10s..10m']);
    expect(problemsOf('queue:\n  outboxLease: 10s\n')).to.deep.equal(['queue.outboxLease: 10s is outside 30s..1h']);
    expect(problemsOf('queue:\n  outboxLease: 2h\n')).to.deep.equal(['queue.outboxLease: 2h is outside 30s..1h']);
    expect(problemsOf('queue:\n  eventLease: 30\n')[0]).to.match(/^queue\.eventLease: /);
  });

  it('property: a lease is taken exactly when within its bounds, in any unit', () => {
    fc.assert(
      fc.property(fc.constantFrom('eventLease' as const, 'outboxLease' as const), fc.constantFrom(...Object.keys(UNITS)), fc.integer({ min: 0, max: 5_000_000 }), (key, unit, n) => {
        const ms = n * UNITS[unit];
        const b = key === 'eventLease' ? EVENT_LEASE_BOUNDS : OUTBOX_LEASE_BOUNDS;
        const text = `queue:\n  ${key}: ${n}${unit}\n`;
        if (ms >= b.min && ms <= b.max) expect(parseConfigText(text, f, {}).queue?.[key === 'eventLease' ? 'eventLeaseMs' : 'outboxLeaseMs']).to.equal(ms);
        else {
          const p = problemsOf(text);
          expect(p).to.have.length(1);
          expect(p[0]).to.match(new RegExp(`^queue\\.${key}: ${n}${unit} is outside `));
        }
      }),
      { numRuns: 200 },
    );
  });
});
