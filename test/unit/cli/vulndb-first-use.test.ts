/**
 * A scan's first-use database build (openCliVulnDb, src/cli/vulndb-state.ts) that fails for another
 * reason than the network (a source that is no OSV export, a cache directory that cannot be made)
 * says so in one line, with the error and how to get a database offline, not that the sources are
 * unreachable. With `scan --quiet` the build draws no progress: stderr holds the line saying it is being
 * built and the line saying it was installed.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { offlineHint, openCliVulnDb } from '../../../src/cli/vulndb-state.js';
import { resolveCliState } from '../../../src/config/cli-state.js';
import { makeSandbox, writeAdmZipRootfs, runInSandbox, type CliSandbox } from '../../helpers/cli-sandbox.js';
import { ROOT } from '../../helpers/lab.js';

describe('cli: first-use vulnerability database', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-first-use-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a build that fails on what the sources hold names the error, not an unreachable source', async () => {
    const state = resolveCliState({ cacheDir: dir }, { HOME: dir });
    const stderr = new PassThrough();
    let text = '';
    stderr.setEncoding('utf8').on('data', (d: string) => { text += d; });
    const notZip = (async () => new Response('this is no zip archive', { status: 200 })) as typeof fetch;
    const db = await openCliVulnDb(state, { stderr: stderr as unknown as NodeJS.WriteStream, fetch: notZip });
    expect(db).to.equal(undefined);
    const last = text.trim().split('\n').filter((l) => l.startsWith('pushgate: no vulnerability database at')).pop() ?? '';
    expect(last).to.match(new RegExp(`^pushgate: no vulnerability database at ${state.dbPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: building it failed: .+; to get one offline, `));
    expect(last).to.not.match(/sources are/);
  });

  it('the offline hint names --db when --cache-dir chose the database (a bare `db update` would install elsewhere)', () => {
    const flagged = resolveCliState({ cacheDir: dir }, { HOME: path.join(dir, 'home') });
    expect(offlineHint(flagged)).to.include(`"pushgate db update --source FILE|DIR --db ${flagged.dbPath}"`);
    // from the environment, the same variables lead a bare `db update` to the same database
    const fromEnv = resolveCliState({}, { HOME: path.join(dir, 'home'), XDG_CACHE_HOME: dir });
    expect(offlineHint(fromEnv)).to.include('"pushgate db update --source FILE|DIR" here');
  });
});

describe('cli: first-use database build and --quiet', function () {
  this.timeout(120_000);
  let sb: CliSandbox;
  before(() => {
    sb = makeSandbox();
    writeAdmZipRootfs(sb);
    // a local source: the first-use build reads it without any network
    fs.writeFileSync(path.join(sb.cwd, 'pushgate.yaml'), `vulndb:\n  path: ./data/vulndb.sqlite\n  sources: [${path.join(ROOT, 'test/fixtures/vulndb/osv/npm')}]\n`);
  });
  after(() => sb.remove());

  for (const quiet of [true, false]) {
    it(`scan ${quiet ? '-q' : 'without -q'} that builds the database first: ${quiet ? 'no' : 'the'} progress lines, the build and install lines either way`, async () => {
      fs.rmSync(path.join(sb.cwd, 'data'), { recursive: true, force: true });
      const r = await runInSandbox(sb, ['scan', ...(quiet ? ['-q'] : []), '--config', 'pushgate.yaml', '--format', 'json', 'dir:rootfs']);
      expect(r.status, r.stderr).to.equal(1);
      expect((JSON.parse(r.stdout) as { findings: Array<{ id: string }> }).findings.map((f) => f.id)).to.include('NSWG-NPM-458');
      const lines = r.stderr.trim().split('\n');
      expect(lines[0]).to.match(/^pushgate: no vulnerability database at .* yet: building it from /);
      expect(lines.at(-1)).to.match(/^pushgate: installed .*vulndb\.sqlite: 467 records$/);
      const progress = lines.filter((l) => / files \(\d+%\)$/.test(l) || l.startsWith('reading '));
      if (quiet) expect(lines, r.stderr).to.have.length(2);
      else expect(progress.length, r.stderr).to.be.greaterThan(0);
    });
  }
});
