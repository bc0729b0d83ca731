/**
 * `pushgate scan --output FILE` (writeFileAtomic, src/cli/scan-options.ts): a regular file is replaced
 * atomically; a symbolic link keeps pointing where it did and its target gets the report; a FIFO or a
 * device (`-o /dev/stdout`, `-o /dev/null` in CI scripts, run as root in containers) is written to and
 * stays what it is, never replaced by a regular file.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../../../src/cli/scan-options.js';

describe('cli: the --output file', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-output-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('replaces a regular file, leaving no temporary file', () => {
    const f = path.join(dir, 'r.json');
    fs.writeFileSync(f, 'old');
    writeFileAtomic(f, 'new report');
    expect(fs.readFileSync(f, 'utf8')).to.equal('new report');
    expect(fs.readdirSync(dir)).to.deep.equal(['r.json']);
  });

  it('follows a symbolic link: the target gets the report, the link stays a link', () => {
    fs.mkdirSync(path.join(dir, 'artifacts'));
    const target = path.join(dir, 'artifacts', 'report.json');
    fs.writeFileSync(target, 'old');
    const link = path.join(dir, 'report.json');
    fs.symlinkSync(target, link);
    writeFileAtomic(link, 'new report');
    expect(fs.lstatSync(link).isSymbolicLink()).to.equal(true);
    expect(fs.readFileSync(target, 'utf8')).to.equal('new report');
    expect(fs.readdirSync(path.join(dir, 'artifacts'))).to.deep.equal(['report.json']);
  });

  it('writes into a FIFO, which stays a FIFO (and a link to it)', async () => {
    const fifo = path.join(dir, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).to.equal(0);
    const link = path.join(dir, 'stdout');
    fs.symlinkSync(fifo, link);
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
    let got = '';
    reader.stdout.setEncoding('utf8').on('data', (d: string) => { got += d; });
    const closed = new Promise<void>((resolve) => reader.on('close', () => resolve()));
    try {
      writeFileAtomic(link, 'report through a pipe\n');
      await closed;
    } finally {
      reader.kill();
    }
    expect(got).to.equal('report through a pipe\n');
    expect(fs.lstatSync(fifo).isFIFO()).to.equal(true);
    expect(fs.lstatSync(link).isSymbolicLink()).to.equal(true);
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['pipe', 'stdout']);
  });

  it('-o /dev/stdout when stdout is a pipe (`pushgate scan … -o /dev/stdout | jq`): the pipe gets the report', () => {
    // /dev/stdout -> /proc/self/fd/1 -> "pipe:[N]", a name that only the kernel's own lookup follows: the
    // path must be stat'ed as named, not taken apart link by link into a directory that cannot hold a file.
    const module = path.resolve('src/cli/scan-options.ts');
    const script = `import { writeFileAtomic } from ${JSON.stringify(module)}; writeFileAtomic('/dev/stdout', 'report through a pipe\\n');`;
    // a shell pipe, as in a CI script (child_process's own stdout is a socket, which no one can open by name)
    const r = spawnSync('sh', ['-c', '"$0" --import tsx --input-type=module -e "$1" | cat', process.execPath, script], { encoding: 'utf8' });
    expect(r.stderr).to.equal('');
    expect(r.status).to.equal(0);
    expect(r.stdout).to.equal('report through a pipe\n');
  });

  it('writes into a character device (a null device of its own), which stays a device', () => {
    const dev = path.join(dir, 'null');
    // mknod needs root, as `npm test` runs (README).
    const mk = spawnSync('mknod', [dev, 'c', '1', '3'], { encoding: 'utf8' });
    expect(mk.status, mk.stderr).to.equal(0);
    writeFileAtomic(dev, 'discarded');
    expect(fs.lstatSync(dev).isCharacterDevice()).to.equal(true);
    expect(fs.readdirSync(dir)).to.deep.equal(['null']);
  });
});
