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
 */
interface StoredPlaces {
  places: Record<string, StoredReferrerVex>;
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
function toReferrerVex(places: Record<string, StoredReferrerVex>, digest: Digest, fp: string): ReferrerVex {
  const statements: VexStatement[] = [];
  const diagnostics: Diagnostic[] = [];
  const docs: StoredReferrerVex['documents'] = [];
  let stale = false;
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
      diagnostics.push(ignoredDiag(`${d.source}: not a VEX document pushgate reads: ${(e as Error).message}`));
    }
  }
  return { statements, diagnostics };
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
  try {
    const keyless = policy.vexAuthorities.some((a) => a.kind === 'keyless');
    const c = await collectVexReferrers(client, repository, digest, policy.vexAuthorities, keyless ? root() : undefined);
    stored = { authorities: fp, documents: c.documents.map((d) => ({ text: d.text, source: d.source })), ignored: c.ignored };
  } catch (e) {
    return { statements: [], diagnostics: [ignoredDiag(`VEX referrers of ${digest} could not be read: ${(e as Error).message}; none applied`)] };
  }
  const places = placesOf(await store.getLayer(VEX_REFERRERS_KEY(digest)));
  const here = `${where.registry}/${repository}`;
  delete places[here];
  if (stored.documents.length || stored.ignored.length) places[here] = stored;
  const ignoredOnly = Object.keys(places).filter((k) => !places[k]!.documents.length && k !== here);
  for (const k of ignoredOnly.slice(0, Math.max(0, ignoredOnly.length - MAX_IGNORED_ONLY_PLACES))) delete places[k];
  // Replaced, not put: a later read (a withdrawn or replaced attestation, other authorities) must win.
  await store.replaceLayer(VEX_REFERRERS_KEY(digest), { places } satisfies StoredPlaces);
  return toReferrerVex(places, digest, fp);
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
  return toReferrerVex(placesOf(raw), digest, fp);
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
