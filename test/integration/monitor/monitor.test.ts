/**
 * Continuous monitoring on real components: a real Distribution 2.8 registry notifying an in-process
 * `pushgate serve` (real HTTP on loopback), lab images pushed with skopeo, databases built by the
 * `db update` code from the OSV fixtures.
 * - The images are judged under a database without NSWG-NPM-458 (adm-zip < 0.4.9). The update adding it
 *   is swapped in: the monitor's pass names it in a change record of the adm-zip image only, the
 *   notify[] target receives exactly that one new finding, the verdict keeps its decision
 *   (`onNewFindings: notify`, the default), `GET /api/v1/vulnerabilities/CVE-…/images` lists the image,
 *   and pushgate sends no request to the registry during the pass (its registry client's request
 *   counter, pushgate_registry_requests_total, does not move).
 * - The advisory withdrawn: the next pass resolves the finding.
 * - After an analyzer upgrade (the image's scan cached under another analyzer-set version), a rescan
 *   reads only that image from the registry again, reports its progress and indexes the new scan.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Verdict } from '../../../src/core/index.js';
import type { NewFindingsBody } from '../../../src/gate/notify.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import type { ChangeRecord } from '../../../src/store/index.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, metricValue, silentLogger } from '../../helpers/gate.js';
import { labOci, skopeoCopyAsync, startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { OSV } from '../../helpers/monitor.js';
import Database from 'better-sqlite3';
import { SCAN_KEY } from '../../../src/gate/gate.js';
import type { RescanProgress } from '../../../src/monitor/index.js';

const SRV_PORT = 23600;
const REG_PORT = 23601;
const HOOK_PORT = 23602;
const TOKEN = 'monitor-webhook-token-0123456789';
const API = 'monitor-api-token-0123456789';

/** Copies the OSV fixtures into `dir`, with `edit` applied to NSWG-NPM-458 (undefined: left out). */
function osvSet(dir: string, edit: ((r: Record<string, unknown>) => Record<string, unknown>) | undefined): string {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(OSV, dir, { recursive: true });
  const f = path.join(dir, 'npm/NSWG-NPM-458.json');
  if (edit) fs.writeFileSync(f, JSON.stringify(edit(JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>)));
  else fs.rmSync(f);
  return dir;
}

describe('monitor: a database change re-judges stored images without a registry request', function () {
  this.timeout(300_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let hook: http.Server;
  const received: NewFindingsBody[] = [];
  let zip: string;
  let base: string;
  const api = (p: string) => fetch(`http://127.0.0.1:${SRV_PORT}/api/v1${p}`, { headers: { authorization: `Bearer ${API}` } });

  async function verdictOf(repo: string, tag: string): Promise<Verdict> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const r = await api(`/verdicts?image=${encodeURIComponent(`127.0.0.1:${REG_PORT}/${repo}:${tag}`)}`);
      if (r.status === 200) {
        const v = (await r.json()) as Verdict;
        if (v.enforcement) return v;
      }
      if (Date.now() > deadline) throw new Error(`no verdict for ${repo}:${tag}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  async function changesOf(digest: string, n: number): Promise<ChangeRecord[]> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await api(`/images/${digest}/changes`);
      expect(r.status).to.equal(200);
      const list = (await r.json()) as ChangeRecord[];
      if (list.length >= n) return list;
      if (Date.now() > deadline) throw new Error(`${digest}: ${list.length} change records, expected ${n}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  async function registryRequests(): Promise<number> {
    return metricValue(await srv.metrics.text(), 'pushgate_registry_requests_total');
  }

  /** Builds the database from `sources` in place, as `pushgate db update` does, and has the gate load it. */
  async function update(sources: string): Promise<void> {
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [sources] });
    srv.gate.reloadVulnDb();
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-monitor-int-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [osvSet(path.join(dir, 'osv-old'), undefined)] });
    hook = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as NewFindingsBody);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(HOOK_PORT, '127.0.0.1', r));
    const config = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.server.listen = `127.0.0.1:${SRV_PORT}`;
    config.api.tokens = [API];
    config.notify = [{ url: `http://127.0.0.1:${HOOK_PORT}/hook`, format: 'json', events: ['new-findings'] }];
    srv = await startServer(config, silentLogger, { monitorIntervalMs: 300 });
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${SRV_PORT}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}` });
  });

  after(async () => {
    reg?.stop();
    await srv?.close();
    await new Promise((r) => hook?.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an added advisory: one change record naming it, one notice with exactly that finding, no registry request; withdrawn: resolved', async () => {
    for (const [src, dst] of [[labOci('adm-zip', '0.4.7'), 'team/zip:1'], [labOci('debian-minbase', 'bookworm'), 'team/base:1']]) {
      const r = await skopeoCopyAsync(src, `127.0.0.1:${REG_PORT}/${dst}`);
      expect(r.code, r.stderr).to.equal(0);
    }
    const zipV = await verdictOf('team/zip', '1');
    const baseV = await verdictOf('team/base', '1');
    zip = zipV.digest;
    base = baseV.digest;
    expect(zipV.vulndb.digest).to.match(/^sha256:[0-9a-f]{64}$/);
    const before = zipV.decision;
    // let the monitor index both and settle on this database
    await new Promise((r) => setTimeout(r, 1500));
    expect((await (await api(`/vulnerabilities/CVE-2018-1002204/images`)).json()) as { images: unknown[] }).to.deep.include({ images: [] });
    const requests = await registryRequests();
    expect(requests).to.be.greaterThan(0);

    await update(osvSet(path.join(dir, 'osv-new'), (r) => r));
    const [change] = await changesOf(zip, 1);
    expect(change.new.map((f) => `${f.id} ${f.package} ${f.installedVersion}`)).to.deep.equal(['NSWG-NPM-458 adm-zip 0.4.7']);
    expect(change.resolved).to.deep.equal([]);
    expect(change.decision).to.deep.equal({ before, after: before });
    expect(change.onNewFindings?.action).to.equal('notify');
    expect(change.vulndb.before).to.equal(zipV.vulndb.digest);
    expect(change.vulndb.after).to.not.equal(zipV.vulndb.digest);
    expect(await registryRequests(), 'no registry request during the pass').to.equal(requests);
    // the notice arrives in the background
    for (let i = 0; i < 100 && !received.length; i++) await new Promise((r) => setTimeout(r, 100));
    await srv.notifier?.idle();
    expect(received).to.have.length(1);
    expect(received[0]).to.include({ event: 'new-findings', registry: 'lab', repository: 'team/zip', digest: zip });
    expect(received[0].advisories).to.deep.equal([
      { id: 'NSWG-NPM-458', aliases: ['CVE-2018-1002204'], severity: 'high', packages: [{ name: 'adm-zip', installedVersion: '0.4.7', fixedVersions: ['0.4.9'], path: received[0].advisories[0].packages[0].path }] },
    ]);
    expect((await (await api(`/images/${base}/changes`)).json()) as unknown[], 'the base image holds no adm-zip').to.deep.equal([]);
    const affected = (await (await api(`/vulnerabilities/cve-2018-1002204/images`)).json()) as { images: Array<{ digest: string; verdicts: Array<{ repository: string; tags: string[] }> }> };
    expect(affected.images.map((i) => i.digest)).to.deep.equal([zip]);
    expect(affected.images[0].verdicts.map((v) => `${v.repository}:${v.tags.join(',')}`)).to.deep.equal(['team/zip:1']);
    // (a verdict asked for by tag is answered for the digest the registry serves now: one request)
    const v = await verdictOf('team/zip', '1');
    const requestsNow = await registryRequests();
    expect(v.decision, 'onNewFindings notify keeps the decision').to.equal(before);
    expect(v.vulndb.digest).to.equal(change.vulndb.after);
    const metrics = await srv.metrics.text();
    expect(metricValue(metrics, 'pushgate_new_findings_total', { severity: 'high' })).to.equal(1);
    expect(metricValue(metrics, 'pushgate_monitor_runs_total', { kind: 'db', result: 'done' })).to.be.greaterThan(0);

    await update(osvSet(path.join(dir, 'osv-withdrawn'), (r) => ({ ...r, withdrawn: '2026-12-05T00:00:00Z' })));
    const [resolved] = await changesOf(zip, 2);
    expect(resolved.resolved.map((f) => f.id)).to.deep.equal(['NSWG-NPM-458']);
    expect(resolved.new).to.deep.equal([]);
    expect(await registryRequests()).to.equal(requestsNow);
    await srv.notifier?.idle();
    expect(received, 'nothing new to notify').to.have.length(1);
    expect(((await (await api(`/vulnerabilities/CVE-2018-1002204/images`)).json()) as { images: unknown[] }).images).to.deep.equal([]);
  });

  it('the monitoring calls are authenticated like the rest of the API; a full pass needs the admin role', async () => {
    const bare = (p: string, init?: RequestInit) => fetch(`http://127.0.0.1:${SRV_PORT}/api/v1${p}`, init);
    expect((await bare(`/images/${zip}/changes`)).status).to.equal(401);
    expect((await bare('/vulnerabilities/CVE-2018-1002204/images')).status).to.equal(401);
    expect((await bare('/monitor/runs')).status).to.equal(401);
    expect((await api('/images/sha256:nothex/changes')).status).to.equal(400);
    expect((await api('/images/' + zip + '/changes?limit=0')).status).to.equal(400);
    const post = await fetch(`http://127.0.0.1:${SRV_PORT}/api/v1/monitor/runs`, { method: 'POST', headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json' }, body: '{"all":true}' });
    expect(post.status, 'a viewer token').to.equal(403);
    const runs = (await (await api('/monitor/runs')).json()) as Array<{ id: string; state: string }>;
    expect(runs.filter((r) => r.id.startsWith('db:')).every((r) => r.state === 'done')).to.equal(true);
    expect(runs.length).to.be.greaterThan(1);
  });

  it('a rescan re-inventories from the registry exactly the images whose cached scan an older analyzer set made', async () => {
    // an analyzer upgrade: the zip image's inventory is cached under another analyzer-set version only
    const raw = new Database(path.join(dir, 'pushgate.db'));
    try {
      raw.pragma('busy_timeout = 5000');
      const moved = raw.prepare('UPDATE layers SET key = ? WHERE key = ?').run(SCAN_KEY(zip as never).replace(/^scan:[^:]+:/, 'scan:older-analyzers:'), SCAN_KEY(zip as never)).changes;
      expect(moved).to.equal(1);
    } finally {
      raw.close();
    }
    const requests = await registryRequests();
    const seen: RescanProgress[] = [];
    const r = await srv.monitor.rescan((req) => srv.gate.assess({ ...req, source: 'api' }), (p) => seen.push(p));
    expect(r).to.include({ stale: 1, rescanned: 1, failed: 0, skipped: 0 });
    expect(seen).to.deep.equal([{ done: 1, total: 1, digest: zip, registry: 'lab', repository: 'team/zip', result: 'rescanned' }]);
    expect(await registryRequests(), 'the image was read from the registry').to.be.greaterThan(requests);
    expect(await srv.store.getLayer(SCAN_KEY(zip as never)), 'cached under the analyzer set in force').to.not.equal(undefined);
    const again = await srv.monitor.rescan((req) => srv.gate.assess({ ...req, source: 'api' }));
    expect(again, 'nothing stale is left').to.include({ stale: 0, rescanned: 0 });
  });
});
