/**
 * Base image upgrade recommendations (Docker Scout `recommendations`, Snyk's "Recommendations for base
 * image upgrade"), from the catalog:
 * - `refresh`: a tag that named the detected base now names another digest, created (or first seen) later;
 * - `update`: a higher version of the base tag's line (same flavour, same precision, same major: 12.8 → 12.9);
 * - `alternative`: another flavour of a versioned tag (`-slim`), or the same flavour under another, higher major.
 * Ranked by kind in that order, then by vulnerability counts (critical, then high, medium, low; fewer
 * first; never-scanned candidates last), then fixable counts, then the newer version, then the tag.
 */
import { SEVERITIES, type BaseRecommendation, type Digest, type VulnSummary } from '../core/index.js';
import { compareVersions, parseTag, relateTags, type ParsedTag } from './tag.js';
import type { CatalogEntry } from './types.js';

/** What {@link recommend} is told. */
export interface RecommendInput {
  /** The detected base's catalog entry. */
  base: CatalogEntry;
  /** Tags that point or pointed at the base (its digest or its index). */
  baseTags: string[];
  /** Every current tag of the base's repository, resolved to the entry of the base's platform (absent: none for it). */
  current: Array<{ tag: string; entry: CatalogEntry }>;
}

const KIND_ORDER: Record<BaseRecommendation['kind'], number> = { refresh: 0, update: 1, alternative: 2 };
const WORST_FIRST = [...SEVERITIES].reverse();

/** Orders summaries: fewer findings of the worst severity first; undefined (never scanned) last. */
export function compareSummaries(a: VulnSummary | undefined, b: VulnSummary | undefined): number {
  if (!a || !b) return (a ? 0 : 1) - (b ? 0 : 1);
  for (const s of WORST_FIRST) if (a.counts[s] !== b.counts[s]) return a.counts[s] - b.counts[s];
  for (const s of WORST_FIRST) if (a.fixable[s] !== b.fixable[s]) return a.fixable[s] - b.fixable[s];
  return 0;
}

/** The most specific versioned tag among `tags` (most components), else the first. */
function referenceTag(tags: string[]): ParsedTag | undefined {
  const parsed = tags.map(parseTag);
  return parsed.filter((p) => p.version).sort((a, b) => b.version!.length - a.version!.length || compareVersions(b.version!, a.version!))[0] ?? parsed[0];
}

function isNewer(c: CatalogEntry, base: CatalogEntry): boolean {
  if (c.created && base.created && c.created !== base.created) return Date.parse(c.created) > Date.parse(base.created);
  return c.firstSeen > base.firstSeen;
}

/**
 * Ranked upgrade candidates for a detected base (see the module comment); at most `limit` per kind,
 * one per digest (its most specific tag). Pure: no I/O.
 */
export function recommend(input: RecommendInput, limit = 3): BaseRecommendation[] {
  const { base } = input;
  const ref = referenceTag(input.baseTags);
  const baseSet = new Set(input.baseTags);
  type Cand = BaseRecommendation & { parsed: ParsedTag };
  const byKind: Record<BaseRecommendation['kind'], Map<Digest, Cand>> = { refresh: new Map(), update: new Map(), alternative: new Map() };
  for (const { tag, entry } of input.current) {
    if (entry.digest === base.digest) continue;
    const parsed = parseTag(tag);
    let kind: BaseRecommendation['kind'] | undefined;
    if (baseSet.has(tag)) kind = isNewer(entry, base) ? 'refresh' : undefined;
    else if (ref) {
      const rel = relateTags(ref, parsed);
      if (rel === 'update') kind = 'update';
      else if (rel === 'other-flavour' || (rel === 'other-major' && compareVersions(parsed.version!, ref.version!) > 0)) kind = 'alternative';
    }
    if (!kind) continue;
    const has = entry.findingIds ? new Set(entry.findingIds) : undefined;
    const fixes = base.findingIds && has ? base.findingIds.filter((id) => !has.has(id)) : undefined;
    const cand: Cand = { kind, repository: entry.repository, tag, digest: entry.digest, ...(entry.created ? { created: entry.created } : {}), ...(entry.summary ? { summary: entry.summary } : {}), ...(fixes ? { fixes } : {}), parsed };
    const m = byKind[kind];
    const prev = m.get(entry.digest);
    // One candidate per digest: its most specific tag (12.9-slim over 12-slim).
    if (!prev || (parsed.version?.length ?? 0) > (prev.parsed.version?.length ?? 0) || ((parsed.version?.length ?? 0) === (prev.parsed.version?.length ?? 0) && tag < prev.tag)) m.set(entry.digest, cand);
  }
  const out: BaseRecommendation[] = [];
  for (const kind of ['refresh', 'update', 'alternative'] as const) {
    const ranked = [...byKind[kind].values()].sort((a, b) =>
      KIND_ORDER[a.kind] - KIND_ORDER[b.kind]
      || compareSummaries(a.summary, b.summary)
      || (a.parsed.version && b.parsed.version ? compareVersions(b.parsed.version, a.parsed.version) : 0)
      || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
    for (const { parsed: _p, ...r } of ranked.slice(0, limit)) out.push(r);
  }
  return out;
}
