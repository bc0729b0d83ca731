/**
 * Base or app: which side of an image each package, finding and secret comes from. A package is the
 * base's when the base image itself holds it at the same path and version (its stored scan says so), or
 * when the layer that wrote it is one of the base's layers. The first rule keeps base packages with the
 * base when the image's own `apt-get install` rewrote the package database (every dpkg package is then
 * last written by the image's layer), and makes a package the image upgraded the image's.
 */
import { emptySummary, parseSeverity, type Finding, type Origin, type Package, type SecretFinding, type VulnSummary } from '../core/index.js';

/** `ecosystem NUL name NUL version NUL path` of a package or a finding's package. */
export function packageKey(p: { ecosystem: string; name?: string; package?: string; version?: string; installedVersion?: string; path: string }): string {
  // Findings carry the OS release in their ecosystem (`Debian:12`); packages do not.
  return [p.ecosystem.split(':')[0], p.name ?? p.package, p.version ?? p.installedVersion, p.path].join('\u0000');
}

/** What decides the side: the base's layers and, when its scan is stored, the package keys the base holds. */
export interface BaseSide {
  layers: ReadonlySet<string>;
  packages?: ReadonlySet<string>;
}

/** The origin of a package or a finding (see the module comment). */
export function originOf(item: { ecosystem: string; name?: string; package?: string; version?: string; installedVersion?: string; path: string; layer?: string }, side: BaseSide): Origin {
  if (side.packages?.has(packageKey(item))) return 'base';
  if (item.layer && side.layers.has(item.layer)) return 'base';
  return 'app';
}

/** Copies of `items` with `origin` set. */
export function withOrigin<T extends Package | Finding>(items: T[], side: BaseSide): T[] {
  return items.map((i) => ({ ...i, origin: originOf(i as never, side) }));
}

/** Copies of `secrets` with `origin` set by layer (a secret in the config has no layer: the image's). */
export function secretsWithOrigin(secrets: SecretFinding[], side: BaseSide): SecretFinding[] {
  return secrets.map((s) => ({ ...s, origin: s.layer && side.layers.has(s.layer) ? 'base' : 'app' }));
}

/** Counts by severity and fixable counts of `findings` (one per finding entry). */
export function summarize(findings: readonly Finding[]): VulnSummary {
  const s = emptySummary();
  for (const f of findings) {
    const sev = parseSeverity(f.severity);
    s.counts[sev]++;
    if (f.fixedVersions.length) s.fixable[sev]++;
  }
  return s;
}
