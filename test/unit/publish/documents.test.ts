import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { ConfigError, parseConfigText } from '../../../src/config/load.js';
import type { Digest } from '../../../src/core/index.js';
import { ATTESTATION_ARTIFACT_TYPE, EMPTY_BLOB, EMPTY_DESCRIPTOR, pae, parseSigningKey, ReferrerPublisher, VERDICT_KEY_ANNOTATION, verdictKey, verdictReferrers, type PublishedVerdict } from '../../../src/publish/index.js';
import { parseBundle } from '../../../src/trust/sigstore-verify.js';

const DIGEST = `sha256:${'1'.repeat(64)}` as Digest;
const verdict: PublishedVerdict = { decision: 'warn', mode: 'enforce', complete: true, reasons: [{ rule: 'fixable-high', action: 'warn', message: 'CVE-1 in x' }], policy: { name: 'p', revision: 'r1' }, vulndb: { builtAt: '2026-01-01T00:00:00Z', digest: `sha256:${'2'.repeat(64)}` }, evaluatedAt: '2026-01-02T00:00:00Z' };
const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: DIGEST, size: 123 };

describe('publish: documents', () => {
  it('the empty descriptor is the digest of {}', () => {
    expect(EMPTY_DESCRIPTOR.digest).to.equal(`sha256:${crypto.createHash('sha256').update(EMPTY_BLOB).digest('hex')}`);
  });

  it('the attestation is a Sigstore bundle v0.3 whose DSSE signature verifies with the public key only; subject and predicate name the verdict', () => {
    const arts = verdictReferrers({ name: 'reg.example/app', subject, verdict, sbom: Buffer.from('{}'), report: Buffer.from('{}'), key: key.privateKey, at: new Date('2026-01-03T00:00:00Z'), toolVersion: '0.1.0' });
    const att = arts.find((a) => a.artifactType === ATTESTATION_ARTIFACT_TYPE)!;
    const bundleBytes = att.blobs[1].bytes;
    const bundle = parseBundle(bundleBytes);
    expect(bundle.content.$case).to.equal('dsseEnvelope');
    const j = JSON.parse(bundleBytes.toString()) as { dsseEnvelope: { payload: string; payloadType: string; signatures: Array<{ sig: string }> }; verificationMaterial: { publicKey: { hint: string } } };
    const payload = Buffer.from(j.dsseEnvelope.payload, 'base64');
    const sig = Buffer.from(j.dsseEnvelope.signatures[0].sig, 'base64');
    expect(crypto.verify('sha256', pae(j.dsseEnvelope.payloadType, payload), key.publicKey, sig)).to.equal(true);
    expect(crypto.verify('sha256', pae(j.dsseEnvelope.payloadType, Buffer.concat([payload, Buffer.from(' ')])), key.publicKey, sig)).to.equal(false);
    expect(crypto.verify('sha256', pae(j.dsseEnvelope.payloadType, payload), crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, sig)).to.equal(false);
    const st = JSON.parse(payload.toString()) as { subject: unknown; predicate: Record<string, unknown> };
    expect(st.subject).to.deep.equal([{ name: 'reg.example/app', digest: { sha256: '1'.repeat(64) } }]);
    expect(st.predicate).to.include({ decision: 'warn', timeVerified: '2026-01-03T00:00:00.000Z', reasonCount: 1 });
    const der = crypto.createPublicKey(key.privateKey).export({ type: 'spki', format: 'der' });
    expect(j.verificationMaterial.publicKey.hint).to.equal(crypto.createHash('sha256').update(der).digest('base64'));
    for (const a of arts) {
      const m = JSON.parse(a.manifest.toString()) as { subject: unknown; config: unknown; artifactType: string };
      expect(m.subject).to.deep.equal(subject);
      expect(m.config).to.deep.equal(EMPTY_DESCRIPTOR);
      expect(a.descriptor.artifactType).to.equal(a.artifactType);
    }
  });

  it('the verdict key ignores the time and changes with anything the referrers say (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom('allow', 'warn', 'quarantine', 'reject'), fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), (decision, revision, message) => {
        const v = { ...verdict, decision, policy: { name: 'p', revision }, reasons: [{ rule: 'r', action: 'warn' as const, message }] };
        expect(verdictKey(DIGEST, { ...v, evaluatedAt: 'later' })).to.equal(verdictKey(DIGEST, v));
        expect(verdictKey(DIGEST, { ...v, decision: decision === 'allow' ? 'warn' : 'allow' })).to.not.equal(verdictKey(DIGEST, v));
        expect(verdictKey(DIGEST, { ...v, policy: { name: 'p', revision: `${revision}x` } })).to.not.equal(verdictKey(DIGEST, v));
        expect(verdictKey(DIGEST, { ...v, reasons: [] })).to.not.equal(verdictKey(DIGEST, v));
      }),
    );
  });

  it('current: exactly one of ours per type with the key; another key, a missing type or a foreign entry is not current', () => {
    const k = verdictKey(DIGEST, verdict);
    const arts = verdictReferrers({ name: 'r/a', subject, verdict, sbom: Buffer.from('{}'), report: Buffer.from('{}'), key: key.privateKey, at: new Date(), toolVersion: '0' });
    const ds = arts.map((a) => a.descriptor);
    expect(ReferrerPublisher.current(ds, k)).to.equal(true);
    expect(ReferrerPublisher.current([...ds, { mediaType: 'm', digest: DIGEST, size: 1, artifactType: 'x' }], k)).to.equal(true);
    expect(ReferrerPublisher.current(ds.slice(1), k)).to.equal(false);
    expect(ReferrerPublisher.current(ds, verdictKey(DIGEST, { ...verdict, decision: 'allow' }))).to.equal(false);
    expect(ReferrerPublisher.current([...ds, { ...ds[0], digest: `sha256:${'9'.repeat(64)}` as Digest }], k)).to.equal(false);
    expect(ds[0].annotations?.[VERDICT_KEY_ANNOTATION]).to.equal(k);
  });

  it('the signing key must be an unencrypted P-256 key; errors name the file, never the key', () => {
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(() => parseSigningKey(rsa, 'k.pem')).to.throw(/k\.pem: the signing key must be ECDSA P-256/);
    const enc = key.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }) as string;
    expect(() => parseSigningKey(enc, 'k.pem')).to.throw(/encrypted/);
    try {
      parseSigningKey('-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----\n', 'k.pem');
      expect.fail('accepted');
    } catch (e) {
      expect((e as Error).message).to.not.include('not-a-key');
    }
    expect(parseSigningKey(key.privateKey.export({ type: 'sec1', format: 'pem' }) as string, 'k.pem').asymmetricKeyType).to.equal('ec');
  });
});

describe('config: publish.referrers', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pubcfg-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const load = (yaml: string) => parseConfigText(yaml, path.join(tmp, 'c.yaml'), {});
  const problems = (yaml: string): string => {
    try {
      load(yaml);
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigError);
      return (e as Error).message;
    }
    return expect.fail('accepted') as never;
  };

  it('is off by default; on without a key is refused naming the key to set', () => {
    expect(load('log:\n  level: warn\n').publish).to.equal(undefined);
    expect(problems('publish:\n  referrers:\n    enabled: true\n')).to.match(/c\.yaml:3:\d+: publish\.referrers\.enabled: publishing referrers signs a verdict attestation: set publish\.referrers\.signingKey/);
  });

  it('loads a P-256 key path; refuses a missing file, an RSA key, an encrypted key (never printing the key)', () => {
    const good = path.join(tmp, 'good.pem');
    fs.writeFileSync(good, key.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const c = load(`publish:\n  referrers:\n    enabled: true\n    signingKey: good.pem\n    retryInterval: 30s\n`);
    expect(c.publish).to.deep.equal({ referrers: { enabled: true, signingKey: good, retryIntervalMs: 30_000 } });
    expect(problems('publish:\n  referrers:\n    enabled: true\n    signingKey: nope.pem\n')).to.match(/publish\.referrers\.signingKey: signing key .*nope\.pem does not exist/);
    const rsaPem = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    fs.writeFileSync(path.join(tmp, 'rsa.pem'), rsaPem);
    const msg = problems('publish:\n  referrers:\n    enabled: true\n    signingKey: rsa.pem\n');
    expect(msg).to.match(/must hold an ECDSA P-256 key/);
    expect(msg).to.not.include(rsaPem.split('\n')[1]);
    fs.writeFileSync(path.join(tmp, 'enc.pem'), key.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }));
    expect(problems('publish:\n  referrers:\n    enabled: true\n    signingKey: enc.pem\n')).to.match(/encrypted key/);
  });
});
