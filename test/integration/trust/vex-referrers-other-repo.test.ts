/**
 * Stored signed VEX of referrers (src/gate/referrer-vex.ts) against a pusher of another repository, on a real
 * Distribution registry and a real SQLite store: image X in `team/app` carries an OpenVEX attestation (`.att`)
 * signed by the policy's authority; a pusher with rights to `other/copy` only pushes the same digest there,
 * without attestations. Reading `other/copy`'s referrers (the gate judging that push) must not erase what was
 * read for `team/app`: re-judgements from the stored scan (policy reload, monitor) of `team/app@X` still apply
 * the signed statement.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fc from 'fast-check';
import type { Digest } from '../../../src/core/index.js';
import { readReferrerVex, storedReferrerVex } from '../../../src/gate/referrer-vex.js';
import { compilePolicy } from '../../../src/policy/index.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { DSSE_MEDIA_TYPE, IN_TOTO_PAYLOAD_TYPE, signEnvelope } from '../../../src/trust/dsse.js';
import { startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { makeImage, OCI_MANIFEST, Raw, sha } from '../../helpers/raw-push.js';

const REG_PORT = 16342;

describe('stored VEX of referrers: a push of the same digest elsewhere never erases it', function () {
  this.timeout(120_000);
  let reg: LabRegistry;
  let raw: Raw;
  let client: RegistryClient;
  let store: Store;
  const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = String(key.publicKey.export({ type: 'spki', format: 'pem' }));
  const policy = compilePolicy(`apiVersion: pushgate.dev/v1
kind: Policy
metadata: { name: t }
spec:
  ruleSets:
    default: { rules: [] }
  vex:
    authorities:
      - name: security
        key: |
${pem.trim().split('\n').map((l) => `          ${l}`).join('\n')}
`, '<t>');
  let n = 0;

  before(async () => {
    reg = startRegistry(REG_PORT);
    raw = new Raw(reg.host);
    client = new RegistryClient({ name: 'lab', url: reg.url });
    store = await openStore('sqlite::memory:');
  });
  after(async () => {
    await store?.close();
    reg?.stop();
  });

  async function attest(repo: string, digest: Digest): Promise<void> {
    const [alg, hex] = digest.split(':');
    const vex = { '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'x', author: 'sec', timestamp: '2026-01-01T00:00:00Z', version: 1, statements: [{ vulnerability: { name: 'CVE-2024-0001' }, products: [{ '@id': 'pkg:npm/a' }], status: 'not_affected', justification: 'component_not_present' }] };
    const st = { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: repo, digest: { [alg!]: hex } }], predicateType: 'https://openvex.dev/ns/v0.2.0', predicate: vex };
    const layer = signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(st)), key.privateKey);
    const config = Buffer.from('{}');
    await raw.pushBlobs(repo, [layer, config]);
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [{ mediaType: DSSE_MEDIA_TYPE, digest: sha(layer), size: layer.length }] }));
    expect((await raw.putManifest(repo, `${alg}-${hex}.att`, { bytes: m, mediaType: OCI_MANIFEST })).status).to.equal(201);
  }

  async function scenario(otherRepos: string[], order: 'victim-first' | 'interleaved'): Promise<void> {
    const img = makeImage('good', `vexrepo-${process.pid}-${n++}`);
    const digest = img.digest as Digest;
    const victim = { registry: 'lab', repository: `team/app${n}` };
    await raw.pushBlobs(victim.repository, img.blobs);
    expect((await raw.putManifest(victim.repository, 'v1', img)).status).to.equal(201);
    await attest(victim.repository, digest);
    for (const r of otherRepos) {
      await raw.pushBlobs(r, img.blobs);
      expect((await raw.putManifest(r, 'copy', img)).status).to.equal(201);
    }
    const root = () => undefined;
    if (order === 'interleaved' && otherRepos[0]) await readReferrerVex(store, client, { registry: 'lab', repository: otherRepos[0] }, digest, policy, root);
    const first = await readReferrerVex(store, client, victim, digest, policy, root);
    expect(first?.statements, 'read for the victim').to.have.length(1);
    for (const r of otherRepos) await readReferrerVex(store, client, { registry: 'lab', repository: r }, digest, policy, root);
    const stored = await storedReferrerVex(store, digest, policy);
    expect(stored?.statements, 'still applied to the stored re-judgement').to.have.length(1);
    // The victim's own re-read without its attestation removes it (a deleted VEX stops suppressing).
    await raw.putManifest(victim.repository, `${digest.replace(':', '-')}.att`, img); // overwritten by an image: no VEX
    await readReferrerVex(store, client, victim, digest, policy, root);
    expect((await storedReferrerVex(store, digest, policy))?.statements ?? []).to.have.length(0);
  }

  it('keeps the victim repository\'s signed VEX after the same digest is judged in another repository', async () => {
    await scenario([`other/copy${n}`], 'victim-first');
  });

  it('property: any order of other repositories reading the digest keeps the victim\'s VEX', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.stringMatching(/^[a-z]{1,6}$/), { minLength: 1, maxLength: 3 }), fc.constantFrom('victim-first' as const, 'interleaved' as const), (names, order) => scenario(names.map((x) => `other${n}/${x}`), order)),
      { numRuns: 4 },
    );
  });
});
