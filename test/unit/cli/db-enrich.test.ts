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
import fc from 'fast-check';
import { absoluteSource, formatAge } from '../../../src/cli/commands/db.js';
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
    expect(table).to.match(/\n {2}kev +1404 kev:\S+known_exploited_vulnerabilities\.json {2}data of 2025-08-25T17:04:19\.9796Z \(\d+ d old\)\n/);
    // a database built a moment ago is minutes old, not "0 h"
    expect(table).to.match(/\nbuilt at +\S+ \([0-9] min ago\)\n/);
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

describe('cli: db status ages', () => {
  it('property: minutes under an hour, hours under two days, else days; rounded down, never older than it is, in order', () => {
    const unit = { min: 60, h: 3600, d: 86400 } as const;
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e10, noNaN: true }), fc.double({ min: 0, max: 1e10, noNaN: true }), (a, b) => {
        const m = /^(\d+) (min|h|d)$/.exec(formatAge(a));
        expect(m, formatAge(a)).to.not.equal(null);
        const n = Number(m![1]);
        const u = m![2] as keyof typeof unit;
        const s = Math.max(0, a);
        // the unit follows the size, and the number is the age in that unit rounded down
        expect(u).to.equal(s < 3600 ? 'min' : s < 172_800 ? 'h' : 'd');
        expect(n).to.equal(Math.floor(s / unit[u]));
        if (u === 'min') expect(n).to.be.below(60);
        if (u === 'h') expect(n).to.be.within(1, 47);
        if (u === 'd') expect(n).to.be.at.least(2);
        // an older age never reads younger
        const [lo, hi] = [Math.min(s, b), Math.max(s, b)];
        const secs = (t: string) => { const [x, v] = t.split(' '); return Number(x) * unit[v as keyof typeof unit]; };
        expect(secs(formatAge(lo))).to.be.at.most(secs(formatAge(hi)));
      }),
      { numRuns: 500 },
    );
    expect([0, 59, 60, 3599, 3600, 172_799, 172_800, 11239 * 3600].map(formatAge)).to.deep.equal(['0 min', '0 min', '1 min', '59 min', '1 h', '47 h', '2 d', '468 d']);
  });
});

describe('cli: db update records its --source paths absolute', function () {
  this.timeout(120_000);

  it('property: a relative local path is resolved against the working directory, its prefix kept; URLs and absolute paths stay', () => {
    const seg = fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/).filter((x) => x !== '.' && x !== '..');
    fc.assert(
      fc.property(fc.constantFrom('', 'osv:', 'nvd:', 'kev:', 'epss:', 'eol:'), fc.array(seg, { minLength: 1, maxLength: 4 }), fc.boolean(), (prefix, parts, url) => {
        const cwd = '/work/here';
        if (url) {
          const u = `${prefix}https://mirror.example.test/${parts.join('/')}`;
          expect(absoluteSource(u, cwd)).to.equal(u);
          return;
        }
        const rel = parts.join('/');
        expect(absoluteSource(`${prefix}${rel}`, cwd)).to.equal(`${prefix}${path.join(cwd, rel)}`);
        expect(absoluteSource(`${prefix}/abs/${rel}`, cwd)).to.equal(`${prefix}/abs/${rel}`);
        expect(absoluteSource(`${prefix}./${rel}`, cwd)).to.equal(`${prefix}${path.join(cwd, rel)}`);
      }),
      { numRuns: 300 },
    );
  });

  it('db update --source RELATIVE in one directory: db status elsewhere lists the absolute paths', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-db-rel-'));
    try {
      fs.cpSync(path.join(FIX, 'osv/npm'), path.join(work, 'feeds/osv-npm'), { recursive: true });
      fs.copyFileSync(path.join(FIX, 'kev/known_exploited_vulnerabilities.json'), path.join(work, 'feeds/kev.json'));
      const db = path.join(work, 'v.sqlite');
      const u = runCli(['db', 'update', '--db', db, '--source', 'feeds/osv-npm', '--source', 'kev:feeds/kev.json'], { cwd: work, timeoutMs: 60_000 });
      expect(u.status, u.stderr).to.equal(0);
      const st = JSON.parse(runCli(['db', 'status', '--db', db, '--format', 'json'], { cwd: os.tmpdir(), timeoutMs: 60_000 }).stdout) as { sources: string[]; sourceStatus: Array<{ source: string }> };
      // the child's working directory is the real path of `work` (a symbolic link in TMPDIR is resolved)
      const real = fs.realpathSync(work);
      expect(st.sources).to.deep.equal([path.join(real, 'feeds/osv-npm'), `kev:${path.join(real, 'feeds/kev.json')}`]);
      expect(st.sourceStatus.map((x) => x.source)).to.deep.equal(st.sources);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
