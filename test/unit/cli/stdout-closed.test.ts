/**
 * A reader that closes pushgate's stdout before it has written everything (`pushgate scan --help |
 * head -1`, a `jq` that stops early) must not turn into an EPIPE stack trace and exit 1: the output is
 * cut where the reader stopped, nothing is printed on stderr, and the exit status is the one the command
 * decides (0 for help, 1 for a blocking verdict), never a crash's.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ROOT } from '../../helpers/lab.js';

/** Runs the CLI with a stdout pipe whose reading end is closed at once; resolves its exit status and stderr. */
function runWithClosedStdout(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

describe('cli: stdout closed by its reader', function () {
  this.timeout(120_000);

  it('the help of every command exits 0 without a stack trace', async () => {
    for (const args of [['--help'], ['scan', '--help'], ['serve', '--help'], ['db', 'update', '--help'], ['db', 'status', '--help'], ['config', 'check', '--help'], ['reconcile', '--help'], ['store', 'migrate', '--help'], ['monitor', '--help'], ['affected', '--help'], ['versions', 'compare', '--help']]) {
      const r = await runWithClosedStdout(args);
      expect(r.stderr, args.join(' ')).not.to.match(/EPIPE|Unhandled 'error'|\n\s+at /);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
    }
  });

  it('a scan whose verdict blocks keeps exit 1 when its report cannot be written', async () => {
    // An SBOM with one OS package scanned offline without a database: incomplete, and the default
    // policy quarantines an incomplete scan (exit 1).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-epipe-'));
    try {
      const sbom = path.join(dir, 'bom.json');
      fs.writeFileSync(sbom, JSON.stringify({
        bomFormat: 'CycloneDX', specVersion: '1.5', version: 1,
        components: [{ type: 'library', name: 'openssl', version: '3.0.11-1~deb12u1', purl: 'pkg:deb/debian/openssl@3.0.11-1~deb12u1?distro=debian-12' }],
      }));
      const env = { ...process.env, PUSHGATE_CACHE_DIR: path.join(dir, 'cache'), PUSHGATE_CONFIG: '' };
      const r = await runWithClosedStdout(['scan', `sbom:${sbom}`, '--offline', '--format', 'json', '--no-ignore-file'], env);
      expect(r.stderr).not.to.match(/EPIPE|Unhandled 'error'|\n\s+at /);
      expect(r.status, r.stderr).to.equal(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
