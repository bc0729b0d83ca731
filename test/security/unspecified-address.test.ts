/**
 * A loopback registry named by an unspecified address (hostile pod author). Linux's connect(2) sends a
 * TCP connection aimed at 0.0.0.0 to 127.0.0.1 (and one aimed at :: to ::1), and the Go runtimes that
 * pull for a pod (containerd, CRI-O, the kubelet) dial the reference's host unchanged: skopeo, a Go
 * program on containers/image, pulls `0.0.0.0:PORT/lab/app@<digest>` from the registry on
 * 127.0.0.1:PORT. pushgate's host normalizer merged only the loopback names, so such a reference was
 * "not guarded": admitted silently under the shipped `admission.unguarded: allow` (with a warning under
 * the chart's `warn`), for an image the same registry serves blocked or never scanned. Now every
 * spelling of an unspecified address (`0.0.0.0`, `[::]`, `[0:0::0]`, `[::ffff:0:0]`; the inet_aton forms
 * `0`, `0x0`, `0.0` Go reads as host names are refused as `invalid-reference`) reaches a loopback
 * registry on its port and is judged as its image.
 *
 * Real components: Distribution 2.8 (Debian docker-registry) on 127.0.0.1, skopeo as the Go runtime's
 * oracle, raw OCI distribution API pushes, an in-process `pushgate serve` with its TLS admission
 * listener and the shipped admission defaults. Ports 24961-24963.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../src/config/types.js';
import { DEFAULT_POLICY_YAML } from '../../src/policy/index.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { updateDb } from '../../src/vulndb/index.js';
import { podReview, postReview } from '../helpers/admission-review.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../helpers/gate.js';
import { ROOT, startRegistry, type LabRegistry } from '../helpers/lab.js';
import { makeImage, Raw, sha, sleep, type Image } from '../helpers/raw-push.js';

const REG_PORT = 24961;
const API_PORT = 24962;
const ADM_PORT = 24963;
const TOKEN = 'unspecified-address-webhook-token';

/** A dry-run CREATE review in namespace `team` of a Pod whose one container runs `image` with `imagePullPolicy: Always`. */
const teamPodReview = (image: string): unknown => podReview(image, { namespace: 'team', groups: [], dryRun: true, imagePullPolicy: 'Always' });

/** The manifest digest a Go runtime gets for `ref` (skopeo, containers/image), or undefined when it cannot pull it. */
function goPull(ref: string): string | undefined {
  try {
    return sha(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 }));
  } catch {
    return undefined;
  }
}

describe('security: a loopback registry named by an unspecified address (0.0.0.0, [::]) is guarded (real registry, skopeo, real listener)', function () {
  this.timeout(300_000);
  let dir: string;
  let reg: LabRegistry;
  let srv: RunningServer;
  let blocked: Image;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-unspecified-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pushgate',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.crt')], { stdio: 'ignore' });
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv/npm')] });
    fs.writeFileSync(path.join(dir, 'policy.yaml'), DEFAULT_POLICY_YAML);
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.server.listen = `127.0.0.1:${API_PORT}`;
    config.policy = path.join(dir, 'policy.yaml');
    // The blocked manifest, pushed by digest only, stays in the repository for the grace (then it is
    // quarantined): long enough for the assertions, as the default 60 s is for a pod author.
    config.enforcement = { untaggedGraceMs: 600_000 };
    // The shipped admission defaults (unguarded: allow, no namespace rules: never scanned is denied).
    config.admission = { ...config.admission, listen: `127.0.0.1:${ADM_PORT}`, tls: { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key') }, allowUnauthenticated: true };
    expect(config.admission.unguarded).to.equal('allow');
    srv = await startServer(config, silentLogger, { policyWatchMs: 3_600_000 });
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${API_PORT}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}`, env: { NOTIFY_IGNORE_ACTIONS: 'pull' } });
    const raw = new Raw(reg.host);
    // A vulnerable adm-zip: judged blocking, pullable by digest during the grace.
    blocked = makeImage('bad', 'unspecified-blocked');
    await raw.pushBlobs('lab/app', blocked.blobs);
    expect((await raw.putManifest('lab/app', blocked.digest, blocked)).status).to.equal(201);
    for (const until = Date.now() + 60_000; ; await sleep(100)) {
      const v = await srv.store.getVerdict('lab', 'lab/app', blocked.digest);
      if (v) {
        expect(v.decision).to.equal('quarantine');
        break;
      }
      if (Date.now() > until) throw new Error('no verdict for the blocked image');
    }
  });

  after(async () => {
    reg?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('oracle: a Go runtime pulls the guarded registry\'s images through 0.0.0.0:PORT', () => {
    expect(goPull(`127.0.0.1:${REG_PORT}/lab/app@${blocked.digest}`), 'the control, 127.0.0.1').to.equal(blocked.digest);
    expect(goPull(`0.0.0.0:${REG_PORT}/lab/app@${blocked.digest}`), '0.0.0.0 reaches the registry on 127.0.0.1').to.equal(blocked.digest);
  });

  it('a blocked image named through 0.0.0.0 is denied as the guarded registry\'s, not admitted as unguarded', async () => {
    const control = await postReview(ADM_PORT, teamPodReview(`127.0.0.1:${REG_PORT}/lab/app@${blocked.digest}`));
    expect(control.allowed).to.equal(false);
    expect(control.status?.message).to.match(/quarantine/);
    const r = await postReview(ADM_PORT, teamPodReview(`0.0.0.0:${REG_PORT}/lab/app@${blocked.digest}`));
    expect(r.allowed, 'the runtime pulls the blocked image from the guarded registry').to.equal(false);
    expect(r.status?.message).to.match(/quarantine/);
  });

  it('a digest pushgate never judged, named through 0.0.0.0, is denied as never scanned, not admitted as unguarded', async () => {
    const never = `sha256:${'e'.repeat(64)}`;
    const r = await postReview(ADM_PORT, teamPodReview(`0.0.0.0:${REG_PORT}/lab/app@${never}`));
    expect(r.allowed).to.equal(false);
    expect(r.status?.message).to.match(/never scanned/);
  });

  it('property: no spelling of an unspecified address on the registry\'s port is admitted as unguarded; inet_aton forms are refused with the address to write', async () => {
    const v6 = fc.constantFrom('::', '0::', '::0', '0::0', '0:0:0:0:0:0:0:0', '0000::0000', '::ffff:0:0', '::FFFF:0:0');
    const host = fc.oneof(
      fc.constant('0.0.0.0'),
      v6.map((b) => `[${b}]`),
      fc.constantFrom('0', '0x0', '0.0', '0.0.0', '00.0.0.0', '0X00000000'),
    );
    await fc.assert(
      fc.asyncProperty(host, fc.constantFrom(`:${REG_PORT}`, `:0${REG_PORT}`), async (h, port) => {
        const image = `${h}${port}/lab/app@${blocked.digest}`;
        const r = await postReview(ADM_PORT, teamPodReview(image));
        expect(r.allowed, image).to.equal(false);
        expect(r.status?.message, image).to.match(/quarantine|invalid-reference/);
        if (!/^(?:0\.0\.0\.0|\[)/.test(h)) expect(r.status?.message, image).to.include('write 0.0.0.0');
      }),
      { numRuns: 60 },
    );
  });

  it('another port on 0.0.0.0 is another registry (the unguarded rule applies)', async () => {
    const r = await postReview(ADM_PORT, teamPodReview(`0.0.0.0:${REG_PORT + 100}/lab/app@${blocked.digest}`));
    expect(r.allowed).to.equal(true);
  });
});
