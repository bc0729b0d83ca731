/**
 * Opening a store that is not reachable yet: `serve` waits for a PostgreSQL server that is down or
 * restarting (a replica started in the middle of a database restart must serve once it is back, not
 * exit), but a refused login or a missing database fails at once, and the wait is bounded.
 *
 * The "server comes back" case uses the real PostgreSQL behind a loopback TCP forwarder that starts
 * listening only after a delay: nothing listens on the port before (ECONNREFUSED), as while a server restarts.
 */
import net from 'node:net';
import { expect } from 'chai';
import fc from 'fast-check';
import { PushgateError } from '../../../src/core/index.js';
import { openStore, retryingStore } from '../../../src/store/index.js';
import { isConnectionError } from '../../../src/store/postgres-store.js';
import { freePort } from '../../helpers/ports.js';
import { freshDatabase } from '../../helpers/postgres.js';

const PG = new URL(process.env.PUSHGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432');


/** A TCP forwarder 127.0.0.1:port → the test PostgreSQL server. */
function forwarder(port: number): Promise<net.Server> {
  const srv = net.createServer((c) => {
    const up = net.connect(Number(PG.port || 5432), PG.hostname);
    c.pipe(up).pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
  });
  return new Promise((resolve) => srv.listen(port, '127.0.0.1', () => resolve(srv)));
}

describe('store: opening waits for an unreachable PostgreSQL, and only for that', function () {
  this.timeout(60_000);
  let db: { url: string; drop(): Promise<void> };
  before(async () => {
    db = await freshDatabase('pg_open_wait');
  });
  after(async () => {
    await db.drop();
  });

  it('a server that starts listening during the wait is opened, after retries reported through onWait', async () => {
    const port = await freePort();
    const url = new URL(db.url);
    url.port = String(port);
    let srv: net.Server | undefined;
    const waits: Array<{ attempt: number; retryable: boolean }> = [];
    const later = setTimeout(async () => {
      srv = await forwarder(port);
    }, 1200);
    try {
      const store = await openStore(url.toString(), { waitMs: 20_000, onWait: (e, attempt) => waits.push({ attempt, retryable: e.retryable }) });
      try {
        expect(await store.probeWrite()).to.deep.equal({ ok: true });
      } finally {
        await store.close();
      }
    } finally {
      clearTimeout(later);
      await new Promise((r) => (srv ? srv.close(r) : r(undefined)));
    }
    expect(waits.length, 'retried while nothing listened').to.be.greaterThan(1);
    expect(waits.map((w) => w.attempt)).to.deep.equal(waits.map((_, i) => i + 1));
    expect(waits.every((w) => w.retryable)).to.equal(true);
  });

  it('without waitMs, an unreachable server fails on the first try with a retryable STORE error', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const err = await openStore(`postgres://postgres@127.0.0.1:${port}/x`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(PushgateError);
    expect((err as PushgateError).code).to.equal('STORE');
    expect((err as PushgateError).retryable).to.equal(true);
    expect((err as PushgateError).message).to.match(/cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/x/);
    expect(Date.now() - t0).to.be.lessThan(5000);
  });

  it('the wait is bounded: it gives up after waitMs with the last error', async () => {
    const port = await freePort();
    const t0 = Date.now();
    let waits = 0;
    const err = await openStore(`postgres://postgres@127.0.0.1:${port}/x`, { waitMs: 1500, onWait: () => waits++ }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = Date.now() - t0;
    expect((err as PushgateError).code).to.equal('STORE');
    expect(waits).to.be.greaterThan(1);
    expect(took).to.be.within(1400, 10_000);
  });

  it('a missing database or a refused role fails at once, not retried (waiting would not help)', async () => {
    for (const url of [`${PG.protocol}//${PG.username || 'postgres'}@${PG.host}/pg_open_wait_does_not_exist`, `${PG.protocol}//no_such_role_pushgate@${PG.host}/postgres`]) {
      let waits = 0;
      const t0 = Date.now();
      const err = await openStore(url, { waitMs: 30_000, onWait: () => waits++ }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, url).to.be.instanceOf(PushgateError);
      expect((err as PushgateError).retryable, url).to.equal(false);
      expect(waits, url).to.equal(0);
      expect(Date.now() - t0, url).to.be.lessThan(10_000);
    }
  });

  it('classifies SQLSTATEs by class: connection exceptions and shutdowns retry, statement errors do not', () => {
    const retry = fc.oneof(
      fc.stringMatching(/^08[0-9A-Z]{3}$/),
      fc.constantFrom('57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'),
    );
    // Everything else: syntax, constraint, auth (28xxx), missing database (3D000), serialization (40001).
    const other = fc.stringMatching(/^[0-9A-Z]{5}$/).filter((c) => !c.startsWith('08') && !/^57P0[123]$/.test(c));
    fc.assert(fc.property(retry, (code) => isConnectionError(Object.assign(new Error('x'), { code }))));
    fc.assert(fc.property(other, (code) => !isConnectionError(Object.assign(new Error('statement failed'), { code }))));
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).to.equal(true);
    // node-postgres, a statement on a client whose connection already failed or ended (seen in a start
    // while every backend was ended: the migration's statement, no SQLSTATE)
    expect(isConnectionError(new Error('Client has encountered a connection error and is not queryable'))).to.equal(true);
    expect(isConnectionError(new Error('Client was closed and is not queryable'))).to.equal(true);
    expect(isConnectionError(new Error('relation "events" does not exist'))).to.equal(false);
    expect(isConnectionError(undefined)).to.equal(false);
  });

  it('retryingStore: a STORE error caused by a lost connection is tried again until the budget ends; any other error at once', async () => {
    const wrap = (code: string) => new PushgateError('STORE', `postgres: ${code}`, { cause: Object.assign(new Error(code), { code }), retryable: true });
    const lost = fc.oneof(fc.stringMatching(/^08[0-9A-Z]{3}$/), fc.constantFrom('57P01', '57P02', '57P03', 'ECONNRESET'));
    const statement = fc.stringMatching(/^[0-9A-Z]{5}$/).filter((c) => !c.startsWith('08') && !/^57P0[123]$/.test(c));
    await fc.assert(
      fc.asyncProperty(lost, fc.integer({ min: 1, max: 2 }), async (code, failures) => {
        let calls = 0;
        const waits: number[] = [];
        const v = await retryingStore(
          async () => {
            if (++calls <= failures) throw wrap(code);
            return 'read';
          },
          { waitMs: 10_000, onWait: (_e, attempt) => waits.push(attempt) },
        );
        return v === 'read' && calls === failures + 1 && waits.length === failures;
      }),
      { numRuns: 8 },
    );
    await fc.assert(
      fc.asyncProperty(statement, async (code) => {
        let calls = 0;
        const err = await retryingStore(
          async () => {
            calls++;
            throw wrap(code);
          },
          { waitMs: 10_000 },
        ).then(
          () => undefined,
          (e: unknown) => e,
        );
        return err instanceof PushgateError && calls === 1;
      }),
      { numRuns: 50 },
    );
    // the budget ends: the last error is thrown
    let calls = 0;
    const t0 = Date.now();
    const err = await retryingStore(
      async () => {
        calls++;
        throw wrap('57P01');
      },
      { waitMs: 600 },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as PushgateError).message).to.equal('postgres: 57P01');
    expect(calls).to.be.greaterThan(1);
    expect(Date.now() - t0).to.be.lessThan(5000);
  });
});

