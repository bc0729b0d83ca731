/**
 * src/vulndb: OSV import/update, the local SQLite index, one version comparator per ecosystem, and
 * the matcher turning an inventory into findings.
 */
export { MatchMemo, VulnDb, type VulnFinding } from './db.js';
export { updateDb, type UpdateOptions, type UpdateStats } from './update.js';
export { compareVersions, isSupportedEcosystem, supportedEcosystems, comparatorFor, canonicalEcosystem } from './ecosystems/index.js';
export { compareLines } from './compare-lines.js';
export { satisfiesNpmRange, npmRangeToOsv, type NpmRangeOptions } from './npm-range.js';
export { defaultSourceUrl, narrowSources } from './sources.js';
export { osEcosystem } from './release.js';
export { DEFAULT_SEVERITY_PREFER, pickRating, planFor, type MatchOptions } from './db.js';
export type { SourceStatus, RecordEnrichment } from './update.js';
export { parseSourceSpec, DEFAULT_ENRICHMENT_URLS } from './sources.js';
export { eolSubjects, eolFindings, parseEolProduct, cycleOf, OS_EOL_PRODUCTS, RUNTIME_ENV, type EolCycle, type EolSubject } from './enrich/eol.js';
export { parseKev, type KevInfo } from './enrich/kev.js';
export { parseEpss, type EpssInfo } from './enrich/epss.js';
export { nvdRating, nvdRecords } from './enrich/nvd.js';
export { packageKey, type PackageChange } from './digest.js';
export { advisoryKeys } from './keys.js';
