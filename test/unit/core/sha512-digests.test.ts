/**
 * A manifest is judged under its sha256 digest only (src/core/digest.ts): every way a manifest
 * digest reaches pushgate refuses a sha512 one with the same reason (admission image references, CLI
 * and API references, webhook events of Distribution and Harbor, the registry client, an index's
 * children and a referrer's subject), while blobs named by sha512 in a manifest are read and verified
 * by their own algorithm.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import crypto from 'node:crypto';
import { PassThrough } from 'node:stream';
import { isContentDigest, isDigest, parseDigest, SHA512_MANIFEST_REASON } from '../../../src/core/digest.js';
import { parseImageRef } from '../../../src/core/image-ref.js';
import { parseManifestDocument } from '../../../src/core/manifest-parse.js';
import { isPushgateError } from '../../../src/core/errors.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { VerifyStream } from '../../../src/scan/layer-stream.js';
import { parseDistributionEnvelope, parseHarborPayload } from '../../../src/webhooks/index.js';

const hex512 = fc.stringMatching(/^[a-f0-9]{128}$/);
const hex256 = fc.stringMatching(/^[a-f0-9]{64}$/);
const D256 = `sha256:${'ab'.repeat(32)}`;

const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
};

/** Every entry point's answer for a manifest digest `d`: the reason it refused it, or undefined when taken. */
function refusals(d: string): Record<string, string | undefined> {
  const msg = (e: unknown) => (e === undefined ? undefined : (e as Error).message);
  const dist = parseDistributionEnvelope({ events: [{ id: 'e', action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', repository: 'team/app', digest: d, tag: 'v1', size: 10 } }] }, 'r');
  const harbor = parseHarborPayload({ type: 'PUSH_ARTIFACT', occur_at: 1, event_data: { resources: [{ digest: d, tag: 'v1' }], repository: { repo_full_name: 'team/app' } } }, 'application/json', 'h');
  const harborByDigest = parseHarborPayload({ type: 'PUSH_ARTIFACT', occur_at: 1, event_data: { resources: [{ tag: d }], repository: { repo_full_name: 'team/app' } } }, 'application/json', 'h');
  const index = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d, size: 10 }] });
  const referrer = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: D256, size: 2 }, layers: [], subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d, size: 10 } });
  const client = new RegistryClient({ name: 'none', url: 'http://127.0.0.1:9' });
  return {
    isDigest: isDigest(d) ? undefined : 'refused',
    parseDigest: msg(thrown(() => parseDigest(d))),
    imageRef: msg(thrown(() => parseImageRef(`registry.test/team/app@${d}`))),
    imageRefWithTag: msg(thrown(() => parseImageRef(`registry.test/team/app:v1@${d}`))),
    distribution: dist.events.length ? undefined : dist.ignored[0]?.reason,
    harbor: harbor.events.length ? undefined : harbor.ignored[0]?.reason,
    harborByDigest: harborByDigest.events.length ? undefined : harborByDigest.ignored[0]?.reason,
    indexChild: msg(thrown(() => parseManifestDocument(index, 'application/vnd.oci.image.index.v1+json'))),
    subject: msg(thrown(() => parseManifestDocument(referrer, 'application/vnd.oci.image.manifest.v1+json'))),
    // checkRef runs before any request: the port is never reached.
    client: msg(thrown(() => (client as unknown as { checkRef(r: string): void }).checkRef(d))),
  };
}

describe('core/digest: manifests are judged under sha256 only; sha512 manifest digests are refused everywhere', () => {
  it('a sha512 manifest digest is refused by every entry point, with the one reason where a message is shown', () => {
    const d = `sha512:${'cd'.repeat(64)}`;
    const r = refusals(d);
    for (const [where, why] of Object.entries(r)) expect(why, where).to.be.a('string');
    for (const where of ['parseDigest', 'imageRef', 'imageRefWithTag', 'indexChild', 'subject', 'client']) expect(r[where], where).to.include(SHA512_MANIFEST_REASON);
    for (const where of ['distribution', 'harbor', 'harborByDigest']) expect(r[where], where).to.equal('unsupported-digest');
    expect(isPushgateError(thrown(() => parseImageRef(`x/y@${d}`)), 'BAD_REFERENCE')).to.equal(true);
  });

  it('property: every entry point takes sha256:<hex> and refuses sha512:<hex>', () => {
    fc.assert(
      fc.property(hex256, hex512, (h256, h512) => {
        expect(Object.values(refusals(`sha256:${h256}`)).filter((x) => x !== undefined)).to.deep.equal([]);
        const r = refusals(`sha512:${h512}`);
        for (const [where, why] of Object.entries(r)) expect(why, where).to.be.a('string');
      }),
      { numRuns: 100 },
    );
  });

  it('blobs named by sha512 are read: a manifest with sha512 config and layers parses, and the bytes are verified by sha512', async () => {
    const bytes = Buffer.from('layer bytes');
    const good = `sha512:${crypto.createHash('sha512').update(bytes).digest('hex')}`;
    expect(isContentDigest(good)).to.equal(true);
    const m = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: good, size: bytes.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: good, size: bytes.length }] });
    expect(parseManifestDocument(m, 'application/vnd.oci.image.manifest.v1+json').kind).to.equal('manifest');
    const pass = async (d: string): Promise<unknown> => {
      const v = new VerifyStream(d, bytes.length);
      const src = new PassThrough();
      src.pipe(v);
      v.resume();
      const done = new Promise((resolve) => { v.on('error', resolve); v.on('end', () => resolve(undefined)); });
      src.end(bytes);
      return done;
    };
    expect(await pass(good)).to.equal(undefined);
    expect(await pass(`sha512:${'0'.repeat(128)}`)).to.be.an('error');
  });
});
