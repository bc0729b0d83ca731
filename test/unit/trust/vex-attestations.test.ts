/**
 * Signed VEX attestations: DSSE envelopes (PAE, strict parsing, verification with Node crypto) of in-toto
 * statements with an OpenVEX predicate, made here in cosign's published formats (`cosign attest --type
 * openvex`: DSSE `{payloadType, payload, signatures[{keyid, sig}]}` over an in-toto Statement v0.1/v1;
 * v3: the same envelope inside a Sigstore bundle v0.3 with a public-key hint), and how their statements
 * are scoped to the image they were signed for.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fc from 'fast-check';
import { pae, parseEnvelope, signEnvelope, strictBase64, verifyEnvelope, IN_TOTO_PAYLOAD_TYPE } from '../../../src/trust/dsse.js';
import { parseStatement, namesDigest } from '../../../src/trust/in-toto.js';
import { vexStatementOf } from '../../../src/trust/vex-referrers.js';
import { parseBundle, verifyParsedBundle } from '../../../src/trust/sigstore-verify.js';
import { applyVex, parseVex, scopeToImage } from '../../../src/policy/vex.js';
import type { Digest, Finding } from '../../../src/core/index.js';
import { dsseBundle } from '../../helpers/cosign.js';

const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const digest = `sha256:${'ab'.repeat(32)}` as Digest;
const otherDigest = `sha256:${'cd'.repeat(32)}` as Digest;

const openvex = (product = `pkg:oci/app@${encodeURIComponent(digest)}`) => ({
  '@context': 'https://openvex.dev/ns/v0.2.0',
  '@id': 'https://lab.example/vex/1',
  author: 'security@lab.example',
  timestamp: '2026-01-01T00:00:00Z',
  version: 1,
  statements: [{ vulnerability: { name: 'CVE-2018-1002204' }, products: [{ '@id': product }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' }],
});

/** The statement `cosign attest --type openvex` writes (v0.1, as cosign 2.x still does for the legacy layout). */
const statement = (subject: Digest, predicateType = 'https://openvex.dev/ns/v0.2.0', predicate: unknown = openvex()) => {
  const [alg, hex] = subject.split(':');
  return Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', subject: [{ name: 'lab/app', digest: { [alg!]: hex } }], predicateType, predicate }));
};

describe('trust: DSSE envelopes', () => {
  it('PAE is the DSSE v1 encoding (protocol.md test vector)', () => {
    expect(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).to.equal('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
    // lengths are byte counts, not UTF-16 units
    expect(pae('t/é', Buffer.from('€')).toString()).to.equal('DSSEv1 4 t/é 3 €');
  });

  it('verifies an envelope signed with the key, not with another key; Ed25519 too', () => {
    const env = parseEnvelope(signEnvelope(IN_TOTO_PAYLOAD_TYPE, statement(digest), key.privateKey));
    expect(verifyEnvelope(env, key.publicKey)).to.equal(true);
    expect(verifyEnvelope(env, other.publicKey)).to.equal(false);
    const ed = crypto.generateKeyPairSync('ed25519');
    expect(verifyEnvelope(parseEnvelope(signEnvelope(IN_TOTO_PAYLOAD_TYPE, statement(digest), ed.privateKey)), ed.publicKey)).to.equal(true);
  });

  it('refuses envelopes Go would read differently: two spellings of a field, non-base64 payload, no signature', () => {
    const good = JSON.parse(signEnvelope(IN_TOTO_PAYLOAD_TYPE, statement(digest), key.privateKey).toString()) as Record<string, unknown>;
    expect(() => parseEnvelope(Buffer.from(JSON.stringify({ ...good, PayloadType: 'text/plain' })))).to.throw(/same field/);
    expect(() => parseEnvelope(Buffer.from(JSON.stringify({ ...good, payload: `${good.payload as string}!` })))).to.throw(/not base64/);
    expect(() => parseEnvelope(Buffer.from(JSON.stringify({ ...good, signatures: [] })))).to.throw(/no signature/);
    expect(() => strictBase64('a b=', 'x')).to.throw(/not base64/);
    expect(strictBase64('-_8', 'x')).to.deep.equal(Buffer.from([0xfb, 0xff]));
  });

  it('property: any change to payload, payload type or signature never verifies', () => {
    const payload = statement(digest);
    const env = parseEnvelope(signEnvelope(IN_TOTO_PAYLOAD_TYPE, payload, key.privateKey));
    const sig = env.signatures[0]!.sig;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ k: fc.constant('payload' as const), at: fc.nat(), x: fc.integer({ min: 1, max: 255 }) }),
          fc.record({ k: fc.constant('type' as const), s: fc.string({ maxLength: 40 }) }),
          fc.record({ k: fc.constant('sig' as const), at: fc.nat(), x: fc.integer({ min: 1, max: 255 }) }),
          fc.record({ k: fc.constant('append' as const), b: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
        ),
        (t) => {
          let e: typeof env;
          if (t.k === 'payload') {
            const p = Buffer.from(payload);
            p[t.at % p.length] ^= t.x;
            e = { ...env, payload: p };
          } else if (t.k === 'type') {
            fc.pre(t.s !== IN_TOTO_PAYLOAD_TYPE);
            e = { ...env, payloadType: t.s };
          } else if (t.k === 'sig') {
            const s = Buffer.from(sig);
            s[t.at % s.length] ^= t.x;
            e = { ...env, signatures: [{ keyid: '', sig: s }] };
          } else {
            e = { ...env, payload: Buffer.concat([payload, Buffer.from(t.b)]) };
          }
          expect(verifyEnvelope(e, key.publicKey)).to.equal(false);
          // the tampered envelope, serialized, is refused when parsed (an empty payload type) or does not verify
          const text = JSON.stringify({ payloadType: e.payloadType, payload: e.payload.toString('base64'), signatures: e.signatures.map((s) => ({ keyid: s.keyid, sig: s.sig.toString('base64') })) });
          let parsed;
          try {
            parsed = parseEnvelope(Buffer.from(text));
          } catch {
            return;
          }
          expect(verifyEnvelope(parsed, key.publicKey)).to.equal(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('trust: in-toto statements with an OpenVEX predicate', () => {
  it('reads the subject and predicate; refuses ambiguous keys and protobuf field names', () => {
    const st = parseStatement(statement(digest));
    expect(st.predicateType).to.equal('https://openvex.dev/ns/v0.2.0');
    expect(namesDigest(st, digest)).to.equal(true);
    expect(namesDigest(st, otherDigest)).to.equal(false);
    const doc = JSON.parse(statement(digest).toString()) as Record<string, unknown>;
    expect(() => parseStatement(Buffer.from(JSON.stringify({ ...doc, PredicateType: 'x' })))).to.throw(/same field/);
    expect(() => parseStatement(Buffer.from(JSON.stringify({ ...doc, predicate_type: 'x' })))).to.throw(/protobuf/);
    expect(() => parseStatement(Buffer.from(JSON.stringify({ ...doc, _type: 'https://example.com/Other' })))).to.throw(/not an in-toto Statement/);
  });

  it('keeps a VEX statement for the image, refuses one for another digest, skips other predicates', () => {
    const env = (subject: Digest, pt?: string) => parseEnvelope(signEnvelope(IN_TOTO_PAYLOAD_TYPE, statement(subject, pt), key.privateKey));
    expect(vexStatementOf(env(digest), digest)).to.have.property('predicateType', 'https://openvex.dev/ns/v0.2.0');
    expect(vexStatementOf(env(digest, 'https://openvex.dev/ns'), digest)).to.have.property('predicateType', 'https://openvex.dev/ns');
    expect(vexStatementOf(env(otherDigest), digest)).to.match(/for sha256:cdcd.*not this image.*ignored/);
    expect(vexStatementOf(env(digest, 'https://slsa.dev/provenance/v1'), digest)).to.equal(undefined);
  });

  it('a cosign v3 bundle with an OpenVEX attestation verifies with its key only', () => {
    const b = parseBundle(dsseBundle(key.privateKey, digest, 'https://openvex.dev/ns/v0.2.0'));
    expect(verifyParsedBundle(b, { name: 'sec', kind: 'key', publicKey: key.publicKey }, undefined)).to.deep.equal({ identity: 'key sec' });
    expect(verifyParsedBundle(b, { name: 'x', kind: 'key', publicKey: other.publicKey }, undefined)).to.have.property('why');
  });
});

describe('policy: VEX scoped to the image it was signed for', () => {
  const finding = (purl: string): Finding => ({ id: 'NSWG-NPM-458', aliases: ['CVE-2018-1002204'], purl, package: 'adm-zip', version: '0.4.7' } as unknown as Finding);

  it('suppresses for that digest only; a package product becomes the package inside that image; another image is dropped', () => {
    const pkgDoc = openvex('pkg:npm/adm-zip@0.4.7');
    const scoped = scopeToImage(parseVex(JSON.stringify(pkgDoc), `referrer ${digest} signed by sec`), digest);
    const f = finding('pkg:npm/adm-zip@0.4.7');
    expect(applyVex([f], scoped, [digest])[0]!.vex).to.deep.include({ status: 'not_affected', source: `referrer ${digest} signed by sec#statements[0]` });
    expect(applyVex([f], scoped, [otherDigest])[0]!.vex).to.equal(undefined);
    const forOther = scopeToImage(parseVex(JSON.stringify(openvex(`pkg:oci/app@${encodeURIComponent(otherDigest)}`)), 's'), digest);
    expect(forOther).to.deep.equal([]);
    const noDigest = scopeToImage(parseVex(JSON.stringify(openvex('pkg:oci/app')), 's'), digest);
    expect(applyVex([f], noDigest, [digest])[0]!.vex?.status).to.equal('not_affected');
    expect(applyVex([f], noDigest, [otherDigest])[0]!.vex).to.equal(undefined);
  });
});
