/**
 * Stored scan reports as a whole body plus, after a monitor pass patched the image, the fields that
 * pass judged again (`report_patches.patch`, a row of its own; `reports.patch` before migration 20):
 * writing a re-judged report rewrites only its findings and
 * verdict (about a third of a report; the package list, secrets and configuration findings, which a
 * database change cannot change, stay in the body as written). Shared by both stores.
 *
 * A report read is the body with the patch laid over it, exactly as the monitor's patch builds a report
 * from the stored one (src/monitor/monitor.ts `patch`: `{ ...stored, findings, vulndb, scannedAt,
 * verdict: { ...verdict, complete: stored.complete } }`): the same keys in the same order, so readers
 * get the same value and the same JSON text as from a report written whole. A patch replaces the
 * previous one (it sets the same fields), so reading never walks a chain: one body, one patch at most.
 * A report written whole clears the patch.
 *
 * A patch is stored in one of two forms, told apart by its first key:
 * - full (`{"findings":[…],"vulndb":…,"scannedAt":…,"verdict":…}`): every finding of the report;
 * - delta (`{"delta":1,"sig":…,"removed":[…],"upserts":[…],"vulndb":…,"scannedAt":…,"verdict":…}`): the
 *   findings are the body's, minus those whose key ({@link findingKey}) is in `removed` or is the key of
 *   an upsert (and minus a repeated key's later findings), plus `upserts`, sorted by {@link compareRisk}.
 *   A pass changes a few findings of an image's few dozen, so a delta is a small share of a full patch
 *   (bytes written, compressed, logged and parsed).
 * A delta is written only when it reads exactly as the full patch ({@link storedPatchText}): the stored
 * report's findings are known to be those the monitor patched (`ReportPatch.replaces`), the new findings
 * are in risk order with no two different keys tied, and the previous patch is absent or a delta (whose
 * keys the new delta takes over: it is again against the body). Otherwise the full form is written.
 *
 * Writing a patch does not write the report's row (a write of it rewrites the body's pages on SQLite and
 * renumbers it for the monitor's catch-up): the index written with the patch is dated after the body.
 */
import { compareRisk, findingKey, type Digest, type Evaluation, type Finding, type ScanReport } from '../core/index.js';
import { findingText } from './finding-text.js';

/** The fields of a report a patched re-judgement sets (`verdict.complete` is the stored report's `complete`). */
export interface ReportPatch {
  digest: Digest;
  /** Every finding of the report after the patch, in risk order ({@link compareRisk}). */
  findings: Finding[];
  /**
   * Always set, as are the other fields: a body lacking one of them gets it after its own keys (in this
   * order) from the first patch on, so a later patch, laid over the body alone, puts it in the same place.
   */
  vulndb: NonNullable<ScanReport['vulndb']>;
  scannedAt: string;
  verdict: Evaluation;
  /**
   * The findings of the stored report this patch replaces, by key, as the monitor read them from the
   * image's index, with the signature the index held for them (`image_index.findings_sig`, read with
   * them). The store writes the patch as a delta against the stored body only when the index still holds
   * that signature and was made from the stored report as it reads now ({@link storedPatchText}): then
   * the stored report's findings are these. Absent: the full form is written.
   */
  replaces?: { sig: string; findings: Array<{ key: string; finding: Finding }> };
}

/** The `report_patches.patch` text of a patch, full form. */
export function patchText(p: ReportPatch): string {
  // JSON.stringify({ findings, vulndb, scannedAt, verdict }), each finding's text made once (findingText)
  return `{"findings":[${p.findings.map(findingText).join(',')}],"vulndb":${JSON.stringify(p.vulndb)},"scannedAt":${JSON.stringify(p.scannedAt)},"verdict":${JSON.stringify(p.verdict)}}`;
}

/** The first characters of a delta's text (a full patch starts with `{"findings":`). */
export const DELTA_PREFIX = '{"delta":1,';

/** A delta patch as stored. */
export interface DeltaPatch extends Omit<ReportPatch, 'digest' | 'findings' | 'replaces'> {
  delta: 1;
  /** The signature the index was written with, with this patch (`image_index.findings_sig`). */
  sig: string | null;
  /** Keys of the body's findings that are gone (or replaced by an upsert). */
  removed: string[];
  /** Findings that are new or whose content differs from the body's finding of their key. */
  upserts: Finding[];
}

/**
 * What a store knows of an image when it writes the image's patch, read in the writing transaction
 * before the image's index is written.
 */
export interface StoredReportState {
  /**
   * The index's `report_at` is the stored report's `created_at` (the time it was written whole), as
   * the catch-up and a whole write date an index made from that report.
   */
  fromBody: boolean;
  /** The index's `findings_sig` (null: no index, or no signature kept). */
  sig: string | null;
  /** The stored patch: null when none, its text when it is a delta, any other text for a full patch. */
  previous: string | null;
}

/**
 * The `report_patches.patch` text of `p` over a stored report in state `s`, the index being written
 * with it getting signature `sigAfter`: a delta when it reads exactly as the full form (module comment),
 * else the full form. The stored report holds the findings the monitor patched (`p.replaces`) when the
 * index still holds what the monitor read (`s.sig`) and that index was made from the report as it reads
 * now: built from the body (`s.fromBody`) when there is no patch, else written with the stored delta
 * (the delta records the index's signature; the index has not been written since).
 */
export function storedPatchText(p: ReportPatch, s: StoredReportState, sigAfter: string | undefined): string {
  if (!p.replaces || s.sig === null || s.sig !== p.replaces.sig) return patchText(p);
  let prev: DeltaPatch | undefined;
  if (s.previous === null) {
    if (!s.fromBody) return patchText(p);
  } else {
    if (!s.previous.startsWith(DELTA_PREFIX)) return patchText(p);
    prev = JSON.parse(s.previous) as DeltaPatch;
    if (prev.sig !== s.sig) return patchText(p);
  }
  return deltaText(p, prev, sigAfter ?? null) ?? patchText(p);
}

/**
 * The delta text of `p` over a body whose findings with the previous delta `prev` laid over them (the
 * body's own when undefined) are `p.replaces`, or undefined when the reader would not read it back as
 * `p.findings`. `sig`: the signature of the index written with it (the next write's check).
 */
export function deltaText(p: ReportPatch, prev: DeltaPatch | undefined, sig: string | null): string | undefined {
  if (!p.replaces) return undefined;
  // The reader sorts by risk: only findings already in that order, with no tie but between findings of
  // one key (all of them upserts, kept in their order by the stable sort), read back as given.
  // What the stored report holds per key now: the monitor's findings (the index, first of a key wins).
  // Findings the patch keeps are those very objects, whose keys are known and whose text is theirs.
  const before = new Map<string, Finding>();
  const known = new Map<Finding, string>();
  for (const f of p.replaces.findings) {
    if (before.has(f.key)) continue;
    before.set(f.key, f.finding);
    known.set(f.finding, f.key);
  }
  const n = p.findings.length;
  const keys = new Array<string>(n);
  for (let i = 0; i < n; i++) keys[i] = known.get(p.findings[i]) ?? keyOf(p.findings[i]);
  // The reader sorts by risk: only findings already in that order, with no tie but between findings of
  // one key (all of them upserts, kept in their order by the stable sort), read back as given.
  for (let i = 1; i < n; i++) {
    const c = compareRisk(p.findings[i - 1], p.findings[i]);
    if (c > 0 || (c === 0 && keys[i - 1] !== keys[i])) return undefined;
  }
  // Findings the body lacks or holds otherwise: new or changed now, upserts of the previous delta (the
  // body never held them), and every finding of a repeated key (the body's copy is dropped).
  const count = new Map<string, number>();
  for (const k of keys) count.set(k, (count.get(k) ?? 0) + 1);
  const earlier = new Set(prev ? prev.upserts.map(findingKey) : []);
  const upserts: Finding[] = [];
  for (let i = 0; i < n; i++) {
    const f = p.findings[i];
    const k = keys[i];
    const was = before.get(k);
    if (earlier.has(k) || count.get(k)! > 1 || (was !== f && (was === undefined || findingText(was) !== findingText(f)))) upserts.push(f);
  }
  // The body's findings no longer present: those of the stored report, and those the previous delta
  // removed or replaced (the body still holds them).
  const removed = new Set<string>();
  for (const k of before.keys()) if (!count.has(k)) removed.add(k);
  for (const k of prev?.removed ?? []) if (!count.has(k)) removed.add(k);
  for (const k of earlier) if (!count.has(k)) removed.add(k);
  return `${DELTA_PREFIX}"sig":${JSON.stringify(sig)},"removed":${JSON.stringify([...removed])},"upserts":[${upserts.map(findingText).join(',')}],"vulndb":${JSON.stringify(p.vulndb)},"scannedAt":${JSON.stringify(p.scannedAt)},"verdict":${JSON.stringify(p.verdict)}}`;
}

/**
 * Finding keys by finding object: a database pass writes a delta per changed image, whose new findings
 * are objects shared by many images (bound once per package instance); findings are not changed once
 * made (finding-text.ts).
 */
const KEYS = new WeakMap<Finding, string>();

/** {@link findingKey}, made once per finding object. */
function keyOf(f: Finding): string {
  let k = KEYS.get(f);
  if (k === undefined) KEYS.set(f, (k = findingKey(f)));
  return k;
}

/** The findings a delta makes of the body's (module comment). */
function applyDelta(body: Finding[] | undefined, d: DeltaPatch): Finding[] {
  const drop = new Set(d.removed);
  for (const f of d.upserts) drop.add(findingKey(f));
  const out: Finding[] = [];
  for (const f of body ?? []) {
    const k = findingKey(f);
    if (drop.has(k)) continue;
    // a repeated key: its first finding stays (as the index keeps it)
    drop.add(k);
    out.push(f);
  }
  out.push(...d.upserts);
  return out.sort(compareRisk);
}

/**
 * A stored report: `body` (JSON text) with `patch` (JSON text of {@link patchText} or a delta, or null)
 * laid over it. Keys the body holds keep their place; those it lacks follow in patch order, as an
 * object spread places them. Every read of a stored report goes through here (both stores' getReport).
 */
export function reportOf(body: string, patch: string | null | undefined): ScanReport {
  const r = JSON.parse(body) as ScanReport;
  if (patch == null) return r;
  const p = JSON.parse(patch) as Omit<ReportPatch, 'digest'> | DeltaPatch;
  const findings = 'delta' in p ? applyDelta(r.findings, p) : p.findings;
  return Object.assign(r, { findings, vulndb: p.vulndb, scannedAt: p.scannedAt, verdict: { ...p.verdict, complete: r.complete } });
}
