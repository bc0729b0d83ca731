/**
 * VEX from an image's referrers (policy `spec.vex.authorities`, src/trust/vex-referrers.ts) for the
 * judge: read from the registry when the gate judges a pushed digest, kept in the store so a later
 * re-judgement from the stored scan (policy or database change, monitor) applies the same statements
 * without asking the registry, and read again when a referrer of the digest is pushed
 * ({@link referrerSubjectOf}).
 *
 * The stored documents carry a fingerprint of the authorities that verified them: under other
 * authorities (a policy edit) they are not applied until the registry is read again, so a removed key
 * never keeps suppressing. Statements apply to the digest they were signed for only ({@link scopeToImage}).
 * A signed `affected`/`under_investigation` statement, once read, keeps applying when later listings
 * leave its document out: the listing is the pusher's to write, and leaving out a retraction would bring
 * back the `not_affected` it overrode.
 */
import { createHash } from 'node:crypto';
import type { Diagnostic, Digest } from '../core/index.js';
import { parseManifest, type RegistryClient } from '../registry/index.js';
import { parseVex, scopeToImage, type CompiledPolicy, type VexStatement } from '../policy/index.js';
import type { Store } from '../store/index.js';
import { collectVexReferrers } from '../trust/vex-referrers.js';
import type { TrustRoot } from '../trust/types.js';

/** Store key of the signed VEX documents read from `digest`'s referrers. */
export const VEX_REFERRERS_KEY = (digest: Digest) => `vexref:v1:${digest}`;
/** Diagnostic code of a VEX referrer or attestation not applied (unsigned, other key, other digest, unreadable). */
export const VEX_REFERRER_IGNORED = 'vex-referrer-ignored';

/** What one repository's referrers of the digest gave. */
interface StoredReferrerVex {
  authorities: string;
  documents: Array<{ text: string; source: string }>;
  ignored: string[];
}

/**
 * What is stored per digest: one entry per `registry/repository` the digest's referrers were read in, so
 * reading them in one repository (a pusher's copy of the digest without attestations) never replaces what
 * was read in another. A record of the first format (one read, no repository) is read as one entry.
 * `retractions`: every verified document seen for the digest that says `affected` or
 * `under_investigation` somewhere, kept whatever later reads list ({@link readReferrerVex}).
 */
interface StoredPlaces {
  places: Record<string, StoredReferrerVex>;
  retractions?: StoredRetraction[];
}

/**
 * A verified document holding a statement that suppresses nothing, with the fingerprint of the one
 * authority that verified it ({@link authorityFingerprint}): it applies while that authority is configured
 * unchanged, whatever other authorities come and go (a policy edit must not drop what a retraction says).
 */
interface StoredRetraction {
  authority: string;
  text: string;
  source: string;
}

/**
 * Retraction documents kept per digest (only a configured authority's signed documents get here: the bound
 * is against a long-lived digest collecting many, oldest dropped first).
 */
export const MAX_RETRACTIONS = 64;

/** Statuses that suppress nothing: a later one of them overrides an earlier `not_affected`/`fixed`. */
const NON_SUPPRESSING = new Set<VexStatement['status']>(['affected', 'under_investigation']);

function retractionsOf(raw: unknown): StoredRetraction[] {
  const r = raw && typeof raw === 'object' && 'retractions' in raw ? (raw as StoredPlaces).retractions : undefined;
  return Array.isArray(r) ? r : [];
}

/** Fingerprint of one `spec.vex` authority (name, key or identity), or undefined when the policy has none of that name. */
export function authorityFingerprint(policy: CompiledPolicy, name: string): string | undefined {
  const spec = policy.document.spec.vex?.authorities.find((a) => a.name === name);
  return spec ? createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16) : undefined;
}

/** The fingerprints of every authority of the policy's `spec.vex`. */
function authorityFingerprints(policy: CompiledPolicy): Set<string> {
  return new Set((policy.document.spec.vex?.authorities ?? []).map((a) => authorityFingerprint(policy, a.name)!));
}

/** True when `text` parses as VEX holding at least one statement that suppresses nothing. */
function retracts(text: string, source: string): boolean {
  try {
    return parseVex(text, source).some((st) => NON_SUPPRESSING.has(st.status));
  } catch {
    return false;
  }
}

/** Entries kept that carry only `ignored` sentences (no document): a bound against copies in many repositories. */
const MAX_IGNORED_ONLY_PLACES = 16;

function placesOf(raw: unknown): Record<string, StoredReferrerVex> {
  if (!raw || typeof raw !== 'object') return {};
  if ('places' in raw) return { ...(raw as StoredPlaces).places };
  return { '': raw as StoredReferrerVex };
}

/** What the judge applies (JudgeOptions.referrerVex). */
export interface ReferrerVex {
  statements: VexStatement[];
  diagnostics: Diagnostic[];
}

/** Fingerprint of the policy's `spec.vex` (names, keys, identities), or '' when it has no authority. */
export function authoritiesFingerprint(policy: CompiledPolicy): string {
  if (!policy.vexAuthorities?.length) return '';
  return createHash('sha256').update(JSON.stringify(policy.document.spec.vex ?? null)).digest('hex').slice(0, 16);
}

const ignoredDiag = (message: string): Diagnostic => ({ code: VEX_REFERRER_IGNORED, message, incomplete: false });

/**
 * Statements of the stored documents of every place verified under `fp`, scoped to `digest` (a statement a
 * configured authority signed for the digest holds wherever the digest is); a document that no longer
 * parses is named, not applied; documents verified under other authorities are named, not applied.
 */
function toReferrerVex(places: Record<string, StoredReferrerVex>, digest: Digest, fp: string, retractions: readonly StoredRetraction[] = [], authorities: ReadonlySet<string> = new Set()): ReferrerVex {
  const statements: VexStatement[] = [];
  const diagnostics: Diagnostic[] = [];
  const docs: StoredReferrerVex['documents'] = [];
  let stale = false;
  let unreadable = false;
  for (const s of Object.values(places)) {
    if (s.authorities !== fp) {
      stale ||= s.documents.length > 0;
      continue;
    }
    diagnostics.push(...s.ignored.map(ignoredDiag));
    docs.push(...s.documents);
  }
  if (stale) diagnostics.push(ignoredDiag(`VEX referrers of ${digest} were verified under other spec.vex authorities: not applied until the image is judged again`));
  for (const d of docs) {
    try {
      statements.push(...scopeToImage(parseVex(d.text, d.source), digest));
    } catch (e) {
      // A signed document that no longer reads (a stricter reader since it was stored) may be the
      // authority's "affected": fail closed, nothing of this image is suppressed.
      unreadable = true;
      diagnostics.push(ignoredDiag(`${d.source}: not a VEX document pushgate reads: ${(e as Error).message}`));
    }
  }
  // Anyone who can push to a repository writes its referrers listing (the `.att` tag, the fallback index)
  // and can re-push any signed document it once held: a listing that leaves out the authority's later
  // "affected" brings its earlier "not_affected" back. What a retraction says is kept once seen; only a
  // later suppressing statement of the authority (by its time) overrides it.
  const listed = new Set(docs.map((d) => d.text));
  for (const r of retractions) {
    if (!authorities.has(r.authority) || listed.has(r.text)) continue;
    let kept: VexStatement[];
    try {
      kept = scopeToImage(parseVex(r.text, r.source), digest).filter((st) => NON_SUPPRESSING.has(st.status));
    } catch (e) {
      // A retraction is kept because it may be the only "affected" left: one that no longer reads
      // suppresses every statement of this image rather than being dropped.
      unreadable = true;
      diagnostics.push(ignoredDiag(`${r.source}: a kept retraction pushgate no longer reads: ${(e as Error).message}; no VEX statement of ${digest} suppresses a finding`));
      continue;
    }
    if (!kept.length) continue;
    statements.push(...kept);
    diagnostics.push(ignoredDiag(`${r.source}: no longer listed for ${digest}; its affected/under_investigation statements still apply (a retraction is kept once seen: a later statement of the authority overrides it)`));
  }
  return { statements: unreadable ? statements.filter((st) => NON_SUPPRESSING.has(st.status)) : statements, diagnostics };
}

/**
 * Reads the signed VEX of `repository@digest` from the registry and stores it (see the module comment).
 * A registry that cannot be read leaves no statement (suppressing nothing) and a diagnostic saying so.
 * @returns undefined when the policy names no VEX authority.
 */
export async function readReferrerVex(store: Store, client: RegistryClient, where: { registry: string; repository: string }, digest: Digest, policy: CompiledPolicy, root: () => TrustRoot | undefined): Promise<ReferrerVex | undefined> {
  const { repository } = where;
  const fp = authoritiesFingerprint(policy);
  if (!fp) return undefined;
  let stored: StoredReferrerVex;
  let verified: Array<{ text: string; source: string; authority: string }>;
  try {
    const keyless = policy.vexAuthorities.some((a) => a.kind === 'keyless');
    const c = await collectVexReferrers(client, repository, digest, policy.vexAuthorities, keyless ? root() : undefined);
    stored = { authorities: fp, documents: c.documents.map((d) => ({ text: d.text, source: d.source })), ignored: c.ignored };
    verified = c.documents;
  } catch (e) {
    return { statements: [], diagnostics: [ignoredDiag(`VEX referrers of ${digest} could not be read: ${(e as Error).message}; none applied`)] };
  }
  const raw = await store.getLayer(VEX_REFERRERS_KEY(digest));
  const places = placesOf(raw);
  const here = `${where.registry}/${repository}`;
  delete places[here];
  if (stored.documents.length || stored.ignored.length) places[here] = stored;
  const ignoredOnly = Object.keys(places).filter((k) => !places[k]!.documents.length && k !== here);
  for (const k of ignoredOnly.slice(0, Math.max(0, ignoredOnly.length - MAX_IGNORED_ONLY_PLACES))) delete places[k];
  // Retractions accumulate: what a listing no longer shows is kept (see toReferrerVex).
  const retractions = retractionsOf(raw);
  for (const d of verified) {
    const authority = authorityFingerprint(policy, d.authority);
    if (!authority || retractions.some((r) => r.authority === authority && r.text === d.text) || !retracts(d.text, d.source)) continue;
    retractions.push({ authority, text: d.text, source: d.source });
  }
  const keep = retractions.slice(Math.max(0, retractions.length - MAX_RETRACTIONS));
  // Replaced, not put: a later read (a withdrawn or replaced attestation, other authorities) must win.
  await store.replaceLayer(VEX_REFERRERS_KEY(digest), { places, ...(keep.length ? { retractions: keep } : {}) } satisfies StoredPlaces);
  return toReferrerVex(places, digest, fp, keep, authorityFingerprints(policy));
}

/**
 * The stored signed VEX of `digest` as the judge applies it under `policy` (undefined when none is
 * stored or the policy names no authority; documents verified under other authorities are not applied).
 */
export async function storedReferrerVex(store: Store, digest: Digest, policy: CompiledPolicy): Promise<ReferrerVex | undefined> {
  const fp = authoritiesFingerprint(policy);
  if (!fp) return undefined;
  const raw = await store.getLayer(VEX_REFERRERS_KEY(digest));
  if (!raw) return undefined;
  return toReferrerVex(placesOf(raw), digest, fp, retractionsOf(raw), authorityFingerprints(policy));
}

/** Tags whose push or delete can change an image's VEX: `sha256-<hex>.att`, `.sig`, and the fallback `sha256-<hex>`. */
export const REFERRER_TAG = /^sha256-[a-f0-9]{64}(\.att|\.sig)?$/;
const ATT_TAG = /^(sha256)-([a-f0-9]{64})\.att$/;
const FALLBACK_TAG = /^(sha256)-([a-f0-9]{64})$/;
const SIG_TAG = /^(sha256)-([a-f0-9]{64})\.sig$/;

/**
 * The image digest whose VEX a pushed manifest may change, or undefined: a `sha256-<hex>.att` tag
 * (cosign's attestations) or a `sha256-<hex>` tag (the referrers fallback index) names it; a manifest
 * with a `subject` (a referrer pushed through the referrers API) names it; a `sha256-<hex>.sig` tag
 * signs a manifest whose `subject` names it (a signed plain VEX referrer). Reads the registry only for
 * the last two.
 */
export async function referrerSubjectOf(client: RegistryClient, repository: string, digest: Digest, tag: string | undefined): Promise<Digest | undefined> {
  const named = tag ? (ATT_TAG.exec(tag) ?? FALLBACK_TAG.exec(tag)) : null;
  if (named) return `${named[1]}:${named[2]}` as Digest;
  const signed = tag ? SIG_TAG.exec(tag) : null;
  const target = signed ? (`${signed[1]}:${signed[2]}` as Digest) : digest;
  try {
    const m = await client.getManifest(repository, target);
    const p = parseManifest(m.bytes, m.mediaType);
    return p.kind === 'manifest' ? p.manifest.subject?.digest : undefined;
  } catch {
    return undefined;
  }
}
