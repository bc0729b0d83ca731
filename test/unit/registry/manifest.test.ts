import { expect } from 'chai';
import { parseManifest, detectManifestMediaType, nonImageArtifactType } from '../../../src/registry/manifest.js';
import { MediaTypes } from '../../../src/core/manifest.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const img = (extra: Record<string, unknown> = {}, config: string = MediaTypes.ociConfig) =>
  Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: config, digest: d('1'), size: 2 }, layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: d('2'), size: 3 }], ...extra }));

describe('registry/manifest', () => {
  it('detects the media type from Content-Type, body, or shape', () => {
    expect(detectManifestMediaType(img(), `${MediaTypes.ociManifest}; charset=utf-8`)).to.equal(MediaTypes.ociManifest);
    expect(detectManifestMediaType(img(), 'application/json')).to.equal(MediaTypes.ociManifest);
    expect(detectManifestMediaType(Buffer.from('{"schemaVersion":2,"manifests":[]}'), undefined)).to.equal(MediaTypes.ociIndex);
    expect(detectManifestMediaType(Buffer.from('{"schemaVersion":1}'), 'application/json')).to.equal(MediaTypes.dockerSchema1);
  });

  it('parses images, indexes, and artifact manifests with subject', () => {
    expect(parseManifest(img(), MediaTypes.ociManifest).kind).to.equal('manifest');
    const bundle = { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', digest: d('5'), size: 7 };
    const art = parseManifest(img({ artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json', layers: [bundle], subject: { mediaType: MediaTypes.ociManifest, digest: d('3'), size: 9 } }, 'application/vnd.oci.empty.v1+json'), MediaTypes.ociManifest);
    expect(nonImageArtifactType(art)).to.equal('application/vnd.dev.sigstore.bundle.v0.3+json');
    // artifactType never makes an image "not an image": a filesystem layer, or an image config, keeps it an image
    expect(nonImageArtifactType(parseManifest(img({ artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }, 'application/vnd.oci.empty.v1+json'), MediaTypes.ociManifest))).to.equal(undefined);
    expect(nonImageArtifactType(parseManifest(img({ artifactType: 'application/spdx+json', layers: [bundle] }), MediaTypes.ociManifest))).to.equal(undefined);
    // a Helm chart: no artifactType, a config that is not an image config
    const chart = { mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: d('6'), size: 8 };
    expect(nonImageArtifactType(parseManifest(img({ layers: [chart] }, 'application/vnd.cncf.helm.config.v1+json'), MediaTypes.ociManifest))).to.equal('application/vnd.cncf.helm.config.v1+json');
    // ... but not when one of its layers is a filesystem layer (any spelling a runtime accepts)
    expect(nonImageArtifactType(parseManifest(img({}, 'application/vnd.cncf.helm.config.v1+json'), MediaTypes.ociManifest))).to.equal(undefined);
    expect(nonImageArtifactType(parseManifest(img({ layers: [chart, { ...chart, mediaType: 'Application/VND.docker.image.rootfs.diff.tar.gzip' }] }, 'application/vnd.cncf.helm.config.v1+json'), MediaTypes.ociManifest))).to.equal(undefined);
    expect(nonImageArtifactType(parseManifest(img({}, MediaTypes.dockerConfig), MediaTypes.ociManifest))).to.equal(undefined);
    // an index is never an artefact, whatever its artifactType
    expect(nonImageArtifactType(parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, artifactType: 'application/spdx+json', manifests: [] })), MediaTypes.ociIndex))).to.equal(undefined);
    const idx = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.dockerManifestList, manifests: [{ mediaType: MediaTypes.dockerManifest, digest: d('4'), size: 5, platform: { os: 'linux', architecture: 'amd64' } }] })), MediaTypes.dockerManifestList);
    expect(idx.kind).to.equal('index');
  });

  it('refuses schema 1 and other media types (UNSUPPORTED), mismatched mediaType and malformed documents (MANIFEST_INVALID)', () => {
    const bad: Array<[Buffer, string, RegExp, string]> = [
      [Buffer.from('{"schemaVersion":1,"fsLayers":[]}'), MediaTypes.dockerSchema1Signed, /schema 1/, 'UNSUPPORTED'],
      [Buffer.from('{"schemaVersion":1}'), MediaTypes.ociManifest, /schema 1/, 'UNSUPPORTED'],
      [Buffer.from('{"schemaVersion":2}'), 'application/vnd.example.thing', /neither an image manifest nor an index/, 'UNSUPPORTED'],
      [img(), MediaTypes.dockerManifest, /differs from its declared type/, 'MANIFEST_INVALID'],
      [Buffer.from('not json'), MediaTypes.ociManifest, /not valid JSON/, 'MANIFEST_INVALID'],
      [Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:zz","size":1},"layers":[]}'), MediaTypes.ociManifest, /config\.digest/, 'MANIFEST_INVALID'],
      [Buffer.from('{"schemaVersion":2,"config":{"mediaType":"x","digest":"' + d('1') + '","size":-1},"layers":[]}'), MediaTypes.ociManifest, /config\.size/, 'MANIFEST_INVALID'],
    ];
    for (const [b, mt, re, code] of bad) {
      expect(() => parseManifest(b, mt), re.source).to.throw(re).with.property('code', code);
    }
  });
});
