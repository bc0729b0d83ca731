/**
 * Secrets anywhere in the image config (history `created_by` and `comment`, author, Labels keys and
 * values, Env, Cmd, Entrypoint, WorkingDir, Volumes, OnBuild, Healthcheck.Test, Shell) and in the
 * annotations of manifests and indexes are reported with their location, make the default policy
 * reject, and are never kept: not in `pushgate scan` output of any format, not in the store's
 * SQLite file or its WAL, not in the server's logs, /metrics or admin API answers.
 *
 * Real components: images made from the lab's debian-minbase OCI layout with umoci (config, history
 * and manifest annotations set as a user would) or, for the fields umoci cannot set (OnBuild,
 * Healthcheck, Shell, an index), by rewriting the config JSON and fixing digests and sizes; pushed with
 * skopeo to a real Distribution registry whose notifications go to a real `pushgate serve` process.
 * Every secret is made up at run time (random, throwaway) and searched for afterwards.
 *
 * The property test generates secrets of the known kinds, puts them at random config and manifest
 * locations inside random text, scans the image in process and checks detection and that no output
 * (json, sarif, cyclonedx, table, the stored scan) holds more of the secret than its kept prefix.
 */
import { expect } from 'chai';
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { renderTable } from '../../src/cli/render.js';
import type { ScanReport } from '../../src/core/index.js';
import { judgeScan } from '../../src/gate/judge.js';
import { formatReport } from '../../src/gate/report-formats.js';
import { defaultPolicy } from '../../src/policy/index.js';
import { scanImage } from '../../src/scan/engine.js';
import type { ImageSource } from '../../src/scan/source.js';
import { updateDb } from '../../src/vulndb/index.js';
import { serveChild } from '../helpers/gate.js';
import { labImages, ROOT, skopeoCopy, startRegistry, type LabRegistry } from '../helpers/lab.js';

const REG_PORT = 21700;
const PG_PORT = 21701;
const TOKEN = 'cfgsec-webhook-token-0123456789';
const API = 'cfgsec-api-token-abcdef';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const B64 = `${ALNUM}+/`;
const rnd = (alphabet: string, n: number) => Array.from(crypto.randomBytes(n), (b) => alphabet[b % alphabet.length]).join('');
const sha = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;

const MT = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
};

// ---------------------------------------------------------------------------------------------
// OCI layout editing (image-layout.md): blobs by digest, index.json entries named by ref.name.

// Configs and manifests are edited as loose JSON documents.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

interface IndexJson { schemaVersion: number; manifests: Array<{ mediaType: string; digest: string; size: number; annotations?: Record<string, string> }> }

function readIndex(dir: string): IndexJson {
  return JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as IndexJson;
}

function blobPath(dir: string, digest: string): string {
  return path.join(dir, 'blobs', 'sha256', digest.slice(7));
}

function writeBlob(dir: string, b: Buffer): { digest: string; size: number } {
  const digest = sha(b);
  fs.writeFileSync(blobPath(dir, digest), b);
  return { digest, size: b.length };
}

function tagEntry(dir: string, tag: string) {
  const e = readIndex(dir).manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!e) throw new Error(`no tag ${tag} in ${dir}`);
  return e;
}

function setTag(dir: string, tag: string, desc: { mediaType: string; digest: string; size: number }): void {
  const idx = readIndex(dir);
  idx.manifests = idx.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== tag);
  idx.manifests.push({ ...desc, annotations: { 'org.opencontainers.image.ref.name': tag } });
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(idx));
}

/** Tags `to` as `from` with its config (and manifest) rewritten; digests and sizes fixed. */
function editImage(dir: string, from: string, to: string, edit: { config?: (c: Doc) => void; manifest?: (m: Doc) => void }): void {
  const e = tagEntry(dir, from);
  const m = JSON.parse(fs.readFileSync(blobPath(dir, e.digest), 'utf8')) as Doc;
  const c = JSON.parse(fs.readFileSync(blobPath(dir, m.config.digest as string), 'utf8')) as Doc;
  edit.config?.(c);
  m.config = { ...m.config, ...writeBlob(dir, Buffer.from(JSON.stringify(c))) };
  edit.manifest?.(m);
  setTag(dir, to, { mediaType: MT.manifest, ...writeBlob(dir, Buffer.from(JSON.stringify(m))) });
}

function umoci(dir: string, from: string, to: string, args: string[]): void {
  execFileSync('umoci', ['config', '--image', `${dir}:${from}`, '--tag', to, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

// ---------------------------------------------------------------------------------------------

/** Throwaway secrets of every kind, made up for this run. */
function makeSecrets() {
  const keyBody = [rnd(B64, 64), rnd(B64, 64), rnd(B64, 40)];
  return {
    aws: `AKIA${rnd(B32, 16)}`,
    aws2: `AKIA${rnd(B32, 16)}`,
    github: `ghp_${rnd(ALNUM, 36)}`,
    github2: `ghp_${rnd(ALNUM, 36)}`,
    npm: `npm_${rnd(ALNUM, 36)}`,
    gitlab: `glpat-${rnd(ALNUM, 20)}`,
    buildArg: `Tk${rnd(ALNUM, 22)}`,
    labelPassword: `Pw${rnd(ALNUM, 16)}`,
    mysql: `My${rnd(ALNUM, 16)}`,
    bearer: `Br${rnd(ALNUM, 24)}`,
    urlPassword: `Ur${rnd(ALNUM, 16)}`,
    onbuild: `Ob${rnd(ALNUM, 16)}`,
    health: `Hc${rnd(ALNUM, 16)}`,
    shell: `Sh${rnd(ALNUM, 16)}`,
    envPassword: `Ev${rnd(ALNUM, 10)} and ${rnd(ALNUM, 8)}`,
    keyBody,
    privateKey: `-----BEGIN RSA PRIVATE KEY-----\n${keyBody.join('\n')}\n-----END RSA PRIVATE KEY-----`,
  };
}
type Secrets = ReturnType<typeof makeSecrets>;

/**
 * What must never appear: each secret without the part a redaction may keep (`AKIA`, `ghp_`), every
 * line of the private key, and each half of a value with a space.
 */
function rawStrings(s: Secrets): string[] {
  const out = [s.aws.slice(4), s.aws2.slice(4), s.github.slice(4), s.github2.slice(4), s.npm.slice(4), s.gitlab.slice(6), ...s.keyBody];
  for (const v of [s.buildArg, s.labelPassword, s.mysql, s.bearer, s.urlPassword, s.onbuild, s.health, s.shell]) out.push(v);
  out.push(...s.envPassword.split(' and '));
  return out;
}

/** `pushgate ARGS…` as a child process, without blocking (runCli's asynchronous twin). */
function scanCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), ...args], { cwd: ROOT, timeout: 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

function expectClean(text: string, raws: string[], where: string): void {
  for (const r of raws) expect(text.includes(r), `${where} holds a secret value (${r.slice(0, 3)}…)`).to.equal(false);
}

/** One image pushed on its own: where its secret sits and what must be reported. */
interface Variant {
  name: string;
  build(dir: string, s: Secrets): void;
  expect: Array<{ rule: string; path: RegExp }>;
  /** Pushed as an index (`skopeo copy --all`). */
  index?: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'env-aws', build: (d, s) => umoci(d, 'bookworm', 'env-aws', ['--config.env', `AWS_ACCESS_KEY_ID=${s.aws}`]), expect: [{ rule: 'aws-access-key-id', path: /^config:Env\[\d+\]$/ }] },
  { name: 'env-password', build: (d, s) => umoci(d, 'bookworm', 'env-password', ['--config.env', `ADMIN_PASSWORD=${s.envPassword}`]), expect: [{ rule: 'env-password', path: /^config:Env\[\d+\]$/ }] },
  {
    name: 'history-build-arg',
    build: (d, s) => umoci(d, 'bookworm', 'history-build-arg', ['--history.created_by', `RUN |2 NPM_TOKEN=${s.buildArg} BUILD=1 /bin/sh -c npm ci # buildkit`]),
    expect: [{ rule: 'secret-assignment', path: /^config:history\[2\]\.created_by$/ }],
  },
  { name: 'history-comment', build: (d, s) => umoci(d, 'bookworm', 'history-comment', ['--history.comment', `pushed by ci with ${s.github}`]), expect: [{ rule: 'github-token', path: /^config:history\[2\]\.comment$/ }] },
  { name: 'label-password', build: (d, s) => umoci(d, 'bookworm', 'label-password', ['--config.label', `com.example.db.password=${s.labelPassword}`]), expect: [{ rule: 'env-password', path: /^config:Labels\.com\.example\.db\.password$/ }] },
  { name: 'label-key', build: (d, s) => umoci(d, 'bookworm', 'label-key', ['--config.label', `${s.github2}=ci`]), expect: [{ rule: 'github-token', path: /^config:Labels\["ghp_…\[REDACTED\]"\]$/ }] },
  { name: 'cmd-mysql', build: (d, s) => umoci(d, 'bookworm', 'cmd-mysql', ['--config.cmd', 'mysql', '--config.cmd', '-uroot', '--config.cmd', `-p${s.mysql}`]), expect: [{ rule: 'password-option', path: /^config:Cmd\[2\]$/ }] },
  {
    name: 'entrypoint-auth',
    build: (d, s) => umoci(d, 'bookworm', 'entrypoint-auth', ['--config.entrypoint', '/bin/sh', '--config.entrypoint', '-c', '--config.entrypoint', `curl -fsS -H "Authorization: Bearer ${s.bearer}" https://api.example.test/health`]),
    expect: [{ rule: 'authorization-header', path: /^config:Entrypoint\[2\]$/ }],
  },
  { name: 'author-url', build: (d, s) => umoci(d, 'bookworm', 'author-url', ['--author', `ci <https://ci:${s.urlPassword}@git.example.test/team/app.git>`]), expect: [{ rule: 'url-credentials', path: /^config:author$/ }] },
  { name: 'workingdir-npm', build: (d, s) => umoci(d, 'bookworm', 'workingdir-npm', ['--config.workingdir', `/home/${s.npm}`]), expect: [{ rule: 'npm-token', path: /^config:WorkingDir$/ }] },
  { name: 'volume-aws', build: (d, s) => umoci(d, 'bookworm', 'volume-aws', ['--config.volume', `/data/${s.aws2}`]), expect: [{ rule: 'aws-access-key-id', path: /^config:Volumes\["\/data\/AKIA…\[REDACTED\]"\]$/ }] },
  { name: 'annotation-key', build: (d, s) => umoci(d, 'bookworm', 'annotation-key', ['--manifest.annotation', `com.example.deploy=${s.privateKey}`]), expect: [{ rule: 'private-key', path: /^manifest:annotations\.com\.example\.deploy$/ }] },
  { name: 'onbuild', build: (d, s) => editImage(d, 'bookworm', 'onbuild', { config: (c) => { c.config.OnBuild = [`RUN curl -u deploy:${s.onbuild} https://repo.example.test/x`]; } }), expect: [{ rule: 'password-option', path: /^config:OnBuild\[0\]$/ }] },
  { name: 'healthcheck', build: (d, s) => editImage(d, 'bookworm', 'healthcheck', { config: (c) => { c.config.Healthcheck = { Test: ['CMD-SHELL', `wget -q --password=${s.health} http://localhost/`] }; } }), expect: [{ rule: 'password-option', path: /^config:Healthcheck\.Test\[1\]$/ }] },
  { name: 'shell', build: (d, s) => editImage(d, 'bookworm', 'shell', { config: (c) => { c.config.Shell = ['/bin/bash', '-c', `export API_KEY=${s.shell}; exec "$@"`]; } }), expect: [{ rule: 'secret-assignment', path: /^config:Shell\[2\]$/ }] },
  {
    name: 'index-annotation',
    index: true,
    build: (d, s) => {
      const e = tagEntry(d, 'bookworm');
      const idx = { schemaVersion: 2, mediaType: MT.index, manifests: [{ mediaType: MT.manifest, digest: e.digest, size: e.size, platform: { architecture: 'amd64', os: 'linux' } }], annotations: { 'com.example.ci': `token ${s.gitlab}` } };
      setTag(d, 'index-annotation', { mediaType: MT.index, ...writeBlob(d, Buffer.from(JSON.stringify(idx))) });
    },
    expect: [{ rule: 'gitlab-token', path: /^index:annotations\.com\.example\.ci$/ }],
  },
];

/** Every secret in one image, for the CLI's four formats. */
function buildAll(dir: string, s: Secrets): void {
  editImage(dir, 'bookworm', 'all', {
    config: (c) => {
      c.author = `ci <https://ci:${s.urlPassword}@git.example.test/team/app.git>`;
      c.config.Env.push(`AWS_ACCESS_KEY_ID=${s.aws}`, `ADMIN_PASSWORD=${s.envPassword}`);
      c.config.Cmd = ['mysql', '-uroot', `-p${s.mysql}`];
      c.config.Entrypoint = ['/bin/sh', '-c', `curl -H "Authorization: Bearer ${s.bearer}" https://api.example.test`];
      c.config.WorkingDir = `/home/${s.npm}`;
      c.config.Volumes = { [`/data/${s.aws2}`]: {} };
      c.config.OnBuild = [`RUN curl -u deploy:${s.onbuild} https://repo.example.test/x`];
      c.config.Healthcheck = { Test: ['CMD-SHELL', `wget -q --password=${s.health} http://localhost/`] };
      c.config.Shell = ['/bin/bash', '-c', `export API_KEY=${s.shell}`];
      c.config.Labels['com.example.db.password'] = s.labelPassword;
      c.config.Labels[s.github2] = 'ci';
      c.history.push(
        { created_by: `RUN |2 NPM_TOKEN=${s.buildArg} BUILD=1 /bin/sh -c npm ci # buildkit` },
        { created_by: 'COPY . /app # buildkit', comment: `pushed by ci with ${s.github}`, empty_layer: true },
      );
    },
    manifest: (m) => { m.annotations = { 'com.example.deploy': s.privateKey, 'com.example.ci': `token ${s.gitlab}` }; },
  });
}

describe('security: secrets anywhere in the image config are reported and never kept', function () {
  this.timeout(300_000);
  let dir: string;
  let layout: string;
  let secrets: Secrets;
  let raws: string[];

  before(async () => {
    const images = labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cfgsec-'));
    layout = path.join(dir, 'layout');
    // A copy of debian-minbase whose blobs are hard links: only the new configs and manifests are written.
    fs.mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
    const src = path.join(images, 'debian-minbase');
    for (const f of ['oci-layout', 'index.json']) fs.copyFileSync(path.join(src, f), path.join(layout, f));
    for (const b of fs.readdirSync(path.join(src, 'blobs', 'sha256'))) fs.linkSync(path.join(src, 'blobs', 'sha256', b), path.join(layout, 'blobs', 'sha256', b));
    secrets = makeSecrets();
    raws = rawStrings(secrets);
    for (const v of VARIANTS) v.build(layout, secrets);
    buildAll(layout, secrets);
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the test images hold the raw secrets (so the checks below can fail)', () => {
    const blobs = fs.readdirSync(path.join(layout, 'blobs', 'sha256')).filter((b) => fs.statSync(blobPath(layout, `sha256:${b}`)).size < 1 << 20);
    const text = blobs.map((b) => fs.readFileSync(blobPath(layout, `sha256:${b}`), 'utf8')).join('\n').replaceAll('\\n', '\n');
    for (const r of raws) expect(text.includes(r), r.slice(0, 3)).to.equal(true);
  });

  it('pushgate scan: every secret reported at its location in json; no format prints a value; exit 1 (reject)', async () => {
    const cfg = path.join(dir, 'scan.yaml');
    fs.writeFileSync(cfg, `vulndb:\n  path: ${path.join(dir, 'vulndb.sqlite')}\nscan:\n  tmpDir: ${path.join(dir, 'tmp')}\n`);
    const formats = ['json', 'sarif', 'cyclonedx', 'table'];
    // The four runs at once: each is a real `pushgate scan` process.
    const runs = await Promise.all(formats.map((format) => scanCli(['scan', `oci:${layout}:all`, '--config', cfg, '--format', format])));
    for (const [i, format] of formats.entries()) {
      const r = runs[i];
      expect(r.status, `${format}: ${r.stderr}`).to.equal(1);
      expectClean(r.stdout, raws, `scan --format ${format} stdout`);
      expectClean(r.stderr, raws, `scan --format ${format} stderr`);
      if (format === 'json') {
        const report = JSON.parse(r.stdout) as ScanReport;
        expect(report.verdict.decision).to.equal('reject');
        const got = report.secrets.map((s) => `${s.rule} ${s.path}`);
        for (const v of VARIANTS) {
          for (const e of v.expect) {
            // In the combined image the index annotation sits on the manifest, history one entry later.
            const want = new RegExp(e.path.source.replace('^index:', '^manifest:').replace('history\\[2\\]', 'history\\[\\d+\\]'));
            expect(got.some((g) => g.startsWith(`${e.rule} `) && want.test(g.slice(e.rule.length + 1))), `${v.name}: ${e.rule} at ${want} in ${got.join(', ')}`).to.equal(true);
          }
        }
        for (const s of report.secrets) expect(s.redacted, s.path).to.match(/…\[REDACTED\]|\*{4}/);
      }
      if (format === 'sarif') expect(r.stdout).to.include('secret/url-credentials');
      if (format === 'table') expect(r.stdout).to.include('config:history[');
    }
  });

  describe('through the real gate: a registry, pushgate serve with its store on disk', () => {
    let reg: LabRegistry;
    let child: ChildProcess | undefined;
    let logs = '';
    const base = `http://127.0.0.1:${PG_PORT}`;
    const auth = { authorization: `Bearer ${API}` };
    const answers: string[] = [];

    async function get(p: string): Promise<Response> {
      const r = await fetch(`${base}${p}`, { headers: auth });
      answers.push(await r.clone().text());
      return r;
    }

    async function verdictOf(tag: string): Promise<{ decision: string; digest: string; enforcement?: { status: string; action: string } }> {
      const deadline = Date.now() + 90_000;
      for (;;) {
        const r = await get(`/api/v1/verdicts?image=${encodeURIComponent(`${reg.host}/sec/app:${tag}`)}`);
        if (r.status === 200) {
          const v = (await r.json()) as { decision: string; digest: string; enforcement?: { status: string; action: string } };
          if (v.enforcement) return v;
        }
        if (Date.now() > deadline) throw new Error(`no verdict for ${tag} (logs: ${logs.slice(-2000)})`);
        await new Promise((res) => setTimeout(res, 200));
      }
    }

    before(async () => {
      fs.writeFileSync(
        path.join(dir, 'pushgate.yaml'),
        `server:\n  listen: 127.0.0.1:${PG_PORT}\nlog:\n  level: debug\nstore:\n  url: sqlite:${dir}/pushgate.db\nvulndb:\n  path: ${dir}/vulndb.sqlite\n  sources: []\n` +
          `scan:\n  tmpDir: ${dir}/tmp\napi:\n  tokens: [${API}]\nregistries:\n  - name: lab\n    url: http://127.0.0.1:${REG_PORT}\n    type: distribution\n    webhook:\n      token: ${TOKEN}\n`,
      );
      child = await serveChild(path.join(dir, 'pushgate.yaml'), PG_PORT, {}, (d) => { logs += d; });
      reg = startRegistry(REG_PORT, { notifyUrl: `${base}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}` });
    });

    after(async () => {
      if (child && child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((res) => child!.once('exit', res));
      }
      reg?.stop();
    });

    it('each location alone: reported there, rejected, the tag is not pullable', async () => {
      for (const v of [...VARIANTS, { name: 'all', build: () => undefined, expect: [] } as Variant]) {
        // One repository: the base layer is uploaded once; a rejected manifest is deleted, its layers stay.
        skopeoCopy(`oci:${layout}:${v.name}`, `${reg.host}/sec/app:${v.name}`, { all: v.index });
        const verdict = await verdictOf(v.name);
        expect(verdict.decision, v.name).to.equal('reject');
        expect(verdict.enforcement, v.name).to.include({ status: 'done' });
        const pull = await fetch(`${reg.url}/v2/sec/app/manifests/${v.name}`, { headers: { accept: `${MT.manifest}, ${MT.index}` } });
        expect(pull.status, `${v.name} still pullable`).to.equal(404);
        const report = (await (await get(`/api/v1/images/${verdict.digest}`)).json()) as ScanReport;
        const got = report.secrets.map((s) => `${s.rule} ${s.path}`);
        for (const e of v.expect) expect(got.some((g) => g.startsWith(`${e.rule} `) && e.path.test(g.slice(e.rule.length + 1))), `${v.name}: ${got.join(', ')}`).to.equal(true);
        for (const format of ['sarif', 'cyclonedx']) expect((await get(`/api/v1/images/${verdict.digest}?format=${format}`)).status).to.equal(200);
      }
    });

    it('no secret value in the admin API, /metrics, the server logs, or the SQLite store file and WAL', async () => {
      await get('/api/v1/audit?limit=1000');
      await get('/api/v1/quarantine');
      await get('/metrics');
      expect(answers.length).to.be.greaterThan(VARIANTS.length * 3);
      expectClean(answers.join('\n'), raws, 'admin API and /metrics');
      expect(logs).to.include('verdict reject');
      expectClean(logs, raws, 'server logs');
      const files = fs.readdirSync(dir).filter((f) => /^pushgate\.db(?:-wal|-shm|-journal)?$/.test(f));
      expect(files).to.include('pushgate.db');
      const bytes = files.map((f) => fs.readFileSync(path.join(dir, f)).toString('latin1')).join('\n');
      expect(bytes.length).to.be.greaterThan(4096);
      // The store holds the scans (their redacted configs): what the checks look for is there.
      expect(bytes).to.include('…[REDACTED]'.replace('…', '\u00e2\u0080\u00a6'));
      expectClean(bytes, raws, 'SQLite store');
    });
  });

  it('property: generated secrets at random config and manifest locations are found and only their kept prefix is ever shown', async () => {
    type Kind = { name: string; make: (body: string) => { text: string; secret: string; keep: number } };
    const KINDS: Kind[] = [
      { name: 'aws', make: (b) => ({ text: `AKIA${b.toUpperCase().replace(/[^A-Z2-7]/g, 'Q').padEnd(16, 'Q').slice(0, 16)}`, secret: '', keep: 4 }) },
      { name: 'github', make: (b) => ({ text: `ghp_${b.padEnd(36, 'x').slice(0, 36)}`, secret: '', keep: 4 }) },
      { name: 'gitlab', make: (b) => ({ text: `glpat-${b.padEnd(20, 'x').slice(0, 20)}`, secret: '', keep: 6 }) },
      { name: 'npm', make: (b) => ({ text: `npm_${b.padEnd(36, 'x').slice(0, 36)}`, secret: '', keep: 4 }) },
      { name: 'private-key', make: (b) => ({ text: `-----BEGIN PRIVATE KEY-----\nMII${b}${b}\n-----END PRIVATE KEY-----`, secret: `MII${b}${b}`, keep: 0 }) },
      { name: 'password=', make: (b) => ({ text: `DB_PASSWORD=Q${b}9`, secret: `Q${b}9`, keep: 0 }) },
      { name: 'build-arg', make: (b) => ({ text: `|1 NPM_TOKEN=Q${b}9 /bin/sh -c npm ci`, secret: `Q${b}9`, keep: 0 }) },
      { name: '--password', make: (b) => ({ text: `login --password Q${b}9`, secret: `Q${b}9`, keep: 0 }) },
      { name: 'mysql -p', make: (b) => ({ text: `mysql -uroot -pQ${b}9`, secret: `Q${b}9`, keep: 0 }) },
      { name: 'url', make: (b) => ({ text: `https://bot:Q${b}9@git.example.test/r.git`, secret: `Q${b}9`, keep: 0 }) },
      { name: 'authorization', make: (b) => ({ text: `curl -H "Authorization: Bearer Q${b}9" x`, secret: `Q${b}9`, keep: 0 }) },
    ];
    const LOCATIONS = ['history.created_by', 'history.comment', 'author', 'Labels.value', 'Labels.key', 'Env', 'Cmd.split', 'Entrypoint', 'WorkingDir', 'Volumes.key', 'OnBuild', 'Healthcheck.Test', 'Shell', 'manifest.annotation', 'index.annotation'] as const;
    // The text around a secret: words that cannot glue onto it, from an alphabet its body never uses whole.
    const around = fc.array(fc.stringMatching(/^[a-z./:]{1,8}$/), { maxLength: 4 }).map((w) => w.join(' '));
    const body = fc.stringMatching(/^[A-Za-z0-9]{12,30}$/);
    const arb = fc.record({ kind: fc.constantFrom(...KINDS), loc: fc.constantFrom(...LOCATIONS), body, before: around, after: around });

    /** Scans an image whose config and manifest carry `text` at `loc`; returns the report and every output. */
    async function scanWith(text: string, loc: (typeof LOCATIONS)[number]): Promise<{ report: ScanReport; outputs: string; want: RegExp }> {
      const cfg: Doc = { architecture: 'amd64', os: 'linux', config: { User: '1000', Env: ['PATH=/usr/bin'], Labels: { title: 'x' } }, rootfs: { type: 'layers', diff_ids: [] }, history: [{ created_by: 'ADD rootfs.tar /' }] };
      const annotations: Record<string, string> = {};
      let indexAnnotations: Record<string, string> | undefined;
      let want: RegExp;
      switch (loc) {
        case 'history.created_by': cfg.history.push({ created_by: text }); want = /^config:history\[1\]\.created_by$/; break;
        case 'history.comment': cfg.history.push({ created_by: 'RUN true', comment: text }); want = /^config:history\[1\]\.comment$/; break;
        case 'author': cfg.author = text; want = /^config:author$/; break;
        case 'Labels.value': cfg.config.Labels['com.example.note'] = text; want = /^config:Labels\.com\.example\.note$/; break;
        case 'Labels.key': cfg.config.Labels[text] = '1'; want = /^config:Labels/; break;
        case 'Env': cfg.config.Env.push(`NOTE=${text}`); want = /^config:Env\[1\]$/; break;
        case 'Cmd.split': cfg.config.Cmd = text.split(' '); want = /^config:Cmd\[\d+\]$/; break;
        case 'Entrypoint': cfg.config.Entrypoint = ['/bin/sh', '-c', text]; want = /^config:Entrypoint\[2\]$/; break;
        case 'WorkingDir': cfg.config.WorkingDir = `/w/${text}`; want = /^config:WorkingDir$/; break;
        case 'Volumes.key': cfg.config.Volumes = { [`/v/${text}`]: {} }; want = /^config:Volumes/; break;
        case 'OnBuild': cfg.config.OnBuild = [`RUN ${text}`]; want = /^config:OnBuild\[0\]$/; break;
        case 'Healthcheck.Test': cfg.config.Healthcheck = { Test: ['CMD-SHELL', text] }; want = /^config:Healthcheck\.Test\[1\]$/; break;
        case 'Shell': cfg.config.Shell = ['/bin/sh', '-c', text]; want = /^config:Shell\[2\]$/; break;
        case 'manifest.annotation': annotations['com.example.note'] = text; want = /^manifest:annotations\.com\.example\.note$/; break;
        default: indexAnnotations = { 'com.example.note': text }; want = /^index:annotations\.com\.example\.note$/; break;
      }
      const blobs = new Map<string, Buffer>();
      const put = (b: Buffer) => { const d = sha(b); blobs.set(d, b); return { digest: d, size: b.length }; };
      const configDesc = { mediaType: MT.config, ...put(Buffer.from(JSON.stringify(cfg))) };
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.manifest, config: configDesc, layers: [], ...(Object.keys(annotations).length ? { annotations } : {}) }));
      const mdesc = { mediaType: MT.manifest, ...put(manifest) };
      const root = indexAnnotations
        ? Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: [{ ...mdesc, platform: { os: 'linux', architecture: 'amd64' } }], annotations: indexAnnotations }))
        : manifest;
      const source: ImageSource = {
        target: 'memory:generated',
        root: async () => ({ digest: sha(root), mediaType: indexAnnotations ? MT.index : MT.manifest, bytes: root }),
        manifest: async (d) => blobs.get(d.digest)!,
        blob: async (d) => Readable.from([blobs.get(d.digest)!]),
      };
      const scan = await scanImage(source, { inflateWorker: 'never', tmpDir: path.join(os.tmpdir(), 'pushgate-cfgsec-prop') });
      const report = judgeScan(scan, undefined, defaultPolicy()).report;
      // What the gate stores (the scan) and every report format.
      const outputs = [JSON.stringify(scan), renderTable(report), ...(['json', 'sarif', 'cyclonedx'] as const).map((f) => formatReport(report, f).body)].join('\n');
      return { report, outputs, want };
    }

    await fc.assert(
      fc.asyncProperty(arb, async ({ kind, loc, body: b, before, after }) => {
        const made = kind.make(b);
        const secret = made.secret || made.text;
        const text = `${before} ${made.text} ${after}`.trim();
        const { report, outputs, want } = await scanWith(text, loc);
        const paths = report.secrets.map((s) => s.path);
        expect(paths.some((p) => want.test(p)), `${kind.name} at ${loc}: ${paths.join(', ')} for ${JSON.stringify(text)}`).to.equal(true);
        expect(report.verdict.decision).to.equal('reject');
        // The same image without the secret: a piece found in its output too (a word of the report,
        // a digest) is no evidence of a leak.
        const control = (await scanWith(`${before} ${after}`.trim() || 'none', loc)).outputs;
        // No piece of the secret longer than what a redaction keeps (and at least 6 characters: shorter
        // pieces occur in any text by chance).
        const n = Math.max(made.keep + 1, 6);
        for (let i = 0; i + n <= secret.length; i++) {
          const piece = secret.slice(i, i + n);
          if (control.includes(piece)) continue;
          expect(outputs.includes(piece), `${kind.name} at ${loc}: "${piece}" of the secret is in the output`).to.equal(false);
        }
      }),
      { numRuns: 300 },
    );
    fs.rmSync(path.join(os.tmpdir(), 'pushgate-cfgsec-prop'), { recursive: true, force: true });
  });
});
