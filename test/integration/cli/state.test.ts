/**
 * The CLI's state lives in the user's cache, not the working directory (src/config/cli-state.ts):
 * the real `pushgate` in child processes, each run in a fresh account (temporary HOME and XDG_*
 * directories, test/helpers/cli-sandbox.ts) and a temporary working directory. The first-use
 * download reads a loopback HTTP server that serves the offline OSV fixtures in the public bucket's
 * layout (`<base>/<Ecosystem>/all.zip`), named by PUSHGATE_VULNDB_MIRROR. A hostile package name
 * with escape sequences prints as plain text in the table and exactly in JSON.
 * Ports: the mirror on an ephemeral loopback port; 23299 is the closed port the sandbox's default
 * mirror names.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { DEFAULT_VULNDB_SOURCES } from '../../../src/config/defaults.js';
import type { ScanReport } from '../../../src/core/index.js';
import { makeSandbox, runInSandbox, type CliSandbox } from '../../helpers/cli-sandbox.js';
import { labOci, ROOT } from '../../helpers/lab.js';
import { DEBIAN_12_OS_RELEASE, dpkgStatus, writeOciImage } from '../../helpers/oci-image.js';

const FIXTURES = path.join(ROOT, 'test/fixtures/vulndb/osv');

describe('cli: state in the user cache, first-use database, --offline', function () {
  this.timeout(300_000);
  let sb: CliSandbox;
  let base: string;
  before(() => {
    sb = makeSandbox();
    base = labOci('debian-minbase', 'bookworm');
  });
  after(() => sb.remove());

  it('db update in one directory, scan in another: the database is found in $XDG_CACHE_HOME/pushgate; nothing is written to either directory', async () => {
    const a = sb.newDir('dir-a');
    const b = sb.newDir('dir-b');
    const dbPath = path.join(sb.cache, 'pushgate', 'vulndb.sqlite');
    const u = await runInSandbox(sb, ['db', 'update', '--source', FIXTURES], { cwd: a });
    expect(u.status, u.stderr).to.equal(0);
    expect(u.stdout).to.include(`installed ${dbPath}:`);
    const st = await runInSandbox(sb, ['db', 'status'], { cwd: b });
    expect(st.status, st.stderr).to.equal(0);
    expect(st.stdout.split('\n')[0]).to.equal(`path       ${dbPath}  (cache directory from $XDG_CACHE_HOME)`);
    const r = await runInSandbox(sb, ['scan', base, '--format', 'json', '--offline'], { cwd: b });
    expect(r.status, r.stderr).to.equal(0);
    const report = JSON.parse(r.stdout) as ScanReport;
    expect(report.complete).to.equal(true);
    expect(report.diagnostics.map((d) => d.code)).not.to.include('vulndb-missing');
    expect(report.findings.some((f) => f.id.startsWith('DEBIAN-CL-'))).to.equal(true);
    expect(fs.readdirSync(a), 'db update wrote into its working directory').to.deep.equal([]);
    expect(fs.readdirSync(b), 'scan wrote into its working directory (./data/tmp?)').to.deep.equal([]);
  });

  it('precedence: $PUSHGATE_CACHE_DIR beats XDG_CACHE_HOME; ~/.cache/pushgate without XDG; PUSHGATE_CONFIG vulndb.path serves db update and scan alike; --db beats it', async () => {
    const pg = sb.newDir('pg-cache');
    const u = await runInSandbox(sb, ['db', 'update', '--source', path.join(FIXTURES, 'npm')], { env: { PUSHGATE_CACHE_DIR: pg } });
    expect(u.status, u.stderr).to.equal(0);
    expect(fs.existsSync(path.join(pg, 'vulndb.sqlite'))).to.equal(true);
    const noXdg = await runInSandbox(sb, ['db', 'status', '--format', 'json'], { env: { XDG_CACHE_HOME: '' } });
    expect(noXdg.stdout + noXdg.stderr).to.include(path.join(sb.home, '.cache', 'pushgate', 'vulndb.sqlite'));

    const cfgDir = sb.newDir('cfg');
    const cfg = path.join(cfgDir, 'pushgate.yaml');
    fs.writeFileSync(cfg, `vulndb:\n  path: ${path.join(cfgDir, 'from-config.sqlite')}\n`);
    const viaEnv = await runInSandbox(sb, ['db', 'update', '--source', FIXTURES], { env: { PUSHGATE_CONFIG: cfg } });
    expect(viaEnv.stdout).to.include(`installed ${path.join(cfgDir, 'from-config.sqlite')}:`);
    const st = await runInSandbox(sb, ['db', 'status'], { env: { PUSHGATE_CONFIG: cfg } });
    expect(st.stdout.split('\n')[0]).to.equal(`path       ${path.join(cfgDir, 'from-config.sqlite')}  (vulndb.path in ${cfg})`);
    const scan = await runInSandbox(sb, ['scan', base, '--format', 'json', '--offline'], { env: { PUSHGATE_CONFIG: cfg, XDG_CACHE_HOME: sb.newDir('empty-cache') } });
    expect((JSON.parse(scan.stdout) as ScanReport).complete, scan.stderr).to.equal(true);
    const flag = await runInSandbox(sb, ['scan', base, '--format', 'json', '--offline', '--db', path.join(cfgDir, 'none.sqlite')], { env: { PUSHGATE_CONFIG: cfg } });
    expect(flag.status).to.equal(1);
    expect(flag.stderr).to.include(`no vulnerability database at ${path.join(cfgDir, 'none.sqlite')}`);
  });

  describe('first use', () => {
    let server: http.Server;
    let mirror: string;
    let requests: string[];
    let zips: Record<string, Buffer>;

    before(async () => {
      const tmp = sb.newDir('zips');
      const zip = (name: string, dir: string): Buffer => {
        const out = path.join(tmp, `${name}.zip`);
        execFileSync('zip', ['-qrj', out, dir]);
        return fs.readFileSync(out);
      };
      zips = { '/osv/Debian/all.zip': zip('debian', path.join(FIXTURES, 'debian-bookworm')), '/osv/npm/all.zip': zip('npm', path.join(FIXTURES, 'npm')) };
      requests = [];
      server = http.createServer((req, res) => {
        requests.push(req.url ?? '');
        const body = zips[req.url ?? ''];
        if (body) res.writeHead(200, { 'content-type': 'application/zip', etag: `"${body.length}"` }).end(body);
        else res.writeHead(404).end('no such export'); // no Alpine export on this mirror
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}/osv`;
    });
    after(() => server?.close());

    it('--offline with no database: no request, one hint line on stderr, the report says vulndb-missing, exit nonzero', async () => {
      const fresh = makeSandbox({ PUSHGATE_VULNDB_MIRROR: mirror });
      try {
        const r = await runInSandbox(fresh, ['scan', base, '--format', 'json', '--offline']);
        expect(requests, '--offline touched the network').to.deep.equal([]);
        expect(r.status).to.equal(1);
        const lines = r.stderr.trim().split('\n');
        expect(lines, r.stderr).to.have.length(1);
        expect(lines[0]).to.match(/^pushgate: no vulnerability database at .*xdg-cache\/pushgate\/vulndb\.sqlite and --offline forbids downloading one; to get one offline, .*"pushgate db update --source FILE\|DIR"/);
        const report = JSON.parse(r.stdout) as ScanReport;
        expect(report.diagnostics.map((d) => d.code)).to.include('vulndb-missing');
        expect(report.verdict.decision).to.equal('quarantine');
      } finally {
        fresh.remove();
      }
    });

    it('sources unreachable: the scan still reports, and one line says they are unreachable and how to get a database offline', async () => {
      const fresh = makeSandbox(); // mirror on the closed port 23299
      try {
        const r = await runInSandbox(fresh, ['scan', base, '--format', 'json']);
        expect(r.status).to.equal(1);
        const hint = r.stderr.trim().split('\n').filter((l) => !l.includes('building it from'));
        expect(hint, r.stderr).to.have.length(1);
        expect(hint[0]).to.match(/^pushgate: no vulnerability database at .*: the sources are unreachable: http:\/\/127\.0\.0\.1:23299: .*ECONNREFUSED.*; to get one offline, .*pushgate db update --source/);
        expect((JSON.parse(r.stdout) as ScanReport).diagnostics.map((d) => d.code)).to.include('vulndb-missing');
      } finally {
        fresh.remove();
      }
    });

    it('no database yet: scan downloads it from the mirror with progress on stderr, then judges with it; the next scan downloads nothing', async () => {
      const fresh = makeSandbox({ PUSHGATE_VULNDB_MIRROR: mirror });
      try {
        const r = await runInSandbox(fresh, ['scan', base, '--format', 'json']);
        expect(r.status, r.stderr).to.equal(0);
        // every default export (one per ecosystem pushgate scans), each asked for once
        expect(requests.sort()).to.deep.equal(DEFAULT_VULNDB_SOURCES.map((u) => new URL(u).pathname.replace(/^\//, '/osv/')).sort());
        const dbPath = path.join(fresh.cache, 'pushgate', 'vulndb.sqlite');
        expect(r.stderr).to.include(`pushgate: no vulnerability database at ${dbPath} yet: building it from ${DEFAULT_VULNDB_SOURCES.length} sources (${mirror}/Debian/all.zip, `);
        expect(r.stderr).to.include(`reading ${mirror}/Debian/all.zip`);
        expect(r.stderr).to.match(/\/Debian\/all\.zip: \d+\/\d+ files \(100%\)/);
        // this mirror serves only Debian and npm: every other export is named as not read
        expect(r.stderr).to.match(new RegExp(`pushgate: installed ${dbPath}: \\d+ records \\(not read: [^)]*${mirror}/Alpine/all\\.zip[^)]*\\)`));
        expect(r.stderr).to.not.match(/not read: [^)]*\/(Debian|npm)\/all\.zip/);
        const report = JSON.parse(r.stdout) as ScanReport;
        expect(report.complete).to.equal(true);
        expect(report.findings.some((f) => f.id.startsWith('DEBIAN-CL-'))).to.equal(true);
        expect(fs.readdirSync(fresh.cwd)).to.deep.equal([]);

        requests.length = 0;
        const again = await runInSandbox(fresh, ['scan', base, '--format', 'json']);
        expect(again.status, again.stderr).to.equal(0);
        expect(requests).to.deep.equal([]);
        expect(again.stderr).to.equal('');
      } finally {
        fresh.remove();
        requests.length = 0;
      }
    });
  });

  it('a hostile package name and advisory text with escape sequences print as plain text in the table, exactly in JSON', async () => {
    const dir = sb.newDir('hostile');
    const evil = 'evil\x1b[31mred\x1b[0m';
    const summary = 'boom\x1b]0;pwned\x07\x1b[2J\x9b1;1H\u202etxt.exe';
    const osv = sb.newDir('hostile-osv');
    fs.writeFileSync(path.join(osv, 'PG-TEST-ESC-1.json'), JSON.stringify({
      schema_version: '1.6.0', id: 'PG-TEST-ESC-1', modified: '2026-01-01T00:00:00Z', summary,
      affected: [{ package: { ecosystem: 'Debian:12', name: evil }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.0' }] }] }],
    }));
    const db = path.join(dir, 'db.sqlite');
    const u = await runInSandbox(sb, ['db', 'update', '--source', osv, '--db', db]);
    expect(u.status, u.stderr).to.equal(0);
    const img = writeOciImage(dir, 'img', [{ files: {
      'etc/os-release': DEBIAN_12_OS_RELEASE,
      'var/lib/dpkg/status': `${dpkgStatus([`${evil} 1.0`])}\nPackage: bad\x1b]8;;http://x\x07pkg\nStatus: install ok installed\nVersion: 1.0\x1b[K\n`,
    }, gzip: true }]);
    const t = await runInSandbox(sb, ['scan', img.ref, '--db', db]);
    expect(t.status, t.stderr).to.equal(1);
    // eslint-disable-next-line no-control-regex
    expect(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/.test(t.stdout), JSON.stringify(t.stdout)).to.equal(false);
    expect(t.stdout).to.include('evil\\x1b[31mred\\x1b[0m');
    expect(t.stdout).to.include('boom\\x1b]0;pwned\\x07\\x1b[2J\\u{9b}1;1H\\u{202e}txt.exe');
    expect(t.stdout).to.include('bad\\x1b]8;;http://x\\x07pkg');
    const j = await runInSandbox(sb, ['scan', img.ref, '--db', db, '--format', 'json']);
    const report = JSON.parse(j.stdout) as ScanReport;
    expect(report.findings.map((f) => [f.package, f.summary])).to.deep.equal([[evil, summary]]);
  });
});
