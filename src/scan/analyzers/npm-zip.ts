/**
 * lang/npm-zip: npm packages inside zip archives, as Yarn's Plug'n'Play runtime loads them. A Yarn 2+
 * project installed with the `pnp` linker has no `node_modules`: `.pnp.cjs` points each package at a
 * directory inside a zip of the cache (`.yarn/cache/lodash-npm-4.17.20-….zip/node_modules/lodash/`), and
 * its file system layer (@yarnpkg/fslib ZipOpenFS, `getArchivePart(path, ".zip")`) opens any path segment
 * that ends in `.zip` (case-sensitive, at least one character before it) as a directory. Such an image
 * without its `yarn.lock` ran lodash 4.17.20 (the real yarn and node) while the scan saw no package.
 *
 * Every `*.zip` file is read (the cache folder, `cacheFolder` in `.yarnrc.yml`, and the paths in
 * `.pnp.cjs` are the author's to choose); each entry that is an installed package.json by
 * {@link isInstalledPackageJson} (`node_modules/NAME/package.json`, scoped, nested) is one package, at the
 * path Node sees (`/app/.yarn/cache/x.zip/node_modules/lodash/package.json`). A zip that cannot be read
 * and holds the bytes `node_modules/` is incomplete (`parse-error`); other unreadable zips are data.
 */
import fs from 'node:fs';
import { posix } from 'node:path';
import type { Diagnostic } from '../../core/index.js';
import type { Analyzer, AnalyzerOutput, FoundPackage } from './types.js';
import { isInstalledPackageJson, npmAnalyzer, parseInstalledPackageJson } from './npm.js';
import { eachZipEntry, entryNames, openZip, readEntryText, type ZipEntry } from './zip.js';

/** Most entries looked at per archive (zip-bomb guard), as the Java archive reader. */
const MAX_ENTRIES = 200_000;
const NODE_MODULES = Buffer.from('node_modules/', 'latin1');

/** True when `file` holds the bytes `node_modules/` anywhere (read in 1 MiB chunks, a name split across two found too). */
function mentionsNodeModules(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(1024 * 1024);
    let tail = Buffer.alloc(0);
    for (let pos = 0; ;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, pos);
      if (n <= 0) return false;
      const view = Buffer.concat([tail, chunk.subarray(0, n)]);
      if (view.indexOf(NODE_MODULES) >= 0) return true;
      tail = Buffer.from(view.subarray(Math.max(0, view.length - (NODE_MODULES.length - 1))));
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The npm packages of a zip archive at `display` (spilled to `file`).
 * @param maxJson largest package.json read, in bytes (over it: `file-too-large`, incomplete)
 */
export async function readNpmZip(file: string, display: string, maxJson: number): Promise<AnalyzerOutput | undefined> {
  let zip: Awaited<ReturnType<typeof openZip>>;
  try {
    zip = await openZip(file);
  } catch (err) {
    if (!mentionsNodeModules(file)) return undefined;
    return { diagnostics: [{ code: 'parse-error', path: display, message: `lang/npm-zip: a zip naming node_modules/ that cannot be read (Yarn's Plug'n'Play loads packages from zips): ${err instanceof Error ? err.message : String(err)}`, incomplete: true }] };
  }
  const packages: FoundPackage[] = [];
  const diagnostics: Diagnostic[] = [];
  await eachZipEntry(zip, { analyzer: 'lang/npm-zip', display, maxEntries: MAX_ENTRIES, diagnostics }, async (e: ZipEntry) => {
    // The path each name resolves to in Yarn's ZipFS (`ppath.resolve("/", name)`: `./`, `//` and `.` segments
    // dropped), so `node_modules//lodash/package.json` is lodash's package.json there and here.
    const inners = [...new Set(entryNames(e).map((n) => `${display}${posix.resolve('/', n)}`))].filter(isInstalledPackageJson);
    if (!inners.length) return;
    if (e.uncompressedSize > maxJson) {
      for (const inner of inners) diagnostics.push({ code: 'file-too-large', path: inner, message: `lang/npm-zip: ${e.uncompressedSize} bytes is over the ${maxJson}-byte limit; not analyzed`, incomplete: true });
      return;
    }
    const text = await readEntryText(zip, e, maxJson);
    for (const inner of inners) {
      try {
        const p = parseInstalledPackageJson(text, inner);
        if (p) packages.push(p);
      } catch (err) {
        diagnostics.push({ code: 'parse-error', path: inner, message: `lang/npm-zip: ${err instanceof Error ? err.message : String(err)}`, incomplete: true });
      }
    }
  });
  if (!packages.length && !diagnostics.length) return undefined;
  return { packages, diagnostics: diagnostics.length ? diagnostics : undefined };
}

/** A path segment Yarn's ZipOpenFS opens as an archive: `NAME.zip`, `NAME` not empty. */
const ZIP_NAME = /\/[^/]+\.zip$/;

/** The analyzer. */
export const npmZipAnalyzer: Analyzer = {
  name: 'lang/npm-zip',
  version: 1,
  maxSize: 2 * 1024 ** 3,
  spill: true,
  wants: (e) => ZIP_NAME.test(e.path),
  names: { extensions: ['.zip'] },
  async analyze(input) {
    if (!input.file) return undefined;
    return readNpmZip(input.file, input.path, npmAnalyzer.maxSize);
  },
};
