/**
 * One admission review must not be able to hold every other review past its deadline. Each distinct
 * tag a review names costs a registry request on the registry client's few connections, which every
 * review and scan shares; a pod author's dry-run Pod listing 20,000 tags (1.7 MB, under the API server's
 * 3 MB request limit; a dry run is never stored, so etcd's object size does not apply) kept another
 * team's review waiting until its deadline, and it was denied. So a review naming more distinct images
 * than `admission.maxImagesPerReview` is denied before any is looked up, in every workload kind and
 * wherever the images are written (containers, init and ephemeral containers, image volumes).
 *
 * Real components: Distribution 2.8 (Debian docker-registry) notifying a real in-process `pushgate
 * serve` (queue workers, admission listener over TLS on loopback), raw OCI distribution API pushes.
 * Ports 22973-22975.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PushgateConfig } from '../../src/config/types.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { updateDb } from '../../src/vulndb/index.js';
import { postReview } from '../helpers/admission-review.js';
import { labGateConfig, labRegistryConfig, metricValue, silentLogger } from '../helpers/gate.js';
import { ROOT, startRegistry, type LabRegistry } from '../helpers/lab.js';
import { makeImage, Raw, sleep } from '../helpers/raw-push.js';

const REG_PORT = 22973;
const API_PORT = 22974;
const ADM_PORT = 22975;
const TOKEN = 'many-images-webhook-token';
const API = 'many-images-api-token';

/** Where a PodSpec sits in each workload kind. */
const POD_SPEC: Record<string, string[]> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
  PodTemplate: ['template', 'spec'],
};

type Place = 'containers' | 'initContainers' | 'ephemeralContainers' | 'volumes';

/** A CREATE review of a `kind` object whose PodSpec holds `images[i]` at `places[i]` (pull policy Always). */
function reviewOf(kind: string, images: string[], places: Place[], dryRun = false): unknown {
  const spec: Record<string, unknown[]> = {};
  images.forEach((image, i) => {
    const place = places[i % places.length]!;
    const list = (spec[place] ??= []);
    list.push(place === 'volumes' ? { name: `v${i}`, image: { reference: image, pullPolicy: 'Always' } } : { name: `c${i}`, image, imagePullPolicy: 'Always' });
  });
  spec.containers ??= [{ name: 'main', image: images[0], imagePullPolicy: 'Always' }];
  let object: Record<string, unknown> = spec;
  for (const seg of [...POD_SPEC[kind]!].reverse()) object = { [seg]: object };
  object = { apiVersion: 'v1', kind, metadata: { name: 'w', namespace: 'team' }, ...object };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: `u-${Math.random().toString(36).slice(2)}`, kind: { group: '', version: 'v1', kind }, namespace: 'team', operation: 'CREATE', dryRun, userInfo: { username: 'dev' }, object },
  };
}

describe('security: a review naming more distinct images than admission.maxImagesPerReview is denied before any lookup (real registry, real listener)', function () {
  this.timeout(300_000);
  let dir: string;
  let reg: LabRegistry;
  let srv: RunningServer;
  let good: string;

  const registryRequests = async () => metricValue(await (await fetch(`http://127.0.0.1:${API_PORT}/metrics`)).text(), 'pushgate_registry_requests_total', { registry: 'lab' });

  async function start(max: number | undefined): Promise<void> {
    await srv?.close();
    const config: PushgateConfig = labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, TOKEN)]);
    config.server.listen = `127.0.0.1:${API_PORT}`;
    config.api.tokens = [API];
    config.admission = { ...config.admission, listen: `127.0.0.1:${ADM_PORT}`, tls: { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key') }, allowUnauthenticated: true, digestCacheTtlMs: 0 };
    if (max !== undefined) config.admission.maxImagesPerReview = max;
    srv = await startServer(config, silentLogger);
  }

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-many-images-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pushgate',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.crt')], { stdio: 'ignore' });
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    await start(undefined);
    reg = startRegistry(REG_PORT, { notifyUrl: `http://127.0.0.1:${API_PORT}/webhooks/distribution`, notifyHeader: `Authorization: Bearer ${TOKEN}` });
    const raw = new Raw(reg.host);
    const img = makeImage('good', 'many-images');
    await raw.pushBlobs('lab/app', img.blobs);
    expect((await raw.putManifest('lab/app', '1', img)).status).to.equal(201);
    good = `${reg.host}/lab/app:1`;
    for (const until = Date.now() + 60_000; ; await sleep(100)) {
      const r = await fetch(`http://127.0.0.1:${API_PORT}/api/v1/verdicts?image=${encodeURIComponent(good)}`, { headers: { authorization: `Bearer ${API}` } });
      if (r.status === 200 && ((await r.json()) as { decision: string }).decision === 'allow') break;
      if (Date.now() > until) throw new Error('no allow verdict for the lab image');
    }
  });

  after(async () => {
    reg?.stop();
    await srv?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('at the default limit, a dry-run review of 20,000 tags is denied without a registry request, and another review made meanwhile is admitted', async () => {
    const many = Array.from({ length: 20_000 }, (_, i) => `${reg.host}/lab/app:t${i}`);
    const before = await registryRequests();
    const big = postReview(ADM_PORT, reviewOf('Pod', many, ['containers'], true));
    // The other review is sent once the big one is answered or has started looking tags up.
    let answered = false;
    void big.finally(() => (answered = true));
    while (!answered && (await registryRequests()) === before) await sleep(20);
    const small = await postReview(ADM_PORT, reviewOf('Pod', [good], ['containers']));
    expect(small.allowed, small.status?.message).to.equal(true);
    const b = await big;
    expect(b.allowed).to.equal(false);
    expect(b.status?.message).to.contain('names 20000 distinct images to judge, more than admission.maxImagesPerReview (100)');
    // The one request is the small review's tag.
    expect(await registryRequests() - before).to.be.at.most(2);
  });

  it('any workload kind, images in any place, repeats counted once: over the configured limit denied with no lookup, within it judged (generated)', async () => {
    const MAX = 6;
    await start(MAX);
    let over = 0;
    let within = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Object.keys(POD_SPEC)),
        fc.array(fc.integer({ min: 0, max: MAX + 4 }), { minLength: 1, maxLength: 24 }),
        fc.array(fc.constantFrom<Place>('containers', 'initContainers', 'ephemeralContainers', 'volumes'), { minLength: 1, maxLength: 4 }),
        async (kind, tags, places) => {
          // Tag 0 is the judged lab image; others name tags the registry does not have.
          const images = tags.map((t) => (t === 0 ? good : `${reg.host}/lab/app:t${t}`));
          const listed = new Set(images);
          // The fallback `containers` entry reuses images[0], so it adds no distinct image.
          const before = await registryRequests();
          const r = await postReview(ADM_PORT, reviewOf(kind, images, places));
          const spent = (await registryRequests()) - before;
          if (listed.size > MAX) {
            over++;
            expect(r.allowed).to.equal(false);
            expect(r.status?.message).to.contain(`names ${listed.size} distinct images to judge, more than admission.maxImagesPerReview (${MAX})`);
            expect(spent, 'registry requests for a refused review').to.equal(0);
          } else {
            within++;
            expect(r.status?.message ?? '').to.not.contain('maxImagesPerReview');
            expect(r.allowed, r.status?.message).to.equal(listed.size === 1 && listed.has(good));
          }
        },
      ),
      {
        numRuns: 40,
        // Both sides of the limit every run, whatever the generator draws (four of each at least).
        examples: [
          ['Pod', [1, 2, 3, 4, 5, 6, 7], ['containers']],
          ['Deployment', [0, 1, 2, 3, 4, 5, 6, 7, 8], ['initContainers', 'containers']],
          ['CronJob', [8, 7, 6, 5, 4, 3, 2, 1, 1], ['ephemeralContainers']],
          ['Pod', [10, 9, 8, 7, 6, 5, 4, 3, 2, 1], ['volumes', 'containers']],
          ['Pod', [0], ['containers']],
          ['Deployment', [0, 0, 0], ['initContainers']],
          ['CronJob', [1, 2, 1, 2], ['containers', 'volumes']],
          ['Pod', [0, 1, 2, 3, 4, 5], ['ephemeralContainers', 'containers']],
        ],
      },
    );
    expect(over).to.be.greaterThan(3);
    expect(within).to.be.greaterThan(3);
  });
});
