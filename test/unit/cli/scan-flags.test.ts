/**
 * The report-shaping flags of `pushgate scan` (docker scan, Trivy and Grype habits), each through the
 * real CLI in a child process, on small OCI layouts built by test/helpers/oci-image.ts and judged
 * against the offline OSV fixtures: a Debian 12 base layer (apt 2.6.1, perl-base 5.36.0-7+deb12u3)
 * under an image layer that rewrites the dpkg status (adding libpcre2-8-0 10.42-1) and installs
 * bootstrap-tagsinput 0.8.0, an npm package whose advisory (NSWG-NPM-124, CVE-2016-1000227) has no fix.
 * Expectations are derived from the unfiltered report of the same image, never written down.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Finding, ScanReport } from '../../../src/core/index.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { oneLine, runCli, type CliRun } from '../../helpers/cli.js';
import { labImages, ROOT } from '../../helpers/lab.js';
import { DEBIAN_12_OS_RELEASE, writeOciImage } from '../../helpers/oci-image.js';

/** A dpkg status file; each package `name version source`. */
function status(pkgs: Array<[string, string, string]>): string {
  return pkgs.map(([n, v, src]) => `Package: ${n}\nStatus: install ok installed\nArchitecture: amd64\nSource: ${src}\nVersion: ${v}\n`).join('\n');
}

const BASE_PKGS: Array<[string, string, string]> = [['apt', '2.6.1', 'apt'], ['perl-base', '5.36.0-7+deb12u3', 'perl']];
const APP_PKGS: Array<[string, string, string]> = [...BASE_PKGS, ['libpcre2-8-0', '10.42-1', 'pcre2']];
const BASE_LAYER = { files: { 'etc/os-release': DEBIAN_12_OS_RELEASE, 'var/lib/dpkg/status': status(BASE_PKGS) } };
const APP_LAYER = {
  files: {
    'var/lib/dpkg/status': status(APP_PKGS),
    'app/node_modules/bootstrap-tagsinput/package.json': JSON.stringify({ name: 'bootstrap-tagsinput', version: '0.8.0' }),
  },
  gzip: true,
};
/** BuildKit-style history: the base's ADD and CMD, then this image's RUN and USER. */
const HISTORY = [
  { created_by: 'ADD file:4c2a8e9 in / ' },
  { created_by: 'CMD ["bash"]', empty_layer: true },
  { created_by: 'RUN /bin/sh -c apt-get install -y libpcre2-8-0 && npm install bootstrap-tagsinput@0.8.0 # buildkit' },
  { created_by: 'USER 65534', empty_layer: true },
];

const key = (f: Finding) => `${f.id} ${f.package} ${f.installedVersion} ${f.path}`;

describe('cli: pushgate scan flags', function () {
  this.timeout(180_000);
  let dir: string;
  let config: string;
  let image: string;
  let full: ScanReport;

  const scan = (args: string[], cwd = dir): CliRun => runCli(['scan', ...args, '--config', config], { cwd, timeoutMs: 60_000 });
  const json = (args: string[]): ScanReport & Record<string, unknown> => {
    const r = scan([image, '--format', 'json', ...args]);
    expect(r.status, r.stderr).to.be.oneOf([0, 1]);
    return JSON.parse(r.stdout) as ScanReport & Record<string, unknown>;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-flags-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    config = path.join(dir, 'pushgate.yaml');
    fs.writeFileSync(config, `vulndb:\n  path: ${path.join(dir, 'vulndb.sqlite')}\n`);
    image = writeOciImage(dir, 'app', [BASE_LAYER, APP_LAYER], { history: HISTORY }).ref;
    full = json([]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the unfiltered report has findings in base and image packages, and one without a fix', () => {
    const pkgs = new Set(full.findings.map((f) => f.package));
    expect([...pkgs]).to.include.members(['apt', 'perl-base', 'libpcre2-8-0', 'bootstrap-tagsinput']);
    expect(full.findings.some((f) => f.fixedVersions.length === 0)).to.equal(true);
    expect(full.findings.some((f) => f.fixedVersions.length > 0)).to.equal(true);
  });

  it('--severity is --severity-threshold: same verdict and revision; disagreeing values are refused', () => {
    const a = json(['--severity', 'high']);
    const b = json(['--severity-threshold', 'HIGH']);
    expect(a.verdict).to.deep.equal(b.verdict);
    expect(a.verdict.reasons.map((r) => r.rule)).to.include('severity-threshold');
    expect(full.verdict.policy.revision).to.not.equal(a.verdict.policy.revision);
    const line = oneLine(scan([image, '--severity', 'high', '--severity-threshold', 'low']), 'disagreeing aliases');
    expect(line).to.match(/--severity high and --severity-threshold low disagree/);
    expect(oneLine(scan([image, '--severity', 'severe']), 'bad level')).to.match(/^pushgate: --severity "severe": use one of unknown, negligible, low, medium, high, critical$/);
    expect(oneLine(scan([image, '--severity', 'CRITICAL,HIGH']), 'a Trivy list')).to.match(/--severity "CRITICAL,HIGH": use one of .* \(one level: the lowest that fails, e\.g\. --severity high\)$/);
  });

  it('--ignore-unfixed leaves out exactly the findings without a fixed version, before the policy judges', () => {
    const r = json(['--ignore-unfixed']);
    expect(r.findings.map(key).sort()).to.deep.equal(full.findings.filter((f) => f.fixedVersions.length).map(key).sort());
    expect(r.diagnostics.find((d) => d.code === 'ignore-unfixed')?.message).to.match(new RegExp(`^${full.findings.filter((f) => !f.fixedVersions.length).length} finding`));
    // the unfixed npm finding (CVSS high) no longer makes a high threshold fail
    const high = full.findings.filter((f) => f.severity === 'high' || f.severity === 'critical');
    expect(high.every((f) => !f.fixedVersions.length), 'the only high findings are unfixed').to.equal(true);
    expect(scan([image, '--severity', 'high']).status).to.equal(1);
    expect(scan([image, '--severity', 'high', '--ignore-unfixed']).status).to.equal(0);
  });

  it('--exit-code N is the status of a blocking decision; 0 stays 0; a bad N is a usage error', () => {
    expect(scan([image, '--severity', 'high', '--exit-code', '7']).status).to.equal(7);
    expect(scan([image, '--severity', 'high', '--exit-code', '0']).status).to.equal(0);
    expect(scan([image, '--exit-code', '7']).status, 'allowed image').to.equal(0);
    expect(oneLine(scan([image, '--exit-code', '256']), '256')).to.match(/whole number from 0 to 255/);
    expect(oneLine(scan([image, '--exit-code', '-1']), '-1')).to.match(/pushgate: /);
  });

  it('--output FILE writes the report there atomically and nothing to stdout', () => {
    const out = path.join(dir, 'reports', 'r.json');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, 'old report');
    const r = scan([image, '--format', 'json', '--output', out]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('');
    const written = JSON.parse(fs.readFileSync(out, 'utf8')) as ScanReport;
    expect(written.findings.map(key).sort()).to.deep.equal(full.findings.map(key).sort());
    expect(fs.readdirSync(path.dirname(out)), 'no temporary file left').to.deep.equal(['r.json']);
    const t = scan([image, '-o', path.join(dir, 'reports', 'r.txt')]);
    expect(t.stdout).to.equal('');
    expect(fs.readFileSync(path.join(dir, 'reports', 'r.txt'), 'utf8')).to.match(/^oci:.*\n(.*\n)*DECISION: ALLOW/);
    expect(oneLine(scan([image, '--output', path.join(dir, 'nowhere', 'r.json')]), 'missing dir')).to.match(/does not exist/);
    expect(oneLine(scan([image, '--output', dir]), 'a directory')).to.match(/is a directory/);
  });

  it('--quiet and a pipe print nothing on stderr; on a terminal a progress bar is drawn on stderr only', () => {
    const q = scan([image, '--quiet']);
    expect(q.status).to.equal(0);
    expect(q.stderr).to.equal('');
    expect(scan([image]).stderr, 'piped: no progress').to.equal('');
    // A real pseudo-terminal (util-linux script): stdout to a file, stderr to the terminal.
    const out = path.join(dir, 'tty-report.txt');
    const cmd = (extra: string) => `${process.execPath} ${path.join(ROOT, 'bin/pushgate.js')} scan ${image} --config ${config} ${extra} > ${out}`;
    const tty = spawnSync('script', ['-qfec', cmd(''), '/dev/null'], { encoding: 'utf8', cwd: dir, timeout: 60_000 });
    expect(tty.status, tty.stdout).to.equal(0);
    expect(tty.stdout, 'the bar names the layers it reads').to.match(/layer [12]\/2 sha256:/);
    expect(fs.readFileSync(out, 'utf8').includes('\u001b'), 'the report has no control sequences').to.equal(false);
    const quiet = spawnSync('script', ['-qfec', cmd('--quiet'), '/dev/null'], { encoding: 'utf8', cwd: dir, timeout: 60_000 });
    expect(quiet.stdout.replace(/\r?\n/g, ''), 'quiet on a terminal').to.equal('');
  });

  it('--group-issues: one entry per vulnerability listing every package it affects (JSON and table)', () => {
    const r = json(['--group-issues']);
    const groups = r.groups as Array<{ id: string; affects: Array<{ package: string; path: string }> }>;
    const ids = [...new Set(full.findings.map((f) => f.id))];
    expect(groups.map((g) => g.id).sort()).to.deep.equal(ids.sort());
    for (const g of groups) {
      expect(g.affects.map((a) => `${a.package} ${a.path}`).sort(), g.id).to.deep.equal(full.findings.filter((f) => f.id === g.id).map((f) => `${f.package} ${f.path}`).sort());
    }
    const t = scan([image, '--group-issues']).stdout;
    for (const id of ids) expect(t.split('\n').filter((l) => l.startsWith(`${id} `)), id).to.have.length(1);
    expect(oneLine(scan([image, '--group-issues', '--format', 'sarif']), 'sarif')).to.match(/--group-issues shapes the table and JSON/);
  });

  it('--dependency-tree: every package once, by layer and file, before the findings, with the note that no relations are kept', () => {
    const r = json(['--dependency-tree']);
    const tree = r.dependencyTree as { note: string; platforms: Array<{ layers: Array<{ index: number; files: Array<{ path: string; packages: Array<{ name: string; version: string }> }> }> }> };
    expect(tree.note).to.match(/no dependency relations.*grouped by the layer/);
    const listed = tree.platforms.flatMap((p) => p.layers.flatMap((l) => l.files.flatMap((f) => f.packages.map((x) => `${x.name} ${x.version} ${f.path}`))));
    expect(listed.sort()).to.deep.equal(full.packages.map((p) => `${p.name} ${p.version} ${p.path}`).sort());
    // the rewritten status in layer 2 holds every Debian package (the analyzers attribute a package to the last write)
    expect(tree.platforms[0].layers.map((l) => l.index)).to.deep.equal([2]);
    const t = scan([image, '--dependency-tree']).stdout;
    expect(t.indexOf('DEPENDENCY TREE')).to.be.greaterThan(-1);
    expect(t.indexOf('DEPENDENCY TREE')).to.be.lessThan(t.indexOf('PACKAGE '));
    expect(t).to.match(/\n {4}[├└]─ libpcre2-8-0 10\.42-1\n/);
  });

  describe('--ignore-file', () => {
    const npm = () => full.findings.filter((f) => f.package === 'bootstrap-tagsinput');

    it('the default .pushgateignore.yaml of the working directory hides a finding by alias in any case; the report says so', () => {
      const cwd = fs.mkdtempSync(path.join(dir, 'ignore-'));
      const alias = npm()[0].aliases[0];
      expect(alias).to.match(/^CVE-/);
      fs.writeFileSync(path.join(cwd, '.pushgateignore.yaml'), `vulnerabilities:\n  - id: ${alias.toLowerCase()}\n    statement: the tag input is not used\n    expires: 2999-12-31\n`);
      const r = scan([image, '--format', 'json'], cwd);
      const rep = JSON.parse(r.stdout) as ScanReport;
      expect(rep.findings.map(key).sort()).to.deep.equal(full.findings.filter((f) => f.package !== 'bootstrap-tagsinput').map(key).sort());
      expect(rep.diagnostics.find((d) => d.code === 'ignore-file')?.message).to.match(/^1 finding\(s\) ignored by \.pushgateignore\.yaml: NSWG-NPM-124 \(line 2\)/);
      expect(scan([image, '--severity', 'high'], cwd).status, 'the ignored finding no longer fails the threshold').to.equal(0);
      expect(scan([image, '--severity', 'high', '--no-ignore-file'], cwd).status, '--no-ignore-file').to.equal(1);
      expect(scan([image, '--severity', 'high', '--ignore-file', path.join(cwd, '.pushgateignore.yaml')]).status, 'named from elsewhere').to.equal(0);
    });

    it('an expired entry is reported on stderr (even with --quiet) and hides nothing', () => {
      const file = path.join(dir, 'expired.yaml');
      fs.writeFileSync(file, `# team exceptions\nvulnerabilities:\n  - id: ${npm()[0].id}\n    reason: waiting for upstream\n    expires: 2020-01-31\n`);
      const r = scan([image, '--format', 'json', '--ignore-file', file, '--quiet']);
      expect((JSON.parse(r.stdout) as ScanReport).findings.map(key).sort()).to.deep.equal(full.findings.map(key).sort());
      expect(r.stderr.trim().split('\n')).to.deep.equal([`pushgate: warning: expired.yaml:3: the entry for ${npm()[0].id} expired on 2020-01-31; it is ignored (renew or remove it)`]);
    });

    it('an expired entry whose id carries terminal escape sequences is reported with them shown, not acted on', () => {
      const file = path.join(dir, 'hostile.yaml');
      fs.writeFileSync(file, 'vulnerabilities:\n  - id: "X-1\\e]0;owned\\a\\e[2K\\e[1Apushgate: all clear"\n    expires: 2020-01-01\n');
      const r = scan([image, '--format', 'json', '--ignore-file', file, '--quiet']);
      expect(r.stderr).to.include('expired on 2020-01-01');
      // eslint-disable-next-line no-control-regex -- an independent oracle: no raw control character
      expect(r.stderr).to.not.match(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      expect(r.stderr).to.include('\\x1b]0;owned');
    });

    it('a malformed or missing ignore file is a one-line error naming the line', () => {
      const file = path.join(dir, 'bad.yaml');
      fs.writeFileSync(file, 'vulnerabilities:\n  - id: CVE-2016-1000227\n    expire: 2030-01-01\n');
      expect(oneLine(scan([image, '--ignore-file', file]), 'unknown key')).to.match(/^pushgate: invalid ignore file .*bad\.yaml: line 3: vulnerabilities\[0\]\.expire: unknown key \(allowed here: id, purls, paths, statement, reason, expires\)/);
      expect(oneLine(scan([image, '--ignore-file', path.join(dir, 'none.yaml')]), 'missing')).to.match(/--ignore-file .*none\.yaml: no such file/);
    });
  });

  describe('--exclude-base', () => {
    const baseNames = new Set(BASE_PKGS.map((p) => p[0]));
    const imageOwn = () => full.findings.filter((f) => !baseNames.has(f.package)).map(key).sort();

    it('by history: the findings of packages the base layer alone holds are left out, though a later layer rewrote the status file', () => {
      const r = json(['--exclude-base']);
      expect(r.findings.map(key).sort()).to.deep.equal(imageOwn());
      const notes = r.diagnostics.filter((d) => d.code === 'exclude-base').map((d) => d.message);
      expect(notes.join('\n')).to.match(/first 1 of 2 layer\(s\).*method: history/);
      expect(notes.join('\n')).to.match(new RegExp(`^${full.findings.length - imageOwn().length} finding\\(s\\) from the base image were excluded`, 'm'));
      expect(r.diagnostics.some((d) => d.code === 'exclude-base' && d.incomplete)).to.equal(false);
    });

    it('by --file Dockerfile: the final stage\'s instructions are the last history entries (method: dockerfile)', () => {
      const df = path.join(dir, 'Dockerfile');
      fs.writeFileSync(df, 'ARG V=12\nFROM golang:1.22 AS build\nRUN go build ./...\n\nFROM debian:${V}\n# runtime\nRUN apt-get install -y \\\n    libpcre2-8-0\nUSER 65534\n');
      const r = json(['--exclude-base', '--file', df]);
      expect(r.findings.map(key).sort()).to.deep.equal(imageOwn());
      expect(r.diagnostics.map((d) => d.message).join('\n')).to.match(/base debian:12 \(.*Dockerfile:5\): the final stage's 2 instruction\(s\).*method: dockerfile/);
      // The build's --build-arg values name the base the image was built on.
      const b = json(['--exclude-base', '--file', df, '--build-arg', 'V=11']);
      expect(b.diagnostics.map((d) => d.message).join('\n')).to.match(/base debian:11 \(.*Dockerfile:5\)/);
      expect(r.diagnostics.filter((d) => d.code === 'dockerfile-base')).to.deep.equal([]);
      // An untagged base is flagged (docker build reads it as latest).
      const untagged = path.join(dir, 'Dockerfile.untagged');
      fs.writeFileSync(untagged, 'FROM debian\nRUN apt-get install -y libpcre2-8-0\nUSER 65534\n');
      const f = json(['--exclude-base', '--file', untagged]);
      expect(f.diagnostics.filter((d) => d.code === 'dockerfile-base').map((d) => d.message)).to.deep.equal([`${untagged}: line 1: FROM debian has no tag, so docker build uses "latest", which moves without notice; name a version tag (and pin its digest)`]);
    });

    it('a Dockerfile the image was not built from is refused for attribution, and nothing the image says is asked instead (said in the report)', () => {
      const df = path.join(dir, 'Dockerfile.other');
      fs.writeFileSync(df, 'FROM debian:12\nCOPY app /app\nUSER 65534\n');
      const r = json(['--exclude-base', '--file', df]);
      expect(r.findings.map(key).sort()).to.deep.equal(full.findings.map(key).sort());
      const notes = r.diagnostics.map((d) => d.message).join('\n');
      expect(notes).to.not.match(/method: history/);
      expect(notes).to.match(/instruction 1 after FROM is COPY but the matching history entry is RUN; the image was not built from this Dockerfile/);
      expect(notes).to.match(/nothing was excluded: .*not used when --file is given/);
      // nothing excluded is not followed by what was excluded
      expect(notes).to.not.match(/nothing was excluded.*; excluded: /);
    });

    it('with --file, the report shows no base found by history nor a base/own split, whether the Dockerfile fits or not', () => {
      const fits = path.join(dir, 'Dockerfile.fits');
      fs.writeFileSync(fits, 'FROM debian:12\nRUN apt-get install -y libpcre2-8-0\nUSER 65534\n');
      const other = path.join(dir, 'Dockerfile.other2');
      fs.writeFileSync(other, 'FROM debian:12\nCOPY app /app\nUSER 65534\n');
      // without --file the history names the base, and the table says so
      const hist = scan([image, '--exclude-base']).stdout;
      expect(hist, hist).to.match(/^BASE IMAGE( \[[^\]]+\])?: \(not named\)\s+\(found by history/m);
      for (const df of [fits, other]) {
        const r = json(['--exclude-base', '--file', df]);
        expect(r.bases ?? [], df).to.deep.equal([]);
        expect(r.findings.filter((f) => f.origin), df).to.deep.equal([]);
        const table = scan([image, '--exclude-base', '--file', df]).stdout;
        expect(table, df).to.not.match(/found by history|VULNERABILITIES FROM THE BASE IMAGE|IMAGE'S OWN LAYERS/);
      }
    });

    it('the adm-zip lab image with a forged history (3 non-empty entries, 2 layers): no base is attributed, nothing is excluded, and the verdict stands', () => {
      // Rewrite the real image's config history as an author hiding its own layer would; manifest
      // and index are rewritten to the new config digest.
      const src = path.join(labImages(), 'adm-zip');
      const forged = path.join(dir, 'adm-zip-forged');
      fs.cpSync(src, forged, { recursive: true, dereference: true });
      const blob = (d: string) => path.join(forged, 'blobs', ...d.split(':'));
      const put = (b: Buffer) => { const d = `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`; fs.writeFileSync(blob(d), b); return { digest: d, size: b.length }; };
      const index = JSON.parse(fs.readFileSync(path.join(forged, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; size: number; annotations?: Record<string, string> }> };
      const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === '0.4.7')!;
      const manifest = JSON.parse(fs.readFileSync(blob(entry.digest), 'utf8')) as { config: { digest: string; size: number }; layers: unknown[] };
      expect(manifest.layers).to.have.length(2);
      const cfg = JSON.parse(fs.readFileSync(blob(manifest.config.digest), 'utf8')) as Record<string, unknown>;
      cfg.history = [{ created_by: 'debootstrap' }, { created_by: 'COPY app /app' }, { created_by: 'CMD ["node"]', empty_layer: true }, { created_by: 'RUN true' }];
      Object.assign(manifest.config, put(Buffer.from(JSON.stringify(cfg))));
      Object.assign(entry, put(Buffer.from(JSON.stringify(manifest))));
      fs.writeFileSync(path.join(forged, 'index.json'), JSON.stringify(index));
      const ref = `oci:${forged}:0.4.7`;
      const plain = scan([ref, '--format', 'json']);
      const excl = scan([ref, '--format', 'json', '--exclude-base']);
      const [a, b] = [plain, excl].map((r) => JSON.parse(r.stdout) as ScanReport);
      expect(a.findings.map((f) => f.id)).to.include('NSWG-NPM-458');
      expect(b.findings.map(key).sort()).to.deep.equal(a.findings.map(key).sort());
      expect(b.verdict.decision).to.equal(a.verdict.decision);
      expect(excl.status).to.equal(plain.status);
      const notes = b.diagnostics.filter((d) => d.code === 'exclude-base').map((d) => d.message).join('\n');
      expect(notes).to.match(/3 non-empty entries but the manifest has 2 layer\(s\)/);
      expect(notes).to.match(/^0 finding\(s\) from the base image were excluded/m);
    });

    it('by annotation: org.opencontainers.image.base.digest names a base manifest the layout holds (method: annotation)', () => {
      const base = writeOciImage(dir, 'base', [BASE_LAYER]);
      const app = writeOciImage(dir, 'annotated', [BASE_LAYER, APP_LAYER], { annotations: { 'org.opencontainers.image.base.name': 'docker.io/library/debian:12', 'org.opencontainers.image.base.digest': base.digest } });
      fs.cpSync(path.join(dir, 'base', 'blobs'), path.join(dir, 'annotated', 'blobs'), { recursive: true });
      const r = scan([app.ref, '--format', 'json', '--exclude-base']);
      const rep = JSON.parse(r.stdout) as ScanReport;
      expect(rep.findings.map(key).sort()).to.deep.equal(imageOwn());
      expect(rep.diagnostics.map((d) => d.message).join('\n')).to.match(/base image docker\.io\/library\/debian:12@sha256:[0-9a-f]{64} \(annotations\): its 1 layer\(s\).*method: annotation/);
    });

    it('nothing attributable: nothing is excluded, and the report says why', () => {
      const bare = writeOciImage(dir, 'bare', [BASE_LAYER, APP_LAYER]).ref;
      const rep = JSON.parse(scan([bare, '--format', 'json', '--exclude-base']).stdout) as ScanReport;
      expect(rep.findings.map(key).sort()).to.deep.equal(full.findings.map(key).sort());
      expect(rep.diagnostics.map((d) => d.message).join('\n')).to.match(/nothing was excluded: .*the image config has no history.*give --file Dockerfile/);
    });

    it('--file alone checks the Dockerfile\'s base (flags an untagged one) and excludes nothing', () => {
      const untagged = path.join(dir, 'Dockerfile.alone');
      fs.writeFileSync(untagged, 'FROM debian\nRUN true\n');
      const r = json(['--file', untagged]);
      expect(r.findings.map(key).sort()).to.deep.equal(full.findings.map(key).sort());
      expect(r.diagnostics.filter((d) => d.code === 'dockerfile-base').map((d) => d.message)).to.deep.equal([`${untagged}: line 1: FROM debian has no tag, so docker build uses "latest", which moves without notice; name a version tag (and pin its digest)`]);
    });

    it('usage errors: a Dockerfile without FROM or with a base that needs a --build-arg, --build-arg without --file, a target without layers', () => {
      const df = path.join(dir, 'Dockerfile.nofrom');
      fs.writeFileSync(df, 'RUN true\n');
      expect(oneLine(scan([image, '--file', df]), 'no FROM without --exclude-base')).to.match(/no FROM instruction/);
      expect(oneLine(scan([image, '--exclude-base', '--file', df]), 'no FROM')).to.match(/no FROM instruction/);
      expect(oneLine(scan([image, '--exclude-base', '--file', path.join(dir, 'nope')]), 'missing')).to.match(/no such file/);
      expect(oneLine(scan([`dir:${dir}`, '--exclude-base']), 'dir')).to.match(/--exclude-base needs an image/);
      expect(oneLine(scan([image, '--exclude-base', '--build-arg', 'V=1']), '--build-arg alone')).to.match(/--build-arg describes the build of --file Dockerfile; add --file/);
      const unset = path.join(dir, 'Dockerfile.unset');
      fs.writeFileSync(unset, 'ARG TAG\nFROM debian:${TAG}\nRUN true\n');
      expect(oneLine(scan([image, '--exclude-base', '--file', unset]), 'unset ARG')).to.match(/line 2: .*pass the same --build-arg TAG=<value>/);
    });
  });
});
