/**
 * `pushgate db update -q/--quiet` (as `scan -q`): no progress lines on stderr, the result line on stdout,
 * and what went wrong (a source that could not be read) still on stderr. The real CLI in a child process.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { ROOT } from '../../helpers/lab.js';

describe('cli: pushgate db update -q', function () {
  this.timeout(180_000);
  let dir: string;
  const npm = path.join(ROOT, 'test/fixtures/vulndb/osv/npm');

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-db-quiet-'));
    fs.writeFileSync(path.join(dir, 'bad.zip'), 'not a zip');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const flag of ['-q', '--quiet']) {
    it(`${flag}: stdout is the result line, stderr only the unreadable source (no progress)`, () => {
      const db = path.join(dir, `v${flag}.sqlite`);
      const r = runCli(['db', 'update', flag, '--source', npm, '--source', path.join(dir, 'bad.zip'), '--db', db], { cwd: dir, timeoutMs: 90_000 });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^installed .*: \d+ records \(npm \d+\); .*1 bad/);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines.length, r.stderr).to.be.greaterThan(0);
      for (const l of lines) expect(l, r.stderr).to.include('bad.zip');
      expect(r.stderr).to.not.match(/reading |files \(\d+%\)|records imported/);
    });
  }

  it('without -q the same update prints its progress', () => {
    const r = runCli(['db', 'update', '--source', npm, '--db', path.join(dir, 'loud.sqlite')], { cwd: dir, timeoutMs: 90_000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/reading .*npm/);
    expect(r.stderr).to.match(/records imported/);
  });
});
