/**
 * A push whose notification the registry lost must not stay pullable. Distribution keeps its delivery
 * queue in memory (protocols.md §1.5): while pushgate is down (an upgrade, a crash, a node drain) the
 * registry holds and retries every event, and a registry restart in that time drops them all. With the
 * shipped configuration (`reconcile.interval` off) nothing judged such a push ever: pushgate came back,
 * the registry's new instance notified later pushes, and the violating tag stayed pullable with no verdict.
 * Each Distribution instance names itself in every event (`source.instanceID`, a UUID made at start), so
 * the first event of an instance pushgate has not seen, for a registry it has seen another instance of,
 * says the registry restarted and may have lost events: the registry is reconciled at once.
 * Real Distribution 2.8 restarted on its storage, a real `pushgate serve` stopped and started on its store.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig } from '../../src/config/load.js';
import type { PushgateConfig, RegistryConfig } from '../../src/config/types.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { updateDb } from '../../src/vulndb/index.js';
import { silentLogger as silent } from '../helpers/gate.js';
import { ROOT } from '../helpers/lab.js';
import { ensureBlob, imageConfig, imageManifest, labClient, makeLayer, registryOn, secretLayer } from '../integration/notifications/helpers.js';

const REG_PORT = 25962;
const PG_PORT = 25963;
const TOKEN = 'registry-restart-token-0123456789';
const OCI = 'application/vnd.oci.image.manifest.v1+json';

describe('security: pushes whose notifications a registry restart dropped are judged', function () {
  this.timeout(240_000);
  let dir: string;
  let storage: string;
  let config: PushgateConfig;
  let srv: RunningServer | undefined;

  const registry = (action: 'start' | 'stop') =>
    registryOn(action, storage, REG_PORT, ['--notify-url', `http://127.0.0.1:${PG_PORT}/webhooks/distribution`, '--notify-header', `Authorization: Bearer ${TOKEN}`]);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-sec-restart-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    config = defaultConfig();
    config.server.listen = `127.0.0.1:${PG_PORT}`;
    config.store.url = `sqlite:${path.join(dir, 'pushgate.db')}`;
    config.vulndb.path = path.join(dir, 'vulndb.sqlite');
    config.vulndb.sources = [];
    const rc: RegistryConfig = { name: 'lab', url: `http://127.0.0.1:${REG_PORT}`, type: 'distribution', insecure: false, webhook: { token: TOKEN }, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 8, timeoutMs: 5_000 };
    config.registries = [rc];
    storage = path.join(dir, 'reg');
  });

  after(async () => {
    registryOn('stop', storage, REG_PORT);
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('pushgate down, a violating push, the registry restarted, pushgate back: the push is judged and enforced', async () => {
    expect(config.reconcile?.intervalMs ?? 0, 'the shipped default: no periodic reconcile').to.equal(0);
    const c = labClient(`http://127.0.0.1:${REG_PORT}`);
    const clean = async (repo: string, n: number): Promise<string> => {
      const l = await makeLayer({ 'etc/os-release': 'ID=lab\nVERSION_ID=1\n', [`app/${n}.txt`]: `${n}\n` });
      const cfg = imageConfig(l.diffId, n);
      await ensureBlob(c, repo, l.gz);
      await ensureBlob(c, repo, cfg);
      return c.putManifest(repo, `v${n}`, imageManifest(cfg, l.gz), OCI);
    };
    // pushgate and the registry's first instance: a push is notified and judged as usual
    srv = await startServer(config, silent);
    registry('start');
    const first = await clean('team/web', 1);
    await until('the first push judged', 60_000, async () => (await srv!.store.getVerdict('lab', 'team/web', first))?.enforcement);

    // pushgate goes down; a violating push lands; the registry restarts before it could deliver the event
    await srv.close();
    srv = undefined;
    const bad = await secretLayer();
    const badCfg = imageConfig(bad.diffId, 99);
    await ensureBlob(c, 'team/app', bad.gz);
    await ensureBlob(c, 'team/app', badCfg);
    const digest = await c.putManifest('team/app', 'v1', imageManifest(badCfg, bad.gz), OCI);
    registry('stop');
    srv = await startServer(config, silent);
    registry('start');
    expect((await c.resolve('team/app', 'v1'))?.digest, 'the violating tag is in the registry').to.equal(digest);

    // the registry's new instance notifies a later push: pushgate learns it restarted
    const later = await clean('team/web', 2);
    await until('the later push judged', 60_000, async () => (await srv!.store.getVerdict('lab', 'team/web', later))?.enforcement);
    const v = await until('a verdict of the push whose notification was lost', 60_000, async () => (await srv!.store.getVerdict('lab', 'team/app', digest))?.enforcement ? srv!.store.getVerdict('lab', 'team/app', digest) : undefined);
    expect(v!.decision).to.equal('reject');
    await until('the violating tag taken out of team/app', 30_000, async () => ((await c.resolve('team/app', 'v1')) === undefined ? true : undefined));
    const [rec] = await srv.store.listAudit(1, { action: 'registry-instance-new', registry: 'lab' });
    expect(rec?.detail).to.include({ reconcile: 'registry' });
  });
});
