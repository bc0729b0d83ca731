/**
 * A pusher must not bring back a VEX statement its authority retracted. The referrers of an image on
 * Distribution are what anyone with push rights writes (the `sha256-<hex>.att` tag, the fallback index),
 * and every signed document is content-addressed, so it can be pushed again by anyone who once pulled it.
 * On a real Distribution registry notifying the real gate, with a `spec.vex` authority:
 * 1. the authority attests `not_affected` (T1) for a blocked image: the block is lifted;
 * 2. the authority attests `affected` (T2 > T1), appended to the `.att` manifest as cosign does: blocked again;
 * 3. the pusher re-pushes the `.att` tag listing only the T1 envelope (the authority's own bytes). Before,
 *    the gate read that listing alone and the image was allowed again; now the retraction, once read, keeps
 *    applying, in this repository and in any other the digest is pushed to (the pusher's own copy with the
 *    T1 attestation), until the authority states something later.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import { startGatedLab, type GatedLab } from '../helpers/gated-lab.js';
import { attestationEnvelope, attestationManifest, type Pushable, vexAuthoritiesYaml } from '../helpers/cosign.js';
import { makeImage, Raw, sleep, type Image } from '../helpers/raw-push.js';
import type { Digest, Verdict } from '../../src/core/index.js';

const REG_PORT = 24840;
const SRV_PORT = 24841;
const OPENVEX = 'https://openvex.dev/ns';
const security = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });

const POLICY = `apiVersion: pushgate.dev/v1
kind: Policy
metadata: { name: vex-retraction }
spec:
  ruleSets:
    default:
      onIncomplete: allow
      onUncovered: allow
      rules:
        - { name: fixable-high, action: reject, match: { vulnerability: { minSeverity: high, fixAvailable: true } } }
  mappings:
    - { repository: "vexret/**", ruleSet: default, mode: audit }
${vexAuthoritiesYaml([{ name: 'security', key: security.publicKey }])}
`;

const statement = (digest: string, status: 'not_affected' | 'affected', timestamp: string) => ({
  '@context': 'https://openvex.dev/ns/v0.2.0', '@id': `https://lab.example/vex/${status}`, author: 'security@lab.example', timestamp, version: 1,
  statements: [{
    vulnerability: { name: 'CVE-2018-1002204' },
    products: [{ '@id': `pkg:oci/app@${encodeURIComponent(digest)}`, subcomponents: [{ '@id': 'pkg:npm/adm-zip@0.4.7' }] }],
    status,
    ...(status === 'not_affected' ? { justification: 'vulnerable_code_not_in_execute_path' } : { action_statement: 'upgrade adm-zip' }),
  }],
});

describe('security: a retracted VEX statement stays retracted whatever the referrers listing says', function () {
  this.timeout(180_000);
  let lab: GatedLab;
  let raw: Raw;
  const host = `127.0.0.1:${REG_PORT}`;

  const push = async (repo: string, m: Pushable | Image, ref: string) => {
    await raw.pushBlobs(repo, m.blobs);
    const r = await raw.putManifest(repo, ref, m);
    expect(r.status, r.body).to.equal(201);
  };
  const rejudged = async (digest: string) => (await lab.srv.store.listAudit(1000, { action: 'vex-referrer-rejudged', digest: digest as Digest })).length;
  /** The verdict of repo@digest once the gate judged it again `n` times in all after referrer changes. */
  const afterRejudge = async (repo: string, digest: string, n: number): Promise<Verdict> => {
    const deadline = Date.now() + 60_000;
    while ((await rejudged(digest)) < n) {
      if (Date.now() > deadline) throw new Error(`${digest} was not judged again (${n})`);
      await sleep(200);
    }
    return (await lab.srv.gate.verdict('lab', repo, digest as Digest))!;
  };

  before(async () => {
    lab = await startGatedLab({ regPort: REG_PORT, srvPort: SRV_PORT, token: 'vexret-token-0123456789', apiToken: 'vexret-api-0123456789', policyYaml: POLICY, tmpPrefix: 'pushgate-vexret-' });
    raw = new Raw(host);
  });
  after(async () => {
    await lab?.stop();
  });

  it('an .att listing that leaves out the authority\'s later "affected" does not lift the block again, here or in another repository', async () => {
    const repo = 'vexret/app';
    const img = makeImage('bad', `vexret-${process.pid}`);
    await push(repo, img, 'v1');
    expect((await lab.verdict(`${host}/${repo}:v1`)).decision).to.equal('reject');
    const attTag = `${img.digest.replace(':', '-')}.att`;
    const t1 = attestationEnvelope(security.privateKey, `${host}/${repo}`, img.digest, OPENVEX, statement(img.digest, 'not_affected', '2026-01-01T00:00:00Z'));
    const t2 = attestationEnvelope(security.privateKey, `${host}/${repo}`, img.digest, OPENVEX, statement(img.digest, 'affected', '2026-02-01T00:00:00Z'));

    await push(repo, attestationManifest([t1], OPENVEX), attTag);
    expect((await afterRejudge(repo, img.digest, 1)).decision, 'not_affected lifts the block').to.equal('allow');
    await push(repo, attestationManifest([t1, t2], OPENVEX), attTag);
    expect((await afterRejudge(repo, img.digest, 2)).decision, 'the later affected restores it').to.equal('reject');

    // The pusher: the authority's T1 envelope alone, byte for byte.
    await push(repo, attestationManifest([t1], OPENVEX), attTag);
    expect((await afterRejudge(repo, img.digest, 3)).decision, 'the retraction is kept').to.equal('reject');
    // Read until it says so: the .att push's events may have judged the image more than once, and the
    // count of judgements can reach 3 before the last one's report is read back here.
    let diags = '';
    for (const until = Date.now() + 30_000; !/no longer listed .* still apply/.test(diags) && Date.now() < until; await sleep(200)) {
      diags = ((await lab.srv.store.getReport(img.digest as Digest))?.diagnostics ?? []).map((d) => d.message).join('\n');
    }
    expect(diags).to.match(/no longer listed .* still apply/);

    // The same digest in the pusher's own repository, with only the T1 attestation there.
    await push('vexret/mine', img, 'x');
    await push('vexret/mine', attestationManifest([t1], OPENVEX), attTag);
    const mine = await afterRejudge('vexret/mine', img.digest, 4);
    expect(mine.decision).to.equal('reject');

    // The authority can still speak later: a newer not_affected (T3) lifts it.
    const t3 = attestationEnvelope(security.privateKey, `${host}/${repo}`, img.digest, OPENVEX, statement(img.digest, 'not_affected', '2026-03-01T00:00:00Z'));
    await push(repo, attestationManifest([t1, t2, t3], OPENVEX), attTag);
    expect((await afterRejudge(repo, img.digest, 5)).decision, 'a later not_affected of the authority wins').to.equal('allow');
  });

  it('the order of an .att listing decides nothing: of two signed statements of the same time, affected wins', async () => {
    const repo = 'vexret/ties';
    const img = makeImage('bad', `vexret-ties-${process.pid}`);
    await push(repo, img, 'v1');
    expect((await lab.verdict(`${host}/${repo}:v1`)).decision).to.equal('reject');
    const attTag = `${img.digest.replace(':', '-')}.att`;
    // The authority's two documents carry the same time (one second's resolution, or none at all: time 0).
    const at = '2026-01-01T00:00:00Z';
    const notAffected = attestationEnvelope(security.privateKey, `${host}/${repo}`, img.digest, OPENVEX, statement(img.digest, 'not_affected', at));
    const affected = attestationEnvelope(security.privateKey, `${host}/${repo}`, img.digest, OPENVEX, statement(img.digest, 'affected', at));
    /** The verdict after the next re-judgement, read for 3 s more (a push may re-judge more than once): every reading. */
    const readings = async (after: number): Promise<string[]> => {
      const out = [(await afterRejudge(repo, img.digest, after + 1)).decision];
      for (const until = Date.now() + 3_000; Date.now() < until; await sleep(200)) out.push((await lab.srv.gate.verdict('lab', repo, img.digest))!.decision);
      return [...new Set(out)];
    };
    let n = await rejudged(img.digest);
    await push(repo, attestationManifest([notAffected, affected], OPENVEX), attTag);
    expect(await readings(n), 'affected listed last').to.deep.equal(['reject']);
    // The pusher lists the same two envelopes, not_affected last: before, the last of a tie won and the block was lifted.
    n = await rejudged(img.digest);
    await push(repo, attestationManifest([affected, notAffected], OPENVEX), attTag);
    expect(await readings(n), 'not_affected listed last').to.deep.equal(['reject']);
  });
});
