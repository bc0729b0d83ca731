/**
 * `pushgate serve` SIGKILLed at each step of handling a blocked push, with real components: a
 * Distribution 2.8 registry behind an in-process front that kills pushgate right after the registry
 * answered a chosen request (so the registry did it and pushgate never learnt it), skopeo pushes of
 * small generated images (a private key: quarantine), SQLite. Steps: the scan's first blob read, the
 * quarantine copy's manifest PUT, the tag listing between that copy and the delete, the DELETE itself.
 * Each killed event is claimed again when its lease ends (`queue.eventLease`, 10 s here: the shortest allowed) by the restarted process: every push
 * ends with its tag and digest gone from the repository, the copy in quarantine, the enforcement done
 * and the notice sent. `KS_EVERY=1` kills at every request of the dry run instead (18: ~2 min).
 * A blocked re-push of an allowed tag, killed right after pushgate pointed the tag back at the allowed
 * image (before the blocked one is deleted): the tag stays on the allowed image.
 * Then a kill while the notice of an enforced quarantine waits for its next attempt (the target
 * answered 503): the notice is delivered after the restart (through the store's outbox; before, it
 * was only in the killed process's memory and never sent), once the killed process's claim of it ends
 * (`queue.outboxLease`, 30 s here: the shortest allowed; 120 s by default).
 * Ports 21930-21933.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { updateDb } from '../../../src/vulndb/index.js';
import { serveChild } from '../../helpers/gate.js';
import { ROOT, skopeoCopyAsync } from '../../helpers/lab.js';
import { FAULTS_POLICY, registryOn, tagDigest, tinyImage, until } from './helpers.js';

const REG = 21930;
const FRONT = 21931;
const GATE = 21932;
const NOTIFY = 21933;
const TOKEN = 'faults-kill-steps-token-0123456789';
const API = 'faults-kill-steps-api';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('faults: SIGKILL at each registry request of a quarantine', function () {
  this.timeout(600_000);
  let dir: string;
  let storage: string;
  let child: ChildProcess | undefined;
  let stderr = '';
  let front: http.Server;
  let notifySrv: http.Server;
  const notices: Array<{ repository: string; digest: string }> = [];
  const refused = new Set<string>();
  /** Per repository: the requests seen, and the request after whose answer the process is killed (its 1-based index, or a test of method and path). */
  const seen = new Map<string, string[]>();
  const killAt = new Map<string, number | ((request: string) => boolean)>();
  const killed = new Set<string>();

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-kill-steps-'));
    storage = path.join(dir, 'registry');
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    fs.writeFileSync(path.join(dir, 'policy.yaml'), FAULTS_POLICY);
    fs.writeFileSync(path.join(dir, 'pushgate.yaml'), [
      'server:', `  listen: 127.0.0.1:${GATE}`, 'log:', '  level: warn',
      'store:', `  url: ${process.env.KS_STORE ?? `sqlite:${dir}/pushgate.db`}`,
      'vulndb:', `  path: ${dir}/vulndb.sqlite`, '  sources: []',
      'scan:', '  workers: 2', `  tmpDir: ${dir}/tmp`,
      // short leases: a killed process's events and notices are taken over sooner (the defaults are 30s and 120s)
      'queue:', '  eventLease: 10s', '  outboxLease: 30s',
      'api:', `  tokens: [${API}]`, `policy: ${dir}/policy.yaml`,
      'notify:', `  - url: http://127.0.0.1:${NOTIFY}/hook`, '    format: json',
      'registries:', '  - name: lab', `    url: http://127.0.0.1:${FRONT}`, '    type: distribution', '    timeout: 3s',
      '    webhook:', `      token: ${TOKEN}`, '',
    ].join('\n'));
    registryOn('start', storage, REG);
    front = http.createServer((req, res) => {
      const method = req.method ?? 'GET';
      const p = req.url ?? '/';
      const repo = [...killAt.keys(), ...seen.keys()].find((r) => p.includes(`/${r}/`));
      let kill = false;
      if (repo) {
        const list = seen.get(repo) ?? [];
        list.push(`${method} ${p}`);
        seen.set(repo, list);
        const at = killAt.get(repo);
        const request = `${method} ${p}`;
        if (!killed.has(repo) && (typeof at === 'number' ? at === list.length : at?.(request))) {
          killed.add(repo);
          kill = true;
        }
      }
      const up = http.request({ host: '127.0.0.1', port: REG, method, path: p, headers: req.headers }, (r) => {
        if (kill && child && child.exitCode === null && child.signalCode === null) {
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
    notifySrv = http.createServer((req, res) => {
      let b = '';
      req.on('data', (d) => (b += d));
      req.on('end', () => {
        const j = JSON.parse(b) as { repository: string; digest: string };
        if (j.repository.startsWith('ks/n') && !refused.has(j.repository)) {
          // the first attempt fails; the process is killed while it waits to try again
          refused.add(j.repository);
          res.writeHead(503).end();
          setTimeout(() => {
            if (!dead()) child!.kill('SIGKILL');
          }, 300);
          return;
        }
        notices.push({ repository: j.repository, digest: j.digest });
        res.end('ok');
      });
    });
    notifySrv.listen(NOTIFY, '127.0.0.1');
    await once(notifySrv, 'listening');
  });
  after(async () => {
    child?.kill('SIGKILL');
    registryOn('stop', storage, REG);
    front?.close();
    notifySrv?.close();
    if (!process.env.KEEP_DIR) fs.rmSync(dir, { recursive: true, force: true });
    else process.stdout.write(`kept ${dir}\n`);
  });

  const dead = () => !child || child.exitCode !== null || child.signalCode !== null;
  const serve = async () => {
    child = await serveChild(path.join(dir, 'pushgate.yaml'), GATE, {}, (d) => (stderr = (stderr + d).slice(-100_000)));
  };
  async function notifyPush(repo: string, digest: string, n: number) {
    const envelope = { events: [{ id: `ks-${repo}-${n}`, timestamp: new Date().toISOString(), action: 'push',
      target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 500, repository: repo, url: `http://127.0.0.1:${REG}/v2/${repo}/manifests/${digest}`, tag: 'v1' },
      request: { id: `r${n}`, method: 'PUT', useragent: 'skopeo/1.9' }, actor: { name: 'ci' }, source: { addr: `127.0.0.1:${REG}` } }] };
    for (;;) {
      try {
        const r = await fetch(`http://127.0.0.1:${GATE}/webhooks/distribution`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' }, body: JSON.stringify(envelope) });
        if (r.status === 202) return;
      } catch { /* killed */ }
      if (dead()) await serve();
      await sleep(200);
    }
  }
  const verdict = async (repo: string, digest: string) => {
    const v = await fetch(`http://127.0.0.1:${GATE}/api/v1/verdicts?image=127.0.0.1:${FRONT}/${repo}@${digest}`, { headers: { authorization: `Bearer ${API}` } }).catch(() => undefined);
    return v?.ok ? ((await v.json()) as { decision: string; enforcement?: { status: string; action: string; detail: string } }) : undefined;
  };

  it('a kill at each step of a quarantine: the tag and digest end gone, the copy kept, the enforcement done, the notice sent', async () => {
    await serve();
    // A dry run: how many requests one quarantine makes.
    const img0 = tinyImage(dir, 'k0', { n: 9000, secret: true });
    expect((await skopeoCopyAsync(img0.ref, `127.0.0.1:${REG}/ks/r0:v1`)).code).to.equal(0);
    seen.set('ks/r0', []);
    await notifyPush('ks/r0', img0.digest, 0);
    await until('dry run enforced', 60_000, async () => (await verdict('ks/r0', img0.digest))?.enforcement?.status === 'done');
    await sleep(1000);
    const n = seen.get('ks/r0')!.length;
    const steps: Array<[string, number | ((request: string) => boolean)]> = process.env.KS_EVERY
      ? Array.from({ length: n }, (_, i) => [`request ${i + 1}`, i + 1])
      : [
          ['scan', (r) => /^GET \/v2\/ks\/r\d+\/blobs\//.test(r)],
          ['copy', (r) => /^PUT \/v2\/quarantine\//.test(r)],
          ['between copy and delete', (r) => /^GET \/v2\/ks\/r\d+\/tags\/list/.test(r)],
          ['delete', (r) => r.startsWith('DELETE ')],
        ];
    const pushed: Array<{ repo: string; digest: string; k: string }> = [];
    for (const [i, [k, at]] of steps.entries()) {
      const repo = `ks/r${i + 1}`;
      const img = tinyImage(dir, `k${i + 1}`, { n: 9001 + i, secret: true });
      expect((await skopeoCopyAsync(img.ref, `127.0.0.1:${REG}/${repo}:v1`)).code).to.equal(0);
      killAt.set(repo, at);
      seen.set(repo, []);
      if (dead()) await serve();
      await notifyPush(repo, img.digest, i + 1);
      pushed.push({ repo, digest: img.digest, k });
      await until(`kill ${k}`, 60_000, async () => dead() || (await verdict(repo, img.digest))?.enforcement?.status === 'done');
      if (dead()) await serve();
    }
    const failures: string[] = [];
    await until('all enforced', 240_000, async () => {
      for (const p of pushed) if ((await verdict(p.repo, p.digest))?.enforcement?.status !== 'done') return false;
      return true;
    }).catch((e) => failures.push(String(e)));
    await sleep(5000);
    for (const p of pushed) {
      const v = await verdict(p.repo, p.digest);
      const tag = await tagDigest(`http://127.0.0.1:${REG}`, p.repo, 'v1');
      const byDigest = await tagDigest(`http://127.0.0.1:${REG}`, p.repo, p.digest);
      const copy = await tagDigest(`http://127.0.0.1:${REG}`, `quarantine/${p.repo}`, 'v1');
      const nn = notices.filter((x) => x.repository === p.repo).length;
      const qr = await fetch(`http://127.0.0.1:${GATE}/api/v1/quarantine?repository=${encodeURIComponent(p.repo)}`, { headers: { authorization: `Bearer ${API}` } });
      const records = ((await qr.json()) as unknown[]).length;
      const line = `k=${p.k} decision=${v?.decision} enf=${v?.enforcement?.action}/${v?.enforcement?.status} tag=${tag ?? '-'} byDigest=${byDigest ?? '-'} copy=${copy ?? '-'} notices=${nn} records=${records} detail=${v?.enforcement?.detail?.slice(0, 160)}`;
      if (!killed.has(p.repo) || tag || byDigest || copy !== p.digest || v?.enforcement?.status !== 'done' || nn < 1 || records !== 1) failures.push(line);
    }
    expect(failures, stderr.slice(-3000)).to.deep.equal([]);
  });

  it('a blocked re-push of an allowed tag, killed right after the restore of the tag: the tag ends on the allowed image, the blocked one in quarantine only', async () => {
    if (dead()) await serve();
    const repo = 'ks/p1';
    const good = tinyImage(dir, 'p1good', { n: 9700 });
    const bad = tinyImage(dir, 'p1bad', { n: 9701, secret: true });
    expect((await skopeoCopyAsync(good.ref, `127.0.0.1:${REG}/${repo}:v1`)).code).to.equal(0);
    seen.set(repo, []);
    await notifyPush(repo, good.digest, 1);
    await until('the allowed image judged', 60_000, async () => (await verdict(repo, good.digest))?.decision === 'allow');
    expect((await skopeoCopyAsync(bad.ref, `127.0.0.1:${REG}/${repo}:v1`)).code).to.equal(0);
    killAt.set(repo, (r) => r === `PUT /v2/${repo}/manifests/v1`);
    await notifyPush(repo, bad.digest, 2);
    await until('the process killed after the restore', 60_000, async () => dead());
    await serve();
    await until('the blocked re-push enforced', 120_000, async () => (await verdict(repo, bad.digest))?.enforcement?.status === 'done');
    await sleep(2000);
    expect(killed.has(repo)).to.equal(true);
    expect(await tagDigest(`http://127.0.0.1:${REG}`, repo, 'v1'), 'v1 on the allowed image').to.equal(good.digest);
    expect(await tagDigest(`http://127.0.0.1:${REG}`, repo, bad.digest), 'the blocked digest gone').to.equal(undefined);
    expect(await tagDigest(`http://127.0.0.1:${REG}`, `quarantine/${repo}`, 'v1'), 'the copy in quarantine').to.equal(bad.digest);
  });

  it('a kill while the notice of a quarantine waits to be tried again: the notice is still delivered', async () => {
    if (dead()) await serve();
    const repo = 'ks/n1';
    const img = tinyImage(dir, 'n1', { n: 9500, secret: true });
    expect((await skopeoCopyAsync(img.ref, `127.0.0.1:${REG}/${repo}:v1`)).code).to.equal(0);
    await notifyPush(repo, img.digest, 1);
    await until('the process killed during the notice', 60_000, async () => dead());
    await serve();
    await until('the notice delivered after the restart (the killed process held it for the outbox lease, 30 s)', 200_000, async () => notices.some((x) => x.repository === repo));
  });
});
