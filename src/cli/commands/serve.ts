/** `pushgate serve [--config FILE]`. */
import type { Command } from 'commander';
import path from 'node:path';
import { DEFAULT_CONFIG_FILE, loadConfig, resolveConfigFile } from '../../config/load.js';
import { createLogger } from '../../server/logger.js';
import type { PushgateConfig } from '../../config/types.js';
import { startServer, type RunningServer } from '../../server/serve.js';

/**
 * The one line `serve` prints on stderr once every listener is up: the main listener first (its form is
 * read by scripts: `pushgate: serving on LISTEN (port N)`), then the metrics listener, the admission
 * listener and the push proxy when configured, each with its bound port and how callers reach it, so an operator sees every
 * port the process opened without reading the JSON log; and what a first start usually lacks: the admission listener
 * off for want of TLS, no registry configured. Last, the configuration file read (`configFile`, as
 * {@link resolveConfigFile} chose it), or that none was and the built-in defaults serve: a file left in the
 * wrong directory is otherwise silently ignored.
 */
export function startupLine(config: Pick<PushgateConfig, 'server' | 'admission' | 'proxy' | 'metrics' | 'registries'>, srv: Pick<RunningServer, 'port' | 'admissionPort' | 'proxyPort' | 'metricsPort'>, configFile: string | undefined): string {
  const parts = [`pushgate: serving on ${config.server.listen} (port ${srv.port})`];
  if (srv.metricsPort !== undefined) parts.push(`metrics on ${config.metrics.listen} (port ${srv.metricsPort})`);
  if (srv.admissionPort !== undefined) {
    const auth = config.admission.clientCA ? 'client certificate required' : 'NO client authentication';
    parts.push(`admission on ${config.admission.listen ?? '0.0.0.0:8443'} (port ${srv.admissionPort}, TLS, ${auth})`);
  } else if (!config.admission.tls) {
    // admission.listen has a default, so the listener looks configured: say why it is not there
    parts.push('admission listener off (admission.tls is not set: the API server calls webhooks over HTTPS only)');
  }
  if (srv.proxyPort !== undefined) parts.push(`push proxy on ${config.proxy.listen} (port ${srv.proxyPort}, ${config.proxy.tls ? 'TLS' : 'clear text'})`);
  if (!config.registries.length) parts.push('no registries configured: nothing is gated until registries[] names one');
  parts.push(configFile !== undefined
    ? `configuration ${path.resolve(configFile)}`
    : `configuration: built-in defaults (no --config, no PUSHGATE_CONFIG, no ${DEFAULT_CONFIG_FILE} in ${process.cwd()})`);
  return parts.join('; ');
}

/** Registers `serve`. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('serve webhooks, the API and metrics; the admission and proxy listeners when configured')
    .option('--config <file>', 'configuration file (default: $PUSHGATE_CONFIG or config/pushgate.yaml)')
    .action(async (opts: { config?: string }) => {
      const config = loadConfig(opts.config);
      const configFile = resolveConfigFile(opts.config);
      const logger = createLogger(config.log.level);
      const srv = await startServer(config, logger);
      process.stderr.write(`${startupLine(config, srv, configFile)}\n`);
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
