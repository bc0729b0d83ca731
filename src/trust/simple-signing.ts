/**
 * cosign's simple-signing payload (`application/vnd.dev.cosign.simplesigning.v1+json`, the format of
 * containers/image "atomic container signature" that cosign writes for `cosign sign`):
 *
 * ```json
 * {"critical":{"identity":{"docker-reference":"host/repo"},
 *              "image":{"docker-manifest-digest":"sha256:…"},
 *              "type":"cosign container image signature"},
 *  "optional":{…}}
 * ```
 *
 * cosign (Go, encoding/json) matches field names case-insensitively, so a payload spelling
 * `Critical`, `Docker-Manifest-Digest` or `docker-manifeſt-digest` (Unicode folding, {@link goFoldName})
 * means to cosign what the canonical name means here; pushgate refuses
 * any spelling of a known field other than the canonical one, and duplicates after case folding, so
 * it never reads a different digest than another verifier of the same bytes.
 */
import type { Digest } from '../core/index.js';

/** The `critical.type` cosign writes. */
export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

/** A parsed payload: what was signed. */
export interface SimpleSigningClaims {
  dockerReference: string;
  manifestDigest: Digest;
  optional?: Record<string, unknown>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A field name folded for comparison with the ASCII field names of the payload, as Go's encoding/json
 * folds it (`foldName`: ASCII letters upper-cased, any other rune replaced by the smallest rune of its
 * `unicode.SimpleFold` orbit). The only non-ASCII runes whose orbit holds an ASCII letter are `ſ`
 * (U+017F, orbit S s ſ) and the Kelvin sign (U+212A, orbit K k K); every other non-ASCII rune stays
 * non-ASCII and cannot fold onto an ASCII name, so it is kept as is.
 */
export function goFoldName(name: string): string {
  let out = '';
  for (const ch of name) {
    if (ch >= 'a' && ch <= 'z') out += ch.toUpperCase();
    else if (ch === '\u017f') out += 'S';
    else if (ch === '\u212a') out += 'K';
    else out += ch;
  }
  return out;
}

/**
 * Rejects keys that Go's case-insensitive matching would read as one of `known` (or as each other)
 * but JSON.parse would not.
 */
function checkKeys(o: Record<string, unknown>, known: string[], at: string): void {
  const seen = new Map<string, string>();
  for (const k of Object.keys(o)) {
    const folded = goFoldName(k);
    const prev = seen.get(folded);
    if (prev !== undefined) throw new Error(`${at} has both "${prev}" and "${k}": ambiguous (field names are case-insensitive to cosign)`);
    seen.set(folded, k);
    const canonical = known.find((n) => goFoldName(n) === folded);
    if (canonical !== undefined && canonical !== k) throw new Error(`${at} spells "${canonical}" as ${JSON.stringify(k)}: refused as ambiguous`);
  }
}

/**
 * Parses and checks a simple-signing payload.
 * @throws Error with a sentence saying what is wrong (not JSON, a field missing or misspelled,
 *   wrong type), never for a digest that does not match: the caller compares.
 */
export function parseSimpleSigning(payload: Buffer): SimpleSigningClaims {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch (e) {
    throw new Error('payload is not JSON', { cause: e });
  }
  if (!isRecord(doc)) throw new Error('payload is not a JSON object');
  checkKeys(doc, ['critical', 'optional'], 'payload');
  const critical = doc.critical;
  if (!isRecord(critical)) throw new Error('payload has no "critical" object');
  checkKeys(critical, ['identity', 'image', 'type'], 'critical');
  if (critical.type !== COSIGN_SIGNATURE_TYPE) throw new Error(`critical.type is ${JSON.stringify(critical.type)}, not "${COSIGN_SIGNATURE_TYPE}"`);
  const image = critical.image;
  const identity = critical.identity;
  if (!isRecord(image)) throw new Error('payload has no critical.image');
  if (!isRecord(identity)) throw new Error('payload has no critical.identity');
  checkKeys(image, ['docker-manifest-digest'], 'critical.image');
  checkKeys(identity, ['docker-reference'], 'critical.identity');
  const digest = image['docker-manifest-digest'];
  const ref = identity['docker-reference'];
  if (typeof digest !== 'string' || !/^sha(256:[a-f0-9]{64}|512:[a-f0-9]{128})$/.test(digest)) {
    throw new Error(`critical.image.docker-manifest-digest ${JSON.stringify(digest)} is not a digest`);
  }
  if (typeof ref !== 'string') throw new Error('critical.identity.docker-reference is not a string');
  const optional = isRecord(doc.optional) ? doc.optional : undefined;
  return { dockerReference: ref, manifestDigest: digest as Digest, ...(optional ? { optional } : {}) };
}

/**
 * The payload cosign writes for `digest` signed as `reference`, byte for byte as cosign's
 * `payload.Cosign.MarshalJSON` produces it (Go map keys sorted; `optional` null when empty).
 */
export function simpleSigningPayload(reference: string, digest: Digest, optional?: Record<string, string>): Buffer {
  const opt = optional && Object.keys(optional).length ? Object.fromEntries(Object.keys(optional).sort().map((k) => [k, optional[k]])) : null;
  return Buffer.from(JSON.stringify({ critical: { identity: { 'docker-reference': reference }, image: { 'docker-manifest-digest': digest }, type: COSIGN_SIGNATURE_TYPE }, optional: opt }));
}
