/**
 * The analyzer dispatch (src/scan/analyzers/dispatch.ts): the walker and the merge ask an analyzer's
 * `wants` only when the dispatch names it for the file's name, so each analyzer's declared names
 * must hold every path its `wants` accepts, or a file would silently go unread. Checked for every
 * analyzer of the shipped list over generated paths built from the names the analyzers' own
 * documentation gives (in any ASCII case, at any depth, beside look-alikes), not from the
 * declarations themselves; and a layer scanned through the dispatch gives what asking every
 * analyzer gives.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ANALYZERS } from '../../../src/scan/analyzers/index.js';
import { DISPATCH_BITS, WantsDispatch } from '../../../src/scan/analyzers/dispatch.js';
import type { Analyzer, EntryInfo } from '../../../src/scan/analyzers/types.js';
import { LayerWalker } from '../../../src/scan/walker.js';

/** Paths each analyzer is documented to read (one at least per way it reads). */
const WANTED: Record<string, string[]> = {
  'os/release': ['/etc/os-release', '/usr/lib/os-release', '/etc/lsb-release', '/etc/alpine-release', '/etc/redhat-release', '/etc/debian_version', '/etc/system-release'],
  'os/dpkg': ['/var/lib/dpkg/status', '/var/lib/dpkg/status.d/base', '/var/lib/dpkg/info/libc6:amd64.list', '/var/lib/dpkg/updates/0001'],
  'os/dpkg-config': ['/etc/dpkg/dpkg.cfg', '/etc/dpkg/dpkg.cfg.d/docker-apt-speedup', '/root/.dpkg.cfg', '/home/u/.dpkg.cfg'],
  'os/apk': ['/lib/apk/db/installed', '/lib/apk/db-uvol/installed'],
  'os/rpm-macros': ['/usr/lib/rpm/macros', '/usr/lib/rpm/macros.d/macros.python', '/usr/lib/rpm/redhat/macros', '/usr/lib/rpm/platform/x86_64-linux/macros', '/usr/lib/rpm/fileattrs/elf.attr', '/etc/rpm/macros', '/etc/rpm/macros.dist', '/etc/rpm/x86_64-linux/macros', '/root/.rpmmacros'],
  'os/rpm': ['/var/lib/rpm/rpmdb.sqlite', '/var/lib/rpm/Packages', '/usr/lib/sysimage/rpm/Packages.db'],
  'lang/npm': ['/app/node_modules/lodash/package.json', '/usr/share/nodejs/@scope/x/package.json'],
  'lang/npm-pnp': ['/app/.pnp.cjs', '/app/.pnp.js', '/srv/a b/.pnp.data.json'],
  'lang/npm-zip': ['/app/.yarn/cache/lodash-npm-4.17.20-c0db62021c-faec37cb9f.zip', '/srv/deps/a b.zip'],
  'lang/npm-lock': ['/app/package-lock.json', '/srv/npm-shrinkwrap.json'],
  'lang/yarn-lock': ['/app/yarn.lock'],
  'lang/pnpm-lock': ['/app/pnpm-lock.yaml'],
  'lang/python': ['/usr/lib/python3/dist-packages/x-1.0.dist-info/METADATA', '/opt/x.egg-info/PKG-INFO', '/opt/y.egg-info'],
  'lang/python-egg': ['/usr/lib/python3.11/site-packages/x-1.0-py3.11.egg', '/opt/Y.EGG', '/srv/z.Egg'],
  'lang/java': ['/app/a.jar', '/app/B.WAR', '/x.Ear', '/p.par', '/s.sar', '/r.rar', '/j.jpi', '/h.HPI', '/k.kar'],
  'lang/ruby': ['/usr/lib/ruby/gems/3.1.0/specifications/rack-3.0.gemspec'],
  'lang/cargo-lock': ['/src/Cargo.lock'],
  'lang/composer': ['/app/vendor/composer/installed.json'],
  'lang/dotnet': ['/app/App.deps.json'],
};

/** Pieces the generated paths are made of: the analyzers' names, parts of them, look-alikes. */
const SEGMENTS = [
  'etc', 'usr', 'lib', 'var', 'dpkg', 'info', 'status', 'status.d', 'updates', 'apk', 'db', 'installed', 'rpm', 'sysimage',
  'Packages', 'Packages.db', 'rpmdb.sqlite', 'node_modules', '@scope', 'lodash', 'nodejs', 'share', 'package.json',
  'package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml', 'x.dist-info', 'METADATA', 'x.egg-info',
  'PKG-INFO', 'specifications', 'rack.gemspec', 'Cargo.lock', 'vendor', 'composer', 'installed.json', 'App.deps.json',
  'os-release', 'lsb-release', 'debian_version', 'redhat-release', 'centos-release', 'alpine-release', 'a.jar', 'b.war',
  '.jar', 'x.zip', '.zip', 'a.ZIP', 'a.list', 'x.md5sums', '0001', '12345678901', 'libc6:amd64.list', '.env', 'a', 'b.c', 'K.\u212Aar', 'x.ja\u017F',
];

/** `s` with each ASCII letter's case flipped where `flips` says. */
function recase(s: string, flips: boolean[]): string {
  return [...s].map((c, i) => (flips[i % flips.length] ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c)).join('');
}

const pathArb = fc.tuple(
  fc.array(fc.oneof(fc.constantFrom(...SEGMENTS), fc.string({ minLength: 1, maxLength: 6 }).filter((s) => !s.includes('/'))), { minLength: 1, maxLength: 6 }),
  fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
  fc.boolean(),
).map(([segs, flips, cased]) => `/${segs.map((s) => (cased ? recase(s, flips) : s)).join('/')}`);

const entryArb = fc.record({
  path: fc.oneof(pathArb, fc.constantFrom(...Object.values(WANTED).flat())),
  size: fc.constantFrom(0, 1, 100, 1024, 4096, 2 * 1024 * 1024),
  mode: fc.constantFrom(0o644, 0o755, 0o100, 0o600),
});

/** The analyzers of `list` the dispatch says to ask about `e`. */
function asked(list: readonly Analyzer[], e: EntryInfo): Set<string> {
  const m = new WantsDispatch(list).candidates(e.path, e.path.lastIndexOf('/'));
  return new Set(list.filter((_, i) => i >= DISPATCH_BITS || (m & (1 << i)) !== 0).map((a) => a.name));
}

describe('scan: analyzer dispatch', () => {
  it('every documented path of each name-declaring analyzer is wanted by it and named by the dispatch', () => {
    for (const a of ANALYZERS) {
      if (!a.names) continue;
      const paths = WANTED[a.name];
      expect(paths, `${a.name}: add its documented paths to WANTED`).to.not.equal(undefined);
      for (const p of paths!) {
        const e = { path: p, size: 100, mode: 0o644 };
        expect(a.wants(e), `${a.name} wants ${p}`).to.equal(true);
        expect(asked(ANALYZERS, e).has(a.name), `dispatch names ${a.name} for ${p}`).to.equal(true);
      }
    }
  });

  it('property: every analyzer that wants a generated entry is among those the dispatch names (a superset), and the names cut most of the asking', () => {
    let asks = 0;
    let all = 0;
    fc.assert(fc.property(entryArb, (e) => {
      const named = asked(ANALYZERS, e);
      asks += named.size;
      all += ANALYZERS.length;
      for (const a of ANALYZERS) if (a.wants(e)) expect(named.has(a.name), `${a.name} wants ${e.path} but the dispatch did not name it`).to.equal(true);
    }), { numRuns: 500 });
    expect(asks).to.be.below(all / 2);
  });

  it('property: a dispatch over any sublist (as the merge builds them) names the same analyzers as over the whole list', () => {
    fc.assert(fc.property(fc.subarray([...ANALYZERS]), entryArb, (list, e) => {
      const whole = asked(ANALYZERS, e);
      const sub = asked(list, e);
      expect([...sub]).to.deep.equal(list.map((a) => a.name).filter((n) => whole.has(n)));
    }), { numRuns: 300 });
  });

  it('property: the dispatch worked out per directory (inDirectory, candidatesIn) names what it names per path, for any sublist', () => {
    // Directories and names from the analyzers' own paths and look-alikes: a directory that is an
    // exact path's, one beneath or beside an `under` directory, the root; names equal to an exact
    // path's, a base name, an extension in any case.
    const dirArb = fc.oneof(
      fc.constantFrom('/', ...Object.values(WANTED).flat().map((p) => p.slice(0, p.lastIndexOf('/')) || '/')),
      pathArb,
    );
    const nameArb = fc.oneof(fc.constantFrom(...SEGMENTS), pathArb.map((p) => p.slice(p.lastIndexOf('/') + 1))).filter((n) => n.length > 0 && !n.includes('/'));
    fc.assert(fc.property(fc.subarray([...ANALYZERS]), dirArb, fc.array(nameArb, { minLength: 1, maxLength: 8 }), (list, dir, names) => {
      const d = new WantsDispatch(list);
      const here = d.inDirectory(dir);
      for (const name of names) {
        const p = `${dir === '/' ? '' : dir}/${name}`;
        expect(d.candidatesIn(here, name), `${p}`).to.equal(d.candidates(p, p.lastIndexOf('/')));
      }
    }), { numRuns: 500 });
    // Beneath an `under` directory at any depth, and its exact paths, named by the directory's part.
    const dpkg = new WantsDispatch(ANALYZERS);
    for (const p of ['/var/lib/dpkg/status', '/var/lib/dpkg/info/x.list', '/etc/os-release', '/usr/lib/os-release', '/lib/apk/db/installed']) {
      const at = p.lastIndexOf('/');
      expect(dpkg.candidatesIn(dpkg.inDirectory(p.slice(0, at)), p.slice(at + 1)), p).to.equal(dpkg.candidates(p, at));
    }
  });

  it('analyzers past the dispatch bits are always asked; a malformed declaration is refused', () => {
    const probe = (name: string, names?: Analyzer['names']): Analyzer => ({ name, version: 1, maxSize: 10, wants: () => false, names });
    const many = Array.from({ length: DISPATCH_BITS + 2 }, (_, i) => probe(`t/${i}`, { paths: ['/nowhere'] }));
    expect([...asked(many, { path: '/x', size: 1, mode: 0o644 })]).to.deep.equal([`t/${DISPATCH_BITS}`, `t/${DISPATCH_BITS + 1}`]);
    expect(() => new WantsDispatch([probe('t/ext', { extensions: ['.JAR'] })])).to.throw(/lower-case/);
    expect(() => new WantsDispatch([probe('t/ext', { extensions: ['.tar.gz'] })])).to.throw(/another dot/);
    expect(() => new WantsDispatch([probe('t/dir', { under: ['/var/lib'] })])).to.throw(/trailing/);
  });

  it('property: a layer walked with the analyzers\' declared names gives the results of one walked asking every analyzer', async () => {
    const tmpDir = '/nonexistent-unused';
    // The same analyzers without declarations: every one asked about every file.
    const undeclared = ANALYZERS.map((a) => ({ ...a, names: undefined })) as Analyzer[];
    await fc.assert(fc.asyncProperty(fc.array(entryArb, { minLength: 1, maxLength: 12 }), async (entries) => {
      const walk = async (list: readonly Analyzer[]) => {
        const calls: string[] = [];
        const spy = list.map((a) => ({ ...a, spill: false, stream: undefined, analyze: (i: { path: string }) => { calls.push(`${a.name} ${i.path}`); return undefined; } })) as Analyzer[];
        const w = new LayerWalker(spy, { version: 't', tmpDir });
        for (const e of entries) {
          const sink = w.open({ name: e.path, type: 'file', size: e.size, mode: e.mode });
          if (sink) {
            sink.write(Buffer.alloc(Math.min(e.size, 8)));
            await sink.end();
          }
        }
        const r = w.result();
        return { calls, diagnostics: r.diagnostics.map((d) => `${d.code} ${d.path}`) };
      };
      expect(await walk(ANALYZERS)).to.deep.equal(await walk(undeclared));
    }), { numRuns: 200 });
  });
});
