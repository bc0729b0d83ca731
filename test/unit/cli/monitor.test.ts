import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { affectedTable } from '../../../src/cli/commands/monitor.js';
import { missingSqliteStore } from '../../../src/cli/store-check.js';
import { MAX_COLUMN } from '../../../src/cli/table.js';
import { terminalText } from '../../../src/cli/terminal-text.js';
import type { Digest } from '../../../src/core/index.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { openStore } from '../../../src/store/index.js';
import Database from 'better-sqlite3';
import { oneLine, runCli } from '../../helpers/cli.js';
import { buildDb, digestOf, npmPackage, osvRecord, scanOf, storeImage } from '../../helpers/monitor.js';

describe('CLI: pushgate monitor, pushgate affected', function () {
  this.timeout(120_000);
  let dir: string;
  let config: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-monitor-'));
    const dbPath = path.join(dir, 'vulndb.sqlite');
    const storeUrl = `sqlite:${path.join(dir, 'pushgate.db')}`;
    config = path.join(dir, 'pushgate.yaml');
    fs.writeFileSync(config, `store:\n  url: ${storeUrl}\nvulndb:\n  path: ${dbPath}\n  sources: []\nregistries: []\n`);
    const policy = defaultPolicy();
    const v1 = await buildDb(dbPath, [osvRecord('npm/NSWG-NPM-368.json')]);
    const store = await openStore(storeUrl);
    await storeImage(store, { repository: 'team/zip', tag: 'v1', scan: scanOf(digestOf(1), [npmPackage('adm-zip', '0.4.7')]), db: v1, policy });
    await store.close();
    v1.close();
    (await buildDb(dbPath, [osvRecord('npm/NSWG-NPM-368.json'), osvRecord('npm/NSWG-NPM-458.json')])).close();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the table of a page with more after it ends saying how to ask for the next page', () => {
    const img = { digest: digestOf(9), findings: [{ id: 'NSWG-NPM-458', aliases: [], package: 'adm-zip', installedVersion: '0.4.7', fixedVersions: ['0.4.9'], severity: 'high' as const, path: '/app', firstSeen: '2026-12-05T00:00:00.000Z' }], verdicts: [], workloads: [], workloadCount: 0 };
    const last = (more: boolean) => affectedTable({ id: 'NSWG-NPM-458', images: [img], more, ...(more ? { next: digestOf(9) } : {}), indexBehind: false }).trimEnd().split('\n').pop();
    expect(last(true)).to.equal(`more images: run again with --after ${digestOf(9)}`);
    expect(last(false)).to.match(/^\(no verdict\)/);
  });

  it('monitor judges the stored image with the new database; affected lists it by CVE; a second monitor has nothing to do', () => {
    const m = runCli(['monitor', '--config', config]);
    expect(m.status, m.stderr).to.equal(0);
    const stats = JSON.parse(m.stdout) as { rejudged: number; patched: number; newFindings: number };
    // one npm image on one platform: patched from its stored verdict with the changed pair's findings
    expect(stats).to.include({ rejudged: 0, patched: 1, newFindings: 1 });
    const a = runCli(['affected', 'cve-2018-1002204', '--format', 'json', '--config', config]);
    expect(a.status, a.stderr).to.equal(0);
    const out = JSON.parse(a.stdout) as { images: Array<{ digest: string; findings: Array<{ id: string; fixedVersions: string[] }>; verdicts: Array<{ repository: string }> }> };
    expect(out.images.map((i) => [i.digest, i.findings[0].id, i.findings[0].fixedVersions[0], i.verdicts[0].repository])).to.deep.equal([[digestOf(1), 'NSWG-NPM-458', '0.4.9', 'team/zip']]);
    const t = runCli(['affected', 'NSWG-NPM-458', '--config', config]);
    // a query's answer alone: no info line of the service's log (log.level info) beside it
    expect(t.stderr, 'stderr').to.equal('');
    // the configuration names no registry `lab` (any more): its name is not printed as a host
    expect(t.stdout.split('\n')[1]).to.match(/^\[lab\] team\/zip:v1\s+-\s+sha256:0{12}\S*\s+NSWG-NPM-458\s+adm-zip\s+0\.4\.7\s+0\.4\.9\s+high\s+-$/);
    const again = runCli(['monitor', '--config', config]);
    expect(JSON.parse(again.stdout)).to.include({ skipped: true });
    expect(runCli(['affected', 'X', '--format', 'xml', '--config', config]).status).to.equal(2);
  });

  it('affected pages with --limit and --after; a limit out of 1..1000, a cursor that is not a digest or an id that is not an advisory id exits 2 saying so', () => {
    const one = runCli(['affected', 'CVE-2018-1002204', '--limit', '1', '--format', 'json', '--config', config]);
    expect(one.status, one.stderr).to.equal(0);
    expect(JSON.parse(one.stdout)).to.include({ more: false, indexBehind: false });
    const past = runCli(['affected', 'CVE-2018-1002204', '--after', digestOf(1), '--format', 'json', '--config', config]);
    expect(JSON.parse(past.stdout)).to.deep.include({ images: [], more: false });
    for (const [args, re] of [
      [['--limit', '0'], /--limit 0: use an integer from 1 to 1000/],
      [['--limit', '1001'], /--limit 1001/],
      [['--limit', 'ten'], /--limit ten/],
      [['--after', 'sha256:1'], /--after sha256:1: use an image digest/],
    ] as const) {
      const r = runCli(['affected', 'CVE-2018-1002204', ...args, '--config', config]);
      expect(r.status, args.join(' ')).to.equal(2);
      expect(r.stderr).to.match(re);
    }
    const badId = runCli(['affected', 'CVE-1 OR 1=1', '--config', config]);
    expect(badId.status).to.equal(2);
    expect(badId.stderr).to.match(/has characters ids do not have/);
  });

  it('monitor --rescan reports each stale image on stderr and exits 1 when it cannot be read (no registry configured); --all with --rescan exits 2', () => {
    const both = runCli(['monitor', '--all', '--rescan', '--config', config]);
    expect(both.status).to.equal(2);
    expect(both.stderr).to.match(/--all and --rescan: use one/);
    const fresh = runCli(['monitor', '--rescan', '--config', config]);
    expect(fresh.status, fresh.stderr).to.equal(0);
    expect(JSON.parse(fresh.stdout)).to.include({ stale: 0, rescanned: 0, failed: 0 });
    // an analyzer upgrade: the stored inventory is under another analyzer-set version's key
    const raw = new Database(path.join(dir, 'pushgate.db'));
    try {
      expect(raw.prepare("UPDATE layers SET key = 'scan:older-analyzers:' || substr(key, instr(substr(key, 6), ':') + 6) WHERE key LIKE 'scan:%'").run().changes).to.equal(1);
    } finally {
      raw.close();
    }
    const r = runCli(['monitor', '--rescan', '--config', config]);
    expect(r.status, r.stderr).to.equal(1);
    expect(JSON.parse(r.stdout)).to.include({ stale: 1, rescanned: 0, failed: 1 });
    expect(r.stderr).to.match(new RegExp(`^rescan 1/1 lab/team/zip@${digestOf(1)}: failed \\(.+\\)$`, 'm'));
  });
});

describe('CLI: monitor and affected refuse a SQLite store that is not there', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-nostore-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Run away from serve's directory (no config/pushgate.yaml here), the built-in store.url names
  // ./data/pushgate.db: opening it would create an empty store and answer "no stored image".
  for (const args of [['affected', 'CVE-2018-1002204'], ['affected', 'NSWG-NPM-458', '--format', 'json'], ['monitor'], ['monitor', '--all']]) {
    it(`${args.join(' ')} in a directory without a store exits 2 naming the path, and creates nothing`, () => {
      const line = oneLine(runCli(args, { cwd: dir }), args.join(' '));
      expect(line).to.contain(`no store at ${path.join(fs.realpathSync(dir), 'data', 'pushgate.db')}`);
      expect(line).to.contain('built-in store.url');
      expect(line).to.contain('--config FILE');
      expect(fs.readdirSync(dir)).to.deep.equal([]);
    });
  }

  it('a configuration file whose store.url names a missing file is named in the message', () => {
    const config = path.join(dir, 'pushgate.yaml');
    fs.writeFileSync(config, 'store:\n  url: sqlite:./state/pushgate.db\nvulndb:\n  sources: []\nregistries: []\n');
    const line = oneLine(runCli(['affected', 'CVE-2018-1002204', '--config', config], { cwd: dir }), 'affected --config');
    expect(line).to.contain(`store.url of ${config}`);
    expect(fs.existsSync(path.join(dir, 'state'))).to.equal(false);
  });

  it('property: refused exactly when the sqlite: path does not exist; :memory: and postgres:// are never refused', () => {
    const seg = fc.stringMatching(/^[a-z0-9_-]{1,8}$/);
    fc.assert(fc.property(fc.array(seg, { minLength: 1, maxLength: 3 }), fc.boolean(), fc.boolean(), (segs, create, absolute) => {
      const rel = path.join(...segs, 'pushgate.db');
      const abs = path.join(dir, rel);
      fs.rmSync(path.join(dir, segs[0]), { recursive: true, force: true });
      if (create) {
        fs.mkdirSync(path.dirname(abs), { recursive: true });
        fs.writeFileSync(abs, '');
      }
      const why = missingSqliteStore(`sqlite:${absolute ? abs : `./${rel}`}`, undefined, dir);
      if (create) expect(why).to.equal(undefined);
      else expect(why).to.contain(`no store at ${abs} `);
    }), { numRuns: 60 });
    expect(missingSqliteStore('sqlite::memory:', undefined, dir)).to.equal(undefined);
    expect(missingSqliteStore('postgres://postgres@127.0.0.1:5432/none', undefined, dir)).to.equal(undefined);
  });
});

describe('cli: pushgate affected table is terminal-safe', () => {
  it('property: names, versions, repositories and tags from images print with every control character escaped', () => {
    const hostile = fc.string({ unit: fc.constantFrom('a', '1', '.', '\u001b', '[', ']', '\u0007', '\u009b', '\r', '\n', '\u202e', '\u0000', '\u007f') });
    fc.assert(fc.property(hostile, hostile, hostile, hostile, (pkg, version, repository, tag) => {
      const digest = `sha256:${'a'.repeat(64)}` as Digest;
      const out = affectedTable({
        id: 'CVE-2024-0001',
        more: false,
        indexBehind: false,
        images: [{
          digest,
          findings: [{ id: 'CVE-2024-0001', aliases: [], package: pkg, installedVersion: version, fixedVersions: [version], severity: 'high', path: '/x', firstSeen: '2026-01-01' }],
          verdicts: [{ registry: 'lab', repository, tags: [tag], decision: 'quarantine' }],
          workloads: [],
          workloadCount: 0,
        }],
      });
      // the table's own line breaks only: one header line and one row, which continues on a line of its
      // own (starting with spaces, at a column) only after a value wider than its column
      const lines = out.trimEnd().split('\n');
      expect(lines[0]).to.match(/^IMAGE /);
      expect(lines[1]).to.match(/^\[lab\] /);
      for (const l of lines.slice(2)) expect(l, JSON.stringify(lines)).to.match(/^ +\S/);
      const wide = [`[lab] ${repository}:${tag}`, pkg, version, version].filter((v) => terminalText(v).length > MAX_COLUMN).length;
      expect(lines.length - 2, JSON.stringify(lines)).to.be.at.most(wide);
      // eslint-disable-next-line no-control-regex -- an independent oracle: no raw control character
      expect(out.replace(/\n/g, '')).to.not.match(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    }), { numRuns: 200 });
  });
});

describe('cli: pushgate affected names repositories as users pull them', () => {
  const row = (registry: string, hosts?: Map<string, string>) =>
    affectedTable(
      {
        id: 'CVE-2024-0001',
        more: false,
        indexBehind: false,
        images: [{
          digest: `sha256:${'b'.repeat(64)}` as Digest,
          findings: [{ id: 'CVE-2024-0001', aliases: [], package: 'adm-zip', installedVersion: '0.4.7', fixedVersions: ['0.4.11'], severity: 'high', path: '/x', firstSeen: '2026-01-01' }],
          verdicts: [{ registry, repository: 'lab/adm-zip', tags: ['0.4.7'], decision: 'quarantine' }],
          workloads: [],
          workloadCount: 0,
        }],
      },
      hosts,
    ).split('\n')[1].split(/\s{2,}/)[0];
  it('a configured registry by its host (the reference to pull), never its name joined as if it were a host', () => {
    expect(row('lab', new Map([['lab', '127.0.0.1:5000']]))).to.equal('127.0.0.1:5000/lab/adm-zip:0.4.7');
    expect(row('lab', new Map())).to.equal('[lab] lab/adm-zip:0.4.7');
    expect(row('lab')).to.not.match(/^lab\//);
  });
});

describe('cli: pushgate affected says where a listed tag is and which platform a row is', () => {
  it('property: STATE names the enforcement done (quarantined, deleted, labelled), else -; PLATFORM only when a finding has one', () => {
    const enforcement = fc.option(fc.record({ action: fc.constantFrom('quarantine', 'delete', 'label', 'none', 'restore'), status: fc.constantFrom('done', 'failed', 'skipped', 'pending') }), { nil: undefined });
    fc.assert(fc.property(fc.array(enforcement, { minLength: 1, maxLength: 3 }), fc.array(fc.option(fc.constantFrom('linux/amd64', 'linux/arm64'), { nil: undefined }), { minLength: 1, maxLength: 3 }), (enf, plats) => {
      const verdicts = enf.map((e, i) => {
        const enforced = e?.status === 'done' && ['quarantine', 'delete', 'label'].includes(e.action) ? (e.action as 'quarantine' | 'delete' | 'label') : undefined;
        return { registry: 'lab', repository: `team/app${i}`, tags: ['v1'], decision: 'quarantine', ...(enforced ? { enforced } : {}) };
      });
      const findings = plats.map((p) => ({ id: 'CVE-2024-0001', aliases: [], package: 'zlib1g', installedVersion: '1.2', fixedVersions: [], severity: 'high' as const, path: '/var/lib/dpkg/status', firstSeen: '2026-01-01', ...(p ? { platform: p } : {}) }));
      const out = affectedTable({ id: 'CVE-2024-0001', more: false, indexBehind: false, images: [{ digest: `sha256:${'c'.repeat(64)}` as Digest, findings, verdicts, workloads: [], workloadCount: 0 }] }, new Map([['lab', 'reg.example:5000']]));
      const lines = out.trimEnd().split('\n');
      const head = lines[0].split(/\s{2,}/);
      const withPlatform = plats.some(Boolean);
      expect(head.includes('PLATFORM')).to.equal(withPlatform);
      expect(head.slice(0, 3)).to.deep.equal(['IMAGE', 'STATE', 'DIGEST']);
      expect(lines.length - 1).to.equal(verdicts.length * findings.length);
      lines.slice(1).forEach((l, k) => {
        const cells = l.split(/\s{2,}/);
        const v = verdicts[Math.floor(k / findings.length)];
        const f = findings[k % findings.length];
        expect(cells[0]).to.equal(`reg.example:5000/${v.repository}:v1`);
        expect(cells[1]).to.equal(v.enforced ? { quarantine: 'quarantined', delete: 'deleted', label: 'labelled' }[v.enforced] : '-');
        if (withPlatform) expect(cells[3]).to.equal(f.platform ?? '-');
      });
    }), { numRuns: 200 });
  });
});
