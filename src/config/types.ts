/**
 * The typed shape of `config/pushgate.yaml` (DESIGN.md §3 "Configuration"). Durations are
 * normalized to milliseconds and sizes to bytes by the loader; every key is documented in
 * config/pushgate.yaml.
 */

/** One guarded registry (`registries[]`). */
export interface RegistryConfig {
  /** Unique name, used in verdicts, metrics and notifications' authentication. */
  name: string;
  /** Base URL with scheme: `https://registry.example.test` or `http://127.0.0.1:5000`. */
  url: string;
  /**
   * Other `host[:port]` names this registry is reached by (an ingress host, a node-local name);
   * normalized by the loader (src/core/host.ts). Image references naming any of them are this
   * registry's. Without a port, the URL scheme's default port.
   */
  aliases?: string[];
  type: 'distribution' | 'harbor';
  /** Skip TLS verification for an https:// URL. */
  insecure: boolean;
  /**
   * Credentials. `realms`: token realm URLs allowed to receive them (compared by scheme, host and
   * port); unset = the first realm the registry announces is pinned. They go nowhere else.
   */
  auth?: { username?: string; password?: string; dockerConfig?: string; token?: string; realms?: string[] };
  /** PEM CA bundle path for this registry's TLS. */
  ca?: string;
  /** Client certificate and key (PEM paths) for mTLS. */
  clientCert?: string;
  clientKey?: string;
  webhook: {
    /** Bearer token this registry's notifications present (identifies the sender). */
    token?: string;
    /**
     * Tokens still accepted from this registry while a rotation is under way (the registry restarted with
     * `token` loses the events it had queued, so pushgate accepts both first); remove them once the
     * log says the registry presents `token`.
     */
    previousTokens?: string[];
  };
  quarantine: {
    /** Prefix of the quarantine repository: `<prefix><repository>:<tag>`. Default `quarantine/`. */
    repositoryPrefix: string;
    /** Harbor: project to copy quarantined artifacts into. */
    project?: string;
    /** Harbor: label to attach. */
    label?: string;
    /** Harbor: after the copy, delete the whole `artifact` (default, every tag goes) or only the pushed `tag`. */
    remove?: 'artifact' | 'tag';
    /** Quarantined copies older than this (ms) are deleted by the periodic retention pass; unset = kept. */
    retentionMs?: number;
  };
  /** Max requests in flight to this registry. */
  concurrency: number;
  /** Per-request timeout, ms. */
  timeoutMs: number;
}

/** Namespace rule for admission: what to do with images that have no verdict. */
export interface AdmissionNamespaceRule {
  /** Namespace name or glob. */
  match: string;
  unknown: 'deny' | 'allow' | 'scan';
}

/** The whole configuration after loading, defaults applied. */
export interface PushgateConfig {
  /** Absolute path of the file it was loaded from, or `<built-in>`. */
  source: string;
  server: {
    /** `host:port` of the webhook/API listener. */
    listen: string;
    /** Largest request body accepted, bytes. */
    bodyLimitBytes: number;
    /**
     * Longest time one request may take to arrive whole (headers and body), ms: a slower client
     * is answered 408 and disconnected. Applies to the API/webhook, metrics and admission listeners.
     */
    readTimeoutMs: number;
    /** External base URL of this pushgate (for report links in notifications); optional. */
    publicUrl?: string;
  };
  metrics: {
    listen?: string;
    /**
     * Path components kept in `repository` metric labels (0 = the whole name); deeper names are
     * folded to their first N components. Labels name only repositories pushgate has a verdict for.
     */
    repositoryDepth: number;
  };
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' };
  store: {
    url: string;
    /**
     * `store.connectTimeout`: how long (ms) `serve` keeps trying to open a store that is unreachable
     * (PostgreSQL down or restarting) before it exits; default 60 s. Refused logins fail at once.
     */
    connectTimeoutMs: number;
  };
  vulndb: {
    path: string;
    /** OSV sources (URL, folder, zip) and enrichment sources prefixed `nvd:`, `kev:`, `epss:`, `eol:`. */
    sources: string[];
    ecosystems?: string[];
    updateIntervalMs: number;
    /** NVD API key (`vulndb.nvdApiKey`, usually `${NVD_API_KEY}`): sent to https://services.nvd.nist.gov only (never along a redirect), never logged. */
    nvdApiKey?: string;
  };
  scan: {
    /** Worker concurrency for queued scans. */
    workers: number;
    /** Capped temp dir for nested archives / ELF sections. */
    tmpDir: string;
    tmpDirLimitBytes: number;
    /** Max manifest size, bytes. */
    maxManifestBytes: number;
    /** Per-scan deadline in ms (`scan.deadline`); past it the scan ends incomplete (`scan-deadline`). */
    deadlineMs?: number;
    /** Scan limits (`scan.limits.*`); a limit hit is an incomplete-scan diagnostic. Unset keys use {@link DEFAULT_SCAN_LIMITS}. */
    limits?: ScanLimitsConfig;
  };
  /** The durable event queue (optional for hand-built configs; the loader always sets it). */
  queue?: {
    /**
     * Attempts of a queued event before it ends as a `complete: false` verdict (`scan-failed`
     * diagnostic) that the policy's onIncomplete judges. Retries back off exponentially (1 s, 2 s, … 5 min).
     * When the registry does not answer by then, the event waits as `blocked-on-registry` instead.
     */
    maxAttempts: number;
    /** How often registries with blocked events are probed (GET /v2/), ms; an answer resumes them. Default 10 s. */
    registryProbeIntervalMs?: number;
    /**
     * How long a claimed event is held by its worker before another process may claim it, ms: renewed every
     * third of it while the event is handled, so it only matters when the process dies (a crash, a kill, a
     * lost host): its events wait this long. Default {@link DEFAULT_EVENT_LEASE_MS}; within {@link EVENT_LEASE_BOUNDS}.
     */
    eventLeaseMs?: number;
    /**
     * How long a process holds the outbox notices it claimed for delivery, ms (not renewed): a notice of a
     * process that died is delivered by another one after it. At least a notice's delivery attempts take
     * (~30 s with the defaults), or a slow delivery is sent twice. Default {@link DEFAULT_OUTBOX_LEASE_MS};
     * within {@link OUTBOX_LEASE_BOUNDS}.
     */
    outboxLeaseMs?: number;
  };
  /** Enforcement timing (optional for hand-built configs: {@link DEFAULT_UNTAGGED_GRACE_MS}; the loader always sets it). */
  enforcement?: {
    /**
     * How long a blocking manifest pushed by digest only (no tag) is left in its repository before
     * pushgate quarantines or deletes it, ms, counted from the first notification of that digest in
     * that repository. Clients push an index's children by digest before the index; within this time
     * an index that names the child takes it over (the child is judged and removed with the index).
     * Admission denies the digest throughout. 0 = act at once (an index naming a blocking child
     * pushed before it is then refused by the registry with MANIFEST_BLOB_UNKNOWN).
     */
    untaggedGraceMs: number;
  };
  registries: RegistryConfig[];
  /** Absolute path of the policy document; undefined = built-in default policy. */
  policy?: string;
  api: {
    /** Bearer tokens accepted on /api/v1 (read), and the JWT secret/public key for admin calls. */
    tokens: string[];
    jwt?: { secret?: string; publicKey?: string; issuer?: string; audience?: string };
  };
  admission: {
    listen?: string;
    tls?: { cert: string; key: string };
    namespaces: AdmissionNamespaceRule[];
    /**
     * Absolute path of a PEM bundle of the CA(s) that sign the API server's client certificate.
     * When set, the listener requests a client certificate and refuses the TLS handshake without one
     * that chains to this bundle.
     */
    clientCA?: string;
    /** Accepted CN or subjectAltName (DNS, URI, email, IP) of that client certificate; empty = any certificate of clientCA. */
    clientNames?: string[];
    /** Serve callers that present no client certificate (explicit opt-in; the listener refuses to start without clientCA otherwise). */
    allowUnauthenticated?: boolean;
    /**
     * Who may use the break-glass annotation, judged on the review's `request.namespace` and
     * `request.userInfo` (never on the object): every non-empty list must match; all empty or unset = off.
     */
    breakGlass?: { namespaces: string[]; groups: string[]; users: string[] };
    /**
     * Scans admission reviews may start for images without a verdict (see src/admission/scan-triggers.ts).
     * Unset (configs built in code) = {@link DEFAULT_SCAN_TRIGGERS}; the loader always sets it.
     */
    scanTriggers?: { maxPerReview: number; ratePerSecond: number; burst: number };
    /**
     * Distinct image references one review may ask to judge; a review naming more is denied before any
     * is resolved or looked up. Unset (configs built in code) = {@link DEFAULT_MAX_IMAGES_PER_REVIEW}.
     */
    maxImagesPerReview?: number;
    /**
     * Pods (ReplicaSets, Jobs) that the kube-controller-manager creates for an existing workload are
     * admitted with a warning when their image became blocking through a database change (the monitor's
     * change records), so scaling and pod replacement never break because an advisory was published
     * (src/admission/standing.ts). Unset = true. Set false when the webhook does not also cover the
     * workload kinds (Deployments, StatefulSets, …): then a new workload's pods would be exempt too.
     */
    standingWorkloads?: boolean;
    /**
     * Name of the cluster this webhook serves, written with each workload usage record (several
     * clusters may share one store). Unset = empty.
     */
    cluster?: string;
    /**
     * Workload usage records (which workload ran which image digest, src/admission/workload-usage.ts)
     * not seen again for this long are deleted, ms. Unset (configs built in code) = {@link DEFAULT_WORKLOAD_RETENTION_MS}.
     */
    workloadRetentionMs?: number;
    /** Images of registries pushgate does not guard: allow, deny or warn. */
    unguarded: 'allow' | 'deny' | 'warn';
    /**
     * A guarded, non-exempt image named by tag without a digest whose effective pull policy lets the
     * kubelet start it from the node's cache (`IfNotPresent` or `Never`, as the API server defaulted
     * it; image volumes' `pullPolicy` likewise): `deny` refuses it, saying to pin it by digest or set
     * `imagePullPolicy: Always`; `warn` admits it with a warning; `allow` does not look at pull policies.
     * Pods the kube-controller-manager creates for an existing workload are warned about under `deny`
     * too (with {@link standingWorkloads}), and so is every reference whose mapping is in `warn` or `audit`
     * mode (those modes refuse nothing at admission). Unset (configs built in code) = `deny`; the loader always sets it.
     */
    unpinnedTags?: 'deny' | 'warn' | 'allow';
    exemptions: { namespaces: string[]; images: string[] };
    digestCacheTtlMs: number;
    /**
     * Signature checks of policy `spec.signatures` (src/admission/signatures.ts). Unset (configs built
     * in code) = no trusted root (keyless authorities never verify), results cached per
     * {@link DEFAULT_SIGNATURE_CACHE}.
     */
    signatures?: {
      /** Sigstore trusted_root.json (absolute path) that keyless signatures are checked against, offline. */
      trustedRoot?: string;
      /** How long a satisfied check is reused, ms. */
      cacheTtlMs: number;
      /** How long an unsatisfied check is reused before the registry is asked again, ms (a push notification of the repository drops it at once). */
      unsignedRecheckMs: number;
    };
  };
  proxy: {
    listen?: string;
    upstream?: string;
    tls?: { cert: string; key: string };
    timeoutMs: number;
    onTimeout: 'allow' | 'reject';
    onError: 'allow' | 'reject';
    /** Longest time a manifest PUT's body may take to arrive after its credentials were accepted, ms (then 408). */
    bodyTimeoutMs: number;
    /** Manifest PUTs held at once (body being read or judged); more get 429 with `Retry-After`. */
    maxHeldManifests: number;
  };
  /**
   * OpenVEX, CSAF VEX or CycloneDX VEX documents (absolute paths of files, or directories of `*.json`) whose not_affected/fixed
   * statements suppress findings for policy (src/policy/vex.ts). Read at start and at every policy reload.
   */
  vex?: { paths: string[] };
  /**
   * Publishing results as OCI referrers of each judged image (src/publish): SBOM, report and a signed
   * verdict attestation. Off unless `referrers.enabled`.
   */
  publish?: {
    referrers: {
      enabled: boolean;
      /** Path of pushgate's signing key (PEM, ECDSA P-256, unencrypted). The key itself is never held in the configuration. */
      signingKey?: string;
      /** How often the publication pass retries what failed and catches up verdicts written since, ms. */
      retryIntervalMs: number;
    };
  };
  /** Harbor Pluggable Scanner Adapter API v1.1 under /harbor-adapter/api/v1 (off while `tokens` is empty). */
  harborAdapter?: {
    /**
     * Access credentials Harbor presents (its scanner registration): `Bearer <token>`,
     * `X-ScannerAdapter-API-Key: <token>`, or `Basic` whose decoded `user:password` equals a token.
     */
    tokens: string[];
  };
  /** Periodic reconciliation in `pushgate serve`: judge every tag without a verdict. */
  reconcile?: {
    /** Interval, ms; 0 = off (run `pushgate reconcile` instead). */
    intervalMs: number;
  };
  /**
   * The base image catalog (src/base): images of these repositories are the bases other images are
   * matched against (diffID chain prefix), and their tags are the upgrade candidates recommended.
   */
  baseImages: {
    /** Per configured registry (by name), repository globs (picomatch, `**` across `/`). Empty: no catalog. */
    repositories: Array<{ registry: string; repositories: string[] }>;
    /** How often `serve` lists the catalog repositories' tags (new tags and moved ones are read and scanned), ms; 0 = off. */
    refreshIntervalMs: number;
  };
  notify: Array<{
    url: string;
    /** `json`: pushgate's own JSON body; `slack`: a Slack-compatible `{text, blocks}` body. */
    format: 'json' | 'slack';
    /** `new-findings`: findings a re-judgement after a database change found in an already judged image (src/monitor). */
    events: Array<'quarantine' | 'reject' | 'new-findings'>;
    headers?: Record<string, string>;
  }>;
}

/**
 * `enforcement.untaggedGrace` when not configured: 60 s. Long enough for the gap between the children
 * and the index of a multi-platform push (the index PUT follows the last child; earlier children wait
 * for the later platforms' blobs), short enough that a violating digest is pullable outside Kubernetes
 * (admission denies it throughout) for at most a minute.
 */
export const DEFAULT_UNTAGGED_GRACE_MS = 60_000;

/** `admission.workloadRetention` when not configured: 30 days. */
export const DEFAULT_WORKLOAD_RETENTION_MS = 30 * 86_400_000;

/**
 * `admission.maxImagesPerReview` when not configured. Each distinct tag costs a registry request, and
 * the registry client's few connections are shared by every review and scan: one dry-run review of a
 * pod listing 20,000 tags (1.7 MB, under the API server's 3 MB request limit) held every other review's
 * lookups past its deadline. Pods list a handful of images; a hundred leaves room.
 */
export const DEFAULT_MAX_IMAGES_PER_REVIEW = 100;

/** `admission.scanTriggers` when not configured: 16 images per review; per caller 50 at once, then 5 per second. */
/** Signature check cache when the config gives none: satisfied 10 min, unsatisfied 30 s. */
export const DEFAULT_SIGNATURE_CACHE = { cacheTtlMs: 600_000, unsignedRecheckMs: 30_000 } as const;

export const DEFAULT_SCAN_TRIGGERS = { maxPerReview: 16, ratePerSecond: 5, burst: 50 } as const;

/**
 * Scan limits as configured (`scan.limits.*`), all optional. Every scan path (queue workers, the
 * push proxy, admission-triggered scans, `pushgate scan`) reads images under the same limits.
 */
export interface ScanLimitsConfig {
  /** Layers per image manifest (`layers`). */
  maxLayers?: number;
  /** Manifests listed by one image index (`manifestsPerIndex`). */
  maxIndexManifests?: number;
  /** Tar entries per layer (`entriesPerLayer`). */
  maxEntries?: number;
  /** Uncompressed bytes per layer (`layerSize`). */
  maxTarBytes?: number;
  /** Uncompressed/compressed ratio of a layer past 64 MiB (`ratio`). */
  maxRatio?: number;
  /** Largest lock file read (package-lock.json, yarn.lock, …; `lockFileSize`). */
  lockFileBytes?: number;
  /** Largest OS package database read (dpkg status, apk installed, rpmdb; `packageDbSize`). */
  packageDbBytes?: number;
}

/** `queue.eventLease` when not configured: 30 s. */
export const DEFAULT_EVENT_LEASE_MS = 30_000;
/**
 * Bounds of `queue.eventLease`, ms: at least 10 s, as it is renewed every third of it from this
 * process's event loop, which a scan or a busy machine can hold for a few seconds (a lease that
 * lapses under a live worker lets another take the same event); at most 10 minutes.
 */
export const EVENT_LEASE_BOUNDS = { min: 10_000, max: 600_000 } as const;
/** `queue.outboxLease` when not configured: 120 s. */
export const DEFAULT_OUTBOX_LEASE_MS = 120_000;
/** Bounds of `queue.outboxLease`, ms: at least a notice's delivery attempts (~27 s: 4 of 5 s with 7 s of backoff), at most an hour. */
export const OUTBOX_LEASE_BOUNDS = { min: 30_000, max: 3_600_000 } as const;
