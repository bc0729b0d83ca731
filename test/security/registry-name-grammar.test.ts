/**
 * Every repository the registry stores a push in is judged. Distribution 2.8 routes and stores any name of
 * its reference grammar (reference/regexp.go NameRegexp), whose first component may be a domain: upper
 * case and dots there (`Team/app`, `TEAM.example/app`). No reference parser pulls such a repository, but
 * the registry API serves it. Before, the notification intake took these names for "no registry accepts
 * this" and dropped the event (and the registry client refused them): a violating manifest pushed there
 * stayed in the registry, never judged. Real Distribution registry, raw pushes, the real gate; a
 * fast-check property over generated names of that grammar.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { startGatedLab, type GatedLab } from '../helpers/gated-lab.js';
import { makeImage, Raw } from '../helpers/raw-push.js';
import type { Digest } from '../../src/core/index.js';

const POLICY = `apiVersion: pushgate.dev/v1
kind: Policy
metadata: { name: name-grammar }
spec:
  ruleSets:
    default:
      rules:
        - { name: vulns, action: quarantine, match: { vulnerability: {} } }
  mappings: []
  default: { ruleSet: default, mode: enforce }
`;

/** A first component of the domain form: letters of either case and digits, inner `.` and `-`. */
const domainComponent = fc.stringMatching(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,6}[A-Za-z0-9])?$/);
const domain = fc.array(domainComponent, { minLength: 1, maxLength: 3 }).map((c) => c.join('.'));
const lowerComponent = fc.stringMatching(/^[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,4})?$/);

describe('security: pushes to every repository name the registry stores are judged', function () {
  this.timeout(300_000);
  let lab: GatedLab;
  let raw: Raw;
  let n = 0;

  before(async () => {
    lab = await startGatedLab({ regPort: 24860, srvPort: 24861, token: 'name-grammar-hook', apiToken: 'name-grammar-api', policyYaml: POLICY, tmpPrefix: 'pushgate-names-' });
    raw = new Raw(lab.reg.host);
  });
  after(async () => {
    await lab?.stop();
  });

  /** Pushes a violating image to `repo:v1`; when the registry stored it, waits for pushgate to take it out. */
  async function pushedAndRemoved(repo: string): Promise<'refused' | 'removed'> {
    const img = makeImage('bad', `names-${process.pid}-${n++}`);
    await raw.pushBlobs(repo, img.blobs);
    const put = await raw.putManifest(repo, 'v1', img);
    if (put.status !== 201) return 'refused';
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await fetch(`${lab.reg.url}/v2/${repo}/manifests/${img.digest}`, { method: 'HEAD', headers: { accept: img.mediaType } });
      if (r.status === 404) break;
      if (Date.now() > deadline) throw new Error(`${repo}@${img.digest} still served by the registry 30 s after its push`);
      await new Promise((res) => setTimeout(res, 200));
    }
    const v = await lab.srv.store.getVerdict('lab', repo, img.digest as Digest);
    expect(v?.decision, repo).to.equal('quarantine');
    return 'removed';
  }

  it('Team/app, TEAM.example/app, a.B-c.D/x/y: stored by the registry, judged and removed', async () => {
    for (const repo of ['Team/app', 'TEAM.example/app', 'a.B-c.D/x/y', 'lower/app']) expect(await pushedAndRemoved(repo), repo).to.equal('removed');
  });

  it('property: a generated name of the domain form is refused by the registry or judged and removed', async () => {
    await fc.assert(
      fc.asyncProperty(domain, fc.array(lowerComponent, { minLength: 1, maxLength: 2 }), async (first, rest) => {
        const outcome = await pushedAndRemoved([first, ...rest].join('/'));
        expect(outcome).to.be.oneOf(['refused', 'removed']);
      }),
      { numRuns: 12 },
    );
  });
});
