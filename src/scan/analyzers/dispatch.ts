/**
 * Which analyzers to ask about a regular file, decided by its name with a few hash look-ups instead
 * of every analyzer's `wants` (17 calls per file, most of them regular expressions that cannot
 * match). Each analyzer may declare {@link WantedNames}: a superset of the paths its `wants` accepts
 * (exact paths, base names, extensions, directories). The dispatch, built once per analyzer list,
 * answers with the analyzers whose names match the file, plus every analyzer that declares none;
 * the walker then asks those analyzers' `wants`, which still decides. So a declaration can only
 * make the walker skip an analyzer that would have said no: the analyzers asked and their answers
 * are the same as asking all of them (test/unit/analyzer-dispatch.test.ts checks the superset for
 * every analyzer over generated paths).
 */
import type { Analyzer } from './types.js';

/**
 * Analyzers a dispatch tells apart by bit (bits 0..29 of a number V8 keeps as a small integer); the
 * ones after them in a longer list are always asked ({@link WantsDispatch.candidates}).
 */
export const DISPATCH_BITS = 30;

/**
 * The names an analyzer may want, as {@link Analyzer.names} declares them: a path matches when it
 * matches any of the lists. Together they must hold every path the analyzer's `wants` accepts (it
 * may accept fewer); an analyzer whose `wants` looks at more than the name (size, mode) or at no
 * particular name declares none.
 */
export interface WantedNames {
  /** Absolute, cleaned paths (`/var/lib/dpkg/status`). */
  paths?: readonly string[];
  /** Base names (`package.json`), matched exactly. */
  baseNames?: readonly string[];
  /**
   * Endings of the base name from its last `.` (`.jar` for `app.jar`, `.json` for `x.deps.json`),
   * written in lower case and matched without regard to ASCII case (`App.JAR` has `.jar`).
   */
  extensions?: readonly string[];
  /** Directories, with their trailing `/` (`/var/lib/dpkg/`): every path beneath one, at any depth. */
  under?: readonly string[];
}

/** Adds `bit` to the mask kept for `key` in `m`. */
function addBit(m: Map<string, number>, key: string, bit: number): void {
  m.set(key, (m.get(key) ?? 0) | bit);
}

/**
 * The analyzers of one list that may want a regular file, by the file's name. Build once per list
 * (the walker does, per layer); {@link candidates} allocates nothing but the base name's slices.
 */
export class WantsDispatch {
  /** Bits of the analyzers asked about every file (they declare no names). */
  private readonly always: number = 0;
  private readonly exact = new Map<string, number>();
  private readonly base = new Map<string, number>();
  private readonly ext = new Map<string, number>();
  /** Directory prefixes and their bits, in two arrays of one length. */
  private readonly underDirs: string[] = [];
  private readonly underBits: number[] = [];

  constructor(analyzers: readonly Analyzer[]) {
    const n = Math.min(analyzers.length, DISPATCH_BITS);
    for (let i = 0; i < n; i++) {
      const bit = 1 << i;
      const names = analyzers[i]!.names;
      if (!names) {
        this.always |= bit;
        continue;
      }
      for (const p of names.paths ?? []) addBit(this.exact, p, bit);
      for (const b of names.baseNames ?? []) addBit(this.base, b, bit);
      for (const x of names.extensions ?? []) {
        if (!x.startsWith('.') || x.slice(1).includes('.') || x !== x.toLowerCase()) throw new Error(`${analyzers[i]!.name}: extension "${x}" is not a lower-case ".ext" without another dot`);
        addBit(this.ext, x, bit);
      }
      for (const d of names.under ?? []) {
        if (!d.startsWith('/') || !d.endsWith('/')) throw new Error(`${analyzers[i]!.name}: directory "${d}" is not absolute with a trailing "/"`);
        const at = this.underDirs.indexOf(d);
        if (at >= 0) this.underBits[at]! |= bit;
        else {
          this.underDirs.push(d);
          this.underBits.push(bit);
        }
      }
    }
  }

  /**
   * The analyzers that may want the regular file at `p` (absolute, cleaned; `slash` its last `/`):
   * bit `i` set for the list's analyzer `i` among the first {@link DISPATCH_BITS}; every analyzer
   * after those is to be asked whatever the answer.
   */
  candidates(p: string, slash: number): number {
    let m = this.always | (this.exact.get(p) ?? 0);
    const name = p.slice(slash + 1);
    m |= this.base.get(name) ?? 0;
    const dot = name.lastIndexOf('.');
    // A name that is only an extension (`.jar`) has it too: a regular expression `\.jar$` accepts it.
    if (dot >= 0) m |= this.ext.get(name.slice(dot).toLowerCase()) ?? 0;
    // Every step runs for every file, whether the directory matches or not: a step first run on the
    // first file beneath a directory (dpkg's, deep into a Debian layer) had no type feedback once V8
    // had optimized this, which threw that code away.
    const dirs = this.underDirs;
    const bits = this.underBits;
    for (let i = 0; i < dirs.length; i++) {
      const bit = bits[i]!;
      m |= p.startsWith(dirs[i]!) ? bit : 0;
    }
    return m;
  }

  /**
   * The part of {@link candidates} that depends on the directory alone, for the files directly in
   * `dir` (absolute, cleaned, `/` for the root): with {@link candidatesIn}, the same answer as
   * `candidates(p, …)` for every `p` that is `dir` joined with a name, worked out once for all the
   * directory's files instead of once per file (thousands behind a merged /usr's directory
   * symlinks). A path of `dir/name` lies beneath an `under` directory exactly when `dir/` does
   * (such a directory ends with `/`, and a name holds none), and equals an exact path exactly when
   * that path's directory is `dir` and its name `name`.
   */
  inDirectory(dir: string): DirectoryCandidates {
    const prefix = dir === '/' ? '/' : `${dir}/`;
    let bits = this.always;
    for (let i = 0; i < this.underDirs.length; i++) if (prefix.startsWith(this.underDirs[i]!)) bits |= this.underBits[i]!;
    let exact: Map<string, number> | undefined;
    for (const [p, b] of this.exact) {
      if (p.length > prefix.length && p.startsWith(prefix) && p.indexOf('/', prefix.length) < 0) (exact ??= new Map()).set(p.slice(prefix.length), b);
    }
    return { bits, exact };
  }

  /**
   * {@link candidates} of the file `name` (no `/`, not empty) in the directory `dir` was made for
   * ({@link inDirectory}): the same bits as `candidates(dir/name, …)`.
   */
  candidatesIn(dir: DirectoryCandidates, name: string): number {
    let m = dir.bits | (dir.exact?.get(name) ?? 0);
    m |= this.base.get(name) ?? 0;
    const dot = name.lastIndexOf('.');
    if (dot >= 0) m |= this.ext.get(name.slice(dot).toLowerCase()) ?? 0;
    return m;
  }
}

/** What {@link WantsDispatch.inDirectory} works out once for the files of one directory. */
export interface DirectoryCandidates {
  /** Bits of the analyzers asked about every file there: those that declare no names, and those of an `under` directory above it. */
  readonly bits: number;
  /** Bits of the exact paths in the directory, by name (undefined: none). */
  readonly exact: ReadonlyMap<string, number> | undefined;
}
