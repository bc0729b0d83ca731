/**
 * A pusher with push rights against pushgate's reading of manifests, indexes and image configs.
 * CNCF Distribution 2.8 (Debian's docker-registry, a Go program) reads object keys
 * case-insensitively and keeps the last of several: `"layers":[]` followed by `"Layers":[real]`
 * is stored, and every Go runtime pulls the real layers. The suite first shows that on the real
 * registry (a second spelling that names a missing blob makes Distribution refuse the push, the
 * first spelling does not), then pushes each crafted document
 * - straight to the registry: the notification reaches a real `pushgate serve` (in-process, real
 *   HTTP), which judges it incomplete (MANIFEST_INVALID, naming the key) and quarantines it: the
 *   tag is not pullable outside quarantine;
 * - through pushgate's proxy: refused at the manifest PUT with 400 MANIFEST_INVALID (counted as a
 *   blocked push, rule `manifest-invalid`); the tag never exists.
 * And classification by content: `artifactType` on a manifest or an index, and index children
 * that merely carry the attestation annotation or an in-toto media type over a tar layer, are
 * scanned and rejected; a real BuildKit-style attestation child is still skipped (no over-block).
 * Blobs are the lab image node-app:vuln (a private key and an AWS key: reject) and its base.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../src/config/types.js';
import type { Verdict } from '../../src/core/index.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { updateDb } from '../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, metricValue, silentLogger as silent } from '../helpers/gate.js';
import { labImages, ROOT, startRegistry, type LabRegistry } from '../helpers/lab.js';
import { ensureBlob, labClient, sha } from '../integration/notifications/helpers.js';

const REG_PORT = 21001;
const PROXY_PORT = 21002;
const TOKEN = 'manifest-parsing-token-0123456789';
const REPO = 'sec/app';
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const CONFIG_MT = 'application/vnd.oci.image.config.v1+json';

interface Desc { mediaType: string; digest: string; size: number; platform?: { os: string; architecture: string }; annotations?: Record<string, string> }

describe('security: manifests, indexes and configs are read as the registry and runtimes read them', function () {
  this.timeout(300_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  /** node-app:vuln, the image every variant really carries (reject). */
  let vuln: { config: Desc; layers: Desc[]; bytes: Buffer; digest: string };
  /** debian-minbase:bookworm (warn: runs as root). */
  let clean: { config: Desc; layers: Desc[]; bytes: Buffer; digest: string; blob: (d: string) => Buffer };
  let attestation: Desc;

  const layoutImage = (name: string, tag: string) => {
    const root = path.join(labImages(), name);
    const blob = (d: string) => fs.readFileSync(path.join(root, 'blobs', 'sha256', d.slice('sha256:'.length)));
    const index = JSON.parse(fs.readFileSync(path.join(root, 'index.json'), 'utf8')) as { manifests: Array<Desc & { annotations?: Record<string, string> }> };
    const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)!;
    const bytes = blob(d.digest);
    const m = JSON.parse(bytes.toString('utf8')) as { config: Desc; layers: Desc[] };
    return { ...m, bytes, digest: d.digest, blob };
  };

  async function put(base: string, ref: string, body: string | Buffer, contentType = OCI): Promise<{ status: number; text: string; digest: string }> {
    const r = await fetch(`${base}/v2/${REPO}/manifests/${ref}`, { method: 'PUT', headers: { 'content-type': contentType }, body });
    return { status: r.status, text: await r.text(), digest: sha(Buffer.from(body)) };
  }
  async function pullable(tag: string, repo = REPO): Promise<number> {
    return (await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, { method: 'HEAD', headers: { accept: `${OCI}, ${OCI_INDEX}` } })).status;
  }
  async function waitVerdict(digest: string, ms = 120_000): Promise<Verdict> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await srv.store.getVerdict('lab', REPO, digest);
      if (v?.enforcement) return v;
      if (Date.now() > deadline) throw new Error(`no enforced verdict for ${digest} (last: ${JSON.stringify(v)})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  async function metric(name: string, labels: Record<string, string>): Promise<number> {
    return metricValue(await srv.metrics.text(), name, labels);
  }

  const manifest = (fields: string) => `{"schemaVersion":2,"mediaType":"${OCI}",${fields}}`;
  /**
   * node-app:vuln under a digest of its own (an annotation carries `nonce`), pushed by digest now, as a
   * client pushes an index's children right before the index: a blocking child pushed by digest leaves
   * the repository when its grace ends or with the first blocked index that names it, so each index
   * variant gets its own.
   */
  async function freshVuln(nonce: string): Promise<Desc> {
    const bytes = Buffer.from(j({ ...(JSON.parse(vuln.bytes.toString('utf8')) as object), annotations: { 'org.example.nonce': nonce } }));
    const r = await put(reg.url, sha(bytes), bytes);
    expect(r.status, r.text).to.equal(201);
    return { mediaType: OCI, digest: sha(bytes), size: bytes.length };
  }
  const j = (x: unknown) => JSON.stringify(x);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-sec-manifest-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.proxy = { ...config.proxy, listen: `127.0.0.1:${PROXY_PORT}`, upstream: `http://127.0.0.1:${REG_PORT}`, timeoutMs: 120_000, onTimeout: 'reject', onError: 'reject' };
    srv = await startServer(config, silent);
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${srv.port}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}` });
    const c = labClient(reg.url);
    const v = layoutImage('node-app', 'vuln');
    const b = layoutImage('debian-minbase', 'bookworm');
    for (const d of [v.config, ...v.layers]) await ensureBlob(c, REPO, v.blob(d.digest));
    for (const d of [b.config, ...b.layers]) await ensureBlob(c, REPO, b.blob(d.digest));
    vuln = v;
    clean = b;
    // A BuildKit-style attestation manifest: an image config and one in-toto statement.
    const statement = Buffer.from(j({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://slsa.dev/provenance/v0.2', subject: [{ name: 'app', digest: { sha256: clean.digest.slice(7) } }], predicate: {} }));
    const attCfg = Buffer.from(j({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [sha(statement)] } }));
    await ensureBlob(c, REPO, statement);
    await ensureBlob(c, REPO, attCfg);
    const att = Buffer.from(manifest(`"config":${j({ mediaType: CONFIG_MT, digest: sha(attCfg), size: attCfg.length })},"layers":[${j({ mediaType: 'application/vnd.in-toto+json', digest: sha(statement), size: statement.length, annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' } })}]`));
    // Children of the index variants that do not block go in by digest once (judged, left alone).
    for (const [bytes, want] of [[clean.bytes, clean.digest], [att, sha(att)]] as const) {
      const r = await put(reg.url, want, bytes);
      expect(r.status, r.text).to.equal(201);
    }
    attestation = { mediaType: OCI, digest: sha(att), size: att.length, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': clean.digest } };
  });

  after(async () => {
    reg?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('Distribution itself takes the LAST key under case folding (ASCII case and the long s ſ): the threat is real', async () => {
    const real = j(vuln.layers);
    const missing = j([{ ...vuln.layers[1], digest: `sha256:${'e'.repeat(64)}` }]);
    const cfg = j(vuln.config);
    for (const spelling of ['Layers', 'LAYERS', 'layerſ', 'layers']) {
      // a missing blob under the second spelling is what Distribution checks: refused
      const second = await put(reg.url, `probe-${Buffer.from(spelling).toString('hex')}-a`, manifest(`"config":${cfg},"layers":${real},"${spelling}":${missing}`));
      expect(second.status, spelling).to.equal(400);
      expect(second.text, spelling).to.include('MANIFEST_BLOB_UNKNOWN');
      // under the first spelling it is ignored: stored
      const first = await put(reg.url, `probe-${Buffer.from(spelling).toString('hex')}-b`, manifest(`"config":${cfg},"layers":${missing},"${spelling}":${real}`));
      expect(first.status, spelling).to.equal(201);
    }
  });

  describe('notifications: a stored ambiguous document ends quarantined, its tag not pullable', () => {
    const cases: Array<{ tag: string; key: string; body: () => string; says?: string }> = [
      { tag: 'layers-Layers', key: 'Layers', body: () => manifest(`"config":${j(vuln.config)},"layers":[],"Layers":${j(vuln.layers)}`) },
      { tag: 'layers-LAYERS', key: 'LAYERS', body: () => manifest(`"config":${j(vuln.config)},"layers":[],"LAYERS":${j(vuln.layers)}`) },
      { tag: 'layers-long-s', key: 'layerſ', body: () => manifest(`"config":${j(vuln.config)},"layers":[],"layerſ":${j(vuln.layers)}`) },
      { tag: 'layers-twice', key: 'layers', body: () => manifest(`"config":${j(vuln.config)},"layers":[],"layers":${j(vuln.layers)}`) },
      { tag: 'mediatype-twice', key: 'MediaType', body: () => `{"schemaVersion":2,"mediaType":"${OCI}","MediaType":"${OCI}","config":${j(vuln.config)},"layers":${j(vuln.layers)}}` },
      { tag: 'config-Config', key: 'Config', body: () => manifest(`"config":${j(clean.config)},"Config":${j(vuln.config)},"layers":${j(vuln.layers)}`) },
      { tag: 'digest-Digest', key: 'Digest', body: () => manifest(`"config":${j(vuln.config)},"layers":[${j(vuln.layers[0])},${j({ ...vuln.layers[0], Digest: vuln.layers[1]!.digest, size: vuln.layers[1]!.size })}]`) },
      { tag: 'negative-size', key: 'size', says: 'layers[0].size is -1', body: () => manifest(`"config":${j(vuln.config)},"layers":${j(vuln.layers.map((l) => ({ ...l, size: -1 })))}`) },
    ];
    for (const k of cases) {
      it(`${k.tag}: stored by Distribution, judged incomplete naming "${k.key}", quarantined`, async () => {
        const r = await put(reg.url, k.tag, k.body());
        expect(r.status, r.text).to.equal(201);
        const v = await waitVerdict(r.digest);
        expect(v.complete).to.equal(false);
        expect(v.decision).to.equal('quarantine');
        expect(v.enforcement?.status, v.enforcement?.detail).to.equal('done');
        const report = await srv.store.getReport(r.digest);
        const diag = report?.diagnostics.find((d) => d.code === 'manifest-invalid');
        expect(diag?.message).to.include(k.says ?? `"${k.key}"`);
        expect(await pullable(k.tag)).to.equal(404);
        expect(await pullable(k.tag, `quarantine/${REPO}`)).to.equal(200);
      });
    }

    it('image config with Env/env and config/Config collisions: stored, judged incomplete (config-invalid), quarantined', async () => {
      const c = labClient(reg.url);
      const base = JSON.parse(clean.blob(clean.config.digest).toString('utf8')) as Record<string, unknown>;
      const variants = [
        `{"architecture":"amd64","os":"linux","config":{"User":"app","Env":["MODE=prod"],"env":["AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]},"rootfs":${j(base.rootfs)}}`,
        `{"architecture":"amd64","os":"linux","config":{"User":"app"},"Config":{"User":"root"},"rootfs":${j(base.rootfs)}}`,
      ];
      for (const [i, text] of variants.entries()) {
        const cfg = Buffer.from(text);
        await ensureBlob(c, REPO, cfg);
        const r = await put(reg.url, `config-collision-${i}`, manifest(`"config":${j({ mediaType: CONFIG_MT, digest: sha(cfg), size: cfg.length })},"layers":${j(clean.layers)}`));
        expect(r.status, r.text).to.equal(201);
        const v = await waitVerdict(r.digest);
        expect(v.complete, text).to.equal(false);
        expect(v.decision).to.equal('quarantine');
        const report = await srv.store.getReport(r.digest);
        expect(report?.diagnostics.map((d) => d.code), text).to.include('config-invalid');
        expect(await pullable(`config-collision-${i}`)).to.equal(404);
      }
    });

    it('index with manifests/Manifests: stored, judged incomplete, quarantined', async () => {
      const child = (d: string, size: number) => ({ mediaType: OCI, digest: d, size, platform: { os: 'linux', architecture: 'amd64' } });
      const bad = await freshVuln('index-Manifests');
      const body = `{"schemaVersion":2,"mediaType":"${OCI_INDEX}","manifests":[${j(child(clean.digest, clean.bytes.length))}],"Manifests":[${j(child(bad.digest, bad.size))}]}`;
      const r = await put(reg.url, 'index-Manifests', body, OCI_INDEX);
      expect(r.status, r.text).to.equal(201);
      const v = await waitVerdict(r.digest);
      expect(v.complete).to.equal(false);
      expect(v.decision).to.equal('quarantine');
      expect((await srv.store.getReport(r.digest))?.diagnostics.find((d) => d.code === 'manifest-invalid')?.message).to.include('"Manifests"');
      expect(await pullable('index-Manifests')).to.equal(404);
    });

    it('artifactType on a manifest or an index makes nothing "not an image": scanned and rejected', async () => {
      const m = await put(reg.url, 'artifact-manifest', manifest(`"artifactType":"application/vnd.example.sbom+json","config":${j(vuln.config)},"layers":${j(vuln.layers)}`));
      expect(m.status, m.text).to.equal(201);
      // an empty config with real layers: a runtime unpacks the layers all the same
      const empty = Buffer.from('{}');
      await ensureBlob(labClient(reg.url), REPO, empty);
      const e = await put(reg.url, 'artifact-empty-config', manifest(`"artifactType":"application/vnd.example.sbom+json","config":${j({ mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(empty), size: 2 })},"layers":${j(vuln.layers)}`));
      expect(e.status, e.text).to.equal(201);
      const bad = await freshVuln('artifact-index');
      const i = await put(reg.url, 'artifact-index', j({ schemaVersion: 2, mediaType: OCI_INDEX, artifactType: 'application/vnd.example.sbom+json', manifests: [{ ...bad, platform: { os: 'linux', architecture: 'amd64' } }] }), OCI_INDEX);
      expect(i.status, i.text).to.equal(201);
      for (const [tag, r] of [['artifact-manifest', m], ['artifact-empty-config', e], ['artifact-index', i]] as const) {
        const v = await waitVerdict(r.digest);
        expect(v.decision, tag).to.equal('reject');
        expect(v.reasons.map((x) => x.rule), tag).to.not.include('artifact');
        expect(await pullable(tag), tag).to.equal(404);
      }
    });

    it('index children are judged by their layers: the attestation annotation or an in-toto type over a tar layer is scanned; a non-image child makes the index incomplete; a real attestation is skipped', async () => {
      // the vulnerable image dressed as a BuildKit attestation (annotation + unknown/unknown)
      const dressed = { ...(await freshVuln('dressed-child')), platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': clean.digest } };
      const cleanChild = { mediaType: OCI, digest: clean.digest, size: clean.bytes.length, platform: { os: 'linux', architecture: 'amd64' } };
      const a = await put(reg.url, 'dressed-child', j({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [cleanChild, dressed] }), OCI_INDEX);
      expect(a.status, a.text).to.equal(201);
      // the secret layer relabelled as an in-toto statement
      const relabelled = Buffer.from(manifest(`"config":${j(vuln.config)},"layers":[${j({ ...vuln.layers[1], mediaType: 'application/vnd.in-toto+json' })}]`));
      expect((await put(reg.url, sha(relabelled), relabelled)).status).to.equal(201);
      const b = await put(reg.url, 'intoto-tar-child', j({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [cleanChild, { mediaType: OCI, digest: sha(relabelled), size: relabelled.length, platform: { os: 'unknown', architecture: 'unknown' } }] }), OCI_INDEX);
      expect(b.status, b.text).to.equal(201);
      for (const [tag, r] of [['dressed-child', a], ['intoto-tar-child', b]] as const) {
        const v = await waitVerdict(r.digest);
        expect(v.decision, tag).to.equal('reject');
        expect(await pullable(tag), tag).to.equal(404);
      }
      // a child that is no image (a Helm chart) is not scanned, so the index cannot be vouched for: incomplete
      const c = labClient(reg.url);
      const helmCfg = Buffer.from(j({ name: 'demo', version: '0.1.0', apiVersion: 'v2' }));
      const chart = Buffer.from('a chart archive pushgate does not unpack');
      await ensureBlob(c, REPO, helmCfg);
      await ensureBlob(c, REPO, chart);
      const chartManifest = Buffer.from(manifest(`"config":${j({ mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: sha(helmCfg), size: helmCfg.length })},"layers":[${j({ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: sha(chart), size: chart.length })}]`));
      expect((await put(reg.url, sha(chartManifest), chartManifest)).status).to.equal(201);
      const h = await put(reg.url, 'chart-child', j({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [cleanChild, { mediaType: OCI, digest: sha(chartManifest), size: chartManifest.length, platform: { os: 'linux', architecture: 'arm64' } }] }), OCI_INDEX);
      expect(h.status, h.text).to.equal(201);
      const hv = await waitVerdict(h.digest);
      expect(hv.complete).to.equal(false);
      expect(hv.decision).to.equal('quarantine');
      expect((await srv.store.getReport(h.digest))?.diagnostics.map((d) => d.code)).to.include('child-not-image');
      expect(await pullable('chart-child')).to.equal(404);
      // a genuine attestation child is skipped, complete, and the clean image stays pullable
      const g = await put(reg.url, 'with-attestation', j({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [cleanChild, attestation] }), OCI_INDEX);
      expect(g.status, g.text).to.equal(201);
      const v = await waitVerdict(g.digest);
      expect(v.decision).to.equal('warn');
      expect(v.complete).to.equal(true);
      expect((await srv.store.getReport(g.digest))?.diagnostics.map((d) => d.code)).to.include('attestation-skipped');
      expect(await pullable('with-attestation')).to.equal(200);
    });
  });

  describe('pushgate scan', () => {
    it('pushgate scan reads the same documents (the quarantine copies) as incomplete, naming the key, exit 1', async () => {
      const scan = (ref: string) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), 'scan', ref, '--format', 'json'], { cwd: dir, timeout: 120_000 }, (err, stdout, stderr) => {
          resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, stdout, stderr });
        });
      });
      for (const [tag, code, key] of [['layers-Layers', 'manifest-invalid', '"Layers"'], ['index-Manifests', 'manifest-invalid', '"Manifests"'], ['config-collision-0', 'config-invalid', '"env"']] as const) {
        const r = await scan(`${reg.host}/quarantine/${REPO}:${tag}`);
        expect(r.code, `${tag}: ${r.stderr}`).to.equal(1);
        const report = JSON.parse(r.stdout) as { complete: boolean; diagnostics: Array<{ code: string; message: string }> };
        expect(report.complete, tag).to.equal(false);
        expect(report.diagnostics.find((d) => d.code === code)?.message, tag).to.include(key);
      }
    });
  });

  describe('proxy: refused at the manifest PUT with MANIFEST_INVALID, counted; the tag never exists', () => {
    it('every colliding, duplicated or mistyped variant is 400 MANIFEST_INVALID naming the key', async () => {
      const proxy = `http://127.0.0.1:${PROXY_PORT}`;
      const before = await metric('pushgate_blocked_pushes_total', { rule: 'manifest-invalid', mode: 'sync' });
      const variants: Array<[string, string, string, string?]> = [
        ['p-Layers', 'Layers', manifest(`"config":${j(vuln.config)},"layers":[],"Layers":${j(vuln.layers)}`)],
        ['p-LAYERS', 'LAYERS', manifest(`"config":${j(vuln.config)},"layers":[],"LAYERS":${j(vuln.layers)}`)],
        ['p-long-s', 'layerſ', manifest(`"config":${j(vuln.config)},"layers":[],"layerſ":${j(vuln.layers)}`)],
        ['p-twice', 'layers', manifest(`"config":${j(vuln.config)},"layers":[],"layers":${j(vuln.layers)}`)],
        ['p-mediatype', 'MediaType', `{"schemaVersion":2,"mediaType":"${OCI}","MediaType":"${OCI}","config":${j(vuln.config)},"layers":${j(vuln.layers)}}`],
        ['p-size-string', 'size', manifest(`"config":${j(vuln.config)},"layers":[${j({ ...vuln.layers[1], size: String(vuln.layers[1]!.size) })}]`)],
        ['p-size-negative', 'size', manifest(`"config":${j(vuln.config)},"layers":${j(vuln.layers.map((l) => ({ ...l, size: -1 })))}`)],
        ['p-layers-object', 'layers', manifest(`"config":${j(vuln.config)},"layers":{}`)],
        ['p-index', 'Manifests', j({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }).replace(/}$/, `,"Manifests":[${j({ mediaType: OCI, digest: vuln.digest, size: vuln.bytes.length })}]}`), OCI_INDEX],
      ];
      for (const [tag, key, body, ct] of variants) {
        const r = await put(proxy, tag, body, ct ?? OCI);
        expect(r.status, `${tag}: ${r.text}`).to.equal(400);
        const err = (JSON.parse(r.text) as { errors: Array<{ code: string; message: string }> }).errors[0]!;
        expect(err.code, tag).to.equal('MANIFEST_INVALID');
        expect(err.message, tag).to.match(new RegExp(`${key === 'size' || key === 'layers' ? key : `"${key}"`}`));
        expect(await pullable(tag), tag).to.equal(404);
      }
      expect(await metric('pushgate_blocked_pushes_total', { rule: 'manifest-invalid', mode: 'sync' })).to.equal(before + variants.length);
    });

    it('artifactType and a dressed-up child do not pass the proxy either', async () => {
      const proxy = `http://127.0.0.1:${PROXY_PORT}`;
      const m = await put(proxy, 'p-artifact', manifest(`"artifactType":"application/vnd.example.sbom+json","config":${j(vuln.config)},"layers":${j(vuln.layers)}`));
      expect(m.status, m.text).to.equal(403);
      const dressed = { ...(await freshVuln('p-dressed')), platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } };
      const i = await put(proxy, 'p-dressed', j({ schemaVersion: 2, mediaType: OCI_INDEX, artifactType: 'application/vnd.example', manifests: [dressed] }), OCI_INDEX);
      expect(i.status, i.text).to.equal(403);
      expect(await pullable('p-artifact')).to.equal(404);
      expect(await pullable('p-dressed')).to.equal(404);
    });
  });
});
