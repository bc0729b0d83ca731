/**
 * `pushgate reconcile [--registry NAME]`: scans every tag of the guarded registries that has no
 * verdict (first install, lost notifications), through the same queue as notifications.
 */
import type { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../config/load.js';
import { Gate } from '../../gate/gate.js';
import { defaultPolicy, loadPolicy } from '../../policy/index.js';
import { createLogger } from '../../server/logger.js';
import { openStore } from '../../store/index.js';

/** Registers `reconcile`. */
export function register(program: Command): void {
  program
    .command('reconcile')
    .description('scan every tag of the guarded registries that has no verdict')
    .option('--config <file>', 'configuration file')
    .option('--registry <name>', 'only this configured registry')
    .option('--no-enforce', 'queue and judge, but let `pushgate serve` workers process (default: process here)')
    .action(async (opts: { config?: string; registry?: string; enforce: boolean }) => {
      const config = loadConfig(opts.config);
      const logger = createLogger(config.log.level);
      const store = await openStore(config.store.url);
      const policy = config.policy ? loadPolicy(config.policy) : defaultPolicy();
      const gate = new Gate({ config, store, policy, logger });
      let queued = 0;
      try {
        for (const rc of config.registries) {
          if (opts.registry && rc.name !== opts.registry) continue;
          const client = gate.client(rc.name);
          for (const repo of await client.catalog()) {
            if (repo.startsWith(rc.quarantine.repositoryPrefix)) continue;
            for (const tag of await client.listTags(repo)) {
              const r = await client.resolve(repo, tag);
              if (!r) continue;
              const v = await store.getVerdict(rc.name, repo, r.digest);
              if (v && v.tags.includes(tag)) continue;
              await gate.ingest({ id: `reconcile-${randomUUID()}`, source: 'reconcile', registry: rc.name, action: 'push', repository: repo, digest: r.digest, tag });
              queued++;
            }
          }
        }
        process.stderr.write(`pushgate: reconcile queued ${queued} tag(s) without a verdict\n`);
        if (opts.enforce) {
          const n = await gate.drain();
          process.stdout.write(`${JSON.stringify({ queued, processed: n })}\n`);
        }
      } finally {
        await store.close();
      }
    });
}
