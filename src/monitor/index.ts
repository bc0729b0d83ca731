/**
 * src/monitor: continuous monitoring. Stored images are judged again when the vulnerability database
 * changes, from their stored inventories (no registry request), once across replicas, resumably; each
 * re-judged image gets a change record; `onNewFindings` decides what a newly failing image suffers.
 */
export { Monitor, type MonitorOptions, type MonitorStats, type MonitorCounters, type AffectedAnswer, type AffectedVerdict, type PackageImagesAnswer, type RescanProgress, type RescanStats, AFFECTED_LIMIT, AFFECTED_CATCH_UP, WORKLOADS_PER_IMAGE, ADVISORY_ID_MAX, advisoryIdProblem } from './monitor.js';
export { capNewFindings, ON_NEW_FINDINGS_RULE, type CapResult } from './on-new-findings.js';
export { diffFindings, findingKey, imageIndexOf, indexedPackages, rejudgedIndexOf, type FindingDiff } from './image-index.js';
