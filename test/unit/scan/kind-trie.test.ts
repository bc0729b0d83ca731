/**
 * The walker's KindTrie (the kind of each path a layer wrote, and the nearest written path above
 * an entry) against a flat model: a map of path → kind, and the set of every path ever written
 * with the directories above it. Generated sequences of look-ups and writes in the order the walker
 * makes them (an entry's look-up, then its write), writes without a look-up (hard links), removals
 * (a directory replaced by a file), and directories written again above the one looked up last,
 * over few names so that paths share directories and collide. Sequences of up to 80 operations
 * (`size: 'max'`): fast-check's default size stops arrays at 10, too few to look up a directory, change
 * a kind above it and look there again, so removing the cache's invalidation went unnoticed.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { KindTrie, type EntryKind } from '../../../src/scan/walker.js';

type Op =
  | { t: 'entry'; p: string; k: EntryKind }
  | { t: 'replace'; p: string; k: EntryKind; gone: string[] }
  | { t: 'set'; p: string; k: EntryKind }
  | { t: 'delete'; p: string }
  | { t: 'look'; p: string };

const ancestorsOf = (p: string): string[] => {
  const out: string[] = [];
  for (let i = p.indexOf('/', 1); i > 0; i = p.indexOf('/', i + 1)) out.push(p.slice(0, i));
  return out;
};

describe('scan walker: KindTrie', () => {
  it('property: the nearest written path above an entry, and how much of its path is known, are the flat model\'s', () => {
    const name = fc.constantFrom('a', 'bb');
    const path = fc.array(name, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`);
    const kind = fc.constantFrom<EntryKind>('d', 'f', 'l', 'h', 'o');
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 3, arbitrary: fc.record({ t: fc.constant('entry' as const), p: path, k: kind }) },
      // The walker's replacing entry: its look-up, then the removal of what the layer had at the path and
      // beneath it (paths generated anywhere, the ones beneath are kept), then its write.
      { weight: 2, arbitrary: fc.record({ t: fc.constant('replace' as const), p: path, k: kind, gone: fc.array(path, { maxLength: 4 }) }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('set' as const), p: path, k: kind }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant('delete' as const), p: path }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant('look' as const), p: path }) },
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 80, size: 'max' }), (ops) => {
      const trie = new KindTrie();
      const kinds = new Map<string, EntryKind>();
      const nodes = new Set<string>();
      const look = (p: string) => {
        const got = trie.nearestAbove(p);
        const above = ancestorsOf(p).filter((a) => kinds.has(a)).pop();
        expect(got, `nearestAbove(${p})`).to.deep.equal(above === undefined ? undefined : { at: above, kind: kinds.get(above) });
        const known = [...ancestorsOf(p), p].filter((a) => nodes.has(a)).map((a) => a.length);
        // The longest known prefix: every prefix of a known path is known.
        expect(trie.knownEnd, `knownEnd(${p})`).to.equal(known.length ? Math.max(...known) : 0);
        // What the walker's whiteout checks ask about the look-up's directory: a name in it written or
        // written beneath, and anything written beneath it.
        const dir = p.slice(0, p.lastIndexOf('/'));
        const got2 = [trie.lastDirHas('a'), trie.lastDirHas('bb'), trie.lastDirHasAny()];
        let any = false;
        for (const x of nodes) if (x.startsWith(`${dir}/`)) { any = true; break; }
        const want2 = [nodes.has(`${dir}/a`), nodes.has(`${dir}/bb`), any];
        if (got2.some((g, i) => g !== want2[i])) expect(got2, `lastDirHas a, bb, lastDirHasAny at ${dir || '/'}`).to.deep.equal(want2);
      };
      const write = (p: string, k: EntryKind) => {
        trie.set(p, k);
        kinds.set(p, k);
        for (const a of [...ancestorsOf(p), p]) nodes.add(a);
      };
      for (const o of ops) {
        if (o.t === 'entry') { look(o.p); write(o.p, o.k); } else if (o.t === 'replace') {
          look(o.p);
          for (const g of [o.p, ...o.gone.filter((g) => g.startsWith(`${o.p}/`))]) { trie.delete(g); kinds.delete(g); }
          write(o.p, o.k);
        } else if (o.t === 'set') write(o.p, o.k);
        else if (o.t === 'delete') { trie.delete(o.p); kinds.delete(o.p); } else look(o.p);
      }
    }), { numRuns: 5000 });
  });

  it('says whether a name in the directory looked up last, or anything beneath it, was written, whatever was removed since', () => {
    const t = new KindTrie();
    t.nearestAbove('/a/.wh..wh..opq');
    expect([t.lastDirHas('x'), t.lastDirHasAny()]).to.deep.equal([false, false]);
    t.nearestAbove('/a/b/x');
    t.set('/a/b/x', 'f');
    t.nearestAbove('/a/.wh.b');
    expect([t.lastDirHas('b'), t.lastDirHas('x'), t.lastDirHasAny()]).to.deep.equal([true, false, true]);
    t.delete('/a/b/x');
    t.nearestAbove('/a/b/.wh.x');
    expect([t.lastDirHas('x'), t.lastDirHasAny()]).to.deep.equal([true, true]);
    t.nearestAbove('/.wh..wh..opq');
    expect([t.lastDirHas('a'), t.lastDirHasAny()]).to.deep.equal([true, true]);
    t.nearestAbove('/z/y/.wh.q');
    expect([t.lastDirHas('q'), t.lastDirHasAny()]).to.deep.equal([false, false]);
  });

  it('a kind written or removed above the directory looked up last is seen by the next look-up there', () => {
    const t = new KindTrie();
    t.nearestAbove('/a/b/x');
    t.set('/a/b/x', 'f');
    expect(t.nearestAbove('/a/b/y')).to.equal(undefined);
    t.set('/a', 'l');
    expect(t.nearestAbove('/a/b/y')).to.deep.equal({ at: '/a', kind: 'l' });
    t.delete('/a');
    expect(t.nearestAbove('/a/b/y')).to.equal(undefined);
    t.set('/a/b', 'd');
    expect(t.nearestAbove('/a/b/y')).to.deep.equal({ at: '/a/b', kind: 'd' });
    t.delete('/a/b');
    expect(t.nearestAbove('/a/b/y')).to.equal(undefined);
  });
});
