/**
 * Harbor's webhook payloads carry no event id and a time in whole seconds (`occur_at`; the CloudEvents
 * `time` is made from it), so two pushes of the same artifact to the same reference in one second give
 * byte-identical payloads. Harbor fires PUSH_ARTIFACT for every manifest PUT, a re-push of an existing
 * digest too (protocols.md §2.2).
 *
 * Attacker: a pusher who pushes a blocked artifact again right after pushgate removed it, within the
 * second of the first push (a re-push of a judged digest needs no scan: the removal comes within
 * milliseconds, and a pusher may simply push again and again). pushgate derived the event id from the
 * payload, and the store queues an id once, so the second push's event was taken for a redelivery of
 * the first and dropped: the artifact stayed in the registry, never enforced again.
 *
 * Real components: `pushgate serve` in-process (SQLite store, queue workers, enforcement), a real
 * Distribution 2.8 registry behind the Harbor REST API replay (test/helpers/harbor-replay.ts; Harbor
 * cannot run here) on one origin as Harbor serves them; the replay's DELETE removes the manifest from
 * the real registry. The property over payloads (formats, types, times, by tag or digest: two
 * deliveries of identical bytes are never one event) is in test/unit/webhooks/harbor.test.ts.
 * Loopback ports 22420-22421.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { RunningServer } from '../../src/server/serve.js';
import { startServer } from '../../src/server/serve.js';
import { silentLogger } from '../helpers/gate.js';
import { harborReplay, type Exchange, type HarborReplay } from '../helpers/harbor-replay.js';
import { ROOT, startRegistry, type LabRegistry } from '../helpers/lab.js';
import { labClient } from '../integration/notifications/helpers.js';
import { buildImage, dayoneConfig, pushBuilt, scratchWithDb, waitFor, type BuiltImage } from '../integration/dayone/helpers.js';

const SRV_PORT = 22420;
const REG_PORT = 22421;
const TOKEN = 'harbor-same-second-0123456789';
const ROBOT = { username: 'robot$team+pushgate', password: 's3cret-robot' };
const AUTH = `Basic ${Buffer.from(`${ROBOT.username}:${ROBOT.password}`).toString('base64')}`;
const enc = encodeURIComponent;
const apiPath = (full: string) => `/api/v2.0/projects/${full.slice(0, full.indexOf('/'))}/repositories/${enc(enc(full.slice(full.indexOf('/') + 1)))}`;

describe('security: Harbor pushes of one artifact within one second are each enforced', function () {
  this.timeout(240_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let harbor: HarborReplay | undefined;
  let bad: BuiltImage;
  const script: Exchange[] = [];
  const pusher = () => labClient(reg.url);

  before(async () => {
    dir = await scratchWithDb('harbor-same-second');
    reg = startRegistry(REG_PORT);
    const policyFile = path.join(dir, 'policy.yaml');
    const policy = fs.readFileSync(path.join(ROOT, 'config/policy.yaml'), 'utf8').replace(/(- name: secrets\n\s+action: )reject/, '$1quarantine');
    fs.writeFileSync(policyFile, policy);
    const passthrough = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const up = http.request({ host: '127.0.0.1', port: REG_PORT, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${REG_PORT}` } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.writeHead(502).end());
      req.pipe(up);
    };
    harbor = await harborReplay(script, { auth: AUTH, port: 0, fallback: passthrough });
    const config = dayoneConfig(dir, `127.0.0.1:${SRV_PORT}`, [
      { name: 'harbor', url: harbor.url, type: 'harbor', insecure: false, auth: ROBOT, webhook: { token: TOKEN }, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 4, timeoutMs: 10_000 },
    ]);
    config.policy = policyFile;
    srv = await startServer(config, silentLogger, { policyWatchMs: 0 });
    bad = await buildImage({ secret: true, n: 7 });
  });
  after(async () => {
    await srv?.close();
    await harbor?.close();
    reg?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Harbor's PUSH_ARTIFACT for a push by digest (the digest in `tag`), Default or CloudEvents, at `occurAt` (Unix seconds). */
  const webhook = (repository: string, digest: string, occurAt: number, cloud = false) => {
    const data = { resources: [{ digest, tag: digest, resource_url: `harbor.example.test/${repository}@${digest}` }], repository: { name: repository.split('/').slice(1).join('/'), namespace: repository.split('/')[0], repo_full_name: repository, repo_type: 'private' } };
    const body = cloud
      ? { specversion: '1.0', id: crypto.randomUUID(), source: '/projects/1/webhook/policies/1', type: 'harbor.artifact.pushed', datacontenttype: 'application/json', time: new Date(occurAt * 1000).toISOString().replace('.000Z', 'Z'), data, operator: 'robot$team+ci' }
      : { type: 'PUSH_ARTIFACT', occur_at: occurAt, operator: 'robot$team+ci', event_data: data };
    return fetch(`http://127.0.0.1:${SRV_PORT}/webhooks/harbor`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': cloud ? 'application/cloudevents+json' : 'application/json' },
      body: JSON.stringify(body),
    });
  };

  /** What Harbor's API does when pushgate quarantines `digest` of `repository` (the replay's DELETE removes it from the real registry). */
  let labelKnown = false;
  function expectQuarantine(repository: string, digest: string): void {
    // pushgate looks the label up once per process
    if (!labelKnown) script.push({ method: 'GET', path: '/api/v2.0/labels?name=quarantined&scope=g', status: 200, response: [{ id: 1, name: 'quarantined', scope: 'g' }] });
    labelKnown = true;
    script.push(
      { method: 'POST', path: `${apiPath(repository)}/artifacts/${enc(digest)}/labels`, body: { id: 1 }, status: 200 },
      { method: 'POST', path: `${apiPath(`quarantine/${repository}`)}/artifacts?from=${enc(`${repository}@${digest}`)}`, status: 201 },
      { method: 'DELETE', path: `${apiPath(repository)}/artifacts/${enc(digest)}`, status: 200, effect: () => pusher().deleteManifest(repository, digest) },
    );
  }

  async function removed(repository: string, digest: string): Promise<boolean> {
    return (await pusher().resolve(repository, digest)) === undefined;
  }

  for (const cloud of [false, true]) {
    it(`a blocked artifact pushed again in the same second after its removal is removed again (${cloud ? 'CloudEvents' : 'Default'} payloads)`, async () => {
      const repository = cloud ? 'team/again-ce' : 'team/again';
      const second = Math.floor(Date.now() / 1000);
      await pushBuilt(pusher(), repository, undefined, bad);
      expectQuarantine(repository, bad.digest);
      expect((await webhook(repository, bad.digest, second, cloud)).status).to.equal(202);
      await waitFor(async () => removed(repository, bad.digest), 'the first removal', 60_000);
      // pushed again; Harbor's payload for it is the same (same artifact, reference and second)
      await pushBuilt(pusher(), repository, undefined, bad);
      expect(await removed(repository, bad.digest)).to.equal(false);
      expectQuarantine(repository, bad.digest);
      expect((await webhook(repository, bad.digest, second, cloud)).status).to.equal(202);
      await waitFor(async () => removed(repository, bad.digest), 'the second removal (the re-push was dropped as a redelivery)', 20_000);
      await waitFor(async () => (await srv.store.queueDepth()) === 0, 'an empty queue', 20_000);
      expect(harbor!.done()).to.deep.equal([]);
    });
  }

});
