/**
 * `pushgate reconcile [--registry NAME]`: scans every tag of the guarded registries that has no
 * verdict (first install, lost notifications), through the same queue as notifications. The pass
 * itself is src/gate/reconcile.ts (also scheduled by `serve` with `reconcile.interval`).
 * Exit 2 before anything is queued when `store.url` names a SQLite file that does not exist (run away from
 * serve's directory: a new empty store would make every tag look unjudged), or, unless --no-enforce, when
 * no vulnerability database is loaded (every scan would be incomplete, and `onIncomplete` quarantines by
 * default: the pass would quarantine images serve allowed).
 */
import type { Command } from 'commander';
import { loadConfig, resolveConfigFile } from '../../config/load.js';
import { PushgateError } from '../../core/index.js';
import { Gate } from '../../gate/gate.js';
import { reconcileRecorded, type ReconcileResult } from '../../gate/reconcile.js';
import { defaultPolicy, loadPolicy } from '../../policy/index.js';
import { createLogger } from '../../server/logger.js';
import { openStore } from '../../store/index.js';
import { missingSqliteStore } from '../store-check.js';
import { terminalText } from '../terminal-text.js';

/**
 * The pass's one summary line on stderr: how many tags were looked at and how many of them were queued
 * (no verdict names them, or theirs is to be judged again: incomplete, enforcement failed, blocking),
 * and the events resumed for registries that answer again. The two counts are named apart: "queued 0 of
 * 2 tags without a verdict" read as two tags lacking a verdict when both had one.
 */
export function reconcileSummary(r: Pick<ReconcileResult, 'tags' | 'queued' | 'resumed'>): string {
  return `pushgate: reconcile: ${r.tags} tag(s) looked at, ${r.queued} queued to be judged (no verdict, or one to judge again)${r.resumed ? `; resumed ${r.resumed} event(s) that waited for their registry` : ''}`;
}

/** Registers `reconcile`. */
export function register(program: Command): void {
  program
    .command('reconcile')
    .description('scan every tag of the guarded registries that has no verdict')
    .option('--config <file>', 'configuration file (default: $PUSHGATE_CONFIG or config/pushgate.yaml)')
    .option('--registry <name>', 'only this configured registry')
    .option('--no-enforce', 'queue and judge, but let `pushgate serve` workers process (default: process here)')
    .action(async (opts: { config?: string; registry?: string; enforce: boolean }) => {
      const config = loadConfig(opts.config);
      const missing = missingSqliteStore(config.store.url, resolveConfigFile(opts.config));
      if (missing) throw new PushgateError('STORE', missing);
      const logger = createLogger(config.log.level);
      const store = await openStore(config.store.url);
      const policy = config.policy ? loadPolicy(config.policy, { registries: config.registries }) : defaultPolicy();
      const gate = new Gate({ config, store, policy, logger });
      try {
        if (opts.enforce) {
          const ready = gate.vulndbReadiness();
          if (!ready.ok) throw new PushgateError('VULNDB', `${ready.error}; reconcile judges and enforces here, and without a database every scan is incomplete (the policy's onIncomplete decides: quarantine by default). Run it where \`pushgate serve\` runs, or pass --no-enforce to leave the judging to serve's workers`);
        }
        const r = await reconcileRecorded({ config, gate, store, logger, registry: opts.registry });
        for (const e of r.errors) process.stderr.write(`pushgate: reconcile: ${terminalText(`${e.registry}${e.repository ? `/${e.repository}` : ''}${e.tag ? `:${e.tag}` : ''}: ${e.message}`)}\n`);
        for (const t of r.truncated ?? []) process.stderr.write(`pushgate: reconcile: ${terminalText(`${t.registry}${t.repository ? `/${t.repository}` : ''}: the ${t.repository ? 'tag list' : 'catalog'} is longer than pushgate reads (${t.limit}); walked the ${t.read} listed before the bound and the ${t.known} the store knows`)}\n`);
        process.stderr.write(`${reconcileSummary(r)}\n`);
        if (opts.enforce) {
          const n = await gate.drain();
          process.stdout.write(`${JSON.stringify({ tags: r.tags, queued: r.queued, resumed: r.resumed, processed: n, errors: r.errors.length, truncated: r.truncated?.length ?? 0 })}\n`);
        }
        // Tags that could not be listed were not reconciled: say so in the exit code (2, like an unreadable target).
        if (r.errors.length) process.exitCode = 2;
      } finally {
        await store.close();
      }
    });
}
