/**
 * A blocking digest (enforce mode) is never pullable outside quarantine, whichever way it reached the
 * registry: pushed by tag, pushed by digest only (`PUT /v2/<repo>/manifests/sha256:…`), as the child of
 * an index (nested indexes too), or left behind by a tag that moved on before the policy changed; and a
 * tag restore only ever writes a digest whose CURRENT verdict allows it for that tag.
 *
 * Real components: Distribution 2.8 (Debian docker-registry) with notifications to a real in-process
 * `pushgate serve` (queue workers, enforcement, policy reload and re-evaluation), every push as raw OCI
 * distribution API calls (blob upload, manifest PUT by tag or by digest) the way any client may send
 * them. Images are made here, a few kilobytes each: an npm package.json of adm-zip 0.4.7 (NSWG-NPM-458,
 * fixable high: quarantine under the default policy, warn under the lenient one), adm-zip 0.4.9 (clean)
 * or a private key (reject under both), plus a nonce so every image has its own digest.
 * A second registry without notifications checks the index-children step of quarantine on its own.
 * Ports 22350-22352.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../src/config/types.js';
import { quarantine } from '../../src/enforce/actions/quarantine.js';
import { DEFAULT_POLICY_YAML } from '../../src/policy/index.js';
import { RegistryClient } from '../../src/registry/client.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { updateDb } from '../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../helpers/gate.js';
import { ROOT, startRegistry, type LabRegistry } from '../helpers/lab.js';
import { DOCKER_MANIFEST, makeImage, makeIndex, OCI_MANIFEST, Raw, sha, sleep, type Image, type Kind } from '../helpers/raw-push.js';

const REG_PORT = 22350;
/** `enforcement.untaggedGrace` of this suite's gate. */
const GRACE_MS = 1500;
const API_PORT = 22351;
const PLAIN_PORT = 22352;
const TOKEN = 'digest-pushes-token';
const RC_WARN = DEFAULT_POLICY_YAML.replace('  mappings: []', '  mappings:\n    - name: release-candidates\n      tag: "rc-*"\n      ruleSet: default\n      mode: warn');
const LENIENT = DEFAULT_POLICY_YAML.replace('        - name: fixable-high-vulns\n          action: quarantine', '        - name: fixable-high-vulns\n          action: warn');

describe('security: blocking digests are never pullable outside quarantine (digest pushes, index children, restores)', function () {
  this.timeout(300_000);
  let dir: string;
  let srv: RunningServer;
  let reg: LabRegistry;
  let plain: LabRegistry;
  let raw: Raw;
  let policy: 'default' | 'lenient' | 'rc-warn' = 'default';

  async function setPolicy(p: 'default' | 'lenient' | 'rc-warn'): Promise<void> {
    fs.writeFileSync(path.join(dir, 'policy.yaml'), p === 'default' ? DEFAULT_POLICY_YAML : p === 'lenient' ? LENIENT : RC_WARN);
    const r = await srv.control.reload();
    expect(r.ok, r.problems.join('\n')).to.equal(true);
    policy = p;
  }

  async function lastSeq(): Promise<number> {
    return (await srv.store.listAudit(1))[0]?.seq ?? 0;
  }

  /**
   * Waits until the gate handled the notification of `repo@digest` (as `tag`) recorded after `since`, and
   * the queue is empty (an event deferred by the grace of a manifest pushed by digest only is queued).
   */
  async function handled(repo: string, digest: string, tag: string | undefined, since: number): Promise<void> {
    const until = Date.now() + 60_000;
    for (;;) {
      const recs = await srv.store.listAudit(200, { repository: repo });
      const hit = recs.some((a) => a.seq > since && a.digest === digest && (a.tag ?? undefined) === tag && (a.action.startsWith('verdict:') || a.action === 'own-traffic'));
      if (hit && (await srv.store.queueDepth()) === 0) return;
      if (Date.now() > until) throw new Error(`timed out waiting for the verdict of ${repo}@${digest} (${tag ?? 'by digest'}); audit: ${JSON.stringify(recs.slice(0, 8).map((a) => [a.action, a.tag, a.digest?.slice(7, 19)]))}`);
      await sleep(50);
    }
  }

  /** Pushes an image (blobs, then the manifest by `ref`) and waits for its verdict. @returns the manifest PUT status. */
  async function push(repo: string, img: Image | Pick<Image, 'digest' | 'bytes' | 'mediaType'>, ref: string): Promise<number> {
    if ('blobs' in img) await raw.pushBlobs(repo, img.blobs);
    const since = await lastSeq();
    const r = await raw.putManifest(repo, ref, img);
    if (r.status === 201) await handled(repo, img.digest, ref.startsWith('sha256:') ? undefined : ref, since);
    return r.status;
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-digestpush-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv/npm')] });
    fs.writeFileSync(path.join(dir, 'policy.yaml'), DEFAULT_POLICY_YAML);
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.server.listen = `127.0.0.1:${API_PORT}`;
    config.policy = path.join(dir, 'policy.yaml');
    // A short grace before a blocking manifest pushed by digest only is acted on (the default is 60 s).
    config.enforcement = { untaggedGraceMs: GRACE_MS };
    srv = await startServer(config, silentLogger, { policyWatchMs: 3_600_000 });
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${srv.port}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}`, env: { NOTIFY_IGNORE_ACTIONS: 'pull' } });
    plain = startRegistry(PLAIN_PORT);
    raw = new Raw(reg.host);
  });

  after(async () => {
    reg?.stop();
    plain?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('a manifest pushed by digest only', () => {
    const cases: Array<[string, Kind, string, 'quarantine' | 'reject']> = [
      ['OCI manifest, fixable high vulnerability (quarantine)', 'bad', OCI_MANIFEST, 'quarantine'],
      ['Docker schema 2 manifest, fixable high vulnerability (quarantine)', 'bad', DOCKER_MANIFEST, 'quarantine'],
      ['OCI manifest with a private key (reject)', 'secret', OCI_MANIFEST, 'reject'],
      ['Docker schema 2 manifest with a private key (reject)', 'secret', DOCKER_MANIFEST, 'reject'],
    ];
    cases.forEach(([title, kind, mt, decision], i) => {
      it(`${title}: not pullable by digest outside quarantine`, async () => {
        const repo = `dg${i}/app`;
        const img = makeImage(kind, `dg-${i}`, mt);
        expect(await push(repo, img, img.digest)).to.equal(201);
        const v = await srv.store.getVerdict('lab', repo, img.digest);
        expect(v?.decision).to.equal(decision);
        expect(await raw.served(repo, img.digest), `${repo}@${img.digest} (${decision}, enforcement ${JSON.stringify(v?.enforcement)}) is pullable`).to.equal(undefined);
        const copy = await raw.served(`quarantine/${repo}`, img.digest);
        if (decision === 'quarantine') {
          expect(copy, 'the quarantine copy by digest').to.equal(img.digest);
          const recs = await srv.store.listQuarantine({ registry: 'lab', repository: repo, state: 'quarantined' });
          expect(recs.map((r) => [r.digest, r.tag])).to.deep.equal([[img.digest, '']]);
        } else {
          expect(copy, 'a rejected image is not copied').to.equal(undefined);
        }
      });
    });

    it('pushed with a reference the registry takes for a tag but cannot store (foo:bar, sha256:<upper-case hex>): the registry answers 500 yet keeps the manifest; judged by digest, not pullable outside quarantine', async () => {
      for (const [i, ref] of [[0, 'foo:bar'], [1, `sha256:${'AB'.repeat(32)}`]] as Array<[number, string]>) {
        const repo = `dgcolon${i}/app`;
        const img = makeImage('bad', `dgcolon-${i}`);
        await raw.pushBlobs(repo, img.blobs);
        const since = await lastSeq();
        const r = await raw.putManifest(repo, ref, img);
        // Distribution stored the manifest and notified the push with this "tag"; only the tag link failed.
        expect(r.status, r.body).to.equal(500);
        expect(await raw.served(repo, img.digest), 'the manifest landed, pullable by digest (the threat is real)').to.equal(img.digest);
        await handled(repo, img.digest, undefined, since);
        const v = await srv.store.getVerdict('lab', repo, img.digest);
        expect(v?.decision, ref).to.equal('quarantine');
        expect(await raw.served(repo, img.digest), `${repo}@${img.digest} pushed as ${ref} is pullable`).to.equal(undefined);
        expect(await raw.served(`quarantine/${repo}`, img.digest), 'the quarantine copy by digest').to.equal(img.digest);
      }
    });

    it('pushed by digest into the quarantine prefix by someone else: judged and removed like any push (only children of pushgate\'s own copies stay)', async () => {
      for (const [i, kind, mt] of [[0, 'bad', OCI_MANIFEST], [1, 'secret', DOCKER_MANIFEST]] as Array<[number, Kind, string]>) {
        const repo = `quarantine/dgq${i}/app`;
        const img = makeImage(kind, `dgq-${i}`, mt);
        expect(await push(repo, img, img.digest)).to.equal(201);
        const v = await srv.store.getVerdict('lab', repo, img.digest);
        expect(v?.decision, repo).to.be.oneOf(['quarantine', 'reject']);
        expect(await raw.served(repo, img.digest), `${repo}@${img.digest} (enforcement ${JSON.stringify(v?.enforcement)}) is pullable`).to.equal(undefined);
      }
    });

    it('released from quarantine: back in its repository by digest, not judged again as a push', async () => {
      const repo = 'dgrel/app';
      const img = makeImage('bad', 'dg-rel');
      expect(await push(repo, img, img.digest)).to.equal(201);
      expect(await raw.served(repo, img.digest)).to.equal(undefined);
      const r = await srv.control.release('tester', { registry: 'lab', repository: repo, tag: '', digest: img.digest, reason: 'accepted risk' });
      expect(r.record.state).to.equal('released');
      await sleep(1500);
      expect(await raw.served(repo, img.digest), 'released by digest').to.equal(img.digest);
      expect(await raw.served(`quarantine/${repo}`, img.digest)).to.equal(undefined);
    });

    it('a digest a warn-mode tag still points at is not removed by digest (that would delete the tag); its enforce-mode retag is', async () => {
      expect(RC_WARN).to.not.equal(DEFAULT_POLICY_YAML);
      await setPolicy('rc-warn');
      try {
        const repo = 'dgrc/app';
        const img = makeImage('bad', 'dg-rc');
        expect(await push(repo, img, 'rc-1')).to.equal(201);
        expect(await raw.served(repo, 'rc-1'), 'rc-* maps to warn').to.equal(img.digest);
        expect(await push(repo, img, img.digest)).to.equal(201);
        expect(await raw.served(repo, 'rc-1'), 'still served: its tag maps to warn').to.equal(img.digest);
        expect(await push(repo, img, '1.0')).to.equal(201);
        for (const ref of ['1.0', 'rc-1', img.digest]) expect(await raw.served(repo, ref), ref).to.equal(undefined);
      } finally {
        await setPolicy('default');
      }
    });

    it('a clean manifest pushed by digest stays', async () => {
      const img = makeImage('good', 'dg-good');
      expect(await push('dggood/app', img, img.digest)).to.equal(201);
      expect(await raw.served('dggood/app', img.digest)).to.equal(img.digest);
    });
  });

  describe('referrers of a quarantined image (fallback tag sha256-<hex>, written by anyone who can push)', () => {
    // Distribution has no referrers API: the referrers of V are whatever the index tagged sha256-<V hex>
    // lists. pushgate moves V's referrers with V (copy, then DELETE by digest, which on Distribution also
    // removes every tag of that digest), so the list must not name what it deletes.
    it('a fallback index naming an image that is not a referrer (a clean production image): that image and its tag stay', async () => {
      const repo = 'refforge1/app';
      const prod = makeImage('good', 'refforge-prod');
      expect(await push(repo, prod, 'prod')).to.equal(201);
      const bad = makeImage('bad', 'refforge-bad');
      await raw.pushBlobs(repo, bad.blobs);
      expect(await push(repo, makeIndex([prod]), `sha256-${bad.digest.slice(7)}`)).to.equal(201);
      expect(await push(repo, bad, 'evil')).to.equal(201);
      expect((await srv.store.getVerdict('lab', repo, bad.digest))?.decision).to.equal('quarantine');
      expect(await raw.served(repo, 'evil'), 'the violating tag').to.equal(undefined);
      expect(await raw.served(repo, 'prod'), 'the production tag').to.equal(prod.digest);
      expect(await raw.served(repo, prod.digest), 'the production image by digest').to.equal(prod.digest);
    });

    it('a fallback tag the registry stores but pushgate refuses to read (manifests/Manifests), or that is an image: the violating image is still quarantined', async () => {
      for (const [i, make] of [
        [0, (prod: Image) => Buffer.from(`{"schemaVersion":2,"mediaType":"${'application/vnd.oci.image.index.v1+json'}","manifests":[],"Manifests":[{"mediaType":"${prod.mediaType}","digest":"${prod.digest}","size":${prod.bytes.length}}]}`)],
        [1, (prod: Image) => prod.bytes],
      ] as Array<[number, (prod: Image) => Buffer]>) {
        const repo = `refforge3${i}/app`;
        const prod = makeImage('good', `refforge3-${i}-prod`);
        expect(await push(repo, prod, 'prod')).to.equal(201);
        const bad = makeImage('bad', `refforge3-${i}-bad`);
        await raw.pushBlobs(repo, bad.blobs);
        const bytes = make(prod);
        const fb = await raw.putManifest(repo, `sha256-${bad.digest.slice(7)}`, { bytes, mediaType: i === 0 ? 'application/vnd.oci.image.index.v1+json' : prod.mediaType });
        expect(fb.status, fb.body).to.equal(201);
        await raw.putManifest(repo, 'evil', bad);
        const until = Date.now() + 30_000;
        let v = await srv.store.getVerdict('lab', repo, bad.digest);
        while (!(v?.enforcement && v.enforcement.status !== 'pending') && Date.now() < until) {
          await sleep(100);
          v = await srv.store.getVerdict('lab', repo, bad.digest);
        }
        expect(v?.decision).to.equal('quarantine');
        expect(v?.enforcement?.status, JSON.stringify(v?.enforcement)).to.equal('done');
        expect(await raw.served(repo, 'evil'), 'the violating tag').to.equal(undefined);
        expect(await raw.served(repo, 'prod'), 'the production tag').to.equal(prod.digest);
      }
    });

    it('property: quarantine moves exactly the manifests whose own subject is the image; whatever else the fallback tag names or is stays, tags included (plain registry, the action on its own)', async () => {
      const client = new RegistryClient({ name: 'plain', url: plain.url });
      const praw = new Raw(plain.host);
      let run = 0;
      const referrer = (subject: Image, n: string) => {
        const body = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: n, packages: [] }));
        const cfg = Buffer.from('{}');
        const bytes = Buffer.from(JSON.stringify({
          schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/spdx+json',
          config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha(cfg), size: cfg.length },
          layers: [{ mediaType: 'application/spdx+json', digest: sha(body), size: body.length }],
          subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.bytes.length },
        }));
        return { digest: sha(bytes), bytes, mediaType: OCI_MANIFEST, blobs: [cfg, body] };
      };
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 2 }),
          fc.integer({ min: 0, max: 2 }),
          fc.constantFrom('index-of-all', 'index-of-impostors', 'impostor-image', 'impostor-index'),
          async (genuineCount, impostorCount, fallbackKind) => {
            const repo = `refprop${run}/app`;
            const nonce = `refprop-${run++}`;
            const bad = makeImage('bad', `${nonce}-bad`);
            await praw.pushBlobs(repo, bad.blobs);
            expect((await praw.putManifest(repo, 'evil', bad)).status).to.equal(201);
            const genuine = Array.from({ length: genuineCount }, (_, i) => referrer(bad, `${nonce}-g${i}`));
            for (const g of genuine) {
              await praw.pushBlobs(repo, g.blobs);
              expect((await praw.putManifest(repo, g.digest, g)).status).to.equal(201);
            }
            const impostors = Array.from({ length: Math.max(1, impostorCount) }, (_, i) => makeImage('good', `${nonce}-i${i}`));
            const kept = new Map<string, string>();
            for (const [i, im] of impostors.entries()) {
              await praw.pushBlobs(repo, im.blobs);
              expect((await praw.putManifest(repo, `keep-${i}`, im)).status).to.equal(201);
              kept.set(`keep-${i}`, im.digest);
            }
            const impostorIndex = makeIndex(impostors);
            expect((await praw.putManifest(repo, 'keep-index', impostorIndex)).status).to.equal(201);
            kept.set('keep-index', impostorIndex.digest);
            const fallback = `sha256-${bad.digest.slice(7)}`;
            const listed = fallbackKind === 'index-of-all' ? [...genuine, ...impostors.slice(0, impostorCount)] : impostors;
            const fb =
              fallbackKind === 'impostor-image' ? impostors[0]!
              : fallbackKind === 'impostor-index' ? impostorIndex
              : { bytes: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: listed.map((d) => ({ mediaType: d.mediaType, digest: d.digest, size: d.bytes.length })) })), mediaType: 'application/vnd.oci.image.index.v1+json' };
            expect((await praw.putManifest(repo, fallback, fb)).status).to.equal(201);
            const fbDigest = await praw.served(repo, fallback);
            await quarantine(client, repo, bad.digest, 'evil', 'quarantine/');
            expect(await praw.served(repo, 'evil'), 'the quarantined tag').to.equal(undefined);
            for (const [t, d] of kept) expect(await praw.served(repo, t), `${t} (fallback ${fallbackKind})`).to.equal(d);
            for (const im of impostors) expect(await praw.served(repo, im.digest)).to.equal(im.digest);
            // Genuine referrers move only when the fallback list named them (Distribution has no other list).
            const listedGenuine = fallbackKind === 'index-of-all' ? genuine : [];
            for (const g of listedGenuine) {
              expect(await praw.served(repo, g.digest), 'a referrer left behind').to.equal(undefined);
              expect(await praw.served(`quarantine/${repo}`, g.digest), 'a referrer copied').to.equal(g.digest);
            }
            const fbOwn = fallbackKind === 'index-of-all' && impostorCount === 0;
            expect(await praw.served(repo, fallback), 'the fallback tag').to.equal(fbOwn ? undefined : fbDigest);
          },
        ),
        { numRuns: 12 },
      );
    });

    it('the production index itself pushed again as the fallback tag: it and its production tag stay', async () => {
      const repo = 'refforge2/app';
      const child = makeImage('good', 'refforge2-child');
      expect(await push(repo, child, 'base')).to.equal(201);
      const prodIndex = makeIndex([child]);
      expect(await push(repo, prodIndex, 'prod')).to.equal(201);
      const bad = makeImage('secret', 'refforge2-bad');
      await raw.pushBlobs(repo, bad.blobs);
      expect(await push(repo, prodIndex, `sha256-${bad.digest.slice(7)}`)).to.equal(201);
      expect(await push(repo, bad, 'evil')).to.equal(201);
      expect((await srv.store.getVerdict('lab', repo, bad.digest))?.decision).to.equal('reject');
      expect(await raw.served(repo, 'evil'), 'the violating tag').to.equal(undefined);
      expect(await raw.served(repo, 'prod'), 'the production tag').to.equal(prodIndex.digest);
    });
  });

  describe('index children', () => {
    it('a blocking child pushed by digest, its index within the grace: the index is accepted and quarantined with the child; neither is pullable outside quarantine', async () => {
      const repo = 'ix1/app';
      const bad = makeImage('bad', 'ix1-bad');
      const good = makeImage('good', 'ix1-good');
      const since = await lastSeq();
      // As clients push an index: every child by digest, then the index by tag, without waiting.
      for (const c of [good, bad]) {
        await raw.pushBlobs(repo, c.blobs);
        expect((await raw.putManifest(repo, c.digest, c)).status).to.equal(201);
      }
      const index = makeIndex([good, bad]);
      const put = await raw.putManifest(repo, 'v1', index);
      expect(put.status, `the index PUT within the grace: ${put.body}`).to.equal(201);
      await handled(repo, index.digest, 'v1', since);
      await handled(repo, bad.digest, undefined, since);
      expect(await raw.served(repo, bad.digest), 'the blocking child').to.equal(undefined);
      expect(await raw.served(repo, 'v1'), 'the index tag').to.equal(undefined);
      expect(await raw.served(repo, index.digest), 'the index by digest').to.equal(undefined);
      expect(await raw.served(`quarantine/${repo}`, 'v1'), 'the quarantined index').to.equal(index.digest);
      expect(await raw.served(`quarantine/${repo}`, bad.digest), 'its blocking child, in quarantine with it').to.equal(bad.digest);
      expect(await raw.served(repo, good.digest), 'the clean child stays').to.equal(good.digest);
    });

    it('a blocking child pushed by digest after its grace ended once: pushed again, it is acted on at once (no new grace), and an index naming it is refused', async () => {
      const repo = 'ix4/app';
      const bad = makeImage('bad', 'ix4-bad');
      expect(await push(repo, bad, bad.digest)).to.equal(201);
      expect(await raw.served(repo, bad.digest), 'removed after its grace').to.equal(undefined);
      const since = await lastSeq();
      expect((await raw.putManifest(repo, bad.digest, bad)).status).to.equal(201);
      await handled(repo, bad.digest, undefined, since);
      const deferred = (await srv.store.listAudit(50, { repository: repo, action: 'enforcement-deferred' })).filter((a) => a.seq > since);
      expect(deferred, 'acted on without a second grace').to.deep.equal([]);
      expect(await raw.served(repo, bad.digest)).to.equal(undefined);
      const put = await raw.putManifest(repo, 'v1', makeIndex([bad]));
      expect(put.status, 'the registry refuses an index naming a manifest that is gone').to.equal(400);
      expect(put.body).to.match(/MANIFEST_BLOB_UNKNOWN|MANIFEST_UNKNOWN/);
    });

    for (const nested of [false, true]) {
      it(`an index${nested ? ' nested in an index' : ''} allowed under a lenient policy, then blocked by a policy change: its blocking children leave the repository`, async () => {
        const repo = nested ? 'ix3/app' : 'ix2/app';
        await setPolicy('lenient');
        try {
          const bad = makeImage('bad', `${repo}-bad`);
          const good = makeImage('good', `${repo}-good`);
          for (const c of [bad, good]) expect(await push(repo, c, c.digest)).to.equal(201);
          const inner = makeIndex([good, bad]);
          const top = nested ? makeIndex([inner]) : inner;
          if (nested) expect(await push(repo, inner, inner.digest)).to.equal(201);
          expect(await push(repo, top, 'v1')).to.equal(201);
          // A nested index is not scanned (incomplete: quarantined under either policy); a flat one passes the lenient policy.
          expect(await raw.served(repo, 'v1'), nested ? 'quarantined as incomplete' : 'allowed under the lenient policy').to.equal(nested ? undefined : top.digest);
          await setPolicy('default');
          for (const [what, d] of [['the blocking child', bad.digest], ['the inner index', inner.digest], ['the index', top.digest], ['the tag', 'v1']] as const) {
            expect(await raw.served(repo, d), `${what} ${repo}/${d} is pullable after the policy change`).to.equal(undefined);
          }
          expect(await raw.served(`quarantine/${repo}`, 'v1'), 'the quarantined index').to.equal(top.digest);
          expect(await raw.served(`quarantine/${repo}`, bad.digest), 'its child in quarantine').to.equal(bad.digest);
          expect(await raw.served(repo, good.digest), 'the clean child stays').to.equal(good.digest);
        } finally {
          await setPolicy('default');
        }
      });
    }

    it('quarantine of an index (the action on its own, real registry): blocking children and nested indexes leave, clean ones stay', async () => {
      const p = new Raw(plain.host);
      const client = new RegistryClient({ name: 'plain', url: plain.url });
      const repo = 'kids/app';
      const bad = makeImage('bad', 'kids-bad');
      const good = makeImage('good', 'kids-good');
      const bad2 = makeImage('bad', 'kids-bad2');
      for (const c of [bad, good, bad2]) {
        await p.pushBlobs(repo, c.blobs);
        expect((await p.putManifest(repo, c.digest, c)).status).to.equal(201);
      }
      const inner = makeIndex([bad2]);
      expect((await p.putManifest(repo, inner.digest, inner)).status).to.equal(201);
      const top = makeIndex([good, bad, inner]);
      expect((await p.putManifest(repo, 'v1', top)).status).to.equal(201);
      const blocking = new Set([bad.digest, bad2.digest]);
      const r = await quarantine(client, repo, top.digest, 'v1', 'quarantine/', undefined, async (d) => blocking.has(d));
      expect(r.detail).to.contain('blocking child manifests');
      for (const d of [top.digest, bad.digest, inner.digest, bad2.digest]) expect(await p.served(repo, d), d).to.equal(undefined);
      expect(await p.served(repo, good.digest)).to.equal(good.digest);
      for (const d of [top.digest, bad.digest, inner.digest, bad2.digest, good.digest]) expect(await p.served(`quarantine/${repo}`, d), `quarantined ${d}`).to.equal(d);
    });
  });

  it('F6: re-evaluation never writes a now-blocking digest back on a tag (app:t ends absent or on a digest allowed now)', async () => {
    const repo = 'f6/app';
    await setPolicy('lenient');
    const B = makeImage('good', 'f6-B');
    const A = makeImage('bad', 'f6-A');
    const C = makeImage('bad', 'f6-C');
    for (const img of [B, A, C]) {
      expect(await push(repo, img, 't')).to.equal(201);
      expect(await raw.served(repo, 't')).to.equal(img.digest);
    }
    // A again by digest only: its verdict becomes the most recently updated one.
    expect(await push(repo, A, A.digest)).to.equal(201);
    await setPolicy('default');
    await sleep(1000);
    const now = await raw.served(repo, 't');
    expect(now, `${repo}:t serves A (adm-zip 0.4.7, quarantine under the policy in force)`).to.not.equal(A.digest);
    expect(now, `${repo}:t serves C`).to.not.equal(C.digest);
    expect([undefined, B.digest]).to.include(now);
    expect(await raw.served(repo, A.digest), 'A by digest').to.equal(undefined);
    expect(await raw.served(repo, C.digest), 'C by digest').to.equal(undefined);
  });

  it('a restore passes over a digest allowed for the tag then but blocking now, and audits why', async () => {
    const repo = 'rs/app';
    await setPolicy('lenient');
    const B = makeImage('good', 'rs-B');
    const A = makeImage('bad', 'rs-A');
    const C = makeImage('bad', 'rs-C');
    for (const img of [B, A, C]) expect(await push(repo, img, 't')).to.equal(201);
    await setPolicy('default');
    // C (on t) is quarantined by the re-evaluation; A, allowed for t before, blocks now: t goes back to B.
    expect(await raw.served(repo, 't')).to.equal(B.digest);
    for (const d of [A.digest, C.digest]) expect(await raw.served(repo, d)).to.equal(undefined);
    const passed = (await srv.store.listAudit(100, { repository: repo })).filter((a) => a.action === 'restore-passed-over');
    expect(passed.length, 'an audit record names the digest passed over').to.be.greaterThan(0);
    expect(JSON.stringify(passed.map((p) => p.detail))).to.contain(A.digest);
    await setPolicy('default');
  });

  it('property: no tag or digest outside quarantine resolves to a manifest that blocks under the policy in force', async () => {
    const pool: Image[] = [makeImage('good', 'p-g1'), makeImage('good', 'p-g2'), makeImage('bad', 'p-b1'), makeImage('bad', 'p-b2'), makeImage('secret', 'p-s1')];
    const blocksNow = (d: string) => {
      const k = pool.find((i) => i.digest === d)?.kind;
      return k === 'secret' || (k === 'bad' && policy === 'default');
    };
    type Step = { op: 'tag'; img: number; tag: string } | { op: 'digest'; img: number } | { op: 'retag'; from: string; to: string } | { op: 'policy' };
    const tags = ['a', 'b'];
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ op: fc.constant('tag' as const), img: fc.nat(pool.length - 1), tag: fc.constantFrom(...tags) }),
      fc.record({ op: fc.constant('digest' as const), img: fc.nat(pool.length - 1) }),
      fc.record({ op: fc.constant('retag' as const), from: fc.constantFrom(...tags), to: fc.constantFrom(...tags) }),
      fc.constant({ op: 'policy' as const }),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), async (steps) => {
        const repo = `prop/r${run++}`;
        for (const img of pool) await raw.pushBlobs(repo, img.blobs);
        const trail: string[] = [];
        for (const s of steps) {
          if (s.op === 'tag') await push(repo, pool[s.img]!, s.tag);
          else if (s.op === 'digest') await push(repo, pool[s.img]!, pool[s.img]!.digest);
          else if (s.op === 'policy') await setPolicy(policy === 'default' ? 'lenient' : 'default');
          else {
            const m = await raw.getManifest(repo, s.from);
            if (m) await push(repo, { digest: sha(m.bytes), bytes: m.bytes, mediaType: m.mediaType }, s.to);
          }
          trail.push(`${JSON.stringify(s)} → policy ${policy}`);
          for (const ref of [...tags, ...pool.map((i) => i.digest)]) {
            const d = await raw.served(repo, ref);
            if (d && blocksNow(d)) throw new Error(`${repo}${ref.startsWith('sha256:') ? '@' : ':'}${ref} serves ${pool.find((i) => i.digest === d)?.kind} ${d}, blocking under the ${policy} policy, after:\n${trail.join('\n')}`);
          }
        }
      }),
      { numRuns: 10, endOnFailure: true },
    );
    await setPolicy('default');
  });
});
