/**
 * The signing side of trust: pushgate's own attestations. An in-toto Statement v1 is wrapped in a DSSE
 * envelope (https://github.com/secure-systems-lab/dsse/blob/master/protocol.md: the signature is over
 * PAE(payloadType, payload)) signed with pushgate's key, and packaged as a key-based Sigstore bundle
 * v0.3 (`verificationMaterial.publicKey.hint`, no transparency-log entry), as cosign v3 stores an
 * attestation made with `--key` and no tlog upload. ECDSA P-256 with SHA-256 (ASN.1 DER signature), the
 * scheme of cosign's generated keys, so cosign, Kyverno and Ratify check it with the public key.
 */
import crypto from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { pae } from './dsse.js';
import { BUNDLE_MEDIA_TYPE_V03 } from './sigstore-verify.js';

/** DSSE pre-authentication encoding: the verifying side's (src/trust/dsse.ts), so both sign and check the same bytes. */
export { pae };

/** In-toto Statement v1 type. */
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';
/** DSSE payload type of an in-toto statement. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** An in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md). */
export interface InTotoStatement {
  _type: typeof IN_TOTO_STATEMENT_V1;
  subject: Array<{ name: string; digest: Record<string, string> }>;
  predicateType: string;
  predicate: Record<string, unknown>;
}


/**
 * Reads pushgate's signing key from PEM text (PKCS#8, SEC1 `EC PRIVATE KEY`; an encrypted key is refused).
 * @param source names the file in errors; the key text never appears in them.
 * @throws Error when it is not an unencrypted ECDSA P-256 private key.
 */
export function parseSigningKey(pem: string, source: string): crypto.KeyObject {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    const why = /ENCRYPTED/.test(pem) ? 'it is encrypted (give an unencrypted PEM; keep the file itself secret)' : 'it is not a PEM private key';
    // The cause is OpenSSL's decoder error, which names no key material.
    throw new Error(`${source}: cannot read the signing key: ${why}`, { cause: e });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(`${source}: the signing key must be ECDSA P-256 (as \`cosign generate-key-pair\` or \`openssl ecparam -name prime256v1 -genkey\` make), not ${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''}`);
  }
  return key;
}

/** The public key of `key` as SPKI PEM (what verifiers are given). */
export function publicKeyPem(key: crypto.KeyObject): string {
  return String(crypto.createPublicKey(key).export({ type: 'spki', format: 'pem' }));
}

/** The bundle's key hint: base64 SHA-256 of the DER SPKI public key (cosign's key id for key-based bundles). */
export function publicKeyHint(key: crypto.KeyObject): string {
  const der = crypto.createPublicKey(key).export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

/**
 * Signs `statement` (DSSE over its JSON) with `key` and returns the Sigstore bundle v0.3 JSON bytes.
 * The result is checked with @sigstore/bundle's parser before it is returned, so a malformed bundle is
 * never published.
 */
export function signStatementBundle(statement: InTotoStatement, key: crypto.KeyObject): Buffer {
  const payload = Buffer.from(JSON.stringify(statement));
  const sig = crypto.sign('sha256', pae(IN_TOTO_PAYLOAD_TYPE, payload), key);
  const json = {
    mediaType: BUNDLE_MEDIA_TYPE_V03,
    verificationMaterial: { publicKey: { hint: publicKeyHint(key) }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    dsseEnvelope: { payload: payload.toString('base64'), payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [{ sig: sig.toString('base64'), keyid: '' }] },
  };
  bundleFromJSON(json);
  return Buffer.from(JSON.stringify(json));
}
