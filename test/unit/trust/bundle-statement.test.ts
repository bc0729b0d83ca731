/**
 * The in-toto statement of a cosign v3 signature bundle, read as cosign's Go readers read it: keys are
 * case-insensitive to encoding/json (the last of `subject` and `SUBJECT` wins) and protojson reads
 * `predicate_type` as `predicateType`. JSON.parse read `subject` and `predicateType` only, so a signed
 * statement `{"subject":[this image],"SUBJECT":[another]}` (or `predicateType: cosign/sign` beside
 * `predicate_type: <an attestation>`) counted as a signature of this image that Go reads as about another
 * image (or as an attestation). Such statements are refused as ambiguous; a key spelled in another case
 * alone is read as Go reads it. The signatures are real (Node crypto over the DSSE PAE, as cosign signs).
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fc from 'fast-check';
import { verifyBundle, COSIGN_SIGN_PREDICATE } from '../../../src/trust/sigstore-verify.js';
import type { KeyAuthority } from '../../../src/trust/types.js';
import { BUNDLE_MEDIA_TYPE, pae } from '../../helpers/cosign.js';

const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const key: KeyAuthority = { name: 'release', kind: 'key', publicKey };
const IMAGE = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;
const subject = (d: string) => [{ digest: { sha256: d.slice(7) } }];

/** A key bundle over exactly `statement` (JSON text as given: duplicates and spellings kept). */
function bundleOver(statement: string): Buffer {
  const body = Buffer.from(statement);
  const pub = crypto.createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const sig = crypto.sign('sha256', pae('application/vnd.in-toto+json', body), privateKey);
  return Buffer.from(JSON.stringify({
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: crypto.createHash('sha256').update(pub).digest('base64') } },
    dsseEnvelope: { payload: body.toString('base64'), payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: sig.toString('base64') }] },
  }));
}

/** A statement from `[key, value]` members, in order (JSON text; duplicate keys allowed). */
const statement = (members: Array<[string, unknown]>) => `{${members.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
const TYPE: [string, unknown] = ['_type', 'https://in-toto.io/Statement/v1'];
const verdictOf = (members: Array<[string, unknown]>) => verifyBundle(bundleOver(statement(members)), key, { digest: IMAGE }, undefined);

describe('cosign v3 signature bundles: the statement as Go reads it', () => {
  it('the canonical statement of this image verifies', () => {
    expect(verdictOf([TYPE, ['subject', subject(IMAGE)], ['predicateType', COSIGN_SIGN_PREDICATE], ['predicate', {}]])).to.have.property('identity');
  });

  it('refuses a subject for this image beside one Go reads last for another image', () => {
    for (const spelling of ['SUBJECT', 'Subject', 'ſubject']) {
      const r = verdictOf([TYPE, ['subject', subject(IMAGE)], [spelling, subject(OTHER)], ['predicateType', COSIGN_SIGN_PREDICATE], ['predicate', {}]]);
      expect(r, spelling).to.have.property('why').that.matches(/not an in-toto Statement pushgate reads/);
    }
  });

  it('refuses a cosign/sign predicate type beside a protobuf predicate_type naming an attestation', () => {
    const r = verdictOf([TYPE, ['subject', subject(IMAGE)], ['predicateType', COSIGN_SIGN_PREDICATE], ['predicate_type', 'https://slsa.dev/provenance/v1'], ['predicate', {}]]);
    expect(r).to.have.property('why').that.matches(/predicate_type/);
  });

  it('a key in another case alone is read as Go reads it: a subject about another image is not this image\'s signature', () => {
    expect(verdictOf([TYPE, ['Subject', subject(OTHER)], ['predicateType', COSIGN_SIGN_PREDICATE], ['predicate', {}]])).to.have.property('why').that.matches(/not this image/);
    expect(verdictOf([TYPE, ['Subject', subject(IMAGE)], ['PredicateType', COSIGN_SIGN_PREDICATE], ['predicate', {}]])).to.have.property('identity');
  });

  it('any spellings of subject keys: verifies only when the one subject Go reads names this image and no key is ambiguous (property)', () => {
    const spelled = fc.tuple(fc.constantFrom('subject', 'Subject', 'SUBJECT', 'sUbJeCt', 'ſubject'), fc.constantFrom(IMAGE, OTHER));
    fc.assert(fc.property(fc.array(spelled, { minLength: 1, maxLength: 3 }), (subjects) => {
      const r = verdictOf([TYPE, ...subjects.map(([k, d]): [string, unknown] => [k, subject(d)]), ['predicateType', COSIGN_SIGN_PREDICATE], ['predicate', {}]]);
      if (subjects.length === 1 && subjects[0]![1] === IMAGE) expect(r).to.have.property('identity');
      else expect(r).to.have.property('why');
    }), { numRuns: 200 });
  });
});
