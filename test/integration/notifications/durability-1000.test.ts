/**
 * Nothing lost, nothing done twice: 1,000 pushes of distinct small manifests sharing one layer
 * (pushgate's registry client against a real Distribution 2.8 registry that notifies a real
 * `pushgate serve` child process), with pushgate SIGKILLed and restarted twice during the pushes.
 * Every pushed (repository, digest) must end with exactly one stored verdict, one enforcement
 * (the layer holds a private key: reject → the manifest is deleted) and one verdict record in the
 * audit log. The registry retries notifications a dead pushgate did not answer; events answered
 * 202 are on disk; events a killed worker held are claimed again when their lease expires.
 * Measured: about 85 s on 2 shared cores. KEEP_DIR=1 keeps the work directory for inspection.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../../src/store/index.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { serveChild } from '../../helpers/gate.js';
import { ROOT } from '../../helpers/lab.js';
import { ensureBlob, imageConfig, imageManifest, labClient, registryOn, secretLayer } from './helpers.js';

const PG_PORT = 16110;
const REG_PORT = 16111;
const TOKEN = 'durable-1000-token-0123456789';
const PUSHES = 1000;
const REPOS = 100; // reject lists and resolves every tag of the repository (Distribution has no reverse lookup): keep repositories small
const KILL_AT = [300, 650];

describe('durability: 1,000 pushes, pushgate SIGKILLed twice, exactly one verdict and enforcement each', function () {
  this.timeout(240_000);
  let dir: string;
  let storage: string;
  let child: ChildProcess | undefined;
  let stderr = '';

  const serve = (): Promise<ChildProcess> =>
    serveChild(path.join(dir, 'pushgate.yaml'), PG_PORT, {}, (d) => { stderr = (stderr + d).slice(-20_000); });

  async function kill(c: ChildProcess): Promise<void> {
    const exited = new Promise((res) => c.once('exit', res));
    c.kill('SIGKILL');
    await exited;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-durable1000-'));
    storage = path.join(dir, 'registry');
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    fs.writeFileSync(
      path.join(dir, 'pushgate.yaml'),
      [
        'server:',
        `  listen: 127.0.0.1:${PG_PORT}`,
        'log:',
        '  level: error',
        'store:',
        `  url: sqlite:${dir}/pushgate.db`,
        'vulndb:',
        `  path: ${dir}/vulndb.sqlite`,
        '  sources: []',
        'scan:',
        '  workers: 4',
        'registries:',
        '  - name: lab',
        `    url: http://127.0.0.1:${REG_PORT}`,
        '    webhook:',
        `      token: ${TOKEN}`,
        '',
      ].join('\n'),
    );
    registryOn('start', storage, REG_PORT, ['--notify-url', `http://127.0.0.1:${PG_PORT}/webhooks/distribution`, '--notify-header', `Authorization: Bearer ${TOKEN}`, '--notify-ignore-actions', 'pull'], { NOTIFY_BACKOFF: '500ms', NOTIFY_THRESHOLD: '3' });
  });

  after(async () => {
    if (child && child.exitCode === null) await kill(child);
    registryOn('stop', storage, REG_PORT);
    if (process.env.KEEP_DIR) process.stderr.write(`kept ${dir}\n`);
    else fs.rmSync(dir, { recursive: true, force: true });
  });

  it('every (repository, digest) pushed has one verdict, one enforcement and one audit record', async () => {
    const t0 = Date.now();
    child = await serve();
    const c = labClient(`http://127.0.0.1:${REG_PORT}`);
    const layer = await secretLayer();
    const repos = Array.from({ length: REPOS }, (_, i) => `load/app${i}`);
    for (const r of repos) await ensureBlob(c, r, layer.gz);

    const pushed = new Map<string, { repo: string; digest: string; tag: string }>();
    let next = 0;
    let done = 0;
    let killing: Promise<void> | undefined;
    const kills: number[] = [];
    const pushOne = async (n: number) => {
      const repo = repos[n % REPOS];
      const cfg = imageConfig(layer.diffId, n);
      await c.uploadBlob(repo, `sha256:${(await import('node:crypto')).createHash('sha256').update(cfg).digest('hex')}`, cfg.length, cfg);
      const tag = `t${n}`;
      const digest = await c.putManifest(repo, tag, imageManifest(cfg, layer.gz), 'application/vnd.oci.image.manifest.v1+json');
      pushed.set(`${repo}@${digest}`, { repo, digest, tag });
    };
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < PUSHES) {
          const n = next++;
          await pushOne(n);
          done++;
          if (kills.length < KILL_AT.length && done >= KILL_AT[kills.length] && !killing) {
            kills.push(done);
            killing = (async () => {
              await kill(child!);
              child = await serve();
            })();
            await killing;
            killing = undefined;
          }
        }
      }),
    );
    const pushSeconds = (Date.now() - t0) / 1000;
    expect(pushed.size).to.equal(PUSHES);
    expect(kills).to.have.length(2);

    // Wait until every pushed manifest has an enforced verdict (leases of killed workers expire after 30 s).
    const store = await openStore(`sqlite:${dir}/pushgate.db`);
    try {
      const deadline = Date.now() + 150_000;
      let missing = PUSHES;
      while (Date.now() < deadline) {
        const vs = await store.listVerdicts({ registry: 'lab', limit: PUSHES * 2 });
        missing = [...pushed.values()].filter((p) => !vs.some((v) => v.repository === p.repo && v.digest === p.digest && v.enforcement)).length;
        if (missing === 0 && (await store.queueDepth()) === 0) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      expect(missing, `verdicts missing; pushgate stderr:\n${stderr}`).to.equal(0);
      const verdicts = await store.listVerdicts({ registry: 'lab', limit: PUSHES * 2 });
      expect(verdicts).to.have.length(PUSHES); // one per (repository, digest), none extra
      for (const v of verdicts) {
        expect(pushed.has(`${v.repository}@${v.digest}`)).to.equal(true);
        expect(v.decision).to.equal('reject');
        expect(v.enforcement).to.include({ action: 'delete', status: 'done' });
      }
      const audit = await store.listAudit(PUSHES * 10);
      const perKey = new Map<string, number>();
      for (const a of audit) if (a.action.startsWith('verdict:')) perKey.set(`${a.repository}@${a.digest}`, (perKey.get(`${a.repository}@${a.digest}`) ?? 0) + 1);
      expect(perKey.size).to.equal(PUSHES);
      const twice = [...perKey.entries()].filter(([, n]) => n !== 1);
      expect(twice, 'keys recorded more than once').to.deep.equal([]);
      for (const k of pushed.keys()) expect(perKey.get(k), k).to.equal(1);
    } finally {
      await store.close();
    }
    // Enforced on the registry: every tag is gone.
    for (const r of repos) expect(await c.listTags(r), r).to.deep.equal([]);
    const total = (Date.now() - t0) / 1000;
    process.stderr.write(`      durability-1000: ${PUSHES} pushes in ${pushSeconds.toFixed(1)} s, all judged and enforced after ${total.toFixed(1)} s (kills after ${kills.join(', ')} pushes)\n`);
  });
});
