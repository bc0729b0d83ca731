/**
 * A tag of the referrer grammar (`sha256-<hex>`, `sha256-<hex>.att`, `sha256-<hex>.sig`) names the image
 * it describes, and with `spec.vex` authorities in the policy the gate judges that image again when such a
 * tag is pushed. The pusher chooses the tag, and so the subject: one that pushgate judged once and that is
 * gone from the registry (an artefact, whose judgement reads the registry every time) failed that
 * re-judgement with a 404 on every attempt, BEFORE the event's own enforcement, and after three attempts
 * the event was completed as "manifest gone": the blocked image pushed under the tag was never quarantined
 * or deleted, stayed served, and reconcile re-queued it to the same end.
 * Real components: Distribution 2.8 notifying an in-process `pushgate serve` (helpers/gated-lab.ts), raw
 * pushes; a fast-check property over the three tag forms, quarantine or reject, and a subject that is gone
 * or still there. Ports 22978-22979.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fc from 'fast-check';
import type { Digest } from '../../src/core/index.js';
import { DEFAULT_POLICY_YAML } from '../../src/policy/index.js';
import { vexAuthoritiesYaml } from '../helpers/cosign.js';
import { startGatedLab, type GatedLab } from '../helpers/gated-lab.js';
import { makeImage, OCI_MANIFEST, Raw, sha, sleep } from '../helpers/raw-push.js';

const REG_PORT = 22978;
const SRV_PORT = 22979;
const authority = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const POLICY = `${DEFAULT_POLICY_YAML.trimEnd()}\n${vexAuthoritiesYaml([{ name: 'security', key: authority.publicKey }])}\n`;

/** An SBOM artefact (judged `allow` without a scan, so its judgement reads the registry every time). */
function artefact(nonce: string) {
  const body = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: nonce }));
  const cfg = Buffer.from('{}');
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/spdx+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(cfg), size: cfg.length },
    layers: [{ mediaType: 'application/spdx+json', digest: sha(body), size: body.length }],
  }));
  return { digest: sha(bytes), bytes, mediaType: OCI_MANIFEST, blobs: [cfg, body] };
}

describe('security: a blocked image pushed under a referrer-looking tag is enforced whatever subject the tag names', function () {
  this.timeout(300_000);
  let lab: GatedLab;
  let raw: Raw;
  const host = `127.0.0.1:${REG_PORT}`;

  before(async () => {
    lab = await startGatedLab({ regPort: REG_PORT, srvPort: SRV_PORT, token: 'reftag-token-0123456789', apiToken: 'reftag-api-0123456789', policyYaml: POLICY, tmpPrefix: 'pushgate-reftag-' });
    raw = new Raw(host);
  });
  after(async () => {
    await lab?.stop();
  });

  async function until<T>(what: string, f: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const v = await f();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await sleep(100);
    }
  }

  let run = 0;
  it('property: over the tag forms, quarantine or reject, and a subject gone or still there, the image is acted on and not served', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('', '.att', '.sig'), fc.constantFrom<'bad' | 'secret'>('bad', 'secret'), fc.boolean(), async (suffix, kind, gone) => {
        const repo = `reftag${run}/app`;
        const nonce = `reftag-${run++}-${process.pid}`;
        const s = artefact(nonce);
        await raw.pushBlobs(repo, s.blobs);
        expect((await raw.putManifest(repo, s.digest, s)).status).to.equal(201);
        await until(`the verdict of the subject ${s.digest}`, () => lab.srv.store.getVerdict('lab', repo, s.digest as Digest));
        if (gone) {
          const d = await fetch(`http://${host}/v2/${repo}/manifests/${s.digest}`, { method: 'DELETE' });
          await d.arrayBuffer();
          expect(d.status).to.equal(202);
        }
        const img = makeImage(kind, nonce);
        const tag = `sha256-${s.digest.slice(7)}${suffix}`;
        await raw.pushBlobs(repo, img.blobs);
        expect((await raw.putManifest(repo, tag, img)).status).to.equal(201);
        const v = await until(`an enforcement of ${repo}:${tag}`, async () => {
          const x = await lab.srv.store.getVerdict('lab', repo, img.digest as Digest);
          return x?.enforcement && x.enforcement.status !== 'pending' ? x : undefined;
        });
        expect(v.decision).to.equal(kind === 'bad' ? 'quarantine' : 'reject');
        expect(v.enforcement?.status, JSON.stringify(v.enforcement)).to.equal('done');
        expect(await raw.served(repo, tag), `${repo}:${tag} serves the blocked image (${JSON.stringify(v.enforcement)})`).to.equal(undefined);
        expect(await raw.served(repo, img.digest)).to.equal(undefined);
        // The verdict's audit record follows the enforcement and the subject's re-judgement: waited for.
        const audit = await until(`the verdict audit of ${repo}:${tag}`, async () => {
          const a = await lab.srv.store.listAudit(50, { repository: repo });
          return a.some((x) => x.action === `verdict:${v.decision}` && x.digest === img.digest) ? a : undefined;
        });
        expect(audit.some((a) => a.action === 'manifest-gone' && a.digest === img.digest), 'completed as manifest-gone').to.equal(false);
      }),
      { numRuns: 8 },
    );
  });
});
