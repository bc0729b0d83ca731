/**
 * src/vulndb: OSV import/update, the local SQLite index, one version comparator per ecosystem, and
 * the matcher turning an inventory into findings.
 */
export { VulnDb, type VulnFinding } from './db.js';
export { updateDb, type UpdateOptions, type UpdateStats } from './update.js';
export { compareVersions, isSupportedEcosystem, supportedEcosystems, comparatorFor, canonicalEcosystem } from './ecosystems/index.js';
export { compareLines } from './compare-lines.js';
export { satisfiesNpmRange, npmRangeToOsv, type NpmRangeOptions } from './npm-range.js';
export { defaultSourceUrl } from './sources.js';
export { osEcosystem } from './release.js';
export { packageKey, type PackageChange } from './digest.js';
export { advisoryKeys } from './keys.js';
