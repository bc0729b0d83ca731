/**
 * VEX from referrers end to end on a real Distribution registry (no referrers API: the `sha256-<hex>`
 * fallback index is read, as cosign and oras write it there) notifying the real gate. An image blocked by
 * a finding (adm-zip 0.4.7, CVE-2018-1002204, high, fixable) stays blocked by an unsigned VEX referrer
 * and by a VEX attestation signed with another key; a VEX attestation signed with the policy's
 * `spec.vex` key, pushed after the image, lifts the block through the registry's notification
 * (not_affected, source naming the referrer and the authority), as does a plain VEX referrer once the
 * authority signs that referrer.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import { startGatedLab, type GatedLab } from '../../helpers/gated-lab.js';
import { attestationEnvelope, attestationManifest, bundleReferrer, dsseBundle, legacySignatureManifest, signLegacy, vexReferrer, type Pushable, indentBlock, publicKeyPem } from '../../helpers/cosign.js';
import { makeImage, Raw, sleep, type Image } from '../../helpers/raw-push.js';
import type { Digest, Verdict } from '../../../src/core/index.js';

const REG_PORT = 16134;
const SRV_PORT = 16135;
/** What `cosign attest --type openvex` writes (the v3 bundle test uses the versioned form vexctl writes). */
const OPENVEX = 'https://openvex.dev/ns';

const security = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = publicKeyPem;
const indent = indentBlock;

const POLICY = `apiVersion: pushgate.dev/v1
kind: Policy
metadata: { name: vex-referrers-lab }
spec:
  ruleSets:
    default:
      onIncomplete: allow
      onUncovered: allow
      rules:
        - { name: fixable-high, action: reject, match: { vulnerability: { minSeverity: high, fixAvailable: true } } }
  mappings:
    - { repository: "vexref/**", ruleSet: default, mode: audit }
  vex:
    authorities:
      - name: security
        key: |
${indent(pem(security.publicKey), 10)}
`;

const vexDoc = (digest: string) => ({
  '@context': 'https://openvex.dev/ns/v0.2.0', '@id': `https://lab.example/vex/${digest}`, author: 'security@lab.example', timestamp: new Date().toISOString(), version: 1,
  statements: [{ vulnerability: { name: 'CVE-2018-1002204' }, products: [{ '@id': `pkg:oci/app@${encodeURIComponent(digest)}`, subcomponents: [{ '@id': 'pkg:npm/adm-zip@0.4.7' }] }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' }],
});

describe('VEX from referrers signed by a spec.vex authority, on a real registry with the real gate', function () {
  this.timeout(180_000);
  let lab: GatedLab;
  let raw: Raw;
  const host = `127.0.0.1:${REG_PORT}`;
  const repo = 'vexref/app';

  const push = async (m: Pushable | Image, ref: string) => {
    await raw.pushBlobs(repo, m.blobs);
    const r = await raw.putManifest(repo, ref, m);
    expect(r.status, r.body).to.equal(201);
  };
  const subjectOf = (img: Image) => ({ digest: img.digest, size: img.bytes.length, mediaType: img.mediaType });
  const fallbackTag = (d: string) => d.replace(':', '-');
  const rejudged = async (digest: string) => (await lab.srv.store.listAudit(100, { action: 'vex-referrer-rejudged', digest: digest as Digest })).length;
  /** The stored verdict of `digest` once the gate re-judged it `n` times after a referrer change. */
  const afterRejudge = async (digest: string, n: number): Promise<Verdict> => {
    const deadline = Date.now() + 60_000;
    while ((await rejudged(digest)) < n) {
      if (Date.now() > deadline) throw new Error(`${digest} was not judged again (${n})`);
      await sleep(200);
    }
    return (await lab.srv.gate.verdict('lab', repo, digest as Digest))!;
  };
  const diagnostics = async (digest: string) => ((await lab.srv.store.getReport(digest as Digest))?.diagnostics ?? []).filter((d) => d.code === 'vex-referrer-ignored').map((d) => d.message).join('\n');
  const vexOf = async (digest: string) => (await lab.srv.store.getReport(digest as Digest))?.findings.find((f) => f.id === 'NSWG-NPM-458')?.vex;

  before(async () => {
    lab = await startGatedLab({ regPort: REG_PORT, srvPort: SRV_PORT, token: 'vexref-e2e-token-0123456789', apiToken: 'vexref-e2e-api-0123456789', policyYaml: POLICY, tmpPrefix: 'pushgate-vexref-' });
    raw = new Raw(host);
  });
  after(async () => {
    await lab?.stop();
  });

  it('a VEX attestation (.att) signed by another key lifts nothing; one signed by the configured key lifts the block', async () => {
    const img = makeImage('bad', `vexref-att-${process.pid}`);
    await push(img, 'att');
    expect((await lab.verdict(`${host}/${repo}:att`)).decision).to.equal('reject');

    const forged = attestationEnvelope(other.privateKey, `${host}/${repo}`, img.digest, OPENVEX, vexDoc(img.digest));
    await push(attestationManifest([forged], OPENVEX), `${fallbackTag(img.digest)}.att`);
    expect((await afterRejudge(img.digest, 1)).decision).to.equal('reject');
    expect(await vexOf(img.digest)).to.equal(undefined);
    expect(await diagnostics(img.digest)).to.match(/layer 0: VEX attestation not signed by a configured authority \(security\): ignored/);

    // cosign appends to the .att manifest: the forged layer stays, the signed one joins it
    const signed = attestationEnvelope(security.privateKey, `${host}/${repo}`, img.digest, OPENVEX, vexDoc(img.digest));
    const att = attestationManifest([forged, signed], OPENVEX);
    await push(att, `${fallbackTag(img.digest)}.att`);
    const lifted = await afterRejudge(img.digest, 2);
    expect(lifted.decision).to.equal('allow');
    expect(await vexOf(img.digest)).to.deep.equal({ status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path', source: `referrer ${att.digest} (${fallbackTag(img.digest)}.att layer 1) signed by security#statements[0]` });
  });

  it('a re-judgement after a referrer push keeps the recorded enforcement (a failed one is still retried)', async () => {
    const img = makeImage('bad', `vexref-keep-${process.pid}`);
    await push(img, 'keep');
    expect((await lab.verdict(`${host}/${repo}:keep`)).decision).to.equal('reject');
    // Every kind of recorded enforcement, as a real failure or action leaves it; any pusher can push an
    // unsigned .att for the image, which makes the gate judge it again.
    const kinds: Array<NonNullable<Verdict['enforcement']>> = (['failed', 'pending', 'done', 'skipped'] as const).map((status, i) => ({ action: i % 2 ? 'delete' : 'quarantine', status, detail: `recorded ${status} (lab)` }));
    let n = 0;
    for (const enforcement of kinds) {
      const v = (await lab.srv.store.getVerdict('lab', repo, img.digest as Digest))!;
      await lab.srv.store.putVerdict({ ...v, enforcement });
      const forged = attestationEnvelope(other.privateKey, `${host}/${repo}`, img.digest, OPENVEX, { ...vexDoc(img.digest), version: ++n });
      await push(attestationManifest([forged], OPENVEX), `${fallbackTag(img.digest)}.att`);
      await afterRejudge(img.digest, n);
      const after = (await lab.srv.store.getVerdict('lab', repo, img.digest as Digest))!;
      expect(after.decision).to.equal('reject');
      expect(after.enforcement, enforcement.status).to.deep.equal(enforcement);
    }
  });

  it('a signed VEX attestation for another digest suppresses nothing (cosign v3 bundle referrer)', async () => {
    const img = makeImage('bad', `vexref-other-${process.pid}`);
    const elsewhere = makeImage('bad', `vexref-elsewhere-${process.pid}`);
    await push(img, 'other');
    expect((await lab.verdict(`${host}/${repo}:other`)).decision).to.equal('reject');
    // signed by the right key, about another image, attached to this one
    const { referrer, fallbackIndex } = bundleReferrer(dsseBundle(security.privateKey, elsewhere.digest, 'https://openvex.dev/ns/v0.2.0', vexDoc(img.digest)), subjectOf(img));
    // the referrer's own push, then the fallback index's, each judge the image again
    await push(referrer, referrer.digest);
    await push(fallbackIndex, fallbackTag(img.digest));
    expect((await afterRejudge(img.digest, 2)).decision).to.equal('reject');
    expect(await diagnostics(img.digest)).to.match(new RegExp(`a VEX attestation for ${elsewhere.digest}, not this image`));

    // the same statement about this image, in a bundle, lifts it
    const good = bundleReferrer(dsseBundle(security.privateKey, img.digest, 'https://openvex.dev/ns/v0.2.0', vexDoc(img.digest)), subjectOf(img));
    await push(good.referrer, good.referrer.digest);
    const both = Buffer.from(JSON.stringify({ ...JSON.parse(fallbackIndex.bytes.toString()), manifests: [...(JSON.parse(fallbackIndex.bytes.toString()) as { manifests: unknown[] }).manifests, ...(JSON.parse(good.fallbackIndex.bytes.toString()) as { manifests: unknown[] }).manifests] }));
    await push({ bytes: both, mediaType: fallbackIndex.mediaType, digest: '', blobs: [] } as unknown as Pushable, fallbackTag(img.digest));
    expect((await afterRejudge(img.digest, 4)).decision).to.equal('allow');
    expect((await vexOf(img.digest))?.source).to.equal(`referrer ${good.referrer.digest} signed by security#statements[0]`);
  });

  it('an unsigned VEX referrer is ignored; once the authority signs that referrer it lifts the block', async () => {
    const img = makeImage('bad', `vexref-plain-${process.pid}`);
    await push(img, 'plain');
    expect((await lab.verdict(`${host}/${repo}:plain`)).decision).to.equal('reject');
    const { referrer, fallbackIndex } = vexReferrer(Buffer.from(JSON.stringify(vexDoc(img.digest))), subjectOf(img));
    await push(referrer, referrer.digest);
    await push(fallbackIndex, fallbackTag(img.digest));
    expect((await afterRejudge(img.digest, 2)).decision).to.equal('reject');
    expect(await diagnostics(img.digest)).to.match(new RegExp(`unsigned VEX referrer ${referrer.digest} ignored`));

    // signed by another key: still ignored
    await push(legacySignatureManifest([signLegacy(other.privateKey, `${host}/${repo}`, referrer.digest)]), `${fallbackTag(referrer.digest)}.sig`);
    expect((await afterRejudge(img.digest, 3)).decision).to.equal('reject');
    expect(await diagnostics(img.digest)).to.match(new RegExp(`unsigned VEX referrer ${referrer.digest} ignored: 1 signature\\(s\\), none by a configured authority`));
    // cosign sign --key of the referrer's digest, by the authority
    await push(legacySignatureManifest([signLegacy(other.privateKey, `${host}/${repo}`, referrer.digest), signLegacy(security.privateKey, `${host}/${repo}`, referrer.digest)]), `${fallbackTag(referrer.digest)}.sig`);
    expect((await afterRejudge(img.digest, 4)).decision).to.equal('allow');
    expect((await vexOf(img.digest))?.source).to.equal(`referrer ${referrer.digest} signed by security#statements[0]`);
  });
});
