/**
 * Nothing accepted is lost: an event answered 202 while the registry is down and then the
 * pushgate process SIGKILLed is still judged and enforced once both come back. Real `pushgate
 * serve` child processes, a real Distribution registry stopped and restarted on the same storage.
 */
import { expect } from 'chai';
import { spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { updateDb } from '../../../src/vulndb/index.js';
import { serveChild } from '../../helpers/gate.js';
import { labImages, ROOT, skopeoCopy } from '../../helpers/lab.js';

const REG_PORT = 16030;
const PG_PORT = 16031;
const TOKEN = 'durable-token-0123456789abcdef';
const API = 'durable-api-token';

function registry(action: 'start' | 'stop', storage: string): void {
  const args = [path.join(ROOT, 'scripts/lab/start-registry.sh'), '--storage', storage];
  if (action === 'stop') args.push('--stop');
  else args.push('--port', String(REG_PORT));
  const r = spawnSync('bash', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
}

describe('gate: durability across a SIGKILL and an unreachable registry', function () {
  this.timeout(180_000);
  let dir: string;
  let storage: string;
  let child: ChildProcess | undefined;
  let digest: string;

  const serve = () => serveChild(path.join(dir, 'pushgate.yaml'), PG_PORT, { DURABLE_TOKEN: TOKEN });

  before(async () => {
    const images = labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-durable-'));
    storage = path.join(dir, 'registry');
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    fs.writeFileSync(
      path.join(dir, 'pushgate.yaml'),
      `server:\n  listen: 127.0.0.1:${PG_PORT}\nstore:\n  url: sqlite:${dir}/pushgate.db\nvulndb:\n  path: ${dir}/vulndb.sqlite\n  sources: []\napi:\n  tokens: [${API}]\nregistries:\n  - name: lab\n    url: http://127.0.0.1:${REG_PORT}\n    type: distribution\n    webhook:\n      token: \${DURABLE_TOKEN}\n`,
    );
    registry('start', storage);
    skopeoCopy(`oci:${images}/node-app:vuln`, `127.0.0.1:${REG_PORT}/lab/durable:1`);
    const idx = JSON.parse(fs.readFileSync(path.join(images, 'node-app', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    digest = idx.manifests[0].digest;
    registry('stop', storage);
  });
  after(() => {
    child?.kill('SIGKILL');
    registry('stop', storage);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('accepts the event with the registry down, survives SIGKILL, and enforces once everything is back', async () => {
    child = await serve();
    const envelope = {
      events: [{ id: 'durable-1', timestamp: new Date().toISOString(), action: 'push',
        target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 1000, repository: 'lab/durable', url: `http://127.0.0.1:${REG_PORT}/v2/lab/durable/manifests/${digest}`, tag: '1' },
        request: { id: 'r1', method: 'PUT', useragent: 'skopeo/1.9' }, actor: {}, source: { addr: `127.0.0.1:${REG_PORT}` } }],
    };
    const r = await fetch(`http://127.0.0.1:${PG_PORT}/webhooks/distribution`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' }, body: JSON.stringify(envelope) });
    expect(r.status).to.equal(202);
    await new Promise((res) => setTimeout(res, 1500)); // a worker tries, finds the registry down, backs off
    child.kill('SIGKILL');
    await new Promise((res) => child!.once('exit', res));

    registry('start', storage);
    child = await serve();
    const deadline = Date.now() + 120_000;
    let verdict: { decision: string; enforcement?: { status: string } } | undefined;
    while (Date.now() < deadline) {
      const v = await fetch(`http://127.0.0.1:${PG_PORT}/api/v1/verdicts?image=127.0.0.1:${REG_PORT}/lab/durable@${digest}`, { headers: { authorization: `Bearer ${API}` } });
      if (v.ok) {
        verdict = (await v.json()) as typeof verdict;
        if (verdict?.enforcement) break;
      }
      await new Promise((res) => setTimeout(res, 250));
    }
    expect(verdict?.decision).to.equal('reject');
    expect(verdict?.enforcement?.status).to.equal('done');
    const tags = await fetch(`http://127.0.0.1:${REG_PORT}/v2/lab/durable/tags/list`);
    expect(((await tags.json()) as { tags: string[] | null }).tags ?? []).to.deep.equal([]);
  });
});
