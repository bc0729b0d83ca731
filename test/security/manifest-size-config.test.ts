/**
 * `scan.maxManifestSize` is the largest manifest pushgate reads, for the gate's own registry client as for
 * the proxy's admission: the gate's client kept its 4 MiB default whatever was configured, so a limit the
 * operator raised (to judge larger manifests a registry stores) still made every manifest above 4 MiB
 * unreadable, judged incomplete and deleted, and a limit lowered was not applied. Real Distribution 2.8
 * notifying an in-process `pushgate serve` with `scan.maxManifestBytes` of 4 KiB (the registry takes 4 MiB);
 * a fast-check property over manifest sizes on both sides of the limit. Ports 22997-22998.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Digest } from '../../src/core/index.js';
import { clientForHost } from '../../src/cli/registry-client.js';
import { defaultConfig } from '../../src/config/load.js';
import { DEFAULT_POLICY_YAML } from '../../src/policy/index.js';
import { isOverLimit } from '../../src/registry/errors.js';
import { startGatedLab, type GatedLab } from '../helpers/gated-lab.js';
import { makeImage, Raw, sha, sleep, type Image } from '../helpers/raw-push.js';

const REG_PORT = 22997;
const SRV_PORT = 22998;
const LIMIT = 4096;

/** `img` with an annotation padding its manifest to exactly `size` bytes (same blobs). */
function sized(img: Image, size: number): Image {
  const doc = JSON.parse(img.bytes.toString()) as Record<string, unknown>;
  doc.annotations = { 'org.example.pad': '' };
  const base = Buffer.byteLength(JSON.stringify(doc));
  doc.annotations = { 'org.example.pad': 'x'.repeat(size - base) };
  const bytes = Buffer.from(JSON.stringify(doc));
  expect(bytes.length).to.equal(size);
  return { ...img, digest: sha(bytes), bytes };
}

describe('security: the gate reads manifests up to the configured scan.maxManifestSize', function () {
  this.timeout(300_000);
  let lab: GatedLab;
  let raw: Raw;

  before(async () => {
    lab = await startGatedLab({ regPort: REG_PORT, srvPort: SRV_PORT, token: 'msize-token-0123456789', apiToken: 'msize-api-0123456789', policyYaml: DEFAULT_POLICY_YAML, tmpPrefix: 'pushgate-msize-', configure: (c) => { c.scan.maxManifestBytes = LIMIT; } });
    raw = new Raw(`127.0.0.1:${REG_PORT}`);
  });
  after(async () => {
    await lab?.stop();
  });

  let run = 0;
  it('property: a clean image pushed by tag is judged complete up to the limit and incomplete above it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: LIMIT - 64, max: LIMIT + 64 }), async (size) => {
        const repo = `msize${run}/app`;
        const img = sized(makeImage('good', `msize-${run++}-${process.pid}`), size);
        await raw.pushBlobs(repo, img.blobs);
        expect((await raw.putManifest(repo, 'v1', img)).status).to.equal(201);
        let v = await lab.srv.store.getVerdict('lab', repo, img.digest as Digest);
        for (let i = 0; i < 600 && !(v?.enforcement && v.enforcement.status !== 'pending'); i++) {
          await sleep(100);
          v = await lab.srv.store.getVerdict('lab', repo, img.digest as Digest);
        }
        expect(v?.complete, `${size} bytes against a ${LIMIT}-byte limit: ${JSON.stringify(v?.reasons)}`).to.equal(size <= LIMIT);
      }),
      { numRuns: 8, examples: [[LIMIT], [LIMIT + 1]] },
    );
  });

  it('property: pushgate scan\'s clients (a configured registry, an ad-hoc host) read up to the configured limit too', async () => {
    const host = `127.0.0.1:${REG_PORT}`;
    const adHoc = defaultConfig();
    adHoc.scan.maxManifestBytes = LIMIT;
    const configured = defaultConfig();
    configured.scan.maxManifestBytes = LIMIT;
    configured.registries = [{ name: 'lab', url: `http://${host}`, type: 'distribution', insecure: false, webhook: { token: 'msize-cli-token-0123456789' }, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 8, timeoutMs: 5_000 }];
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: LIMIT - 64, max: LIMIT + 64 }), fc.boolean(), async (size, isConfigured) => {
        const repo = `msizecli${run}/app`;
        const img = sized(makeImage('good', `msizecli-${run++}-${process.pid}`), size);
        await raw.pushBlobs(repo, img.blobs);
        expect((await raw.putManifest(repo, 'v1', img)).status).to.equal(201);
        const client = clientForHost(isConfigured ? configured : adHoc, host);
        const read = await client.getManifest(repo, 'v1').then(() => 'read', (e: unknown) => e);
        if (size <= LIMIT) expect(read, `${isConfigured} ${size}`).to.equal('read');
        else expect(isOverLimit(read), `${isConfigured} ${size}: ${String(read)}`).to.equal(true);
      }),
      { numRuns: 12, examples: [[LIMIT, true], [LIMIT + 1, true], [LIMIT + 1, false]] },
    );
  });
});
