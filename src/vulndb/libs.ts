/**
 * The version libraries of the comparators (node-semver, @renovatebot/pep440), loaded by their first
 * comparison rather than with the vulnerability database: a scan loads only those of the ecosystems
 * it matches. Both are CommonJS, so `require` keeps the comparators synchronous.
 */
import { createRequire } from 'node:module';
import type * as Pep440 from '@renovatebot/pep440';
import type * as Semver from 'semver';

const requireCjs = createRequire(import.meta.url);
let semverLib: typeof Semver | undefined;
let semverParseFn: typeof Semver.parse | undefined;
let pep440Lib: typeof Pep440 | undefined;

/** node-semver. */
export function semver(): typeof Semver {
  semverLib ??= requireCjs('semver') as typeof Semver;
  return semverLib;
}

/**
 * node-semver's `parse` alone (`semver/functions/parse`, the per-function module node-semver documents),
 * for the npm comparator: it needs no ranges, and the whole package costs about five times as much to
 * load (~40 ms of CPU against ~8 ms here), paid by every import of npm advisories.
 */
export function semverParse(): typeof Semver.parse {
  semverParseFn ??= semverLib?.parse ?? (requireCjs('semver/functions/parse') as typeof Semver.parse);
  return semverParseFn;
}

/** @renovatebot/pep440. */
export function pep440(): typeof Pep440 {
  pep440Lib ??= requireCjs('@renovatebot/pep440') as typeof Pep440;
  return pep440Lib;
}
