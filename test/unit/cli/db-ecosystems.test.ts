/**
 * Default advisory sources cover what the scanner finds; `db update --ecosystems` narrows an update;
 * `db status` names what is loaded, how old, and which ecosystems are not loaded. The real CLI in a child process.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_VULNDB_SOURCES } from '../../../src/config/defaults.js';
import { defaultSourceUrl, narrowSources, supportedEcosystems } from '../../../src/vulndb/index.js';
import { oneLine, runCli } from '../../helpers/cli.js';
import { ROOT } from '../../helpers/lab.js';

const OSV = path.join(ROOT, 'test/fixtures/os/osv');
const DERIVED = path.join(ROOT, 'test/fixtures/os/osv-derived');

describe('vulndb sources: defaults, --ecosystems and db status', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-eco-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the default sources are the OSV export of every ecosystem pushgate has a version order (and an analyzer) for', () => {
    expect([...DEFAULT_VULNDB_SOURCES].sort()).to.deep.equal(supportedEcosystems().map(defaultSourceUrl).sort());
    expect(DEFAULT_VULNDB_SOURCES).to.include('https://osv-vulnerabilities.storage.googleapis.com/Red%20Hat/all.zip');
  });

  it('narrowing: export URLs of other ecosystems are dropped, a missing one is added; mirrors are kept and nothing is added to them', () => {
    expect(narrowSources(DEFAULT_VULNDB_SOURCES, ['Red Hat', 'npm'])).to.deep.equal([defaultSourceUrl('Red Hat'), defaultSourceUrl('npm')]);
    expect(narrowSources([defaultSourceUrl('Debian')], ['Ubuntu'])).to.deep.equal([defaultSourceUrl('Ubuntu')]);
    expect(narrowSources(['/srv/osv-mirror', defaultSourceUrl('Debian')], ['Ubuntu'])).to.deep.equal(['/srv/osv-mirror']);
  });

  it('db update --ecosystems imports only those; db status lists them, the build time and the ecosystems not loaded', () => {
    const db = path.join(dir, 'v.sqlite');
    const u = runCli(['db', 'update', '--source', OSV, '--source', DERIVED, '--ecosystems', 'red hat', '--ecosystems', 'AlmaLinux', '--db', db], { cwd: dir });
    expect(u.status, u.stderr).to.equal(0);
    const s = runCli(['db', 'status', '--db', db, '--format', 'json'], { cwd: dir });
    expect(s.status, s.stderr).to.equal(0);
    const st = JSON.parse(s.stdout) as { byEcosystem: Record<string, number>; notLoaded: string[]; builtAt: string; ageSeconds: number };
    expect(Object.keys(st.byEcosystem).sort()).to.deep.equal(['AlmaLinux', 'Red Hat']);
    expect(st.notLoaded).to.include('Ubuntu').and.include('Rocky Linux').and.include('npm').and.not.include('Red Hat');
    expect(st.ageSeconds).to.be.a('number').and.be.lessThan(600);
    const t = runCli(['db', 'status', '--db', db], { cwd: dir });
    expect(t.stdout).to.match(/^not loaded Debian, Ubuntu, Alpine, /m);
  });

  it('an unknown ecosystem is refused before anything is read', () => {
    const line = oneLine(runCli(['db', 'update', '--source', OSV, '--ecosystems', 'Debain', '--db', path.join(dir, 'x.sqlite')], { cwd: dir }), 'unknown');
    expect(line).to.match(/--ecosystems: unknown ecosystem "Debain": use OSV names, one of Debian, Ubuntu/);
    expect(fs.existsSync(path.join(dir, 'x.sqlite'))).to.equal(false);
  });
});
