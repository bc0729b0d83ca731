/**
 * `pushgate db update [--source URL|DIR|ZIP]... [--db PATH] [--config FILE] [-q]` and
 * `pushgate db status [--db PATH] [--format json|table]` (DESIGN.md §3): exit 2 when there is no
 * database at the path (with `--format json`, stdout still holds a JSON object saying so). Update exit codes: 0 when
 * the new database was installed, 2 when nothing could be imported (a PushgateError VULNDB thrown to
 * the main CLI, which prints it and exits 2). Progress goes to stderr; stdout carries only results.
 * The database is where `scan` looks for it: `--db`, else `vulndb.path` of the configuration file
 * (`--config`, else `$PUSHGATE_CONFIG`), else `<cache dir>/vulndb.sqlite` (src/config/cli-state.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { isPushgateError, PushgateError } from '../../core/index.js';
import { resolveCliState, type CliState } from '../../config/cli-state.js';
import { canonicalEcosystem, narrowSources, supportedEcosystems, updateDb, VulnDb } from '../../vulndb/index.js';
import { downloadProgress } from '../download-progress.js';
import { updateCommand } from '../vulndb-state.js';
import { terminalText } from '../terminal-text.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** How the database path was chosen, for `db status` (`--db`, `vulndb.path in FILE`, `cache dir from $VAR`). */
export function describeDbLocation(st: CliState): string {
  if (st.dbPathFrom === '--db') return '--db';
  if (st.dbPathFrom === 'vulndb.path') return `vulndb.path in ${st.configFile}`;
  const via = st.cacheDirFrom === '--cache-dir' ? '--cache-dir' : st.cacheDirFrom === 'HOME' ? '~/.cache' : `$${st.cacheDirFrom}`;
  return `cache directory from ${via}`;
}

/**
 * An age in seconds as `db status` prints it: whole minutes under an hour (`12 min`), whole hours under
 * two days (`30 h`), else whole days (`468 d`), each rounded down, so an age never reads older than it
 * is (a database built ten minutes ago is not "0 h", a year-old catalog not "11239 h"). A negative age
 * (a clock set back since the build) is `0 min`.
 */
export function formatAge(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

/**
 * A `--source` as the database records it: a local path made absolute against `cwd`, keeping its
 * `nvd:`/`kev:`/`epss:`/`eol:`/`osv:` prefix; URLs and absolute paths as given. The cache's database is
 * shared by every working directory, so `db status` run elsewhere (and the console) must not show
 * `osv.zip` for a file of the directory `db update` ran in.
 */
export function absoluteSource(src: string, cwd: string = process.cwd()): string {
  const m = /^((?:osv|nvd|kev|epss|eol):)?(?!\/\/)(.+)$/is.exec(src);
  if (!m) return src;
  const [, prefix = '', location] = m;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) || path.isAbsolute(location)) return src;
  return `${prefix}${path.resolve(cwd, location)}`;
}

/** The setting that named the database path, for messages. */
function whereFrom(st: CliState): string {
  return st.dbPathFrom === 'cache' ? 'the database path' : st.dbPathFrom;
}

/** Where `--db`/`--config`/`--cache-dir` and the environment put the database (src/config/cli-state.ts). */
function state(opts: { db?: string; config?: string; cacheDir?: string }): CliState {
  return resolveCliState({ db: opts.db, config: opts.config, cacheDir: opts.cacheDir });
}

/**
 * Refuses a database path that names something other than a file: SQLite on a directory says only
 * "disk I/O error", and on a FIFO it blocks. A path that does not exist passes (update creates it;
 * status reports it missing).
 * @param where how the user gave the path (`--db`, `vulndb.path`), for the message.
 * @throws PushgateError BAD_ARGUMENT naming what the path is and what is expected.
 */
function checkDbPath(p: string, where: string): void {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st || st.isFile()) return;
  const kind = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO (named pipe)' : 'not a regular file';
  const eg = st.isDirectory() ? ` such as ${path.join(p, 'vulndb.sqlite')}` : '';
  throw new PushgateError('BAD_ARGUMENT', `${where} ${p} is ${kind}; expected a vulnerability database file${eg} (created by \`pushgate db update\`)`);
}

/**
 * `--ecosystems` values (comma-separated, repeatable) as canonical OSV names; undefined when none given.
 * @throws PushgateError BAD_ARGUMENT naming an ecosystem pushgate has no version order for.
 */
function parseEcosystemList(values: string[]): string[] | undefined {
  const names = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  if (!names.length) return undefined;
  return names.map((n) => {
    const c = canonicalEcosystem(n);
    if (!c) throw new PushgateError('BAD_ARGUMENT', `--ecosystems: unknown ecosystem ${JSON.stringify(n)}: use OSV names, one of ${supportedEcosystems().join(', ')}`);
    return c;
  });
}

/** `db status --format json` when there is no database at the path (exit 2, as the text form). */
export interface MissingDbStatus {
  /** Always true here; a database that exists is reported with `missing: false` and its contents. */
  missing: true;
  /** The absolute path that was looked at. */
  path: string;
  /** The setting that chose the path (`--db`, `vulndb.path in FILE`, `cache directory from $VAR`). */
  pathFrom: string;
  /** The `pushgate db update` command line that builds the database at exactly that path. */
  updateCommand: string;
}

const DB_HELP = 'database path (default: vulndb.path of the config file, else <cache dir>/vulndb.sqlite)';
const CACHE_HELP = 'cache directory (default: $PUSHGATE_CACHE_DIR, $XDG_CACHE_HOME/pushgate, ~/.cache/pushgate)';

/** Adds `db update` and `db status` to the program. */
export function register(program: Command): void {
  const db = program.command('db').description('vulnerability database');
  db.command('update')
    .description('build a new vulnerability database from the sources (only those: nothing is kept from the old one) and swap it in atomically')
    // Commander prints a default of [] as "(default: [])", which reads as "no sources": say what is used instead.
    .addOption(
      new Option('--source <URL|DIR|ZIP>', 'OSV source: an all.zip URL, a zip file, or a folder of OSV JSON; enrichment: nvd:DIR|FILE|URL, kev:FILE|URL, epss:FILE|URL, eol:DIR|URL (repeatable)')
        .argParser(collect)
        .default([] as string[], 'vulndb.sources of the config file, else the public OSV exports'),
    )
    .option('--db <PATH>', DB_HELP)
    .option('--cache-dir <DIR>', CACHE_HELP)
    .option('--config <FILE>', 'configuration file (vulndb.path, vulndb.sources, vulndb.ecosystems; default $PUSHGATE_CONFIG)')
    .addOption(
      new Option('--ecosystems <LIST>', 'only these OSV ecosystems, comma-separated (e.g. "Debian,Red Hat,npm"): other export URLs of the sources are skipped (repeatable)')
        .argParser(collect)
        .default([] as string[], 'vulndb.ecosystems of the config file, else every ecosystem in the sources'),
    )
    .option('-q, --quiet', 'no progress: only the result line (warnings and errors still go to stderr)')
    .action(async (opts: { source: string[]; db?: string; config?: string; cacheDir?: string; ecosystems: string[]; quiet?: boolean }) => {
      const st = state(opts);
      const only = parseEcosystemList(opts.ecosystems);
      const bar = opts.quiet ? { tick: () => undefined, end: () => undefined } : downloadProgress(process.stderr);
      const stderrLine = (line: string) => process.stderr.write(`${terminalText(line)}\n`);
      // configured sources are already resolved against their configuration file
      const configured = opts.source.length ? opts.source.map((x) => absoluteSource(x)) : st.sources;
      const sources = only ? narrowSources(configured, only) : configured;
      checkDbPath(st.dbPath, whereFrom(st));
      const stats = await updateDb({
        path: st.dbPath,
        sources,
        ecosystems: only ?? st.config.vulndb.ecosystems,
        nvdApiKey: st.config.vulndb.nvdApiKey,
        onProgress: bar.tick,
        log: opts.quiet ? undefined : stderrLine,
        warn: stderrLine,
      }).finally(() => bar.end());
      // file names and messages quote the records (advisory data): terminal-safe
      for (const b of stats.badRecords) process.stderr.write(`pushgate: skipped ${terminalText(`${b.file}: ${b.error}`)}\n`);
      const eco = Object.entries(stats.byEcosystem).map(([k, v]) => `${k} ${v}`).join(', ');
      process.stdout.write(
        terminalText(`installed ${stats.path}: ${stats.imported} records (${eco}); ${stats.withdrawn} withdrawn, `) +
          `${stats.badRecords.length} bad, ${stats.skippedFiles} other files skipped, ${stats.gitRanges} GIT ranges not evaluated; built ${stats.builtAt}\n`,
      );
    });
  db.command('status')
    .description('show what the vulnerability database holds and when it was built')
    .option('--db <PATH>', DB_HELP)
    .option('--cache-dir <DIR>', CACHE_HELP)
    .option('--config <FILE>', 'configuration file (default $PUSHGATE_CONFIG)')
    .addOption(new Option('--format <FORMAT>', 'output format').choices(['json', 'table']).default('table'))
    .action((opts: { db?: string; config?: string; cacheDir?: string; format: 'json' | 'table' }) => {
      const loc = state(opts);
      const p = loc.dbPath;
      checkDbPath(p, whereFrom(loc));
      if (!fs.existsSync(p)) {
        // VulnDb.open's message says a bare `db update`, which builds another file when the path was chosen here
        const update = updateCommand(loc);
        // A script asking for JSON gets JSON either way (what is missing, where, how to build it); the
        // exit code and the stderr line are the text form's.
        if (opts.format === 'json') {
          const answer: MissingDbStatus = { missing: true, path: p, pathFrom: describeDbLocation(loc), updateCommand: update };
          process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
        }
        throw new PushgateError('VULNDB', `no vulnerability database at ${p} (${describeDbLocation(loc)}): run \`${update}\``);
      }
      let vdb: VulnDb;
      try {
        vdb = VulnDb.open(p);
      } catch (e) {
        // a file that is no database this pushgate reads (damaged, another schema): VulnDb.open's message
        // says a bare `db update`, which builds another file when the path was chosen here
        if (!isPushgateError(e, 'VULNDB')) throw e;
        throw new PushgateError('VULNDB', e.message.replace(`${p}: run \`pushgate db update\``, `${p} (${describeDbLocation(loc)}): run \`${updateCommand(loc)}\``), { cause: e });
      }
      try {
        const status = vdb.status();
        // what a scan would name ecosystem-uncovered: every ecosystem with a version order that has no record here
        const loaded = new Set(Object.keys(status.byEcosystem).map((e) => e.toLowerCase()));
        const notLoaded = supportedEcosystems().filter((e) => !loaded.has(e.toLowerCase()));
        const st = { missing: false as const, ...status, ageSeconds: vdb.ageSeconds(), sourceAgeSeconds: vdb.sourceAges(), pathFrom: describeDbLocation(loc), notLoaded };
        if (opts.format === 'json') {
          process.stdout.write(`${JSON.stringify(st, null, 2)}\n`);
          return;
        }
        const lines = [
          `path       ${st.path}  (${st.pathFrom})`,
          `built at   ${st.builtAt ?? 'unknown'}${st.ageSeconds !== null ? ` (${formatAge(st.ageSeconds)} ago)` : ''}`,
          `schema     ${st.schemaVersion}`,
          `records    ${st.records}`,
          ...Object.entries(st.byEcosystem).map(([k, v]) => `  ${k.padEnd(12)} ${v}`),
          `not loaded ${st.notLoaded.join(', ') || '-'}`,
          `sources    ${st.sources.join(', ')}`,
          ...st.sourceStatus.map((x) => {
            const age = st.sourceAgeSeconds[x.kind];
            return `  ${x.kind.padEnd(5)} ${String(x.items).padStart(7)} ${x.source}${x.dataDate ? `  data of ${x.dataDate}` : ''}${age !== undefined ? ` (${formatAge(age)} old)` : ''}`;
          }),
          ...(st.eolProducts.length ? [`eol        ${st.eolProducts.join(', ')}`] : []),
        ];
        // ecosystem names, source names, data dates and product names come from the data sources
        process.stdout.write(`${lines.map(terminalText).join('\n')}\n`);
      } finally {
        vdb.close();
      }
    });
}
