/**
 * A blocked index one of whose children is larger than pushgate reads: its quarantine copy fails at that
 * child, after the children before it were already copied into the quarantine repository, and the action
 * falls back to the delete; what that copy stored there has no quarantine record and no release, and is
 * removed. Real Distribution 2.8 notifying an in-process `pushgate serve` whose
 * `scan.maxManifestBytes` is 4 KiB (the registry's is 4 MiB). Ports 22995-22996.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Digest } from '../../src/core/index.js';
import { DEFAULT_POLICY_YAML } from '../../src/policy/index.js';
import { startGatedLab, type GatedLab } from '../helpers/gated-lab.js';
import { oversize as oversizeBy, makeImage, makeIndex, Raw, sleep, type Image } from '../helpers/raw-push.js';

const REG_PORT = 22995;
const SRV_PORT = 22996;
const LIMIT = 4096;

/** `img` with its manifest padded past {@link LIMIT} (same blobs). */
const oversize = (img: Image): Image => oversizeBy(img, LIMIT);

describe('security: a blocked index with a child over pushgate\'s read limit', function () {
  this.timeout(300_000);
  let lab: GatedLab;
  let raw: Raw;
  const host = `127.0.0.1:${REG_PORT}`;

  before(async () => {
    lab = await startGatedLab({ regPort: REG_PORT, srvPort: SRV_PORT, token: 'olpc-token-0123456789', apiToken: 'olpc-api-0123456789', policyYaml: DEFAULT_POLICY_YAML, tmpPrefix: 'pushgate-olpc-', configure: (c) => { c.scan.maxManifestBytes = LIMIT; c.queue = { ...(c.queue ?? {}), maxAttempts: 3 }; } });
    raw = new Raw(host);
  });
  after(async () => {
    await lab?.stop();
  });

  let run = 0;
  it('property: wherever the oversize child stands in the index, its failed copy leaves nothing unrecorded in the quarantine repository', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(0, 1, 2), async (at) => {
      const repo = `olpc${run}/app`;
      const nonce = `olpc-${run++}-${process.pid}`;
      const bad = makeImage('bad', `${nonce}-bad`);
      const good = makeImage('good', `${nonce}-good`);
      const big = oversize(makeImage('good', `${nonce}-big`));
      for (const c of [good, bad, big]) {
        await raw.pushBlobs(repo, c.blobs);
        expect((await raw.putManifest(repo, c.digest, c)).status).to.equal(201);
      }
      const children = [good, bad];
      children.splice(at, 0, big);
      const ix = makeIndex(children);
      expect((await raw.putManifest(repo, 'multi', ix)).status).to.equal(201);
      const deadline = Date.now() + 150_000;
      let quiet = 0;
      let last = '';
      // Until the repository's audit trail stops changing for 5 s.
      while (Date.now() < deadline && quiet < 10) {
        await sleep(500);
        const a = JSON.stringify(await lab.srv.store.listAudit(500, { repository: repo }));
        quiet = a === last ? quiet + 1 : 0;
        last = a;
      }
      const audit = await lab.srv.store.listAudit(500, { repository: repo });
      const name = (d?: string) => (d === ix.digest ? 'index' : d === good.digest ? 'good' : d === bad.digest ? 'bad' : d === big.digest ? 'big' : d);
      const trail = audit.reverse().map((x) => `${x.action} ${x.repository} ${name(x.digest)} ${x.tag ?? ''} ${JSON.stringify(x.detail ?? {}).slice(0, 300)}`).join('\n');
      const v = await lab.srv.store.getVerdict('lab', repo, ix.digest as Digest);
      expect(v?.enforcement?.status, trail).to.equal('done');
      for (const d of [ix.digest, bad.digest]) expect(await raw.served(repo, d), `${name(d)} served in ${repo}\n${trail}`).to.equal(undefined);
      // In the quarantine repository only what pushgate quarantined and recorded: the clean child never.
      expect(await raw.served(`quarantine/${repo}`, good.digest), `a copy of the clean child in quarantine/${repo}\n${trail}`).to.equal(undefined);
      if (await raw.served(`quarantine/${repo}`, bad.digest)) {
        const vb = await lab.srv.store.getVerdict('lab', repo, bad.digest as Digest);
        expect(vb?.enforcement?.action, `an unrecorded copy of the blocked child in quarantine/${repo}\n${trail}`).to.equal('quarantine');
      }
    }), { numRuns: 3 });
  });
});
