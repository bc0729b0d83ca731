/** `pushgate serve [--config FILE]`. */
import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../server/logger.js';
import { startServer } from '../../server/serve.js';

/** Registers `serve`. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('serve webhooks, the API and metrics; the admission and proxy listeners when configured')
    .option('--config <file>', 'configuration file (default: $PUSHGATE_CONFIG or config/pushgate.yaml)')
    .action(async (opts: { config?: string }) => {
      const config = loadConfig(opts.config);
      const logger = createLogger(config.log.level);
      const srv = await startServer(config, logger);
      process.stderr.write(`pushgate: serving on ${config.server.listen} (port ${srv.port})\n`);
      let closing = false;
      const shutdown = (sig: string) => {
        if (closing) return;
        closing = true;
        logger.info({ signal: sig }, 'shutting down');
        srv.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      await new Promise<never>(() => undefined);
    });
}
