/**
 * A registry restart drops the notifications its previous process still held (Distribution's queue is
 * in memory), so the first envelope from a new instance of a registry (`source.instanceID`) asks for a
 * reconcile of that registry, once per instance, whichever event carried it (a push, a pull, a blob, a
 * mount, an event pushgate cannot use), also after pushgate itself restarted on the same store; the
 * first instance ever seen of a registry asks for nothing (no earlier queue to lose). Real HTTP on
 * loopback, a real SQLite store and the gate without workers; a fast-check property over envelope
 * sequences, instances, registries and pushgate restarts, against a model.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Gate } from '../../../src/gate/gate.js';
import { Metrics } from '../../../src/metrics/index.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { createApp } from '../../../src/server/app.js';
import { INSTANCE_AUDIT_ACTION } from '../../../src/server/registry-instances.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { parseDistributionEnvelope } from '../../../src/webhooks/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../../helpers/gate.js';

const TOKENS: Record<string, string> = { lab: 'instances-token-lab-0123456789abcdef', other: 'instances-token-other-0123456789abcd' };
const D = (c: string) => `sha256:${c.repeat(64)}`;
const INSTANCES = ['1e6f0eac-b7c9-4823-a6c9-8b41aaf53bcb', '5b1f3f7e-8a0e-4a43-9d55-0d2c1b9e7f11', '9c2d4e6f-0a1b-4c3d-8e5f-6a7b8c9d0e1f', 'd0e1f2a3-b4c5-4d6e-8f70-8192a3b4c5d6'];

type Kind = 'push' | 'pull' | 'blob' | 'mount' | 'tag-delete' | 'malformed';

/** One Distribution 2.8 event of `kind`, sent by `instance` (none: no `source`). */
function event(kind: Kind, n: number, instance: string | undefined): Record<string, unknown> {
  const source = instance === undefined ? {} : { source: { addr: 'registry:5000', instanceID: instance } };
  const repository = `team/app${n % 3}`;
  const target =
    kind === 'push' ? { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('a'), size: 10, repository, tag: `v${n}` }
    : kind === 'pull' ? { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('a'), size: 10, repository, tag: 'v1' }
    : kind === 'blob' ? { mediaType: 'application/octet-stream', digest: D('b'), size: 10, repository }
    : kind === 'mount' ? { mediaType: 'application/octet-stream', digest: D('b'), size: 10, repository }
    : kind === 'tag-delete' ? { repository, tag: 'v1' }
    : { repository: 'NOT A NAME' };
  const action = kind === 'push' || kind === 'blob' ? 'push' : kind === 'pull' ? 'pull' : kind === 'mount' ? 'mount' : kind === 'tag-delete' ? 'delete' : 'push';
  return { id: `ev-${n}-${Math.random().toString(36).slice(2)}`, timestamp: new Date().toISOString(), action, target, actor: { name: 'dev' }, ...source };
}

interface Envelope { registry: 'lab' | 'other'; events: Array<{ kind: Kind; instance: number | null }> }
type Step = { restart: true } | Envelope;

describe('server: a registry instance never seen before means a restart, and the registry is reconciled', () => {
  it('the parser names each distinct instance of an envelope once, in order, whatever the events are', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ kind: fc.constantFrom<Kind>('push', 'pull', 'blob', 'mount', 'tag-delete', 'malformed'), instance: fc.option(fc.constantFrom(...INSTANCES), { nil: undefined }) }), { maxLength: 8 }), (evs) => {
        const parsed = parseDistributionEnvelope({ events: evs.map((e, i) => event(e.kind, i, e.instance)) }, 'lab');
        const want = [...new Set(evs.map((e) => e.instance).filter((x): x is string => x !== undefined))];
        expect(parsed.instances ?? []).to.deep.equal(want);
      }),
      { numRuns: 200 },
    );
    // what a sender writes there is kept only when it looks like an identifier
    const odd = parseDistributionEnvelope({ events: [event('pull', 1, 'x'.repeat(129)), event('pull', 2, 'a b'), { ...event('pull', 3, undefined), source: { instanceID: 7 } }] }, 'lab');
    expect(odd.instances).to.equal(undefined);
  });

  it('property: a reconcile of the registry for each first envelope of an instance after its first instance, across pushgate restarts', async function () {
    this.timeout(120_000);
    const envelope: fc.Arbitrary<Step> = fc.record({
      registry: fc.constantFrom<'lab' | 'other'>('lab', 'other'),
      events: fc.array(fc.record({ kind: fc.constantFrom<Kind>('push', 'pull', 'blob', 'mount', 'tag-delete', 'malformed'), instance: fc.option(fc.nat({ max: INSTANCES.length - 1 }), { nil: null }) }), { minLength: 1, maxLength: 4 }),
    });
    const steps = fc.array(fc.oneof({ arbitrary: envelope, weight: 5 }, { arbitrary: fc.constant<Step>({ restart: true }), weight: 1 }), { minLength: 1, maxLength: 10 });
    await fc.assert(
      fc.asyncProperty(steps, async (seq) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-instances-'));
        const config = labGateConfig(dir, [labRegistryConfig('lab', 5999, TOKENS.lab!), labRegistryConfig('other', 5998, TOKENS.other!)]);
        const store: Store = await openStore(config.store.url);
        const asked: Array<[string, string[] | undefined]> = [];
        let server: http.Server | undefined;
        let base = '';
        const start = async () => {
          const gate = new Gate({ config, store, policy: defaultPolicy(), logger: silentLogger });
          server = http.createServer(createApp({ config, gate, store, metrics: new Metrics({ defaultMetrics: false }), logger: silentLogger, onEventsLost: (r, repos) => asked.push([r, repos]) }));
          await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
          base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        };
        const stop = () => new Promise<void>((r) => server!.close(() => r()));
        try {
          await start();
          const everSeen: Record<string, Set<string>> = { lab: new Set(), other: new Set() };
          const want: Array<[string, undefined]> = [];
          let n = 0;
          for (const step of seq) {
            if ('restart' in step) {
              await stop();
              await start();
              continue;
            }
            const evs = step.events.map((e) => event(e.kind, n++, e.instance === null ? undefined : INSTANCES[e.instance]));
            const r = await fetch(`${base}/webhooks/distribution`, { method: 'POST', headers: { authorization: `Bearer ${TOKENS[step.registry]}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' }, body: JSON.stringify({ events: evs }) });
            expect(r.status).to.equal(202);
            const seen = everSeen[step.registry]!;
            for (const e of step.events) {
              if (e.instance === null) continue;
              const id = INSTANCES[e.instance]!;
              if (seen.has(id)) continue;
              if (seen.size > 0) want.push([step.registry, undefined]);
              seen.add(id);
            }
          }
          expect(asked).to.deep.equal(want);
          // each instance recorded once, with whether it was a restart
          for (const reg of ['lab', 'other']) {
            const recs = await store.listAudit(100, { action: INSTANCE_AUDIT_ACTION, registry: reg });
            expect(recs.map((x) => x.detail?.instanceID).sort()).to.deep.equal([...everSeen[reg]!].sort());
            expect(recs.filter((x) => x.detail?.reconcile === 'none')).to.have.length(Math.min(1, everSeen[reg]!.size));
          }
        } finally {
          await stop();
          await store.close();
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 40 },
    );
  });

  it('the registry notifying from an instance seen before pushgate restarted asks for nothing; two envelopes at once from a new instance ask once', async function () {
    this.timeout(30_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-instances-'));
    const config = labGateConfig(dir, [labRegistryConfig('lab', 5999, TOKENS.lab!)]);
    const store = await openStore(config.store.url);
    const asked: string[] = [];
    const gate = new Gate({ config, store, policy: defaultPolicy(), logger: silentLogger });
    const server = http.createServer(createApp({ config, gate, store, metrics: new Metrics({ defaultMetrics: false }), logger: silentLogger, onEventsLost: (r) => asked.push(r) }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const post = (instance: string, n: number) => fetch(`${base}/webhooks/distribution`, { method: 'POST', headers: { authorization: `Bearer ${TOKENS.lab}`, 'content-type': 'application/json' }, body: JSON.stringify({ events: [event('push', n, instance)] }) });
    try {
      expect((await post(INSTANCES[0]!, 1)).status).to.equal(202);
      expect(asked).to.deep.equal([]);
      const rs = await Promise.all([post(INSTANCES[1]!, 2), post(INSTANCES[1]!, 3), post(INSTANCES[1]!, 4)]);
      expect(rs.map((r) => r.status)).to.deep.equal([202, 202, 202]);
      expect(asked).to.deep.equal(['lab']);
      expect(await store.listAudit(10, { action: INSTANCE_AUDIT_ACTION })).to.have.length(2);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
