/**
 * The generated configuration validator's module (dist/config/config-validator.cjs, written by
 * scripts/build.mjs; see ./config-validator.ts), loaded on the first call.
 *
 * scripts/build.mjs gives the command line bundled into one CommonJS file (dist/chunks/cli.cjs)
 * another body for this module: a plain `require` of that file, which esbuild compiles into the
 * bundle (it is written before the bundle is made), so a `--config` run neither reads nor compiles
 * 170 KB of generated code from its own file but runs it under the CLI's code cache. Whichever body
 * runs, ./config-validator.ts uses the module only when it was generated from this schema.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const requireCjs = createRequire(import.meta.url);

/**
 * Where the generated validator lies, from this module: every compiled copy of it (tsc's
 * dist/config/, the command line's ES module chunks in dist/chunks/) sits two levels below the root,
 * so this names dist/config/config-validator.cjs; from src/config/ it names a file that does not exist.
 */
const GENERATED = new URL('../config/config-validator.cjs', import.meta.url);

/**
 * The exports of the generated module, or undefined when it is absent or cannot be loaded (corrupt,
 * truncated, throws). Never throws.
 */
export function generatedValidatorModule(): unknown {
  try {
    return requireCjs(fileURLToPath(GENERATED));
  } catch {
    return undefined;
  }
}
