// Whether dist/ was compiled from the sources as they are now (used by bin/pushgate.js on every start
// in a checkout, and written by scripts/build.mjs after a build). Plain JavaScript, node: built-ins only:
// it runs before anything is compiled.
//
// The stamp (dist/.build-stamp.json) holds two fingerprints of the inputs of the build (every file
// under src/ and ui/, the tsconfig files and package.json):
// - `content`: sha256 over each file's relative path and bytes. This decides.
// - `stat`: each file's path, size, mtime and ctime, one line each. A cheap first look (stat calls,
//   no reads, no hashing): when it matches, nothing was written since the build (any write moves
//   ctime, which no tool can set back), so dist/ is current without reading the sources. When it
//   does not (a checkout that touched files without changing them, a copied tree), the content decides.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** The stamp file, relative to the repository root. */
const STAMP = path.join('dist', '.build-stamp.json');

/** Directories of the build's inputs: the server (src/) and the console's page (ui/, bundled into dist/ui/). */
const INPUT_DIRS = ['src', 'ui'];

/** Inputs of the build besides those directories: a change to any of them can change the output. */
const EXTRA_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'scripts/build.mjs'];

/**
 * Every input file of the build, as paths relative to `root` with `/` separators, sorted.
 * @param {string} root repository root
 * @returns {string[]}
 */
function buildInputs(root) {
  const files = [];
  for (const dir of INPUT_DIRS) {
    const abs = path.join(root, dir);
    if (dir !== 'src' && !fs.existsSync(abs)) continue;
    files.push(...fs.readdirSync(abs, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => path.relative(root, path.join(d.parentPath ?? d.path, d.name)).split(path.sep).join('/')));
  }
  for (const f of EXTRA_INPUTS) if (fs.existsSync(path.join(root, f))) files.push(f);
  return files.sort();
}

// node:crypto is loaded only when the content must decide (it is not free to load, and the
// start of `pushgate --version` pays for everything here).

/**
 * Cheap fingerprint of `files`: path, size, mtime and ctime (nanoseconds) of each, one line per file.
 * @param {string} root
 * @param {string[]} files from {@link buildInputs}
 * @returns {string}
 */
function statFingerprint(root, files) {
  let out = '';
  for (const f of files) {
    const s = fs.statSync(path.join(root, f), { bigint: true });
    out += `${f} ${s.size} ${s.mtimeNs} ${s.ctimeNs}\n`;
  }
  return out;
}

/**
 * Content fingerprint of `files`: path and bytes of each.
 * @param {string} root
 * @param {string[]} files from {@link buildInputs}
 * @returns {string} hex sha256
 */
function contentFingerprint(root, files) {
  const h = require('node:crypto').createHash('sha256');
  for (const f of files) {
    const body = fs.readFileSync(path.join(root, f));
    h.update(`${f}\0${body.length}\0`);
    h.update(body);
  }
  return h.digest('hex');
}

/**
 * Whether dist/ under `root` is the build of the current sources: its stamp exists and names the
 * sources' content. False for a missing or unreadable stamp; never throws for a missing dist/.
 * @param {string} root
 * @returns {boolean}
 */
function distIsCurrent(root) {
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(path.join(root, STAMP), 'utf8'));
  } catch {
    return false;
  }
  if (!stamp || typeof stamp.content !== 'string') return false;
  let files;
  try {
    files = buildInputs(root);
    if (stamp.stat === statFingerprint(root, files)) return true;
    return stamp.content === contentFingerprint(root, files);
  } catch {
    return false; // a source vanished while we looked: the next start decides
  }
}

/**
 * Writes the stamp for the sources as they are now. `contentBefore` is the content fingerprint
 * taken before compiling: when the sources changed during the build, no stamp is written (dist/
 * then counts as stale) and false is returned.
 * @param {string} root
 * @param {string} contentBefore
 * @returns {boolean}
 */
function writeStamp(root, contentBefore) {
  const files = buildInputs(root);
  // stat before content: a file written after its stat was taken fails the stat check at start, and
  // then its content decides.
  const stat = statFingerprint(root, files);
  const content = contentFingerprint(root, files);
  if (content !== contentBefore) return false;
  const stamp = { content, stat, files: files.length, builtAt: new Date().toISOString() };
  fs.writeFileSync(path.join(root, STAMP), `${JSON.stringify(stamp, null, 2)}\n`);
  return true;
}

module.exports = { STAMP, buildInputs, statFingerprint, contentFingerprint, distIsCurrent, writeStamp };
