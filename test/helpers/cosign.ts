/**
 * Signatures made in cosign's published formats, for tests: the legacy simple-signing layer (cosign
 * `sign --key`, payload from src/trust/simple-signing.ts, ECDSA P-256 SHA-256 ASN.1 signature) and the
 * cosign v3 bundle (DSSE envelope of an in-toto Statement v1 with predicate
 * `https://sigstore.dev/cosign/sign/v1`, bundle v0.3 with a public-key hint, no log entry, as
 * `cosign sign --new-bundle-format --tlog-upload=false` writes it), plus pushing both to a registry.
 */
import crypto from 'node:crypto';
import { simpleSigningPayload } from '../../src/trust/simple-signing.js';
import type { FoundSignature } from '../../src/trust/types.js';

export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';
export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** A legacy signature of `digest` as `reference`, signed with `key`. */
export function signLegacy(key: crypto.KeyObject, reference: string, digest: string, payload = simpleSigningPayload(reference, digest as `sha256:${string}`)): FoundSignature {
  return { layout: 'cosign-sig-tag', source: 'test', payload, signature: crypto.sign('sha256', payload, key).toString('base64') };
}

/** DSSE pre-authentication encoding (DSSE v1 protocol). */
export function pae(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);
}

/** A cosign v3 bundle signing `digest` with `key` (bytes as cosign stores them in the referrer's layer). */
export function dsseBundle(key: crypto.KeyObject, digest: string, predicateType = COSIGN_SIGN_PREDICATE): Buffer {
  const [alg, hex] = digest.split(':');
  const stmt = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ digest: { [alg]: hex }, annotations: {} }], predicateType, predicate: {} }));
  const pub = crypto.createPublicKey(key).export({ type: 'spki', format: 'der' });
  const sig = crypto.sign('sha256', pae('application/vnd.in-toto+json', stmt), key);
  return Buffer.from(
    JSON.stringify({
      mediaType: BUNDLE_MEDIA_TYPE,
      verificationMaterial: { publicKey: { hint: crypto.createHash('sha256').update(pub).digest('base64') } },
      dsseEnvelope: { payload: stmt.toString('base64'), payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: sig.toString('base64') }] },
    }),
  );
}
