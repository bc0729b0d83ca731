/**
 * NuGet version order (NuGet.Versioning `VersionComparer.Default`): up to four numeric parts
 * (missing = 0), then release labels (a version without labels is greater; labels compare part by
 * part, numeric < alphanumeric, alphanumerics case-insensitively, fewer parts first); build
 * metadata after `+` is ignored. https://learn.microsoft.com/nuget/concepts/package-versioning
 */
import { PushgateError } from '../../core/errors.js';
import { type Cmp, type Comparator, compareDigits, compareStrings } from './types.js';

const RE = /^[vV]?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

interface NuGetVersion {
  parts: string[];
  labels: string[];
}

/** Parses a NuGet version; throws BAD_ARGUMENT when invalid. */
export function parseNuGet(v: string): NuGetVersion {
  const m = RE.exec(v.trim());
  if (!m) throw new PushgateError('BAD_ARGUMENT', `invalid NuGet version ${JSON.stringify(v)}`);
  return { parts: [m[1], m[2] ?? '0', m[3] ?? '0', m[4] ?? '0'], labels: m[5] ? m[5].split('.') : [] };
}

/** Compares two NuGet versions. */
export function compareNuGet(a: string, b: string): Cmp {
  const x = parseNuGet(a);
  const y = parseNuGet(b);
  for (let i = 0; i < 4; i++) {
    const c = compareDigits(x.parts[i], y.parts[i]);
    if (c) return c;
  }
  if (!x.labels.length || !y.labels.length) return x.labels.length === y.labels.length ? 0 : x.labels.length ? -1 : 1;
  for (let i = 0; i < Math.max(x.labels.length, y.labels.length); i++) {
    if (i >= x.labels.length) return -1;
    if (i >= y.labels.length) return 1;
    const p = x.labels[i];
    const q = y.labels[i];
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    const c = pn && qn ? compareDigits(p, q) : pn ? -1 : qn ? 1 : compareStrings(p.toLowerCase(), q.toLowerCase());
    if (c) return c;
  }
  return 0;
}

/** The NuGet comparator. */
export const nuget: Comparator = { name: 'nuget', compare: compareNuGet };
