/**
 * Harbor Pluggable Scanner Adapter API v1.1 (goharbor/pluggable-scanner-spec, api/spec/scanner-adapter-openapi-v1.1.yaml;
 * protocols.md §3), mounted at `/harbor-adapter/api/v1`, so a Harbor administrator can register
 * pushgate as a scanner and see its findings in Harbor.
 *
 * - `GET /metadata`: scanner and capabilities (consumes OCI and Docker v2 manifests, produces the
 *   harbor+json 1.0 and vulnerability report 1.1 types).
 * - `POST /scan`: 202 `{id}` at once; the scan runs in the background through the gate
 *   ({@link Gate.assessWithCredential}) with the request's short-lived registry credential, used for
 *   that scan only and never stored or logged. A `registry.url` that is not one of the configured
 *   registries' URLs is refused with 422: pushgate only talks to registries its configuration names.
 * - `GET /scan/{id}/report`: 302 with `Refresh-After` while the scan runs, 200 with the report in
 *   the negotiated type, 500 when the scan failed (Harbor stops polling on 200 or 500), 404 for an id
 *   pushgate does not know (Harbor then sends a new scan request).
 *
 * The id names (registry, repository, digest), so a report stored before a restart is still
 * served. Authentication: its own credential (config `harborAdapter.tokens`), presented as
 * `Authorization: Bearer`, `Authorization: Basic` (decoded `user:password` equal to a token) or
 * `X-ScannerAdapter-API-Key`. Errors use the adapter error type `{"error":{"message"}}`.
 */
import express, { type Request, type Response } from 'express';
import { LRUCache } from 'lru-cache';
import { findSecret, isDigest, repositoryNameProblem, SEVERITIES, TAG_RE, type Finding, type ScanReport, type Severity, type Verdict } from '../core/index.js';
import { MediaTypes } from '../core/manifest.js';
import type { PushgateConfig, RegistryConfig } from '../config/types.js';
import type { Gate, Logger } from '../gate/gate.js';
import type { Store } from '../store/index.js';
import { VERSION } from '../core/version.js';

/** Media types of the adapter API (spec v1.1 §"MIME types"). */
export const AdapterMediaTypes = {
  metadata: 'application/vnd.scanner.adapter.metadata+json; version=1.0',
  scanRequest: 'application/vnd.scanner.adapter.scan.request+json',
  scanResponse: 'application/vnd.scanner.adapter.scan.response+json; version=1.0',
  error: 'application/vnd.scanner.adapter.error+json; version=1.0',
  /** Default report type (when no Accept is sent). */
  harborReport: 'application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0',
  vulnReport: 'application/vnd.security.vulnerability.report; version=1.1',
} as const;

/** Seconds Harbor waits before polling again (it parses Refresh-After as an int8). */
export const REFRESH_AFTER_SECONDS = 3;

/** What the adapter needs. */
export interface HarborAdapterDeps {
  config: PushgateConfig;
  gate: Gate;
  store: Store;
  logger: Logger;
}

/** Harbor's severity words (spec enum). */
type HarborSeverity = 'Unknown' | 'Negligible' | 'Low' | 'Medium' | 'High' | 'Critical';

/** One vulnerability item of a HarborVulnerabilityReport (1.1 adds preferred_cvss, cwe_ids, vendor_attributes). */
export interface HarborVulnerability {
  id: string;
  package: string;
  version: string;
  fix_version?: string;
  severity: HarborSeverity;
  description?: string;
  links?: string[];
  preferred_cvss?: { score_v3?: number; vector_v3?: string; score_v2?: number; vector_v2?: string };
  cwe_ids?: string[];
  vendor_attributes?: Record<string, unknown>;
}

/** HarborVulnerabilityReport (protocols.md §3.3). */
export interface HarborVulnerabilityReport {
  generated_at: string;
  artifact: { repository: string; digest: string; tag?: string; mime_type: string };
  scanner: { name: string; vendor: string; version: string };
  severity: HarborSeverity;
  vulnerabilities: HarborVulnerability[];
}

const SCANNER = { name: 'pushgate', vendor: 'pushgate', version: VERSION };
const CONSUMES = [MediaTypes.ociManifest, MediaTypes.dockerManifest];
const ACCEPTED_ARTIFACT_TYPES = new Set<string>([MediaTypes.ociManifest, MediaTypes.dockerManifest, MediaTypes.ociIndex, MediaTypes.dockerManifestList]);

type Job = { state: 'running' } | { state: 'done'; report: ScanReport; verdict: Verdict } | { state: 'failed'; message: string };

/** The scan request fields pushgate uses (unknown fields such as `insecure`, `size` are ignored). */
interface ScanTarget {
  registry: RegistryConfig;
  repository: string;
  digest: string;
  tag?: string;
  mimeType: string;
}

/** Builds the router (mount it at `/harbor-adapter/api/v1`). */
export function harborAdapterRouter(deps: HarborAdapterDeps): express.Router {
  const { config, gate, store, logger } = deps;
  const router = express.Router();
  // Recent scans in this process; older ones are answered from the store.
  const jobs = new LRUCache<string, Job>({ max: 10_000, ttl: 24 * 3_600_000 });

  router.use((req, res, next) => {
    const tokens = config.harborAdapter?.tokens ?? [];
    if (tokens.length === 0) {
      adapterError(res, 401, 'the Harbor scanner adapter is off: set harborAdapter.tokens in the pushgate configuration and register one of them in Harbor as the access credential');
      return;
    }
    if (!adapterCredentialOk(req.headers.authorization, header(req, 'x-scanneradapter-api-key'), tokens)) {
      res.set('WWW-Authenticate', 'Bearer realm="pushgate-harbor-adapter"');
      adapterError(res, 401, 'missing or wrong scanner credential: register pushgate in Harbor with auth Bearer, Basic or X-ScannerAdapter-API-Key and a credential from harborAdapter.tokens');
      return;
    }
    next();
  });

  router.get('/metadata', (_req, res) => {
    const builtAt = gate.currentVulnDb()?.builtAt;
    const body = {
      scanner: SCANNER,
      capabilities: [{ type: 'vulnerability', consumes_mime_types: CONSUMES, produces_mime_types: [AdapterMediaTypes.harborReport, AdapterMediaTypes.vulnReport] }],
      properties: {
        'harbor.scanner-adapter/scanner-type': 'os-package-vulnerability',
        ...(builtAt ? { 'harbor.scanner-adapter/vulnerability-database-updated-at': builtAt } : {}),
        'org.pushgate/registries': config.registries.map((r) => r.url).join(','),
      },
    };
    send(res, 200, AdapterMediaTypes.metadata, body);
  });

  router.post('/scan', express.raw({ type: () => true, limit: '1mb' }), (req, res) => {
    let body: unknown;
    try {
      body = JSON.parse(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
    } catch {
      adapterError(res, 400, `the body is not JSON: send a ScanRequest (${AdapterMediaTypes.scanRequest}; version=1.0)`);
      return;
    }
    const parsed = parseScanRequest(body, config.registries);
    if ('status' in parsed) {
      adapterError(res, parsed.status, parsed.message);
      return;
    }
    const { target, credential } = parsed;
    const id = scanId(target.registry.name, target.repository, target.digest);
    if (jobs.get(id)?.state !== 'running') {
      jobs.set(id, { state: 'running' });
      gate
        .assessWithCredential({ registry: target.registry.name, repository: target.repository, digest: target.digest, tag: target.tag, source: 'harbor' }, credential)
        .then(({ verdict, report }) => jobs.set(id, { state: 'done', verdict, report }))
        .catch((e: Error) => {
          // The message comes from the registry client, which never includes credentials.
          logger.warn({ registry: target.registry.name, repository: target.repository, digest: target.digest, err: e.message }, 'harbor adapter: scan failed');
          jobs.set(id, { state: 'failed', message: e.message });
        });
    }
    logger.info({ registry: target.registry.name, repository: target.repository, digest: target.digest, id }, 'harbor adapter: scan accepted');
    send(res, 202, AdapterMediaTypes.scanResponse, { id });
  });

  router.get('/scan/:id/report', async (req, res) => {
    const id = String(req.params.id);
    const key = parseScanId(id);
    if (!key || !config.registries.some((r) => r.name === key.registry)) {
      adapterError(res, 404, `unknown scan request ${id}: send a new scan request`);
      return;
    }
    const type = negotiateReportType(header(req, 'accept'));
    if (!type) {
      adapterError(res, 400, `unsupported report type "${header(req, 'accept')}": pushgate produces ${AdapterMediaTypes.harborReport} and ${AdapterMediaTypes.vulnReport}`);
      return;
    }
    const job = jobs.get(id);
    if (job?.state === 'running') {
      res.status(302).set('Refresh-After', String(REFRESH_AFTER_SECONDS)).end();
      return;
    }
    if (job?.state === 'failed') {
      adapterError(res, 500, `the scan of ${key.repository}@${key.digest} failed: ${job.message}`);
      return;
    }
    let report = job?.report;
    let verdict = job?.verdict;
    try {
      report ??= await store.getReport(key.digest);
      verdict ??= await store.getVerdict(key.registry, key.repository, key.digest);
    } catch (e) {
      adapterError(res, 500, `the store is unavailable: ${(e as Error).message}`);
      return;
    }
    if (!report) {
      adapterError(res, 404, `unknown scan request ${id}: send a new scan request`);
      return;
    }
    const out = toHarborReport(report, { repository: key.repository, digest: key.digest, tag: verdict?.tags[0], mimeType: report.mediaType ?? MediaTypes.ociManifest }, type === AdapterMediaTypes.vulnReport ? '1.1' : '1.0');
    send(res, 200, type, out);
  });

  router.use((_req, res) => adapterError(res, 404, 'not found: the adapter serves GET /metadata, POST /scan and GET /scan/{id}/report'));
  return router;
}

/**
 * Validates a ScanRequest. Returns the target and the request's registry credential, or an HTTP
 * status (422 invalid field or unknown registry, 501 capability not supported) and a message.
 */
export function parseScanRequest(
  body: unknown,
  registries: RegistryConfig[],
): { target: ScanTarget; credential: { username: string; password: string } | { token: string } | undefined } | { status: number; message: string } {
  const b = body as { registry?: { url?: unknown; authorization?: unknown }; artifact?: Record<string, unknown>; enabled_capabilities?: unknown };
  if (!b || typeof b !== 'object' || Array.isArray(b)) return { status: 422, message: 'the scan request must be a JSON object with registry and artifact' };
  if (!b.registry || typeof b.registry.url !== 'string' || !b.registry.url) return { status: 422, message: 'registry.url is required' };
  const a = b.artifact;
  if (!a || typeof a !== 'object') return { status: 422, message: 'artifact is required' };
  if (typeof a.repository !== 'string' || !a.repository) return { status: 422, message: 'artifact.repository is required' };
  const badName = repositoryNameProblem(a.repository);
  if (badName) return { status: 422, message: `artifact.repository ${JSON.stringify(a.repository.slice(0, 300))} is not a repository name: ${badName}` };
  if (typeof a.digest !== 'string' || !isDigest(a.digest)) return { status: 422, message: `artifact.digest "${String(a.digest)}" is not a digest (sha256:<64 hex>)` };
  const mimeType = typeof a.mime_type === 'string' ? a.mime_type.split(';')[0].trim() : '';
  if (!ACCEPTED_ARTIFACT_TYPES.has(mimeType)) return { status: 422, message: `artifact.mime_type "${String(a.mime_type)}" is not consumed: pushgate scans ${CONSUMES.join(', ')}` };
  if (a.tag !== undefined && typeof a.tag !== 'string') return { status: 422, message: 'artifact.tag must be a string' };
  if (typeof a.tag === 'string' && a.tag && !TAG_RE.test(a.tag)) return { status: 422, message: `artifact.tag ${JSON.stringify(a.tag.slice(0, 200))} is not a tag (a word character, then up to 127 of word characters, . and -)` };
  if (Array.isArray(b.enabled_capabilities) && b.enabled_capabilities.length > 0 && !b.enabled_capabilities.some((c: { type?: unknown }) => c && (c.type === undefined || c.type === 'vulnerability'))) {
    return { status: 501, message: 'pushgate has the vulnerability capability only (no SBOM generation)' };
  }
  const registry = registryForUrl(b.registry.url, registries);
  if (!registry) {
    return { status: 422, message: `registry.url ${safeUrl(b.registry.url)} is not a registry pushgate guards: pushgate only talks to the registries its configuration names (registries[].url); add it there, or set the scanner registration's registry address to match` };
  }
  let credential: { username: string; password: string } | { token: string } | undefined;
  const auth = b.registry.authorization;
  if (auth !== undefined && auth !== null && auth !== '') {
    if (typeof auth !== 'string') return { status: 422, message: 'registry.authorization must be a string ("Basic …" or "Bearer …")' };
    const m = /^(Basic|Bearer)\s+(\S+)$/i.exec(auth.trim());
    if (!m) return { status: 422, message: 'registry.authorization must be "Basic <base64 user:password>" or "Bearer <token>"' };
    if (m[1].toLowerCase() === 'bearer') credential = { token: m[2] };
    else {
      const decoded = Buffer.from(m[2], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return { status: 422, message: 'registry.authorization Basic credential is not base64 of user:password' };
      credential = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return { target: { registry, repository: a.repository, digest: a.digest, tag: typeof a.tag === 'string' && a.tag ? a.tag : undefined, mimeType }, credential };
}

/** The configured registry whose URL has the same scheme, host and port as `url`. */
export function registryForUrl(url: string, registries: RegistryConfig[]): RegistryConfig | undefined {
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    return undefined;
  }
  return registries.find((r) => {
    try {
      return new URL(r.url).origin === origin;
    } catch {
      return false;
    }
  });
}

/** `scheme://host[:port]` of a URL for messages (no user info, path or query). */
function safeUrl(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '"<not a URL>"';
  }
}

/** The scan request id: base64url of `registry \n repository \n digest`. */
export function scanId(registry: string, repository: string, digest: string): string {
  return Buffer.from(`${registry}\n${repository}\n${digest}`, 'utf8').toString('base64url');
}

/** Inverse of {@link scanId}; undefined for anything else. */
export function parseScanId(id: string): { registry: string; repository: string; digest: string } | undefined {
  if (!/^[A-Za-z0-9_-]{1,1024}$/.test(id)) return undefined;
  const parts = Buffer.from(id, 'base64url').toString('utf8').split('\n');
  if (parts.length !== 3 || !parts[0] || !parts[1] || !isDigest(parts[2])) return undefined;
  return { registry: parts[0], repository: parts[1], digest: parts[2] };
}

/**
 * The report type to answer for an Accept header: harbor+json 1.0 when none (or `*\/*`) is sent
 * (spec back-compat default), else the first acceptable listed type; undefined when none is.
 */
export function negotiateReportType(accept: string | undefined): string | undefined {
  if (!accept || !accept.trim()) return AdapterMediaTypes.harborReport;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const version = params.find((p) => p.startsWith('version='))?.slice('version='.length).replace(/"/g, '');
    if (type === '*/*' || type === 'application/*') return AdapterMediaTypes.harborReport;
    if (type === 'application/vnd.security.vulnerability.report' && (!version || version === '1.1')) return AdapterMediaTypes.vulnReport;
    if (type === 'application/vnd.scanner.adapter.vuln.report.harbor+json' && (!version || version === '1.0')) return AdapterMediaTypes.harborReport;
  }
  return undefined;
}

const HARBOR_SEVERITY: Record<Severity, HarborSeverity> = { unknown: 'Unknown', negligible: 'Negligible', low: 'Low', medium: 'Medium', high: 'High', critical: 'Critical' };

/**
 * A pushgate scan report as a HarborVulnerabilityReport. The item id is the CVE alias when the
 * matched record has one (Harbor's CVE allowlists name CVEs), else the record id; `version` 1.1
 * adds `preferred_cvss` and `vendor_attributes` (record id, aliases, ecosystem, path, layer, purl).
 * The overall severity is the highest item severity (`Unknown` without findings).
 */
export function toHarborReport(report: ScanReport, artifact: { repository: string; digest: string; tag?: string; mimeType: string }, version: '1.0' | '1.1'): HarborVulnerabilityReport {
  let top = -1;
  const vulnerabilities = report.findings.map((f: Finding) => {
    const rank = SEVERITIES.indexOf(f.severity);
    if (rank > top) top = rank;
    const cve = f.id.startsWith('CVE-') ? f.id : f.aliases.find((x) => x.startsWith('CVE-'));
    const item: HarborVulnerability = {
      id: cve ?? f.id,
      package: f.package,
      version: f.installedVersion,
      severity: HARBOR_SEVERITY[f.severity] ?? 'Unknown',
      links: [`https://osv.dev/vulnerability/${encodeURIComponent(f.id)}`],
    };
    if (f.fixedVersions.length) item.fix_version = f.fixedVersions[0];
    if (f.summary) item.description = f.summary;
    if (version === '1.1') {
      if (f.cvss) {
        item.preferred_cvss = f.cvss.version.startsWith('2') ? { score_v2: f.cvss.score, vector_v2: f.cvss.vector } : { score_v3: f.cvss.score, vector_v3: f.cvss.vector };
      }
      item.vendor_attributes = {
        pushgate: { id: f.id, aliases: f.aliases, ecosystem: f.ecosystem, path: f.path, ...(f.layer ? { layer: f.layer } : {}), ...(f.purl ? { purl: f.purl } : {}), ...(f.platform ? { platform: f.platform } : {}) },
      };
    }
    return item;
  });
  return {
    generated_at: report.scannedAt,
    artifact: { repository: artifact.repository, digest: artifact.digest, ...(artifact.tag ? { tag: artifact.tag } : {}), mime_type: artifact.mimeType },
    scanner: SCANNER,
    severity: top < 0 ? 'Unknown' : HARBOR_SEVERITY[SEVERITIES[top]],
    vulnerabilities,
  };
}

/**
 * True when the request presents one of `tokens`: `Authorization: Bearer <token>`,
 * `Authorization: Basic <base64(token)>` (a token written `user:password`), or the
 * `X-ScannerAdapter-API-Key` header. Compared in constant time.
 */
export function adapterCredentialOk(authorization: string | undefined, apiKey: string | undefined, tokens: string[]): boolean {
  const given: string[] = [];
  if (apiKey) given.push(apiKey.trim());
  const m = /^(Bearer|Basic)\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (m) given.push(m[1].toLowerCase() === 'bearer' ? m[2] : Buffer.from(m[2], 'base64').toString('utf8'));
  // every presented value against every token: no short cut says which one matched
  return given.map((g) => findSecret(g, tokens)).some((i) => i >= 0);
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Sends JSON with an exact Content-Type (a Buffer body: express adds no charset). */
function send(res: Response, status: number, type: string, body: unknown): void {
  res.status(status).set('Content-Type', type).send(Buffer.from(JSON.stringify(body)));
}

/** The adapter error format: `{"error":{"message"}}` as `application/vnd.scanner.adapter.error+json; version=1.0`. */
function adapterError(res: Response, status: number, message: string): void {
  send(res, status, AdapterMediaTypes.error, { error: { message } });
}
