/**
 * The publisher's "already published" check against a hostile pusher, on a real Distribution registry
 * (no referrers API: the `sha256-<hex>` fallback index, writable by anyone who can push). The pusher lists
 * entries carrying pushgate's annotations and the verdict key of the next verdict (computable from what
 * pushgate publishes), pointing at a forged attestation (another key) or at pushgate's own attestation of
 * the previous verdict. pushgate must still publish the new verdict: otherwise the stale signed "allow"
 * attestation stays the only one a downstream verifier finds.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fc from 'fast-check';
import type { Digest, Verdict } from '../../../src/core/index.js';
import { ReferrerPublisher, verdictKey, verdictReferrers, PUBLISHER_ANNOTATION, VERDICT_KEY_ANNOTATION, ATTESTATION_ARTIFACT_TYPE, type PublishedVerdict } from '../../../src/publish/index.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { parseBundle } from '../../../src/trust/sigstore-verify.js';
import { startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { makeImage, OCI_INDEX, Raw } from '../../helpers/raw-push.js';

const REG_PORT = 16341;

describe('publishing referrers: a forged "current" entry never stops a publication', function () {
  this.timeout(300_000);
  let reg: LabRegistry;
  let raw: Raw;
  let client: RegistryClient;
  const ourKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const attackerKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const publisher = new ReferrerPublisher({ key: ourKey, toolVersion: 'test' });
  let n = 0;

  before(() => {
    reg = startRegistry(REG_PORT);
    raw = new Raw(reg.host);
    client = new RegistryClient({ name: 'lab', url: reg.url });
  });
  after(() => reg?.stop());

  const verdict = (decision: string, reasons: PublishedVerdict['reasons'], revision: string): Verdict =>
    ({ registry: 'lab', repository: 'x', digest: 'sha256:0' as Digest, tags: [], decision, complete: true, reasons, mode: 'enforce', policy: { name: 'p', revision }, vulndb: { builtAt: null }, evaluatedAt: new Date().toISOString() }) as Verdict;
  const docs = async () => ({ sbom: Buffer.from('{"bomFormat":"CycloneDX"}'), report: Buffer.from('{}') });

  /** Decisions of the attestations listed for `digest` that verify with pushgate's key. */
  async function signedDecisions(repo: string, digest: Digest): Promise<string[]> {
    const out: string[] = [];
    for (const d of await client.referrers(repo, digest)) {
      if (d.artifactType !== ATTESTATION_ARTIFACT_TYPE) continue;
      const m = JSON.parse((await raw.getManifest(repo, d.digest))!.bytes.toString());
      const bytes = Buffer.from(await (await fetch(`${reg.url}/v2/${repo}/blobs/${m.layers[0].digest}`)).arrayBuffer());
      const env = parseBundle(bytes).content;
      if (env.$case !== 'dsseEnvelope') continue;
      const { pae } = await import('../../../src/trust/dsse.js');
      if (!crypto.verify('sha256', pae(env.dsseEnvelope.payloadType, env.dsseEnvelope.payload), crypto.createPublicKey(ourKey), env.dsseEnvelope.signatures[0]!.sig)) continue;
      out.push(JSON.parse(env.dsseEnvelope.payload.toString()).predicate.decision);
    }
    return out;
  }

  async function scenario(replayOurs: boolean, reasons: PublishedVerdict['reasons']): Promise<void> {
    const repo = `forged/app${n++}`;
    const img = makeImage('good', `forged-${process.pid}-${n}`);
    await raw.pushBlobs(repo, img.blobs);
    expect((await raw.putManifest(repo, 'v1', img)).status).to.equal(201);
    const digest = img.digest as Digest;
    const allow = { ...verdict('allow', [], 'r1'), repository: repo, digest };
    const deny = { ...verdict('reject', reasons, 'r2'), repository: repo, digest };
    const host = reg.host;
    expect((await publisher.publish(client, { host, repository: repo, digest, verdict: allow, documents: docs })).result).to.equal('published');
    expect(await signedDecisions(repo, digest)).to.deep.equal(['allow']);

    // The pusher: three entries with pushgate's annotations and the reject verdict's key.
    const subject = { mediaType: img.mediaType, digest, size: img.bytes.length };
    const forged = verdictReferrers({ name: `${host}/${repo}`, subject, verdict: deny, sbom: Buffer.from('{}'), report: Buffer.from('{}'), key: attackerKey, at: new Date(), toolVersion: 'x' });
    for (const a of forged) {
      for (const b of a.blobs) await raw.pushBlobs(repo, [b.bytes]);
      expect((await raw.putManifest(repo, a.digest, { bytes: a.manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json' })).status).to.equal(201);
    }
    const listed = (await client.fallbackIndex(repo, digest))!.index.manifests;
    const ourAtt = listed.find((d) => d.artifactType === ATTESTATION_ARTIFACT_TYPE)!;
    const k2 = verdictKey(digest, deny);
    const entries = forged.map((a) => a.descriptor);
    // Either the attacker's attestation, or pushgate's own (allow) attestation relabelled with the reject key.
    if (replayOurs) entries[2] = { ...ourAtt, annotations: { ...ourAtt.annotations, [VERDICT_KEY_ANNOTATION]: k2 } };
    const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries };
    expect((await raw.putManifest(repo, digest.replace(':', '-'), { bytes: Buffer.from(JSON.stringify(index)), mediaType: OCI_INDEX })).status).to.equal(201);
    expect(ReferrerPublisher.current(entries, k2), 'the listing alone looks current').to.equal(true);
    expect(entries.every((d) => d.annotations?.[PUBLISHER_ANNOTATION] === 'pushgate')).to.equal(true);

    const out = await publisher.publish(client, { host, repository: repo, digest, verdict: deny, documents: docs });
    expect(out.result).to.equal('published');
    expect(await signedDecisions(repo, digest)).to.include('reject');
    // Published now, found current afterwards (our own attestation verifies).
    expect((await publisher.publish(client, { host, repository: repo, digest, verdict: deny, documents: docs })).result).to.equal('unchanged');
  }

  it('publishes the reject verdict when the listing holds a forged attestation under its key', async () => {
    await scenario(false, [{ rule: 'cve', action: 'reject', message: 'CVE-2024-0001' }]);
  });

  it('publishes the reject verdict when the listing relabels pushgate\'s own allow attestation', async () => {
    await scenario(true, [{ rule: 'cve', action: 'reject', message: 'CVE-2024-0001' }]);
  });

  it('property: no forged or relabelled entry makes a new verdict "unchanged"', async () => {
    const reason = fc.record({ rule: fc.constantFrom('cve', 'secret', 'base'), action: fc.constantFrom('reject', 'warn'), message: fc.string({ maxLength: 20 }) });
    await fc.assert(fc.asyncProperty(fc.boolean(), fc.array(reason, { maxLength: 3 }), (replay, reasons) => scenario(replay, reasons as PublishedVerdict['reasons'])), { numRuns: 4 });
  });
});
