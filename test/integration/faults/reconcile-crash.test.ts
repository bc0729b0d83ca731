/**
 * A reconcile asked for after a registry restart survives a pushgate killed before the pass completed.
 * A registry restart drops the notifications Distribution still held (its queue is in memory), so the first
 * event of the registry's new instance makes pushgate record the instance (`registry-instance-new`) and
 * reconcile the whole registry. Before, the request lived in memory only: pushgate SIGKILLed after the record
 * and before the pass completed came back with the instance already counted as seen, never reconciled, and a
 * push whose notification the restart dropped stayed pullable and unjudged (the shipped `reconcile.interval`
 * is off). Real components: Distribution 2.8 restarted on its storage, behind an in-process front that
 * SIGKILLs `pushgate serve` the moment the registry answered the pass's catalog read (the record is written
 * by then, the pass has not walked a tag), skopeo pushes of small generated images (a private key:
 * quarantine), on SQLite and on PostgreSQL. After the restart, the push made during the outage is judged
 * and quarantined, and the completed pass is recorded (`reconcile-done`).
 * Ports 26521-26523.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { openStore } from '../../../src/store/index.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { serveChild } from '../../helpers/gate.js';
import { ROOT, skopeoCopyAsync } from '../../helpers/lab.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { FAULTS_POLICY, registryOn, tagDigest, tinyImage, until } from './helpers.js';

const REG = 26521;
const FRONT = 26522;
const GATE = 26523;
const TOKEN = 'faults-reconcile-crash-token-0123456789';
const API = 'faults-reconcile-crash-api';

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`faults: SIGKILL between a registry restart's record and its reconcile (${kind})`, function () {
    this.timeout(300_000);
    let dir: string;
    let storage: string;
    let storeUrl: string;
    let drop: (() => Promise<void>) | undefined;
    let child: ChildProcess | undefined;
    let stderr = '';
    let front: http.Server;
    /** Kill pushgate when the registry answers a catalog read through the front. */
    let armed = false;
    let killedOnCatalog = false;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-reconcile-crash-'));
      storage = path.join(dir, 'registry');
      if (kind === 'postgres') {
        const db = await freshDatabase('pushgate_rcrash');
        storeUrl = db.url;
        drop = db.drop;
      } else storeUrl = `sqlite:${dir}/pushgate.db`;
      await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
      fs.writeFileSync(path.join(dir, 'policy.yaml'), FAULTS_POLICY);
      fs.writeFileSync(path.join(dir, 'pushgate.yaml'), [
        'server:', `  listen: 127.0.0.1:${GATE}`, 'log:', '  level: info',
        'store:', `  url: ${storeUrl}`,
        'vulndb:', `  path: ${dir}/vulndb.sqlite`, '  sources: []',
        'scan:', '  workers: 2', `  tmpDir: ${dir}/tmp`,
        'api:', `  tokens: [${API}]`, `policy: ${dir}/policy.yaml`,
        'registries:', '  - name: lab', `    url: http://127.0.0.1:${FRONT}`, '    type: distribution', '    timeout: 3s',
        '    webhook:', `      token: ${TOKEN}`, '',
      ].join('\n'));
      front = http.createServer((req, res) => {
        const method = req.method ?? 'GET';
        const p = req.url ?? '/';
        const kill = armed && method === 'GET' && p.startsWith('/v2/_catalog');
        const up = http.request({ host: '127.0.0.1', port: REG, method, path: p, headers: req.headers }, (r) => {
          if (kill && child && child.exitCode === null && child.signalCode === null) {
            killedOnCatalog = true;
            child.kill('SIGKILL');
          }
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on('error', () => res.destroy());
        req.pipe(up);
      });
      front.listen(FRONT, '127.0.0.1');
      await once(front, 'listening');
    });

    after(async () => {
      child?.kill('SIGKILL');
      registryOn('stop', storage, REG);
      front?.close();
      await drop?.();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    const dead = () => !child || child.exitCode !== null || child.signalCode !== null;
    const serve = async () => {
      child = await serveChild(path.join(dir, 'pushgate.yaml'), GATE, {}, (d) => (stderr = (stderr + d).slice(-100_000)));
    };
    const kill = async () => {
      if (dead()) return;
      child!.kill('SIGKILL');
      await until('pushgate killed', 10_000, async () => dead());
    };
    const registry = (action: 'start' | 'stop') => registryOn(action, storage, REG, { url: `http://127.0.0.1:${GATE}/webhooks/distribution`, token: TOKEN });
    const verdict = async (repo: string, digest: string) => {
      const v = await fetch(`http://127.0.0.1:${GATE}/api/v1/verdicts?image=${encodeURIComponent(`127.0.0.1:${FRONT}/${repo}@${digest}`)}`, { headers: { authorization: `Bearer ${API}` } }).catch(() => undefined);
      return v?.ok ? ((await v.json()) as { decision: string; enforcement?: { status: string; action: string } }) : undefined;
    };
    const push = async (name: string, n: number, secret: boolean, ref: string) => {
      const img = tinyImage(dir, name, { n, secret });
      const r = await skopeoCopyAsync(img.ref, `127.0.0.1:${REG}/${ref}`);
      expect(r.code, r.stderr).to.equal(0);
      return img.digest;
    };
    /** Reads the audit records of `action` from the store while pushgate is down. */
    const audit = async (action: string) => {
      const store = await openStore(storeUrl);
      try {
        return await store.listAudit(10, { action, registry: 'lab' });
      } finally {
        await store.close();
      }
    };

    it('the push made while pushgate was down and the registry restarted is judged after pushgate comes back', async () => {
      // pushgate and the registry's first instance: a push is notified and judged as usual
      await serve();
      registry('start');
      const first = await push('web1', 1, false, 'team/web:v1');
      await until('the first push judged', 60_000, async () => !!(await verdict('team/web', first))?.enforcement);

      // pushgate down; a violating push lands; the registry restarts before it could deliver the event
      await kill();
      const bad = await push('app1', 2, true, 'team/app:v1');
      registry('stop');

      // pushgate back; the registry's new instance notifies a later push: pushgate records the restart and
      // starts the reconcile, and is killed as the registry answers the pass's catalog read
      armed = true;
      await serve();
      registry('start');
      await push('web2', 3, false, 'team/web:v2');
      await until('pushgate killed at the reconcile pass', 60_000, async () => dead());
      armed = false;
      expect(killedOnCatalog, 'killed by the front at the catalog read').to.equal(true);
      const [instance] = await audit('registry-instance-new');
      expect(instance?.detail, 'the restart was recorded before the kill').to.include({ reconcile: 'registry' });
      expect(await audit('reconcile-done'), 'no pass completed before the kill').to.deep.equal([]);
      expect(await tagDigest(`http://127.0.0.1:${REG}`, 'team/app', 'v1'), 'the violating tag is in the registry, unjudged').to.equal(bad);

      // pushgate started again: the reconcile no pass completed runs, and the push is judged and enforced
      await serve();
      const v = await until('a verdict of the push whose notification the restart dropped', 60_000, async () => {
        const x = await verdict('team/app', bad);
        return x?.enforcement?.status === 'done' ? x : undefined;
      }).catch((e: Error) => {
        throw new Error(`${e.message}\n${stderr.slice(-3000)}`);
      });
      expect(v.decision).to.equal('quarantine');
      expect(await tagDigest(`http://127.0.0.1:${REG}`, 'team/app', 'v1'), 'the violating tag is out of team/app').to.equal(undefined);
      await kill();
      const [passDone] = await audit('reconcile-done');
      expect(passDone?.detail, 'the completed pass is recorded').to.include({ scope: 'registry' });
      expect(passDone!.detail!.covers as number).to.be.at.least(instance!.seq);
    });
  });
}
