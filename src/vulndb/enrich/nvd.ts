/**
 * NVD CVE API 2.0 records (https://nvd.nist.gov/developers/vulnerabilities): the `cve` object of one
 * vulnerability, as the API returns it inside `vulnerabilities[].cve` and as mirrors of the feeds store it
 * one file per CVE. pushgate reads only the id, `lastModified`, `vulnStatus` and `metrics`; the score is
 * recomputed from the vector with ae-cvss-calculator (the record's `baseScore` only when the vector cannot
 * be parsed).
 */
import { PushgateError } from '../../core/errors.js';
import { scoreCvss, severityFromScore, type SeverityInfo } from '../severity.js';

/** The NVD rating of one CVE. `source` reads `NVD CVSS_V3.1` or, when NVD has not scored it, `NVD CNA security@apache.org CVSS_V3.1`. */
export interface NvdRating {
  cve: string;
  lastModified?: string;
  sev: SeverityInfo;
}

interface NvdMetric {
  source?: string;
  type?: string;
  cvssData?: { version?: string; vectorString?: string; baseScore?: number };
}

/** Metric keys of the 2.0 schema, newest CVSS version first. */
const METRIC_KEYS: Array<[string, string]> = [
  ['cvssMetricV40', '4.0'],
  ['cvssMetricV31', '3.1'],
  ['cvssMetricV30', '3.0'],
  ['cvssMetricV2', '2.0'],
];

/**
 * The rating of one NVD `cve` object: NVD's own (`type: Primary`) metric of the newest CVSS version, else
 * a CNA's (`Secondary`) one; undefined when the record has no usable metric (not yet analysed, rejected).
 */
export function nvdRating(cve: Record<string, unknown>): NvdRating | undefined {
  const id = cve.id;
  if (typeof id !== 'string' || !/^CVE-\d{4}-\d+$/.test(id)) return undefined;
  const metrics = (cve.metrics ?? {}) as Record<string, NvdMetric[] | undefined>;
  const lastModified = typeof cve.lastModified === 'string' ? cve.lastModified : undefined;
  for (const primary of [true, false]) {
    for (const [key, version] of METRIC_KEYS) {
      for (const m of metrics[key] ?? []) {
        if ((m.type === 'Primary') !== primary) continue;
        const vector = m.cvssData?.vectorString;
        if (typeof vector !== 'string') continue;
        const scored = scoreCvss(vector);
        const score = scored?.score ?? m.cvssData?.baseScore;
        if (typeof score !== 'number') continue;
        const ver = scored?.version ?? m.cvssData?.version ?? version;
        const by = primary ? 'NVD' : `NVD CNA ${m.source ?? '?'}`;
        return { cve: id, lastModified, sev: { severity: severityFromScore(score, ver), cvss: { score, vector, version: ver }, source: `${by} CVSS_V${ver}` } };
      }
    }
  }
  return undefined;
}

/**
 * `nvdRating(cve) !== undefined`, without scoring a vector where that is not needed: a metric with a vector
 * and a numeric `baseScore` rates the CVE whatever the vector scores (the score falls back to `baseScore`).
 * For the records whose rating is only counted (CVEs no imported advisory names): an NVD feed holds every
 * CVE, and an index keeps the ratings of a fraction of them.
 */
export function nvdHasRating(cve: Record<string, unknown>): boolean {
  const id = cve.id;
  if (typeof id !== 'string' || !/^CVE-\d{4}-\d+$/.test(id)) return false;
  const metrics = (cve.metrics ?? {}) as Record<string, unknown>;
  // metric lists of another shape: nvdRating decides (or throws) as it does
  const lists: NvdMetric[][] = [];
  for (const [key] of METRIC_KEYS) {
    const list = metrics[key];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list) || !list.every((m) => typeof m === 'object' && m !== null)) return nvdRating(cve) !== undefined;
    lists.push(list as NvdMetric[]);
  }
  for (const list of lists) {
    for (const m of list) if (typeof m.cvssData?.vectorString === 'string' && typeof m.cvssData.baseScore === 'number') return true;
  }
  return nvdRating(cve) !== undefined;
}

/**
 * The `cve` objects of one NVD file's text: a bare `cve` object (one file per CVE), `{ "cve": {...} }`, or
 * an API 2.0 page / feed (`{ "vulnerabilities": [{ "cve": {...} }] }`).
 * @throws PushgateError VULNDB naming `file` when the text is not JSON or none of these shapes (a
 *   truncated download fails here rather than silently dropping ratings).
 */
export function nvdRecords(file: string, text: string): Array<Record<string, unknown>> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new PushgateError('VULNDB', `NVD file ${file}: not valid JSON (${(err as Error).message}): truncated or corrupt? fetch it again`);
  }
  const o = v as Record<string, unknown> | null;
  if (o && typeof o === 'object' && !Array.isArray(o)) {
    if (Array.isArray(o.vulnerabilities)) return o.vulnerabilities.map((x) => (x as { cve?: Record<string, unknown> })?.cve).filter((x): x is Record<string, unknown> => !!x && typeof x === 'object');
    if (o.cve && typeof o.cve === 'object') return [o.cve as Record<string, unknown>];
    if (typeof o.id === 'string' && /^CVE-/.test(o.id)) return [o];
  }
  throw new PushgateError('VULNDB', `NVD file ${file}: not an NVD CVE API 2.0 record or page (expected "id": "CVE-…" or "vulnerabilities": [...])`);
}

/** The NVD API's origin: the only one `vulndb.nvdApiKey` is sent to. */
export const NVD_API_ORIGIN = 'https://services.nvd.nist.gov';

/**
 * One GET of an NVD API page. The API key goes only to {@link NVD_API_ORIGIN} and never along a redirect:
 * Node's fetch drops `Authorization` when a redirect leaves the origin but keeps every other header, so
 * with `redirect: 'follow'` the `apiKey` header went to whatever host a redirect named (a mirror, a
 * captive portal, an `nvd:` URL of a host that is not NVD). A redirect is followed without the key.
 */
async function fetchNvdPage(u: URL, apiKey: string | undefined, fetchImpl: typeof fetch): Promise<Response> {
  if (!apiKey || u.origin !== NVD_API_ORIGIN) return fetchImpl(u, { redirect: 'follow' });
  const res = await fetchImpl(u, { headers: { apiKey }, redirect: 'manual' });
  const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
  if (!location) return res;
  await res.body?.cancel().catch(() => undefined);
  return fetchImpl(new URL(location, u), { redirect: 'follow' });
}

/** Results per page of the NVD API (its maximum). */
export const NVD_PAGE_SIZE = 2000;

/**
 * Reads every page of the NVD CVE API 2.0 at `url` (e.g. `https://services.nvd.nist.gov/rest/json/cves/2.0`),
 * `resultsPerPage`/`startIndex` paging, the API key (if any) in the `apiKey` header as NVD asks, to NVD's
 * own origin only (see fetchNvdPage). Calls
 * `onPage` with each page's text.
 * @throws PushgateError NETWORK or VULNDB naming the URL and the page.
 */
export async function fetchNvdApi(
  url: string,
  apiKey: string | undefined,
  fetchImpl: typeof fetch,
  onPage: (name: string, text: string, done: number, total: number) => void,
): Promise<void> {
  let start = 0;
  let total = Infinity;
  while (start < total) {
    const u = new URL(url);
    u.searchParams.set('resultsPerPage', String(NVD_PAGE_SIZE));
    u.searchParams.set('startIndex', String(start));
    const name = `${url} startIndex=${start}`;
    let res: Response;
    try {
      res = await fetchNvdPage(u, apiKey, fetchImpl);
    } catch (err) {
      throw new PushgateError('NETWORK', `GET ${name}: ${(err as Error).message}`, { cause: err, retryable: true });
    }
    if (!res.ok) throw new PushgateError('VULNDB', `GET ${name}: HTTP ${res.status} ${res.statusText}${res.status === 403 ? ' (rate limited: configure vulndb.nvdApiKey)' : ''}`, { retryable: res.status >= 500 || res.status === 403 });
    const text = await res.text();
    let page: { totalResults?: unknown; vulnerabilities?: unknown[] };
    try {
      page = JSON.parse(text) as typeof page;
    } catch (err) {
      throw new PushgateError('VULNDB', `GET ${name}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof page.totalResults !== 'number' || !Array.isArray(page.vulnerabilities)) throw new PushgateError('VULNDB', `GET ${name}: not an NVD CVE API 2.0 page (no totalResults/vulnerabilities)`);
    total = page.totalResults;
    const n = page.vulnerabilities.length;
    onPage(name, text, Math.min(total, start + n), total);
    if (n === 0) break;
    start += n;
  }
}
