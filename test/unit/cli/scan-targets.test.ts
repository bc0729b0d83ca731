/**
 * `pushgate scan` on local targets that are not what they claim to be: a FIFO, a device or a
 * directory given as `archive:FILE`, and OCI layouts whose files are FIFOs. Reading any of them
 * would block or never end; each must fail fast (DESIGN.md §3: exit 2, one line on stderr) or, for a
 * layer blob, become a diagnostic. The real CLI in a child process, killed if it blocks.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { oneLine, runCli, type CliRun } from '../../helpers/cli.js';
import { labImages } from '../../helpers/lab.js';

describe('cli: pushgate scan on targets that are not regular files', function () {
  this.timeout(120_000);
  let dir: string;
  let images: string;

  const scan = (args: string[]): CliRun => runCli(['scan', ...args], { cwd: dir, timeoutMs: 20_000 });
  const mkfifo = (p: string): void => { execFileSync('mkfifo', [p]); };

  function layoutCopy(name: string): string {
    const dst = fs.mkdtempSync(path.join(dir, `${name}-`));
    fs.cpSync(path.join(images, name), dst, { recursive: true, dereference: true });
    return dst;
  }

  before(() => {
    images = labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-targets-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('archive: a FIFO, a directory and a character device fail fast: "must be a regular file", exit 2', () => {
    const fifo = path.join(dir, 'image.tar');
    mkfifo(fifo);
    const cases: Array<[string, RegExp]> = [
      [fifo, /FIFO/],
      [dir, /directory.*use oci: for an OCI layout directory/],
      ['/dev/zero', /character device/],
    ];
    for (const [p, kind] of cases) {
      const line = oneLine(scan([`archive:${p}`]), p);
      expect(line, p).to.match(/the archive must be a regular file/);
      expect(line, p).to.match(kind);
    }
  });

  it('oci: an index.json that is a FIFO fails fast; a layer blob that is a FIFO is a diagnostic, not a hang', () => {
    const layout = layoutCopy('adm-zip');
    fs.rmSync(path.join(layout, 'index.json'));
    mkfifo(path.join(layout, 'index.json'));
    expect(oneLine(scan([`oci:${layout}:0.4.7`]), 'index.json')).to.match(/index\.json is a FIFO \(named pipe\), not a regular file/);

    const withBlob = layoutCopy('adm-zip');
    const idx = JSON.parse(fs.readFileSync(path.join(withBlob, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const manifest = JSON.parse(fs.readFileSync(path.join(withBlob, 'blobs/sha256', idx.manifests[0].digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
    const blob = path.join(withBlob, 'blobs/sha256', manifest.layers[manifest.layers.length - 1].digest.slice(7));
    fs.rmSync(blob);
    mkfifo(blob);
    const r = scan([`oci:${withBlob}:0.4.7`, '--format', 'json']);
    expect(r.signal, 'blocked on the FIFO blob').to.equal(null);
    const report = JSON.parse(r.stdout) as { complete: boolean; diagnostics: Array<{ code: string; message: string }> };
    expect(report.complete).to.equal(false);
    expect(report.diagnostics.find((d) => d.code === 'blob-missing')?.message).to.match(/FIFO \(named pipe\), not a regular file/);
  });

  it('dir: a FIFO as the root is "not a directory"; a FIFO inside a root filesystem is skipped', () => {
    const fifo = path.join(dir, 'rootfs-fifo');
    mkfifo(fifo);
    expect(oneLine(scan([`dir:${fifo}`]), 'dir:FIFO')).to.match(/not a directory/);

    const root = fs.mkdtempSync(path.join(dir, 'rootfs-'));
    fs.mkdirSync(path.join(root, 'etc'));
    fs.writeFileSync(path.join(root, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\n');
    mkfifo(path.join(root, 'etc/pipe'));
    const r = scan([`dir:${root}`, '--format', 'json']);
    expect(r.signal, 'blocked on the FIFO inside').to.equal(null);
    expect((JSON.parse(r.stdout) as { os?: { id: string } }).os?.id).to.equal('debian');
  });
});
