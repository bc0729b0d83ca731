/**
 * Where better-sqlite3's compiled addon is, so that opening a database need not search for it.
 * better-sqlite3 finds its addon through the `bindings` package, which tries a list of build
 * directories in turn (node-bindings `defaults.try`: `build/`, `build/Debug/`, `build/Release/`, …),
 * each failed `require` throwing and catching a MODULE_NOT_FOUND error, and reads a stack trace to
 * find the package root: a few milliseconds of every command that opens a database. The same file
 * is named here directly, through better-sqlite3's own `nativeBinding` option.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

let cached: { nativeBinding?: string } | undefined;

/**
 * Options for `new Database(file, { ...sqliteAddonOptions(), … })`: `{ nativeBinding: FILE }` with
 * FILE the addon `bindings` would load (`build/Release/better_sqlite3.node` of the installed
 * better-sqlite3, when neither of the directories `bindings` tries before it holds one), else `{}`
 * (better-sqlite3 then searches as it always does). Computed once per process; never throws.
 */
export function sqliteAddonOptions(): { nativeBinding?: string } {
  if (cached) return cached;
  cached = {};
  try {
    const root = path.dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
    const name = 'better_sqlite3.node';
    const earlier = [path.join(root, 'build', name), path.join(root, 'build', 'Debug', name)];
    const release = path.join(root, 'build', 'Release', name);
    if (!earlier.some((f) => fs.existsSync(f)) && fs.statSync(release).isFile()) cached = { nativeBinding: release };
  } catch {
    // better-sqlite3 finds its addon itself
  }
  return cached;
}
