/**
 * pushgate reads a manifest up to a limit (the registry client's `maxManifestBytes`, 4 MiB by default, as
 * Distribution's own). A registry that stores larger manifests (any registry of `type: distribution` with a
 * higher limit, or a client built with a lower one) serves manifests pushgate cannot read, so it could not
 * copy them to quarantine either: the copy failed on every try and the blocked image stayed under its tag
 * for good (its event parked and resumed forever), an index with such a child likewise, and a delete of an
 * index failed reading it for its children. Now such a copy falls back to the delete (as for a copy that
 * cannot be made whole), an over-limit child is deleted by its own verdict, an over-limit index is deleted
 * with its children left to their own push events, and an event whose manifest is over the limit is judged
 * incomplete at once (a permanent error) instead of after the whole retry budget. Real Distribution 2.8 and
 * a client with a 4 KiB limit (the registry's is 4 MiB); a fast-check property over the shapes, quarantine
 * or delete, on the action alone. Port 22981.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Digest } from '../../src/core/index.js';
import { enforce } from '../../src/enforce/index.js';
import { isPermanent } from '../../src/gate/queue-workers.js';
import { RegistryClient } from '../../src/registry/client.js';
import { startRegistry, type LabRegistry } from '../helpers/lab.js';
import { oversize as oversizeBy, makeImage, makeIndex, Raw, sha, type Image, type Kind } from '../helpers/raw-push.js';

const PLAIN_PORT = 22981;
const LIMIT = 4096;

/** `img` with its manifest padded past {@link LIMIT} (same blobs). */
const oversize = (img: Image): Image => oversizeBy(img, LIMIT);

describe('security: a manifest over pushgate\'s read limit (but within the registry\'s) does not keep a blocked image served', function () {
  this.timeout(300_000);
  let plain: LabRegistry;

  before(() => {
    plain = startRegistry(PLAIN_PORT);
  });

  after(() => {
    plain?.stop();
  });

  it('an event whose manifest is larger than pushgate reads ends its retries at once (judged incomplete and enforced), as for other errors no retry fixes', async () => {
    const client = new RegistryClient({ name: 'plain', url: plain.url, maxManifestBytes: LIMIT });
    const raw = new Raw(plain.host);
    const img = oversize(makeImage('good', 'olp-permanent'));
    await raw.pushBlobs('olperm/app', img.blobs);
    expect((await raw.putManifest('olperm/app', 'big', img)).status).to.equal(201);
    const err = await client.getManifest('olperm/app', img.digest).then(() => undefined, (e: unknown) => e);
    expect(err, 'pushgate cannot read it').to.be.instanceOf(Error);
    expect(isPermanent(err)).to.equal(true);
  });

  it('property: over image, index with an oversize child, oversize index, quarantine or delete: nothing blocked is served afterwards and the action is done (the action alone)', async () => {
    const client = new RegistryClient({ name: 'plain', url: plain.url, maxManifestBytes: LIMIT });
    const raw = new Raw(plain.host);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('image', 'index-child', 'index'), fc.constantFrom<'quarantine' | 'reject'>('quarantine', 'reject'), fc.constantFrom<Kind>('bad', 'secret'), async (shape, decision, kind) => {
        const repo = `olp${run}/app`;
        const nonce = `olp-${run++}`;
        const bad = makeImage(kind, nonce);
        const big = oversize(bad);
        await raw.pushBlobs(repo, bad.blobs);
        const blocked = new Set<string>();
        let target: Pick<Image, 'digest' | 'bytes' | 'mediaType'>;
        if (shape === 'image') target = big;
        else {
          const good = makeImage('good', `${nonce}-good`);
          await raw.pushBlobs(repo, good.blobs);
          const child = shape === 'index-child' ? big : bad;
          for (const c of [child, good]) expect((await raw.putManifest(repo, c.digest, c)).status).to.equal(201);
          // An index too large to read has its children judged and enforced by their own push events.
          if (shape === 'index-child') blocked.add(child.digest);
          const ix = makeIndex([child, good]);
          target = shape === 'index' ? (() => {
            const doc = JSON.parse(ix.bytes.toString()) as Record<string, unknown>;
            doc.annotations = { 'org.example.pad': 'x'.repeat(LIMIT) };
            const bytes = Buffer.from(JSON.stringify(doc));
            return { digest: sha(bytes), bytes, mediaType: ix.mediaType };
          })() : ix;
        }
        blocked.add(target.digest);
        expect((await raw.putManifest(repo, 'evil', target)).status).to.equal(201);
        const e = await enforce({ client, type: 'distribution', repository: repo, digest: target.digest as Digest, tag: 'evil', decision, mode: 'enforce', quarantinePrefix: 'quarantine/', childBlocks: async (d) => blocked.has(d) });
        expect(e.status, e.detail).to.equal('done');
        expect(await raw.served(repo, 'evil'), 'the tag').to.equal(undefined);
        for (const d of blocked) expect(await raw.served(repo, d), `${d} still served after ${e.detail}`).to.equal(undefined);
      }),
      { numRuns: 12 },
    );
  });
});
