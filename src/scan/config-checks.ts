/**
 * Image-configuration checks (image-spec config.md): runs as root (User empty, `root`, `0`, `0:0`,
 * `root:…`), exposed privileged or admin ports, no HEALTHCHECK, image age from `created`, layer
 * count, base image from OCI annotations, and secrets in `Env` (the same rules as files).
 */
import type { ConfigFinding, SecretFinding } from '../core/index.js';
import { findSecrets } from './analyzers/secrets.js';

/** The raw config fields the checks read (a superset of core's ImageConfig). */
export interface RawImageConfig {
  created?: string;
  config?: {
    User?: string;
    Env?: string[];
    ExposedPorts?: Record<string, unknown>;
    Healthcheck?: { Test?: string[] };
    Labels?: Record<string, string>;
  };
  rootfs?: { diff_ids?: string[] };
}

const ADMIN_PORTS: Record<number, string> = { 22: 'SSH', 23: 'telnet', 2375: 'Docker API (plain)', 2376: 'Docker API', 3389: 'RDP', 5900: 'VNC' };

/** True when the user string means uid 0. */
export function isRootUser(user: string | undefined): boolean {
  const u = (user ?? '').trim();
  if (u === '') return true;
  const name = u.split(':')[0];
  return name === 'root' || name === '0';
}

/** Runs the checks. `now` is injectable for tests. */
export function checkConfig(cfg: RawImageConfig, opts: { now?: Date; annotations?: Record<string, string>; maxAgeDays?: number } = {}): { config: ConfigFinding[]; secrets: SecretFinding[] } {
  const out: ConfigFinding[] = [];
  const c = cfg.config ?? {};
  if (isRootUser(c.User)) {
    out.push({ check: 'runs-as-root', severity: 'medium', message: `the image runs as root (User ${c.User ? `"${c.User}"` : 'not set'}); set USER to a non-root uid` });
  }
  for (const key of Object.keys(c.ExposedPorts ?? {})) {
    const port = parseInt(key, 10);
    if (!Number.isFinite(port)) continue;
    if (ADMIN_PORTS[port]) out.push({ check: 'exposed-admin-port', severity: 'medium', message: `exposes ${key} (${ADMIN_PORTS[port]}), an administration port` });
    else if (port < 1024) out.push({ check: 'exposed-privileged-port', severity: 'low', message: `exposes privileged port ${key} (below 1024 needs root or CAP_NET_BIND_SERVICE)` });
  }
  if (!c.Healthcheck?.Test?.length || c.Healthcheck.Test[0] === 'NONE') {
    out.push({ check: 'no-healthcheck', severity: 'negligible', message: 'no HEALTHCHECK in the image configuration' });
  }
  if (cfg.created) {
    const t = Date.parse(cfg.created);
    const now = (opts.now ?? new Date()).getTime();
    const days = Math.floor((now - t) / 86_400_000);
    if (Number.isFinite(days) && days > (opts.maxAgeDays ?? 365) && t > 0) {
      out.push({ check: 'image-age', severity: 'low', message: `the image was built ${days} days ago (${cfg.created}); rebuild it to pick up fixes` });
    }
  }
  const base = opts.annotations?.['org.opencontainers.image.base.name'];
  if (base) {
    const bd = opts.annotations?.['org.opencontainers.image.base.digest'];
    out.push({ check: 'base-image', severity: 'negligible', message: `base image ${base}${bd ? `@${bd}` : ''}` });
  }
  const secrets: SecretFinding[] = [];
  for (const [i, env] of (c.Env ?? []).entries()) {
    for (const s of findSecrets(env.replace(/^([A-Za-z_][A-Za-z0-9_]*)=/, '$1='), 'config:Env')) secrets.push({ ...s, line: i + 1 });
  }
  return { config: out, secrets };
}
