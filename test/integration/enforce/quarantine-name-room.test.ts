/**
 * A quarantine needs room for its repository: `<prefix><repository>` is a repository name too, and
 * Distribution refuses names over 255 characters. A pusher chooses the repository name: one of 245 to
 * 255 characters under the default prefix `quarantine/` left no name to copy to, so every quarantine of
 * a blocked image there failed (a permanent error, retried by every reconcile pass) and the image stayed
 * pullable under its tag. Real Distribution 2.8, images pushed over the registry API (a client such as
 * skopeo counts the registry host into the limit and cannot name these repositories; the API takes them).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { MAX_REPOSITORY_LENGTH } from '../../../src/core/names.js';
import { enforce } from '../../../src/enforce/index.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { makeImage, Raw } from '../../helpers/raw-push.js';

const REG_PORT = 21950;
const PREFIX = 'quarantine/';

describe('enforce: quarantine of a repository whose name leaves no room for the quarantine prefix (real registry)', function () {
  this.timeout(180_000);
  let reg: LabRegistry;
  let client: RegistryClient;
  let raw: Raw;

  before(() => {
    reg = startRegistry(REG_PORT);
    client = new RegistryClient({ name: 'lab', url: reg.url });
    raw = new Raw(reg.host);
  });
  after(() => reg?.stop());

  // Names from 230 characters to the registry's limit: the quarantine name fits below 245, not above.
  const name = fc
    .tuple(fc.integer({ min: 230, max: MAX_REPOSITORY_LENGTH }), fc.constantFrom('a', 'b0', 'x-y', 'q.r'), fc.integer({ min: 1, max: 4 }))
    .map(([len, part, depth]) => {
      const head = Array.from({ length: depth }, (_, i) => `c${i}`).join('/');
      const fill = `${head}/${part}`.padEnd(len, part.slice(-1));
      return fill.slice(0, len).replace(/[-.]$/, 'z');
    });

  it('property: a quarantined image never stays pullable under its tag; it is copied when the name fits, deleted with the reason when not', async () => {
    let seen = 0;
    await fc.assert(
      fc.asyncProperty(name, async (repository) => {
        const img = makeImage('bad', `room-${seen++}`);
        await raw.pushBlobs(repository, img.blobs);
        const put = await raw.putManifest(repository, 'v1', img);
        expect(put.status, put.body).to.equal(201);
        const e = await enforce({ client, type: 'distribution', repository, digest: img.digest as `sha256:${string}`, tag: 'v1', decision: 'quarantine', mode: 'enforce', quarantinePrefix: PREFIX });
        expect(e.status, e.detail).to.equal('done');
        expect(await client.resolve(repository, 'v1'), 'still pullable under its tag').to.equal(undefined);
        expect(await client.resolve(repository, img.digest), 'still pullable by digest').to.equal(undefined);
        if (PREFIX.length + repository.length <= MAX_REPOSITORY_LENGTH) {
          expect(e.action).to.equal('quarantine');
          expect((await client.resolve(`${PREFIX}${repository}`, 'v1'))?.digest).to.equal(img.digest);
        } else {
          expect(e.action).to.equal('delete');
          expect(e.detail).to.match(/^cannot be quarantined: quarantine\/\S+ is longer than 255 characters/);
        }
      }),
      { numRuns: 16 },
    );
  });
});
