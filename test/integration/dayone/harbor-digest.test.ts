/**
 * Harbor: a blocked artifact pushed by digest (or cached by a proxy-cache project) is labelled,
 * copied to the quarantine project and removed on its own, because Harbor fires no webhook when
 * a tag is added to it later. The real pushgate serve in-process receives Harbor's PUSH_ARTIFACT
 * webhook for a digest push; it scans through the registry API of a real Distribution 2.8 and
 * enforces through the Harbor REST API replay (test/helpers/harbor-replay.ts), both behind one
 * origin as Harbor serves them; the replay's DELETE removes the manifest from the real registry.
 * Loopback ports 22020-22022.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { RunningServer } from '../../../src/server/serve.js';
import { startServer } from '../../../src/server/serve.js';
import { silentLogger } from '../../helpers/gate.js';
import { harborReplay, type Exchange, type HarborReplay } from '../../helpers/harbor-replay.js';
import { ROOT, startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { labClient } from '../notifications/helpers.js';
import { dayoneConfig, pushImage, scratchWithDb, waitFor } from './helpers.js';

const PG_PORT = 22020;
const REG_PORT = 22021;
const HARBOR_PORT = 22022;
const TOKEN = 'dayone-harbor-webhook-0123456789';
const ROBOT = { username: 'robot$team+pushgate', password: 's3cret-robot' };
const AUTH = `Basic ${Buffer.from(`${ROBOT.username}:${ROBOT.password}`).toString('base64')}`;
const enc = encodeURIComponent;
const apiPath = (full: string) => `/api/v2.0/projects/${full.slice(0, full.indexOf('/'))}/repositories/${enc(enc(full.slice(full.indexOf('/') + 1)))}`;

describe('day one: Harbor artifacts pushed by digest are enforced', function () {
  this.timeout(180_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let harbor: HarborReplay | undefined;
  const script: Exchange[] = [];

  before(async () => {
    dir = await scratchWithDb('dayone-harbor');
    reg = startRegistry(REG_PORT);
    // The default policy with secrets quarantined instead of rejected: the label and copy are what Harbor users see.
    const policyFile = path.join(dir, 'policy.yaml');
    const policy = fs.readFileSync(path.join(ROOT, 'config/policy.yaml'), 'utf8').replace(/(- name: secrets\n\s+action: )reject/, '$1quarantine');
    expect(policy).to.match(/- name: secrets\n\s+action: quarantine/);
    fs.writeFileSync(policyFile, policy);
    // One origin like Harbor: /api/v2.0 is the replay, everything else the real registry.
    const passthrough = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const up = http.request({ host: '127.0.0.1', port: REG_PORT, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${REG_PORT}` } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.writeHead(502).end());
      req.pipe(up);
    };
    harbor = await harborReplay(script, { auth: AUTH, port: HARBOR_PORT, fallback: passthrough });
    const config = dayoneConfig(dir, `127.0.0.1:${PG_PORT}`, [
      { name: 'harbor', url: harbor.url, type: 'harbor', insecure: false, auth: ROBOT, webhook: { token: TOKEN }, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 4, timeoutMs: 10_000 },
    ]);
    config.policy = policyFile;
    srv = await startServer(config, silentLogger, { policyWatchMs: 0 });
  });
  after(async () => {
    await srv?.close();
    await harbor?.close();
    reg?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Harbor's PUSH_ARTIFACT for a push by digest: the digest is in `tag` too (protocols.md §2.3). */
  const webhook = (repository: string, digest: string) =>
    fetch(`http://127.0.0.1:${PG_PORT}/webhooks/harbor`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'PUSH_ARTIFACT',
        occur_at: Math.floor(Date.now() / 1000),
        operator: 'robot$team+ci',
        event_data: { resources: [{ digest, tag: digest, resource_url: `127.0.0.1:${HARBOR_PORT}/${repository}@${digest}` }], repository: { name: repository.split('/').slice(1).join('/'), namespace: repository.split('/')[0], repo_full_name: repository, repo_type: 'private' } },
      }),
    });

  for (const [what, repository] of [
    ['pushed by digest', 'team/app'],
    ['cached by a proxy-cache project', 'cache/library/app'],
  ] as const) {
    it(`${what}: labelled, copied to the quarantine project and removed; the registry no longer serves it`, async () => {
      const pusher = labClient(reg.url);
      const bad = await pushImage(pusher, repository, undefined, { secret: true, n: repository.length });
      const labelled: string[] = [];
      script.push(
        { method: 'GET', path: '/api/v2.0/labels?name=quarantined&scope=g', status: 200, response: [{ id: 1, name: 'quarantined', scope: 'g' }] },
        { method: 'POST', path: `${apiPath(repository)}/artifacts/${enc(bad.digest)}/labels`, body: { id: 1 }, status: 200, effect: async () => void labelled.push(bad.digest) },
        { method: 'POST', path: `${apiPath(`quarantine/${repository}`)}/artifacts?from=${enc(`${repository}@${bad.digest}`)}`, status: 201 },
        { method: 'DELETE', path: `${apiPath(repository)}/artifacts/${enc(bad.digest)}`, status: 200, effect: () => pusher.deleteManifest(repository, bad.digest) },
      );
      expect((await webhook(repository, bad.digest)).status).to.equal(202);
      const v = await waitFor(async () => {
        const x = await srv.store.getVerdict('harbor', repository, bad.digest);
        return x?.enforcement && x.enforcement.status !== 'pending' ? x : undefined;
      }, `the enforcement of ${repository}@${bad.digest}`, 60_000);
      expect(harbor!.done()).to.deep.equal([]);
      expect(v.decision).to.equal('quarantine');
      expect(v.enforcement, v.enforcement?.detail).to.include({ action: 'quarantine', status: 'done' });
      expect(v.enforcement!.detail).to.include('pushed by digest');
      expect(labelled).to.deep.equal([bad.digest]);
      expect(await pusher.resolve(repository, bad.digest), 'removed from the registry').to.equal(undefined);
    });
  }
});
