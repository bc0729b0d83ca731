/**
 * The changeset pieces on their own: name cleaning as the runtime cleans, symlink resolution inside
 * the root, and stacking from layer analyses that went through the layer cache (JSON), fed straight
 * to the walker without tar.
 */
import { scalingLayer } from './scaling-layer.js';
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { dpkgAnalyzer } from '../../../src/scan/analyzers/dpkg.js';
import { ANALYZERS as ALL_ANALYZERS } from '../../../src/scan/analyzers/index.js';
import { npmAnalyzer } from '../../../src/scan/analyzers/npm.js';
import { osReleaseAnalyzer } from '../../../src/scan/analyzers/os-release.js';
import type { Analyzer } from '../../../src/scan/analyzers/types.js';
import { resolveInTree, stackLayers } from '../../../src/scan/merge.js';
import { cleanEntryPath, LayerWalker, type EntryKind, type LayerAnalysis, type WalkBudget, type WalkEntry } from '../../../src/scan/walker.js';

const ANALYZERS = [dpkgAnalyzer, npmAnalyzer];
const STATUS = (v: string) => `Package: apt\nStatus: install ok installed\nVersion: ${v}\n`;

type Spec = Omit<WalkEntry, 'size' | 'mode'> & { content?: string };

async function layer(entries: Spec[], analyzers: readonly Analyzer[] = ANALYZERS): Promise<LayerAnalysis> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-merge-'));
  try {
    const w = new LayerWalker(analyzers, { version: 't', tmpDir: tmp });
    for (const e of entries) {
      const body = e.content === undefined ? null : Readable.from([Buffer.from(e.content)]);
      await w.entry({ ...e, size: e.content?.length ?? 0, mode: 0o644 }, body);
    }
    // What the layer cache keeps and gives back.
    return JSON.parse(JSON.stringify(w.result())) as LayerAnalysis;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const versions = (layers: LayerAnalysis[]) => stackLayers(layers.map((analysis) => ({ analysis })), ANALYZERS).placed
  .flatMap((x) => x.r.out.packages ?? []).map((p) => `${p.name}@${p.version} ${p.path}`);

describe('scan: changeset rules (walker + merge)', () => {
  it('cleans names as filepath.Clean and containerd RootPath do; `..` above the root is flagged, not dropped', () => {
    for (const n of ['var/lib/dpkg/status', './var/lib/dpkg/status', '/var/lib/dpkg/status', 'var/lib/dpkg//status', 'var/lib/dpkg/./status', 'var/lib/dpkg/status/', 'var/x/../lib/dpkg/status']) {
      expect(cleanEntryPath(n), n).to.deep.equal({ path: '/var/lib/dpkg/status', escapes: false });
    }
    expect(cleanEntryPath('../../var/lib/dpkg/status')).to.deep.equal({ path: '/var/lib/dpkg/status', escapes: true });
    expect(cleanEntryPath('a/../../b')).to.deep.equal({ path: '/b', escapes: true });
    expect(cleanEntryPath('./')).to.deep.equal({ path: '/', escapes: false });
  });

  it('resolves symlinks inside the root: relative, absolute, chained, `..` clamped, loops undefined', () => {
    const tree = new Map<string, EntryKind>([['/opt', 'd'], ['/opt/x', 'd'], ['/opt/x/status', 'f'], ['/a', 'l'], ['/b', 'l'], ['/loop', 'l'], ['/up', 'l']]);
    const links = new Map([['/a', 'opt/x'], ['/b', '/a'], ['/loop', 'loop'], ['/up', '../../../opt']]);
    const stat = (p: string) => (tree.has(p) ? { kind: tree.get(p)!, link: links.get(p) } : undefined);
    expect(resolveInTree('/a/status', stat)).to.equal('/opt/x/status');
    expect(resolveInTree('/b/status', stat)).to.equal('/opt/x/status');
    expect(resolveInTree('/up/x', stat)).to.equal('/opt/x');
    expect(resolveInTree('/loop/x', stat)).to.equal(undefined);
    expect(resolveInTree('/a/missing', stat)).to.equal(undefined);
  });

  it('symlink resolution charges a long path by its length: a budget step stays bounded work whatever the names', () => {
    // 16 segments of 250 characters (4,015 bytes, under PATH_MAX): each lookup hashes up to 4 KiB.
    const segs = Array.from({ length: 16 }, (_, i) => String.fromCharCode(97 + i).repeat(250));
    const tree = new Map<string, EntryKind>(segs.map((_, i) => [`/${segs.slice(0, i + 1).join('/')}`, 'd']));
    const stat = (p: string) => (tree.has(p) ? { kind: tree.get(p)! } : undefined);
    const deepest = `/${segs.join('/')}`;
    const budget = { steps: 1_000 };
    expect(resolveInTree(deepest, stat, { budget })).to.equal(deepest);
    // One step per segment, and one more per 256 characters of each path looked up.
    const charged = segs.reduce((n, _, i) => n + 1 + Math.floor((i + 1) * 251 / 256), 0);
    expect(1_000 - budget.steps).to.equal(charged);
    // Short paths cost one step per segment, as before.
    const short = { steps: 10 };
    expect(resolveInTree('/a', () => ({ kind: 'd' }), { budget: short })).to.equal('/a');
    expect(short.steps).to.equal(9);
  });

  it('the last entry per path wins inside a layer; the cached analysis holds only it', async () => {
    const a = await layer([
      { name: 'var/lib/dpkg/status', type: 'file', content: STATUS('1.0') },
      { name: './var/lib/dpkg//status', type: 'file', content: STATUS('2.0') },
    ]);
    expect(a.paths).to.deep.equal(['/var/lib/dpkg/status']);
    expect(a.results).to.have.length(1);
    expect(versions([a])).to.deep.equal(['apt@2.0 /var/lib/dpkg/status']);
    const b = await layer([
      { name: 'var/lib/dpkg/status', type: 'file', content: STATUS('1.0') },
      { name: 'var/lib/dpkg', type: 'file', content: 'x' },
    ]);
    expect(b.paths).to.deep.equal(['/var/lib/dpkg']);
    expect(versions([b])).to.deep.equal([]);
  });

  it('a non-directory (or one that was a non-directory in the layer) hides the lower subtree; a directory merges', async () => {
    const lower = await layer([{ name: 'var/lib/dpkg/status', type: 'file', content: STATUS('1.0') }]);
    expect(versions([lower, await layer([{ name: 'var/lib', type: 'symlink', linkname: '/nowhere' }])])).to.deep.equal([]);
    expect(versions([lower, await layer([{ name: 'var/lib/dpkg', type: 'other' }])])).to.deep.equal([]);
    expect(versions([lower, await layer([{ name: 'var/lib', type: 'file', content: '' }, { name: 'var/lib', type: 'directory' }])])).to.deep.equal([]);
    expect(versions([lower, await layer([{ name: 'var/lib/', type: 'directory' }, { name: 'var/lib/dpkg', type: 'directory' }])])).to.deep.equal(['apt@1.0 /var/lib/dpkg/status']);
  });

  it('names links to package databases and writes through lower symlinks as incomplete', async () => {
    const lower = await layer([{ name: 'opt/st', type: 'file', content: STATUS('0.1') }, { name: 'x', type: 'symlink', linkname: 'var/lib/dpkg' }, { name: 'var/lib/dpkg', type: 'directory' }]);
    const stacked = (upper: Spec[]) => layer(upper).then((u) => stackLayers([{ analysis: lower }, { analysis: u }], ANALYZERS).diagnostics.map((d) => `${d.code} ${d.path} ${d.incomplete}`));
    expect(await stacked([{ name: 'var/lib/dpkg/status', type: 'symlink', linkname: '/opt/st' }])).to.deep.equal(['package-db-link /var/lib/dpkg/status true']);
    expect(await stacked([{ name: 'var/lib/dpkg/status', type: 'link', linkname: 'opt/st' }])).to.deep.equal(['package-db-link /var/lib/dpkg/status true']);
    expect(await stacked([{ name: 'x/status', type: 'file', content: STATUS('0.1') }])).to.deep.equal(['entry-through-link /x/status true']);
    expect(await stacked([{ name: 'x/.wh.status', type: 'file', content: '' }])).to.deep.equal(['entry-through-link /x/status true']);
    // A symlink whose target the analyzer reads under its own name hides nothing.
    expect(await stacked([{ name: 'app/node_modules/a/package.json', type: 'file', content: '{"name":"a","version":"1.0.0"}' }, { name: 'app/node_modules/b', type: 'symlink', linkname: 'a' }])).to.deep.equal([]);
  });

  it('property: stacked layers make the filesystem a model of the changeset rules makes, and skip what lies beneath a lower non-directory', () => {
    // Few names, so paths collide across layers: a file over a directory, a directory over a file,
    // whiteouts and opaque markers of what lower layers wrote, entries beneath lower links and files.
    const name = fc.constantFrom('a', 'b', 'c');
    const rel = fc.array(name, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`);
    const op = fc.oneof(
      fc.record({ t: fc.constant('entry' as const), p: rel, k: fc.constantFrom<EntryKind>('d', 'f', 'l', 'o') }),
      fc.record({ t: fc.constant('whiteout' as const), p: rel }),
      fc.record({ t: fc.constant('opaque' as const), p: rel }),
    );
    const isUnder = (p: string, d: string) => p.startsWith(`${d}/`);
    const ancestors = (p: string) => p.split('/').slice(1, -1).map((_, i, a) => `/${a.slice(0, i + 1).join('/')}`);
    fc.assert(fc.property(fc.array(fc.array(op, { maxLength: 12 }), { minLength: 1, maxLength: 4 }), (layerOps) => {
      const analyses: LayerAnalysis[] = layerOps.map((ops) => {
        // One changeset per layer: the last entry per path, in order (what the walker keeps).
        const last = new Map<string, EntryKind>();
        for (const o of ops) if (o.t === 'entry') { last.delete(o.p); last.set(o.p, o.k); }
        const paths = [...last.keys()];
        return {
          version: 't', paths, kinds: paths.map((p) => last.get(p)).join(''),
          links: Object.fromEntries(paths.filter((p) => last.get(p) === 'l').map((p) => [p, '/elsewhere'])),
          whiteouts: ops.filter((o) => o.t === 'whiteout').map((o) => o.p), opaqueDirs: ops.filter((o) => o.t === 'opaque').map((o) => o.p),
          replaced: [], transient: [], results: [], diagnostics: [], entries: ops.length, tarBytes: 0, complete: true,
        };
      });
      // The model: path → [kind, layer]; the rules of stackLayers, applied to a flat map.
      const fsm = new Map<string, [EntryKind, number]>();
      const lowerNonDirAbove = (p: string, li: number) => ancestors(p).find((a) => fsm.has(a) && fsm.get(a)![0] !== 'd' && fsm.get(a)![1] !== li);
      const removeAt = (p: string) => { for (const k of [...fsm.keys()]) if (k === p || isUnder(k, p)) fsm.delete(k); };
      const skipped: string[] = [];
      analyses.forEach((a, li) => {
        // Whiteouts are judged before the opaque markers clear the lower tree (a runtime may meet
        // them first), each after the layer's earlier whiteouts.
        const whiteouts: string[] = [];
        for (const w of a.whiteouts) {
          if (ancestors(w).find((x) => whiteouts.includes(x)) === undefined && lowerNonDirAbove(w, li)) { skipped.push(w); continue; }
          whiteouts.push(w);
        }
        for (const d of a.opaqueDirs) {
          if (lowerNonDirAbove(`${d}/.wh..wh..opq`, li)) { skipped.push(`${d}/.wh..wh..opq`); continue; }
          if (fsm.get(d)?.[0] === 'd') for (const k of [...fsm.keys()]) if (isUnder(k, d)) fsm.delete(k);
        }
        for (const w of whiteouts) removeAt(w);
        a.paths.forEach((p, i) => {
          const kind = a.kinds[i] as EntryKind;
          const blocker = ancestors(p).find((x) => fsm.has(x) && fsm.get(x)![0] !== 'd');
          if (blocker) {
            if (fsm.get(blocker)![1] !== li) skipped.push(p);
            return;
          }
          for (const x of ancestors(p)) if (!fsm.has(x)) fsm.set(x, ['d', -1]);
          if (kind === 'd' && fsm.get(p)?.[0] === 'd') { fsm.get(p)![1] = li; return; }
          removeAt(p);
          fsm.set(p, [kind, li]);
        });
      });
      const s = stackLayers(analyses.map((analysis) => ({ analysis })), []);
      expect(Object.fromEntries([...s.tree()].sort()), JSON.stringify(layerOps)).to.deep.equal(Object.fromEntries([...fsm].map(([p, [k]]) => [p, k]).sort()));
      expect(s.diagnostics.filter((d) => d.code === 'entry-through-link').map((d) => d.path).sort()).to.deep.equal([...skipped].sort());
    }), {
      numRuns: 400,
      // Run first: a whiteout beneath a lower symlink before an opaque marker above it (named); a
      // whiteout beneath a lower file an earlier whiteout of the layer removed (nothing in its way).
      examples: [
        [[[{ t: 'entry', p: '/b/a', k: 'l' }], [{ t: 'whiteout', p: '/b/a/a' }, { t: 'opaque', p: '/b' }]]],
        [[[{ t: 'entry', p: '/b', k: 'o' }], [{ t: 'whiteout', p: '/b' }, { t: 'whiteout', p: '/b/a' }]]],
      ],
    });
  });

  it('a hard link to a symlink is that symlink (kind l, same text), in one layer and across layers', async () => {
    const lower = await layer([{ name: 'opt/db/status', type: 'file', content: STATUS('2.0.0') }, { name: 'x', type: 'symlink', linkname: '/opt/db' }]);
    const same = await layer([{ name: 'y', type: 'symlink', linkname: '/opt/db' }, { name: 'var/lib/dpkg', type: 'link', linkname: 'y' }]);
    expect(same.kinds[same.paths.indexOf('/var/lib/dpkg')]).to.equal('l');
    expect(same.links['/var/lib/dpkg']).to.equal('/opt/db');
    const upper = await layer([{ name: 'var/lib/dpkg', type: 'link', linkname: 'x' }]);
    for (const layers of [[lower, same], [lower, upper]]) {
      const s = stackLayers(layers.map((analysis) => ({ analysis })), ANALYZERS);
      expect(s.tree().get('/var/lib/dpkg')).to.equal('l');
      expect(s.diagnostics.map((d) => `${d.code} ${d.path}`)).to.deep.equal(['package-db-link /var/lib/dpkg']);
    }
  });

  it('symlink resolution has one step budget per stack: a long link text reached by many links ends in symlink-check-limit, not hours', async () => {
    const stat = (p: string) => (p === '/x' ? { kind: 'd' as EntryKind } : p === '/l' ? { kind: 'l' as EntryKind, link: 'x/../'.repeat(1000) + 'x' } : undefined);
    expect(resolveInTree('/l', stat)).to.equal('/x');
    const budget = { steps: 5000 };
    expect(resolveInTree('/l', stat, { budget })).to.equal('/x');
    // The link's 2,001 segments are charged when read and when walked (4,003 steps): the second walk is refused.
    expect(resolveInTree('/l', stat, { budget })).to.equal(null);
    // Forty links of 4,000 bytes each (PATH_MAX bounds one text), chained: 126,000 steps a walk.
    const entries: Spec[] = [{ name: 'x/', type: 'directory' }];
    for (let i = 0; i < 40; i++) entries.push({ name: `L${i}`, type: 'symlink', linkname: 'x/../'.repeat(790) + (i < 39 ? `L${i + 1}` : 'x') });
    for (let i = 0; i < 10; i++) entries.push({ name: `s${i}`, type: 'symlink', linkname: 'L0' });
    const s = stackLayers([{ analysis: await layer(entries) }], ANALYZERS);
    expect(s.diagnostics.map((d) => `${d.code} ${d.incomplete}`)).to.deep.equal(['symlink-check-limit true']);
  });

  it('many hard links to one file, the file and then each link rewritten: every name ends with its own content', async () => {
    const n = 300;
    // (status.d names: dpkg reads them all one way, and the status another.)
    const entries: Spec[] = [{ name: 'var/lib/dpkg/status.d/base', type: 'file', content: STATUS('1') }];
    for (let i = 0; i < n; i++) entries.push({ name: `var/lib/dpkg/status.d/p${i}`, type: 'link', linkname: 'var/lib/dpkg/status.d/base' });
    entries.push({ name: 'var/lib/dpkg/status.d/base', type: 'file', content: STATUS('2') });
    for (let i = 0; i < n; i += 2) entries.push({ name: `var/lib/dpkg/status.d/p${i}`, type: 'file', content: STATUS('3') });
    const got = versions([await layer(entries)]).sort();
    const want = [`apt@2 /var/lib/dpkg/status.d/base`];
    for (let i = 0; i < n; i++) want.push(`apt@${i % 2 ? 1 : 3} /var/lib/dpkg/status.d/p${i}`);
    expect(got).to.deep.equal(want.sort());
  });

  it('a whiteout naming no file (`.wh.`, `.wh..`, `.wh...`) is ambiguous: a runtime that joins the name removes its directory or the parent, umoci refuses the layer', async () => {
    for (const name of ['var/lib/dpkg/.wh.', './.wh.', 'var/lib/dpkg/.wh./', 'var/lib/dpkg/.wh..', 'var/lib/dpkg/.wh...', '.wh...', './.wh../']) {
      const a = await layer([{ name, type: 'file', content: '' }]);
      expect(a.diagnostics.map((d) => `${d.code} ${d.incomplete}`), name).to.deep.equal(['ambiguous-whiteout true']);
      expect(a.whiteouts).to.deep.equal([]);
    }
  });

  it('a hard link into AUFS\'s /.wh..wh.plnk at a path an analyzer wants is not judged (Docker links by base name)', async () => {
    const a = await layer([
      { name: '.wh..wh.plnk/a/node_modules/lodash/package.json', type: 'file', content: JSON.stringify({ name: 'lodash', version: '4.17.21' }) },
      { name: '.wh..wh.plnk/b/package.json', type: 'file', content: JSON.stringify({ name: 'lodash', version: '4.17.4' }) },
      { name: 'app/node_modules/lodash/package.json', type: 'link', linkname: '.wh..wh.plnk/a/node_modules/lodash/package.json' },
      { name: 'app/x', type: 'link', linkname: '.wh..wh.plnk/b/package.json' },
    ]);
    expect(a.diagnostics.map((d) => `${d.code} ${d.path}`)).to.deep.equal(['package-db-link /app/node_modules/lodash/package.json']);
  });

  it('a name or link text over PATH_MAX (or a segment over NAME_MAX) is named and left out: no stack overflow or quadratic memory in the merge', async () => {
    const deep = `d/${'a/'.repeat(10_000)}status`;
    const a = await layer([
      { name: deep, type: 'file', content: STATUS('1') },
      { name: `x/${'b'.repeat(256)}`, type: 'file', content: '' },
      { name: 'l', type: 'symlink', linkname: 'c/'.repeat(2048) },
      { name: 'var/lib/dpkg/status', type: 'file', content: STATUS('2') },
    ]);
    expect(a.diagnostics.map((d) => `${d.code} ${d.incomplete}`)).to.deep.equal(Array(3).fill('path-too-long true'));
    expect(a.paths).to.deep.equal(['/var/lib/dpkg/status']);
    expect(versions([a])).to.deep.equal(['apt@2 /var/lib/dpkg/status']);
    // At the limit: kept, and stacked without overflowing the stack.
    const edge = `${'a/'.repeat(2040)}f`;
    const b = await layer([{ name: edge, type: 'file', content: '' }]);
    expect(b.diagnostics).to.deep.equal([]);
    expect(stackLayers([{ analysis: b }], ANALYZERS).tree().get(`/${edge}`)).to.equal('f');
  });

  /** 1,900 one-letter directories: a name under PATH_MAX whose directory paths are 3.6 M characters together. */
  const DEEP = 'a/'.repeat(1900);

  it('a layer whose every entry starts a new chain 1,900 directories deep is layer-too-complex once it would hold 256 Mi characters of paths: the entries before are judged, the rest left out', async () => {
    // 75 chains fit in no layer budget (3.6 M characters each); 80 tiny entries used to cost the
    // walker ~1 GB of paths to hash and keep.
    const chains: Spec[] = Array.from({ length: 80 }, (_, i) => ({ name: `x${i}/${DEEP}f`, type: 'file', content: '' }));
    const a = await layer([{ name: 'var/lib/dpkg/status', type: 'file', content: STATUS('1') }, ...chains, { name: 'usr/lib/dpkg/status', type: 'file', content: STATUS('2') }]);
    expect(a.diagnostics.map((d) => `${d.code} ${d.incomplete}`)).to.deep.equal(['layer-too-complex true']);
    expect(a.diagnostics[0]!.message).to.match(/268435456 characters/);
    const kept = a.paths.filter((p) => p.startsWith('/x')).length;
    expect(kept).to.be.within(70, 75);
    expect(a.diagnostics[0]!.path).to.equal(`${`/x${kept}/${DEEP}f`.slice(0, 200)}…`);
    expect(a.paths).to.not.include('/usr/lib/dpkg/status');
    expect(a.entries).to.equal(82);
    expect(versions([a])).to.deep.equal(['apt@1 /var/lib/dpkg/status']);
  });

  it('a layer that writes one long name over and over, file then directory, is layer-too-complex too: each replacement is listed with a copy of the name', async function () {
    // 140,000 entries of 4 KB names: seconds of work on a loaded machine, not a timing.
    this.timeout(120_000);
    const name = Array.from({ length: 16 }, (_, i) => String.fromCharCode(97 + i).repeat(249)).join('/');
    const entries: WalkEntry[] = [{ name: 'var/lib/dpkg/status', type: 'file', size: 0, mode: 0o644 }];
    for (let i = 0; i < 70_000; i++) entries.push({ name, type: 'file', size: 0, mode: 0o644 }, { name, type: 'directory', size: 0, mode: 0o644 });
    const w = new LayerWalker(ANALYZERS, { version: 't', tmpDir: os.tmpdir() });
    for (const e of entries) w.open(e);
    const a = w.result();
    expect(a.diagnostics.map((d) => `${d.code} ${d.incomplete}`)).to.deep.equal(['layer-too-complex true']);
    // 256 Mi characters hold about 67,000 copies of a 3,999-character name.
    expect(a.replaced.length).to.be.within(60_000, 67_200);
    expect(a.paths).to.include('/var/lib/dpkg/status');
  });

  /** The walker's result for `entries` under `budget` (header-only entries, no content). */
  async function walked(entries: WalkEntry[], budget?: WalkBudget): Promise<LayerAnalysis> {
    const w = new LayerWalker(ANALYZERS, { version: 't', tmpDir: os.tmpdir(), budget });
    for (const e of entries) await w.open(e)?.end();
    return JSON.parse(JSON.stringify(w.result())) as LayerAnalysis;
  }

  /**
   * What each entry adds to what the walker holds, by the rule LAYER_BUDGET states: each path named
   * or implied the first time (its characters), each whiteout target, and link texts (the paths
   * listed as replaced or transient aside).
   */
  function costs(entries: WalkEntry[]): WalkBudget[] {
    const seen = new Set<string>();
    return entries.map((e) => {
      const p = cleanEntryPath(e.name).path;
      if (p === '/') return { paths: 0, chars: 0 };
      const base = p.slice(p.lastIndexOf('/') + 1);
      const dir = p.slice(0, p.lastIndexOf('/')) || '/';
      if (base.startsWith('.wh.')) {
        if (['.wh.', '.wh..', '.wh...'].includes(base)) return { paths: 0, chars: 0 };
        const target = base === '.wh..wh..opq' ? dir : `${dir === '/' ? '' : dir}/${base.slice(4)}`;
        return { paths: 1, chars: target.length };
      }
      const c = { paths: 0, chars: e.type === 'symlink' || e.type === 'link' ? e.linkname?.length ?? 0 : 0 };
      for (let q = p; q !== '' && !seen.has(q); q = q.slice(0, q.lastIndexOf('/'))) {
        seen.add(q);
        c.paths++;
        c.chars += q.length;
      }
      return c;
    });
  }

  it('property: under any budget the walker keeps exactly the entries before the first that does not fit (paths named, implied, replaced), and names that one layer-too-complex; within it, nothing changes', async () => {
    const seg = fc.constantFrom('a', 'b', 'lib', 'x y', '.', '..', '.wh.b', '.wh..wh..opq', '.wh.');
    // Few names, so that entries replace one another (and what the layer wrote beneath them).
    const entry = fc.record({
      name: fc.array(seg, { minLength: 1, maxLength: 4 }).map((s) => s.join('/')),
      type: fc.constantFrom('file', 'directory', 'directory', 'symlink', 'link') as fc.Arbitrary<WalkEntry['type']>,
      linkname: fc.constantFrom('a', '/b/lib', '../x y/a'),
    }).map((e): WalkEntry => ({ ...e, size: 0, mode: 0o644, linkname: e.type === 'symlink' || e.type === 'link' ? e.linkname : undefined }));
    // Up to 25 entries (`size: 'max'`; the default stops at 10, five on average): the budget cut after
    // the fifth entry in 51 of 300 runs instead of 17.
    await fc.assert(fc.asyncProperty(fc.array(entry, { maxLength: 25, size: 'max' }), fc.nat(40), fc.nat(300), async (entries, paths, chars) => {
      const cost = costs(entries);
      // What the first k entries list as replaced or transient (the walker's own output: those rules
      // are tested on their own), paths and characters.
      const listed = async (k: number): Promise<WalkBudget> => {
        const r = await walked(entries.slice(0, k));
        return { paths: r.replaced.length + r.transient.length, chars: [...r.replaced, ...r.transient.flatMap((t) => [t.path, t.from])].reduce((n, x) => n + x.length, 0) };
      };
      let cut = entries.length;
      const sum = { paths: 0, chars: 0 };
      let total = { paths: 0, chars: 0 };
      for (let i = 0; i < entries.length; i++) {
        sum.paths += cost[i]!.paths;
        sum.chars += cost[i]!.chars;
        const x = await listed(i + 1);
        total = { paths: sum.paths + x.paths, chars: sum.chars + x.chars };
        if (total.paths > paths || total.chars > chars) { cut = i; break; }
      }
      const got = await walked(entries, { paths, chars });
      const want = await walked(entries.slice(0, cut));
      // The entry that does not fit is still named for climbing above the root (that comes first).
      const refused = entries[cut] && cleanEntryPath(entries[cut].name);
      const named = [...want.diagnostics.map((d) => `${d.code} ${d.path} ${d.incomplete}`),
        ...(refused?.escapes ? [`path-traversal ${entries[cut]!.name} true`] : []),
        ...(refused ? [`layer-too-complex ${refused.path} true`] : [])];
      expect(got.diagnostics.map((d) => `${d.code} ${d.path} ${d.incomplete}`)).to.deep.equal(named);
      expect({ ...got, diagnostics: want.diagnostics, entries: cut }).to.deep.equal(want);
      expect(got.entries).to.equal(entries.length);
      // The exact total fits; one path or character less does not.
      if (cut === entries.length) {
        expect((await walked(entries, total)).diagnostics.some((d) => d.code === 'layer-too-complex')).to.equal(false);
        if (total.paths > 0) expect((await walked(entries, { ...total, paths: total.paths - 1 })).diagnostics.some((d) => d.code === 'layer-too-complex')).to.equal(true);
        if (total.chars > 0) expect((await walked(entries, { ...total, chars: total.chars - 1 })).diagnostics.some((d) => d.code === 'layer-too-complex')).to.equal(true);
      }
    }), { numRuns: 300 });
  });

  it('the merge places at most 512 Mi characters of paths over the whole image: past it layer-too-complex, and the layers above are not judged', async () => {
    // Three layers the walker keeps (74 chains, 3.6 M characters each) do not fit in one image; the
    // merge used to index every directory path of them all.
    const chain = (i: number) => `/x${i}/${DEEP}f`;
    const base = await layer([{ name: 'var/lib/dpkg/status', type: 'file', content: STATUS('1') }]);
    const deep = (from: number): LayerAnalysis => ({ ...base, results: [], paths: Array.from({ length: 74 }, (_, i) => chain(from + i)), kinds: 'f'.repeat(74) });
    const top = await layer([{ name: 'var/lib/dpkg/status', type: 'file', content: STATUS('3') }]);
    const s = stackLayers([base, deep(0), deep(100), deep(200), top].map((analysis, i) => ({ analysis, label: `sha256:${String(i).repeat(64)}` as `sha256:${string}` })), ANALYZERS);
    expect(s.diagnostics.map((d) => `${d.code} ${d.incomplete} ${d.layer?.slice(7, 8)}`)).to.deep.equal(['layer-too-complex true 3']);
    expect(s.diagnostics[0]!.message).to.match(/536870912 characters/);
    expect(s.placed.flatMap((x) => x.r.out.packages ?? []).map((p) => `${p.name}@${p.version}`)).to.deep.equal(['apt@1']);
  });

  it('property: under any stack budget the merge places no more paths than it allows, and changes nothing when they fit', async () => {
    const seg = fc.constantFrom('a', 'b', 'lib', '.wh.b');
    const entry = fc.record({
      name: fc.array(seg, { minLength: 1, maxLength: 4 }).map((s) => s.join('/')),
      type: fc.constantFrom('file', 'directory', 'symlink') as fc.Arbitrary<WalkEntry['type']>,
    }).map((e): WalkEntry => ({ ...e, size: 0, mode: 0o644, linkname: e.type === 'symlink' ? 'a' : undefined }));
    await fc.assert(fc.asyncProperty(fc.array(fc.array(entry, { maxLength: 8 }), { minLength: 1, maxLength: 3 }), fc.nat(30), fc.nat(200), async (specs, paths, chars) => {
      const layers = await Promise.all(specs.map((e) => walked(e)));
      const stack = (b?: WalkBudget) => stackLayers(layers.map((analysis) => ({ analysis })), ANALYZERS, b);
      const free = stack();
      const got = stack({ paths, chars });
      const over = got.diagnostics.filter((d) => d.code === 'layer-too-complex');
      expect(over.length).to.be.at.most(1);
      expect(over.every((d) => d.incomplete)).to.equal(true);
      const tree = [...got.tree().keys()];
      expect(tree.length).to.be.at.most(paths);
      expect(tree.reduce((n, p) => n + p.length, 0)).to.be.at.most(chars);
      if (!over.length) {
        expect(got.diagnostics).to.deep.equal(free.diagnostics);
        expect([...got.tree()]).to.deep.equal([...free.tree()]);
      }
    }), { numRuns: 300 });
  });

  it('a symlink loop that puts a wanted name together is walked again: the database behind it is named, whatever the spelling and depth', async () => {
    const diag = async (entries: Spec[]) => stackLayers([{ analysis: await layer(entries) }], ANALYZERS).diagnostics.map((d) => `${d.code} ${d.path}`);
    const status: Spec = { name: 'opt/status', type: 'file', content: STATUS('0.1') };
    // /var/lib → /opt and /opt/dpkg → /opt: dpkg reads /var/lib/dpkg/status = /opt/status.
    for (const [lib, dpkg] of [['/opt', '/opt'], ['../../opt', '.'], ['/opt/', '../opt'], ['../../opt/.', './']]) {
      expect(await diag([status, { name: 'opt/dpkg', type: 'symlink', linkname: dpkg }, { name: 'var/lib', type: 'symlink', linkname: lib }]), `${lib} ${dpkg}`)
        .to.deep.equal(['package-db-link /var/lib']);
    }
    // Three times round one loop: /var → /opt, /opt/lib → /opt, /opt/dpkg → /opt.
    expect(await diag([status, { name: 'opt/lib', type: 'symlink', linkname: '.' }, { name: 'opt/dpkg', type: 'symlink', linkname: '.' }, { name: 'var', type: 'symlink', linkname: 'opt' }]))
      .to.deep.equal(['package-db-link /var']);
    // A loop spelled through `..`, and one into a directory the walk went down into (/var → /o, /o/lib/dpkg → /o/lib).
    expect(await diag([{ name: 'opt/x/status', type: 'file', content: STATUS('0.1') }, { name: 'opt/x/dpkg', type: 'symlink', linkname: '../x' }, { name: 'var/lib', type: 'symlink', linkname: '/opt/x' }]))
      .to.deep.equal(['package-db-link /var/lib']);
    expect(await diag([{ name: 'o/lib/status', type: 'file', content: STATUS('0.1') }, { name: 'o/lib/dpkg', type: 'symlink', linkname: '/o/lib' }, { name: 'var', type: 'symlink', linkname: 'o' }]))
      .to.deep.equal(['package-db-link /var']);
    // A suffix name: /app/node_modules → /srv and /srv/lodash → /srv make /app/node_modules/lodash/package.json read /srv/package.json.
    expect(await diag([{ name: 'srv/package.json', type: 'file', content: '{"name":"lodash","version":"4.17.4"}' }, { name: 'srv/lodash', type: 'symlink', linkname: '.' }, { name: 'app/node_modules', type: 'symlink', linkname: '/srv' }]))
      .to.deep.equal(['package-db-link /app/node_modules']);
  });

  it('property: no analyzer a link can fool looks past six segments, so six times round a loop finds every name they want', () => {
    // The alias check walks a loop at most six times. That is enough only while every analyzer
    // wanting a name deeper than six segments wants it for its last six segments alone, a
    // wildcard-free prefix aside: the name with loops cut out before its last six segments
    // (keeping order) must still be wanted. Segments from the analyzers' own patterns.
    const segs = ['var', 'lib', 'dpkg', 'status', 'status.d', 'info', 'x.list', 'apk', 'db', 'installed', 'rpm', 'usr', 'share', 'nodejs',
      '@s', 'n', 'package.json', 'node_modules', 'sysimage', 'Packages', 'Packages.db', 'rpmdb.sqlite', 'etc', 'os-release', 'vendor',
      'composer', 'installed.json', 'Cargo.lock', 'a.deps.json', 'x.jar', 'package-lock.json', 'pnpm-lock.yaml', 'yarn.lock',
      'npm-shrinkwrap.json', 'foo.dist-info', 'METADATA', 'x.egg-info', 'PKG-INFO', 'specifications', 'x.gemspec', 'tests', 'lib64',
      'alpine-release', 'debian_version', 'x', 'opt', 'app', 'x.zip', 'db-uvol', 'macros', 'macros.d', 'macros.x', '.rpmmacros', 'root', 'home', 'dpkg.cfg', 'dpkg.cfg.d', '.dpkg.cfg', '.pnp.cjs', '.pnp.data.json'];
    const sensitive = ALL_ANALYZERS.filter((a) => !a.name.startsWith('secret/'));
    // Names some analyzer wants, to put behind random prefixes (each checked to be wanted).
    const wanted = ['/var/lib/dpkg/status', '/var/lib/dpkg/status.d/x', '/var/lib/dpkg/info/x.list', '/lib/apk/db/installed', '/lib/apk/db-uvol/installed', '/var/lib/rpm/Packages',
      '/usr/lib/sysimage/rpm/rpmdb.sqlite', '/usr/share/nodejs/@s/n/package.json', '/app/node_modules/@s/n/package.json', '/etc/os-release',
      '/x/vendor/composer/installed.json', '/x/Cargo.lock', '/x/a.deps.json', '/x/x.jar', '/app/package-lock.json', '/app/pnpm-lock.yaml',
      '/app/yarn.lock', '/usr/lib/python3/dist-packages/foo.dist-info/METADATA', '/x/x.egg-info/PKG-INFO', '/x/specifications/x.gemspec', '/x/x-1.0-py3.11.egg', '/app/.yarn/cache/x.zip', '/etc/rpm/macros.db', '/etc/dpkg/dpkg.cfg.d/x', '/app/.pnp.cjs', '/app/.pnp.data.json'];
    for (const w of wanted) expect(sensitive.some((a) => a.wants({ path: w, size: 1, mode: 0o644 })), w).to.equal(true);
    // Every analyzer that wants plain files by name has a name here, so one added later is checked too
    // (the three that decide by content never want the small file the check asks about).
    for (const a of sensitive.filter((x) => !['lang/go-binary', 'lang/cargo-auditable', 'lang/java-content'].includes(x.name))) {
      expect(wanted.some((w) => a.wants({ path: w, size: 1, mode: 0o644 })), `${a.name}: add a name it wants`).to.equal(true);
    }
    const names = fc.oneof(
      fc.array(fc.constantFrom(...segs), { minLength: 7, maxLength: 14 }),
      fc.tuple(fc.array(fc.constantFrom(...segs), { minLength: 0, maxLength: 8 }), fc.constantFrom(...wanted)).map(([pre, w]) => [...pre, ...w.slice(1).split('/')])
        .filter((n) => n.length >= 7),
    );
    fc.assert(fc.property(
      names,
      fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
      (name, keep) => {
        const head = name.slice(0, -6).filter((_, i) => keep[i]);
        const full = `/${name.join('/')}`;
        const cut = `/${[...head, ...name.slice(-6)].join('/')}`;
        for (const a of sensitive) {
          if (a.wants({ path: full, size: 1, mode: 0o644 })) expect(a.wants({ path: cut, size: 1, mode: 0o644 }), `${a.name}: ${full} → ${cut}`).to.equal(true);
        }
      }), { numRuns: 20_000 });
  });

  it('a merged /usr with /usr/bin/X11 → . and thousands of programs is checked within the budget; M links to K empty directories is M×K work and ends in symlink-check-limit', async () => {
    const entries: Spec[] = [{ name: 'var/lib/dpkg/status', type: 'file', content: STATUS('1') }, { name: 'usr/bin/X11', type: 'symlink', linkname: '.' }, { name: 'bin', type: 'symlink', linkname: 'usr/bin' }, { name: 'sbin', type: 'symlink', linkname: 'usr/bin' }];
    for (let i = 0; i < 5000; i++) entries.push({ name: `usr/bin/p${i}`, type: 'file', content: '' });
    const usr = stackLayers([{ analysis: await layer(entries) }], ANALYZERS);
    expect(usr.diagnostics).to.deep.equal([]);
    expect(usr.placed.length).to.equal(1);
    const grid: Spec[] = [];
    for (let i = 0; i < 1000; i++) grid.push({ name: `d/e${i}/`, type: 'directory' });
    for (let i = 0; i < 1000; i++) grid.push({ name: `l${i}`, type: 'symlink', linkname: 'd' });
    const dos = stackLayers([{ analysis: await layer(grid) }], ANALYZERS);
    expect(dos.diagnostics.map((d) => `${d.code} ${d.incomplete}`)).to.deep.equal(['symlink-check-limit true']);
  });

  it('property: a link between two names dpkg reads differently (status, status.d, info/*.list) is judged under the name a runtime reads, or named', async () => {
    // The runtime's dpkg reads the content at the link's name as that name's kind of file; pushgate
    // either counts what dpkg makes of the content under each name, or says it did not judge.
    const names = ['/var/lib/dpkg/status', '/var/lib/dpkg/status.d/a', '/var/lib/dpkg/status.d/b', '/var/lib/dpkg/info/a.list', '/var/lib/dpkg/info/b.list'];
    const stanza = fc.record({ name: fc.constantFrom('apt', 'zlib1g'), version: fc.constantFrom('1.0', '2.0'), status: fc.option(fc.constantFrom('install ok installed', 'deinstall ok config-files'), { nil: undefined }) })
      .map((x) => `Package: ${x.name}\n${x.status === undefined ? '' : `Status: ${x.status}\n`}Version: ${x.version}\n`);
    const content = fc.array(stanza, { minLength: 1, maxLength: 3 }).map((a) => `${a.join('\n')}/usr/bin/x\n`);
    const relative = (from: string, to: string) => {
      const f = from.split('/').slice(1, -1);
      const t = to.split('/').slice(1);
      let i = 0;
      while (i < f.length && i < t.length - 1 && f[i] === t[i]) i++;
      return [...f.slice(i).map(() => '..'), ...t.slice(i)].join('/') || '.';
    };
    const read = (p: string, text: string) => (dpkgAnalyzer.analyze!({ path: p, size: text.length, mode: 0o644, content: Buffer.from(text) }, { tmpDir: os.tmpdir() } as never) as { packages?: Array<{ name: string; version: string }> } | undefined)
      ?.packages?.map((x) => `${x.name}@${x.version}`) ?? [];
    const pair = fc.tuple(fc.constantFrom(...names), fc.constantFrom(...names)).filter(([a, b]) => a !== b);
    const form = fc.constantFrom('symlink', 'absolute symlink', 'hard link', 'lower symlink', 'lower hard link');
    await fc.assert(fc.asyncProperty(pair, form, content, async ([alias, target], how, text) => {
      const file: Spec = { name: target.slice(1), type: 'file', content: text };
      const link: Spec = how.includes('hard')
        ? { name: alias.slice(1), type: 'link', linkname: target.slice(1) }
        : { name: alias.slice(1), type: 'symlink', linkname: how === 'absolute symlink' ? target : relative(alias, target) };
      const layers = how.startsWith('lower') ? [await layer([file]), await layer([link])] : [await layer([file, link])];
      const s = stackLayers(layers.map((analysis) => ({ analysis })), ANALYZERS);
      if ([...layers.flatMap((l) => l.diagnostics), ...s.diagnostics].some((d) => d.incomplete)) return;
      const found = s.placed.flatMap((x) => x.r.out.packages ?? []).map((x) => `${x.name}@${x.version}`).sort();
      // (A symlink's file is counted once, a hard link's under both names: compared as sets.)
      expect([...new Set(found)], `${how} ${alias} → ${target}`).to.deep.equal([...new Set([...read(alias, text), ...read(target, text)])].sort());
    }), { numRuns: 200 });
  });

  it('a pnpm store of 1,500 packages (60 files, four dependencies each, ~600,000 entries behind links) stays complete: the alias budget grows with the tree', () => {
    const paths: string[] = [];
    let kinds = '';
    const links: Record<string, string> = {};
    const add = (p: string, k: string, l?: string) => { paths.push(p); kinds += k; if (l !== undefined) links[p] = l; };
    const n = 1500;
    const at = (i: number) => `pkg${i}@1.0.${i % 7}`;
    for (let i = 0; i < n; i++) {
      const dir = `/app/node_modules/.pnpm/${at(i)}/node_modules/pkg${i}`;
      add(`${dir}/package.json`, 'f');
      for (let f = 0; f < 59; f++) add(`${dir}/lib/f${f}.js`, 'f');
      for (let d = 1; d <= 4; d++) { const j = (i + d * 37) % n; add(`/app/node_modules/.pnpm/${at(i)}/node_modules/pkg${j}`, 'l', `../../${at(j)}/node_modules/pkg${j}`); }
      add(`/app/node_modules/.pnpm/node_modules/pkg${i}`, 'l', `../${at(i)}/node_modules/pkg${i}`);
      if (i < 40) add(`/app/node_modules/pkg${i}`, 'l', `.pnpm/${at(i)}/node_modules/pkg${i}`);
    }
    const analysis: LayerAnalysis = { version: 't', paths, kinds, links, whiteouts: [], opaqueDirs: [], replaced: [], transient: [], results: [], diagnostics: [], entries: paths.length, tarBytes: 0, complete: true };
    expect(stackLayers([{ analysis }], ANALYZERS).diagnostics).to.deep.equal([]);
    // A package database behind one more link of the same farm is still named.
    add('/srv/dpkg/status', 'f');
    add(`/app/node_modules/.pnpm/${at(0)}/node_modules/pkg0/dpkg`, 'l', '/srv/dpkg');
    add('/var/lib', 'l', '/app/node_modules/pkg0');
    const more: LayerAnalysis = { ...analysis, paths, kinds, links, entries: paths.length };
    expect(stackLayers([{ analysis: more }], ANALYZERS).diagnostics.map((d) => `${d.code} ${d.path}`)).to.deep.equal(['package-db-link /var/lib']);
  });

  it('the Red Hat family\'s release links (Fedora, Amazon Linux 2023, Rocky) stay complete; a release name linked to a file no release reader reads is named', async () => {
    const os = [osReleaseAnalyzer];
    const diag = async (entries: Spec[]) => {
      const s = stackLayers([{ analysis: await layer(entries, os) }], os);
      return { codes: s.diagnostics.map((d) => `${d.code} ${d.path}`), ids: s.placed.map((x) => `${x.r.path} ${x.r.out.os?.id}`).sort() };
    };
    // fedora-release.spec: the line under /usr/lib, /etc's names linking to it.
    const fedora: Spec[] = [
      { name: 'usr/lib/fedora-release', type: 'file', content: 'Fedora release 40 (Forty)\n' },
      { name: 'usr/lib/os-release', type: 'file', content: 'ID=fedora\nVERSION_ID=40\n' },
      { name: 'etc/fedora-release', type: 'symlink', linkname: '../usr/lib/fedora-release' },
      { name: 'etc/redhat-release', type: 'symlink', linkname: 'fedora-release' },
      { name: 'etc/system-release', type: 'symlink', linkname: 'fedora-release' },
      { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
    ];
    const f = await diag(fedora);
    expect(f.codes).to.deep.equal([]);
    expect(f.ids).to.include('/usr/lib/fedora-release fedora');
    const amzn = await diag([{ name: 'usr/lib/amazon-linux-release', type: 'file', content: 'Amazon Linux release 2023 (Amazon Linux)\n' },
      { name: 'etc/amazon-linux-release', type: 'symlink', linkname: '../usr/lib/amazon-linux-release' }, { name: 'etc/system-release', type: 'symlink', linkname: 'amazon-linux-release' }]);
    expect(amzn.codes).to.deep.equal([]);
    expect((await diag([{ name: 'etc/rocky-release', type: 'file', content: 'Rocky Linux release 9.3 (Blue Onyx)\n' }, { name: 'etc/redhat-release', type: 'symlink', linkname: 'rocky-release' }])).codes).to.deep.equal([]);
    // A release name linked to a file read by no release reader still hides what the runtime reads.
    expect((await diag([{ name: 'opt/r', type: 'file', content: 'Alpine release 3.19\n' }, { name: 'etc/redhat-release', type: 'symlink', linkname: '/opt/r' }])).codes)
      .to.deep.equal(['package-db-link /etc/redhat-release']);
  });

  it('stacks 40,000 entries with 1,000 directory symlinks into the expected tree (its time is bench/merge-scaling.ts)', () => {
    const big = scalingLayer(40_000);
    const s = stackLayers([{ analysis: big }, { analysis: big }], ANALYZERS);
    expect(s.diagnostics).to.deep.equal([]);
    expect(stackLayers([{ analysis: big }], ANALYZERS).tree().size).to.equal(40_000 + 1000 + 1000 + 2);
  });

});

