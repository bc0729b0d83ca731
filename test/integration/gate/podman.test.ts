/**
 * `podman push` (Debian's podman, rootful, vfs storage in a temp dir) through pushgate's proxy
 * to a real Distribution registry: the vulnerable image's push fails and podman prints pushgate's
 * message; the tag never appears in the registry.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../../src/config/types.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, silentLogger as silent } from '../../helpers/gate.js';
import { ensureTools, labImages, ROOT, startRegistry, type LabRegistry } from '../../helpers/lab.js';

const REG_PORT = 16040;
const PROXY_PORT = 16041;

function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 180_000, maxBuffer: 16 << 20 }, (err, _out, stderr) => resolve({ code: err ? 1 : 0, stderr }));
  });
}

describe('gate + proxy: podman push of a violating image is refused with a message podman prints', function () {
  this.timeout(300_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let podman: string[];

  before(async () => {
    ensureTools([['podman', 'podman']]);
    const images = labImages();
    // Lower case only: podman names the pulled image after the layout's path.
    dir = path.join(os.tmpdir(), `pushgate-podman-${process.pid}-${Date.now().toString(36)}`);
    fs.mkdirSync(dir, { recursive: true });
    podman = ['--storage-driver', 'vfs', '--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run')];
    // A short layout path: podman names the pulled image after it.
    fs.cpSync(path.join(images, 'adm-zip'), path.join(dir, 'admzip'), { recursive: true });
    const pull = await run('podman', [...podman, 'pull', '-q', `oci:${path.join(dir, 'admzip')}:0.4.7`]);
    expect(pull.code, pull.stderr).to.equal(0);
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, 'podman-token-0123456789')]);
    config.proxy = { ...config.proxy, listen: `127.0.0.1:${PROXY_PORT}`, upstream: `http://127.0.0.1:${REG_PORT}`, timeoutMs: 120_000 };
    srv = await startServer(config, silent);
    reg = startRegistry(REG_PORT);
  });
  after(async () => {
    reg?.stop();
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses the push; podman exits non-zero printing the rule and the fixed version', async () => {
    const image = `localhost${path.join(dir, 'admzip')}:latest`;
    const r = await run('podman', [...podman, 'push', '--tls-verify=false', image, `docker://127.0.0.1:${PROXY_PORT}/lab/podman-zip:1`]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/pushgate refused lab\/podman-zip:1/);
    expect(r.stderr).to.match(/NSWG-NPM-458.*0\.4\.9/);
    const tags = await fetch(`${reg.url}/v2/lab/podman-zip/tags/list`);
    expect(tags.status).to.equal(404);
  });
});
