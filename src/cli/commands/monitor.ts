/**
 * `pushgate monitor [--all]` and `pushgate affected ID`: continuous monitoring from the command line
 * (src/monitor), against the configured store and vulnerability database, without a registry request
 * unless a re-judged image must be enforced.
 * - `monitor`: the pass for the database in force, if no replica did it yet (as `serve` runs it after a
 *   database change); `--all`: every stored image judged again (or an unfinished full pass resumed).
 *   `--rescan`: every stored image whose cached inventory was made by an older analyzer set (or was
 *   incomplete) is scanned again from its registry (one line per image on stderr: `rescan N/TOTAL
 *   REGISTRY/REPOSITORY@DIGEST: rescanned|failed|skipped`), then indexed; a failure is reported and
 *   the rest go on.
 *   stdout: the pass's counts as one JSON line. Exit 0; 2 when the store or database cannot be opened,
 *   or --all and --rescan are given together; 1 when some rescan failed.
 * - `affected ID [--limit N] [--after DIGEST]`: a page of the stored images with a finding whose id or
 *   alias is ID (CVE, GHSA, OSV id; any case), in digest order, with repositories, tags, package and
 *   fixed versions, and the workloads admission saw running each image (namespace/Kind/name, most
 *   recently seen first); at most N images (1..1000, default 100) after DIGEST. `--format table` (default,
 *   ending with a `more images: run again with --after …` line when there are more) or `json` (with
 *   `more` and `next`). Exit 0 (also when no image is affected); 2 for a bad id, limit or digest.
 * Both exit 2 when `store.url` names a SQLite file that does not exist (run away from serve's directory):
 * an empty store created there would answer "no image affected".
 */
import type { Command } from 'commander';
import { loadConfig, resolveConfigFile } from '../../config/load.js';
import { isDigest, PushgateError, type Digest } from '../../core/index.js';
import { Gate } from '../../gate/gate.js';
import { Notifier } from '../../gate/notify.js';
import { PolicyControl } from '../../gate/reevaluate.js';
import { advisoryIdProblem, AFFECTED_LIMIT, Monitor, type AffectedAnswer } from '../../monitor/index.js';
import { defaultPolicy, loadPolicy } from '../../policy/index.js';
import { createLogger } from '../../server/logger.js';
import { missingSqliteStore } from '../store-check.js';
import { terminalSafe } from '../terminal-text.js';
import { tableLines } from '../table.js';
import { openStore } from '../../store/index.js';

/** pino's levels, most verbose first. */
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/**
 * Opens what a monitor needs from the configuration; `close` releases it.
 * @param quiet a query (`affected`): the log says only warnings and errors, whatever `log.level` says, so
 *   its answer is not interleaved with the service's info lines (database loaded, …) on the terminal.
 */
async function openMonitor(configFile: string | undefined, quiet = false): Promise<{ monitor: Monitor; gate: Gate; hosts: Map<string, string>; close(): Promise<void> }> {
  const config = loadConfig(configFile);
  const missing = missingSqliteStore(config.store.url, resolveConfigFile(configFile));
  if (missing) throw new PushgateError('STORE', missing);
  const level = quiet && LEVELS.indexOf(config.log.level) < LEVELS.indexOf('warn') ? 'warn' : config.log.level;
  const logger = createLogger(level);
  const store = await openStore(config.store.url);
  const policy = config.policy ? loadPolicy(config.policy, { registries: config.registries }) : defaultPolicy();
  const notifier = config.notify.length ? new Notifier({ targets: config.notify, publicUrl: config.server.publicUrl, logger }) : undefined;
  const gate = new Gate({ config, store, policy, logger, notifier });
  const control = new PolicyControl({ gate, store, config, logger, policy, notifier });
  await control.init();
  const monitor = new Monitor({ store, logger, vulndb: () => gate.currentVulnDb(), policy: () => gate.currentPolicy, bases: (s) => gate.baseImages.bases(s), notifier, act: (b, a, v) => control.actOnTags(b, a, v), outboxLeaseMs: config.queue?.outboxLeaseMs });
  // As in serve: notices of what this run enforces go through the outbox (delivered before close, else by serve).
  notifier?.useOutbox({ add: (bodies) => store.monitor.addOutbox(bodies, Date.now()), kick: () => monitor.kickOutbox() });
  return {
    monitor,
    gate,
    hosts: new Map(config.registries.map((r) => [r.name, new URL(r.url).host])),
    async close() {
      await monitor.outboxIdle();
      await notifier?.idle();
      await control.close();
      await store.close();
    },
  };
}

/** Workloads shown per table cell at most; the rest are counted (`--format json` lists up to the API's bound). */
const WORKLOADS_SHOWN = 3;

/**
 * The WORKLOADS cell of a row: `[cluster:]namespace/Kind/name` of the most recently seen workloads,
 * then `+N` for the others recorded; `-` for none. The strings are the review's as stored: the caller
 * escapes them for the terminal.
 */
export function workloadsCell(workloads: AffectedAnswer['images'][number]['workloads'], count: number): string {
  if (!workloads.length && !count) return '-';
  const shown = workloads.slice(0, WORKLOADS_SHOWN).map((w) => `${w.cluster ? `${w.cluster}:` : ''}${w.namespace}/${w.kind}/${w.name}`);
  const rest = count - shown.length;
  return shown.join(',') + (rest > 0 ? ` +${rest}` : '');
}

/** The STATE cell of a verdict's enforcement that was done. */
const STATE: Record<string, string> = { quarantine: 'quarantined', delete: 'deleted', label: 'labelled' };

/**
 * The table of `affected`: one line per (image, repository, finding), with its STATE (`quarantined`,
 * `deleted` or `labelled` when pushgate enforced that verdict, else `-`), PLATFORM when the image has
 * several, and the workloads that run the image.
 * @param hosts registry name → `host[:port]` of its URL (the configuration's registries): a repository
 *   prints as the reference users pull (`registry.example:5000/team/app:1.2`); a registry the
 *   configuration no longer names prints as `[name] team/app:1.2` (a name is not a host).
 */
export function affectedTable(answer: AffectedAnswer, hosts: ReadonlyMap<string, string> = new Map()): string {
  // Package names, versions, repositories and tags come from images and registries: no control character
  // reaches the terminal (JSON keeps the exact values).
  const a = terminalSafe(answer);
  if (!a.images.length) return `no stored image has ${a.id}\n`;
  // a multi-platform image holds the package once per platform: the rows say which
  const platforms = a.images.some((img) => img.findings.some((f) => f.platform));
  const rows: string[][] = [['IMAGE', 'STATE', 'DIGEST', ...(platforms ? ['PLATFORM'] : []), 'ADVISORY', 'PACKAGE', 'INSTALLED', 'FIXED', 'SEVERITY', 'WORKLOADS']];
  for (const img of a.images) {
    const where = img.verdicts.length
      ? img.verdicts.map((v) => {
          const host = hosts.get(v.registry);
          // a tag pushgate moved or removed is not pullable under the name listed
          return [`${host ? `${host}/` : `[${v.registry}] `}${v.repository}${v.tags.length ? `:${v.tags.join(',')}` : ''}`, STATE[v.enforced ?? ''] ?? '-'];
        })
      : [['(no verdict)', '-']];
    const used = workloadsCell(img.workloads ?? [], img.workloadCount ?? 0);
    for (const [w, state] of where) for (const f of img.findings) rows.push([w, state, img.digest.slice(0, 19), ...(platforms ? [f.platform ?? '-'] : []), f.id, f.package, f.installedVersion, f.fixedVersions.join(',') || '-', f.severity, used]);
  }
  const more = a.more ? `more images: run again with --after ${a.next}\n` : '';
  // columns fit their cells up to a bound; a longer repository or version continues its row below (table.ts)
  return `${tableLines(rows, { gap: 2 }).join('\n')}\n${more}`;
}

/** Registers `monitor` and `affected`. */
export function register(program: Command): void {
  program
    .command('monitor')
    .description('judge stored images again after a vulnerability database change (no registry traffic)')
    .option('--config <file>', 'configuration file (default: $PUSHGATE_CONFIG or config/pushgate.yaml)')
    .option('--all', 'judge every stored image again, not only those the last database change can touch')
    .option('--rescan', 'scan again, from the registry, every stored image whose inventory an older analyzer set made')
    .action(async (opts: { config?: string; all?: boolean; rescan?: boolean }) => {
      if (opts.all && opts.rescan) throw new PushgateError('BAD_ARGUMENT', '--all and --rescan: use one (a rescan judges what it scans; run --all after it to judge the rest again)');
      const m = await openMonitor(opts.config);
      try {
        const ready = m.gate.vulndbReadiness();
        if (!ready.ok) throw new PushgateError('VULNDB', ready.error);
        if (opts.rescan) {
          // an operator's request, as one made through the API
          const r = await m.monitor.rescan((req) => m.gate.assess({ ...req, source: 'api' }), (p) => {
            const where = p.repository ? `${p.registry}/${p.repository}@${p.digest}` : p.digest;
            process.stderr.write(terminalSafe(`rescan ${p.done}/${p.total} ${where}: ${p.result}${p.error ? ` (${p.error})` : ''}`) + '\n');
          });
          process.stdout.write(`${JSON.stringify(r)}\n`);
          if (r.failed) process.exitCode = 1;
          return;
        }
        const stats = opts.all ? await m.monitor.all() : await m.monitor.tick();
        process.stdout.write(`${JSON.stringify(stats ?? { skipped: true, reason: 'every stored image is judged by the database in force' })}\n`);
      } finally {
        await m.close();
      }
    });
  program
    .command('affected')
    .description('list stored images with an advisory (by id or alias, e.g. a CVE), a page at a time')
    .argument('<id>', 'advisory id or alias: CVE-2024-3094, GHSA-…, NSWG-NPM-458, …')
    .option('--config <file>', 'configuration file (default: $PUSHGATE_CONFIG or config/pushgate.yaml)')
    .option('--format <format>', 'table | json', 'table')
    .option('--limit <n>', `images per page, ${AFFECTED_LIMIT.min} to ${AFFECTED_LIMIT.max}`, String(AFFECTED_LIMIT.default))
    .option('--after <digest>', 'start after this image digest (the "next" of the previous page)')
    .action(async (id: string, opts: { config?: string; format: string; limit: string; after?: string }) => {
      if (opts.format !== 'table' && opts.format !== 'json') throw new PushgateError('BAD_ARGUMENT', `--format ${opts.format}: use table or json`);
      const problem = advisoryIdProblem(id);
      if (problem) throw new PushgateError('BAD_ARGUMENT', problem);
      const limit = /^\d{1,7}$/.test(opts.limit) ? Number(opts.limit) : NaN;
      if (!(limit >= AFFECTED_LIMIT.min && limit <= AFFECTED_LIMIT.max)) {
        throw new PushgateError('BAD_ARGUMENT', `--limit ${opts.limit}: use an integer from ${AFFECTED_LIMIT.min} to ${AFFECTED_LIMIT.max}`);
      }
      if (opts.after !== undefined && !isDigest(opts.after)) throw new PushgateError('BAD_ARGUMENT', `--after ${opts.after}: use an image digest (sha256:<64 hex>), the "next" of the previous page`);
      const m = await openMonitor(opts.config, true);
      try {
        // an operator's command: every stored report is indexed first (no bound, as `monitor` does)
        const a = await m.monitor.affected(id, { limit, after: opts.after as Digest | undefined, catchUp: 'all' });
        process.stdout.write(opts.format === 'json' ? `${JSON.stringify(a, null, 2)}\n` : affectedTable(a, m.hosts));
      } finally {
        await m.close();
      }
    });
}
