/**
 * A quarantined image's referrers go to the quarantine repository with it, and on Distribution 2.8 (no
 * referrers API) release and retention find them there only through the fallback tag `sha256-<hex>`. When
 * that list could not be copied whole (a referrer whose blob the pusher deleted, one larger than pushgate
 * reads), its copy stopped part-way after storing the referrers before the bad one, and the sound referrers
 * were then copied one by one: they stayed in the quarantine repository listed by nothing, so a release
 * left them behind (the released image came back without its signatures) and retention never deleted them.
 * Now every referrer copied there is listed by the quarantine repository's fallback tag, and what a failed
 * copy stored that nothing lists is removed.
 * Real Distribution 2.8 (Debian docker-registry), raw OCI pushes, the action on its own (enforce(), then
 * releaseQuarantined() or deleteQuarantinedCopy() as the gate's release and retention call them).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Digest } from '../../src/core/index.js';
import { deleteQuarantinedCopy, enforce, releaseQuarantined } from '../../src/enforce/index.js';
import { RegistryClient } from '../../src/registry/client.js';
import { startRegistry, type LabRegistry } from '../helpers/lab.js';
import { freePort } from '../helpers/ports.js';
import { makeImage, OCI_INDEX, Raw, sha, type Image } from '../helpers/raw-push.js';

/** The manifest size limit of the client: small, so an oversize referrer is cheap to push. */
const SMALL_LIMIT = 4096;

type Fault = 'none' | 'blob-deleted' | 'oversize';

/** A clean image whose `subject` is `of` (a referrer that is itself an image). */
function referrerOf(of: Pick<Image, 'digest' | 'bytes' | 'mediaType'>, nonce: string, pad = 0): Image {
  const img = makeImage('good', nonce);
  const doc = JSON.parse(img.bytes.toString()) as Record<string, unknown>;
  doc.subject = { mediaType: of.mediaType, digest: of.digest, size: of.bytes.length };
  if (pad) doc.annotations = { 'org.example.pad': 'x'.repeat(pad) };
  const bytes = Buffer.from(JSON.stringify(doc));
  return { ...img, digest: sha(bytes), bytes };
}

function fallbackIndexOf(refs: Array<Pick<Image, 'digest' | 'bytes' | 'mediaType'>>): Pick<Image, 'digest' | 'bytes' | 'mediaType'> {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: refs.map((r) => ({ mediaType: r.mediaType, digest: r.digest, size: r.bytes.length })) }));
  return { digest: sha(bytes), bytes, mediaType: OCI_INDEX };
}

describe('security: referrers of a quarantined image whose list could not be copied whole', function () {
  this.timeout(300_000);
  let reg: LabRegistry;
  let raw: Raw;
  let client: RegistryClient;

  before(async () => {
    reg = startRegistry(await freePort());
    raw = new Raw(reg.host);
    client = new RegistryClient({ name: 'plain', url: reg.url, maxManifestBytes: SMALL_LIMIT });
  });
  after(() => reg?.stop());

  /** The digests `repo`'s fallback tag of `subject` lists (none when there is no such index). */
  async function listed(repo: string, subject: string): Promise<string[]> {
    const m = await raw.getManifest(repo, `sha256-${subject.slice(7)}`);
    if (!m) return [];
    return (JSON.parse(m.bytes.toString()) as { manifests?: Array<{ digest: string }> }).manifests?.map((d) => d.digest) ?? [];
  }

  let run = 0;
  async function scenario(faults: Fault[], then: 'release' | 'retention'): Promise<void> {
    const repo = `rpc${run}/app`;
    const qrepo = `quarantine/${repo}`;
    const nonce = `rpc-${run++}-${process.pid}`;
    const bad = makeImage('bad', `${nonce}-bad`);
    await raw.pushBlobs(repo, bad.blobs);
    expect((await raw.putManifest(repo, 'evil', bad)).status).to.equal(201);
    const refs = faults.map((f, i) => referrerOf(bad, `${nonce}-r${i}`, f === 'oversize' ? SMALL_LIMIT : 0));
    for (const r of refs) {
      await raw.pushBlobs(repo, r.blobs);
      expect((await raw.putManifest(repo, r.digest, r)).status).to.equal(201);
    }
    expect((await raw.putManifest(repo, `sha256-${bad.digest.slice(7)}`, fallbackIndexOf(refs))).status).to.equal(201);
    for (const [i, f] of faults.entries()) {
      if (f !== 'blob-deleted') continue;
      const r = await fetch(`${reg.url}/v2/${repo}/blobs/${sha(refs[i]!.blobs[1]!)}`, { method: 'DELETE' });
      await r.arrayBuffer();
      expect(r.status).to.equal(202);
    }
    const e = await enforce({ client, type: 'distribution', repository: repo, digest: bad.digest as Digest, tag: 'evil', decision: 'quarantine', mode: 'enforce', quarantinePrefix: 'quarantine/' });
    expect(e.status, e.detail).to.equal('done');
    expect(e.action, e.detail).to.equal('quarantine');
    const name = (d: string) => `r${refs.findIndex((r) => r.digest === d)}`;
    const inQuarantine: string[] = [];
    for (const r of refs) if (await raw.served(qrepo, r.digest)) inQuarantine.push(r.digest);
    const list = await listed(qrepo, bad.digest);
    // Every referrer in the quarantine repository is listed there: release and retention find it.
    for (const d of inQuarantine) expect(list, `${name(d)} in ${qrepo} listed by nothing (${e.detail})`).to.include(d);
    // A sound referrer moved with the image; a faulty one stayed where it was.
    for (const [i, f] of faults.entries()) {
      const d = refs[i]!.digest;
      if (f === 'none') expect(inQuarantine, `sound ${name(d)} not moved (${e.detail})`).to.include(d);
      else expect(inQuarantine, `faulty ${name(d)} in ${qrepo}`).to.not.include(d);
    }
    if (then === 'release') {
      await releaseQuarantined({ client, type: 'distribution', quarantineRepository: qrepo, digest: bad.digest as Digest, repository: repo, tag: 'evil' });
      expect(await raw.served(repo, 'evil')).to.equal(bad.digest);
      for (const d of inQuarantine) {
        expect(await raw.served(repo, d), `${name(d)} came back with the image`).to.equal(d);
        expect(await raw.served(qrepo, d), `${name(d)} left in ${qrepo} after the release`).to.equal(undefined);
      }
      // Listed again in the repository, beside the referrers that could not be moved (still there, still listed).
      const back = await listed(repo, bad.digest);
      for (const d of inQuarantine) expect(back, `${name(d)} listed again in ${repo}`).to.include(d);
      for (const r of refs) if ((await raw.served(repo, r.digest)) && !inQuarantine.includes(r.digest)) expect(back, `${name(r.digest)}, left in ${repo}, no longer listed there`).to.include(r.digest);
    } else {
      expect(await deleteQuarantinedCopy({ client, type: 'distribution', quarantineRepository: qrepo, digest: bad.digest as Digest })).to.equal(true);
      for (const d of inQuarantine) expect(await raw.served(qrepo, d), `${name(d)} left in ${qrepo} after retention`).to.equal(undefined);
    }
  }

  it('a sound referrer before one whose blob was deleted: listed in the quarantine repository, released with the image', async () => {
    await scenario(['none', 'blob-deleted'], 'release');
  });

  it('property: any mix and order of sound, blob-deleted and oversize referrers, then a release or retention, leaves no referrer unlisted or behind', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom<Fault>('none', 'blob-deleted', 'oversize'), { minLength: 1, maxLength: 4 }), fc.constantFrom('release' as const, 'retention' as const), async (faults, then) => {
        await scenario(faults, then);
      }),
      { numRuns: 20 },
    );
  });
});
