/**
 * A notification body cut short must not hide the pushes it named past the cut. A relay between the
 * registry and pushgate that ends a body at its own buffer size (its framing still says the body is whole,
 * so the HTTP request completes) hands pushgate a prefix of the envelope: not JSON, answered 202 and
 * recorded as `events-lost` (a non-2xx would stall the registry's queue). Before, the reconcile it asked for
 * covered only the repositories named before the cut; a violating tag of a repository named after it was
 * never judged and stayed pullable for good (the shipped `reconcile.interval` is off). Real components:
 * Distribution 2.8 (its own notifications off, so the cut envelope is the only word pushgate gets), skopeo
 * pushes of small generated images (a private key: quarantine), `pushgate serve` on SQLite, an envelope of
 * the two pushes as Distribution writes it, cut right after the first event.
 * Ports 26591-26592.
 */
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { updateDb } from '../../../src/vulndb/index.js';
import { serveChild } from '../../helpers/gate.js';
import { ROOT, skopeoCopyAsync } from '../../helpers/lab.js';
import { FAULTS_POLICY, registryOn, tagDigest, tinyImage, until } from './helpers.js';

const REG = 26591;
const GATE = 26592;
const TOKEN = 'faults-cut-envelope-token-0123456789';
const API = 'faults-cut-envelope-api';

describe('faults: a notification body cut short after its first event', function () {
  this.timeout(180_000);
  let dir: string;
  let storage: string;
  let child: ChildProcess | undefined;
  let stderr = '';

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cut-envelope-'));
    storage = path.join(dir, 'registry');
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    fs.writeFileSync(path.join(dir, 'policy.yaml'), FAULTS_POLICY);
    fs.writeFileSync(path.join(dir, 'pushgate.yaml'), [
      'server:', `  listen: 127.0.0.1:${GATE}`, 'log:', '  level: info',
      'store:', `  url: sqlite:${dir}/pushgate.db`,
      'vulndb:', `  path: ${dir}/vulndb.sqlite`, '  sources: []',
      'scan:', '  workers: 2', `  tmpDir: ${dir}/tmp`,
      'api:', `  tokens: [${API}]`, `policy: ${dir}/policy.yaml`,
      'registries:', '  - name: lab', `    url: http://127.0.0.1:${REG}`, '    type: distribution', '    timeout: 3s',
      '    webhook:', `      token: ${TOKEN}`, '',
    ].join('\n'));
    registryOn('start', storage, REG);
    child = await serveChild(path.join(dir, 'pushgate.yaml'), GATE, {}, (d) => (stderr = (stderr + d).slice(-100_000)));
  });

  after(() => {
    child?.kill('SIGKILL');
    registryOn('stop', storage, REG);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A manifest push event as Distribution 2.8 writes it (test/fixtures/webhooks/distribution-2.8-captured). */
  const event = (id: string, repository: string, tag: string, digest: string, size: number) => ({
    id,
    timestamp: new Date().toISOString(),
    action: 'push',
    target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size, digest, length: size, repository, url: `http://127.0.0.1:${REG}/v2/${repository}/manifests/${digest}`, tag },
    request: { id: `${id}-r`, addr: '127.0.0.1:40000', host: `127.0.0.1:${REG}`, method: 'PUT', useragent: 'skopeo' },
    actor: {},
    source: { addr: `127.0.0.1:${REG}`, instanceID: '8d0c3b1e-0000-4000-8000-00000000cut1' },
  });

  it('the violating push named past the cut is judged and quarantined', async () => {
    const good = tinyImage(dir, 'before-cut', { n: 1 });
    const bad = tinyImage(dir, 'past-cut', { n: 2, secret: true });
    for (const [img, ref] of [[good, 'team/before-cut:1'], [bad, 'team/past-cut:1']] as const) {
      const r = await skopeoCopyAsync(img.ref, `127.0.0.1:${REG}/${ref}`);
      expect(r.code, r.stderr).to.equal(0);
    }
    expect(await tagDigest(`http://127.0.0.1:${REG}`, 'team/past-cut', '1')).to.equal(bad.digest);
    const size = (digest: string, repo: string) =>
      fetch(`http://127.0.0.1:${REG}/v2/${repo}/manifests/${digest}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } }).then((r) => Number(r.headers.get('content-length')));
    const first = JSON.stringify(event('cut-1', 'team/before-cut', '1', good.digest, await size(good.digest, 'team/before-cut')));
    const second = JSON.stringify(event('cut-2', 'team/past-cut', '1', bad.digest, await size(bad.digest, 'team/past-cut')));
    const whole = `{"events":[${first},${second}]}`;
    // Cut right after the first event: what the relay passed on names team/before-cut only.
    const cut = whole.slice(0, whole.indexOf(second));
    expect(cut).not.to.include('team/past-cut');

    const r = await fetch(`http://127.0.0.1:${GATE}/webhooks/distribution`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' },
      body: cut,
    });
    expect(r.status).to.equal(202);
    expect(await r.json()).to.deep.include({ accepted: 0, lost: 'not-json' });

    await until(`team/past-cut:1 quarantined (stderr: ${stderr.slice(-2000)})`, 90_000, async () => (await tagDigest(`http://127.0.0.1:${REG}`, 'team/past-cut', '1')) === undefined);
    const v = await fetch(`http://127.0.0.1:${GATE}/api/v1/verdicts?image=${encodeURIComponent(`127.0.0.1:${REG}/team/past-cut@${bad.digest}`)}`, { headers: { authorization: `Bearer ${API}` } });
    expect(v.status).to.equal(200);
    expect(((await v.json()) as { decision: string }).decision).to.equal('quarantine');
    // The allowed push before the cut is judged too, and stays.
    await until('team/before-cut judged', 30_000, async () => {
      const g = await fetch(`http://127.0.0.1:${GATE}/api/v1/verdicts?image=${encodeURIComponent(`127.0.0.1:${REG}/team/before-cut@${good.digest}`)}`, { headers: { authorization: `Bearer ${API}` } });
      return g.ok && ((await g.json()) as { decision: string }).decision === 'allow';
    });
    expect(await tagDigest(`http://127.0.0.1:${REG}`, 'team/before-cut', '1')).to.equal(good.digest);
  });
});
