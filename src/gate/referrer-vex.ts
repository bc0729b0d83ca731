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

/** What is stored per digest. */
interface StoredReferrerVex {
  authorities: string;
  documents: Array<{ text: string; source: string }>;
  ignored: string[];
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

/** Statements of stored documents, scoped to `digest`; a document that no longer parses is named, not applied. */
function toReferrerVex(s: StoredReferrerVex, digest: Digest): ReferrerVex {
  const statements: VexStatement[] = [];
  const diagnostics = s.ignored.map(ignoredDiag);
  for (const d of s.documents) {
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
export async function readReferrerVex(store: Store, client: RegistryClient, repository: string, digest: Digest, policy: CompiledPolicy, root: () => TrustRoot | undefined): Promise<ReferrerVex | undefined> {
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
  await store.putLayer(VEX_REFERRERS_KEY(digest), stored);
  return toReferrerVex(stored, digest);
}

/**
 * The stored signed VEX of `digest` as the judge applies it under `policy` (undefined when none is
 * stored or the policy names no authority; documents verified under other authorities are not applied).
 */
export async function storedReferrerVex(store: Store, digest: Digest, policy: CompiledPolicy): Promise<ReferrerVex | undefined> {
  const fp = authoritiesFingerprint(policy);
  if (!fp) return undefined;
  const s = (await store.getLayer(VEX_REFERRERS_KEY(digest))) as StoredReferrerVex | undefined;
  if (!s) return undefined;
  if (s.authorities !== fp) return { statements: [], diagnostics: s.documents.length ? [ignoredDiag(`VEX referrers of ${digest} were verified under other spec.vex authorities: not applied until the image is judged again`)] : [] };
  return toReferrerVex(s, digest);
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
