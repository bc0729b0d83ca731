/**
 * An authenticated notification is always answered 2xx once it is safely recorded (real HTTP on
 * loopback, a real SQLite store, the gate without workers). Every kind of body pushgate cannot
 * read — over the limit (Content-Length and chunked), gzip over the limit, not JSON, JSON that is
 * no envelope, broken compression — is answered 202, recorded as `events-lost` in the audit log,
 * counted in `pushgate_events_lost_total`, and hands the repositories it named (or the whole
 * registry) to the reconciler. A registry retries anything else forever and holds its queue behind it.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { Gate } from '../../../src/gate/gate.js';
import { Metrics } from '../../../src/metrics/index.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { createApp } from '../../../src/server/app.js';
import { closesWhole, readEnvelope, repositoryNamesIn } from '../../../src/server/envelope.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { labGateConfig, labRegistryConfig, metricValue, silentLogger } from '../../helpers/gate.js';

const TOKEN = 'events-lost-token-0123456789abcdef';
const LIMIT = 64 * 1024;
const D = (c: string) => `sha256:${c.repeat(64)}`;

/** A Distribution 2.8 manifest push event, with `n` layer references (includereferences: true). */
function pushEvent(repository: string, tag: string, n: number): Record<string, unknown> {
  return {
    id: `ev-${repository}-${tag}-${n}`,
    timestamp: new Date().toISOString(),
    action: 'push',
    target: {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: 1234,
      digest: D('a'),
      length: 1234,
      repository,
      url: `http://127.0.0.1:5999/v2/${repository}/manifests/${D('a')}`,
      tag,
      references: Array.from({ length: n }, () => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D('b'), size: 32 })),
    },
    request: { id: 'r', addr: '127.0.0.1:1', host: '127.0.0.1:5999', method: 'PUT', useragent: 'skopeo' },
    actor: { name: 'dev' },
  };
}

describe('server: notifications pushgate cannot read are answered 202, recorded as lost and reconciled', () => {
  let dir: string;
  let store: Store;
  let server: http.Server;
  let base: string;
  let metrics: Metrics;
  const asked: Array<[string, string[] | undefined]> = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-events-lost-'));
    const config = labGateConfig(dir, [labRegistryConfig('lab', 5999, TOKEN)]);
    config.server.bodyLimitBytes = LIMIT;
    store = await openStore(config.store.url);
    metrics = new Metrics({ defaultMetrics: false });
    const gate = new Gate({ config, store, policy: defaultPolicy(), logger: silentLogger });
    server = http.createServer(createApp({ config, gate, store, metrics, logger: silentLogger, onEventsLost: (r, repos) => asked.push([r, repos]) }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => (asked.length = 0));

  const post = (route: string, body: string | Buffer | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
    fetch(`${base}/webhooks/${route}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json', ...headers }, body, duplex: 'half' } as RequestInit);

  it('an envelope over the limit (a manifest with thousands of layers) is 202, audited, counted, and its repositories reconciled', async () => {
    const body = JSON.stringify({ events: [pushEvent('team/huge', 'v1', 3000), pushEvent('team/other', 'v2', 1)] });
    expect(body.length).to.be.greaterThan(LIMIT);
    const r = await post('distribution', body);
    expect(r.status).to.equal(202);
    expect(await r.json()).to.deep.include({ accepted: 0, lost: 'oversized', reconcile: ['team/huge', 'team/other'] });
    expect(asked).to.deep.equal([['lab', ['team/huge', 'team/other']]]);
    const [a] = await store.listAudit(1, { action: 'events-lost' });
    expect(a!.registry).to.equal('lab');
    expect(a!.detail).to.deep.include({ source: 'distribution', reason: 'oversized', bytes: body.length, reconcile: 'repositories' });
    expect(metricValue(await metrics.text(), 'pushgate_events_lost_total', { source: 'distribution', registry: 'lab', reason: 'oversized' })).to.equal(1);
    expect(await store.queueDepth()).to.equal(0);
  });

  it('chunked and gzip-compressed oversized bodies are read to the end and their names found across chunk boundaries', async () => {
    const body = Buffer.from(JSON.stringify({ events: [pushEvent('team/split-name', 'v1', 3000)] }));
    // chunks of 61 bytes: names straddle boundaries (every chunking: the property test below)
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < body.length; i += 61) c.enqueue(body.subarray(i, i + 61));
        c.close();
      },
    });
    const r = await post('distribution', chunked);
    expect(r.status).to.equal(202);
    expect(asked.pop()).to.deep.equal(['lab', ['team/split-name']]);
    const gz = await post('distribution', zlib.gzipSync(Buffer.from(JSON.stringify({ events: [pushEvent('team/zipped', 'v1', 8000)] }))), { 'content-encoding': 'gzip' });
    expect(gz.status).to.equal(202);
    expect(asked.pop()).to.deep.equal(['lab', ['team/zipped']]);
  });

  const unreadable: Array<[string, string, string | Buffer, Record<string, string>, string[] | undefined]> = [
    // Cut short: the events past the cut (and what they named) are unknown, so the whole registry.
    ['a body cut short', 'distribution', '{"events":[{"action":"push","target":{"repository":"team/cut"', {}, undefined],
    ['not JSON, but whole', 'distribution', '{"events":[{"action":"push","target":{"repository":"team/whole", x}}]}', {}, ['team/whole']],
    ['not JSON at all', 'distribution', 'garbage', {}, undefined],
    ['JSON without events', 'distribution', '{"evnts":[]}', {}, undefined],
    ['events that is no array', 'distribution', '{"events":{"target":{"repository":"team/obj"}}}', {}, ['team/obj']],
    ['a JSON array', 'distribution', '[]', {}, undefined],
    ['broken gzip', 'distribution', Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' }, undefined],
    ['a Harbor body that is no payload', 'harbor', '{"type":"PUSH_ARTIFACT","event_data":{"repository":{"repo_full_name":"team/hb"}} x}', {}, ['team/hb']],
    ['a Harbor body cut short', 'harbor', '{"type":"PUSH_ARTIFACT","event_data":{"repository":{"repo_full_name":"team/hb"}}', {}, undefined],
    ['an invalid repository name only', 'distribution', '{"events":{"target":{"repository":"../../etc"}}}', {}, undefined],
  ];
  for (const [what, route, body, headers, want] of unreadable) {
    it(`${route}: ${what} → 202, recorded, ${want ? 'its repositories' : 'the whole registry'} reconciled`, async () => {
      const before = (await store.listAudit(1000, { action: 'events-lost' })).length;
      const r = await post(route, body, headers);
      expect(r.status, await r.clone().text()).to.equal(202);
      expect(asked).to.deep.equal([['lab', want]]);
      expect((await store.listAudit(1000, { action: 'events-lost' })).length).to.equal(before + 1);
    });
  }

  it('an envelope cut anywhere (its framing complete, its JSON not): every repository it named before or after the cut is reconciled', async () => {
    const NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*){0,2}$/;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.stringMatching(NAME).filter((s) => s.length > 0 && s.length < 60), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 3 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        async (repos, layers, at) => {
          const text = JSON.stringify({ events: repos.map((r, i) => ({ ...pushEvent(r, `v${i}`, layers), id: `cut-${i}` })) });
          const cut = text.slice(0, 1 + Math.floor(at * (text.length - 1)));
          asked.length = 0;
          const r = await post('distribution', cut);
          expect(r.status, await r.clone().text()).to.equal(202);
          expect(asked).to.have.length(1);
          const [registry, scope] = asked[0];
          expect(registry).to.equal('lab');
          // undefined is the whole registry; a list must hold every repository of the envelope.
          if (scope) expect(scope).to.include.members(repos);
          const [a] = await store.listAudit(1, { action: 'events-lost' });
          expect(a.detail?.reason).to.equal('not-json');
          if (a.detail?.reconcile !== 'registry') expect(a.detail?.repositories).to.include.members(repos);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('closesWhole: a prefix of a JSON object or array never passes; the whole text does', () => {
    fc.assert(
      fc.property(fc.oneof(fc.object(), fc.array(fc.jsonValue())), fc.nat(), (v, n) => {
        const text = JSON.stringify(v);
        expect(closesWhole(text)).to.equal(true);
        expect(closesWhole(`  ${text}\n`)).to.equal(true);
        const cut = n % text.length;
        expect(closesWhole(text.slice(0, cut)), text.slice(0, cut)).to.equal(false);
      }),
      { numRuns: 500 },
    );
  });

  it('a readable envelope is still queued (one transaction) and unauthenticated callers still get 401', async () => {
    const r = await post('distribution', JSON.stringify({ events: [pushEvent('team/ok', 'v1', 2), { ...pushEvent('team/ok2', 'v1', 0), id: 'second' }] }));
    expect(r.status).to.equal(202);
    expect(await r.json()).to.deep.include({ accepted: 2 });
    expect(asked).to.deep.equal([]);
    const u = await fetch(`${base}/webhooks/distribution`, { method: 'POST', body: 'x'.repeat(LIMIT * 2) });
    expect(u.status).to.equal(401);
  });
});

describe('server: readEnvelope (bounded read, names found in any chunking)', () => {
  const NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*){0,2}$/;
  const stream = (buf: Buffer, cuts: number[]) => {
    const parts: Buffer[] = [];
    let at = 0;
    for (const c of [...new Set(cuts.map((x) => x % (buf.length + 1)))].sort((a, b) => a - b)) {
      parts.push(buf.subarray(at, c));
      at = c;
    }
    parts.push(buf.subarray(at));
    return Object.assign(Readable.from(parts.filter((p) => p.length)), { headers: {} });
  };

  it('under the limit: the exact bytes; over it: every repository name, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.stringMatching(NAME).filter((s) => s.length > 0 && s.length < 100), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.integer({ min: 0, max: 400 }),
        async (names, cuts, pad) => {
          const text = JSON.stringify({ events: names.map((n, i) => ({ action: 'push', target: { repository: n, references: 'x'.repeat(pad * i) } })) });
          const buf = Buffer.from(text);
          const big = await readEnvelope(stream(buf, cuts), Math.floor(buf.length / 2));
          expect(big.kind).to.equal('oversized');
          if (big.kind === 'oversized') {
            expect(big.size).to.equal(buf.length);
            expect([...big.repositories].sort()).to.deep.equal([...new Set(names)].sort());
          }
          const small = await readEnvelope(stream(buf, cuts), buf.length);
          expect(small.kind === 'body' && small.bytes.equals(buf)).to.equal(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('keeps at most maxNames names and says there were more', async () => {
    const text = JSON.stringify({ events: Array.from({ length: 50 }, (_, i) => ({ target: { repository: `r${i}` } })) });
    const r = await readEnvelope(Object.assign(Readable.from([Buffer.from(text)]), { headers: {} }), 10, 5);
    expect(r).to.deep.include({ kind: 'oversized', moreNames: true });
    expect(r.kind === 'oversized' && r.repositories.length).to.equal(5);
    expect(repositoryNamesIn('{"repo_full_name": "team/a\\u0062"}')).to.deep.equal(['team/ab']);
  });
});
