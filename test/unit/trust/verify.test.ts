/**
 * Signature verification on real cosign-made signatures (test/fixtures/signatures, PROVENANCE.md) in
 * both layouts, beside signatures made here in cosign's formats; every way a signature can be wrong
 * for the image (another key, another identity, another digest, tampered bytes, an attestation that
 * is not a signature) fails with a sentence saying so.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { ROOT } from '../../helpers/lab.js';
import { checkClaims, verifyLegacyWithKey } from '../../../src/trust/cosign-legacy.js';
import { parseSimpleSigning, simpleSigningPayload } from '../../../src/trust/simple-signing.js';
import { verifyBundle, verifyLegacyKeyless } from '../../../src/trust/sigstore-verify.js';
import { loadTrustedRoot } from '../../../src/trust/trusted-root.js';
import { checkSignatures } from '../../../src/trust/check.js';
import type { FoundSignature, KeyAuthority, KeylessAuthority } from '../../../src/trust/types.js';
import { dsseBundle, signLegacy } from '../../helpers/cosign.js';

const F = path.join(ROOT, 'test/fixtures/signatures');
const read = (p: string) => fs.readFileSync(path.join(F, p));

describe('trust: real cosign legacy keyless signature (.sig tag, certificate, chain, Rekor bundle)', () => {
  const manifest = JSON.parse(read('cosign-legacy-keyless/manifest.json').toString()) as { layers: Array<{ annotations: Record<string, string> }> };
  const a = manifest.layers[1].annotations;
  const payload = read('cosign-legacy-keyless/payload.json');
  const root = loadTrustedRoot(path.join(F, 'cosign-legacy-keyless/trusted_root.json'));
  const digest = 'sha256:5ce2d8cd8e366d76ce012edc346daeb15a5643c26b9b24a2b731e97a99c6de52';
  const sig: FoundSignature = {
    layout: 'cosign-sig-tag',
    source: 'sha256-5ce2….sig layer 1',
    payload,
    signature: a['dev.cosignproject.cosign/signature'],
    certificate: a['dev.sigstore.cosign/certificate'],
    chain: a['dev.sigstore.cosign/chain'],
    rekorBundle: a['dev.sigstore.cosign/bundle'],
  };
  const google: KeylessAuthority = { name: 'ci', kind: 'keyless', issuer: 'https://accounts.google.com', subject: 'cosign@cosign-test-bazel-1-384518.iam.gserviceaccount.com' };
  const image = { digest, referenceMatches: (r: string) => r === 'us-central1-docker.pkg.dev/cosign-test-bazel-1-384518/repo1/securebuild-bazel' };

  it('verifies against the public-good trusted root: chain, SCT, Rekor promise, identity, claims (the certificate expired in 2023: the log time decides)', () => {
    expect(verifyLegacyKeyless(sig, google, image, root)).to.deep.equal({ identity: `${google.subject} (https://accounts.google.com)` });
    expect(verifyLegacyKeyless(sig, { ...google, subject: undefined, subjectRegExp: /^cosign@.*\.iam\.gserviceaccount\.com$/ }, image, root)).to.have.property('identity');
  });

  it('refuses another identity, another issuer, an unanchored look-alike, another digest, another repository', () => {
    expect(verifyLegacyKeyless(sig, { ...google, subject: 'someone@example.com' }, image, root)).to.have.property('why').that.matches(/identity .* is not someone@example.com/);
    expect(verifyLegacyKeyless(sig, { ...google, issuer: 'https://token.actions.githubusercontent.com' }, image, root)).to.have.property('why').that.matches(/issuer|does not verify/);
    expect(verifyLegacyKeyless(sig, { ...google, subject: undefined, subjectRegExp: /^cosign@cosign-test$/ }, image, root)).to.have.property('why');
    expect(verifyLegacyKeyless(sig, google, { ...image, digest: `sha256:${'1'.repeat(64)}` }, root)).to.have.property('why').that.matches(/signature is for sha256:5ce2/);
    expect(verifyLegacyKeyless(sig, google, { ...image, referenceMatches: () => false }, root)).to.have.property('why').that.matches(/names repository/);
  });

  it('refuses a tampered payload, a signature swapped with the KMS one, a missing Rekor bundle, no trusted root', () => {
    const tampered = Buffer.from(payload.toString().replace('value1', 'value2'));
    expect(verifyLegacyKeyless({ ...sig, payload: tampered }, google, image, root)).to.have.property('why');
    expect(verifyLegacyKeyless({ ...sig, signature: manifest.layers[0].annotations['dev.cosignproject.cosign/signature'] }, google, image, root)).to.have.property('why');
    expect(verifyLegacyKeyless({ ...sig, rekorBundle: undefined }, google, image, root)).to.have.property('why').that.matches(/Rekor bundle/);
    expect(verifyLegacyKeyless(sig, google, image, undefined)).to.have.property('why').that.matches(/trusted root/);
  });

  it('the same real signature verifies as key-based with the certificate\'s key; the KMS layer (another key) does not', () => {
    const key: KeyAuthority = { name: 'cert-key', kind: 'key', publicKey: new crypto.X509Certificate(sig.certificate!).publicKey };
    expect(verifyLegacyWithKey(sig, key, image)).to.equal(undefined);
    const kms = { ...sig, signature: manifest.layers[0].annotations['dev.cosignproject.cosign/signature'], certificate: undefined };
    expect(verifyLegacyWithKey(kms, key, image)).to.match(/does not verify with key cert-key/);
  });
});

describe('trust: real cosign v3 Sigstore bundle (DSSE, key-based)', () => {
  const bundle = read('cosign-v3-bundle-key/bundle.json');
  const key: KeyAuthority = { name: 'release', kind: 'key', publicKey: crypto.createPublicKey(read('cosign-v3-bundle-key/cosign.pub')) };
  const digest = read('cosign-v3-bundle-key/digest.txt').toString().trim() as `sha256:${string}`;

  it('verifies with its key for the digest its statement names', () => {
    expect(verifyBundle(bundle, key, { digest }, undefined)).to.deep.equal({ identity: 'key release' });
  });

  it('refuses another key, another digest, a tampered statement, a keyless authority', () => {
    const other: KeyAuthority = { name: 'other', kind: 'key', publicKey: crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey };
    expect(verifyBundle(bundle, other, { digest }, undefined)).to.have.property('why').that.matches(/does not verify/);
    expect(verifyBundle(bundle, key, { digest: `sha256:${'2'.repeat(64)}` }, undefined)).to.have.property('why').that.matches(/signature is for sha256:5099b89d/);
    const b = JSON.parse(bundle.toString()) as { dsseEnvelope: { payload: string } };
    const stmt = Buffer.from(b.dsseEnvelope.payload, 'base64').toString().replace('5099b89d', '5099b89e');
    b.dsseEnvelope.payload = Buffer.from(stmt).toString('base64');
    expect(verifyBundle(Buffer.from(JSON.stringify(b)), key, { digest: digest.replace('5099b89d', '5099b89e') as typeof digest }, undefined)).to.have.property('why').that.matches(/does not verify/);
    expect(verifyBundle(bundle, { name: 'ci', kind: 'keyless', issuer: 'https://x', subject: 'y' }, { digest }, undefined)).to.have.property('why').that.matches(/signed with a key/);
  });
});

describe('trust: signatures made here in cosign\'s formats', () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key: KeyAuthority = { name: 'k', kind: 'key', publicKey };
  const digest = `sha256:${'a'.repeat(64)}` as const;

  it('writes the payload byte for byte as cosign does (checked against the real cosign payload)', () => {
    const real = read('cosign-legacy-keyless/payload.json');
    const ours = simpleSigningPayload('us-central1-docker.pkg.dev/cosign-test-bazel-1-384518/repo1/securebuild-bazel', 'sha256:5ce2d8cd8e366d76ce012edc346daeb15a5643c26b9b24a2b731e97a99c6de52', { key1: 'value1' });
    expect(ours.equals(real)).to.equal(true);
  });

  it('legacy: any change to the payload or the signature fails (property)', () => {
    const s = signLegacy(privateKey, 'reg.example/team/app', digest);
    expect(verifyLegacyWithKey(s, key, { digest })).to.equal(undefined);
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), (pos, flip, inSig) => {
        if (inSig) {
          const raw = Buffer.from(s.signature!, 'base64');
          raw[pos % raw.length] ^= flip;
          return verifyLegacyWithKey({ ...s, signature: raw.toString('base64') }, key, { digest }) !== undefined;
        }
        const p = Buffer.from(s.payload!);
        p[pos % p.length] ^= flip;
        return verifyLegacyWithKey({ ...s, payload: p }, key, { digest }) !== undefined;
      }),
      { numRuns: 200 },
    );
  });

  it('refuses payload spellings that cosign (Go, case-insensitive keys) would read differently', () => {
    for (const bad of [
      `{"Critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"}}`,
      `{"critical":{"identity":{"docker-reference":"r"},"image":{"Docker-Manifest-Digest":"${digest}","docker-manifest-digest":"${digest}"},"type":"cosign container image signature"}}`,
      `{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"${digest}"},"type":"something else"}}`,
      `{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"SHA256:${'a'.repeat(64)}"},"type":"cosign container image signature"}}`,
      'not json',
    ]) {
      expect(() => parseSimpleSigning(Buffer.from(bad)), bad).to.throw();
      expect(checkClaims(Buffer.from(bad), { digest })).to.be.a('string');
    }
  });

  it('refuses a key that Go folds onto a known field through non-ASCII letters (ſ, K Kelvin sign): a signed payload cosign would read with another digest (property)', () => {
    // Go's encoding/json folds a key rune by rune to the smallest rune of its SimpleFold orbit: ſ is s,
    // the Kelvin sign is k; ASCII case changes too.
    const variants: Record<string, string[]> = { s: ['S', '\u017f'], k: ['K', '\u212a'] };
    const other = `sha256:${'b'.repeat(64)}`;
    // The look-alike key comes last: Go keeps the last value for a field, so cosign reads `other`.
    const payload = (spelled: string) =>
      `{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"${digest}","${spelled}":"${other}"},"type":"cosign container image signature"}}`;
    const spell = (name: string, picks: number[]) =>
      [...name].map((c, i) => {
        const alts = [c, ...(variants[c] ?? (/[a-z]/.test(c) ? [c.toUpperCase()] : []))];
        return alts[picks[i % picks.length] % alts.length];
      }).join('');
    const s = signLegacy(privateKey, 'reg.example/team/app', digest);
    expect(verifyLegacyWithKey(s, key, { digest })).to.equal(undefined);
    fc.assert(
      fc.property(fc.array(fc.nat(3), { minLength: 1, maxLength: 30 }), (picks) => {
        const spelled = spell('docker-manifest-digest', picks);
        fc.pre(spelled !== 'docker-manifest-digest');
        const bytes = Buffer.from(payload(spelled));
        const signed = { ...s, payload: bytes, signature: crypto.sign('sha256', bytes, privateKey).toString('base64') };
        return verifyLegacyWithKey(signed, key, { digest }) !== undefined;
      }),
      { numRuns: 300 },
    );
    for (const [name, spelled] of [['critical', 'criticaL'], ['type', 'TYPE'], ['docker-reference', 'doc\u212aer-reference'], ['docker-manifest-digest', 'docker-manife\u017ft-digest']] as const) {
      const doc = `{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"}}`;
      const at = doc.indexOf(`"${name}":`);
      const extra = `"${spelled}":${name === 'critical' ? '{}' : '"x"'},`;
      const bad = doc.slice(0, at) + extra + doc.slice(at);
      expect(() => parseSimpleSigning(Buffer.from(bad)), bad).to.throw(/ambiguous|refused/);
    }
    // Letters outside those orbits (dotless ı, dotted İ) are other names to Go: an unknown field, ignored.
    const ignored = `{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"${digest}","\u0130mage":{}},"type":"cosign container image signature"}}`;
    expect(parseSimpleSigning(Buffer.from(ignored)).manifestDigest).to.equal(digest);
  });

  it('bundle: a DSSE statement for this digest verifies; an attestation of another predicate type is not a signature', () => {
    expect(verifyBundle(dsseBundle(privateKey, digest), key, { digest }, undefined)).to.have.property('identity');
    expect(verifyBundle(dsseBundle(privateKey, digest, 'https://slsa.dev/provenance/v1'), key, { digest }, undefined)).to.have.property('why').that.matches(/attestation of/);
  });

  it('anyOf needs one authority, allOf every one; the message names the rule and what is missing', () => {
    const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key2: KeyAuthority = { name: 'k2', kind: 'key', publicKey: other.publicKey };
    const found = [signLegacy(privateKey, 'r/x', digest)];
    const any = checkSignatures({ name: 'prod', require: 'anyOf', mode: 'enforce', authorities: [key, key2] }, found, [], { digest }, undefined);
    expect(any.satisfied).to.equal(true);
    const all = checkSignatures({ name: 'prod', require: 'allOf', mode: 'enforce', authorities: [key, key2] }, found, [], { digest }, undefined);
    expect(all.satisfied).to.equal(false);
    expect(all.missing).to.deep.equal(['k2']);
    expect(all.message).to.match(/^signature rule prod: requires valid signatures by all of: k, k2; missing: k2/);
    const none = checkSignatures({ name: 'prod', require: 'anyOf', mode: 'enforce', authorities: [key] }, [], [], { digest }, undefined);
    expect(none.message).to.match(/^signature rule prod: unsigned/);
  });
});
