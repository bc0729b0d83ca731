/**
 * Image-configuration checks (image-spec config.md): runs as root (User empty, `root`, `0`, `0:0`,
 * `root:…`), exposed privileged or admin ports, no HEALTHCHECK, image age from `created`, image
 * size and layer count, base image from OCI annotations (image-spec annotations.md
 * `org.opencontainers.image.base.name/digest`) or history. Secrets anywhere in the config are found
 * by config-secrets.ts, which also hands these checks the redacted config they read.
 */
import type { ConfigFinding } from '../core/index.js';

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
  history?: HistoryEntry[];
}

/** One image-config history entry (image-spec config.md `history`). */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** The number of history entries that claim a filesystem layer (those without `empty_layer: true`). */
export function historyLayerCount(history: HistoryEntry[] | undefined): number {
  return (history ?? []).filter((h) => !h.empty_layer).length;
}

/**
 * The base-layer count {@link guessBaseLayerCount} reads from history, checked against the layers the
 * manifest actually lists. History is written by whoever built the image and nothing ties it to the
 * layers (image-spec config.md only says the non-empty entries *should* match `rootfs.diff_ids`), so
 * the guess is refused when the non-empty entries are not exactly one per layer, or when it would make
 * every layer the base's (the image's own top layer is never base; an image with no layer of its own
 * is a base image itself, or its history is wrong).
 * @param layerCount the manifest's layer count.
 * @returns `{ count }` (1..layerCount-1), or `{ refused }`: one sentence saying why no count is given.
 */
export function baseFromHistory(history: HistoryEntry[] | undefined, layerCount: number): { count: number } | { refused: string } {
  if (!history?.length) return { refused: 'the image config has no history' };
  const claimed = historyLayerCount(history);
  if (claimed !== layerCount) {
    return { refused: `the image history lists ${claimed} non-empty entr${claimed === 1 ? 'y' : 'ies'} but the manifest has ${layerCount} layer(s), so the history does not describe these layers` };
  }
  const count = guessBaseLayerCount(history);
  if (count === undefined) return { refused: 'the image history marks no base image (no CMD entry above this image\'s layers)' };
  if (count >= layerCount) return { refused: `the image history would make all ${layerCount} layer(s) the base's, leaving the image no layer of its own` };
  return { count };
}

/**
 * How many of the image's (non-empty) layers come from its base image, guessed from history as
 * trivy does (pkg/fanal/image GuessBaseImageIndex): skip the trailing empty entries (this image's
 * CMD/ENTRYPOINT/…), then the first empty `CMD` entry met going up is the base image's last
 * instruction; the non-empty entries above it are the base layers. Undefined when no such CMD is
 * found (the image is a base itself, or its history says nothing).
 *
 * With `layerCount` (the manifest's layers) the guess is also checked as {@link baseFromHistory}
 * does, undefined when refused. Without it the count is unchecked: use it only with a check.
 */
export function guessBaseLayerCount(history: HistoryEntry[] | undefined, layerCount?: number): number | undefined {
  if (!history?.length) return undefined;
  if (layerCount !== undefined) {
    const r = baseFromHistory(history, layerCount);
    return 'count' in r ? r.count : undefined;
  }
  let foundNonEmpty = false;
  for (let i = history.length - 1; i >= 0; i--) {
    const h = history[i];
    if (!foundNonEmpty) {
      if (h.empty_layer) continue;
      foundNonEmpty = true;
    }
    if (!h.empty_layer) continue;
    const by = (h.created_by ?? '').trim();
    if (by.startsWith('/bin/sh -c #(nop)  CMD') || by.startsWith('CMD')) {
      const n = history.slice(0, i).filter((x) => !x.empty_layer).length;
      return n > 0 ? n : undefined;
    }
  }
  return undefined;
}

/** What {@link checkConfig} may also be told about the manifest. */
export interface CheckContext {
  now?: Date;
  annotations?: Record<string, string>;
  maxAgeDays?: number;
  /** The manifest's layers (compressed sizes): enables the size and layer-count findings. */
  layers?: Array<{ size: number }>;
  /** Image size above which `image-size` is `low` rather than informational (default 1 GiB). */
  maxSizeBytes?: number;
  /** Layer count above which `layer-count` is `low` (default 50). */
  maxLayers?: number;
}

const ADMIN_PORTS: Record<number, string> = { 22: 'SSH', 23: 'telnet', 2375: 'Docker API (plain)', 2376: 'Docker API', 3389: 'RDP', 5900: 'VNC' };

/** True when the user string means uid 0. */
export function isRootUser(user: string | undefined): boolean {
  const u = (user ?? '').trim();
  if (u === '') return true;
  const name = u.split(':')[0];
  return name === 'root' || name === '0';
}

/**
 * Runs the checks on a config (give it the redacted copy from config-secrets.ts: messages quote
 * config and annotation values). `now` is injectable for tests.
 */
export function checkConfig(cfg: RawImageConfig, opts: CheckContext = {}): { config: ConfigFinding[]; baseLayerCount?: number } {
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
  if (opts.layers) {
    const total = opts.layers.reduce((a, l) => a + (Number.isFinite(l.size) ? l.size : 0), 0);
    const big = total > (opts.maxSizeBytes ?? 1024 ** 3);
    out.push({ check: 'image-size', severity: big ? 'low' : 'negligible', message: `the image is ${(total / 2 ** 20).toFixed(1)} MiB compressed${big ? '; a smaller base or a multi-stage build would shrink it' : ''}` });
    const many = opts.layers.length > (opts.maxLayers ?? 50);
    out.push({ check: 'layer-count', severity: many ? 'low' : 'negligible', message: `the image has ${opts.layers.length} layer${opts.layers.length === 1 ? '' : 's'}${many ? '; squash or combine RUN steps' : ''}` });
  }
  // Checked against the manifest's layers when known: a history that does not match them names no base.
  const baseLayerCount = guessBaseLayerCount(cfg.history, opts.layers?.length);
  const base = opts.annotations?.['org.opencontainers.image.base.name'];
  const bd = opts.annotations?.['org.opencontainers.image.base.digest'];
  if (base || bd) {
    out.push({ check: 'base-image', severity: 'negligible', message: `base image ${base ?? '(unnamed)'}${bd ? `@${bd}` : ''} (annotations)${baseLayerCount ? `; the first ${baseLayerCount} layer(s) are the base's (history)` : ''}` });
  } else if (baseLayerCount) {
    out.push({ check: 'base-image', severity: 'negligible', message: `the first ${baseLayerCount} layer(s) come from a base image (history)` });
  }
  return { config: out, baseLayerCount };
}
