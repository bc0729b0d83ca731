/**
 * `pushgate store migrate --from URL --to URL [--batch N]`: copies a whole store into a new, empty one
 * (src/store/migrate.ts), SQLite → PostgreSQL to scale out, or PostgreSQL → SQLite. Progress goes to
 * stderr; stdout carries the summary (a table, or JSON with `--format json`). Exit 2 when the target
 * holds rows, the source is busy, or a table differs after the copy.
 */
import { Command, Option } from 'commander';
import { PushgateError } from '../../core/index.js';
import { migrateStore } from '../../store/migrate.js';

const MIGRATE_HELP = `
Stop every \`pushgate serve\` (and reconcile, monitor) using the source first: the copy is a
snapshot, and events accepted by the source after it are not carried over. While the copy runs the
source is held still (SQLite: a write transaction, so a writer that is still running waits and then
fails; PostgreSQL: LOCK TABLE ... IN SHARE MODE). The target must be an empty database (PostgreSQL:
CREATE DATABASE; SQLite: a path that does not exist yet); the schema is created there. Ids and sequence
numbers are kept, sequences are advanced past the copied ones, and each table's row count and SHA-256
checksum are compared at the end. Then point store.url at the target and start serve again.

Example:
  pushgate store migrate --from sqlite:./data/pushgate.db --to postgres://pushgate@db:5432/pushgate`;

/** Registers `store migrate`. */
export function register(program: Command): void {
  const store = program.command('store').description('the store (verdicts, audit log, exceptions, queue)');
  store
    .command('migrate')
    .description('copy every table of one store into a new, empty one (sqlite: <-> postgres://), verified by row counts and checksums')
    .requiredOption('--from <url>', 'source store URL: sqlite:PATH or postgres://USER@HOST:PORT/DB')
    .requiredOption('--to <url>', 'target store URL (an empty database)')
    .option('--batch <rows>', 'rows per batch, one target transaction each (1-5000)', '1000')
    .addOption(new Option('--format <format>', 'summary format').choices(['table', 'json']).default('table'))
    .addHelpText('after', MIGRATE_HELP)
    .action(async (opts: { from: string; to: string; batch: string; format: 'table' | 'json' }) => {
      if (!/^\d+$/.test(opts.batch)) throw new PushgateError('BAD_ARGUMENT', `--batch ${JSON.stringify(opts.batch)}: give a whole number of rows from 1 to 5000`);
      const summary = await migrateStore({ from: opts.from, to: opts.to, batch: Number(opts.batch), progress: (l) => process.stderr.write(`pushgate: store migrate: ${l}\n`) });
      if (opts.format === 'json') {
        process.stdout.write(`${JSON.stringify({ tables: summary, rows: summary.reduce((n, t) => n + t.rows, 0), verified: true })}\n`);
        return;
      }
      const w = Math.max(...summary.map((t) => t.table.length));
      for (const t of summary) process.stdout.write(`${t.table.padEnd(w)}  ${String(t.rows).padStart(9)} rows  sha256 ${t.sha256.slice(0, 16)}${t.nextAfter !== undefined ? `  next id after ${t.nextAfter}` : ''}\n`);
      process.stdout.write(`${summary.reduce((n, t) => n + t.rows, 0)} rows copied; counts and checksums match\n`);
    });
}
