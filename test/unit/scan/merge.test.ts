/**
 * The changeset pieces on their own: name cleaning as the runtime cleans, symlink resolution inside
 * the root, and stacking from layer analyses that went through the layer cache (JSON), fed straight
 * to the walker without tar.
 */
import { scalingLayer } from './scaling-layer.js';
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { dpkgAnalyzer } from '../../../src/scan/analyzers/dpkg.js';
import { npmAnalyzer } from '../../../src/scan/analyzers/npm.js';
import { resolveInTree, stackLayers } from '../../../src/scan/merge.js';
import { cleanEntryPath, LayerWalker, type EntryKind, type LayerAnalysis, type WalkEntry } from '../../../src/scan/walker.js';

const ANALYZERS = [dpkgAnalyzer, npmAnalyzer];
const STATUS = (v: string) => `Package: apt\nStatus: install ok installed\nVersion: ${v}\n`;

type Spec = Omit<WalkEntry, 'size' | 'mode'> & { content?: string };

async function layer(entries: Spec[]): Promise<LayerAnalysis> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-merge-'));
  try {
    const w = new LayerWalker(ANALYZERS, { version: 't', tmpDir: tmp });
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

  it('stacks 40,000 entries with 1,000 directory symlinks into the expected tree (its time is bench/merge-scaling.ts)', () => {
    const big = scalingLayer(40_000);
    const s = stackLayers([{ analysis: big }, { analysis: big }], ANALYZERS);
    expect(s.diagnostics).to.deep.equal([]);
    expect(stackLayers([{ analysis: big }], ANALYZERS).tree().size).to.equal(40_000 + 1000 + 1000 + 2);
  });

});

