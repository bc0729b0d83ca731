/**
 * The vulnerability database of a CLI run: opened where {@link CliState} says it is, or, when there is
 * none yet, built on first use from the sources `pushgate db update` would read (as trivy and grype
 * fetch theirs), with progress on stderr. `--offline` never touches the network. When no database
 * can be had, one line on stderr says how to get one offline, and the scan goes on without it (its
 * report says `vulndb-missing`, and the policy's `onIncomplete` decides; DESIGN.md §3).
 */
import fs from 'node:fs';
import type { CliState } from '../config/cli-state.js';
// `db update` and its sources are loaded only for a first-use download.
import { VulnDb } from '../vulndb/db.js';
import { terminalText } from './terminal-text.js';
import { redactSecretsInText } from '../core/redact.js';

/** Options of {@link openCliVulnDb}. */
export interface OpenCliVulnDbOptions {
  /** `--offline`: never download. */
  offline?: boolean;
  /** Where progress and the hint go (stderr). */
  stderr: NodeJS.WriteStream;
  /**
   * `scan --quiet`: no progress of a first-use build (stderr carries only warnings, errors and the one
   * line each saying that the database is being built and that it was installed).
   */
  quiet?: boolean;
  /**
   * Called when a file is at the database path but is no database pushgate can read (not a regular
   * file, not SQLite, damaged, another program's SQLite): `why` says so and names the `db update` that
   * rebuilds it. The scan goes on without a database; the caller puts `why` in the report.
   */
  onUnreadable?: (why: string) => void;
  /** For tests. */
  fetch?: typeof fetch;
  /** Longest wait for a source's response headers before it counts as unreachable, ms (default 15000). */
  connectTimeoutMs?: number;
}

/**
 * The `pushgate db update` command line that builds the database `state` names, with `extra` options
 * (e.g. `--source FILE|DIR`) before the target: `--config FILE` when the configuration came from
 * `--config` (its `vulndb.sources` are what the database is built from; `$PUSHGATE_CONFIG` is read by a
 * bare command too), and `--db PATH` unless the path is the default one a bare command finds (the cache
 * directory from the environment), since a bare `db update` writes there and nowhere else.
 */
export function updateCommand(state: CliState, extra = ''): string {
  const config = state.configFrom === '--config' && state.configFile ? ` --config ${state.configFile}` : '';
  const target = state.dbPathFrom === 'cache' && state.cacheDirFrom !== '--cache-dir' ? '' : ` --db ${state.dbPath}`;
  return `pushgate db update${config}${extra}${target}`;
}

/**
 * What the `vulndb-missing` diagnostic says when a file is at the database path but cannot be read as
 * one: the file, SQLite's reason, and the `db update` (with `--db FILE`) that rebuilds it in place.
 */
export function unreadableDb(state: CliState, cause: string): string {
  const rebuild = updateCommand(state);
  return `${state.dbPath} is not a readable pushgate vulnerability database (${terminalText(cause)}): packages were not matched against advisories; rebuild it with \`${rebuild.includes(' --db ') ? rebuild : `${rebuild} --db ${state.dbPath}`}\` (it replaces the file; offline: \`--source FILE|DIR\`, a local OSV export)`;
}

/** How to get a database without network, as one sentence (the hint's tail). */
export function offlineHint(state: CliState): string {
  return `to get one offline, download an OSV export (e.g. https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip) where the network is reachable and run "${updateCommand(state, ' --source FILE|DIR')}" here (or set PUSHGATE_VULNDB_MIRROR to a mirror of the OSV bucket)`;
}

/**
 * A fetch that fails fast: no response headers within `timeoutMs` is a network error, and after one
 * network error for an origin every later request to it fails at once (the default sources share one
 * origin, so an unreachable bucket costs one timeout, not three).
 */
function failFastFetch(base: typeof fetch, timeoutMs: number, down: Map<string, Error>): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const known = down.get(url.origin);
    if (known) throw known;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    try {
      return await base(input, { ...init, signal: ac.signal });
    } catch (e) {
      const cause = (e as { cause?: unknown }).cause;
      const err = new Error(cause instanceof Error ? cause.message : e instanceof Error ? e.message : String(e));
      down.set(url.origin, err);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }) as typeof fetch;
}

/**
 * Opens the database at `state.dbPath`, building it first when it does not exist (module comment).
 * @returns undefined when there is no database (after the hint on stderr).
 */
export async function openCliVulnDb(state: CliState, opts: OpenCliVulnDbOptions): Promise<VulnDb | undefined> {
  const st = fs.statSync(state.dbPath, { throwIfNoEntry: false });
  if (st) {
    // Opening a FIFO would block: anything but a file is no database. The file is never replaced
    // here (no first-use build over it): it may be something the user still wants.
    let cause = 'not a regular file';
    if (st.isFile()) {
      try {
        return VulnDb.open(state.dbPath);
      } catch (e) {
        cause = (e instanceof Error ? e.message : String(e)).replace(/^.*\((?:unreadable|damaged): (.*)\)$/s, '$1');
      }
    }
    // reported as the vulndb-missing diagnostic; the policy's onIncomplete decides
    opts.onUnreadable?.(unreadableDb(state, cause));
    return undefined;
  }
  const err = opts.stderr;
  if (opts.offline) {
    err.write(`pushgate: no vulnerability database at ${state.dbPath} and --offline forbids downloading one; ${offlineHint(state)}\n`);
    return undefined;
  }
  err.write(`pushgate: no vulnerability database at ${state.dbPath} yet: building it from ${redactSecretsInText(someSources(state.sources))} (first use; --offline skips this)\n`);
  const [{ updateDb }, { downloadProgress }] = await Promise.all([import('../vulndb/update.js'), import('./download-progress.js')]);
  const bar = opts.quiet ? { tick: () => undefined, end: () => undefined } : downloadProgress(err);
  const unreachable = new Map<string, Error>();
  try {
    const stats = await updateDb({
      path: state.dbPath,
      sources: state.sources,
      ecosystems: state.config.vulndb.ecosystems,
      onProgress: bar.tick,
      fetch: failFastFetch(opts.fetch ?? fetch, opts.connectTimeoutMs ?? 15_000, unreachable),
    }).finally(() => bar.end());
    const failed = stats.badRecords.filter((b) => state.sources.includes(b.file)).map((b) => b.file);
    err.write(`pushgate: installed ${stats.path}: ${stats.imported} records${failed.length ? ` (not read: ${terminalText(redactSecretsInText(someSources(failed)))})` : ''}\n`);
  } catch (e) {
    const net = [...unreachable].map(([origin, ne]) => `${origin}: ${redactSecretsInText(ne.message)}`).join('; ');
    const why = net ? `the sources are unreachable: ${net}` : `building it failed: ${e instanceof Error ? e.message : String(e)}`;
    err.write(`pushgate: no vulnerability database at ${state.dbPath}: ${terminalText(why)}; ${offlineHint(state)}\n`);
    return undefined;
  }
  return VulnDb.open(state.dbPath);
}

/** A list of source URLs for one line: all of up to three, else the count and the first three (the defaults are 22). */
function someSources(sources: readonly string[]): string {
  return sources.length <= 3 ? sources.join(', ') : `${sources.length} sources (${sources.slice(0, 3).join(', ')}, …)`;
}
