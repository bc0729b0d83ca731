/**
 * Applying layer analyses in order to get the final filesystem's inventory, as a runtime unpacks it
 * (see {@link stackLayers}), then OS identification, OS-package purls, lock-entry de-duplication and
 * `ownedBy`.
 */
import { DiagnosticCap } from '../../../../src/scan/diagnostic-cap.js';
import type { Diagnostic, Digest, Inventory, OsInfo, Package, SecretFinding } from '../../../../src/core/index.js';
import type { Analyzer, FoundPackage, OsHint } from '../../../../src/scan/analyzers/types.js';
import { baseName, dirName, foundUnderName, readsAlike } from '../../../../src/scan/analyzers/types.js';
import { debianMajor, osvEcosystem } from '../../../../src/scan/analyzers/os-release.js';
import { DISPATCH_BITS, WantsDispatch } from '../../../../src/scan/analyzers/dispatch.js';
import { familyOf, osInventoryEcosystems, UNKNOWN_RPM_ECOSYSTEM } from '../../../../src/core/os-table.js';
import { osClaimMismatch } from '../../../../src/scan/os-evidence.js';
import { formatPurl } from '../../../../src/scan/purl.js';
import { isAtOrUnder, MAX_PACKAGE_RECORDS, type EntryKind, type FileResult, type LayerAnalysis, type WalkBudget } from '../../../../src/scan/walker.js';

interface Placed { r: FileResult; layer?: Digest }

/** A node of the merged filesystem tree. */
interface Node {
  kind: EntryKind;
  /** Index of the layer that wrote it (-1: a parent directory created implicitly). */
  layer: number;
  link?: string;
  children?: Map<string, Node>;
}

/**
 * Version of the merge's rules (what it names incomplete, what it places where): part of the stored
 * whole-image scan's key ({@link imageScanVersion} in engine.ts), so a scan stored as complete under
 * older rules is scanned again. The layer cache does not hold merge output and keeps its key.
 * 1: whiteouts beneath a lower non-directory are judged before the layer's opaque markers clear the
 *    lower tree (a runtime that met the whiteout first removed what a lower symlink reaches).
 * 2: the symlink alias check follows symlinks inside a linked directory.
 * 3: a replaced path beneath a lower non-directory the layer makes a directory is not named.
 * 4: the alias check walks symlink loops again (up to {@link LOOP_DEPTH} times) and charges directories.
 * 5: a link at a wanted path is read under its target's name only when the analyzer reads both
 *    names the same way ({@link Analyzer.readsAs}: dpkg's status and `info/*.list`).
 * 6: symlink resolution and the alias walk charge a path longer than {@link CHARGE_CHARS} by its length;
 *    the alias check's budget grows with the tree ({@link ALIAS_STEPS_PER_PATH}).
 * 7: the paths placed are bounded ({@link STACK_BUDGET}): past it, `layer-too-complex` and nothing more is placed.
 * 8: a file reached under another name (a hard link to a lower layer's file, a symlink) is read under
 *    that name too by the analyzers whose findings depend on the name ({@link Analyzer.foundUnder}).
 * 10: an os-release naming another family or release than the package database's release package
 *    (os-evidence.ts) makes the inventory incomplete (`os-release-mismatch`).
 */
export const MERGE_VERSION = 10;

/**
 * What the merged tree's path index may take, over the whole stack: paths placed (every entry and
 * each directory created above one, counted again when replaced) and their characters. One layer
 * can hold at most the walker's LAYER_BUDGET (walker.ts: 2,000,000 paths, 256 Mi characters); an image
 * whose largest layer is at the entry limit and whose next layer rewrites all of it (`chown -R`)
 * places about 1,120,000 paths of at most ~224 MB. Past either limit the merge is
 * `layer-too-complex` (incomplete) and places nothing more.
 */
export const STACK_BUDGET: Readonly<WalkBudget> = { paths: 3_000_000, chars: 512 * 2 ** 20 };

/** Symlink resolution stops after this many links (Linux's MAXSYMLINKS is 40). */
const MAX_LINKS = 40;
/** Upper bound on the entries looked at behind directory symlinks (the alias check's work). */
const ALIAS_BUDGET = 500_000;
/**
 * The alias check's budget grows with the image: this many steps per path of the final tree. A
 * pnpm store links every package's directory from each package that depends on it and from
 * `.pnpm/node_modules` (1,500 packages of 60 files with four dependencies each is about 600,000
 * entries behind links, a real application's node_modules), so a fixed budget named ordinary large
 * images incomplete. Work linear in the tree stays bounded; M links to K entries of a small tree
 * still ends at {@link ALIAS_BUDGET}.
 */
const ALIAS_STEPS_PER_PATH = 16;
/**
 * Characters of a path that one budget step pays for. Looking a path up (a Map key, a `wants`
 * test) costs its length, and a pusher's paths reach PATH_MAX (4,095 bytes of 2,000 one-letter
 * segments), or more for an alias built through loops: a path longer than this is charged one more
 * step per CHARGE_CHARS characters, so a budget step stays bounded work. Real paths are shorter
 * and cost one step as before.
 */
const CHARGE_CHARS = 256;
/**
 * How many times the alias check walks into a directory it is already inside (a symlink loop such as
 * `/usr/bin/X11 → .`, or `/opt/dpkg → /opt` under `/var/lib → /opt`, which makes
 * `/var/lib/dpkg/status` read `/opt/status`). A name reached through k loops has at least k more
 * segments than one reached through none, and no link-sensitive analyzer looks at more than six
 * segments of a path: the longest anchored name is `/usr/share/nodejs/@scope/name/package.json`,
 * the longest suffix `node_modules/@scope/name/package.json` (4). A walk that keeps only the last
 * six segments of a deeper name reaches the same suffix with at most six loops (cut every cycle of
 * the walk before them), so six loops find every name an analyzer wants through loops.
 */
const LOOP_DEPTH = 6;

/** The merged view of a layer stack. */
export interface StackedLayers {
  /** The surviving analyzer results, lowest layer first. */
  placed: Placed[];
  /** What the merge found (links to package databases, writes through symlinks). */
  diagnostics: Diagnostic[];
  /** Every path of the final filesystem with its kind (built on demand; for tests and diagnosis). */
  tree(): Map<string, EntryKind>;
}

/**
 * The analyzers whose results a link can hide: a link at a path one of them wants means the runtime
 * sees a file there that pushgate did not read under that name. The `secret/` family is left out:
 * a secret is found in the link's target under the target's own name.
 */
function linkSensitive(analyzers: readonly Analyzer[]): Analyzer[] {
  return analyzers.filter((a) => !a.name.startsWith('secret/'));
}

/** The probe {@link wantedAt} asks with: one object for every question (`wants` only reads it). */
const PROBE = { path: '', size: 1, mode: 0o644 };
const NONE: Analyzer[] = [];

/**
 * The question "which analyzers of `analyzers` want a small regular file at `p`", for many `p`.
 * Asked for every file behind a directory symlink (thousands for a merged /usr): no allocation
 * when none wants it, and only the analyzers the dispatch names for `p` are asked.
 */
function wantedAt(analyzers: readonly Analyzer[]): (p: string) => Analyzer[] {
  const dispatch = new WantsDispatch(analyzers);
  return (p) => {
    PROBE.path = p;
    const ask = dispatch.candidates(p, p.lastIndexOf('/'));
    let out = NONE;
    for (let i = 0; i < analyzers.length; i++) {
      if (i < DISPATCH_BITS && (ask & (1 << i)) === 0) continue;
      const a = analyzers[i]!;
      if (!a.wants(PROBE)) continue;
      if (out === NONE) out = [];
      out.push(a);
    }
    return out;
  };
}

/**
 * Stacks layer analyses (lowest first) into the filesystem a runtime unpacks (image-spec layer.md
 * "Applying Changesets", containerd archive.Apply): opaque directories and whiteouts of a layer
 * remove lower content first; then each entry of the layer's changeset, in order, replaces what is
 * at its path — a non-directory, or a directory over a non-directory, hides everything beneath the
 * path — and a directory over a directory merges. Missing parent directories are created as the
 * runtime does. Not followed, but named in an `incomplete` diagnostic: entries written through a
 * lower layer's symlink (or under a lower non-directory), hard links and symlinks at a path an
 * analyzer wants whose target was not read under the same analyzer, and files an analyzer wants
 * that the final filesystem reaches only through a directory symlink. At most `budget` paths and
 * characters of paths are placed over the whole stack ({@link STACK_BUDGET}); past it the rest is
 * not placed and the result has an incomplete `layer-too-complex` diagnostic.
 */
export function stackLayers(layers: Array<{ analysis: LayerAnalysis; label?: Digest }>, analyzers: readonly Analyzer[] = [], budget: Readonly<WalkBudget> = STACK_BUDGET): StackedLayers {
  const root: Node = { kind: 'd', layer: -1, children: new Map() };
  /**
   * Every node of the tree by its path (absolute, cleaned): one look-up instead of a walk down from
   * the root per segment, for the entries placed and the links resolved. Kept in step with the tree:
   * a node leaves it through {@link dropResults}, which runs on every subtree removed or replaced.
   */
  const index = new Map<string, Node>([['/', root]]);
  const stat = (q: string): Node | undefined => index.get(q);
  const results = new Map<string, Placed[]>();
  // per-entry diagnostics (entries behind links, links to package databases) are capped per code
  const diagnostics = new DiagnosticCap([]);
  /** Package records hard links to lower layers' files may still copy into the image. */
  const copyRoom = { packages: MAX_PACKAGE_RECORDS };
  const sensitive = linkSensitive(analyzers);
  /** Symlink resolution steps the hard links of the whole stack may take. */
  const linkWork = { steps: ALIAS_BUDGET };
  const wantedBy = wantedAt(sensitive);
  /** The analyzers whose findings depend on the file's name, and every analyzer by name. */
  const nameDep = analyzers.filter((a) => a.foundUnder);
  const wantedByNameDep = wantedAt(nameDep);
  const byAnalyzer = new Map(analyzers.map((a) => [a.name, a]));
  /**
   * What the file read at `at` (results `have`) adds when it is reached at `p` too: the findings
   * its name-dependent analyzers make of the name `p`, at `p`.
   */
  const namedAt = (p: string, at: string, have: readonly Placed[], layer: Digest | undefined): Placed[] => {
    const out: Placed[] = [];
    for (const x of have) {
      const a = byAnalyzer.get(x.r.analyzer);
      const extra = a && foundUnderName(a, x.r.out, at, p);
      if (extra) out.push({ r: { path: p, analyzer: a.name, out: extra }, layer });
    }
    return out;
  };
  /** Findings added under symlink names, by file, analyzer and what was found (one report each). */
  const namedSeen = new Set<string>();
  /**
   * A file at `f` that the runtime reads at `alias` through a symlink: what its name-dependent
   * analyzers find under `alias` is placed there, once per file and finding however many names
   * reach it (a symlink loop adds names).
   */
  const namedAlias = (alias: string, f: string): void => {
    // The file's results first: most files behind a directory symlink (a merged /usr's programs)
    // have none, and asking which analyzers want the alias costs a dispatch and their `wants` tests.
    const have = results.get(f);
    if (!have) return;
    if (wantedByNameDep(alias) === NONE) return;
    for (const x of have) {
      const a = byAnalyzer.get(x.r.analyzer);
      const extra = a && foundUnderName(a, x.r.out, f, alias);
      if (!extra) continue;
      const k = `${f}\0${a.name}\0${(extra.packages ?? []).map((q) => q.purl).join(' ')}\0${(extra.secrets ?? []).map((q) => `${q.rule}:${q.line}`).join(' ')}`;
      if (namedSeen.has(k)) continue;
      namedSeen.add(k);
      const list = results.get(alias);
      const placed = { r: { path: alias, analyzer: a.name, out: extra }, layer: x.layer };
      if (list) list.push(placed);
      else results.set(alias, [placed]);
    }
  };

  /** Drops the results at `p` and beneath it (the subtree at `node` is being removed). */
  const dropResults = (p: string, node: Node | undefined): void => {
    results.delete(p);
    index.delete(p);
    if (!node?.children) return;
    for (const [name, c] of node.children) dropResults(p === '/' ? `/${name}` : `${p}/${name}`, c);
  };
  /** The parent node of `p` and the first lower non-directory on the way (nothing is created). */
  const lookup = (p: string): Node | undefined => {
    let n: Node | undefined = root;
    for (const seg of p.split('/').slice(1)) {
      if (!seg) continue;
      n = n?.children?.get(seg);
      if (!n) return undefined;
    }
    return n;
  };

  /** What the index may still take ({@link STACK_BUDGET}); `over` once it did not fit. */
  const room = { ...budget };
  let over = false;

  layers.forEach(({ analysis, label }, li) => {
    if (over) return;
    /**
     * Takes one path of `chars` characters from {@link room} for the entry at `p`, or names the
     * image `layer-too-complex` and returns false when it does not fit.
     */
    const fits = (p: string, chars: number): boolean => {
      if (--room.paths >= 0 && (room.chars -= chars) >= 0) return true;
      over = true;
      diagnostics.push({
        code: 'layer-too-complex', path: p.length > 200 ? `${p.slice(0, 200)}…` : p, layer: label, incomplete: true,
        message: `the image's layers up to this one place more than ${room.paths < 0 ? `${budget.paths} paths` : `${budget.chars} characters of paths`} (every entry and each directory above one), more than pushgate holds for one image: this entry, the rest of the layer and the layers above it are not judged`,
      });
      return false;
    };
    // The link targets as a Map: looked up for every path, and a plain object's look-up by a path
    // string costs a string-table search each time.
    const linkOf = new Map(Object.entries(analysis.links ?? {}));
    const byPath = new Map<string, FileResult[]>();
    for (const r of analysis.results) {
      const l = byPath.get(r.path);
      if (l) l.push(r);
      else byPath.set(r.path, [r]);
    }
    const linkDiag = (p: string, message: string) => diagnostics.push({ code: 'entry-through-link', path: p, layer: label, message, incomplete: true });
    /**
     * The lower non-directory above `p`, if any (symlink resolution is what pushgate does not do).
     * `gone`: paths to take as removed already (without changing the tree).
     */
    // `gone` holds nodes, not paths: a path of 2,000 segments would be hashed once per segment.
    const lowerNonDir = (p: string, gone?: ReadonlySet<Node>): { at: string; kind: EntryKind } | undefined => {
      let n: Node | undefined = root;
      const segs = p.split('/').slice(1, -1);
      for (let k = 0; k < segs.length; k++) {
        n = n.children?.get(segs[k]!);
        if (!n || gone?.has(n)) return undefined;
        if (n.kind !== 'd') return n.layer === li ? undefined : { at: `/${segs.slice(0, k + 1).join('/')}`, kind: n.kind };
      }
      return undefined;
    };
    const through = (p: string, what: string, gone?: ReadonlySet<Node>): boolean => {
      const up = lowerNonDir(p, gone);
      if (!up) return false;
      linkDiag(p, up.kind === 'l'
        ? `${what} ${p} lies beneath ${up.at}, a symlink from a lower layer: a runtime follows it, pushgate does not; not judged`
        : `${what} ${p} lies beneath ${up.at}, which a lower layer made a non-directory: a runtime cannot unpack it`);
      return true;
    };

    // A hard link to a file this layer had not written when the link came (the walker resolves the
    // others) links the lower layers' file as it stands before this layer removes or replaces
    // anything: a whiteout, opaque marker or replacement after the link leaves the linked inode
    // alone, one before it makes the runtime's link fail. The target's parent is resolved through
    // symlinks and its last segment is not, as containerd's hardlinkRootPath does; link(2) does not
    // follow a symlink there, so a hard link to a symlink is a symlink with the same text.
    // The runtime resolves the parent when the link comes, through whatever the layer wrote before
    // it (a symlink, a directory over a lower symlink): the order is not kept here, so a link whose
    // resolution passes a path this layer writes as a non-directory (or over one) is not judged.
    // (The walker resolved links to a target it had seen under the link's own spelling, and named
    // those beneath a non-directory it had written.)
    const linked = new Map<string, LinkTarget>();
    let written: Set<string> | undefined;
    let changed: ((v: string) => boolean) | undefined;
    analysis.paths.forEach((p, i) => {
      const target = analysis.kinds[i] === 'h' ? linkOf.get(p) : undefined;
      if (target === undefined) return;
      changed ??= changedBy(analysis, index);
      let via: string | undefined;
      const parent = resolveInTree(dirName(target), stat, { budget: linkWork, visit: (v) => { if (via === undefined && changed!(v)) via = v; } });
      if (parent === null) {
        linked.set(p, { unsure: `takes more than ${ALIAS_BUDGET} steps of symlink resolution (with the image's other links) to reach` });
        return;
      }
      if (via !== undefined) {
        linked.set(p, { unsure: `is reached through ${via}, which this layer changes (before or after the link)` });
        return;
      }
      const at = parent === undefined ? undefined : `${parent === '/' ? '' : parent}/${baseName(target)}`;
      const n = at === undefined ? undefined : index.get(at);
      if (at !== undefined && at !== target && (written ??= new Set(analysis.paths)).has(at)) {
        linked.set(p, { unsure: `reaches ${at} through a symlink, a path this layer also writes, before or after the link` });
      } else if (at !== undefined && (n?.kind === 'f' || n?.kind === 'h')) linked.set(p, { at, have: results.get(at) ?? [] });
      else if (n?.kind === 'l') linked.set(p, { symlink: n.link });
      else linked.set(p, { fails: 'is no file of the layers below' });
    });
    if (analysis.lateOpaque?.length) {
      const late = new Set<Node>();
      for (const d of analysis.lateOpaque) { const n = index.get(d); if (n) late.add(n); }
      lateOpaqueWrites(analysis, late, root, linkDiag);
    }
    // A whiteout beneath a lower symlink is judged against the lower tree before the layer's opaque
    // markers clear it: the marker order is not kept, and a runtime that met the whiteout before an
    // opaque marker of a directory above the link removed what the link reaches (an opaque marker
    // first leaves it nothing to remove: that case is named too). The layer's whiteouts come in
    // their order: one beneath a path an earlier one removed has nothing in its way.
    const whiteouts: string[] = [];
    const gone = new Set<Node>();
    for (const w of analysis.whiteouts) {
      if (through(w, 'whiteout of', gone)) continue;
      whiteouts.push(w);
      // (A path the lower tree does not have has nothing beneath it either.)
      const n = index.get(w);
      if (n) gone.add(n);
    }
    for (const d of analysis.opaqueDirs) {
      if (through(`${d === '/' ? '' : d}/.wh..wh..opq`, 'opaque directory marker')) continue;
      const n = lookup(d);
      if (!n?.children) continue;
      for (const [name, c] of n.children) dropResults(d === '/' ? `/${name}` : `${d}/${name}`, c);
      n.children.clear();
    }
    // Whiteouts first: the spec applies them before the layer's entries, and one that came after an
    // entry at or beneath its path is already named ambiguous by the walker. A path the layer made
    // a non-directory at some point lost its lower content then, whatever the layer's last entry
    // there is: that removal comes after the transient entries' check, since such an entry may have
    // come before the non-directory did.
    const remove = (w: string) => {
      const parent = lookup(dirName(w));
      const name = baseName(w);
      const n = parent?.children?.get(name);
      if (!n) return;
      dropResults(w, n);
      parent!.children!.delete(name);
    };
    for (const w of whiteouts) remove(w);
    // Entries the layer wrote and removed again: unpacked beneath a lower non-directory, they
    // failed or went through a symlink when the runtime met them.
    for (const t of analysis.transient ?? []) {
      let n: Node | undefined = root;
      let at = '';
      for (const seg of t.path.split('/').slice(1, -1)) {
        at += `/${seg}`;
        n = n.children?.get(seg);
        if (!n) break;
        if (n.kind !== 'd' && at.length > t.from.length && isAtOrUnder(at, t.from)) {
          linkDiag(t.path, `entry ${t.path} (replaced later in the layer) lies beneath ${at}, a ${n.kind === 'l' ? 'symlink' : 'non-directory'} from a lower layer: a runtime ${n.kind === 'l' ? 'wrote it through the link' : 'cannot unpack it'}; not judged`);
          break;
        }
      }
    }
    // A lower non-directory above a replaced path that this layer makes a directory is no reason to
    // name it: the layer's entries beneath that place are checked where they are placed (or as
    // transient), whichever came first, and nothing of the lower layers is left beneath it to remove.
    let layerDirs: Set<string> | undefined;
    for (const w of analysis.replaced ?? []) {
      const up = lowerNonDir(w);
      if (up && (layerDirs ??= new Set(analysis.paths.filter((_, i) => analysis.kinds[i] === 'd'))).has(up.at)) continue;
      if (!through(w, 'whiteout of')) remove(w);
    }
    analysis.paths.forEach((p, i) => {
      if (over) return;
      const kind = (analysis.kinds[i] ?? 'f') as EntryKind;
      // Walk down to the parent, creating the directories the runtime creates (mkparent) when the
      // layer does not name them.
      const known = index.get(dirName(p));
      const name = baseName(p);
      // Not a directory of the tree: walk down (creating, or stopping at a non-directory).
      const segs = known?.children ? [] : p.split('/').slice(0, -1);
      let parent: Node = known?.children ? known : root;
      // `end`: where the k-th directory's path ends in `p` (its first k+1 segments).
      for (let k = 1, end = 0; k < segs.length; k++) {
        end = p.indexOf('/', end + 1);
        let c: Node | undefined = parent.children!.get(segs[k]);
        if (!c) {
          if (!fits(p, end)) return;
          c = { kind: 'd', layer: -1, children: new Map() };
          parent.children!.set(segs[k], c);
          // A slice of `p`: it shares p's characters (a joined copy per level costs memory
          // quadratic in the depth).
          index.set(p.slice(0, end), c);
        }
        if (!c.children) {
          // Beneath a non-directory: a lower one is named here; this layer's own the walker named.
          if (c.layer !== li) {
            const at = segs.slice(0, k + 1).join('/');
            linkDiag(p, c.kind === 'l'
              ? `entry ${p} lies beneath ${at}, a symlink from a lower layer: a runtime follows it, pushgate does not; not judged`
              : `entry ${p} lies beneath ${at}, which a lower layer made a non-directory: a runtime cannot unpack it`);
          }
          return;
        }
        parent = c;
      }
      const prev = parent.children!.get(name);
      const found = kind === 'h' ? linked.get(p) : undefined;
      if (kind === 'd' && prev?.kind === 'd') {
        prev.layer = li;
      } else {
        if (!fits(p, p.length)) return;
        if (prev) dropResults(p, prev);
        const node: Node = found && 'symlink' in found
          ? { kind: 'l', layer: li, link: found.symlink }
          : { kind, layer: li, link: linkOf.get(p), children: kind === 'd' ? new Map() : undefined };
        parent.children!.set(name, node);
        index.set(p, node);
      }
      const rs = byPath.get(p);
      if (rs) results.set(p, rs.map((r) => ({ r, layer: label })));
      if (kind === 'h') {
        const target = linkOf.get(p);
        if (target === undefined || found === undefined) return;
        // What the link is depends on the order of the layer's entries: it may be a symlink to
        // anything, so it is named whatever path it has.
        if ('unsure' in found) {
          diagnostics.push({ code: 'package-db-link', path: p, layer: label, message: `${p} is a hard link to ${target}, which ${found.unsure}: a runtime links whatever that path reaches when the link comes, pushgate does not follow it; not judged`, incomplete: true });
          return;
        }
        // A symlink now: what it reaches is checked with the other symlinks.
        if ('symlink' in found) return;
        // The lower file under this name: what the name adds (a jar's version, a `.env` password).
        const named = 'have' in found ? namedAt(p, found.at, found.have, label) : [];
        // The name-dependent readings travel with the file (without their findings): a later link
        // or symlink to this name gives the file yet another name (`prod` ← `mid` ← `.env`).
        const carried = 'have' in found
          ? found.have.filter((x) => x.r.out.byName !== undefined && byAnalyzer.get(x.r.analyzer)?.foundUnder && !wantedBy(p).some((a) => a.name === x.r.analyzer))
            .map((x) => ({ r: { path: p, analyzer: x.r.analyzer, out: { byName: x.r.out.byName } }, layer: label }))
          : [];
        if (named.length || carried.length) results.set(p, [...(results.get(p) ?? []), ...named, ...carried]);
        const want = wantedBy(p);
        if (!want.length) return;
        if ('fails' in found) {
          diagnostics.push({ code: 'package-db-link', path: p, layer: label, message: `${p} is a hard link to ${target}, which ${found.fails}: a runtime links whatever that path reaches then, pushgate does not follow it; not judged`, incomplete: true });
          return;
        }
        // Read there by the same analyzer the same way: dpkg reads a `.list` as a file list, the
        // runtime's dpkg reads a status linked to it as the package database.
        const missing = want.filter((a) => !readsAlike(a, p, found.at));
        if (missing.length) {
          diagnostics.push({ code: 'package-db-link', path: p, layer: label, message: `${p} is a hard link to ${target}, which ${missing.map((a) => a.name).join(', ')} did not read: a runtime sees ${target}'s content at ${p}, pushgate does not follow links; not judged`, incomplete: true });
          return;
        }
        // The runtime sees the target's content at `p` too: count it there as well, within the image's
        // room for such copies (each link to a fat jar would copy all of its packages).
        const copies = found.have.filter((x) => want.some((a) => a.name === x.r.analyzer)).map((x) => ({ r: relocate(x.r, found.at, p), layer: label }));
        let n = 0;
        for (const c of copies) n += c.r.out.packages?.length ?? 0;
        if (n > copyRoom.packages) {
          diagnostics.push({ code: 'too-many-packages', path: p, layer: label, message: `${p}: ${n} package records copied from ${target} would pass the image's ${MAX_PACKAGE_RECORDS} for hard links to lower layers' files; not judged`, incomplete: true });
          return;
        }
        copyRoom.packages -= n;
        results.set(p, [...copies, ...named, ...carried]);
      }
    });
  });

  const symlinks: Array<{ path: string; link: string }> = [];
  // Map.forEach, not for…of: the walks below visit every node once per scan, mostly before V8 has
  // optimized them, and an unoptimized for…of over a Map allocates two objects per step.
  const findLinks = (p: string, n: Node): void => {
    n.children?.forEach((c, name) => {
      if (c.kind === 'l') { if (c.link !== undefined) symlinks.push({ path: p === '/' ? `/${name}` : `${p}/${name}`, link: c.link }); }
      else if (c.children?.size) findLinks(p === '/' ? `/${name}` : `${p}/${name}`, c);
    });
  };
  if (sensitive.length || nameDep.length) {
    findLinks('/', root);
    checkSymlinkAliases(symlinks, stat, wantedBy, diagnostics, Math.max(ALIAS_BUDGET, ALIAS_STEPS_PER_PATH * index.size), namedAlias);
  }
  return {
    placed: [...results.values()].flat(),
    diagnostics: diagnostics.withSummaries(),
    tree() {
      const out = new Map<string, EntryKind>();
      const walk = (p: string, n: Node): void => {
        for (const [name, c] of n.children ?? []) {
          const cp = p === '/' ? `/${name}` : `${p}/${name}`;
          out.set(cp, c.kind);
          walk(cp, c);
        }
      };
      walk('/', root);
      return out;
    },
  };
}

/** A result read at `from`, as seen at `to` (a hard link): package paths follow the link. */
function relocate(r: FileResult, from: string, to: string): FileResult {
  const packages = r.out.packages?.map((p) => (p.path === from ? { ...p, path: to } : p));
  return { path: to, analyzer: r.analyzer, out: { ...r.out, packages, secrets: undefined, diagnostics: undefined } };
}

/**
 * Entries of a layer written beneath a lower non-directory that lies strictly beneath a directory
 * the same layer made opaque with a marker that came after those entries. Called on the lower
 * layers' tree, before the layer's markers apply. A runtime that unpacks in order wrote the entry
 * through the lower symlink (or failed beneath the lower file) and removed the symlink only when
 * the marker came; the spec removes it first. Which content the image then has differs: each such
 * entry is named. Every entry is checked whatever its place relative to the marker (the order is
 * not kept), so this names a few entries a runtime wrote after the marker too.
 */
function lateOpaqueWrites(analysis: LayerAnalysis, late: Set<Node>, root: Node, linkDiag: (p: string, message: string) => void): void {
  const check = (p: string) => {
    let n: Node | undefined = root;
    let opaque = late.has(root) ? '/' : undefined;
    const segs = p.split('/');
    for (let k = 1; k < segs.length - 1; k++) {
      n = n.children?.get(segs[k]);
      if (!n) return;
      // Made only when named: a path of 2,000 segments would be built and hashed at every one.
      const upTo = () => segs.slice(0, k + 1).join('/');
      if (n.kind !== 'd') {
        const at = upTo();
        if (opaque !== undefined) {
          linkDiag(p, `entry ${p} lies beneath ${at}, a ${n.kind === 'l' ? 'symlink' : 'non-directory'} from a lower layer, and the layer's opaque marker of ${opaque} came after the entry: a runtime that unpacks in order ${n.kind === 'l' ? 'wrote it through the link' : 'could not unpack it'} before the marker removed ${at}, the image spec removes ${at} first; not judged`);
        }
        return;
      }
      if (opaque === undefined && late.has(n)) opaque = upTo();
    }
  };
  for (const p of analysis.paths) check(p);
  for (const t of analysis.transient ?? []) check(t.path);
}

/**
 * Where a hard link of a layer points, resolved in the layers below it: a file (its results), a
 * symlink (the link is one too, with the same text), nothing a link can be made to (`fails`: the
 * runtime refuses the layer), or a place the layer itself changes (`unsure`).
 */
type LinkTarget = { at: string; have: Placed[] } | { symlink: string | undefined } | { fails: string } | { unsure: string };

/**
 * A test for the paths `analysis` may have made something else than the lower layers have before
 * one of its hard links came, whatever the order of its entries: a non-directory it writes, a
 * directory it writes over a lower non-directory, a path it replaced (a non-directory, a symlink
 * maybe, stood there for a while). A whiteout or opaque marker only removes: before the link it
 * makes the link fail, after it the link holds the lower file; what the layer writes in place of
 * what it removed is one of the above. `index` is the tree below the layer.
 */
function changedBy(analysis: LayerAnalysis, index: Map<string, Node>): (v: string) => boolean {
  const nonDir = new Set<string>();
  const dirs = new Set<string>();
  analysis.paths.forEach((q, i) => (analysis.kinds[i] === 'd' ? dirs : nonDir).add(q));
  const replaced = new Set(analysis.replaced ?? []);
  return (v) => {
    if (nonDir.has(v) || replaced.has(v)) return true;
    const k = dirs.has(v) ? index.get(v)?.kind : undefined;
    return k !== undefined && k !== 'd';
  };
}

/** What {@link resolveInTree} needs to know of a path: its kind and, for a symlink, its target. */
export type StatFn = (p: string) => { kind: EntryKind; link?: string } | undefined;

/**
 * Resolves `p` inside the final tree the way a runtime resolves it inside the root (containerd's
 * RootPath): symlinks followed, `..` never above `/`. Undefined when the path does not exist or more
 * than {@link MAX_LINKS} links are followed (a loop). `visit` sees every path looked at on the way
 * (each one's parents were looked at before it). `budget.steps` is lowered by one per segment
 * walked or read from a link's text, and by one more per {@link CHARGE_CHARS} characters of a long
 * path walked (looking it up costs its length); once it is below zero the walk stops with `null`
 * (a pusher controls the link texts, up to PATH_MAX each, and a walk repeats them for every link
 * that reaches them).
 */
export function resolveInTree(p: string, stat: StatFn, opts: { visit?: (q: string) => void; budget: { steps: number } }): string | undefined | null;
export function resolveInTree(p: string, stat: StatFn, opts?: { visit?: (q: string) => void }): string | undefined;
export function resolveInTree(p: string, stat: StatFn, opts: { visit?: (q: string) => void; budget?: { steps: number } } = {}): string | undefined | null {
  const segs = (s: string) => s.split('/').filter((x) => x && x !== '.');
  // Pending segments, read from the end: a link's text is pushed reversed, so following a link
  // costs its own length, never the rest of the path again.
  const pending = segs(p).reverse();
  // The paths resolved so far, one per segment (`/a`, `/a/b`): each extends the one before, so a
  // segment costs one concatenation, not a join of the whole path again.
  const done: string[] = [];
  let hops = 0;
  const budget = opts.budget;
  while (pending.length) {
    if (budget && --budget.steps < 0) return null;
    const seg = pending.pop()!;
    if (seg === '..') { done.pop(); continue; }
    const cur = `${done.length ? done[done.length - 1] : ''}/${seg}`;
    // Looking `cur` up costs its length: long ones are charged for it.
    if (budget && cur.length > CHARGE_CHARS && (budget.steps -= (cur.length / CHARGE_CHARS) | 0) < 0) return null;
    opts.visit?.(cur);
    const st = stat(cur);
    if (st === undefined) return undefined;
    if (st.kind === 'l') {
      if (++hops > MAX_LINKS) return undefined;
      const link = st.link ?? '';
      if (link.startsWith('/')) done.length = 0;
      const add = segs(link);
      // The link's segments are charged when they are read, so one long text costs once.
      if (budget && (budget.steps -= add.length) < 0) return null;
      for (let i = add.length - 1; i >= 0; i--) pending.push(add[i]!);
    } else done.push(cur);
  }
  return done.length ? done[done.length - 1]! : '/';
}

/**
 * Files an analyzer wants that the final filesystem reaches only through a symlink: the symlink's
 * own path (a symlinked `/var/lib/dpkg/status`) or a path beneath a symlinked directory
 * (`/var/lib/dpkg` → `/opt/x`), where the real file is not one that analyzer wants under its own name.
 * `named(alias, file)` is told of every file reached through a symlink under the name `alias`
 * (name-dependent readings), within the same budget.
 */
function checkSymlinkAliases(symlinks: Array<{ path: string; link: string }>, stat: (p: string) => Node | undefined, wantedBy: (p: string) => Analyzer[], diagnostics: { push(d: Diagnostic): void }, budget: number, named: (alias: string, f: string) => void): void {
  // One budget for the files looked at behind the links and the steps taken to resolve them.
  const work = { steps: budget };
  // "Read under its own name" is "wanted under its own name and read the same way there": the
  // walker handed it over then (or said why not), whatever the analyzer made of it; an analyzer
  // that reads another name another way (dpkg's status and `info/*.list`) read other content.
  for (const s of symlinks) {
    const base = dirName(s.path);
    const target = resolveInTree(s.link.startsWith('/') ? s.link : `${base === '/' ? '' : base}/${s.link}`, stat, { budget: work });
    if (target === null) {
      diagnostics.push({ code: 'symlink-check-limit', incomplete: true, message: `more than ${budget} steps of symlink resolution and files behind directory symlinks; the rest were not checked for package databases reached through a symlink` });
      return;
    }
    if (target === undefined) continue;
    const node = stat(target)!;
    const hidden: string[] = [];
    // `rel` is the file's path below the link (`/x/y`, '' for a link to a file); the target's
    // name is made only for the few files some analyzer wants under the alias.
    // `f` is the file the runtime reads at `alias`.
    const check = (alias: string, f: string) => {
      named(alias, f);
      const want = wantedBy(alias);
      if (!want.length) return;
      const missing = want.filter((a) => !readsAlike(a, alias, f));
      if (missing.length) hidden.push(`${alias} → ${f} (${missing.map((a) => a.name).join(', ')})`);
    };
    if (node.kind !== 'd') check(s.path, target);
    else {
      // A symlink inside the linked directory is followed too: the runtime reads through both (a
      // link to a directory holding a link to the database). `onPath` holds the directories entered
      // through a link on the way down; a link back to one of them is a loop (/usr/bin/X11 → .),
      // walked again at most LOOP_DEPTH times along one path: each time round adds segments, and a
      // loop can put a wanted name together (`/var/lib → /opt` with `/opt/dpkg → /opt` makes
      // `/var/lib/dpkg/status` read `/opt/status`).
      const onPath = new Set<string>([target]);
      const walk = (rel: string, real: string, n: Node, loops: number): void => {
        n.children?.forEach((c, name) => {
          // Every entry costs a step, directories too: M links to a directory of K empty
          // directories is M×K steps of work whatever the directories hold.
          if (--work.steps < 0) return;
          const r = `${rel}/${name}`;
          // The alias's `wants` tests cost its length, which loops multiply.
          const long = s.path.length + r.length;
          if (long > CHARGE_CHARS && (work.steps -= (long / CHARGE_CHARS) | 0) < 0) return;
          const f = `${real === '/' ? '' : real}/${name}`;
          if (c.kind === 'd') walk(r, f, c, loops);
          else if (c.kind === 'l') {
            const t = resolveInTree(f, stat, { budget: work });
            if (t === null || t === undefined) return;
            const tn = stat(t)!;
            if (tn.kind !== 'd') check(`${s.path}${r}`, t);
            else if (!onPath.has(t)) {
              onPath.add(t);
              walk(r, t, tn, loops);
              onPath.delete(t);
            } else if (loops < LOOP_DEPTH) walk(r, t, tn, loops + 1);
          } else check(`${s.path}${r}`, f);
        });
      };
      walk('', target, node, 0);
    }
    if (hidden.length) {
      diagnostics.push({
        code: 'package-db-link', path: s.path, incomplete: true,
        message: `${s.path} is a symlink to ${target}; a runtime reads ${hidden.length} file(s) through it that pushgate did not read under those names: ${hidden.slice(0, 3).join('; ')}${hidden.length > 3 ? '; …' : ''}. pushgate does not follow symlinks; not judged`,
      });
    }
    if (work.steps < 0) {
      diagnostics.push({ code: 'symlink-check-limit', incomplete: true, message: `more than ${budget} entries behind directory symlinks; the rest were not checked for package databases reached through a symlink` });
      return;
    }
  }
}

function resolveOs(hints: OsHint[]): OsInfo | undefined {
  if (!hints.length) return undefined;
  const best = [...hints].sort((a, b) => b.priority - a.priority)[0];
  let versionId = best.versionId;
  // Debian testing/sid os-release has no VERSION_ID; debian_version may still hold a number.
  if (best.id === 'debian' && !versionId) {
    const dv = hints.find((h) => h.priority === 40)?.versionId;
    versionId = debianMajor(dv) ?? undefined;
  }
  const os: OsInfo = { id: best.id, versionId, prettyName: best.prettyName, ecosystem: osvEcosystem(best.id, versionId, best.version) };
  if (best.idLike?.length) os.idLike = best.idLike;
  return os;
}

/**
 * An OS package as the image's OS names it (OS table, src/core/os-table.ts): the family's inventory
 * ecosystem (`Ubuntu`, `Red Hat`, `Amazon Linux`, …) and purl namespace when the package database is the
 * family's kind; otherwise (no OS found, an OS the table does not know, or a database of another kind)
 * the analyzer's own ecosystem, `RPM` for rpm databases, and the OS ID as the namespace.
 */
function fixOsPackage(p: FoundPackage, os: OsInfo | undefined): FoundPackage {
  const distro = os ? `${os.id}-${os.versionId ?? ''}`.replace(/-$/, '') : undefined;
  const kind = p.purl.startsWith('pkg:deb/') ? 'dpkg' : p.purl.startsWith('pkg:apk/') ? 'apk' : p.purl.startsWith('pkg:rpm/') ? 'rpm' : undefined;
  if (!kind) return p;
  const fam = familyOf(os?.id);
  const own = fam && fam.packageDb === kind ? fam : undefined;
  const eco = own?.inventoryEcosystem ?? (kind === 'rpm' ? UNKNOWN_RPM_ECOSYSTEM : p.ecosystem);
  if (kind === 'dpkg') {
    const epoch = /^(\d+):/.exec(p.version)?.[1];
    const ns = own?.purlNamespace ?? os?.id ?? 'debian';
    return { ...p, ecosystem: eco, purl: formatPurl({ type: 'deb', namespace: ns, name: p.name, version: p.version.replace(/^\d+:/, ''), qualifiers: { arch: p.arch, epoch, distro } }) };
  }
  if (kind === 'apk') {
    const ns = own?.purlNamespace ?? os?.id ?? 'alpine';
    return { ...p, ecosystem: eco, purl: formatPurl({ type: 'apk', namespace: ns, name: p.name, version: p.version, qualifiers: { arch: p.arch, distro: os?.versionId } }) };
  }
  const ns = own?.purlNamespace ?? os?.id ?? 'redhat';
  return { ...p, ecosystem: eco, purl: formatPurl({ type: 'rpm', namespace: ns, name: p.name, version: p.version.replace(/^\d+:/, ''), qualifiers: { arch: p.arch, epoch: p.epoch ? String(p.epoch) : undefined, distro } }) };
}

/** Ecosystems OS package analyzers write and {@link fixOsPackage} rewrites (every OS table family, `RPM`). */
const OS_ECOSYSTEMS: ReadonlySet<string> = new Set(osInventoryEcosystems());

/** Builds the final inventory from the stacked results. */
export function buildInventory(placed: Placed[], extraDiagnostics: Diagnostic[]): Inventory {
  const hints: OsHint[] = [];
  for (const { r } of placed) {
    if (r.out.os) hints.push(r.out.os);
  }
  // Which OS package owns each file (thousands of names in a distribution's base image): needed
  // only for a package of another ecosystem, so built on the first one.
  let owners: Map<string, string> | undefined;
  const ownerOf = (file: string): string | undefined => {
    if (!owners) {
      owners = new Map();
      for (const { r } of placed) for (const o of r.out.ownedFiles ?? []) for (const f of o.files) owners.set(f, o.owner);
    }
    return owners.get(file);
  };
  const os = resolveOs(hints);
  const packages: Package[] = [];
  const installed = new Set<string>();
  const found: Array<{ p: FoundPackage; layer?: Digest; analyzer: string }> = [];
  for (const { r, layer } of placed) {
    for (const p of r.out.packages ?? []) {
      found.push({ p, layer, analyzer: r.analyzer });
      if (!p.installPath && p.path.endsWith('/package.json')) installed.add(`${p.path.slice(0, -'/package.json'.length)}\0${p.name}\0${p.version}`);
    }
  }
  for (const { p, layer, analyzer } of found) {
    if (p.installPath && installed.has(`${p.installPath}\0${p.name}\0${p.version}`)) continue;
    const fixed = OS_ECOSYSTEMS.has(p.ecosystem) ? fixOsPackage(p, os) : p;
    const { installPath: _i, epoch: _e, ...rest } = fixed;
    void _i; void _e;
    const pkg: Package = { ...rest, layer, analyzer };
    if (!OS_ECOSYSTEMS.has(pkg.ecosystem)) {
      const owner = ownerOf(pkg.path);
      if (owner) pkg.ownedBy = owner;
    }
    packages.push(pkg);
  }
  const secrets: SecretFinding[] = [];
  // os-release alone picks the advisories: it must name the OS the package database describes.
  const mismatch = osClaimMismatch(os, found.filter(({ p }) => OS_ECOSYSTEMS.has(p.ecosystem)).map(({ p }) => p));
  // the layers' capped lists and every analyzer's own (one per malformed file): capped per code for the image
  const diagnostics = new DiagnosticCap([]);
  for (const d of extraDiagnostics) diagnostics.push(d);
  if (mismatch) diagnostics.push(mismatch);
  for (const { r, layer } of placed) {
    for (const s of r.out.secrets ?? []) secrets.push({ ...s, layer });
    for (const d of r.out.diagnostics ?? []) diagnostics.push(d);
  }
  return { os, packages, secrets, config: [], diagnostics: diagnostics.withSummaries() };
}
