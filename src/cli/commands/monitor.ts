/**
 * `pushgate monitor [--all]` and `pushgate affected ID`: continuous monitoring from the command line
 * (src/monitor), against the configured store and vulnerability database, without a registry request
 * unless a re-judged image must be enforced.
 * - `monitor`: the pass for the database in force, if no replica did it yet (as `serve` runs it after a
 *   database change); `--all`: every stored image judged again (or an unfinished full pass resumed).
 *   stdout: the pass's counts as one JSON line. Exit 0; 2 when the store or database cannot be opened.
 * - `affected ID`: every stored image with a finding whose id or alias is ID (CVE, GHSA, OSV id; any
 *   case), with repositories, tags, package and fixed versions. `--format table` (default) or `json`.
 *   Exit 0 (also when no image is affected).
 */
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { PushgateError } from '../../core/index.js';
import { Gate } from '../../gate/gate.js';
import { Notifier } from '../../gate/notify.js';
import { PolicyControl } from '../../gate/reevaluate.js';
import { Monitor, type AffectedAnswer } from '../../monitor/index.js';
import { defaultPolicy, loadPolicy } from '../../policy/index.js';
import { createLogger } from '../../server/logger.js';
import { terminalSafe } from '../terminal-text.js';
import { openStore } from '../../store/index.js';

/** Opens what a monitor needs from the configuration; `close` releases it. */
async function openMonitor(configFile: string | undefined): Promise<{ monitor: Monitor; gate: Gate; close(): Promise<void> }> {
  const config = loadConfig(configFile);
  const logger = createLogger(config.log.level);
  const store = await openStore(config.store.url);
  const policy = config.policy ? loadPolicy(config.policy) : defaultPolicy();
  const notifier = config.notify.length ? new Notifier({ targets: config.notify, publicUrl: config.server.publicUrl, logger }) : undefined;
  const gate = new Gate({ config, store, policy, logger, notifier });
  const control = new PolicyControl({ gate, store, config, logger, policy, notifier });
  await control.init();
  const monitor = new Monitor({ store, logger, vulndb: () => gate.currentVulnDb(), policy: () => gate.currentPolicy, notifier, act: (b, a, v) => control.actOnTags(b, a, v) });
  return {
    monitor,
    gate,
    async close() {
      await notifier?.idle();
      await control.close();
      await store.close();
    },
  };
}

/** The table of `affected`: one line per (image, repository, finding). */
export function affectedTable(answer: AffectedAnswer): string {
  // Package names, versions, repositories and tags come from images and registries: no control character
  // reaches the terminal (JSON keeps the exact values).
  const a = terminalSafe(answer);
  if (!a.images.length) return `no stored image has ${a.id}\n`;
  const rows: string[][] = [['IMAGE', 'DIGEST', 'ADVISORY', 'PACKAGE', 'INSTALLED', 'FIXED', 'SEVERITY']];
  for (const img of a.images) {
    const where = img.verdicts.length ? img.verdicts.map((v) => `${v.registry}/${v.repository}${v.tags.length ? `:${v.tags.join(',')}` : ''}`) : ['(no verdict)'];
    for (const w of where) for (const f of img.findings) rows.push([w, img.digest.slice(0, 19), f.id, f.package, f.installedVersion, f.fixedVersions.join(',') || '-', f.severity]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + '\n';
}

/** Registers `monitor` and `affected`. */
export function register(program: Command): void {
  program
    .command('monitor')
    .description('judge stored images again after a vulnerability database change (no registry traffic)')
    .option('--config <file>', 'configuration file')
    .option('--all', 'judge every stored image again, not only those the last database change can touch')
    .action(async (opts: { config?: string; all?: boolean }) => {
      const m = await openMonitor(opts.config);
      try {
        const ready = m.gate.vulndbReadiness();
        if (!ready.ok) throw new PushgateError('VULNDB', ready.error);
        const stats = opts.all ? await m.monitor.all() : await m.monitor.tick();
        process.stdout.write(`${JSON.stringify(stats ?? { skipped: true, reason: 'every stored image is judged by the database in force' })}\n`);
      } finally {
        await m.close();
      }
    });
  program
    .command('affected')
    .description('list every stored image with an advisory (by id or alias, e.g. a CVE)')
    .argument('<id>', 'advisory id or alias: CVE-2024-3094, GHSA-…, NSWG-NPM-458, …')
    .option('--config <file>', 'configuration file')
    .option('--format <format>', 'table | json', 'table')
    .action(async (id: string, opts: { config?: string; format: string }) => {
      if (opts.format !== 'table' && opts.format !== 'json') throw new PushgateError('BAD_ARGUMENT', `--format ${opts.format}: use table or json`);
      const m = await openMonitor(opts.config);
      try {
        const a = await m.monitor.affected(id);
        process.stdout.write(opts.format === 'json' ? `${JSON.stringify(a, null, 2)}\n` : affectedTable(a));
      } finally {
        await m.close();
      }
    });
}
