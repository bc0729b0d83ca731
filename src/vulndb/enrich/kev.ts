/**
 * CISA Known Exploited Vulnerabilities catalog, JSON as published
 * (https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json, schema
 * https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities_schema.json).
 */
import { PushgateError } from '../../core/errors.js';

/** What a finding carries when its CVE is in the catalog. Dates are `YYYY-MM-DD` as CISA writes them. */
export interface KevInfo {
  cve: string;
  dateAdded: string;
  dueDate: string;
  /** `Known` or `Unknown` (CISA's words). */
  knownRansomwareCampaignUse: string;
}

/** A parsed catalog. */
export interface KevCatalog {
  catalogVersion: string;
  /** RFC 3339. */
  dateReleased?: string;
  entries: KevInfo[];
}

/**
 * Parses the catalog's text.
 * @throws PushgateError VULNDB naming `file` when it is not JSON, has no `vulnerabilities` array, an entry
 *   lacks `cveID`/`dateAdded`, or `count` disagrees with the entries (a partial download).
 */
export function parseKev(file: string, text: string): KevCatalog {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new PushgateError('VULNDB', `KEV catalog ${file}: not valid JSON (${(err as Error).message}): truncated or corrupt? fetch it again`);
  }
  if (!v || typeof v !== 'object' || !Array.isArray(v.vulnerabilities))
    throw new PushgateError('VULNDB', `KEV catalog ${file}: no "vulnerabilities" array: not the CISA KEV JSON catalog`);
  const entries: KevInfo[] = [];
  for (const [i, e] of (v.vulnerabilities as Array<Record<string, unknown>>).entries()) {
    const cve = e?.cveID;
    if (typeof cve !== 'string' || !/^CVE-\d{4}-\d+$/.test(cve) || typeof e.dateAdded !== 'string')
      throw new PushgateError('VULNDB', `KEV catalog ${file}: vulnerabilities[${i}] has no valid "cveID"/"dateAdded"`);
    entries.push({
      cve,
      dateAdded: e.dateAdded,
      dueDate: typeof e.dueDate === 'string' ? e.dueDate : '',
      knownRansomwareCampaignUse: typeof e.knownRansomwareCampaignUse === 'string' ? e.knownRansomwareCampaignUse : 'Unknown',
    });
  }
  if (typeof v.count === 'number' && v.count !== entries.length)
    throw new PushgateError('VULNDB', `KEV catalog ${file}: "count" says ${v.count} entries but it holds ${entries.length}: partial file? fetch it again`);
  return {
    catalogVersion: typeof v.catalogVersion === 'string' ? v.catalogVersion : '',
    dateReleased: typeof v.dateReleased === 'string' ? v.dateReleased : undefined,
    entries,
  };
}
