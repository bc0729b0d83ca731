#!/usr/bin/env node
// Compiles src/ into dist/ (tsc -p tsconfig.build.json, after emptying dist/), bundles the command
// line (src/cli/main.ts) over tsc's dist/cli/main.js with esbuild, and writes dist/.build-stamp.json, by which bin/pushgate.js knows that dist/ is the build of the sources as
// they are (bin/build-stamp.js). `npm run build` runs it; `npm ci` / `npm install` run it through
// the `prepare` script with --if-needed.
//
// --if-needed: do nothing when dist/ is already current, and skip (exit 0, one line on stderr)
// where no build is possible: no src/ (a packaged copy) or no TypeScript compiler (an install with
// --omit=dev). bin/pushgate.js never runs a dist/ that does not match the sources, so a skipped
// build costs start-up time, never correctness.
/* global process */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildInputs, contentFingerprint, distIsCurrent, STAMP, writeStamp } from '../bin/build-stamp.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const ifNeeded = process.argv.includes('--if-needed');
const say = (s) => process.stderr.write(`build: ${s}\n`);

/**
 * The packages compiled into dist/chunks/cli.cjs: pure JavaScript (no native addon, no file found
 * beside their own), loaded by every `pushgate scan` (commander, lru-cache, picomatch) or by every
 * one with a configuration file (yaml: some 70 files, initialised in the bundle by its first use,
 * {@link LAZY_BUNDLED}). Every other package stays in node_modules.
 */
const CLI_BUNDLED_PACKAGES = ['commander', 'lru-cache', 'picomatch', 'yaml'];

/**
 * Modules that load a file on first use with `createRequire(import.meta.url)`, which esbuild cannot
 * follow, and the body each gets in dist/chunks/cli.cjs instead: the same export calling a plain
 * `require` (resolved from the root), which esbuild compiles into the file as a function that runs
 * the required code on the first call (as the source's `require` loads it then). The source must
 * export a function of the same name (checked). The generated validator is written before the
 * bundle is made ({@link writeConfigValidator}).
 */
const LAZY_BUNDLED = {
  'src/core/yaml-package.ts': { exports: 'yamlPackage', contents: 'let lib;\nexport function yamlPackage() {\n  lib ??= require("yaml");\n  return lib;\n}\n' },
  'src/config/config-validator-module.ts': { exports: 'generatedValidatorModule', contents: 'export function generatedValidatorModule() {\n  try {\n    return require("./dist/config/config-validator.cjs");\n  } catch {\n    return undefined;\n  }\n}\n' },
};

if (!fs.existsSync(path.join(root, 'src'))) {
  if (ifNeeded) { say('no src/: nothing to build'); process.exit(0); }
  say('no src/ to build'); process.exit(2);
}
if (ifNeeded && distIsCurrent(root)) {
  say('dist/ is current');
  process.exit(0);
}
let tsc;
try {
  tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  if (ifNeeded) { say('typescript is not installed (production install?): dist/ not built; bin/pushgate.js runs only a current dist/'); process.exit(0); }
  say('typescript is not installed: run npm ci'); process.exit(2);
}
const before = contentFingerprint(root, buildInputs(root));
const t0 = Date.now();
fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
if (r.status !== 0) {
  say(`tsc failed (exit ${r.status ?? r.signal}); dist/ has no stamp, so bin/pushgate.js runs the sources`);
  process.exit(r.status ?? 1);
}
// The console (/ui/ of the main listener): ui/src bundled by esbuild into one ES module, beside
// its page and style sheet. No CDN, no runtime fetch of anything but /api/v1: it works air-gapped.
try {
  await buildUi();
} catch (e) {
  say(`console (ui/) build failed: ${e.message}`);
  process.exit(1);
}
try {
  await writeConfigValidator();
} catch (e) {
  say(`configuration validator generation failed: ${e.message}`);
  process.exit(1);
}
try {
  await bundleCli();
} catch (e) {
  say(`command line bundle failed: ${e.message}`);
  process.exit(1);
}
if (!writeStamp(root, before)) {
  say(`the sources changed while compiling: ${STAMP} not written; run the build again`);
  process.exit(1);
}
say(`dist/ built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

/**
 * dist/config/config-validator.cjs: the configuration schema's validator as code (ajv's standalone
 * code generation, by tsc's dist/config/config-validator.js), which a `--config` run then loads
 * instead of compiling the schema with ajv (src/config/config-validator.ts).
 */
async function writeConfigValidator() {
  const dist = path.join(root, 'dist', 'config');
  const { configValidatorSource } = await import(pathToFileURL(path.join(dist, 'config-validator.js')).href);
  fs.writeFileSync(path.join(dist, 'config-validator.cjs'), configValidatorSource());
}

/** esbuild from this checkout's node_modules, or undefined (after a line on stderr) with --if-needed when it is not installed. */
async function loadEsbuild(what) {
  try {
    return await import(createRequire(path.join(root, 'package.json')).resolve('esbuild'));
  } catch {
    if (ifNeeded) { say(`esbuild is not installed (production install?): ${what}`); return undefined; }
    throw new Error('esbuild is not installed: run npm ci');
  }
}

/**
 * The command line as a few ES modules instead of tsc's one file per source module (some 150 on a
 * scan, each resolved, read and linked on every start): src/cli/main.ts bundled by esbuild into
 * dist/cli/main.js (replacing tsc's), every module it imports on demand (`import()`: one command's
 * code, report formats, the server) split into dist/chunks/, loaded only when used, as before.
 * Packages stay in node_modules (the native SQLite binding must; the others are loaded from there
 * as without the bundle). tsc's other files in dist/ stay as they are (same sources, type-checked).
 *
 * Files that find a neighbour from their own URL keep finding it: every chunk lies two levels
 * below the root as tsc's files do (dist/chunks/x.js: `../../package.json`, `../../dist/ui/`), and
 * the inflate worker is an entry of its own beside them (inflate-pool.ts loads `./inflate-worker.js`).
 * Checked here on the metafile, as is that nothing from node_modules got bundled. Where each source
 * module went is written to dist/.bundle-map.json for tests (which modules a command loads):
 * `{ "chunks/scan-AB12.js": ["src/cli/commands/scan.ts", …], … }`, every output file relative to
 * dist/ with its sources relative to the root.
 */
async function bundleCli() {
  const esbuild = await loadEsbuild('the command line runs tsc\'s output, unbundled');
  if (!esbuild) return;
  const dist = path.join(root, 'dist');
  const r = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { 'cli/main': 'src/cli/main.ts', 'chunks/inflate-worker': 'src/scan/inflate-worker.ts' },
    outdir: dist,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: ['node20'],
    packages: 'external',
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  });
  const map = {};
  for (const [out, o] of Object.entries(r.metafile.outputs)) {
    if (out.endsWith('.map')) continue;
    map[path.relative(dist, path.join(root, out)).split(path.sep).join('/')] = Object.keys(o.inputs).sort();
  }
  const outOf = (src) => Object.keys(map).find((o) => map[o].includes(src));
  const bundled = Object.values(map).flat().filter((i) => i.includes('node_modules/'));
  if (bundled.length) throw new Error(`packages got bundled: ${bundled.slice(0, 3).join(', ')}`);
  for (const [src, want] of [['src/scan/inflate-pool.ts', /^chunks\/[^/]+$/], ['src/server/app.ts', /^[^/]+\/[^/]+$/], ['src/registry/client.ts', /^[^/]+\/[^/]+$/], ['src/config/config-validator-module.ts', /^[^/]+\/[^/]+$/]]) {
    const o = outOf(src);
    if (o && !want.test(o)) throw new Error(`${src} landed in ${o}: the files it finds from its own URL are not there`);
  }
  // The same command line as one CommonJS file, dist/chunks/cli.cjs, which bin/pushgate.js runs
  // through a V8 code cache on Node 20 (bin/code-cache.js: its ES module loader takes no cached
  // data). Two levels below the root like the chunks, beside the inflate worker, so every
  // `import.meta.url` (replaced by the file's own URL) finds what it found there. Nothing may be
  // left to `import()`: a script compiled from cached data has no dynamic import callback.
  const cjs = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { 'chunks/cli': 'src/cli/main.ts' },
    outdir: dist,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: ['node20'],
    // Packages stay in node_modules but for the pure-JavaScript few every scan loads
    // (CLI_BUNDLED_PACKAGES): bundled here, they run under the code cache instead of being read,
    // parsed and compiled from node_modules on every run.
    plugins: [externalPackagesBut(CLI_BUNDLED_PACKAGES), lazyBundled(LAZY_BUNDLED), commanderLazyChildProcess()],
    define: { 'import.meta.url': '__pushgateModuleUrl' },
    // "use strict" first: a directive counts only at the very start, and the ES modules it replaces are strict.
    banner: { js: '"use strict";\nvar __pushgateModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  });
  const cjsFile = path.join(dist, 'chunks', 'cli.cjs');
  const cjsText = await asciiOnly(esbuild, cjsFile);
  const dynamic = cjsText.match(/\bimport\s*\(\s*["'`][^"'`]*["'`]\s*\)|\bimport\.meta\b/);
  if (dynamic) throw new Error(`dist/chunks/cli.cjs keeps ${dynamic[0]}: use a static import or createRequire`);
  for (const [out, o] of Object.entries(cjs.metafile.outputs)) {
    if (out.endsWith('.map')) continue;
    const bundled = Object.keys(o.inputs).filter((i) => i.includes('node_modules/') && !CLI_BUNDLED_PACKAGES.includes(packageOf(i)));
    if (bundled.length) throw new Error(`packages got bundled into the CommonJS command line: ${bundled.slice(0, 3).join(', ')}`);
    map[path.relative(dist, path.join(root, out)).split(path.sep).join('/')] = Object.keys(o.inputs).sort();
  }
  fs.writeFileSync(path.join(dist, '.bundle-map.json'), `${JSON.stringify(map, null, 1)}\n`);
}

/**
 * Makes the file (esbuild's output) pure ASCII and returns its text. esbuild writes strings,
 * template literals, regular expressions and names as ASCII (its default charset) but keeps the
 * comments it keeps as they are, and one `→` in a comment makes the whole 2 MB a two-byte string
 * in V8: bin/code-cache.js then decodes it as UTF-8 (several times slower than the Latin-1 copy it
 * makes of an ASCII file) and every function compiled later is scanned from it. Each non-ASCII
 * character becomes one `?` per UTF-16 unit (columns, so the source map, stay as they are). Checked:
 * the file minified without comments is the same before and after, so only comments changed.
 */
async function asciiOnly(esbuild, file) {
  const text = fs.readFileSync(file, 'utf8');
  // eslint-disable-next-line no-control-regex
  const ascii = text.replace(/[^\x00-\x7f]/g, (c) => '?'.repeat(c.length));
  if (ascii === text) return text;
  const bare = async (code) => (await esbuild.transform(code, { minifyWhitespace: true, format: 'cjs', platform: 'node', target: ['node20'] })).code;
  if (await bare(ascii) !== await bare(text)) throw new Error(`${path.relative(root, file)}: a non-ASCII character outside a comment (esbuild's charset is ASCII; something wrote one anyway)`);
  fs.writeFileSync(file, ascii);
  return ascii;
}

/** The package of a path inside node_modules (`…/node_modules/@scope/name/x.js` → `@scope/name`). */
function packageOf(file) {
  const m = [...file.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)/g)].pop();
  return m ? m[1] : '';
}

/**
 * An esbuild plugin that leaves every package import external (as `packages: 'external'` does) but
 * those of the packages in `bundled`, and the files those packages import.
 */
function externalPackagesBut(bundled) {
  return {
    name: 'external-packages-but',
    setup(build) {
      // A bare specifier: not relative, not absolute, not a built-in.
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.kind === 'entry-point' || args.path.startsWith('node:')) return undefined;
        const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
        return bundled.includes(name) ? undefined : { path: args.path, external: true };
      });
    },
  };
}

/**
 * An esbuild plugin that gives each module of `bodies` (a path from the root: `{ exports, contents }`)
 * the JavaScript `contents` (its `require`s resolved from the root) in place of its source, after checking that the source exports a
 * function of the name `exports` (the body's one export).
 */
function lazyBundled(bodies) {
  return {
    name: 'lazy-bundled',
    setup(build) {
      for (const [file, { exports, contents }] of Object.entries(bodies)) {
        const abs = path.join(root, file);
        const filter = new RegExp(`^${abs.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
        build.onLoad({ filter }, () => {
          const source = fs.readFileSync(abs, 'utf8');
          if (!new RegExp(`^export function ${exports}\\(`, 'm').test(source)) throw new Error(`${file} no longer exports function ${exports}: update LAZY_BUNDLED in scripts/build.mjs`);
          return { contents, loader: 'js', resolveDir: root };
        });
      }
    },
  };
}

/**
 * An esbuild plugin that hands commander (compiled into the bundle) a stand-in for node:child_process
 * whose `spawn` loads the module on first use. Commander requires it when it loads, for executable
 * subcommands (`git-style` programs), which pushgate has none of; loading node:child_process (with
 * net, dgram and their bindings) cost every run about 2.5 ms of CPU before the first layer byte,
 * and pushgate's own code loads it only for zstd, xz and bzip2 layers. Checked: commander uses
 * nothing of the module but `spawn` (an update that uses more fails the build here).
 */
function commanderLazyChildProcess() {
  return {
    name: 'commander-lazy-child-process',
    setup(build) {
      build.onResolve({ filter: /^(node:)?child_process$/ }, (args) => {
        if (!/[\\/]node_modules[\\/]commander[\\/]/.test(args.importer)) return undefined;
        const used = new Set([...fs.readFileSync(args.importer, 'utf8').matchAll(/\bchildProcess\.([A-Za-z_$][\w$]*)/g)].map((m) => m[1]));
        const other = [...used].filter((m) => m !== 'spawn');
        if (other.length) throw new Error(`${path.relative(root, args.importer)} uses child_process.${other.join(', ')}: the stand-in (commanderLazyChildProcess) has only spawn`);
        return { path: 'commander-child-process', namespace: 'pushgate-lazy' };
      });
      build.onLoad({ filter: /.*/, namespace: 'pushgate-lazy' }, () => ({
        contents: 'module.exports = { spawn(...args) { return require("node:child_process").spawn(...args); } };\n',
        loader: 'js',
        resolveDir: root,
      }));
    },
  };
}

/** Bundles ui/src/main.ts into dist/ui/app.js and copies ui/index.html and ui/app.css beside it. */
async function buildUi() {
  const ui = path.join(root, 'ui');
  if (!fs.existsSync(ui)) return;
  const esbuild = await loadEsbuild('the console (/ui/) is not built');
  if (!esbuild) return;
  const out = path.join(root, 'dist', 'ui');
  fs.mkdirSync(out, { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(ui, 'src', 'main.ts')],
    outfile: path.join(out, 'app.js'),
    bundle: true,
    format: 'esm',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'app.css']) fs.copyFileSync(path.join(ui, f), path.join(out, f));
}
