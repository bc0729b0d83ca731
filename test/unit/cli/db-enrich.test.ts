/**
 * `pushgate db update` with enrichment sources and `pushgate db status` listing them: the real CLI in a
 * child process, the fixture NPM advisories plus the real KEV catalog and endoflife.date pages; a KEV
 * catalog cut short is an error line on stderr naming the file, exit 2, and the database already installed
 * keeps its content (the relative `kev:` path of a config file is read relative to that file).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli, type CliRun } from '../../helpers/cli.js';
import { ROOT } from '../../helpers/lab.js';

const FIX = path.join(ROOT, 'test/fixtures/vulndb');

describe('cli: pushgate db update/status with enrichment sources', function () {
  this.timeout(120_000);
  let dir: string;
  const run = (args: string[]): CliRun => runCli(args, { cwd: dir, timeoutMs: 60_000 });

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-db-enrich-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('installs OSV plus kev:/eol: sources; status lists each source with its count, data date and age', () => {
    const db = path.join(dir, 'v.sqlite');
    const u = run(['db', 'update', '--db', db, '--source', path.join(FIX, 'osv/npm'), '--source', `kev:${path.join(FIX, 'kev/known_exploited_vulnerabilities.json')}`, '--source', `eol:${path.join(FIX, 'eol/products')}`]);
    expect(u.status, u.stderr).to.equal(0);
    const st = JSON.parse(run(['db', 'status', '--db', db, '--format', 'json']).stdout) as {
      sourceStatus: Array<{ kind: string; items: number; dataDate?: string }>; sourceAgeSeconds: Record<string, number>; eolProducts: string[];
    };
    expect(st.sourceStatus.map((s) => [s.kind, s.items])).to.deep.equal([['osv', 467], ['kev', 1404], ['eol', 26]]);
    expect(st.sourceAgeSeconds.kev).to.be.closeTo((Date.now() - Date.parse('2025-08-25T17:04:19.9796Z')) / 1000, 120);
    expect(st.eolProducts).to.include('debian');
    const table = run(['db', 'status', '--db', db]).stdout;
    expect(table).to.match(/\n {2}kev +1404 kev:\S+known_exploited_vulnerabilities\.json {2}data of 2025-08-25T17:04:19\.9796Z \(\d+ h old\)\n/);
  });

  it('a KEV catalog cut short: one line naming the file, exit 2, the installed database unchanged', () => {
    const db = path.join(dir, 'v.sqlite');
    const before = fs.readFileSync(db);
    fs.mkdirSync(path.join(dir, 'feeds'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'feeds/kev.json'), fs.readFileSync(path.join(FIX, 'kev/known_exploited_vulnerabilities.json')).subarray(0, 100_000));
    const cfg = path.join(dir, 'pushgate.yaml');
    fs.writeFileSync(cfg, `vulndb:\n  path: ${db}\n  sources:\n    - ${path.join(FIX, 'osv/npm')}\n    - kev:feeds/kev.json\n`);
    const r = run(['db', 'update', '--config', cfg]);
    expect(r.status).to.equal(2);
    // progress lines come first on stderr; the error is the last line
    const line = r.stderr.trim().split('\n').at(-1) ?? '';
    expect(r.stdout).to.equal('');
    expect(line).to.match(/^pushgate: /);
    expect(line).to.include(`KEV catalog ${path.join(dir, 'feeds/kev.json')}: not valid JSON`).and.include('the previous database is kept');
    expect(fs.readFileSync(db).equals(before)).to.equal(true);
  });

  it('status prints what the sources say (a KEV release date, a product name) with control characters escaped', () => {
    const db = path.join(dir, 'hostile.sqlite');
    const kev = JSON.parse(fs.readFileSync(path.join(FIX, 'kev/known_exploited_vulnerabilities.json'), 'utf8')) as { dateReleased: string };
    kev.dateReleased = '2026-01-01\u001b]0;KEVPWN\u0007\u001b[2J';
    fs.mkdirSync(path.join(dir, 'hostile'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'hostile/kev.json'), JSON.stringify(kev));
    const u = run(['db', 'update', '--db', db, '--source', path.join(FIX, 'osv/npm'), '--source', `kev:${path.join(dir, 'hostile/kev.json')}`]);
    expect(u.status, u.stderr).to.equal(0);
    const table = run(['db', 'status', '--db', db]).stdout;
    expect(table).to.include('\\x1b]0;KEVPWN');
    // eslint-disable-next-line no-control-regex -- an independent oracle: no raw control character
    expect(table.replace(/\n/g, '')).to.not.match(/[\u0000-\u001f\u007f-\u009f]/);
  });

});
