// Runs a CommonJS script (the command line bundled into one file, dist/chunks/cli.cjs) with a V8 code
// cache kept in the user's cache directory: Node 20 has no compile cache of its own
// (module.enableCompileCache is Node 22), and its ES module loader takes no cached data, but
// vm.Script does (as the v8-compile-cache package uses it). A run with a cache skips compiling what
// an earlier run of the same command compiled: the functions it ran, not just the top level.
//
// Safe by construction; the cache only ever saves time:
// - A cache file is named by a sha256 over the script's bytes, the Node and V8 versions, the
//   architecture, node's flags and the command: another build, Node, flags or command never reads it.
// - Its payload carries its own sha256, checked before V8 sees it (V8 checks the header of cached data,
//   not every byte of it in release builds): a truncated or corrupt file is ignored, and rewritten.
// - Cached data V8 rejects is ignored (it compiles from the source as without a cache), and rewritten.
// - A file or directory another user owns or group or others can write is not read: cached data is
//   code, and a shared cache directory must not give others a way into this user's process. Such a
//   directory is not written either (no run would use what is written).
// - Every read and write error is ignored; a cache is written at exit of a run that had none
//   (to a temporary file renamed into place: readers never see half a file), and replaces the
//   command's file of another build on the same Node with the same flags.
// Plain JavaScript, node: built-ins only: it runs before anything is compiled.

'use strict';
const { isAscii } = require('node:buffer');
const crypto = require('node:crypto');
const fs = require('node:fs');
const module_ = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

/** First bytes of a cache file, before the payload's sha256 (32 bytes) and the payload. */
const MAGIC = Buffer.from('pushgate-code-cache-1\n');

/**
 * The cache file of `source` for `command` under `dir`: `<command>-<runtime>-<key>.bin`, where
 * `runtime` is a sha256 (hex, 8 digits) of the Node and V8 versions, the architecture and node's
 * flags (command line and NODE_OPTIONS), and `key` one (40 digits) of those and the script's bytes. A new build replaces the file of
 * the same command and runtime ({@link writeCache}); another Node or other flags keep their own.
 * @param {string} dir
 * @param {Buffer} source the script's bytes
 * @param {string} command a short name (see {@link commandKey})
 * @param {string} [v8Flags] the V8 flags the process set for itself (v8.setFlagsFromString), as set
 * @returns {string}
 */
function cacheFileOf(dir, source, command, v8Flags = '') {
  // NODE_OPTIONS too: its V8 flags (--max-old-space-size, …) are not in execArgv, yet V8 rejects data
  // made under other flags; without it, runs with and without them would rewrite one file in turn.
  // So are the flags the process set itself (v8.setFlagsFromString), which neither shows.
  const runtime = `${process.version}\0${process.versions.v8}\0${process.arch}\0${process.execArgv.join(' ')}\0${process.env.NODE_OPTIONS ?? ''}\0${v8Flags}\0`;
  const r = crypto.createHash('sha256').update(runtime).digest('hex').slice(0, 8);
  const k = crypto.createHash('sha256').update(`${runtime}${command}\0`).update(source).digest('hex').slice(0, 40);
  return path.join(dir, `${command}-${r}-${k}.bin`);
}

/**
 * The commands of the CLI (src/cli/main.ts COMMANDS; test/unit/cli/code-cache.test.ts keeps the two
 * lists equal): each has its own cache, holding what that command compiles.
 */
const COMMAND_NAMES = ['scan', 'serve', 'db', 'versions', 'config', 'reconcile', 'store', 'monitor', 'affected'];

/**
 * The cache name of a command line (the arguments after `pushgate`): its first argument that is no
 * option when that is one of {@link COMMAND_NAMES}, else `other` (help, errors: one file for all);
 * `<command>-config` when it reads a configuration file (`--config FILE` before any `--`, or
 * PUSHGATE_CONFIG in `env`). Such a run also runs the YAML parser and the configuration validator,
 * which a run without one never compiles: a cache written by either kind would lack what the other
 * compiles, so each keeps its own.
 * @param {readonly string[]} args
 * @param {Record<string, string | undefined>} [env] the environment (default: this process's)
 * @returns {string}
 */
function commandKey(args, env = process.env) {
  const first = args.find((a) => !a.startsWith('-'));
  if (first === undefined || !COMMAND_NAMES.includes(first)) return 'other';
  const end = args.indexOf('--');
  const options = end < 0 ? args : args.slice(0, end);
  return env.PUSHGATE_CONFIG || options.some((a) => a === '--config' || a.startsWith('--config=')) ? `${first}-config` : first;
}

/**
 * Whether a file or directory's stat is one only this user can have written: owned by this user and
 * not writable by group or others (where POSIX owners exist). Cached data is code V8 runs: a cache
 * directory others can write (a shared PUSHGATE_CACHE_DIR) must not hand them this user's process.
 * @param {fs.Stats} st
 * @returns {boolean}
 */
function ownOnly(st) {
  if (typeof process.getuid !== 'function') return true;
  return st.uid === process.getuid() && (st.mode & 0o022) === 0;
}

/**
 * Whether `dir` exists and is not one {@link readCache} reads from.
 * @param {string} dir
 * @returns {boolean}
 */
function untrustedDir(dir) {
  try {
    return !ownOnly(fs.statSync(dir));
  } catch {
    return false;
  }
}

/**
 * The cached data in `file`, or undefined when there is none, it is not intact, or it or its
 * directory could have been written by another user.
 * @param {string} file
 * @returns {Buffer | undefined}
 */
function readCache(file) {
  let b;
  let fd;
  try {
    if (!ownOnly(fs.statSync(path.dirname(file)))) return undefined;
    fd = fs.openSync(file, 'r');
    if (!ownOnly(fs.fstatSync(fd))) return undefined;
    b = fs.readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  const head = MAGIC.length + 32;
  if (b.length <= head || !b.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const payload = b.subarray(head);
  const sum = crypto.createHash('sha256').update(payload).digest();
  return sum.equals(b.subarray(MAGIC.length, head)) ? payload : undefined;
}

/**
 * Writes `data` as the cache `file` (whole or not at all), removes the files of other builds of the
 * same command and runtime beside it; ignores every error.
 * @param {string} file
 * @param {Buffer} data
 */
function writeCache(file, data) {
  try {
    const dir = path.dirname(file);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.concat([MAGIC, crypto.createHash('sha256').update(data).digest(), data]), { mode: 0o600 });
    fs.renameSync(tmp, file);
    const prefix = `${path.basename(file).replace(/-[0-9a-f]{40}\.bin$/, '')}-`;
    for (const f of fs.readdirSync(dir)) {
      if (f !== path.basename(file) && f.startsWith(prefix) && /^[a-z-]+-[0-9a-f]{8}-[0-9a-f]{40}\.bin$/.test(f)) fs.rmSync(path.join(dir, f), { force: true });
    }
  } catch {
    // a start-up speed-up only
  }
}

/**
 * Runs the CommonJS script `file` as Node would `require` it (its own `require`, `module`,
 * `__filename`, `__dirname`), compiled with the cached data of `command` under `dir` when there is
 * intact data V8 accepts; else compiles it and writes that cache when the process exits.
 * @param {string} file absolute path of the script
 * @param {string} dir the cache directory
 * @param {string} command see {@link commandKey}
 * @param {string} [v8Flags] the V8 flags the process set for itself before (see {@link cacheFileOf})
 * @returns {{ cache: 'used' | 'none' | 'rejected', cacheFile: string }} what happened (tests)
 */
function runCached(file, dir, command, v8Flags = '') {
  const source = fs.readFileSync(file);
  const cacheFile = cacheFileOf(dir, source, command, v8Flags);
  const cachedData = readCache(cacheFile);
  // ASCII (scripts/build.mjs makes the bundle so) is the same text as Latin-1, which is copied
  // byte for byte into a one-byte string; UTF-8 decoding validates every byte, several times slower.
  const text = isAscii(source) ? source.toString('latin1') : source.toString('utf8');
  const wrapped = `(function (exports, require, module, __filename, __dirname) { ${text}\n});`;
  const script = new vm.Script(wrapped, { filename: file, cachedData });
  const cache = cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'used';
  // A directory whose cache is never read (another user's, or writable by others) is not written either:
  // each run would pay for writing a cache no run uses.
  if (cache !== 'used' && !untrustedDir(dir)) {
    // At exit: the cache then holds every function this run compiled, not only the top level.
    process.once('exit', () => {
      let data;
      try {
        data = script.createCachedData();
      } catch {
        return;
      }
      writeCache(cacheFile, data);
    });
  }
  const mod = { exports: {}, filename: file, id: file, loaded: false };
  const fn = script.runInThisContext();
  fn.call(mod.exports, mod.exports, module_.createRequire(file), mod, file, path.dirname(file));
  mod.loaded = true;
  return { cache, cacheFile };
}

module.exports = { cacheFileOf, COMMAND_NAMES, commandKey, readCache, writeCache, runCached };
