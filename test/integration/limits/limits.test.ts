/**
 * Scan limits end to end: a real Distribution 2.8 registry whose notifications go to a real
 * `pushgate serve` (in process, real HTTP on loopback), real skopeo pushes of small images made
 * here (kilobytes, one per limit), the built-in default policy (onIncomplete: quarantine). Each
 * image over one configured limit (`scan.limits.*`), with an unreadable package database, or
 * scanned past `scan.deadline` ends with an incomplete verdict and its tag moved to quarantine/;
 * an image within every limit is judged complete and stays. Every scan path shares one bound on
 * scans at once (`scan.workers`).
 * Ports 21900-21912.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../../src/config/types.js';
import type { Verdict } from '../../../src/core/index.js';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, silentLogger as silent } from '../../helpers/gate.js';
import { ROOT, skopeoCopyAsync, startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { writeOciImage, type LayerFiles } from '../../helpers/oci-image.js';

const P = { reg: 21901, slowReg: 21902, gate: 21910, slowGate: 21911 };
const TOKEN = 'limits-webhook-token-0123456789';
const SLOW_TOKEN = 'limits-slow-webhook-token-0123';
const API = 'limits-api-token-abcdef';

const OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n';
const dpkgStatus = (n: number) => Array.from({ length: n }, (_, i) => `Package: p${i}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.${i}\n`).join('\n');

/** One layer: files (path → content) as a tar, optionally gzip-compressed. */
type LayerSpec = LayerFiles;

/**
 * Writes a small image as an OCI layout (tar(1) layers of the given files, an image config running
 * as a non-root user, a manifest, index.json) and returns its `oci:` reference.
 */
function makeImage(dir: string, name: string, layers: LayerSpec[]): string {
  return writeOciImage(dir, name, layers).ref;
}

async function tags(reg: LabRegistry, repo: string): Promise<string[]> {
  const r = await fetch(`${reg.url}/v2/${repo}/tags/list`);
  if (r.status === 404) return [];
  return ((await r.json()) as { tags: string[] | null }).tags ?? [];
}

describe('limits: an image over each configured scan limit ends incomplete and quarantined (real registry, real gate)', function () {
  this.timeout(240_000);
  let dir: string;
  let srv: RunningServer;
  let slowSrv: RunningServer;
  let reg: LabRegistry;
  let slowReg: LabRegistry;
  /** Most scans seen running at once on the limits gate, sampled every 2 ms. */
  let peak = 0;
  let sampler: NodeJS.Timeout;

  async function verdict(base: string, ref: string, timeoutMs = 90_000): Promise<Verdict> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await fetch(`${base}/api/v1/verdicts?image=${encodeURIComponent(ref)}`, { headers: { authorization: `Bearer ${API}` } });
      if (r.status === 200) {
        const v = (await r.json()) as Verdict;
        if (v.enforcement) return v;
      }
      if (Date.now() > deadline) throw new Error(`no verdict for ${ref} after ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-limits-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', P.reg, TOKEN)]);
    config.server.listen = `127.0.0.1:${P.gate}`;
    config.api.tokens = [API];
    config.scan.tmpDir = path.join(dir, 'tmp');
    config.scan.workers = 1;
    config.scan.limits = { ...config.scan.limits, maxLayers: 3, maxEntries: 50, maxTarBytes: 256 * 1024, maxRatio: 100, lockFileBytes: 4096, packageDbBytes: 4096 };
    srv = await startServer(config, silent);
    sampler = setInterval(() => { peak = Math.max(peak, srv.gate.scanSlots.running); }, 2);
    reg = startRegistry(P.reg, { notifyUrl: `http://127.0.0.1:${P.gate}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}` });

    const slowDir = path.join(dir, 'slow');
    fs.mkdirSync(slowDir);
    const slowConfig: PushgateConfig = labGateConfig(slowDir, [labRegistryConfig('slow', P.slowReg, SLOW_TOKEN)]);
    fs.copyFileSync(path.join(dir, 'vulndb.sqlite'), path.join(slowDir, 'vulndb.sqlite'));
    slowConfig.server.listen = `127.0.0.1:${P.slowGate}`;
    slowConfig.api.tokens = [API];
    slowConfig.scan.tmpDir = path.join(slowDir, 'tmp');
    slowConfig.scan.deadlineMs = 1; // passes before the first layer is read
    slowSrv = await startServer(slowConfig, silent);
    slowReg = startRegistry(P.slowReg, { notifyUrl: `http://127.0.0.1:${P.slowGate}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${SLOW_TOKEN}` });
  });

  after(async () => {
    clearInterval(sampler);
    reg?.stop();
    slowReg?.stop();
    await srv?.close();
    await slowSrv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const base = () => `http://127.0.0.1:${P.gate}`;
  const ok = { 'etc/os-release': OS_RELEASE, 'var/lib/dpkg/status': dpkgStatus(2) };

  /** Pushes `image` to `repo:1` and returns the verdict once enforced. */
  async function pushAndJudge(image: string, repo: string, r: LabRegistry = reg, b = base()): Promise<Verdict> {
    const p = await skopeoCopyAsync(image, `${r.host}/${repo}:1`);
    expect(p.code, p.stderr).to.equal(0);
    return verdict(b, `${r.host}/${repo}:1`);
  }

  /** The verdict is incomplete with a diagnostic `code` whose message matches `re`, and the tag was moved to quarantine/. */
  async function expectQuarantined(v: Verdict, repo: string, code: string, re: RegExp, r: LabRegistry = reg, s: RunningServer = srv): Promise<void> {
    expect(v.complete, `${repo}: ${JSON.stringify(v.reasons)}`).to.equal(false);
    expect(v.decision).to.equal('quarantine');
    const report = await s.store.getReport(v.digest);
    const d = report?.diagnostics.find((x) => x.code === code && x.incomplete);
    expect(d?.message, JSON.stringify(report?.diagnostics)).to.match(re);
    expect(v.enforcement).to.include({ action: 'quarantine', status: 'done' });
    expect(await tags(r, repo)).to.deep.equal([]);
    expect(await tags(r, `quarantine/${repo}`)).to.deep.equal(['1']);
  }

  it('an image within every limit is complete and stays', async () => {
    const v = await pushAndJudge(makeImage(dir, 'fine', [{ files: ok }, { files: { 'app/package-lock.json': JSON.stringify({ lockfileVersion: 3, packages: { 'node_modules/a': { version: '1.0.0' } } }) } }]), 'lab/fine');
    expect(v.complete, JSON.stringify(v.reasons)).to.equal(true);
    expect(v.decision).to.not.equal('quarantine');
    expect(await tags(reg, 'lab/fine')).to.deep.equal(['1']);
  });

  // One image per limit, pushed at once: the queue, and the admission path below, share one scan slot.
  const cases: Array<{ repo: string; layers: () => LayerSpec[]; code: string; re: RegExp }> = [
    { repo: 'lab/too-many-layers', layers: (): LayerSpec[] => [{ files: ok }, { files: { a: 'a' } }, { files: { b: 'b' } }, { files: { c: 'c' } }], code: 'layer-limit', re: /4 layers.*scan\.limits\.layers/ },
    { repo: 'lab/too-many-entries', layers: () => [{ files: { ...ok, ...Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`many/f${i}`, ''])) } }], code: 'layer-limit', re: /more than 50 entries.*scan\.limits\.entriesPerLayer/ },
    { repo: 'lab/too-big-layer', layers: () => [{ files: { ...ok, 'data.bin': crypto.randomBytes(300 * 1024) } }], code: 'layer-limit', re: /scan\.limits\.layerSize/ },
    { repo: 'lab/big-lock', layers: () => [{ files: { ...ok, 'app/package-lock.json': JSON.stringify({ lockfileVersion: 3, packages: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`node_modules/p${i}`, { version: `1.0.${i}` }])) }) } }], code: 'file-too-large', re: /scan\.limits\.lockFileSize/ },
    { repo: 'lab/big-dpkg', layers: () => [{ files: { 'etc/os-release': OS_RELEASE, 'var/lib/dpkg/status': dpkgStatus(200) } }], code: 'file-too-large', re: /scan\.limits\.packageDbSize/ },
    { repo: 'lab/corrupt-rpmdb', layers: () => [{ files: { ...ok, 'var/lib/rpm/rpmdb.sqlite': fs.readFileSync(path.join(ROOT, 'test/fixtures/scan/parsers/rpm/cbl-mariner-2.0/rpmdb.sqlite')).subarray(0, 4096) } }], code: 'parse-error', re: /os\/rpm/ },
    { repo: 'lab/broken-lock', layers: () => [{ files: { ...ok, 'app/package-lock.json': '{"lockfileVersion": 3, "packages": {' } }], code: 'parse-error', re: /npm-lock/ },
  ];

  it('an image over each configured limit (and one with an unreadable package database) → incomplete, tag quarantined', async () => {
    const images = cases.map((c) => makeImage(dir, c.repo.replace('/', '-'), c.layers()));
    // The admission path asks for a scan of the first image while the queue is busy with the rest.
    const pushes = cases.map((c, i) => pushAndJudge(images[i], c.repo));
    const verdicts = await Promise.all(pushes);
    for (const [i, c] of cases.entries()) await expectQuarantined(verdicts[i], c.repo, c.code, c.re);
    expect(peak).to.equal(1); // scan.workers: 1
  });

  it('a decompression bomb (65 MiB of zeros in a 65 KiB gzip layer) over scan.limits.ratio → incomplete, quarantined', async () => {
    // The ratio is checked past 64 MiB, where this gate's layerSize limit would stop the layer
    // first: raise it for this push, as a config reload would (every scan reads the live config).
    const limits = srv.gate.configRef.scan.limits!;
    const saved = limits.maxTarBytes;
    limits.maxTarBytes = 128 * 2 ** 20;
    try {
      const v = await pushAndJudge(makeImage(dir, 'bomb', [{ files: { ...ok, 'zeros.bin': Buffer.alloc(65 * 2 ** 20) }, gzip: true }]), 'lab/bomb');
      await expectQuarantined(v, 'lab/bomb', 'layer-limit', /more than 100× .*scan\.limits\.ratio/);
    } finally {
      limits.maxTarBytes = saved;
    }
  });

  it('a scan asked for by the admission path waits for the same slot as a queued push; never more than scan.workers at once', async () => {
    // Another scan holds the only slot (scan.workers: 1) until the test lets it go.
    let release!: () => void;
    const other = srv.gate.scanSlots.run(() => new Promise<void>((r) => { release = r; }));
    const queued = makeImage(dir, 'queued', [{ files: ok }]);
    const admitted = makeImage(dir, 'admitted', [{ files: { ...ok, 'x.bin': crypto.randomBytes(1024) } }]);
    for (const [im, repo] of [[queued, 'lab/queued'], [admitted, 'lab/admitted']]) {
      const p = await skopeoCopyAsync(im, `${reg.host}/${repo}:1`);
      expect(p.code, p.stderr).to.equal(0);
    }
    const m = await fetch(`${reg.url}/v2/lab/admitted/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    const assessed = srv.gate.assess({ registry: 'lab', repository: 'lab/admitted', digest: m.headers.get('docker-content-digest')!, tag: '1', source: 'admission' });
    // Both the queue worker (the push's notification) and the admission scan wait in line.
    const until = Date.now() + 30_000;
    while (srv.gate.scanSlots.queued < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(srv.gate.scanSlots.queued).to.equal(2);
    expect(srv.gate.scanSlots.running).to.equal(1);
    release();
    await other;
    expect((await assessed).complete).to.equal(true);
    expect((await verdict(base(), `${reg.host}/lab/queued:1`)).complete).to.equal(true);
    expect(peak).to.equal(1);
  });

  it('scan.deadline passing → incomplete (scan-deadline), tag quarantined', async () => {
    const v = await pushAndJudge(makeImage(dir, 'slow', [{ files: ok }]), 'lab/slow', slowReg, `http://127.0.0.1:${P.slowGate}`);
    await expectQuarantined(v, 'lab/slow', 'scan-deadline', /scan\.deadline/, slowReg, slowSrv);
  });
});
