/**
 * Checks of the CLI commands that work on `pushgate serve`'s store (`monitor`, `affected`, `reconcile`)
 * before they open it.
 */
import fs from 'node:fs';
import path from 'node:path';

/**
 * Why `monitor`, `affected` and `reconcile` must not open the store `url` names, or undefined when they
 * may: a SQLite file that does not exist. These commands work on the store `pushgate serve` wrote; opening a
 * missing file would create an empty store (`./data/pushgate.db` under whatever directory the command ran
 * in): `affected` would answer "no stored image" for every advisory, and `reconcile` would take every tag
 * for one without a verdict, judge it again without serve's exceptions and releases, and enforce that.
 * @param url `store.url` of the configuration (`sqlite:PATH`, relative to the working directory, or
 *   `postgres://…`, which is never refused here).
 * @param configFile the configuration file in use (named in the message), undefined for the built-in defaults.
 * @param cwd the directory relative paths are taken from (the process's working directory).
 */
export function missingSqliteStore(url: string, configFile: string | undefined, cwd: string = process.cwd()): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const file = url.slice('sqlite:'.length);
  if (file === ':memory:') return undefined;
  const abs = path.resolve(cwd, file);
  if (fs.existsSync(abs)) return undefined;
  const from = configFile ? `store.url of ${configFile}` : 'the built-in store.url: no config/pushgate.yaml here and PUSHGATE_CONFIG is unset';
  return `no store at ${abs} (${from}, relative to the working directory ${cwd}): run this where \`pushgate serve\` runs, with its configuration (--config FILE)`;
}
