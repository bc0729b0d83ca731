/**
 * Publishing verdicts as OCI referrers on a real Distribution 2.8 registry (no referrers API: the
 * `sha256-<hex>` fallback index) with the real gate: an image is pushed, and its SBOM, report and signed
 * verdict attestation are read back through the registry client's referrers fallback; the attestation's
 * DSSE signature is checked with pushgate's public key (Node crypto, PAE per the DSSE spec). A cosign
 * entry already in the fallback index survives; a changed verdict replaces our referrers and deletes the
 * old ones; publishing twice changes nothing; our own pushes are never judged.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Descriptor, Digest } from '../../../src/core/index.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import { ATTESTATION_ARTIFACT_TYPE, PUBLISHER_ANNOTATION, REPORT_ARTIFACT_TYPE, SBOM_ARTIFACT_TYPE, VERDICT_PREDICATE_TYPE } from '../../../src/publish/index.js';
import { readAll } from '../../../src/registry/auth/authenticator.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { parseManifest } from '../../../src/registry/manifest.js';
import { startGatedLab, type GatedLab } from '../../helpers/gated-lab.js';
import { bundleReferrer, dsseBundle, pae } from '../../helpers/cosign.js';
import { makeImage, Raw, sleep } from '../../helpers/raw-push.js';

const REG_PORT = 16334;
const SRV_PORT = 16335;

const POLICY = (minSeverity: string) => `apiVersion: pushgate.dev/v1
kind: Policy
metadata: { name: publish-lab }
spec:
  ruleSets:
    default:
      onIncomplete: allow
      onUncovered: allow
      rules:
        - { name: fixable-high, action: warn, match: { vulnerability: { minSeverity: ${minSeverity}, fixAvailable: true } } }
`;

describe('publishing verdicts as referrers, on a real registry with the real gate', function () {
  this.timeout(180_000);
  const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cosignKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let lab: GatedLab;
  let raw: Raw;
  let client: RegistryClient;
  let dir: string;
  const repo = 'pub/app';
  const img = makeImage('bad', `publish-${process.pid}`);

  const ours = async (): Promise<Descriptor[]> => (await client.referrers(repo, img.digest as Digest)).filter((d) => d.annotations?.[PUBLISHER_ANNOTATION] === 'pushgate');
  const waitOurs = async (pred: (ds: Descriptor[]) => Promise<boolean>): Promise<Descriptor[]> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ds = await ours();
      if (ds.length === 3 && (await pred(ds))) return ds;
      if (Date.now() > deadline) throw new Error(`referrers not published: ${JSON.stringify(ds)}`);
      await sleep(200);
    }
  };
  const layerOf = async (d: Descriptor): Promise<{ manifest: ReturnType<typeof parseManifest>; bytes: Buffer }> => {
    const m = await client.getManifest(repo, d.digest);
    const p = parseManifest(m.bytes, m.mediaType);
    if (p.kind !== 'manifest') throw new Error('not a manifest');
    const l = p.manifest.layers[0];
    return { manifest: p, bytes: await readAll(await client.getBlob(repo, l.digest, { verify: true, size: l.size }), 1 << 24) };
  };
  const statementOf = async (ds: Descriptor[]) => {
    const att = ds.find((d) => d.artifactType === ATTESTATION_ARTIFACT_TYPE)!;
    const bundle = JSON.parse((await layerOf(att)).bytes.toString()) as { mediaType: string; verificationMaterial: { publicKey: { hint: string } }; dsseEnvelope: { payload: string; payloadType: string; signatures: Array<{ sig: string }> } };
    const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
    const ok = crypto.verify('sha256', pae(bundle.dsseEnvelope.payloadType, payload), key.publicKey, Buffer.from(bundle.dsseEnvelope.signatures[0].sig, 'base64'));
    return { bundle, ok, statement: JSON.parse(payload.toString()) as { _type: string; subject: Array<{ name: string; digest: Record<string, string> }>; predicateType: string; predicate: { decision: string; policy: { revision: string }; vulnerabilityDatabase: { digest: string | null } } } };
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-pubkey-'));
    const keyFile = path.join(dir, 'signing.pem');
    fs.writeFileSync(keyFile, key.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    lab = await startGatedLab({
      regPort: REG_PORT, srvPort: SRV_PORT, token: 'publish-e2e-token-0123456789', apiToken: 'publish-e2e-api-0123456789', policyYaml: POLICY('high'), tmpPrefix: 'pushgate-pub-',
      configure: (c) => { c.publish = { referrers: { enabled: true, signingKey: keyFile, retryIntervalMs: 1000 } }; },
    });
    raw = new Raw(lab.reg.host);
    client = new RegistryClient({ name: 'lab', url: lab.reg.url });
    // cosign got there first: its signature bundle is in the fallback index before the image is judged.
    const cosign = bundleReferrer(dsseBundle(cosignKey.privateKey, img.digest), { digest: img.digest, size: img.bytes.length, mediaType: img.mediaType });
    await raw.pushBlobs(repo, [...cosign.referrer.blobs, ...img.blobs]);
    expect((await raw.putManifest(repo, cosign.referrer.digest, cosign.referrer)).status).to.equal(201);
    expect((await raw.putManifest(repo, img.digest.replace(':', '-'), cosign.fallbackIndex)).status).to.equal(201);
    expect((await raw.putManifest(repo, 'v1', img)).status).to.equal(201);
  });
  after(async () => {
    await lab?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  let first: Descriptor[];

  it('publishes the SBOM, the report and a signed attestation of the verdict, read back through the fallback index; cosign\'s entry stays', async () => {
    const v = await lab.verdict(`${lab.reg.host}/${repo}:v1`);
    expect(v.decision).to.equal('warn');
    first = await waitOurs(async () => true);
    expect(first.map((d) => d.artifactType).sort()).to.deep.equal([ATTESTATION_ARTIFACT_TYPE, REPORT_ARTIFACT_TYPE, SBOM_ARTIFACT_TYPE].sort());

    const sbom = await layerOf(first.find((d) => d.artifactType === SBOM_ARTIFACT_TYPE)!);
    const bom = JSON.parse(sbom.bytes.toString()) as { bomFormat: string; components?: Array<{ purl?: string }> };
    expect(bom.bomFormat).to.equal('CycloneDX');
    expect(bom.components?.some((c) => c.purl === 'pkg:npm/adm-zip@0.4.7')).to.equal(true);
    const m = sbom.manifest.kind === 'manifest' ? sbom.manifest.manifest : undefined;
    expect(m?.subject?.digest).to.equal(img.digest);
    expect(m?.config.mediaType).to.equal('application/vnd.oci.empty.v1+json');

    const report = JSON.parse((await layerOf(first.find((d) => d.artifactType === REPORT_ARTIFACT_TYPE)!)).bytes.toString()) as { digest: string; verdict: { decision: string } };
    expect(report.digest).to.equal(img.digest);

    const { ok, statement, bundle } = await statementOf(first);
    expect(ok, 'DSSE signature verifies with pushgate\'s public key').to.equal(true);
    expect(bundle.mediaType).to.equal('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(statement._type).to.equal('https://in-toto.io/Statement/v1');
    expect(statement.predicateType).to.equal(VERDICT_PREDICATE_TYPE);
    expect(statement.subject).to.deep.equal([{ name: `${lab.reg.host}/${repo}`, digest: { sha256: img.digest.slice('sha256:'.length) } }]);
    expect(statement.predicate.decision).to.equal('warn');
    expect(statement.predicate.policy.revision).to.equal(v.policy.revision);
    expect(statement.predicate.vulnerabilityDatabase.digest).to.equal(v.vulndb.digest ?? null);
    // A signature by another key does not verify (the check can fail).
    const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
    expect(crypto.verify('sha256', pae(bundle.dsseEnvelope.payloadType, payload), cosignKey.publicKey, Buffer.from(bundle.dsseEnvelope.signatures[0].sig, 'base64'))).to.equal(false);

    const all = await client.referrers(repo, img.digest as Digest);
    expect(all.filter((d) => d.annotations?.['dev.sigstore.bundle.predicateType'] === 'https://sigstore.dev/cosign/sign/v1')).to.have.length(1);
  });

  it('publishing the same verdict again changes nothing (decided from the registry), and our pushes are never judged', async () => {
    const before = await client.resolve(repo, img.digest.replace(':', '-'));
    const v = (await lab.srv.gate.verdict('lab', repo, img.digest as Digest))!;
    expect(await lab.srv.gate.publisher!.publish(v)).to.equal('unchanged');
    expect((await client.resolve(repo, img.digest.replace(':', '-')))?.digest).to.equal(before?.digest);
    await sleep(1000);
    for (const d of first) expect(await lab.srv.gate.verdict('lab', repo, d.digest), `referrer ${d.digest} judged`).to.equal(undefined);
  });

  it('a changed verdict replaces our referrers (the old manifests are deleted); cosign\'s entry survives', async () => {
    lab.srv.gate.setPolicy(compilePolicy(POLICY('critical'), 'critical.yaml'));
    await lab.srv.gate.enqueue({ source: 'api', registry: 'lab', repository: repo, digest: img.digest as Digest, tag: 'v1' });
    const now = await waitOurs(async (ds) => (await statementOf(ds)).statement.predicate.decision === 'allow');
    const { ok } = await statementOf(now);
    expect(ok).to.equal(true);
    expect(now.map((d) => d.digest)).to.not.include.members(first.map((d) => d.digest));
    // The publisher pushes the new referrers and then deletes the old ones: the listing can show the new
    // ones a moment before the deletes are done, so the old ones are asked for until gone (10 s at most).
    for (const d of first) {
      let left = await client.resolve(repo, d.digest);
      for (let i = 0; left !== undefined && i < 50; i++) {
        await sleep(200);
        left = await client.resolve(repo, d.digest);
      }
      expect(left, `old referrer ${d.digest}`).to.equal(undefined);
    }
    const all = await client.referrers(repo, img.digest as Digest);
    expect(all).to.have.length(4);
    expect(all.filter((d) => d.annotations?.['dev.sigstore.bundle.predicateType'] === 'https://sigstore.dev/cosign/sign/v1')).to.have.length(1);
  });
});
