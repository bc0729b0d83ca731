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

/**
 * Loads better-sqlite3's addon into this process's module cache now (when {@link sqliteAddonOptions}
 * names its file), so that the first `new Database` later finds it loaded: a command can do this while
 * its thread would otherwise wait (`pushgate scan`, while the layers inflate). Never throws: an addon
 * that cannot be loaded here fails, with its own error, where the database is opened.
 */
export function preloadSqliteAddon(): void {
  const file = sqliteAddonOptions().nativeBinding;
  if (!file) return;
  try {
    // better-sqlite3 requires `path.resolve(nativeBinding)` itself: the same module cache entry
    createRequire(import.meta.url)(path.resolve(file));
  } catch {
    // opening the database reports it
  }
}
