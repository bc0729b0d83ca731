/**
 * `pushgate scan --platform OS/ARCH[/VARIANT]`: picks one platform of an index, and must never
 * silently scan a different platform than asked for. A single-platform image whose config declares
 * another platform, an index without the platform, and a `dir:` root filesystem (no platform) are
 * bad arguments: exit 2, one line naming the platforms the target has (DESIGN.md §3). The report of
 * an index keeps the index digest asked for (`digest`) and names each platform manifest judged (`manifests`).
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

  it('an index scanned for one platform: the report keeps the index digest asked for and names the platform manifest judged', () => {
    const target = `oci:${images}/multiarch:1.0`;
    // the digests as the layout holds them: the tag's index, then its children by platform
    const layout = path.join(images, 'multiarch');
    const indexDigest = (JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> })
      .manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === '1.0')!.digest;
    const children = (JSON.parse(fs.readFileSync(path.join(layout, 'blobs/sha256', indexDigest.slice(7)), 'utf8')) as { manifests: Array<{ digest: string; platform: { os: string; architecture: string; variant?: string } }> })
      .manifests.map((m) => ({ platform: [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join('/'), digest: m.digest }));
    const arm = children.find((c) => c.platform === 'linux/arm64/v8')!;
    const r = scan([target, '--platform', 'linux/arm64']);
    expect(r.status, r.stderr).to.be.oneOf([0, 1]);
    const report = JSON.parse(r.stdout) as { digest: string; mediaType: string; platforms: string[]; manifests: Array<{ platform: string; digest: string }> };
    expect(report.digest, 'digest: the index asked for').to.equal(indexDigest);
    expect(report.mediaType).to.equal('application/vnd.oci.image.index.v1+json');
    expect(report.manifests, 'manifests: the one judged').to.deep.equal([arm]);
    // every platform without --platform, in platforms order
    const all = JSON.parse(scan([target]).stdout) as { digest: string; platforms: string[]; manifests: Array<{ platform: string; digest: string }> };
    expect(all.digest).to.equal(indexDigest);
    expect(all.manifests).to.deep.equal(all.platforms.map((p) => children.find((c) => c.platform === p)));
    // the table heads with both: the index digest, marked, then the manifest judged with its platform
    const t = runCli(['scan', target, '--platform', 'linux/arm64'], { cwd: dir });
    expect(t.status, t.stderr).to.be.oneOf([0, 1]);
    expect(t.stdout.split('\n').slice(0, 2)).to.deep.equal([`${target}  ${indexDigest}  (index)`, `manifest ${arm.digest}  [linux/arm64/v8]`]);
  });

  it('a single-platform image: manifests holds its one manifest, the digest itself; the table heads with it unmarked', () => {
    const target = `oci:${images}/debian-minbase:bookworm`;
    const report = JSON.parse(scan([target]).stdout) as { digest: string; manifests: Array<{ platform: string; digest: string }> };
    expect(report.manifests).to.deep.equal([{ platform: 'linux/amd64', digest: report.digest }]);
    const t = runCli(['scan', target], { cwd: dir });
    expect(t.stdout.split('\n')[0]).to.equal(`${target}  ${report.digest}`);
    expect(t.stdout).not.to.match(/^manifest /m);
  });

  it('a dir: root filesystem has no platform: --platform is a bad argument', () => {
    const root = fs.mkdtempSync(path.join(dir, 'rootfs-'));
    expect(oneLine(scan([`dir:${root}`, '--platform', 'linux/amd64']), 'dir:')).to.match(/^pushgate: --platform linux\/amd64: a dir: root filesystem has no platform/);
  });
});
