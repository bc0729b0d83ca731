#!/usr/bin/env node
// Entry point. Runs the compiled CLI (dist/) when it is the build of the sources as they are: always
// in the container image (only dist/ is copied), and in a checkout once `npm ci` (its `prepare`
// script) or `npm run build` has built it. A checkout whose sources changed since that build runs
// the TypeScript sources through tsx instead (slower to start, never stale); a terminal is told why.
// PUSHGATE_USE_DIST=1 runs dist/ without looking at the sources.
//
// `pushgate --version` (alone) is answered here from package.json, before anything else is loaded
// or checked: it is what scripts call to probe the tool, and it needs neither dist/ nor the sources
// (test/unit/cli/start-cost.test.ts compares its answer with the compiled-in VERSION).
//
// CommonJS (bin/package.json), not an ES module: Node's ES module loader costs a start-up some 10 ms
// of CPU that a command line which then runs one CommonJS bundle has no use for.

'use strict';
const { existsSync, readFileSync } = require('node:fs');
const module_ = require('node:module');
const os = require('node:os');
const v8 = require('node:v8');
const { pathToFileURL } = require('node:url');
const path = require('node:path');

const root = path.dirname(__dirname);

/** The version from package.json, or undefined when it cannot be read (the CLI then answers). */
function packageVersion() {
  try {
    const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
    return typeof version === 'string' && /^[0-9A-Za-z.+-]+$/.test(version) ? version : undefined;
  } catch {
    return undefined;
  }
}
const source = path.join(root, 'src', 'cli', 'main.ts');
const built = path.join(root, 'dist', 'cli', 'main.js');

async function useDist() {
  const forced = process.env.PUSHGATE_USE_DIST;
  if ((forced && forced !== '0') || !existsSync(source)) return true;
  if (!existsSync(built)) return false;
  const { distIsCurrent } = require('./build-stamp.js');
  return distIsCurrent(root);
}

/**
 * The `--cache-dir DIR` (or `--cache-dir=DIR`) of the command line (scan and db take it), read before
 * commander: the code and compile caches go where the command's own state goes.
 */
function cacheDirFlag() {
  const command = args.find((a) => !a.startsWith('-'));
  if (command !== 'scan' && command !== 'db') return undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--') return undefined;
    if (args[i] === '--cache-dir') return args[i + 1] || undefined;
    if (args[i].startsWith('--cache-dir=')) return args[i].slice('--cache-dir='.length) || undefined;
  }
  return undefined;
}

/** The user's pushgate cache directory, as src/config/cli-state.ts finds it (never a shared temp directory). */
function userCacheDir() {
  const env = process.env;
  const flag = cacheDirFlag();
  return flag ? path.resolve(flag) : env.PUSHGATE_CACHE_DIR ? path.resolve(env.PUSHGATE_CACHE_DIR)
    : env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? path.join(env.XDG_CACHE_HOME, 'pushgate')
      : path.join(env.HOME || os.homedir(), '.cache', 'pushgate');
}

/**
 * Node 22.1+: V8's compile cache for the modules loaded from here on, kept in the user's pushgate
 * cache directory. Node keys each entry by the module's content and checks it on load; a cache that
 * cannot be written is skipped. Node 20 has no compile cache: see {@link runBundleWithCodeCache}.
 */
function enableCompileCache() {
  if (typeof module_.enableCompileCache !== 'function') return;
  try {
    module_.enableCompileCache(path.join(userCacheDir(), 'compile-cache'));
  } catch {
    // a start-up speed-up only
  }
}

/** The command line bundled into one CommonJS file (scripts/build.mjs), for {@link runBundleWithCodeCache}. */
const bundle = path.join(root, 'dist', 'chunks', 'cli.cjs');

/**
 * Node without a compile cache (20): runs dist/chunks/cli.cjs, the same command line as dist/cli/main.js
 * in one CommonJS file, through a V8 code cache in the user's cache directory (./code-cache.js), which
 * spares a run most of its compiling. False (nothing run) on Node 22.1+, when the file is not there,
 * PUSHGATE_CODE_CACHE=0, or source maps are on (`--enable-source-maps`, e.g. in NODE_OPTIONS: Node 20
 * maps the stack traces of modules it loads, never of a vm.Script): the ES modules of dist/cli/ run then.
 */
async function runBundleWithCodeCache() {
  if (typeof module_.enableCompileCache === 'function' || process.env.PUSHGATE_CODE_CACHE === '0' || process.sourceMapsEnabled || !existsSync(bundle)) return false;
  const { commandKey, runCached } = require('./code-cache.js');
  runCached(bundle, path.join(userCacheDir(), 'code-cache'), commandKey(process.argv.slice(2)), jitFlags);
  return true;
}

/**
 * V8 flags for a command that runs once and exits (every command but `serve`, which runs for days):
 * - an interrupt budget 8× V8's default (67,584), so that only code that stays hot through a run is
 *   optimized by TurboFan. With the default, a scan had TurboFan compile, on background threads, a
 *   few hundred functions that run once per scan (stacking layers, matching, the report) or only
 *   until the tar walk settles: about a tenth of the scan's CPU time (bench/cli.ts).
 * - no bytecode flushing: V8 drops the bytecode of a function not run for a few full GCs, and the
 *   code cache (./code-cache.js) is written at exit from what is still compiled then. A run that
 *   had more full GCs than usual (a loaded machine, a big image) wrote a third less (the functions
 *   run early: start-up, the first layer), and every later run compiled those again; a run that
 *   ends within seconds has no use for the memory flushing frees.
 * - a young generation that grows 8× at a time instead of 2× (its most, 16 MiB a semi-space, is
 *   unchanged): a scan starts with 1 MiB semi-spaces and went through ~16 scavenges and 3-7 full
 *   GCs ("GC in old space requested", objects promoted by scavenges that came too often), with
 *   8× through 10 and 1 (--trace-gc, debian-minbase, 2 cores under load: main-thread GC pauses
 *   summed, medians of four runs, ~150 ms -> ~105 ms; noisy). Scavenging on this thread alone
 *   (`--no-parallel-scavenge`) was no clear gain beside it: parallel helpers use the idle core at
 *   start-up and compete with the inflate thread later. `--single-threaded-gc` and the semi-space
 *   sizes cannot be set once V8 runs (the former aborts the process in its next full GC).
 * Set before any of pushgate's code is compiled; PUSHGATE_JIT_TUNE=0 leaves V8's defaults.
 */
const JIT_FLAGS = '--interrupt-budget=540672 --no-flush-bytecode --semi-space-growth-factor=8';

/** Sets {@link JIT_FLAGS} for this command; returns the flags set (`''` for none). */
function tuneJit() {
  const command = args.find((a) => !a.startsWith('-'));
  if (command === 'serve' || process.env.PUSHGATE_JIT_TUNE === '0') return '';
  v8.setFlagsFromString(JIT_FLAGS);
  return JIT_FLAGS;
}

const args = process.argv.slice(2);
/** The V8 flags {@link tuneJit} set (part of the code cache's key). */
let jitFlags = '';
const quickVersion = args.length === 1 && (args[0] === '--version' || args[0] === '-V') ? packageVersion() : undefined;
/** Runs the CLI: dist/ when current, else the sources through tsx. */
async function run() {
  jitFlags = tuneJit();
  enableCompileCache();
  if (await useDist()) {
    if (!(await runBundleWithCodeCache())) await import(pathToFileURL(built).href);
    return;
  }
  if (existsSync(built) && process.stderr.isTTY) {
    process.stderr.write('pushgate: dist/ is older than src/; running the sources (slower start). `npm run build` compiles them.\n');
  }
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('pushgate: dist/ is missing or older than src/, and tsx (a dev dependency) is not installed to run the sources: run `npm ci` (or `npm run build`)\n');
    process.exit(2);
  }
  register();
  await import(pathToFileURL(source).href);
}

if (quickVersion) process.stdout.write(`${quickVersion}\n`);
// A failure to start is thrown as an uncaught exception: printed with its stack, exit status 1.
else run().catch((e) => process.nextTick(() => { throw e; }));
