/**
 * `pushgate db update [--source URL|DIR|ZIP]... [--db PATH] [--config FILE]` and
 * `pushgate db status [--db PATH] [--format json|table]` (DESIGN.md §3). Update exit codes: 0 when
 * the new database was installed, 2 when nothing could be imported (a PushgateError VULNDB thrown to
 * the main CLI, which prints it and exits 2). Progress goes to stderr; stdout carries only results.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { PushgateError } from '../../core/index.js';
import { defaultConfig, loadConfig } from '../../config/load.js';
import type { PushgateConfig } from '../../config/types.js';
import { updateDb, VulnDb } from '../../vulndb/index.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A progress reporter: a redrawn bar on a TTY, a plain line every 10% (and per source) otherwise. */
function progress(stream: NodeJS.WriteStream): { tick: (p: { source: string; done: number; total?: number }) => void; end: () => void } {
  let lastSource = '';
  let lastPct = -1;
  return {
    tick(p) {
      const pct = p.total ? Math.floor((p.done / p.total) * 100) : -1;
      if (stream.isTTY) {
        const width = 30;
        const filled = pct < 0 ? 0 : Math.round((pct / 100) * width);
        stream.write(`\r${p.source.slice(-40)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}${p.total ? `/${p.total}` : ''}`);
        lastSource = p.source;
        return;
      }
      if (p.source !== lastSource) {
        lastSource = p.source;
        lastPct = -1;
        stream.write(`reading ${p.source}\n`);
      }
      const step = pct < 0 ? -1 : Math.floor(pct / 10) * 10;
      if (step >= 0 && step !== lastPct && (step % 10 === 0)) {
        lastPct = step;
        stream.write(`${p.source}: ${p.done}/${p.total} files (${step}%)\n`);
      }
    },
    end() {
      if (stream.isTTY && lastSource) stream.write('\n');
    },
  };
}

/** The configuration a `db` command reads: the given file, else the built-in defaults (`./data/vulndb.sqlite`). */
function config(file?: string): PushgateConfig {
  return file ? loadConfig(file) : defaultConfig();
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

/** Adds `db update` and `db status` to the program. */
export function register(program: Command): void {
  const db = program.command('db').description('vulnerability database');
  db.command('update')
    .description('build a new vulnerability database from exactly the given sources and swap it in atomically')
    .option('--source <URL|DIR|ZIP>', 'OSV source: an all.zip URL, a zip file, or a folder of OSV JSON; enrichment: nvd:DIR|FILE|URL, kev:FILE|URL, epss:FILE|URL, eol:DIR|URL (repeatable)', collect, [] as string[])
    .option('--db <PATH>', 'database path (default: config vulndb.path, ./data/vulndb.sqlite)')
    .option('--config <FILE>', 'configuration file (vulndb.path, vulndb.sources, vulndb.ecosystems)')
    .action(async (opts: { source: string[]; db?: string; config?: string }) => {
      const cfg = config(opts.config);
      const bar = progress(process.stderr);
      const sources = opts.source.length ? opts.source : cfg.vulndb.sources;
      const dbPath = opts.db ?? cfg.vulndb.path;
      checkDbPath(dbPath, opts.db ? '--db' : 'vulndb.path');
      const stats = await updateDb({
        path: dbPath,
        sources,
        ecosystems: cfg.vulndb.ecosystems,
        nvdApiKey: cfg.vulndb.nvdApiKey,
        onProgress: bar.tick,
        log: (line) => process.stderr.write(`${line}\n`),
      }).finally(() => bar.end());
      for (const b of stats.badRecords) process.stderr.write(`pushgate: skipped ${b.file}: ${b.error}\n`);
      const eco = Object.entries(stats.byEcosystem).map(([k, v]) => `${k} ${v}`).join(', ');
      process.stdout.write(
        `installed ${stats.path}: ${stats.imported} records (${eco}); ${stats.withdrawn} withdrawn, ` +
          `${stats.badRecords.length} bad, ${stats.skippedFiles} other files skipped, ${stats.gitRanges} GIT ranges not evaluated; built ${stats.builtAt}\n`,
      );
    });
  db.command('status')
    .description('show what the vulnerability database holds and when it was built')
    .option('--db <PATH>', 'database path (default: config vulndb.path, ./data/vulndb.sqlite)')
    .option('--config <FILE>', 'configuration file')
    .addOption(new Option('--format <FORMAT>', 'output format').choices(['json', 'table']).default('table'))
    .action((opts: { db?: string; config?: string; format: 'json' | 'table' }) => {
      const p = opts.db ?? config(opts.config).vulndb.path;
      checkDbPath(p, opts.db ? '--db' : 'vulndb.path');
      const vdb = VulnDb.open(p);
      try {
        const st = { ...vdb.status(), ageSeconds: vdb.ageSeconds(), sourceAgeSeconds: vdb.sourceAges() };
        if (opts.format === 'json') {
          process.stdout.write(`${JSON.stringify(st, null, 2)}\n`);
          return;
        }
        const lines = [
          `path       ${st.path}`,
          `built at   ${st.builtAt ?? 'unknown'}${st.ageSeconds !== null ? ` (${Math.round(st.ageSeconds / 3600)} h ago)` : ''}`,
          `schema     ${st.schemaVersion}`,
          `records    ${st.records}`,
          ...Object.entries(st.byEcosystem).map(([k, v]) => `  ${k.padEnd(12)} ${v}`),
          `sources    ${st.sources.join(', ')}`,
          ...st.sourceStatus.map((x) => {
            const age = st.sourceAgeSeconds[x.kind];
            return `  ${x.kind.padEnd(5)} ${String(x.items).padStart(7)} ${x.source}${x.dataDate ? `  data of ${x.dataDate}` : ''}${age !== undefined ? ` (${Math.round(age / 3600)} h old)` : ''}`;
          }),
          ...(st.eolProducts.length ? [`eol        ${st.eolProducts.join(', ')}`] : []),
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        vdb.close();
      }
    });
}
