/**
 * Verdict tag lists follow the registry: moving a tag onto a digest takes it off every other verdict
 * of the repository and puts it on that digest's verdict; other repositories and tags are untouched;
 * tagHolders names exactly the verdicts of a repository that list a tag.
 * Checked against a model with fast-check, on SQLite and PostgreSQL.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import pg from 'pg';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Verdict } from '../../../src/core/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { freshDatabase } from '../../helpers/postgres.js';

const DIGESTS = ['a', 'b', 'c', 'd'].map((c) => `sha256:${c.repeat(64)}`);
const TAGS = ['v1', 'v1.0', 'latest', 'v_1'];
const REPOS = ['team/app', 'team/app2'];

function verdict(repository: string, digest: string, tags: string[]): Verdict {
  return { registry: 'lab', repository, digest, tags, decision: 'allow', complete: true, reasons: [], mode: 'enforce', policy: { name: 'p', revision: 'r' }, vulndb: { builtAt: null }, evaluatedAt: new Date().toISOString() };
}

type Op = { kind: 'push'; repo: number; digest: number; tag: number; stored: boolean } | { kind: 'move'; repo: number; digest: number; tag: number };

function contract(name: string, open: () => Promise<{ store: Store; done(): Promise<void> }>) {
  describe(`store: moveTag (${name})`, () => {
    it('a moved tag leaves the old digest and joins the new one; listVerdicts order is unchanged', async () => {
      const { store, done } = await open();
      try {
        await store.putVerdict(verdict('team/app', DIGESTS[0]!, ['v1', 'stable']));
        await store.putVerdict(verdict('team/app', DIGESTS[1]!, []));
        await store.putVerdict(verdict('team/other', DIGESTS[0]!, ['v1']));
        const order = (await store.listVerdicts({})).map((v) => `${v.repository}@${v.digest}`);
        await store.moveTag('lab', 'team/app', 'v1', DIGESTS[1]!);
        expect((await store.getVerdict('lab', 'team/app', DIGESTS[0]!))!.tags).to.deep.equal(['stable']);
        expect((await store.getVerdict('lab', 'team/app', DIGESTS[1]!))!.tags).to.deep.equal(['v1']);
        expect((await store.getVerdict('lab', 'team/other', DIGESTS[0]!))!.tags).to.deep.equal(['v1']);
        expect((await store.listVerdicts({})).map((v) => `${v.repository}@${v.digest}`)).to.deep.equal(order);
        // a tag whose name is a prefix of another, or holds LIKE wildcards, moves alone
        await store.putVerdict(verdict('team/app', DIGESTS[2]!, ['v1.0', 'v_1']));
        await store.moveTag('lab', 'team/app', 'v1', DIGESTS[3]!);
        expect((await store.getVerdict('lab', 'team/app', DIGESTS[2]!))!.tags).to.deep.equal(['v1.0', 'v_1']);
        expect((await store.getVerdict('lab', 'team/app', DIGESTS[1]!))!.tags).to.deep.equal([]);
      } finally {
        await done();
      }
    });

    it('property: after any pushes and moves, the tag lists match the model and a tag is listed by one verdict of a repository at most', async function () {
      // Each run opens a fresh store (for PostgreSQL a new database, every migration applied): the
      // time is mostly schema setup, which grows with the migrations, not the moves under test.
      this.timeout(60_000);
      const op = fc.oneof(
        fc.record({ kind: fc.constant('push' as const), repo: fc.nat(1), digest: fc.nat(3), tag: fc.nat(3), stored: fc.boolean() }),
        fc.record({ kind: fc.constant('move' as const), repo: fc.nat(1), digest: fc.nat(3), tag: fc.nat(3) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops: Op[]) => {
          const { store, done } = await open();
          try {
            const model = new Map<string, Set<string>>(); // repo\0digest → tags of its stored verdict
            for (const o of ops) {
              const repo = REPOS[o.repo]!;
              const digest = DIGESTS[o.digest]!;
              const tag = TAGS[o.tag]!;
              if (o.kind === 'push' && o.stored) {
                // as the gate does: the verdict names the pushed tag (merged), then the tag moves
                await store.putVerdict(verdict(repo, digest, [tag]));
                model.set(`${repo}\0${digest}`, new Set([...(model.get(`${repo}\0${digest}`) ?? []), tag]));
              }
              // tagHolders: exactly the verdicts of the repository that list the tag, before it moves
              const holders = [...model].filter(([k, tags]) => k.startsWith(`${repo}\0`) && tags.has(tag)).map(([k]) => k.split('\0')[1]!);
              expect((await store.tagHolders('lab', repo, tag)).sort(), `holders of ${repo}:${tag}`).to.deep.equal(holders.sort());
              await store.moveTag('lab', repo, tag, digest);
              for (const [k, tags] of model) {
                if (k === `${repo}\0${digest}`) tags.add(tag);
                else if (k.startsWith(`${repo}\0`)) tags.delete(tag);
              }
            }
            const seen = new Map<string, string>();
            for (const [key, tags] of model) {
              const [repo, digest] = key.split('\0') as [string, string];
              const v = (await store.getVerdict('lab', repo, digest))!;
              expect([...v.tags].sort(), key).to.deep.equal([...tags].sort());
              for (const t of v.tags) {
                // a tag is listed by one verdict of a repository at most
                expect(seen.has(`${repo}\0${t}`), `${repo}:${t}`).to.equal(false);
                seen.set(`${repo}\0${t}`, digest);
              }
            }
          } finally {
            await done();
          }
        }),
        { numRuns: name === 'sqlite' ? 60 : 15 },
      );
    });
  });
}

contract('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-movetag-'));
  const store = await openStore(`sqlite://${path.join(dir, 'p.db')}`);
  return {
    store,
    async done() {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

contract('postgres', async () => {
  const db = await freshDatabase('pushgate_movetag');
  const store = await openStore(db.url);
  await store.migrate();
  return {
    store,
    async done() {
      await store.close();
      await db.drop();
    },
  };
});

describe('store: moveTag (postgres) takes its row locks in the order a monitor batch takes them', () => {
  it('waiting for an earlier verdict row, it holds no later one (no lock cycle with a batch locking in (registry, repository, digest) order)', async function () {
    this.timeout(30_000);
    const db = await freshDatabase('pushgate_movetag_order');
    const store = await openStore(db.url);
    await store.migrate();
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      // the later digest is written first, so the table's physical order is not the digest order
      for (const [n, d] of [[3, DIGESTS[3]!], [2, DIGESTS[2]!], [1, DIGESTS[1]!], [0, DIGESTS[0]!]] as const) {
        await store.putVerdict(verdict('team/app', d, n === 3 ? ['v1'] : []));
      }
      // a batch holding the first row, as commitBatch locks them
      await other.query('BEGIN');
      await other.query('SELECT digest FROM verdicts WHERE registry = $1 AND repository = $2 AND digest = $3 FOR UPDATE', ['lab', 'team/app', DIGESTS[0]]);
      // moving v1 from the last digest onto the first needs both rows
      let moved = false;
      const move = store.moveTag('lab', 'team/app', 'v1', DIGESTS[0]!).then(() => {
        moved = true;
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(moved, 'moveTag waits for the row the batch holds').to.equal(false);
      // the batch goes on to the later row: it must be free (NOWAIT fails at once if moveTag holds it)
      await other.query('SELECT digest FROM verdicts WHERE registry = $1 AND repository = $2 AND digest = $3 FOR UPDATE NOWAIT', ['lab', 'team/app', DIGESTS[3]]);
      await other.query('COMMIT');
      await move;
      expect((await store.getVerdict('lab', 'team/app', DIGESTS[0]!))!.tags).to.deep.equal(['v1']);
      expect((await store.getVerdict('lab', 'team/app', DIGESTS[3]!))!.tags).to.deep.equal([]);
    } finally {
      await other.query('ROLLBACK').catch(() => undefined);
      await other.end();
      await store.close();
      await db.drop();
    }
  });
});
