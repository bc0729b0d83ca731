/**
 * in-toto attestation statements (https://github.com/in-toto/attestation, spec/v1/statement.md; v0.1
 * is read too, as cosign still writes it for `cosign attest` with the legacy layout):
 *
 * ```json
 * {"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"…","digest":{"sha256":"<hex>"}}],
 *  "predicateType":"https://openvex.dev/ns/v0.2.0","predicate":{…}}
 * ```
 *
 * Read as the Go readers read it (cosign's policy code decodes into in-toto-golang structs with
 * encoding/json: case-insensitive keys; the v1 protobuf binding reads `predicate_type` and `type` as
 * well as the JSON names). pushgate refuses what these readers could read differently: two keys that
 * fold to one field, and the protobuf field names beside or instead of the JSON names.
 */
import type { Digest } from '../core/index.js';
import { decodeGo, go, parseJsonTree } from '../core/go-json.js';

/** Statement types accepted. */
export const STATEMENT_TYPES = ['https://in-toto.io/Statement/v1', 'https://in-toto.io/Statement/v0.1'];
/** OpenVEX predicate types `cosign attest --type openvex` and vexctl write. */
export const OPENVEX_PREDICATE_TYPES = ['https://openvex.dev/ns', 'https://openvex.dev/ns/v0.2.0'];
/** Largest statement read (VEX documents for one image are kilobytes). */
export const MAX_STATEMENT_BYTES = 1024 * 1024;

/** A parsed statement. */
export interface Statement {
  type: string;
  /** Each subject's digests, `alg` → lower-case hex, as written. */
  subjects: Array<Record<string, string>>;
  predicateType: string;
  predicate: unknown;
}

const STATEMENT = go.struct({
  _type: go.string,
  subject: go.slice(go.struct({ name: go.string, uri: go.string, digest: go.map(go.string), annotations: go.any })),
  predicateType: go.string,
  predicate: go.any,
});
/** Protobuf field names the v1 binding also reads (protojson accepts both spellings). */
const PROTO_NAMES = new Set(['type', 'predicate_type', 'PREDICATE_TYPE']);

/**
 * Parses a statement payload.
 * @throws Error saying what is wrong (not JSON, ambiguous keys, not a statement, no subject).
 */
export function parseStatement(payload: Buffer): Statement {
  if (payload.length > MAX_STATEMENT_BYTES) throw new Error(`statement is ${payload.length} bytes (limit ${MAX_STATEMENT_BYTES})`);
  const tree = parseJsonTree(payload.toString('utf8'));
  if (tree.t === 'object') {
    const alt = tree.members.find(([k]) => PROTO_NAMES.has(k) || k.toLowerCase() === 'predicate_type');
    if (alt) throw new Error(`statement has the key "${alt[0]}", which the protobuf reader of in-toto v1 takes for a field: refused as ambiguous`);
  }
  const st = decodeGo(tree, STATEMENT, 'statement') as { _type?: string; subject?: Array<{ digest?: Record<string, string> }>; predicateType?: string; predicate?: unknown } | undefined;
  if (!st || typeof st !== 'object') throw new Error('statement is not a JSON object');
  if (!st._type || !STATEMENT_TYPES.includes(st._type)) throw new Error(`statement _type ${JSON.stringify(st._type)} is not an in-toto Statement`);
  if (!st.predicateType) throw new Error('statement has no predicateType');
  const subjects = (st.subject ?? []).map((s) => s.digest ?? {});
  if (!subjects.length) throw new Error('statement has no subject');
  return { type: st._type, subjects, predicateType: st.predicateType, predicate: st.predicate };
}

/** True when a subject of the statement names `digest` (`sha256:<hex>` / `sha512:<hex>`) exactly. */
export function namesDigest(st: Statement, digest: Digest): boolean {
  const [alg, hex] = digest.split(':');
  return st.subjects.some((s) => Object.prototype.hasOwnProperty.call(s, alg!) && s[alg!] === hex);
}

/** The digests a statement's subjects name, for messages. */
export function subjectDigests(st: Statement): string {
  return st.subjects.map((s) => Object.entries(s).map(([a, h]) => `${a}:${h}`).join(',')).join('; ') || 'no digest';
}
