/**
 * DSSE (Dead Simple Signing Envelope, https://github.com/secure-systems-lab/dsse, protocol.md and
 * envelope.md), as cosign writes it for attestations (`cosign attest`: layer media type
 * `application/vnd.dsse.envelope.v1+json` of a `sha256-<hex>.att` manifest, or the `dsseEnvelope` of a
 * Sigstore bundle):
 *
 * ```json
 * {"payloadType":"application/vnd.in-toto+json","payload":"<base64>","signatures":[{"keyid":"","sig":"<base64>"}]}
 * ```
 *
 * The signature is over the pre-authentication encoding {@link pae}(payloadType, payload bytes), never over
 * the envelope, so the payload type is signed too. The envelope is read as Go's encoding/json reads it
 * into cosign's struct (src/core/go-json.ts: `PAYLOADTYPE` fills `payloadType`), refusing two keys that
 * name one field; base64 is decoded strictly (standard or URL alphabet, as go-securesystemslib's
 * `b64Decode` accepts), so pushgate never verifies other bytes than another verifier would.
 */
import crypto from 'node:crypto';
import { decodeGo, go, parseJsonTree } from '../core/go-json.js';

/** Media type of a DSSE envelope stored as an OCI layer (cosign `.att` layers). */
export const DSSE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';
/** Payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** A parsed envelope: payload decoded, signatures as raw bytes. */
export interface DsseEnvelope {
  payloadType: string;
  payload: Buffer;
  signatures: Array<{ keyid: string; sig: Buffer }>;
}

/** Signatures verified per envelope at most (one is what cosign writes). */
export const MAX_DSSE_SIGNATURES = 8;

const ENVELOPE = go.struct({ payloadType: go.string, payload: go.string, signatures: go.slice(go.struct({ keyid: go.string, sig: go.string })) });
const STD = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URL_SAFE = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}(?:==)?|[A-Za-z0-9_-]{3}=?)?$/;

/**
 * Decodes base64 as go-securesystemslib does (standard alphabet with padding, else URL alphabet),
 * refusing everything else (Node's decoder would skip invalid characters).
 * @throws Error naming `what`.
 */
export function strictBase64(s: string, what: string): Buffer {
  if (STD.test(s)) return Buffer.from(s, 'base64');
  if (URL_SAFE.test(s)) return Buffer.from(s, 'base64url');
  throw new Error(`${what} is not base64`);
}

/**
 * DSSE v1 pre-authentication encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths as
 * ASCII decimal byte counts (protocol.md).
 */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

/**
 * Parses envelope JSON bytes.
 * @throws Error saying what is wrong: not JSON, keys Go would read as one field, a missing payload
 *   type, payload or signature, base64 that does not decode, more than {@link MAX_DSSE_SIGNATURES}.
 */
export function parseEnvelope(bytes: Buffer): DsseEnvelope {
  const doc = decodeGo(parseJsonTree(bytes.toString('utf8')), ENVELOPE, 'envelope') as { payloadType?: string; payload?: string; signatures?: Array<{ keyid?: string; sig?: string }> };
  if (!doc || typeof doc !== 'object') throw new Error('envelope is not a JSON object');
  if (!doc.payloadType) throw new Error('envelope has no payloadType');
  if (doc.payload === undefined) throw new Error('envelope has no payload');
  const sigs = doc.signatures ?? [];
  if (!sigs.length) throw new Error('envelope has no signature');
  if (sigs.length > MAX_DSSE_SIGNATURES) throw new Error(`envelope has ${sigs.length} signatures (at most ${MAX_DSSE_SIGNATURES} are read)`);
  return {
    payloadType: doc.payloadType,
    payload: strictBase64(doc.payload, 'envelope payload'),
    signatures: sigs.map((s, i) => ({ keyid: s.keyid ?? '', sig: strictBase64(s.sig ?? '', `envelope signatures[${i}].sig`) })),
  };
}

/**
 * True when one of the envelope's signatures verifies over PAE(payloadType, payload) with `key`
 * (ECDSA and RSA with SHA-256, as cosign signs with its keys; Ed25519 without prehash). `keyid` is a
 * hint and decides nothing.
 */
export function verifyEnvelope(env: DsseEnvelope, key: crypto.KeyObject): boolean {
  const data = pae(env.payloadType, env.payload);
  const hash = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  return env.signatures.some((s) => {
    try {
      return crypto.verify(hash, data, key, s.sig);
    } catch {
      return false;
    }
  });
}

/** Signs PAE(payloadType, payload) with `key` into an envelope (tests and the publishing side). */
export function signEnvelope(payloadType: string, payload: Buffer, key: crypto.KeyObject, keyid = ''): Buffer {
  const hash = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  const sig = crypto.sign(hash, pae(payloadType, payload), key);
  return Buffer.from(JSON.stringify({ payloadType, payload: payload.toString('base64'), signatures: [{ keyid, sig: sig.toString('base64') }] }));
}
