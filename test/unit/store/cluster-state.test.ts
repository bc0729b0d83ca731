import { expect } from 'chai';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { builtLater, CHUNK_BYTES } from '../../../src/store/index.js';
import { freshStoreEachTest } from '../../helpers/postgres.js';

describe('store: cluster state (what the replicas agree on)', () => {
  it('builtLater orders build times as instants; an unknown time is never later and anything known is later than it', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('2000-01-01Z'), max: new Date('2100-01-01Z'), noInvalidDate: true }), fc.date({ min: new Date('2000-01-01Z'), max: new Date('2100-01-01Z'), noInvalidDate: true }), (a, b) => {
        const [x, y] = [a.toISOString(), b.toISOString()];
        expect(builtLater(x, y)).to.equal(a.getTime() > b.getTime());
        expect(builtLater(x, y) && builtLater(y, x)).to.equal(false);
        expect(builtLater(x, null)).to.equal(true);
        expect(builtLater(null, x)).to.equal(false);
        // the same instant written with an offset is not later
        expect(builtLater(x.replace('Z', '+00:00'), x)).to.equal(false);
      }),
    );
  });

  for (const kind of ['sqlite', 'postgres'] as const) {
    describe(kind, () => {
      const store = freshStoreEachTest(kind, 'pushgate_cluster_state');

      it('records what is in force; newerOnly never goes back to an older build', async () => {
        const cs = store().clusterState;
        expect(await cs.get('vulndb')).to.equal(undefined);
        expect(await cs.put('vulndb', { digest: 'sha256:b', builtAt: '2026-12-02T00:00:00.000Z', installedBy: 'r1' }, { newerOnly: true })).to.equal(true);
        expect(await cs.put('vulndb', { digest: 'sha256:a', builtAt: '2026-12-01T00:00:00.000Z', installedBy: 'r2' }, { newerOnly: true })).to.equal(false);
        const got = await cs.get('vulndb');
        expect(got).to.deep.include({ name: 'vulndb', digest: 'sha256:b', builtAt: '2026-12-02T00:00:00.000Z', installedBy: 'r1' });
        expect(Math.abs(got!.installedAt - Date.now())).to.be.below(60_000);
        expect(await cs.put('policy', { digest: 'rev1', builtAt: 'default', installedBy: 'r2' })).to.equal(true);
        expect((await cs.get('policy'))?.digest).to.equal('rev1');
      });

      if (kind === 'postgres') {
        it('a file is stored with its row in one transaction: a torn upload leaves the one in force and its chunks as they were', async () => {
          const cs = store().clusterState;
          const body = Buffer.alloc(CHUNK_BYTES + 10, 7);
          async function* whole() {
            yield body.subarray(0, CHUNK_BYTES);
            yield body.subarray(CHUNK_BYTES);
          }
          expect(await cs.publishFile({ digest: 'sha256:one', builtAt: '2026-12-01T00:00:00.000Z', installedBy: 'r1' }, whole(), { newerOnly: true })).to.equal(true);
          const one = await cs.get('vulndb');
          expect(one?.file).to.deep.equal({ sha256: createHash('sha256').update(body).digest('hex'), size: body.length, chunks: 2 });
          async function* torn() {
            yield Buffer.from('first chunk of a newer build');
            throw new Error('the reader died');
          }
          let err: Error | undefined;
          await cs.publishFile({ digest: 'sha256:two', builtAt: '2026-12-02T00:00:00.000Z', installedBy: 'r2' }, torn(), { newerOnly: true }).catch((e: Error) => (err = e));
          expect(err?.message).to.include('the reader died');
          expect(await cs.get('vulndb')).to.deep.equal(one);
          expect(await cs.chunkCount('sha256:one')).to.equal(2);
          expect(await cs.chunkCount('sha256:two')).to.equal(0);
          const back = Buffer.concat([(await cs.readChunk('sha256:one', 0))!, (await cs.readChunk('sha256:one', 1))!]);
          expect(back.equals(body)).to.equal(true);
          // sameDigest: only while that digest is in force (a re-upload, never a replacement)
          expect(await cs.publishFile({ digest: 'sha256:other', builtAt: '2027-01-01T00:00:00.000Z', installedBy: 'r3' }, whole(), { sameDigest: true })).to.equal(false);
          expect(await cs.publishFile({ digest: 'sha256:one', builtAt: '2026-12-01T00:00:00.000Z', installedBy: 'r3' }, whole(), { sameDigest: true })).to.equal(true);
        });
      }
    });
  }
});
