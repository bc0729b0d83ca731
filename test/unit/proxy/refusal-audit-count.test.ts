/**
 * A manifest the proxy refuses as invalid is audited with the parser's message, which quotes the
 * pusher's bytes; that record must still be counted by the console's blocked-pushes chart on a real
 * PostgreSQL store (jsonb cannot hold NUL or lone surrogates), and must not stop the count of others.
 * Real HTTP through the proxy to an in-process upstream; the audit entries the proxy hands the gate
 * are written to the real store and counted with the console's action set.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import http from 'node:http';
import { once } from 'node:events';
import { startProxy } from '../../../src/proxy/proxy.js';
import { BLOCKED_ACTIONS } from '../../../src/server/console-api.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { GateDouble } from './gate-double.js';
import { answerPushCheck, proxyTestConfig } from './config.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

describe('proxy refusals of hostile manifests are counted on PostgreSQL', function () {
  this.timeout(60_000);
  let upstream: http.Server;
  let gate: GateDouble;
  let proxy: { port: number; close(): Promise<void> };
  let store: Store;
  let drop: () => Promise<void>;
  let puts = 0;

  before(async () => {
    upstream = http.createServer((req, res) => {
      if (req.method === 'PUT') puts++;
      if (answerPushCheck(req, res)) return;
      res.writeHead(req.method === 'HEAD' ? 404 : 201);
      res.end();
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const up = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    gate = new GateDouble({ upstream: up });
    proxy = await startProxy({ gate, config: proxyTestConfig(up, { listen: '127.0.0.1:0' }) });
    const db = await freshDatabase('pushgate_refusal_count');
    store = await openStore(db.url);
    drop = db.drop;
  });

  after(async () => {
    await proxy?.close();
    upstream?.close();
    await store?.close();
    await drop?.();
  });

  /** PUTs a manifest whose config digest is `digestText` and returns the proxy's status and the new audit entries. */
  async function push(repo: string, digestText: string): Promise<number> {
    const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestText, size: 2 }, layers: [] });
    const r = await fetch(`http://127.0.0.1:${proxy.port}/v2/${repo}/manifests/1`, { method: 'PUT', headers: { 'content-type': OCI_MANIFEST }, body });
    await r.arrayBuffer();
    return r.status;
  }

  it('property: any text a pusher puts where a digest belongs is refused, never forwarded, and counted under manifest-invalid', async () => {
    const char = fc.oneof(fc.constantFrom('\u0000', '\ud800', '\udfff', '\\', '"'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit: char, minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 3 }), async (texts) => {
        const repo = `hostile/r${n++}`;
        const before = (await store.countAuditRules(BLOCKED_ACTIONS, new Date(Date.now() - 3_600_000).toISOString(), 10)).records;
        const putsBefore = puts;
        const from = gate.audits.length;
        for (const t of texts) expect(await push(repo, t)).to.equal(400);
        expect(puts).to.equal(putsBefore);
        for (const a of gate.audits.slice(from)) await store.audit(a);
        const c = await store.countAuditRules(BLOCKED_ACTIONS, new Date(Date.now() - 3_600_000).toISOString(), 10);
        expect(c.records - before).to.equal(texts.length);
        expect(c.groups.filter((g) => g.registry === 'lab' && g.rule === 'manifest-invalid').reduce((a, g) => a + g.count, 0)).to.be.at.least(texts.length);
      }),
      { numRuns: 25 },
    );
  });

  it('a NUL in a refused manifest does not hide the other refusals of the window', async () => {
    const from = gate.audits.length;
    expect(await push('hostile/nul', '\u0000')).to.equal(400);
    const entries = gate.audits.slice(from);
    expect(entries.map((a) => a.action)).to.deep.equal(['proxy.refuse']);
    expect(String(entries[0]!.detail?.error)).to.include('\u0000');
    for (const a of entries) await store.audit(a);
    await store.audit({ actor: 'x', action: 'verdict:reject', registry: 'lab', repository: 'team/app', detail: { reasons: ['secrets'] } });
    const c = await store.countAuditRules(BLOCKED_ACTIONS, new Date(Date.now() - 3_600_000).toISOString(), 10);
    expect(c.groups.some((g) => g.registry === 'lab' && g.rule === 'secrets')).to.equal(true);
  });
});
