/**
 * `pushgate scan --platform OS/ARCH[/VARIANT]`: picks one platform of an index, and must never
 * silently scan a different platform than asked for. A single-platform image whose config declares
 * another platform, an index without the platform, and a `dir:` root filesystem (no platform) are
 * bad arguments: exit 2, one line naming the platforms the target has (DESIGN.md §3).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli, type CliRun } from '../../helpers/cli.js';
import { labImages } from '../../helpers/lab.js';

describe('cli: pushgate scan --platform', function () {
  this.timeout(120_000);
  let dir: string;
  let images: string;

  const scan = (args: string[]): CliRun => runCli(['scan', ...args, '--format', 'json'], { cwd: dir });

  function oneLine(r: CliRun, what: string): string {
    expect(r.status, `${what}: ${r.stderr}`).to.equal(2);
    expect(r.stdout, what).to.equal('');
    const lines = r.stderr.trim().split('\n');
    expect(lines, what).to.have.length(1);
    return lines[0];
  }

  before(() => {
    images = labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-platform-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a single-platform image (linux/amd64) asked for linux/s390x: exit 2 naming the platform it has', () => {
    const target = `oci:${images}/debian-minbase:bookworm`;
    const line = oneLine(scan([target, '--platform', 'linux/s390x']), 'linux/s390x');
    expect(line).to.equal(`pushgate: platform linux/s390x is not in ${target} (a single-platform image of linux/amd64)`);
    // the platform it has is scanned as usual (an alias of it too)
    for (const want of ['linux/amd64', 'linux/x86_64']) {
      const r = scan([target, '--platform', want]);
      expect(r.status, r.stderr).to.be.oneOf([0, 1]);
      expect((JSON.parse(r.stdout) as { platforms: string[] }).platforms, want).to.deep.equal(['linux/amd64']);
    }
  });

  it('an index without the platform: the same message, listing the index\'s platforms; arm64 picks arm64/v8', () => {
    const target = `oci:${images}/multiarch:1.0`;
    const line = oneLine(scan([target, '--platform', 'linux/s390x']), 'index');
    expect(line).to.equal(`pushgate: platform linux/s390x is not in ${target} (the index has linux/amd64, linux/arm64/v8)`);
    for (const want of ['linux/arm64', 'linux/arm64/v8']) {
      const r = scan([target, '--platform', want]);
      expect(r.status, r.stderr).to.be.oneOf([0, 1]);
      expect((JSON.parse(r.stdout) as { platforms: string[] }).platforms, want).to.deep.equal(['linux/arm64/v8']);
    }
  });

  it('a dir: root filesystem has no platform: --platform is a bad argument', () => {
    const root = fs.mkdtempSync(path.join(dir, 'rootfs-'));
    expect(oneLine(scan([`dir:${root}`, '--platform', 'linux/amd64']), 'dir:')).to.match(/^pushgate: --platform linux\/amd64: a dir: root filesystem has no platform/);
  });
});
