/**
 * scripts/lab/start-registry.sh, which every integration test's registry goes through, on a loaded
 * machine: the pid it starts runs other programs (this shell's child, setsid) before it execs
 * docker-registry, and a first look may come before that. A process that is still starting is not one
 * that exited: taking it for gone failed the test's set-up and left a registry running, unrecorded,
 * on the port (a second start then found the port taken). Here a `docker-registry` found first on
 * PATH waits a drawn time before it execs the real one (or exits instead): the script waits for it and
 * records the registry's own pid, or says it exited and leaves nothing listening.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../../helpers/lab.js';
import { freePort } from '../../helpers/ports.js';

const SCRIPT = path.join(ROOT, 'scripts/lab/start-registry.sh');
const REAL = '/usr/bin/docker-registry';

/** Whether something accepts connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('scripts/lab/start-registry.sh: a registry slow to exec is starting, not gone', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-start-reg-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('property: an exec delayed by up to 2 s starts and records the registry; an exit during start-up is reported, nothing left listening', async () => {
    let run = 0;
    await fc.assert(fc.asyncProperty(fc.integer({ min: 300, max: 2000 }), fc.boolean(), async (delayMs, execs) => {
      const at = path.join(dir, `r${run++}`);
      const bin = path.join(at, 'bin');
      fs.mkdirSync(bin, { recursive: true });
      // a shell script: until it execs, /proc/PID/exe is bash
      fs.writeFileSync(path.join(bin, 'docker-registry'), `#!/bin/bash\nsleep ${delayMs / 1000}\n${execs ? `exec ${REAL} "$@"` : 'echo "level=fatal msg=\\"lab: refused\\"" >&2; exit 3'}\n`, { mode: 0o755 });
      const port = await freePort();
      const storage = path.join(at, 'storage');
      const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
      const start = spawnSync('bash', [SCRIPT, '--port', String(port), '--storage', storage], { encoding: 'utf8', env });
      try {
        if (execs) {
          expect(start.status, start.stderr).to.equal(0);
          const pid = Number(fs.readFileSync(`${storage}.state/registry.pid`, 'utf8').trim());
          expect(path.basename(fs.readlinkSync(`/proc/${pid}/exe`))).to.equal('docker-registry');
          expect((await fetch(`http://127.0.0.1:${port}/v2/`)).status).to.equal(200);
        } else {
          expect(start.status).to.not.equal(0);
          expect(start.stderr).to.include('exited during start-up');
          expect(start.stderr).to.include('lab: refused');
          expect(await listening(port)).to.equal(false);
        }
      } finally {
        spawnSync('bash', [SCRIPT, '--stop', '--port', String(port), '--storage', storage], { encoding: 'utf8', env });
      }
      expect(await listening(port), 'stopped').to.equal(false);
    }), { numRuns: 6, examples: [[1500, true], [800, false]] });
  });
});
