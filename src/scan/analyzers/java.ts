/**
 * lang/java: Java archives (JAR, WAR, EAR and friends) and the archives nested in them, after
 * trivy's pkg/dependency/parser/java/jar/parse.go:
 * - every `META-INF/maven/GROUP/ARTIFACT/pom.properties` (groupId, artifactId, version) is one
 *   package (a shaded or fat jar carries several);
 * - an archive without any pom.properties falls back to its `META-INF/MANIFEST.MF`
 *   (Implementation-Vendor-Id / Implementation-Title / Implementation-Version, else
 *   Bundle-SymbolicName / Bundle-Version), and the artifact name and version from the file name
 *   (`NAME-VERSION.jar`) when the manifest has no version; such an archive's output keeps the
 *   manifest's fields (`byName`), so that its other names (hard links, symlinks) are read too
 *   ({@link javaAnalyzer}'s `foundUnder`): `x.jar` linked as `log4j-core-2.14.1.jar` is log4j-core
 *   2.14.1 to a scanner of the unpacked tree;
 * - nested `*.jar`/`*.war`/… entries, and every zip in Spring Boot's library folders whatever its
 *   name ({@link LOADER_LIB}), are extracted to the capped temp dir (never held in memory) and read
 *   the same way, to a depth of 4.
 * The walker spills the outer archive (random access: a zip's directory is at its end); yauzl
 * reads it. Package paths of nested archives are `OUTER!/INNER` (`/app.war!/WEB-INF/lib/x.jar`).
 * purl: `pkg:maven/GROUP/ARTIFACT@VERSION`; OSV ecosystem Maven, name `GROUP:ARTIFACT`.
 */
import fs from 'node:fs';
import type * as Yauzl from 'yauzl';
import type { Diagnostic } from '../../core/index.js';
import type { Analyzer, AnalyzerContext, AnalyzerOutput, EntryInfo, FoundPackage, StreamSink } from './types.js';
import { baseName } from './types.js';
import { formatPurl } from '../purl.js';
import { SpillFile } from '../spill.js';
import { entryStream, openZip, readEntryText } from './zip.js';

/** The empty carry every sink starts with: shared, not made per sink (an empty Buffer holds no bytes to change). */
const EMPTY = Buffer.alloc(0);

const ARCHIVE = /\.(?:jar|war|ear|par|sar|rar|jpi|hpi|kar)$/i;
/**
 * The library folders of Spring Boot's executable jar and war: its launcher puts every file entry under
 * them on the class path, whatever its name (spring-boot-loader JarLauncher/WarLauncher
 * `isNestedArchive`: `entry.getName().startsWith("BOOT-INF/lib/")`, and `WEB-INF/lib/`,
 * `WEB-INF/lib-provided/` for a war; the 3.2+ `launch` package keeps the rule). A library stored as
 * `BOOT-INF/lib/log4j-core` ran while the scanner, choosing nested archives by extension, never read it.
 * Case-sensitive, as the launcher compares.
 */
const LOADER_LIB = /^(?:BOOT-INF\/lib|WEB-INF\/lib|WEB-INF\/lib-provided)\/./;
/** A zip's first local file header (or an empty zip's end record), as a nested library must start. */
const ZIP_STARTS = [Buffer.from('PK\x03\x04', 'latin1'), Buffer.from('PK\x05\x06', 'latin1')];
const POM = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;
const MAX_DEPTH = 4;
/** Largest pom.properties / MANIFEST.MF read. */
const MAX_META = 1024 * 1024;
/** Most entries looked at per archive (zip-bomb guard). */
const MAX_ENTRIES = 200_000;

/** Parses `key=value` Java properties (comments and blank lines skipped; no escapes needed here). */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const l = raw.trim();
    if (!l || l[0] === '#' || l[0] === '!') continue;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(l);
    if (m) out[m[1]] = m[2].trim();
  }
  return out;
}

/** Parses a JAR manifest's main section (72-byte lines continued by a leading space). */
export function parseManifest(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let last: string | undefined;
  for (const l of text.split(/\r?\n/)) {
    if (l === '') break;
    if (l[0] === ' ' && last) { out[last] += l.slice(1); continue; }
    const i = l.indexOf(':');
    if (i <= 0) continue;
    last = l.slice(0, i).trim();
    out[last] = l.slice(i + 1).trim();
  }
  return out;
}

/** A Maven package. */
export function mavenPackage(group: string, artifact: string, version: string, path: string): FoundPackage {
  return {
    ecosystem: 'Maven', name: `${group}:${artifact}`, version, path,
    purl: formatPurl({ type: 'maven', namespace: group, name: artifact, version }),
  };
}

/** `commons-lang3-3.12.0.jar` → name and version (trivy's jar file-name pattern). */
export function nameFromFile(file: string): { artifact: string; version?: string } {
  const b = baseName(file).replace(ARCHIVE, '');
  const m = /^(.+?)-(\d[\w.+-]*)$/.exec(b);
  return m ? { artifact: m[1], version: m[2] } : { artifact: b };
}

/** The manifest fields {@link packageFromManifest} reads: kept for reading the archive under another name. */
const NAME_FIELDS = ['Implementation-Version', 'Bundle-Version', 'Specification-Version', 'Bundle-SymbolicName', 'Implementation-Vendor-Id', 'Implementation-Title'] as const;

/** The manifest fallback: a package when group, artifact and version can all be told. */
export function packageFromManifest(mf: Record<string, string>, file: string, path: string): FoundPackage | undefined {
  const fromName = nameFromFile(file);
  const version = mf['Implementation-Version'] ?? mf['Bundle-Version'] ?? mf['Specification-Version'] ?? fromName.version;
  const bsn = mf['Bundle-SymbolicName']?.split(';')[0].trim();
  const group = mf['Implementation-Vendor-Id'] ?? (bsn && bsn.includes('.') ? bsn.slice(0, bsn.lastIndexOf('.')) : undefined);
  const artifact = fromName.artifact || mf['Implementation-Title'];
  if (!group || !artifact || !version) return undefined;
  return mavenPackage(group, artifact, version, path);
}

function readSmall(zip: Yauzl.ZipFile, e: Yauzl.Entry): Promise<string> {
  return readEntryText(zip, e, MAX_META);
}

/** True when the file starts with a zip header ({@link ZIP_STARTS}). */
function startsAsZip(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    const n = fs.readSync(fd, b, 0, 4, 0);
    return n === 4 && ZIP_STARTS.some((z) => z.equals(b));
  } finally {
    fs.closeSync(fd);
  }
}

/** Copies a nested archive to a spill file under the budget; undefined when the cap refuses it. */
async function spillEntry(zip: Yauzl.ZipFile, e: Yauzl.Entry, ctx: AnalyzerContext): Promise<SpillFile | undefined> {
  const f = new SpillFile(ctx.spill, 'jar');
  for await (const c of await entryStream(zip, e)) {
    if (!f.write(c as Buffer)) return undefined;
  }
  f.close();
  return f;
}

/**
 * Reads one archive file (and, recursively, the archives inside it).
 * @param display the package path for this archive (`/app.war` or `/app.war!/WEB-INF/lib/x.jar`)
 */
export async function readArchive(file: string, display: string, ctx: AnalyzerContext, depth = 0, seenMeta?: { java: boolean }): Promise<AnalyzerOutput> {
  const packages: FoundPackage[] = [];
  const diagnostics: Diagnostic[] = [];
  const zip = await openZip(file);
  const nested: Yauzl.Entry[] = [];
  let manifest: Record<string, string> | undefined;
  let byName: AnalyzerOutput['byName'];
  let seen = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', resolve);
      zip.on('entry', (e: Yauzl.Entry) => {
        if (++seen > MAX_ENTRIES) { diagnostics.push({ code: 'archive-limit', path: display, message: `java: more than ${MAX_ENTRIES} entries; the rest was not read`, incomplete: true }); resolve(); return; }
        const name = e.fileName;
        const step = async () => {
          if (seenMeta && (POM.test(name) || name === 'META-INF/MANIFEST.MF')) seenMeta.java = true;
          if (POM.test(name)) {
            const p = parseProperties(await readSmall(zip, e));
            if (p.groupId && p.artifactId && p.version) packages.push(mavenPackage(p.groupId, p.artifactId, p.version, display));
          } else if (name === 'META-INF/MANIFEST.MF') {
            manifest = parseManifest(await readSmall(zip, e));
          } else if ((ARCHIVE.test(name) || LOADER_LIB.test(name)) && !name.endsWith('/')) {
            nested.push(e);
          }
        };
        step().then(() => zip.readEntry(), reject);
      });
      zip.readEntry();
    });
    if (!packages.length && manifest) {
      const p = packageFromManifest(manifest, display.split('!/').pop()!, display);
      if (p) packages.push(p);
      // The outer archive's file name took part: its other names in the image may read otherwise.
      if (depth === 0) {
        const kept: Record<string, string> = {};
        for (const k of NAME_FIELDS) if (manifest[k] !== undefined) kept[k] = manifest[k];
        byName = { manifest: kept };
      }
    }
    for (const e of nested) {
      const inner = `${display}!/${e.fileName}`;
      if (depth + 1 > MAX_DEPTH) {
        diagnostics.push({ code: 'archive-depth', path: inner, message: `java: archives nested more than ${MAX_DEPTH} deep are not read` });
        continue;
      }
      let spilled: SpillFile | undefined;
      try {
        spilled = await spillEntry(zip, e, ctx);
        if (!spilled) {
          diagnostics.push({ code: 'spill-limit', path: inner, message: `java: ${e.uncompressedSize} bytes do not fit in the scan's temp-space limit; not analyzed`, incomplete: true });
          continue;
        }
        // A file in a launcher's library folder under another name is read when it is a zip; one that is
        // not is no library (the launcher cannot open it, and the application does not start).
        if (!ARCHIVE.test(e.fileName) && !startsAsZip(spilled.file)) continue;
        const r = await readArchive(spilled.file, inner, ctx, depth + 1);
        packages.push(...(r.packages ?? []));
        diagnostics.push(...(r.diagnostics ?? []));
      } catch (err) {
        diagnostics.push({ code: 'parse-error', path: inner, message: `java: ${err instanceof Error ? err.message : String(err)}`, incomplete: true });
      } finally {
        spilled?.release();
      }
    }
  } finally {
    zip.close();
  }
  return byName ? { packages, diagnostics: diagnostics.length ? diagnostics : undefined, byName } : { packages, diagnostics: diagnostics.length ? diagnostics : undefined };
}

/** The analyzer. */
export const javaAnalyzer: Analyzer = {
  name: 'lang/java',
  // 2: `byName` for archives read through their manifest (names from links).
  // 3: files of Spring Boot's library folders read whatever their name.
  version: 3,
  maxSize: 2 * 1024 ** 3,
  spill: true,
  wants: (e) => ARCHIVE.test(e.path),
  names: { extensions: ['.jar', '.war', '.ear', '.par', '.sar', '.rar', '.jpi', '.hpi', '.kar'] },
  async analyze(input, ctx) {
    if (!input.file || fs.statSync(input.file).size < 22) return undefined;
    const out = await readArchive(input.file, input.path, ctx);
    return out.packages?.length || out.diagnostics?.length || out.byName ? out : undefined;
  },
  foundUnder(out, from, to) {
    const mf = (out.byName as { manifest?: Record<string, string> } | undefined)?.manifest;
    if (!mf) return undefined;
    const under = packageFromManifest(mf, to, to);
    if (!under) return undefined;
    const at = packageFromManifest(mf, from, from);
    // The same package under both names (Debian's `foo-1.2.jar → foo.jar` with a versioned
    // manifest) adds nothing.
    return at && at.name === under.name && at.version === under.version ? undefined : { packages: [under] };
  },
};

const META_UP = Buffer.from('META-INF/', 'latin1');
const META_LOW = Buffer.from('meta-inf/', 'latin1');

/** A zip local file header: every Java archive's first bytes. */
const ZIP_LOCAL = Buffer.from('PK\x03\x04', 'latin1');

/**
 * True when a zip's first local header (at `b`'s start) names an entry under `META-INF/`: `jar`, Maven
 * and Gradle write `META-INF/` or `META-INF/MANIFEST.MF` first.
 */
function firstEntryIsMeta(b: Buffer): boolean {
  if (b.length < 30) return false;
  const n = b.readUInt16LE(26);
  return b.length >= 30 + n && b.toString('latin1', 30, 30 + Math.min(n, 9)) === 'META-INF/';
}

/**
 * The sink of {@link javaContentAnalyzer}: decides at the first four bytes (a zip local header, or
 * nothing more is kept), spills a zip to the capped temp dir as it passes, and reads it as a Java
 * archive at the end.
 */
class ZipSniffSink implements StreamSink {
  private state: 'head' | 'copy' | 'skip' = 'head';
  private head: Buffer[] = [];
  private headLen = 0;
  private first?: Buffer;
  private spill?: SpillFile;
  private overflow = false;
  /** A `META-INF/` name was seen in the bytes: a Java archive even when not listed first. */
  private sawMeta = false;
  /** The last bytes of the previous chunk, for a name split across chunks. */
  private carry = EMPTY;

  constructor(private readonly e: EntryInfo, private readonly ctx: AnalyzerContext) {}

  /**
   * Looks for a `META-INF/` name in `c`. `java -jar` finds the manifest through the central directory
   * wherever its entry is, and a class path reads a zip with bytes after its end record that yauzl
   * refuses: such a jar whose first entry is a class runs, and the scanner, deciding by the first
   * entry alone, dropped it unread and complete. Names are plain bytes in the local headers and the
   * central directory; the two spellings tools write are searched (Buffer.indexOf, no copy of the chunk).
   */
  private lookForMeta(c: Buffer): void {
    if (this.carry.length) {
      const joint = Buffer.concat([this.carry, c.subarray(0, META_UP.length - 1)]);
      if (joint.indexOf(META_UP) >= 0 || joint.indexOf(META_LOW) >= 0) { this.sawMeta = true; return; }
    }
    if (c.indexOf(META_UP) >= 0 || c.indexOf(META_LOW) >= 0) { this.sawMeta = true; return; }
    this.carry = Buffer.from(c.subarray(Math.max(0, c.length - (META_UP.length - 1))));
  }

  write(c: Buffer): void {
    if (this.state === 'skip') return;
    if (this.overflow) { if (!this.sawMeta) this.lookForMeta(c); return; }
    if (this.state === 'head') {
      if (this.headLen === 0 && c.length >= 4 && !c.subarray(0, 4).equals(ZIP_LOCAL)) { this.state = 'skip'; return; }
      this.head.push(c);
      this.headLen += c.length;
      if (this.headLen < 4 && this.headLen < this.e.size) return;
      const b = this.head.length === 1 ? this.head[0]! : Buffer.concat(this.head);
      this.head = [];
      if (!b.subarray(0, 4).equals(ZIP_LOCAL)) { this.state = 'skip'; return; }
      this.first = Buffer.from(b.subarray(0, Math.min(b.length, 64)));
      this.spill = new SpillFile(this.ctx.spill, 'jar');
      this.state = 'copy';
      c = b;
    }
    if (!this.sawMeta) this.lookForMeta(c);
    if (!this.spill!.write(c)) { this.overflow = true; this.spill!.release(); }
  }

  /**
   * Synchronous for a file that is no zip (almost every file of an image: this sink sees every file
   * of at least 22 bytes) or one that did not fit: a promise per file made the tar reader stop and
   * resume on a later tick for each of them (walker.ts `end`). A spilled zip is read asynchronously.
   */
  end(): AnalyzerOutput | undefined | Promise<AnalyzerOutput | undefined> {
    if (this.overflow) {
      try {
        // A zip without a META-INF/ name that does not fit is left alone (data, not code).
        return this.isJava() ? { diagnostics: [{ code: 'spill-limit', path: this.e.path, message: `lang/java-content: a Java archive of ${this.e.size} bytes under a name without an archive extension does not fit in the scan's temp-space limit (${this.ctx.spill.limitBytes} bytes, config scan.tmpDirLimit); not analyzed`, incomplete: true }] } : undefined;
      } finally {
        this.spill?.release();
      }
    }
    if (this.state !== 'copy' || !this.spill) {
      this.spill?.release();
      return undefined;
    }
    return this.readSpilled(this.spill);
  }

  /** A zip (its first entry or a `META-INF/` name in its bytes says so): `META-INF/MANIFEST.MF` or Maven metadata at its top. */
  private isJava(): boolean {
    return this.first !== undefined && (firstEntryIsMeta(this.first) || this.sawMeta);
  }

  /** Reads the spilled zip (released after). */
  private async readSpilled(spill: SpillFile): Promise<AnalyzerOutput | undefined> {
    try {
      const java = this.isJava();
      spill.close();
      const meta = { java: false };
      let out: AnalyzerOutput;
      try {
        out = await readArchive(spill.file, this.e.path, this.ctx, 0, meta);
      } catch (err) {
        return java ? { diagnostics: [{ code: 'parse-error', path: this.e.path, message: `lang/java-content: a Java archive that cannot be read: ${err instanceof Error ? err.message : String(err)}`, incomplete: true }] } : undefined;
      }
      // Only a Java archive (a manifest or Maven metadata at its top) is what `java -jar` or a class
      // path runs; other zips (wheels, documents, data) are not read further.
      if (!meta.java) return undefined;
      return out.packages?.length || out.diagnostics?.length || out.byName ? out : undefined;
    } finally {
      spill.release();
    }
  }

  abort(): void {
    this.spill?.release();
  }
}

/**
 * lang/java-content: Java archives under any other name (`app.bin`, `service`, no extension), found
 * by content: `java -jar FILE` and a class path read a zip whatever it is called, and the name is the
 * pusher's choice. Trivy and syft find Java archives by extension only; pushgate looks at the first
 * four bytes of every file of at least 22 bytes (the smallest zip) and up to {@link javaAnalyzer}'s 2 GiB
 * limit, spills those that start with a zip local header to the capped temp dir, and reports the
 * ones with a `META-INF/MANIFEST.MF` or `pom.properties` as {@link javaAnalyzer} reports a `.jar`.
 * A zip with a `META-INF/` name anywhere (first entry or not) that cannot be read or does not fit is
 * incomplete.
 * Archive names {@link javaAnalyzer} reads are left to it. Not found: an archive behind a prefix (a
 * launch script before the zip, which `java -jar` accepts) under a name without an archive extension.
 */
export const javaContentAnalyzer: Analyzer = {
  name: 'lang/java-content',
  // 3: as lang/java 3 (Spring Boot library folders).
  version: 3,
  maxSize: 2 * 1024 ** 3,
  wants: (e) => e.size >= 22 && e.size <= 2 * 1024 ** 3 && !ARCHIVE.test(e.path),
  stream: (e, ctx) => new ZipSniffSink(e, ctx),
};
