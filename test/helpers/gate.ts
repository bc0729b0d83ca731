/**
 * Helpers for tests that run pushgate itself: a configuration for the lab registry, the
 * Prometheus text read back as numbers, and `pushgate serve` as a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { defaultConfig } from '../../src/config/load.js';
import type { PushgateConfig, RegistryConfig } from '../../src/config/types.js';
import { ROOT } from './lab.js';

/** A logger that says nothing (tests read verdicts, not logs). */
export const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** A `distribution` registry entry for a lab registry on 127.0.0.1:`port`. */
export function labRegistryConfig(name: string, port: number, token: string): RegistryConfig {
  return { name, url: `http://127.0.0.1:${port}`, type: 'distribution', insecure: false, webhook: { token }, quarantine: { repositoryPrefix: 'quarantine/' }, concurrency: 8, timeoutMs: 30_000 };
}

/**
 * The built-in configuration, listening on a free loopback port, with its store and vulnerability
 * database in `dir` (`dir/vulndb.sqlite` must have been built) and no scheduled database refresh.
 */
export function labGateConfig(dir: string, registries: RegistryConfig[]): PushgateConfig {
  const config = defaultConfig();
  config.server.listen = '127.0.0.1:0';
  config.store.url = `sqlite:${path.join(dir, 'pushgate.db')}`;
  config.vulndb.path = path.join(dir, 'vulndb.sqlite');
  config.vulndb.sources = [];
  config.registries = registries;
  return config;
}

/** Sums the samples of metric `name` whose labels include `labels`, in Prometheus text. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/**
 * Starts `pushgate serve --config FILE` as a child process and resolves once `/healthz` on
 * `port` answers; rejects with its stderr if it exits first. `onStderr` sees every stderr chunk.
 */
export function serveChild(configFile: string, port: number, env: NodeJS.ProcessEnv = {}, onStderr?: (chunk: string) => void): Promise<ChildProcess> {
  const c = spawn(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), 'serve', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  c.stderr!.on('data', (d) => {
    stderr = (stderr + String(d)).slice(-20_000);
    onStderr?.(String(d));
  });
  return new Promise((resolve, reject) => {
    const t = setInterval(async () => {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) {
          clearInterval(t);
          resolve(c);
        }
      } catch {
        if (c.exitCode !== null) {
          clearInterval(t);
          reject(new Error(`pushgate serve exited: ${stderr}`));
        }
      }
    }, 50);
  });
}
