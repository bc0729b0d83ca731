/**
 * An image is not waved through as an "artifact" because its config and layers carry media types
 * Docker Engine still runs.
 *
 * Attacker: anyone with push rights. Docker Engine (moby, classic image store; cri-dockerd nodes)
 * pulls a manifest whose config is typed `application/octet-stream`, `application/json`,
 * `text/html` (moby `defaultImageTypes`, kept for old registries) or, on OCI manifests since
 * Engine 25, anything under `application/vnd.oci.image.`/`application/vnd.docker.`, reads that
 * config as an image config, and unpacks layers typed `application/octet-stream` by sniffing their
 * compression. pushgate used to call such a manifest a non-image artifact (config not an image
 * config, no layer typed as a filesystem layer) and allowed it unscanned.
 *
 * Docker Engine also unpacks layers compressed with bzip2 or xz (moby's DecompressStream sniffs
 * bzip2, gzip, xz and zstd, whatever the media type says). pushgate sniffed only gzip and zstd: such a
 * layer behind a non-layer media type was classified as data and skipped, and behind a layer media
 * type it was an unreadable tar (incomplete).
 *
 * Go's archive/tar (which Docker uses on an uncompressed layer) accepts a header whose checksum is the
 * signed sum of its bytes; the classifier accepted only the unsigned sum, so a plain tar whose first
 * header has a byte above 0x7f and a signed checksum, typed `application/octet-stream`, was data.
 *
 * Real components: Distribution 2.8 with notifications to an in-process `pushgate serve` (default
 * policy, offline OSV fixtures), raw OCI distribution API pushes, the real bzip2 and xz programs. A
 * real artifact (empty config, SPDX layer) stays an allowed artifact. Ports 22470-22471.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { DEFAULT_POLICY_YAML } from '../../src/policy/index.js';
import { MediaTypes } from '../../src/core/manifest.js';
import { nonImageArtifactType, parseManifestDocument } from '../../src/core/manifest-parse.js';
import { startGatedLab, type GatedLab } from '../helpers/gated-lab.js';
import { DOCKER_MANIFEST, makeImage, OCI_MANIFEST, Raw, sha, type Image } from '../helpers/raw-push.js';

const REG_PORT = 22470;
const SRV_PORT = 22471;

/** `img` with its config and layer media types replaced (the blobs are the same bytes). */
function retype(img: Image, configType: string, layerType: string): Image {
  const m = JSON.parse(img.bytes.toString('utf8')) as { config: { mediaType: string }; layers: Array<{ mediaType: string }> };
  m.config.mediaType = configType;
  for (const l of m.layers) l.mediaType = layerType;
  const bytes = Buffer.from(JSON.stringify(m));
  return { ...img, bytes, digest: sha(bytes) };
}

describe('security: what Docker Engine runs is scanned (config and layer media types, bzip2 and xz layers)', function () {
  this.timeout(180_000);
  let lab: GatedLab;
  let raw: Raw;

  before(async () => {
    lab = await startGatedLab({ regPort: REG_PORT, srvPort: SRV_PORT, token: 'docker-config-types-token', apiToken: 'docker-config-types-api', tmpPrefix: 'pushgate-dockercfg-', policyYaml: DEFAULT_POLICY_YAML });
    raw = new Raw(`127.0.0.1:${REG_PORT}`);
  });
  after(async () => {
    await lab?.stop();
  });

  const cases: Array<[string, string, string]> = [
    ['OCI, octet-stream config and layer', OCI_MANIFEST, 'application/octet-stream'],
    ['Docker schema 2, application/json config', DOCKER_MANIFEST, 'application/json'],
    ['OCI, a config type under application/vnd.docker. (Engine 25+)', OCI_MANIFEST, 'application/vnd.docker.custom.config.v1+json'],
  ];
  for (const [title, mediaType, configType] of cases) {
    it(`${title}: the private key in the layer is found; rejected, the tag removed`, async () => {
      const repo = `dockercfg/${configType.replace(/[^a-z0-9]+/g, '-')}`;
      const img = retype(makeImage('secret', `${title}-${Date.now()}`, mediaType), configType, 'application/octet-stream');
      await raw.pushBlobs(repo, img.blobs);
      const put = await raw.putManifest(repo, 'v1', img);
      expect(put.status, put.body).to.equal(201);
      const v = await lab.verdict(`127.0.0.1:${REG_PORT}/${repo}:v1`);
      expect(v.reasons.map((r) => r.rule), JSON.stringify(v.reasons)).to.not.include('artifact');
      expect(v.decision).to.equal('reject');
      expect(await lab.tags(repo)).to.not.include('v1');
    });
  }

  for (const [prog, layerType] of [['bzip2', 'application/octet-stream'], ['xz', 'application/octet-stream'], ['bzip2', 'application/vnd.oci.image.layer.v1.tar'], ['xz', 'application/vnd.oci.image.layer.v1.tar+gzip']] as const) {
    it(`a ${prog}-compressed layer typed ${layerType}: read as Docker Engine unpacks it, the private key found; rejected`, async () => {
      const repo = `dockercompress/${prog}-${layerType.replace(/[^a-z0-9]+/g, '-')}`;
      const plain = makeImage('secret', `${prog}-${layerType}-${Date.now()}`);
      const tar = plain.blobs[1]!;
      const packed = execFileSync(prog, ['-c'], { input: tar });
      const m = JSON.parse(plain.bytes.toString('utf8')) as { layers: Array<{ mediaType: string; digest: string; size: number }> };
      // The config's diff_id stays the tar's digest, as Docker checks it after decompressing.
      m.layers = [{ mediaType: layerType, digest: sha(packed), size: packed.length }];
      const bytes = Buffer.from(JSON.stringify(m));
      await raw.pushBlobs(repo, [plain.blobs[0]!, packed]);
      const put = await raw.putManifest(repo, 'v1', { bytes, mediaType: OCI_MANIFEST });
      expect(put.status, put.body).to.equal(201);
      const v = await lab.verdict(`127.0.0.1:${REG_PORT}/${repo}:v1`);
      expect(v.decision, JSON.stringify(v.reasons)).to.equal('reject');
      expect(v.complete, JSON.stringify(v.reasons)).to.equal(true);
      expect(await lab.tags(repo)).to.not.include('v1');
    });
  }

  it('a plain tar whose first header carries a signed checksum (Go accepts it), typed application/octet-stream: read; rejected', async () => {
    const repo = 'dockercompress/signed-checksum';
    const plain = makeImage('secret', `signed-${Date.now()}`);
    const tar = Buffer.from(plain.blobs[1]!);
    // uname of the first header (ustar offset 265) gets bytes above 0x7f; the checksum is the signed sum.
    tar.fill(0xff, 265, 269);
    tar.fill(0x20, 148, 156);
    let signed = 0;
    for (let i = 0; i < 512; i++) signed += tar[i]! > 127 ? tar[i]! - 256 : tar[i]!;
    tar.write(`${signed.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const m = JSON.parse(plain.bytes.toString('utf8')) as { config: { digest: string; size: number }; layers: Array<{ mediaType: string; digest: string; size: number }> };
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { User: '65534' }, rootfs: { type: 'layers', diff_ids: [sha(tar)] } }));
    m.config = { ...m.config, digest: sha(config), size: config.length };
    m.layers = [{ mediaType: 'application/octet-stream', digest: sha(tar), size: tar.length }];
    const bytes = Buffer.from(JSON.stringify(m));
    await raw.pushBlobs(repo, [config, tar]);
    const put = await raw.putManifest(repo, 'v1', { bytes, mediaType: OCI_MANIFEST });
    expect(put.status, put.body).to.equal(201);
    const v = await lab.verdict(`127.0.0.1:${REG_PORT}/${repo}:v1`);
    expect(v.decision, JSON.stringify(v.reasons)).to.equal('reject');
    expect(v.complete, JSON.stringify(v.reasons)).to.equal(true);
  });

  it('a real artifact (empty config, SPDX layer) is still recorded and passed as one', async () => {
    const repo = 'dockercfg/sbom';
    const empty = Buffer.from('{}');
    const sbom = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: `sbom-${Date.now()}` }));
    const bytes = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/spdx+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(empty), size: empty.length },
      layers: [{ mediaType: 'application/spdx+json', digest: sha(sbom), size: sbom.length }],
    }));
    await raw.pushBlobs(repo, [empty, sbom]);
    const put = await raw.putManifest(repo, 'sbom', { bytes, mediaType: OCI_MANIFEST });
    expect(put.status, put.body).to.equal(201);
    const v = await lab.verdict(`127.0.0.1:${REG_PORT}/${repo}:sbom`);
    expect(v.decision).to.equal('allow');
    expect(v.reasons.map((r) => r.rule)).to.include('artifact');
    expect(await lab.tags(repo)).to.include('sbom');
  });
});

/**
 * A reference model of what Docker Engine accepts, written from moby's puller (not from pushgate):
 * `validateMediaType` (exact match against `defaultImageTypes`) on the config of a schema 2 manifest,
 * and of OCI manifests before Engine 25; `checkSupportedMediaType` (lower-cased, equal to or under a
 * prefix plus ".", `application/vnd.docker.ai.` refused) on the config and every layer since Engine 25.
 */
const DEFAULT_IMAGE_TYPES = [MediaTypes.dockerConfig, MediaTypes.ociConfig, 'application/octet-stream', 'application/json', 'text/html', ''];
const SUPPORTED = ['application/vnd.oci.image', 'application/vnd.docker', 'application/octet-stream', 'application/json', 'text/html', ''];
function dockerSupported(mt: string): boolean {
  const lower = mt.toLowerCase();
  if (lower.startsWith('application/vnd.docker.ai.')) return false;
  return SUPPORTED.some((s) => lower === s || lower.startsWith(`${s}.`));
}
function dockerRuns(manifestType: string, config: string, layers: string[]): boolean {
  const engine24 = DEFAULT_IMAGE_TYPES.includes(config);
  const engine25 = (manifestType === OCI_MANIFEST || DEFAULT_IMAGE_TYPES.includes(config)) && dockerSupported(config) && layers.every(dockerSupported);
  return engine24 || engine25;
}

describe('security: nonImageArtifactType never calls a manifest Docker Engine runs an artifact (fast-check)', () => {
  it('holds for generated config and layer media types', () => {
    const piece = fc.constantFrom(
      'application/octet-stream', 'application/json', 'text/html', 'application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json',
      'application/vnd.oci.image.', 'application/vnd.docker.', 'application/vnd.docker.ai.', 'application/vnd.oci.empty.v1+json', 'application/spdx+json',
      'application/vnd.cncf.helm.config.v1+json', 'x', 'v1+json', 'Application/Vnd.Docker.', 'APPLICATION/OCTET-STREAM', '; charset=utf-8', 'text/plain',
    );
    const mediaType = fc.array(piece, { minLength: 1, maxLength: 3 }).map((a) => a.join(''));
    fc.assert(
      fc.property(fc.constantFrom(OCI_MANIFEST, DOCKER_MANIFEST), mediaType, fc.array(mediaType, { minLength: 1, maxLength: 3 }), (mt, config, layers) => {
        const d = (c: string) => `sha256:${c.repeat(64)}`;
        const doc = parseManifestDocument(Buffer.from(JSON.stringify({
          schemaVersion: 2, mediaType: mt, config: { mediaType: config, digest: d('1'), size: 2 }, layers: layers.map((l) => ({ mediaType: l, digest: d('2'), size: 3 })),
        })), mt);
        if (dockerRuns(mt, config, layers)) expect(nonImageArtifactType(doc), `${mt} ${config} ${JSON.stringify(layers)}`).to.equal(undefined);
      }),
      { numRuns: 2000 },
    );
  });
});
