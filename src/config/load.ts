/**
 * Loading `config/pushgate.yaml` (DESIGN.md §3 "Configuration"): the only place that reads the
 * environment for configuration. One schema (./schema.ts), every problem reported with its line.
 */
import crypto, { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jwtConfigProblem } from './jwt.js';
import { staticTokenProblem } from './tokens.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { configValidator } from './config-validator.js';
import { configSchema } from './schema.js';
import { defaultConfig, defaultRegistry } from './defaults.js';
import { formatDuration, parseDuration, parseSize } from './units.js';
import { MAX_TIMER_MS } from '../core/timers.js';
import { repositoryNameProblem } from '../core/names.js';
import {
  displayPath,
  parseLocated,
  problemAt,
  sortProblems,
  substituteEnv,
  toJSLocated,
  validateLocated,
  type KeyPath,
  type LocatedDocument,
} from './yaml-doc.js';
import { DEFAULT_EVENT_LEASE_MS, DEFAULT_MAX_IMAGES_PER_REVIEW, DEFAULT_OUTBOX_LEASE_MS, DEFAULT_SCAN_TRIGGERS, DEFAULT_WORKLOAD_RETENTION_MS, DEFAULT_SIGNATURE_CACHE, EVENT_LEASE_BOUNDS, OUTBOX_LEASE_BOUNDS, type PushgateConfig, type RegistryConfig, type ScanLimitsConfig } from './types.js';
import { defaultPortOf, formatHostPort, parseHostPort, RegistryHosts, sameRegistryUrl, type HostPort } from '../core/host.js';

export { ConfigError, formatProblem, isConfigError, type ConfigProblem } from './errors.js';
export { defaultConfig } from './defaults.js';

/** The default config file, relative to the working directory. */
export const DEFAULT_CONFIG_FILE = 'config/pushgate.yaml';

/**
 * Which file {@link loadConfig} reads: the argument, else `PUSHGATE_CONFIG`, else
 * `config/pushgate.yaml` when it exists in the working directory, else none (built-in defaults).
 */
export function resolveConfigFile(file?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (file) return file;
  if (env.PUSHGATE_CONFIG) return env.PUSHGATE_CONFIG;
  return fs.existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined;
}

/**
 * Loads the configuration.
 *
 * Reads YAML from `file`, else env `PUSHGATE_CONFIG`, else `config/pushgate.yaml` if it exists, else
 * returns {@link defaultConfig}. Substitutes `${VAR}` (and `${VAR:-default}`) in values from `env`;
 * validates against the schema (unknown keys are errors); applies defaults; normalizes durations
 * (`500ms`, `30s`, `5m`, `1h`, `14d` → ms) and sizes (`512MiB` or bytes → bytes); resolves the paths
 * of input files (`policy`, `registries[].ca|clientCert|clientKey|auth.dockerConfig`, TLS files,
 * `api.jwt.publicKey` when it is a path, local `vulndb.sources`) relative to the config file and checks
 * they exist. State paths (`store.url` sqlite file, `vulndb.path`, `scan.tmpDir`) stay relative to the
 * working directory, as the process uses them.
 *
 * @throws ConfigError (code BAD_CONFIG) with every problem as `FILE:LINE:COL: KEY: message`.
 */
export function loadConfig(file?: string, env: NodeJS.ProcessEnv = process.env): PushgateConfig {
  const chosen = resolveConfigFile(file, env);
  if (chosen === undefined) return defaultConfig();
  const shown = displayPath(chosen);
  let text: string;
  try {
    text = fs.readFileSync(chosen, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    const why = missing ? 'file not found' : (err as Error).message;
    // Say who named the file: a stale PUSHGATE_CONFIG in a shell profile is the usual surprise.
    const namedBy = file ? 'the command line' : env.PUSHGATE_CONFIG ? 'PUSHGATE_CONFIG' : undefined;
    const fix = missing && namedBy ? ` (named by ${namedBy}, looked for at ${path.resolve(chosen)}); name an existing file, or name none to run on the built-in defaults` : '';
    throw new ConfigError([{ file: shown, line: 0, col: 0, key: '(file)', message: `cannot read the configuration: ${why}${fix}` }], 'cannot read the configuration; fix it and retry');
  }
  return parseConfigText(text, chosen, env);
}

/**
 * Parses configuration text as if read from `file` (used for paths and messages). Same rules and
 * errors as {@link loadConfig}.
 */
export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): PushgateConfig {
  const ld = parseLocated(text, displayPath(file));
  if (ld.problems.length) throw new ConfigError(sortProblems(ld.problems));
  substituteEnv(ld, env);
  const converted = toJSLocated(ld);
  if (!converted) throw new ConfigError(sortProblems(ld.problems));
  const raw = (converted.value ?? {}) as unknown;
  const problems: ConfigProblem[] = [...ld.problems];
  // A policy document given where a configuration is read (`scan --config policy.yaml`): one problem that
  // says what the file is and where it goes, not an "unknown key" for each of its top-level keys.
  if (raw && typeof raw === 'object' && !Array.isArray(raw) && (raw as Record<string, unknown>).kind === 'Policy') {
    throw new ConfigError([problemAt(ld, ['kind'], `${displayPath(file)} is a policy document (kind: Policy), not a pushgate configuration: name it in a configuration file's \`policy:\` key (as config/pushgate.yaml does: \`policy: policy.yaml\`) and give that file to --config; \`pushgate config check ${displayPath(file)}\` checks the policy itself`)]);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push(problemAt(ld, [], 'the configuration must be a mapping of keys (server, store, registries, …)'));
    throw new ConfigError(problems);
  }
  // A section whose keys are all commented out parses as null: that means "all defaults".
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const sectionType = (configSchema.properties as Record<string, { type?: string }>)[k]?.type;
    if (v === null && (sectionType === 'object' || sectionType === 'array')) delete (raw as Record<string, unknown>)[k];
  }
  // A value whose ${VAR} is unset already has its problem: do not also report it as malformed.
  const unsetKeys = new Set(ld.problems.map((p) => p.key));
  problems.push(...validateLocated(ld, configValidator(), raw).filter((p) => !unsetKeys.has(p.key)));
  const schemaOk = problems.length === 0;
  let cfg: PushgateConfig | undefined;
  try {
    // Runs even when the schema failed, so that cross-key problems (duplicates, missing files) are
    // reported in the same pass; its own throws on malformed shapes are then irrelevant.
    cfg = build(raw as RawConfig, path.resolve(file), ld, problems);
  } catch (err) {
    if (schemaOk) throw err;
  }
  if (problems.length || !cfg) throw new ConfigError(dedupe(sortProblems(problems)));
  return cfg;
}

function dedupe(ps: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return ps.filter((p) => {
    const k = `${p.line}:${p.col}:${p.key}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// The YAML shape (schema-validated).
interface RawRegistry {
  name: string;
  url: string;
  aliases?: string[];
  type?: 'distribution' | 'harbor';
  insecure?: boolean;
  auth?: RegistryConfig['auth'];
  ca?: string;
  clientCert?: string;
  clientKey?: string;
  webhook?: { token?: string; previousTokens?: string[] };
  quarantine?: { repositoryPrefix?: string; project?: string; label?: string; remove?: 'artifact' | 'tag'; retention?: string };
  concurrency?: number;
  timeout?: string;
}
interface RawConfig {
  server?: { listen?: string; bodyLimit?: string | number; readTimeout?: string; publicUrl?: string };
  metrics?: { listen?: string; repositoryDepth?: number };
  log?: { level?: PushgateConfig['log']['level'] };
  store?: { url?: string; connectTimeout?: string };
  vulndb?: { path?: string; sources?: string[]; ecosystems?: string[]; updateInterval?: string; nvdApiKey?: string };
  scan?: {
    workers?: number; tmpDir?: string; tmpDirLimit?: string | number; maxManifestSize?: string | number; deadline?: string;
    limits?: { layers?: number; entriesPerLayer?: number; layerSize?: string | number; ratio?: number; lockFileSize?: string | number; packageDbSize?: string | number };
  };
  queue?: { maxAttempts?: number; registryProbeInterval?: string; eventLease?: string; outboxLease?: string };
  enforcement?: { untaggedGrace?: string };
  harborAdapter?: { tokens?: string[] };
  publish?: { referrers?: { enabled?: boolean; signingKey?: string; retryInterval?: string } };
  vex?: { paths?: string[] };
  reconcile?: { interval?: string };
  baseImages?: { repositories?: Array<{ registry: string; repositories: string[] }>; refreshInterval?: string };
  registries?: RawRegistry[];
  policy?: string;
  api?: { tokens?: string[]; jwt?: { secret?: string; publicKey?: string; issuer?: string; audience?: string } };
  admission?: {
    listen?: string;
    tls?: { cert: string; key: string };
    namespaces?: PushgateConfig['admission']['namespaces'];
    unguarded?: PushgateConfig['admission']['unguarded'];
    unpinnedTags?: PushgateConfig['admission']['unpinnedTags'];
    exemptions?: { namespaces?: string[]; images?: string[] };
    digestCacheTtl?: string;
    signatures?: { trustedRoot?: string; cacheTtl?: string; unsignedRecheck?: string };
    clientCA?: string;
    clientNames?: string[];
    allowUnauthenticated?: boolean;
    standingWorkloads?: boolean;
    cluster?: string;
    workloadRetention?: string;
    breakGlass?: { namespaces?: string[]; groups?: string[]; users?: string[] };
    scanTriggers?: { maxPerReview?: number; ratePerSecond?: number; burst?: number };
    maxImagesPerReview?: number;
  };
  proxy?: {
    listen?: string;
    upstream?: string;
    tls?: { cert: string; key: string };
    timeout?: string;
    onTimeout?: 'allow' | 'reject';
    onError?: 'allow' | 'reject';
    bodyTimeout?: string;
    maxHeldManifests?: number;
  };
  notify?: Array<{ url: string; format?: 'json' | 'slack'; events?: Array<'quarantine' | 'reject' | 'new-findings'>; headers?: Record<string, string> }>;
}

function build(raw: RawConfig, absFile: string, ld: LocatedDocument, problems: ConfigProblem[]): PushgateConfig {
  const d = defaultConfig();
  const dir = path.dirname(absFile);
  const inputFile = (p: string | undefined, key: KeyPath, what: string): string | undefined => {
    if (p === undefined) return undefined;
    const expanded = p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p;
    const abs = path.resolve(dir, expanded);
    // The hint explains how a relative path was resolved; beside an absolute (or `~/`) path it misleads.
    const hint = path.isAbsolute(expanded) ? '' : ` (paths are relative to ${displayPath(absFile)})`;
    if (!fs.existsSync(abs)) problems.push(problemAt(ld, key, `${what} ${abs} does not exist${hint}`));
    return abs;
  };
  // Malformed values were reported by the schema; fall back so the remaining checks still run.
  const dur = (v: string | undefined, fallback: number): number => {
    try {
      return v === undefined ? fallback : parseDuration(v);
    } catch {
      return fallback;
    }
  };
  // A request timeout is one Node timer, which holds at most 2^31-1 ms; a longer one would fire at once.
  const timeout = (v: string | undefined, fallback: number, key: KeyPath): number => {
    const ms = dur(v, fallback);
    if (ms > MAX_TIMER_MS) problems.push(problemAt(ld, key, `${v} is longer than the longest timeout pushgate can wait (24d); a request timeout is normally seconds to minutes`));
    return Math.min(ms, MAX_TIMER_MS);
  };
  // A duration with safe bounds: a problem naming the key and the bounds outside them.
  const bounded = (v: string | undefined, fallback: number, b: { min: number; max: number }, key: KeyPath): number => {
    const ms = dur(v, fallback);
    if (ms < b.min || ms > b.max) problems.push(problemAt(ld, key, `${v} is outside ${formatDuration(b.min)}..${formatDuration(b.max)}`));
    return Math.min(b.max, Math.max(b.min, ms));
  };
  const sz = (v: string | number | undefined, fallback: number): number => {
    try {
      return v === undefined ? fallback : parseSize(v);
    } catch {
      return fallback;
    }
  };

  const registries: RegistryConfig[] = (raw.registries ?? []).map((r, i) => {
    const base = defaultRegistry();
    const key = (...k: KeyPath): KeyPath => ['registries', i, ...k];
    if (r.insecure && String(r.url).startsWith('http://')) {
      problems.push(problemAt(ld, key('insecure'), 'insecure skips TLS verification and applies to https:// URLs only; this registry uses plain http://'));
    }
    const auth = r.auth ? { ...r.auth, dockerConfig: inputFile(r.auth.dockerConfig, key('auth', 'dockerConfig'), 'Docker config file') } : undefined;
    if (auth && auth.dockerConfig === undefined) delete auth.dockerConfig;
    (auth?.realms ?? []).forEach((realm, j) => {
      if (String(r.url).startsWith('https:') && realm.startsWith('http:')) {
        problems.push(problemAt(ld, key('auth', 'realms', j), 'a plain http:// realm for an https:// registry would send the password in clear: use the https:// token endpoint'));
      }
    });
    // The prefix is joined to repository names (`<prefix><repository>`) and matched with startsWith: it must be
    // whole path components ending in `/`, or `quarantine` would also claim `quarantined/app`.
    const prefix = r.quarantine?.repositoryPrefix;
    if (prefix !== undefined && prefix !== '') {
      const comps = prefix.endsWith('/') ? prefix.slice(0, -1).split('/') : undefined;
      const bad = comps === undefined ? undefined : comps.find((c) => repositoryNameProblem(c) !== undefined);
      if (comps === undefined) problems.push(problemAt(ld, key('quarantine', 'repositoryPrefix'), `"${prefix}" must end with "/" (e.g. "${prefix}/"): it is joined to repository names and every repository starting with it counts as quarantine`));
      else if (bad !== undefined) problems.push(problemAt(ld, key('quarantine', 'repositoryPrefix'), `"${prefix}": "${bad}" is not a repository path component (lowercase letters and digits, joined by . _ __ or -)`));
    }
    // Harbor copies a quarantined artifact to `<project>/<repository>`; a project that is not one repository
    // path component makes that name invalid for every repository, and a quarantine whose name is invalid
    // deletes the artifact instead (harborQuarantine): a typo here must not turn every quarantine into a delete.
    const project = r.quarantine?.project;
    if (project !== undefined && (project.includes('/') || repositoryNameProblem(project) !== undefined)) {
      problems.push(problemAt(ld, key('quarantine', 'project'), `"${project}" is not a Harbor project name (one repository path component: lowercase letters and digits, joined by . _ __ or -); quarantined artifacts are copied to <project>/<repository>`));
    }
    const reg: RegistryConfig = {
      name: r.name,
      url: String(r.url).replace(/\/+$/, ''),
      type: r.type ?? base.type,
      insecure: r.insecure ?? base.insecure,
      webhook: { ...base.webhook, ...r.webhook },
      quarantine: (({ retention, ...q }) => ({ ...base.quarantine, ...q, ...(retention !== undefined ? { retentionMs: dur(retention, 0) } : {}) }))(r.quarantine ?? {}),
      concurrency: r.concurrency ?? base.concurrency,
      timeoutMs: timeout(r.timeout, base.timeoutMs, key('timeout')),
    };
    if (auth) reg.auth = auth;
    if (r.aliases) {
      reg.aliases = [];
      r.aliases.forEach((a, j) => {
        try {
          reg.aliases!.push(formatHostPort(parseHostPort(String(a))));
        } catch (e) {
          problems.push(problemAt(ld, key('aliases', j), `${(e as Error).message}; write host or host:port, without scheme or path`));
        }
      });
    }
    const ca = inputFile(r.ca, key('ca'), 'CA bundle');
    if (ca) reg.ca = ca;
    const cc = inputFile(r.clientCert, key('clientCert'), 'client certificate');
    if (cc) reg.clientCert = cc;
    const ck = inputFile(r.clientKey, key('clientKey'), 'client key');
    if (ck) reg.clientKey = ck;
    if ((reg.clientCert === undefined) !== (reg.clientKey === undefined)) {
      problems.push(problemAt(ld, key(reg.clientCert ? 'clientCert' : 'clientKey'), 'clientCert and clientKey must be given together'));
    }
    return reg;
  });
  // Cross-entry rules the schema cannot say.
  const names = new Map<string, number>();
  const tokens = new Map<string, number>();
  registries.forEach((r, i) => {
    if (names.has(r.name)) problems.push(problemAt(ld, ['registries', i, 'name'], `duplicate registry name (also registries[${names.get(r.name)}])`));
    else names.set(r.name, i);
    // A previousTokens that is not a list is the schema's problem: its characters are no tokens.
    const own = [r.webhook.token, ...(Array.isArray(r.webhook.previousTokens) ? r.webhook.previousTokens : [])];
    own.forEach((t, j) => {
      if (t === undefined) return;
      const at: Array<string | number> = j === 0 ? ['registries', i, 'webhook', 'token'] : ['registries', i, 'webhook', 'previousTokens', j - 1];
      if (tokens.has(t)) {
        const other = tokens.get(t)!;
        problems.push(problemAt(ld, at, other === i
          ? 'this webhook token is listed twice for this registry: keep the new one in token and only old ones in previousTokens'
          : `same webhook token as registries[${other}]: the token identifies the sender, give each registry its own`));
      } else tokens.set(t, i);
    });
    if (r.webhook.previousTokens?.length && r.webhook.token === undefined) {
      problems.push(problemAt(ld, ['registries', i, 'webhook', 'previousTokens'], 'previousTokens is for a rotation: set token to the new token too'));
    }
  });
  (raw.baseImages?.repositories ?? []).forEach((b, i) => {
    if (!names.has(b.registry)) problems.push(problemAt(ld, ['baseImages', 'repositories', i, 'registry'], `"${b.registry}" is not a configured registry: name one of registries[].name${names.size ? ` (${[...names.keys()].join(', ')})` : ''}`));
  });
  // A host name may reach one registry only: a reference naming two would be judged by either.
  registries.forEach((r, i) => {
    const others = registries.filter((_, j) => j !== i);
    let hosts: RegistryHosts;
    let url: URL;
    try {
      hosts = new RegistryHosts(others);
      url = new URL(r.url);
    } catch {
      return; // a bad url or alias is reported where it is
    }
    const dflt = defaultPortOf(url.protocol);
    const named: Array<[string, KeyPath]> = [[url.host, ['registries', i, 'url']], ...(r.aliases ?? []).map((a, j): [string, KeyPath] => [a, ['registries', i, 'aliases', j]])];
    for (const [n, at] of named) {
      let hp: HostPort;
      try {
        hp = parseHostPort(n);
      } catch {
        continue;
      }
      const clash = hosts.matchAll({ host: hp.host, port: hp.port ?? dflt });
      if (clash.length) problems.push(problemAt(ld, at, `${n} also reaches registries ${clash.map((c) => `"${c}"`).join(', ')} (same host and port, loopback names count as one): each host may name one registry`));
    }
  });
  const upstream = raw.proxy?.upstream?.replace(/\/+$/, '');
  if (upstream !== undefined && !registries.some((r) => sameRegistryUrl(r.url, upstream))) {
    // named, not quoted: a registry URL may carry credentials (user:password@host)
    problems.push(problemAt(ld, ['proxy', 'upstream'], `must equal the url of one registries[] entry (${registries.map((r) => `registries[name=${r.name}].url`).join(', ') || 'none configured'})`));
  }

  // A URL's user info is never a credential pushgate sends: the registry client takes the origin only (the
  // registry answered 401 unauthenticated), Node's fetch refuses such a notify URL, and the URL is shown
  // where credentials never go (the proxy's start line, the Harbor adapter's /metadata). Refused; the
  // message names the key, never the URL.
  const userInfoAt: Array<[unknown, KeyPath, string]> = [
    ...(raw.registries ?? []).map((r, i): [unknown, KeyPath, string] => [r.url, ['registries', i, 'url'], `registries[${i}].auth (username and password)`]),
    [raw.proxy?.upstream, ['proxy', 'upstream'], 'the matching registries[].auth'],
    ...(raw.notify ?? []).map((n, i): [unknown, KeyPath, string] => [n.url, ['notify', i, 'url'], `notify[${i}].headers (e.g. Authorization)`]),
  ];
  for (const [u, at, where] of userInfoAt) {
    if (typeof u === 'string' && urlHasUserInfo(u)) {
      problems.push(problemAt(ld, at, `the URL holds user info (user:password@ before the host), which pushgate never sends and would show in logs: remove it and put the credential in ${where}`));
    }
  }

  // Static bearer tokens: a non-string entry is the schema's problem.
  const staticTokens: Array<[unknown, KeyPath]> = [
    ...(raw.registries ?? []).flatMap((r, i): Array<[unknown, KeyPath]> => [
      [r.webhook?.token, ['registries', i, 'webhook', 'token']],
      ...(Array.isArray(r.webhook?.previousTokens) ? r.webhook.previousTokens : []).map((t, j): [unknown, KeyPath] => [t, ['registries', i, 'webhook', 'previousTokens', j]]),
    ]),
    ...(Array.isArray(raw.api?.tokens) ? raw.api.tokens : []).map((t, j): [unknown, KeyPath] => [t, ['api', 'tokens', j]]),
    ...(Array.isArray(raw.harborAdapter?.tokens) ? raw.harborAdapter.tokens : []).map((t, j): [unknown, KeyPath] => [t, ['harborAdapter', 'tokens', j]]),
  ];
  for (const [t, at] of staticTokens) {
    const why = typeof t === 'string' && t !== '' ? staticTokenProblem(t) : undefined;
    if (why) problems.push(problemAt(ld, at, why));
  }

  const tlsFiles = (t: { cert: string; key: string } | undefined, at: KeyPath) =>
    t && { cert: inputFile(t.cert, [...at, 'cert'], 'TLS certificate') as string, key: inputFile(t.key, [...at, 'key'], 'TLS key') as string };

  const jwt = raw.api?.jwt ? { ...raw.api.jwt } : undefined;
  if (jwt?.publicKey) {
    // A path is read here, so what serve verifies with is the PEM text, and a key no verifier can use is a
    // config problem, not a crash at start-up.
    if (!jwt.publicKey.includes('-----BEGIN')) {
      const file = inputFile(jwt.publicKey, ['api', 'jwt', 'publicKey'], 'JWT public key file');
      const exists = file !== undefined && fs.existsSync(file);
      jwt.publicKey = exists && fs.statSync(file).isFile() ? fs.readFileSync(file, 'utf8') : undefined;
      if (exists && jwt.publicKey === undefined) problems.push(problemAt(ld, ['api', 'jwt', 'publicKey'], `${file} is not a regular file; give the PEM text or the path of a .pem file`));
    }
    if (jwt.publicKey !== undefined) {
      try {
        const k = createPublicKey(jwt.publicKey);
        if (k.asymmetricKeyType !== 'rsa' && !(k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1')) {
          problems.push(problemAt(ld, ['api', 'jwt', 'publicKey'], `is a ${k.asymmetricKeyType} key; use an RSA key (RS256) or an EC P-256 key (ES256)`));
        }
      } catch (e) {
        problems.push(problemAt(ld, ['api', 'jwt', 'publicKey'], `is not a PEM public key (${(e as Error).message}); give the PEM text or the path of a .pem file holding "-----BEGIN PUBLIC KEY-----"`));
      }
    }
  }
  if (jwt && jwt.secret === undefined && jwt.publicKey === undefined) {
    problems.push(problemAt(ld, ['api', 'jwt'], 'needs secret (HS256) or publicKey (RS256/ES256)'));
  }
  const jwtProblem = jwt ? jwtConfigProblem(jwt) : undefined;
  if (jwtProblem) problems.push(problemAt(ld, ['api', 'jwt', jwtProblem.key], jwtProblem.message));

  const cfg: PushgateConfig = {
    source: absFile,
    server: {
      listen: raw.server?.listen ?? d.server.listen,
      bodyLimitBytes: sz(raw.server?.bodyLimit, d.server.bodyLimitBytes),
      readTimeoutMs: timeout(raw.server?.readTimeout, d.server.readTimeoutMs, ['server', 'readTimeout']),
    },
    metrics: { ...raw.metrics, repositoryDepth: raw.metrics?.repositoryDepth ?? d.metrics.repositoryDepth },
    log: { level: raw.log?.level ?? d.log.level },
    store: { url: raw.store?.url ?? d.store.url, connectTimeoutMs: dur(raw.store?.connectTimeout, d.store.connectTimeoutMs) },
    vulndb: {
      path: raw.vulndb?.path ?? d.vulndb.path,
      sources: (raw.vulndb?.sources ?? d.vulndb.sources).map((s, i) => {
        // `nvd:`, `kev:`, `epss:`, `eol:` (and `osv:`) name the kind of data; the rest is a URL or a path
        const m = /^(osv|nvd|kev|epss|eol):(?!\/\/)(.+)$/i.exec(s);
        const [prefix, loc] = m ? [`${m[1]}:`, m[2]] : ['', s];
        return /^[a-z][a-z0-9+.-]*:\/\//i.test(loc) ? s : prefix + (inputFile(loc, ['vulndb', 'sources', i], 'vulnerability source') as string);
      }),
      ...(raw.vulndb?.nvdApiKey ? { nvdApiKey: raw.vulndb.nvdApiKey } : {}),
      updateIntervalMs: dur(raw.vulndb?.updateInterval, d.vulndb.updateIntervalMs),
    },
    scan: {
      workers: raw.scan?.workers ?? d.scan.workers,
      tmpDir: raw.scan?.tmpDir ?? d.scan.tmpDir,
      tmpDirLimitBytes: sz(raw.scan?.tmpDirLimit, d.scan.tmpDirLimitBytes),
      maxManifestBytes: sz(raw.scan?.maxManifestSize, d.scan.maxManifestBytes),
      deadlineMs: timeout(raw.scan?.deadline, d.scan.deadlineMs ?? 0, ['scan', 'deadline']),
      limits: { ...d.scan.limits, ...scanLimits(raw.scan?.limits, sz) },
    },
    queue: {
      maxAttempts: raw.queue?.maxAttempts ?? d.queue!.maxAttempts,
      registryProbeIntervalMs: dur(raw.queue?.registryProbeInterval, d.queue!.registryProbeIntervalMs ?? 10_000),
      eventLeaseMs: bounded(raw.queue?.eventLease, DEFAULT_EVENT_LEASE_MS, EVENT_LEASE_BOUNDS, ['queue', 'eventLease']),
      outboxLeaseMs: bounded(raw.queue?.outboxLease, DEFAULT_OUTBOX_LEASE_MS, OUTBOX_LEASE_BOUNDS, ['queue', 'outboxLease']),
    },
    enforcement: { untaggedGraceMs: dur(raw.enforcement?.untaggedGrace, d.enforcement!.untaggedGraceMs) },
    registries,
    policy: inputFile(raw.policy, ['policy'], 'policy file'),
    api: { tokens: raw.api?.tokens ?? d.api.tokens },
    admission: {
      listen: raw.admission?.listen ?? d.admission.listen,
      namespaces: raw.admission?.namespaces ?? d.admission.namespaces,
      clientNames: raw.admission?.clientNames ?? [],
      allowUnauthenticated: raw.admission?.allowUnauthenticated ?? false,
      standingWorkloads: raw.admission?.standingWorkloads ?? true,
      ...(raw.admission?.cluster !== undefined ? { cluster: raw.admission.cluster } : {}),
      workloadRetentionMs: dur(raw.admission?.workloadRetention, DEFAULT_WORKLOAD_RETENTION_MS),
      breakGlass: {
        namespaces: raw.admission?.breakGlass?.namespaces ?? [],
        groups: raw.admission?.breakGlass?.groups ?? [],
        users: raw.admission?.breakGlass?.users ?? [],
      },
      scanTriggers: { ...DEFAULT_SCAN_TRIGGERS, ...raw.admission?.scanTriggers },
      maxImagesPerReview: raw.admission?.maxImagesPerReview ?? DEFAULT_MAX_IMAGES_PER_REVIEW,
      unguarded: raw.admission?.unguarded ?? d.admission.unguarded,
      unpinnedTags: raw.admission?.unpinnedTags ?? d.admission.unpinnedTags,
      exemptions: {
        namespaces: raw.admission?.exemptions?.namespaces ?? d.admission.exemptions.namespaces,
        images: raw.admission?.exemptions?.images ?? d.admission.exemptions.images,
      },
      digestCacheTtlMs: dur(raw.admission?.digestCacheTtl, d.admission.digestCacheTtlMs),
      signatures: {
        ...(raw.admission?.signatures?.trustedRoot !== undefined
          ? { trustedRoot: inputFile(raw.admission.signatures.trustedRoot, ['admission', 'signatures', 'trustedRoot'], 'Sigstore trusted root') }
          : {}),
        cacheTtlMs: dur(raw.admission?.signatures?.cacheTtl, DEFAULT_SIGNATURE_CACHE.cacheTtlMs),
        unsignedRecheckMs: dur(raw.admission?.signatures?.unsignedRecheck, DEFAULT_SIGNATURE_CACHE.unsignedRecheckMs),
      },
    },
    proxy: {
      timeoutMs: timeout(raw.proxy?.timeout, d.proxy.timeoutMs, ['proxy', 'timeout']),
      onTimeout: raw.proxy?.onTimeout ?? d.proxy.onTimeout,
      onError: raw.proxy?.onError ?? d.proxy.onError,
      bodyTimeoutMs: timeout(raw.proxy?.bodyTimeout, d.proxy.bodyTimeoutMs, ['proxy', 'bodyTimeout']),
      maxHeldManifests: raw.proxy?.maxHeldManifests ?? d.proxy.maxHeldManifests,
    },
    harborAdapter: { tokens: raw.harborAdapter?.tokens ?? d.harborAdapter!.tokens },
    reconcile: { intervalMs: dur(raw.reconcile?.interval, d.reconcile!.intervalMs) },
    baseImages: {
      repositories: (raw.baseImages?.repositories ?? []).map((r) => ({ registry: r.registry, repositories: [...r.repositories] })),
      refreshIntervalMs: dur(raw.baseImages?.refreshInterval, d.baseImages.refreshIntervalMs),
    },
    notify: (raw.notify ?? []).map((n) => ({
      url: n.url,
      format: n.format ?? 'json',
      events: n.events ?? ['quarantine', 'reject', 'new-findings'],
      ...(n.headers ? { headers: n.headers } : {}),
    })),
  };
  if (raw.publish?.referrers) {
    const pr = raw.publish.referrers;
    const signingKey = inputFile(pr.signingKey, ['publish', 'referrers', 'signingKey'], 'signing key');
    cfg.publish = { referrers: { enabled: pr.enabled ?? false, retryIntervalMs: dur(pr.retryInterval, DEFAULT_PUBLISH_RETRY_MS), ...(signingKey ? { signingKey } : {}) } };
    if (cfg.publish.referrers.enabled && !signingKey) {
      problems.push(problemAt(ld, ['publish', 'referrers', 'enabled'], 'publishing referrers signs a verdict attestation: set publish.referrers.signingKey to the path of an ECDSA P-256 private key (PEM, e.g. from `cosign generate-key-pair`, decrypted), or set enabled: false'));
    }
    const why = signingKey && fs.existsSync(signingKey) ? signingKeyProblem(signingKey) : undefined;
    if (why) problems.push(problemAt(ld, ['publish', 'referrers', 'signingKey'], why));
  }
  if (raw.vex?.paths?.length) cfg.vex = { paths: raw.vex.paths.map((p, i) => inputFile(p, ['vex', 'paths', i], 'VEX document or directory')!) };
  if (raw.server?.publicUrl) cfg.server.publicUrl = raw.server.publicUrl.replace(/\/+$/, '');
  if (raw.vulndb?.ecosystems) cfg.vulndb.ecosystems = raw.vulndb.ecosystems;
  if (jwt) cfg.api.jwt = jwt;
  const admissionTls = tlsFiles(raw.admission?.tls, ['admission', 'tls']);
  if (admissionTls) cfg.admission.tls = admissionTls;
  const clientCA = inputFile(raw.admission?.clientCA, ['admission', 'clientCA'], 'admission client CA bundle');
  if (clientCA) cfg.admission.clientCA = clientCA;
  // Every listener authenticates its callers unless told otherwise: an open admission listener lets
  // anyone who reaches it start scans and write audit records.
  if (cfg.admission.tls && !clientCA && !cfg.admission.allowUnauthenticated) {
    problems.push(problemAt(ld, ['admission', 'tls'], 'the admission listener needs admission.clientCA (PEM of the CA that signs the API server\'s client certificate, see README "Admission: who may call it"), or admission.allowUnauthenticated: true to serve anyone who reaches it'));
  }
  if (clientCA && raw.admission?.allowUnauthenticated) {
    problems.push(problemAt(ld, ['admission', 'allowUnauthenticated'], 'contradicts admission.clientCA (a client certificate is required when clientCA is set); remove one of them'));
  }
  if (!clientCA && cfg.admission.clientNames?.length) {
    problems.push(problemAt(ld, ['admission', 'clientNames'], 'names the accepted client certificates, so it needs admission.clientCA'));
  }
  if (raw.proxy?.listen) cfg.proxy.listen = raw.proxy.listen;
  if (upstream) cfg.proxy.upstream = upstream;
  const proxyTls = tlsFiles(raw.proxy?.tls, ['proxy', 'tls']);
  if (proxyTls) cfg.proxy.tls = proxyTls;
  if (cfg.proxy.listen && !cfg.proxy.upstream) problems.push(problemAt(ld, ['proxy', 'listen'], 'proxy.listen needs proxy.upstream (the registry URL it fronts)'));
  return cfg;
}

/** `scan.limits` as configured: only the keys that are set (the scan engine has the defaults). */
function scanLimits(
  raw: { layers?: number; manifestsPerIndex?: number; entriesPerLayer?: number; layerSize?: string | number; ratio?: number; lockFileSize?: string | number; packageDbSize?: string | number } | undefined,
  sz: (v: string | number | undefined, fallback: number) => number,
): ScanLimitsConfig {
  const out: ScanLimitsConfig = {};
  if (raw?.layers !== undefined) out.maxLayers = raw.layers;
  if (raw?.manifestsPerIndex !== undefined) out.maxIndexManifests = raw.manifestsPerIndex;
  if (raw?.entriesPerLayer !== undefined) out.maxEntries = raw.entriesPerLayer;
  if (raw?.layerSize !== undefined) out.maxTarBytes = sz(raw.layerSize, 0);
  if (raw?.ratio !== undefined) out.maxRatio = raw.ratio;
  if (raw?.lockFileSize !== undefined) out.lockFileBytes = sz(raw.lockFileSize, 0);
  if (raw?.packageDbSize !== undefined) out.packageDbBytes = sz(raw.packageDbSize, 0);
  return out;
}

/** Default `publish.referrers.retryInterval`, ms. */
export const DEFAULT_PUBLISH_RETRY_MS = 60_000;

/**
 * Why the file at `file` is not a usable signing key (an unencrypted ECDSA P-256 private key in PEM), or
 * undefined. The key text never appears in the message.
 */
function signingKeyProblem(file: string): string | undefined {
  let key: crypto.KeyObject;
  const pem = fs.readFileSync(file, 'utf8');
  try {
    key = crypto.createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // PKCS#8 `ENCRYPTED PRIVATE KEY` or a SEC1 key with `Proc-Type: 4,ENCRYPTED`.
    return /ENCRYPTED/.test(pem) ? `${file} is an encrypted key: give an unencrypted PEM (keep the file readable by pushgate only)` : `${file} is not a PEM private key`;
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return `${file} must hold an ECDSA P-256 key (what cosign uses), not ${key.asymmetricKeyType ?? 'an unknown type'}`;
  return undefined;
}

/**
 * True when the http(s) URL `u` holds user info: an `@` in its authority (after `scheme://`, before the
 * first `/`, `?`, `#` or `\`, where the WHATWG URL parser ends the authority of an http(s) URL).
 */
export function urlHasUserInfo(u: string): boolean {
  const m = /^[a-z][a-z0-9+.-]*:[/\\]*([^/?#\\]*)/i.exec(u.trim());
  return !!m && m[1].includes('@');
}
