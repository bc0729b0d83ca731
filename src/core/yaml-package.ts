/**
 * The `yaml` package, loaded by its first use: a command that reads no YAML (a `pushgate scan`
 * without a configuration file) never loads it. CommonJS, so a `require` keeps every caller
 * synchronous.
 *
 * scripts/build.mjs gives the command line bundled into one CommonJS file (dist/chunks/cli.cjs)
 * another body for this module, a plain `require('yaml')` that esbuild compiles into that file
 * (initialised by the first call, as here): there the package's some 70 files are neither looked up
 * nor read nor compiled from node_modules on each run, and its code runs under the CLI's code cache.
 * That body must keep this module's exports (the build checks the names).
 */
import { createRequire } from 'node:module';
import type * as YAML from 'yaml';

const requireCjs = createRequire(import.meta.url);
let lib: typeof YAML | undefined;

/** The `yaml` package (loaded on the first call, then the same object). */
export function yamlPackage(): typeof YAML {
  lib ??= requireCjs('yaml') as typeof YAML;
  return lib;
}
