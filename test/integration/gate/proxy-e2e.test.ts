/**
 * The synchronous push gate with the real gate behind it: `pushgate serve` (in-process) with its
 * proxy listener in front of a real Distribution registry; real skopeo pushes through the proxy.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../../src/config/types.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, metricValue, silentLogger as silent } from '../../helpers/gate.js';
import { labImages, ROOT, skopeoCopyAsync, startRegistry, type LabRegistry } from '../../helpers/lab.js';

const REG_PORT = 16020;
const PROXY_PORT = 16021;
const TOKEN = 'e2e-webhook-token-0123456789';

describe('gate + proxy: a violating push is refused at the manifest PUT', function () {
  this.timeout(240_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let images: string;

  async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricValue(await srv.metrics.text(), name, labels);
  }

  before(async () => {
    images = labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-e2e-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.proxy = { ...config.proxy, listen: `127.0.0.1:${PROXY_PORT}`, upstream: `http://127.0.0.1:${REG_PORT}`, timeoutMs: 120_000, onTimeout: 'reject', onError: 'reject' };
    srv = await startServer(config, silent);
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${srv.port}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}` });
  });
  after(async () => {
    reg?.stop();
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('adm-zip 0.4.7 is refused with a message skopeo prints; the tag never exists; counted as sync', async () => {
    const r = await skopeoCopyAsync(`oci:${images}/adm-zip:0.4.7`, `127.0.0.1:${PROXY_PORT}/lab/adm-zip:0.4.7`);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(/pushgate refused/);
    expect(r.stderr).to.match(/NSWG-NPM-458/);
    expect(r.stderr).to.match(/0\.4\.9/);
    const tags = await fetch(`${reg.url}/v2/lab/adm-zip/tags/list`);
    expect(tags.status).to.equal(404);
    expect(await metric('pushgate_blocked_pushes_total', { repository: 'lab/adm-zip', mode: 'sync', rule: 'fixable-high-vulns' })).to.equal(1);
  });

  it('debian-minbase lands; the notification that follows reuses the verdict instead of scanning again', async () => {
    const r = await skopeoCopyAsync(`oci:${images}/debian-minbase:bookworm`, `127.0.0.1:${PROXY_PORT}/lab/debian:bookworm`);
    expect(r.code, r.stderr).to.equal(0);
    const deadline = Date.now() + 60_000;
    let v;
    while (!(v = await srv.store.getVerdictByTag('lab', 'lab/debian', 'bookworm'))?.enforcement) {
      if (Date.now() > deadline) throw new Error('no enforced verdict after the notification');
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(v.decision).to.equal('warn');
    expect(await metric('pushgate_scans_total', { result: 'cached' })).to.be.greaterThan(0);
    const t = (await (await fetch(`${reg.url}/v2/lab/debian/tags/list`)).json()) as { tags: string[] };
    expect(t.tags).to.deep.equal(['bookworm']);
  });
});
