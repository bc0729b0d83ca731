/**
 * `pushgate db status|update --db PATH` when PATH is not a database file: a directory (SQLite says
 * only "disk I/O error"), a FIFO (opening it blocks) or nothing at all. Each is one line on stderr
 * saying what PATH is and what is expected, exit 2 (DESIGN.md §3); a missing database asked for as
 * JSON is also a JSON object on stdout saying so. The real CLI in a child process.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { oneLine, runCli, type CliRun } from '../../helpers/cli.js';
import { ROOT } from '../../helpers/lab.js';

describe('cli: pushgate db with a --db that is not a database file', function () {
  this.timeout(120_000);
  let dir: string;
  let fifo: string;

  const run = (args: string[]): CliRun => runCli(args, { cwd: dir, timeoutMs: 20_000 });

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-db-'));
    fifo = path.join(dir, 'vulndb.fifo');
    execFileSync('mkfifo', [fifo]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('db status --db DIR: "is a directory", what is expected, exit 2 (not "disk I/O error")', () => {
    const line = oneLine(run(['db', 'status', '--db', dir]), 'status DIR');
    expect(line).to.equal(`pushgate: --db ${dir} is a directory; expected a vulnerability database file such as ${path.join(dir, 'vulndb.sqlite')} (created by \`pushgate db update\`)`);
    expect(line).not.to.match(/I\/O/);
  });

  it('db status of a file that is no database says the `db update` that rebuilds that file, and why it cannot be read', () => {
    const junk = path.join(dir, 'junk.sqlite');
    fs.writeFileSync(junk, 'this is no SQLite database\n'.repeat(200));
    expect(oneLine(run(['db', 'status', '--db', junk]), 'status junk')).to.equal(`pushgate: no vulnerability database at ${junk} (--db): run \`pushgate db update --db ${junk}\` (unreadable: file is not a database)`);
    const cfg = path.join(dir, 'junk-db.yaml');
    fs.writeFileSync(cfg, `vulndb:\n  path: ${junk}\n`);
    expect(oneLine(run(['db', 'status', '--config', cfg]), 'status junk, config')).to.include(`(vulndb.path in ${cfg}): run \`pushgate db update --config ${cfg} --db ${junk}\``);
  });

  it('db status --db FIFO fails fast; a path that does not exist says the `db update` that builds that file', () => {
    expect(oneLine(run(['db', 'status', '--db', fifo]), 'status FIFO')).to.match(/is a FIFO \(named pipe\); expected a vulnerability database file/);
    // a bare `db update` installs into the cache directory, not at the path this command was given
    const none = path.join(dir, 'nothing.sqlite');
    expect(oneLine(run(['db', 'status', '--db', none]), 'status missing')).to.equal(`pushgate: no vulnerability database at ${none} (--db): run \`pushgate db update --db ${none}\``);
    // vulndb.path of a --config file: that file's sources build it
    const cfg = path.join(dir, 'missing-db.yaml');
    const atCfg = path.join(dir, 'from-config.sqlite');
    fs.writeFileSync(cfg, `vulndb:\n  path: ${atCfg}\n`);
    expect(oneLine(run(['db', 'status', '--config', cfg]), 'status missing, config')).to.equal(`pushgate: no vulnerability database at ${atCfg} (vulndb.path in ${cfg}): run \`pushgate db update --config ${cfg} --db ${atCfg}\``);
    // the default, from the environment: the bare command builds exactly that file
    const cache = fs.mkdtempSync(path.join(dir, 'cache-'));
    const bare = oneLine(runCli(['db', 'status'], { cwd: dir, timeoutMs: 20_000, env: { PUSHGATE_CACHE_DIR: cache } }), 'status missing, default');
    expect(bare).to.equal(`pushgate: no vulnerability database at ${path.join(cache, 'vulndb.sqlite')} (cache directory from $PUSHGATE_CACHE_DIR): run \`pushgate db update\``);
  });

  it('db status --format json without a database: a JSON object saying it is missing, where, and the db update that builds it; exit and stderr as the text form', () => {
    const cache = fs.mkdtempSync(path.join(dir, 'json-cache-'));
    const cfg = path.join(dir, 'json-missing.yaml');
    const atCfg = path.join(dir, 'json from config ü.sqlite');
    fs.writeFileSync(cfg, `vulndb:\n  path: ${JSON.stringify(atCfg)}\n`);
    const none = path.join(dir, 'json-nothing.sqlite');
    const cases = [
      { args: ['--db', none], env: {}, path: none, pathFrom: '--db', updateCommand: `pushgate db update --db ${none}` },
      { args: ['--config', cfg], env: {}, path: atCfg, pathFrom: `vulndb.path in ${cfg}`, updateCommand: `pushgate db update --config ${cfg} --db ${atCfg}` },
      { args: [], env: { PUSHGATE_CACHE_DIR: cache }, path: path.join(cache, 'vulndb.sqlite'), pathFrom: 'cache directory from $PUSHGATE_CACHE_DIR', updateCommand: 'pushgate db update' },
    ];
    for (const c of cases) {
      const what = c.args.join(' ') || 'default';
      const text = runCli(['db', 'status', ...c.args], { cwd: dir, timeoutMs: 20_000, env: c.env });
      const json = runCli(['db', 'status', ...c.args, '--format', 'json'], { cwd: dir, timeoutMs: 20_000, env: c.env });
      expect(json.status, `${what}: ${json.stderr}`).to.equal(text.status).and.to.equal(2);
      expect(json.stderr, what).to.equal(text.stderr);
      expect(JSON.parse(json.stdout), what).to.deep.equal({ missing: true, path: c.path, pathFrom: c.pathFrom, updateCommand: c.updateCommand });
    }
  });

  it('db status --format json of a database that exists says missing: false beside what it holds', () => {
    const cache = fs.mkdtempSync(path.join(dir, 'json-built-'));
    const built = runCli(['db', 'update', '--source', path.join(ROOT, 'test/fixtures/vulndb/osv/npm')], { cwd: dir, timeoutMs: 60_000, env: { PUSHGATE_CACHE_DIR: cache } });
    expect(built.status, built.stderr).to.equal(0);
    const r = runCli(['db', 'status', '--format', 'json'], { cwd: dir, timeoutMs: 20_000, env: { PUSHGATE_CACHE_DIR: cache } });
    expect(r.status, r.stderr).to.equal(0);
    const st = JSON.parse(r.stdout) as { missing: boolean; path: string; records: number };
    expect(st.missing).to.equal(false);
    expect(st.path).to.equal(path.join(cache, 'vulndb.sqlite'));
    expect(st.records).to.be.greaterThan(0);
  });

  it('db update --db DIR is refused before importing anything, nothing written next to DIR', () => {
    const target = fs.mkdtempSync(path.join(dir, 'dbdir-'));
    const line = oneLine(run(['db', 'update', '--db', target, '--source', path.join(ROOT, 'test/fixtures/vulndb/osv')]), 'update DIR');
    expect(line).to.match(/is a directory; expected a vulnerability database file/);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith(`${path.basename(target)}.`))).to.deep.equal([]);
    expect(fs.readdirSync(target)).to.deep.equal([]);
  });

  it('scan without a database: the report\'s vulndb-missing names the db update that builds the file this scan reads', () => {
    const cfg = path.join(dir, 'absent-db.yaml');
    const at = path.join(dir, 'absent', 'vulndb.sqlite');
    fs.writeFileSync(cfg, `vulndb:\n  path: ${at}\n`);
    const root = fs.mkdtempSync(path.join(dir, 'rootfs-'));
    for (const [args, cmd] of [
      [['--config', cfg], `pushgate db update --config ${cfg} --db ${at}`],
      [['--db', at], `pushgate db update --db ${at}`],
    ] as const) {
      const r = run(['scan', `dir:${root}`, '--format', 'json', '--offline', ...args]);
      const report = JSON.parse(r.stdout) as { diagnostics: Array<{ code: string; message: string }> };
      const d = report.diagnostics.find((x) => x.code === 'vulndb-missing');
      expect(d?.message, args.join(' ')).to.include(`build one with \`${cmd}\``);
    }
  });

  it('scan with vulndb.path a FIFO: the report is printed without a database (vulndb-missing), no hang', () => {
    const cfg = path.join(dir, 'fifo-db.yaml');
    fs.writeFileSync(cfg, `vulndb:\n  path: ${fifo}\n`);
    const root = fs.mkdtempSync(path.join(dir, 'rootfs-'));
    const r = run(['scan', `dir:${root}`, '--format', 'json', '--config', cfg]);
    expect(r.signal, 'blocked opening the FIFO').to.equal(null);
    const report = JSON.parse(r.stdout) as { complete: boolean; diagnostics: Array<{ code: string }> };
    expect(report.complete).to.equal(false);
    expect(report.diagnostics.map((d) => d.code)).to.include('vulndb-missing');
  });
});
