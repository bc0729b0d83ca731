/**
 * Where the command line (`pushgate scan`, `pushgate db`) finds its configuration and keeps its state.
 * `serve` does not use this: it keeps the paths of its configuration file, relative to its working
 * directory (config/pushgate.yaml). The CLI works the same from any directory, so its state lives in
 * the user's cache (XDG Base Directory Specification, `$XDG_CACHE_HOME`), like trivy's and grype's.
 *
 * Precedence, first match wins (flag > environment > cache default):
 * - configuration file: `--config FILE`, `$PUSHGATE_CONFIG`, else the built-in configuration (the CLI
 *   never picks up a `config/pushgate.yaml` that happens to be in the working directory);
 * - cache directory: `--cache-dir DIR`, `$PUSHGATE_CACHE_DIR`, `$XDG_CACHE_HOME/pushgate` (an absolute
 *   `XDG_CACHE_HOME` only, as the XDG spec requires), `$HOME/.cache/pushgate`;
 * - vulnerability database: `--db PATH`, `vulndb.path` when the configuration file sets it,
 *   `<cache dir>/vulndb.sqlite`;
 * - database sources: `--source` (db update), `vulndb.sources` when the configuration file sets them,
 *   the default OSV exports, fetched from `$PUSHGATE_VULNDB_MIRROR` instead of the public OSV bucket
 *   when that is set (a mirror with the bucket's layout: `<mirror>/<Ecosystem>/all.zip`);
 * - layer cache: `<cache dir>/layers`; scan scratch space: `scan.tmpDir` when the file sets it, else
 *   the OS temp directory (never `./data/tmp` of the working directory).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { yamlPackage } from '../core/yaml-package.js';
import { DEFAULT_VULNDB_SOURCES, defaultConfig } from './defaults.js';
import { loadConfig } from './load.js';
import type { PushgateConfig } from './types.js';

/** The public OSV bucket the default sources name. */
export const OSV_BUCKET = 'https://osv-vulnerabilities.storage.googleapis.com';

/** What the CLI was given on its command line (each optional). */
export interface CliStateFlags {
  /** `--config FILE`. */
  config?: string;
  /** `--db PATH`. */
  db?: string;
  /** `--cache-dir DIR`. */
  cacheDir?: string;
}

/** The resolved state of one CLI run; each `…From` says which setting decided, for messages and `db status`. */
export interface CliState {
  config: PushgateConfig;
  /** The configuration file read, if any. */
  configFile?: string;
  configFrom: '--config' | 'PUSHGATE_CONFIG' | 'built-in';
  /** Absolute cache directory (not created here). */
  cacheDir: string;
  cacheDirFrom: '--cache-dir' | 'PUSHGATE_CACHE_DIR' | 'XDG_CACHE_HOME' | 'HOME';
  /** Absolute path of the vulnerability database. */
  dbPath: string;
  dbPathFrom: '--db' | 'vulndb.path' | 'cache';
  /** Sources `db update` (and a first-use download) reads when no `--source` is given. */
  sources: string[];
  sourcesFrom: 'vulndb.sources' | 'PUSHGATE_VULNDB_MIRROR' | 'default';
  /** True when the sources are the default OSV exports (possibly on a mirror), i.e. not from the file. */
  defaultSources: boolean;
  /** Absolute layer-cache directory (`<cache dir>/layers`). */
  layerCacheDir: string;
  /** Scratch directory for scans: `scan.tmpDir` from the file, else undefined (the OS temp directory). */
  tmpDir?: string;
}

/**
 * The CLI's cache directory (see the module comment for the order).
 * @returns an absolute path and the setting that chose it.
 */
export function cliCacheDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): { dir: string; from: CliState['cacheDirFrom'] } {
  if (flag) return { dir: path.resolve(flag), from: '--cache-dir' };
  if (env.PUSHGATE_CACHE_DIR) return { dir: path.resolve(env.PUSHGATE_CACHE_DIR), from: 'PUSHGATE_CACHE_DIR' };
  // XDG Base Directory Specification: "If an implementation encounters a relative path in any of these
  // variables it should consider the path invalid and ignore it."
  if (env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME)) return { dir: path.join(env.XDG_CACHE_HOME, 'pushgate'), from: 'XDG_CACHE_HOME' };
  return { dir: path.join(env.HOME || os.homedir(), '.cache', 'pushgate'), from: 'HOME' };
}

/**
 * The default OSV sources with their base replaced by `mirror` (`https://mirror.example/osv` →
 * `https://mirror.example/osv/Debian/all.zip`, …), or as they are without one.
 */
export function defaultSources(mirror?: string): string[] {
  if (!mirror) return [...DEFAULT_VULNDB_SOURCES];
  const base = mirror.replace(/\/+$/, '');
  return DEFAULT_VULNDB_SOURCES.map((s) => (s.startsWith(`${OSV_BUCKET}/`) ? `${base}/${s.slice(OSV_BUCKET.length + 1)}` : s));
}

/** Which of `keys` (dotted paths) the YAML file writes, whatever their value. */
function keysSet(file: string, keys: string[][]): boolean[] {
  let doc;
  try {
    doc = yamlPackage().parseDocument(fs.readFileSync(file, 'utf8'));
  } catch {
    return keys.map(() => false); // loadConfig already read and validated it; unreachable in practice
  }
  return keys.map((k) => doc.hasIn(k) && doc.getIn(k) !== null);
}

/**
 * Resolves configuration, cache, database, sources and scratch space for one CLI run (module comment).
 * @throws ConfigError (BAD_CONFIG) when the configuration file named by `--config` or
 *   `$PUSHGATE_CONFIG` cannot be read or is invalid.
 */
export function resolveCliState(flags: CliStateFlags, env: NodeJS.ProcessEnv = process.env): CliState {
  const configFile = flags.config ?? (env.PUSHGATE_CONFIG || undefined);
  const configFrom: CliState['configFrom'] = flags.config ? '--config' : configFile ? 'PUSHGATE_CONFIG' : 'built-in';
  const config = configFile ? loadConfig(configFile, env) : defaultConfig();
  const [pathSet, sourcesSet, tmpSet] = configFile ? keysSet(configFile, [['vulndb', 'path'], ['vulndb', 'sources'], ['scan', 'tmpDir']]) : [false, false, false];
  const cache = cliCacheDir(flags.cacheDir, env);
  const dbPath = flags.db ? path.resolve(flags.db) : pathSet ? path.resolve(config.vulndb.path) : path.join(cache.dir, 'vulndb.sqlite');
  const dbPathFrom: CliState['dbPathFrom'] = flags.db ? '--db' : pathSet ? 'vulndb.path' : 'cache';
  const mirror = env.PUSHGATE_VULNDB_MIRROR || undefined;
  const sources = sourcesSet ? config.vulndb.sources : defaultSources(mirror);
  const sourcesFrom: CliState['sourcesFrom'] = sourcesSet ? 'vulndb.sources' : mirror ? 'PUSHGATE_VULNDB_MIRROR' : 'default';
  return {
    config,
    configFile,
    configFrom,
    cacheDir: cache.dir,
    cacheDirFrom: cache.from,
    dbPath,
    dbPathFrom,
    sources,
    sourcesFrom,
    defaultSources: !sourcesSet,
    layerCacheDir: path.join(cache.dir, 'layers'),
    tmpDir: tmpSet ? config.scan.tmpDir : undefined,
  };
}

/** One registry credential file and its format. */
export interface AuthFileLocation {
  path: string;
  /** `containers`: containers-auth.json(5) (keys may name a namespace); `docker`: Docker's config.json (keys are hosts). */
  format: 'containers' | 'docker';
  /** The setting that named it, for messages (`REGISTRY_AUTH_FILE`, `DOCKER_CONFIG`, …). */
  from: string;
}

/**
 * The registry credential files the CLI reads, in the order containers-auth.json(5) gives: the
 * primary file (`$REGISTRY_AUTH_FILE`, the explicit override, else `$XDG_RUNTIME_DIR/containers/auth.json`),
 * then `$XDG_CONFIG_HOME/containers/auth.json` (default `~/.config`), then Docker's config.json
 * (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, as the docker CLI reads it). The legacy
 * `~/.dockercfg` is not read. Files that do not exist are left out.
 */
export function authFileLocations(env: NodeJS.ProcessEnv = process.env): AuthFileLocation[] {
  const home = env.HOME || os.homedir();
  const out: AuthFileLocation[] = [];
  if (env.REGISTRY_AUTH_FILE) out.push({ path: path.resolve(env.REGISTRY_AUTH_FILE), format: 'containers', from: 'REGISTRY_AUTH_FILE' });
  else if (env.XDG_RUNTIME_DIR) out.push({ path: path.join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'), format: 'containers', from: 'XDG_RUNTIME_DIR' });
  const configHome = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config');
  out.push({ path: path.join(configHome, 'containers', 'auth.json'), format: 'containers', from: 'XDG_CONFIG_HOME' });
  if (env.DOCKER_CONFIG) out.push({ path: path.join(path.resolve(env.DOCKER_CONFIG), 'config.json'), format: 'docker', from: 'DOCKER_CONFIG' });
  else out.push({ path: path.join(home, '.docker', 'config.json'), format: 'docker', from: 'HOME' });
  return out.filter((f) => fs.statSync(f.path, { throwIfNoEntry: false })?.isFile());
}
