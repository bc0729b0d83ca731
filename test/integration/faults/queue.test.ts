/**
 * The event queue under registry faults, with real components: a real Distribution 2.8 registry
 * (Debian docker-registry) notifying a real pushgate server (in-process, real HTTP on loopback), real
 * skopeo pushes of small generated images, a real SQLite store.
 * - Outage longer than the retry budget: the registry process is stopped after the push, the event
 *   spends its budget, waits as `blocked-on-registry` (metric, audit), and when the registry process
 *   is started again the registry probe resumes it: the tag ends quarantined with no operator action.
 * - Tag-move races: good, bad, good (and other orders) pushes of one tag in quick succession, many
 *   rounds, several workers: the tag always ends at the newest allowed digest; the blocked digests are
 *   in quarantine, never in the repository.
 * Ports 21800-21802.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../../src/config/types.js';
import { compilePolicy } from '../../../src/policy/index.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, metricValue } from '../../helpers/gate.js';
import { ROOT, skopeoCopyAsync } from '../../helpers/lab.js';
import { FAULTS_POLICY, registryOn, tagDigest, tinyImage, until } from './helpers.js';

const REG = 21800;
const GATE = 21801;
const TOKEN = 'faults-queue-webhook-token-0123456789';
const ROUNDS = 12;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('faults: the queue outlives registry outages and tag-move races (real registry, real pushes)', function () {
  this.timeout(240_000);
  let dir: string;
  let storage: string;
  let srv: RunningServer;
  let config: PushgateConfig;
  const reg = `http://127.0.0.1:${REG}`;
  const notify = { url: `http://127.0.0.1:${GATE}/webhooks/distribution`, token: TOKEN };
  const figures: Record<string, number | string> = {};
  // The gate's log, printed when a test fails (what it did is the first thing to look at).
  const log: string[] = [];
  const rec = (level: string) => (obj: object, msg?: string) => void log.push(`${new Date().toISOString()} ${level} ${msg ?? ''} ${JSON.stringify(obj)}`);
  const logger = { debug() {}, info: rec('info'), warn: rec('warn'), error: rec('error') };

  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stdout.write(log.slice(-60).join('\n') + '\n');
    log.length = 0;
  });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-faults-q-'));
    storage = path.join(dir, 'registry');
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    config = labGateConfig(dir, [{ ...labRegistryConfig('lab', REG, TOKEN), timeoutMs: 3_000 }]);
    config.server.listen = `127.0.0.1:${GATE}`;
    config.scan.workers = 4;
    config.queue = { maxAttempts: 2, registryProbeIntervalMs: 200 };
    srv = await startServer(config, logger, { policy: compilePolicy(FAULTS_POLICY, 'faults-policy.yaml') });
    registryOn('start', storage, REG, notify);
  });

  after(async () => {
    try {
      registryOn('stop', storage, REG);
    } catch {
      // already stopped by a failed test
    }
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    if (Object.keys(figures).length) process.stdout.write(`      figures: ${JSON.stringify(figures)}\n`);
  });

  async function metrics(): Promise<string> {
    return (await fetch(`http://127.0.0.1:${GATE}/metrics`)).text();
  }

  async function push(ref: string, target: string): Promise<void> {
    const r = await skopeoCopyAsync(ref, `127.0.0.1:${REG}/${target}`);
    if (r.code !== 0) throw new Error(`skopeo copy to ${target} failed: ${r.stderr}`);
  }

  it('an outage longer than the retry budget: the event waits blocked on the registry, and when the registry is back the tag ends quarantined without operator action', async () => {
    const bad = tinyImage(dir, 'outage-bad', { n: 1, secret: true });
    // The workers are held only until the registry's notification is queued, so the outage starts before the first attempt.
    await srv.gate.stop();
    await push(bad.ref, 'team/outage:v1');
    await until('the push notification to be queued', 20_000, async () => (await srv.store.queueCounts()).queued >= 1);
    registryOn('stop', storage, REG);
    const down = Date.now();
    srv.gate.start();
    await until('the event to be blocked on its registry', 30_000, async () => (await srv.store.queueCounts())['blocked-on-registry'] === 1);
    figures.budgetSpentAfterMs = Date.now() - down;
    // Several probe intervals with the registry still down: the event keeps waiting, nothing is final.
    await sleep(1500);
    expect(await srv.store.queueCounts()).to.deep.include({ 'blocked-on-registry': 1, failed: 0, queued: 0, running: 0 });
    await until('the blocked gauge', 5_000, async () => metricValue(await metrics(), 'pushgate_queue_events', { state: 'blocked-on-registry' }) === 1);
    const parked = await srv.store.listAudit(50, { action: 'event-blocked-on-registry', repository: 'team/outage' });
    expect(parked.length).to.be.greaterThan(0);
    expect(String(parked[0].detail?.error)).to.match(/does not answer/);

    registryOn('start', storage, REG, notify);
    const back = Date.now();
    const v = await until('the real verdict, enforced', 60_000, async () => {
      const x = await srv.store.getVerdict('lab', 'team/outage', bad.digest);
      return x?.complete && x.enforcement?.status === 'done' ? x : undefined;
    });
    figures.recoveryAfterRegistryBackMs = Date.now() - back;
    figures.outageMs = back - down;
    expect(v.decision).to.equal('quarantine');
    expect(v.reasons.map((r) => r.rule)).to.include('secrets');
    // End state on the registry: the tag is not pullable; the image is in quarantine.
    expect(await tagDigest(reg, 'team/outage', 'v1')).to.equal(undefined);
    expect(await tagDigest(reg, 'quarantine/team/outage', 'v1')).to.equal(bad.digest);
    expect((await srv.store.listAudit(50, { action: 'events-resumed', registry: 'lab' })).length).to.be.greaterThan(0);
    await until('an empty queue', 10_000, async () => {
      const c = await srv.store.queueCounts();
      return c.queued + c.running + c['blocked-on-registry'] + c.failed === 0;
    });
    await until('the gauge back at 0', 5_000, async () => metricValue(await metrics(), 'pushgate_queue_events', { state: 'blocked-on-registry' }) === 0);
  });

  it(`tag-move races: good/bad pushes of one tag in quick succession, ${ROUNDS} rounds, 4 workers: the tag always ends at the newest allowed digest`, async () => {
    const patterns = [['g', 'b', 'g'], ['g', 'g', 'b'], ['b', 'g', 'b'], ['b', 'b', 'g']];
    for (let r = 0; r < ROUNDS; r++) {
      const kinds = patterns[r % patterns.length];
      const imgs = kinds.map((k, i) => ({ k, ...tinyImage(dir, `race-${r}-${i}`, { n: 1000 + r * 10 + i, secret: k === 'b' }) }));
      for (const img of imgs) await push(img.ref, 'team/race:v1');
      // Every push judged and enforced, then no event of the repository left.
      for (const img of imgs) await until(`the verdict of round ${r} push ${img.k}`, 60_000, async () => (await srv.store.getVerdict('lab', 'team/race', img.digest))?.enforcement !== undefined);
      await until(`round ${r}: an empty queue`, 30_000, async () => {
        return (await srv.store.queueDepth()) === 0;
      });
      await sleep(300); // notifications of pushgate's own writes of this round
      await until(`round ${r}: an empty queue again`, 30_000, async () => {
        return (await srv.store.queueDepth()) === 0;
      });
      const newestAllowed = [...imgs].reverse().find((i) => i.k === 'g')!;
      expect(await tagDigest(reg, 'team/race', 'v1'), `round ${r} (${kinds.join(',')}): team/race:v1`).to.equal(newestAllowed.digest);
      for (const img of imgs.filter((i) => i.k === 'b')) {
        expect((await srv.store.getVerdict('lab', 'team/race', img.digest))?.decision).to.equal('quarantine');
        const byDigest = await fetch(`${reg}/v2/team/race/manifests/${img.digest}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
        expect(byDigest.status, `round ${r}: blocked ${img.digest} is gone from team/race`).to.equal(404);
      }
    }
    const audit = await srv.store.listAudit(5000, { repository: 'team/race' });
    const restoresSkipped = audit.filter((a) => /did not restore/.test(JSON.stringify(a.detail ?? {}))).length;
    figures.raceRounds = ROUNDS;
    figures.racePushes = ROUNDS * 3;
    figures.restoresSkippedTagMoved = restoresSkipped;
    figures.tagsRepaired = audit.filter((a) => a.action === 'tag-repaired').length;
  });
});
