/**
 * Signature rules end to end on a real Distribution 2.8 registry (no referrers API: the `sha256-<hex>`
 * fallback index is read, as cosign writes it there) notifying the real gate: images are pushed, their
 * verdicts record "signature pending", signatures are attached in cosign's formats (legacy `.sig` tag,
 * key-based and keyless against a private Fulcio/Rekor trusted root; cosign v3 bundle referrer), and
 * AdmissionReviews are judged by the validating webhook. A signature made after a denial counts at
 * the next review through the registry's notification, not a timer.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { validateReview, type AdmissionDeps } from '../../../src/admission/review.js';
import { defaultConfig } from '../../../src/config/load.js';
import { startGatedLab, type GatedLab } from '../../helpers/gated-lab.js';
import { bundleReferrer, dsseBundle, legacySignatureManifest, signLegacy, type Pushable, indentBlock, publicKeyPem } from '../../helpers/cosign.js';
import { LAB_ISSUER, startFulcioLab, type FulcioLab } from '../../helpers/fulcio-lab.js';
import { makeImage, Raw, sleep, type Image } from '../../helpers/raw-push.js';

const REG_PORT = 16090;
const SRV_PORT = 16091;

const release = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = publicKeyPem;
const indent = indentBlock;

const POLICY = `apiVersion: pushgate.dev/v1
kind: Policy
metadata: { name: signatures-lab }
spec:
  ruleSets:
    default:
      onIncomplete: allow
      onUncovered: allow
      rules:
        - { name: fixable-high, action: reject, match: { vulnerability: { minSeverity: high, fixAvailable: true } } }
  signatures:
    - name: prod-signed
      repository: "signed/**"
      authorities:
        - name: release
          key: |
${indent(pem(release.publicKey), 12)}
    - name: ci-keyless
      repository: "keyless/**"
      authorities:
        - name: lab-ci
          keyless: { issuer: "${LAB_ISSUER}", subject: ci@lab.example }
    - name: team-warn
      repository: "warned/**"
      mode: warn
      authorities:
        - name: release
          key: |
${indent(pem(release.publicKey), 12)}
`;

function deployment(uid: string, images: string[]): unknown {
  const spec = { containers: images.map((image, i) => ({ name: `c${i}`, image })) };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid, kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' }, namespace: 'team-a', operation: 'CREATE',
      userInfo: { username: 'alice' }, object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'team-a' }, spec: { replicas: 1, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec } } },
    },
  };
}

interface Answer { allowed: boolean; status?: { message?: string }; warnings?: string[] }

describe('signature rules at admission, on a real registry with the real gate', function () {
  this.timeout(180_000);
  let lab: GatedLab;
  let fulcio: FulcioLab;
  let raw: Raw;
  let deps: AdmissionDeps;
  const host = `127.0.0.1:${REG_PORT}`;
  const images = new Map<string, Image>();
  let n = 0;

  const push = async (repo: string, m: Pushable | Image, ref: string) => {
    await raw.pushBlobs(repo, m.blobs);
    const r = await raw.putManifest(repo, ref, m);
    expect(r.status, r.body).to.equal(201);
  };
  const image = async (name: string, repo: string): Promise<Image> => {
    const img = makeImage('good', `sig-${name}-${process.pid}-${n++}`);
    await push(repo, img, name);
    images.set(name, img);
    return img;
  };
  const review = async (repo: string, img: Image): Promise<Answer> => {
    const r = await validateReview(deployment(`u-${n++}`, [`${host}/${repo}@${img.digest}`]), deps);
    return (r.body as { response: Answer }).response;
  };
  const ref = (repo: string) => `${host}/${repo}`;
  const sigFor = (img: Image, repo: string, key = release.privateKey) => signLegacy(key, ref(repo), img.digest);

  // adm-zip 0.4.7 (NSWG-NPM-458, alias CVE-2018-1002204, high, fixed in 0.4.9): one image covered by a
  // VEX statement for its digest and that subcomponent, one not.
  const vexed = makeImage('bad', `vex-covered-${process.pid}`);
  const unvexed = makeImage('bad', `vex-not-covered-${process.pid}`);

  before(async () => {
    fulcio = startFulcioLab();
    const vexFile = path.join(fulcio.dir, 'vex.json');
    fs.writeFileSync(vexFile, JSON.stringify({
      '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://lab.example/vex/1', author: 'security@lab.example', timestamp: new Date().toISOString(), version: 1,
      statements: [{ vulnerability: { name: 'CVE-2018-1002204' }, products: [{ '@id': `pkg:oci/app@${encodeURIComponent(vexed.digest)}`, subcomponents: [{ '@id': 'pkg:npm/adm-zip@0.4.7' }] }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' }],
    }));
    lab = await startGatedLab({ regPort: REG_PORT, srvPort: SRV_PORT, token: 'sig-e2e-token-0123456789', apiToken: 'sig-e2e-api-0123456789', policyYaml: POLICY, tmpPrefix: 'pushgate-sig-', configure: (c) => { c.vex = { paths: [vexFile] }; } });
    raw = new Raw(host);
    const admission = defaultConfig().admission;
    deps = { gate: lab.srv.gate, config: { ...admission, unguarded: 'deny', signatures: { trustedRoot: fulcio.trustedRoot, cacheTtlMs: 600_000, unsignedRecheckMs: 3_600_000 } } };
    for (const [name, repo] of [['a', 'signed/app'], ['b', 'signed/app'], ['c', 'signed/app'], ['d', 'signed/app'], ['e', 'signed/app'], ['f', 'signed/bundle'], ['g', 'keyless/app'], ['h', 'keyless/app'], ['w', 'warned/app']] as const) {
      await image(name, repo);
    }
    for (const [name, repo] of [['a', 'signed/app'], ['g', 'keyless/app'], ['w', 'warned/app']] as const) await lab.verdict(`${host}/${repo}:${name}`);
  });
  after(async () => {
    await lab?.stop();
    fulcio?.cleanup();
  });

  it('records "signature pending" in the verdict of a push the rules cover; a push is never refused for it', async () => {
    const v = await lab.verdict(`${host}/signed/app:a`);
    expect(v.decision).to.equal('allow');
    expect(v.reasons.map((r) => `${r.rule}: ${r.message}`).join('\n')).to.match(/signature-pending: signature pending: signature rule prod-signed \(enforce, anyOf of release\)/);
    expect(await raw.served('signed/app', 'a')).to.equal(images.get('a')!.digest);
  });

  it('admits an image signed with the trusted key (legacy .sig tag); denies unsigned, another key, a tampered payload, a signature for another digest — each naming the rule', async () => {
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((k) => images.get(k)!);
    await push('signed/app', legacySignatureManifest([sigFor(a, 'signed/app')]), `${a.digest.replace(':', '-')}.sig`);
    await push('signed/app', legacySignatureManifest([sigFor(c, 'signed/app', other.privateKey)]), `${c.digest.replace(':', '-')}.sig`);
    const good = sigFor(d, 'signed/app');
    const tampered = { ...good, payload: Buffer.from(good.payload!.toString().replace('"optional":null', '"optional":{"x":"y"}')) };
    await push('signed/app', legacySignatureManifest([tampered]), `${d.digest.replace(':', '-')}.sig`);
    await push('signed/app', legacySignatureManifest([sigFor(a, 'signed/app')]), `${e.digest.replace(':', '-')}.sig`);

    expect((await review('signed/app', a)).allowed).to.equal(true);
    const cases: Array<[Image, RegExp]> = [
      [b, /signature rule prod-signed: unsigned/],
      [c, /signature rule prod-signed: requires a valid signature by one of: release; 1 signature\(s\) found, none valid for it: .*does not verify with key release/],
      [d, /signature rule prod-signed: .*does not verify with key release/],
      [e, new RegExp(`signature rule prod-signed: .*signature is for ${a.digest}, not this image`)],
    ];
    for (const [img, re] of cases) {
      const ans = await review('signed/app', img);
      expect(ans.allowed, img.digest).to.equal(false);
      expect(ans.status?.message).to.match(re);
      expect(ans.status?.message).to.match(/spec\.template\.spec\.containers\[0\]\.image/);
    }
  });

  it('a signature attached after a denial counts at the next review: the registry\'s notification drops the cached check', async () => {
    const b = images.get('b')!;
    expect((await review('signed/app', b)).allowed).to.equal(false);
    await push('signed/app', legacySignatureManifest([sigFor(b, 'signed/app')]), `${b.digest.replace(':', '-')}.sig`);
    const deadline = Date.now() + 20_000;
    let ans = await review('signed/app', b);
    while (!ans.allowed && Date.now() < deadline) {
      await sleep(200);
      ans = await review('signed/app', b);
    }
    expect(ans.allowed, ans.status?.message).to.equal(true);
  });

  it('admits an image signed by a cosign v3 bundle referrer, found through the fallback tag on Distribution 2.8', async () => {
    const f = images.get('f')!;
    const { referrer, fallbackIndex } = bundleReferrer(dsseBundle(release.privateKey, f.digest), { digest: f.digest, size: f.bytes.length, mediaType: f.mediaType });
    await push('signed/bundle', referrer, referrer.digest);
    await push('signed/bundle', fallbackIndex, f.digest.replace(':', '-'));
    expect((await review('signed/bundle', f)).allowed).to.equal(true);
  });

  it('keyless: admits a Fulcio-certified signature logged in Rekor; denies one whose certificate had expired when it was logged', async () => {
    const [g, h] = [images.get('g')!, images.get('h')!];
    await push('keyless/app', legacySignatureManifest([fulcio.sign('ci@lab.example', ref('keyless/app'), g.digest)]), `${g.digest.replace(':', '-')}.sig`);
    await push('keyless/app', legacySignatureManifest([fulcio.sign('ci@lab.example', ref('keyless/app'), h.digest, { expired: true })]), `${h.digest.replace(':', '-')}.sig`);
    expect((await review('keyless/app', g)).allowed).to.equal(true);
    const ans = await review('keyless/app', h);
    expect(ans.allowed).to.equal(false);
    expect(ans.status?.message).to.match(/signature rule ci-keyless: .*certificate expired when the signature was logged/);
  });

  it('VEX: a not_affected statement for the image lifts the block and keeps the finding in the report as suppressed; the same package in another image is rejected', async () => {
    await push('vex/app', vexed, 'covered');
    await push('vex/app', unvexed, 'uncovered');
    const judged = async (digest: string) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const v = await lab.srv.gate.verdict('lab', 'vex/app', digest as `sha256:${string}`);
        if (v?.enforcement) return v;
        if (Date.now() > deadline) throw new Error(`no verdict for ${digest}`);
        await sleep(200);
      }
    };
    expect((await judged(vexed.digest)).decision).to.equal('allow');
    const rejected = await judged(unvexed.digest);
    expect(rejected.decision).to.equal('reject');
    expect(rejected.reasons[0].rule).to.equal('fixable-high');
    const report = await lab.srv.store.getReport(vexed.digest as `sha256:${string}`);
    const f = report?.findings.find((x) => x.id === 'NSWG-NPM-458');
    expect(f?.vex).to.deep.equal({ status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path', source: `${path.join(fulcio.dir, 'vex.json')}#statements[0]` });
  });

  it('a warn-mode rule admits an unsigned image with a warning naming the rule', async () => {
    const ans = await review('warned/app', images.get('w')!);
    expect(ans.allowed).to.equal(true);
    expect((ans.warnings ?? []).join(' ')).to.match(/signature rule team-warn: unsigned/);
  });
});
