/**
 * A pusher must not make a blocked image the verified base of its next push. On a real Distribution
 * registry notifying a real `pushgate serve`, with `baseImages.repositories: ["*\/debian"]` (meant for
 * `library/debian`, `base/debian`) and a policy whose rule set drops base findings (`excludeBase`):
 * 1. the pusher pushes a vulnerable image to `debian:12`; the gate quarantines it to `quarantine/debian:12`;
 * 2. the catalog's tag listing runs: `quarantine/debian` matches `*\/debian`. Before, the gate judged the
 *    quarantine copy and recorded it in the catalog;
 * 3. the pusher pushes the same layer plus one harmless layer to `team/app:1`. Before, the chain named
 *    `quarantine/debian` as its verified base, `excludeBase` dropped every finding, and the image stayed
 *    pullable. Now a quarantine repository is never a catalog repository: the base is named by history
 *    at most (never trusted by the gate), the findings count, and the push is quarantined.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Digest, Verdict } from '../../src/core/index.js';
import { startGatedLab, type GatedLab } from '../helpers/gated-lab.js';
import { skopeoCopy } from '../helpers/lab.js';
import { DEBIAN_12_OS_RELEASE, dpkgStatus, writeOciImage, type LayerFiles } from '../helpers/oci-image.js';

const POLICY = `apiVersion: pushgate.dev/v1
kind: Policy
metadata: { name: base-scope }
spec:
  ruleSets:
    strict:
      excludeBase: true
      rules:
        - { name: vulns, action: quarantine, match: { vulnerability: {} } }
  mappings: []
  default: { ruleSet: strict, mode: enforce }
`;

describe('security: a quarantine repository never becomes a catalog base', function () {
  this.timeout(180_000);
  let lab: GatedLab;
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-basescope-img-'));
    lab = await startGatedLab({
      regPort: 24830, srvPort: 24831, token: 'base-scope-hook', apiToken: 'base-scope-api', policyYaml: POLICY, tmpPrefix: 'pushgate-basescope-',
      configure: (c) => (c.baseImages = { repositories: [{ registry: 'lab', repositories: ['*/debian'] }], refreshIntervalMs: 0 }),
    });
  });
  after(async () => {
    await lab?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function stored(repository: string, digest: string): Promise<Verdict> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const v = await lab.srv.store.getVerdict('lab', repository, digest as Digest);
      if (v?.enforcement) return v;
      if (Date.now() > deadline) throw new Error(`no enforced verdict for ${repository}@${digest}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('a blocked push copied to quarantine/debian is not recorded by the tag listing, and does not excuse the next push built on it', async () => {
    const vulnerable: LayerFiles = { files: { 'etc/os-release': DEBIAN_12_OS_RELEASE, 'var/lib/dpkg/status': dpkgStatus(['apache2 2.4.54-1']) }, gzip: true };
    const base = writeOciImage(dir, 'base', [vulnerable], { tag: '12' });
    const app = writeOciImage(dir, 'app', [vulnerable, { files: { 'app/hello.txt': 'hello\n' }, gzip: true }], { tag: '1' });

    skopeoCopy(base.ref, `${lab.reg.host}/debian:12`);
    const held = await stored('debian', base.digest);
    expect(held.decision).to.equal('quarantine');
    expect(await lab.tags('quarantine/debian')).to.include('12');

    // The periodic listing of the catalog repositories (run once, here).
    const listed = await lab.srv.gate.baseImages.refresh(lab.srv.gate.baseImagesHost());
    expect(listed.judged, 'quarantine/debian is not listed as a catalog repository').to.equal(0);
    expect(lab.srv.gate.baseImages.catalog.has('lab', 'quarantine/debian', base.digest)).to.equal(false);

    skopeoCopy(app.ref, `${lab.reg.host}/team/app:1`);
    const v = await stored('team/app', app.digest);
    const report = (await lab.srv.store.getReport(app.digest as Digest))!;
    expect(report.bases?.[0]?.repository, 'no catalog base named').to.equal(undefined);
    expect(report.findings.map((f) => f.package)).to.include('apache2');
    expect(v.decision, 'the base layer\'s findings count').to.equal('quarantine');
    expect(await lab.tags('team/app')).to.not.include('1');
  });
});
