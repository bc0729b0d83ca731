/**
 * Notices of enforced verdicts go through the store's outbox (src/gate/notify.ts `useOutbox`): written
 * before the gate completes the event, delivered from the outbox, so a process that dies before it
 * delivered one (killed while the target answered 503 and the next attempt waited) leaves it to the
 * next process. Before, the notice lived only in the dead process's memory and was never sent
 * (test/integration/faults/kill-steps.test.ts shows it with a real registry and `pushgate serve`).
 * On SQLite and PostgreSQL (127.0.0.1:5432); the property draws verdicts with any text (NUL, lone
 * surrogates, markup) and checks the body delivered from the outbox is the one sent directly.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Decision, Verdict } from '../../../src/core/index.js';
import { Notifier, type NotifyTarget } from '../../../src/gate/notify.js';
import { Monitor } from '../../../src/monitor/index.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import type { Store } from '../../../src/store/index.js';
import { freshStoreEachTest } from '../../helpers/postgres.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** A notification target on loopback that records every body it accepts. */
async function target(): Promise<{ url: string; bodies: Array<Record<string, unknown>>; close(): Promise<void> }> {
  const bodies: Array<Record<string, unknown>> = [];
  const srv = http.createServer((req, res) => {
    let b = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (b += d));
    req.on('end', () => {
      bodies.push(JSON.parse(b) as Record<string, unknown>);
      res.end('ok');
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`, bodies, close: () => new Promise((r) => srv.close(() => r())) };
}

function verdictOf(p: { repository: string; message: string; rule: string; decision: Decision; detail: string; tags: string[] }): Verdict {
  return {
    registry: 'lab',
    repository: p.repository,
    digest: `sha256:${'a'.repeat(64)}`,
    tags: p.tags,
    decision: p.decision,
    complete: true,
    reasons: [{ rule: p.rule, action: p.decision, message: p.message, findings: ['CVE-2024-0001'] }],
    mode: 'enforce',
    enforcement: { action: p.decision === 'quarantine' ? 'quarantine' : 'delete', status: 'done', detail: p.detail },
    policy: { name: 'default', revision: 'r1' },
    vulndb: { builtAt: null, digest: null },
    evaluatedAt: '2026-01-01T00:00:00.000Z',
    evaluations: { default: { decision: p.decision, reasons: [] } } as unknown as Verdict['evaluations'],
  };
}

/** A serve-like process: a notifier whose blocked notices go through `store`'s outbox, delivered by its monitor. */
function processOn(store: Store, targets: NotifyTarget[], owner: string, opts: { deliver: boolean } = { deliver: true }) {
  const notifier = new Notifier({ targets, logger: quiet, attempts: 1, backoffMs: 1 });
  const monitor = new Monitor({ store, logger: quiet, vulndb: () => undefined, policy: () => defaultPolicy(), owner, notifier });
  notifier.useOutbox({ add: (b) => store.monitor.addOutbox(b, Date.now()), kick: () => (opts.deliver ? monitor.kickOutbox() : undefined) });
  return { notifier, monitor };
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`notify: notices of enforced verdicts through the outbox (${kind})`, function () {
    this.timeout(120_000);
    const store = freshStoreEachTest(kind, 'pushgate_notify_outbox');

    it('a notice written by a process that died before delivering it is delivered by the next one, once', async () => {
      const t = await target();
      try {
        const targets: NotifyTarget[] = [{ url: t.url, format: 'json', events: ['quarantine', 'reject'] } as NotifyTarget];
        // The dying process: the notice is in the store when blocked() resolves; it never delivers.
        const dying = processOn(store(), targets, 'replica-a', { deliver: false });
        await dying.notifier.blocked(verdictOf({ repository: 'team/app', message: 'a private key', rule: 'secrets', decision: 'quarantine', detail: 'copied', tags: ['v1'] }));
        expect(t.bodies, 'not sent by the dying process').to.deep.equal([]);
        const next = processOn(store(), targets, 'replica-b');
        next.monitor.kickOutbox();
        await next.monitor.outboxIdle();
        expect(t.bodies.map((b) => [b.event, b.repository, b.tags])).to.deep.equal([['quarantine', 'team/app', ['v1']]]);
        next.monitor.kickOutbox();
        await next.monitor.outboxIdle();
        expect(t.bodies, 'removed once delivered').to.have.length(1);
      } finally {
        await t.close();
      }
    });

    it('a verdict no target wants writes nothing; a store that cannot write makes blocked() reject (the event is tried again)', async () => {
      const t = await target();
      try {
        const onlyReject: NotifyTarget[] = [{ url: t.url, format: 'json', events: ['reject'] } as NotifyTarget];
        const p = processOn(store(), onlyReject, 'replica-a', { deliver: false });
        await p.notifier.blocked(verdictOf({ repository: 'team/app', message: 'm', rule: 'r', decision: 'quarantine', detail: 'd', tags: [] }));
        expect(await store().monitor.claimOutbox('x', 10, 60_000, Date.now())).to.deep.equal([]);
        const failing = new Notifier({ targets: onlyReject, logger: quiet });
        failing.useOutbox({ add: () => Promise.reject(new Error('store down')), kick: () => undefined });
        let err: unknown;
        await failing.blocked(verdictOf({ repository: 'team/app', message: 'm', rule: 'r', decision: 'reject', detail: 'd', tags: [] })).catch((e: unknown) => (err = e));
        expect(String(err)).to.contain('store down');
      } finally {
        await t.close();
      }
    });

    it('property: the body delivered from the outbox is the one a direct send gives (json and slack), for any text', async () => {
      const t = await target();
      try {
        const text = fc.string({ unit: fc.constantFrom('a', 'é', '\u0000', '\ud800', '\udc00', '😀', '<', '&', '"', '\\', '\n', '\u202e'), maxLength: 24 });
        await fc.assert(
          fc.asyncProperty(
            fc.record({ repository: text, message: text, rule: text, detail: text, decision: fc.constantFrom<Decision>('quarantine', 'reject'), tags: fc.array(text, { maxLength: 3 }), format: fc.constantFrom<'json' | 'slack'>('json', 'slack') }),
            async (p) => {
              const targets: NotifyTarget[] = [{ url: t.url, format: p.format, events: ['quarantine', 'reject'] } as NotifyTarget];
              const v = verdictOf(p);
              t.bodies.length = 0;
              const direct = new Notifier({ targets, logger: quiet, attempts: 1 });
              await direct.blocked(v);
              await direct.idle();
              const viaOutbox = processOn(store(), targets, 'replica-p');
              await viaOutbox.notifier.blocked(v);
              await viaOutbox.monitor.outboxIdle();
              expect(t.bodies).to.have.length(2);
              const [a, b] = t.bodies.map((x) => JSON.stringify({ ...x, at: undefined }));
              expect(b).to.equal(a);
            },
          ),
          { numRuns: kind === 'sqlite' ? 60 : 25 },
        );
      } finally {
        await t.close();
      }
    });
  });
}
