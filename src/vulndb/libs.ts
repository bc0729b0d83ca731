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
let pep440Lib: typeof Pep440 | undefined;

/** node-semver. */
export function semver(): typeof Semver {
  semverLib ??= requireCjs('semver') as typeof Semver;
  return semverLib;
}

/** @renovatebot/pep440. */
export function pep440(): typeof Pep440 {
  pep440Lib ??= requireCjs('@renovatebot/pep440') as typeof Pep440;
  return pep440Lib;
}
