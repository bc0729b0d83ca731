/**
 * Image-ID references (hostile pod author): `image: sha256:<hex>` runs an image already on the node.
 *
 * distribution/reference (the kubelet's `applyDefaultImageTag`, and pushgate's parser before this fix)
 * reads `sha256:3f4a…` as Docker Hub's `library/sha256` with the tag `3f4a…`: it has a tag, so the kubelet
 * passes it to the runtime unchanged, and the API server defaults its pull policy to `IfNotPresent`.
 * containerd's CRI answers the kubelet's `ImageStatus` through `LocalResolve` (internal/cri/server/images/
 * service.go): a string go-digest `Parse`s is taken as an image ID, and a name that is not on the node falls
 * back to the image store's `Get`, whose `digestset.Lookup` accepts any prefix of an ID
 * (vendor/github.com/opencontainers/go-digest/digestset/set.go). Docker (cri-dockerd) does the same in
 * `GetImage`. The kubelet finds the image "already present on machine" and starts it: whatever image the
 * node holds under that ID, pulled from any registry, for any pod, before or after pushgate blocked it.
 *
 * pushgate judged the reference as an unguarded Docker Hub tag, so the chart's `admission.unguarded: warn`
 * (and the built-in `allow`) admitted it, and so did `unguarded: deny` with an exemption of Docker Hub's
 * official images (`docker.io/library/*`). It is now refused as `invalid-reference` in every place a pod
 * names an image (containers, init containers, `kubectl debug`'s ephemeral containers, image volumes)
 * and under every workload kind's template.
 *
 * The property's oracle is a transcription of containerd's lookup (go-digest `Validate`, digestset
 * `Lookup`/`checkShortMatch`), not pushgate's parser.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- AdmissionReview fixtures are JSON edited in place */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { validateReview, mutateReview, type AdmissionDeps } from '../../../src/admission/review.js';
import { createDigestCache } from '../../../src/admission/digest-cache.js';
import type { PushgateConfig } from '../../../src/config/types.js';
import { startAdmissionListener, type AdmissionListener } from '../../../src/server/admission-listener.js';
import { postReview } from '../../helpers/admission-review.js';
import { ROOT } from '../../helpers/lab.js';
import { FakeGate, admissionConfig, dg, verdict } from './fake-gate.js';

/** The image ID (config digest) of a guarded image pushgate blocked, still cached on a node. */
const BLOCKED_ID_HEX = '3f4a9c0e5b7d21f86a4c3e2b1d0f9e8d7c6b5a4938271605f4e3d2c1b0a99887';
const BLOCKED_ID = `sha256:${BLOCKED_ID_HEX}`;

function fixture(name: string): Record<string, any> {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'test/fixtures/admission', name), 'utf8')) as Record<string, any>;
}

/** A review of the fixture with `uid`, after `edit` changed its object. */
function reviewOf(name: string, uid: string, edit: (object: Record<string, any>) => void): Record<string, any> {
  const r = fixture(name);
  r.request.uid = uid;
  edit(r.request.object);
  return r;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * containerd's answer to the kubelet's ImageStatus for `s` on a node whose image store holds `ids` and no
 * image named `s`: the ID it resolves `s` to through the ID path, or undefined. Transcribed from
 * containerd `LocalResolve` → go-digest `Parse`/`Validate` → digestset `Lookup`/`checkShortMatch`
 * (containerd main, Aug 2026); ambiguity (two IDs sharing the prefix) resolves nothing.
 */
function containerdResolvesAsId(s: string, ids: string[]): string | undefined {
  const sizes: Record<string, number> = { sha256: 32, sha384: 48, sha512: 64 };
  const i = s.indexOf(':');
  let alg = '';
  let hex = s;
  if (i > 0 && i + 1 < s.length) {
    const a = s.slice(0, i);
    const enc = s.slice(i + 1);
    const invalidFormat = a in sizes ? enc.length === sizes[a]! * 2 && !/^[a-f0-9]+$/.test(enc) : !/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(s);
    if (!invalidFormat) {
      alg = a;
      hex = enc;
    }
  }
  const matches = ids.filter((id) => {
    const [ia, ih] = id.split(':') as [string, string];
    return ih.startsWith(hex) && (alg === '' || ia === alg);
  });
  return matches.length === 1 ? matches[0] : undefined;
}

/** The kubelet's applyDefaultImageTag, for the references generated here: `:latest` when neither tag nor digest. */
function kubeletImage(image: string): string {
  const name = image.split('@')[0]!;
  const afterSlash = name.slice(name.lastIndexOf('/') + 1);
  return image.includes('@') || afterSlash.includes(':') ? image : `${image}:latest`;
}

describe('admission: image-ID references the runtime resolves among the node\'s images', function () {
  this.timeout(30_000);
  let dir: string;
  let listener: AdmissionListener;
  let gate: FakeGate;
  let apiServer: { cert: Buffer; key: Buffer };
  /** The chart's shipped admission settings that matter here: unguarded images warn, never-scanned deny. */
  const config: PushgateConfig['admission'] = admissionConfig({ unguarded: 'warn', unpinnedTags: 'deny' });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-image-id-'));
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(dir, ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-keyout', 'ca.key', '-out', 'ca.crt']);
    openssl(dir, ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', 'tls.key', '-out', 'tls.crt']);
    fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
    openssl(dir, ['req', ...ec, '-subj', '/CN=kube-apiserver', '-keyout', 'client.key', '-out', 'client.csr']);
    openssl(dir, ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'client.ext', '-out', 'client.crt']);
    apiServer = { cert: fs.readFileSync(path.join(dir, 'client.crt')), key: fs.readFileSync(path.join(dir, 'client.key')) };
    gate = new FakeGate();
    // The fixtures' guarded images: admitted by their verdicts (tags resolved, pull policies set below).
    gate.tags.set('team/app:1.4.2', dg(1));
    gate.tags.set('team/app-migrations:1.4.2', dg(2));
    gate.tags.set('tools/debug:2.0', dg(3));
    gate.tags.set('ml/model:v3', dg(4));
    for (const [repo, n] of [['team/app', 1], ['team/app-migrations', 2], ['tools/debug', 3], ['ml/model', 4]] as const) gate.put(verdict(repo, dg(n), 'allow'));
    listener = await startAdmissionListener(
      { gate, config, digestCache: createDigestCache(gate, config.digestCacheTtlMs) },
      { listen: '127.0.0.1:0', cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key'), clientCA: path.join(dir, 'ca.crt'), clientNames: ['kube-apiserver'] },
    );
  });
  after(async () => {
    await listener?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Pins the fixtures' guarded tags by digest, so the only question left in a review is the edited image. */
  const pinned = (o: Record<string, any>) => {
    for (const list of ['initContainers', 'containers', 'ephemeralContainers']) {
      for (const c of (o.spec[list] ?? []) as Array<Record<string, any>>) c.imagePullPolicy = 'Always';
    }
    for (const v of (o.spec.volumes ?? []) as Array<Record<string, any>>) if (v.image) v.image.pullPolicy = 'Always';
  };

  it('control: the fixtures as they are (guarded images allowed, pulled with Always) are admitted', async () => {
    for (const name of ['admissionreview-pod-create.json', 'admissionreview-pod-ephemeralcontainers.json', 'admissionreview-pod-image-volume.json']) {
      const r = await postReview(listener.port, reviewOf(name, `ctl-${name}`, pinned), apiServer);
      expect(r.allowed, `${name}: ${r.status?.message}`).to.equal(true);
    }
  });

  it('a Pod container naming sha256:<ID> (IfNotPresent, as the API server defaults it) is refused, not admitted as an unguarded Docker Hub tag', async () => {
    expect(containerdResolvesAsId(kubeletImage(BLOCKED_ID), [BLOCKED_ID]), 'containerd runs the cached image').to.equal(BLOCKED_ID);
    const body = reviewOf('admissionreview-pod-create.json', 'id-1', (o) => {
      pinned(o);
      o.spec.containers[0].image = BLOCKED_ID;
      o.spec.containers[0].imagePullPolicy = 'IfNotPresent';
    });
    const r = await postReview(listener.port, body, apiServer);
    expect(r.allowed, JSON.stringify(r)).to.equal(false);
    expect(r.status?.message).to.match(/invalid-reference/).and.to.match(/spec\.containers\[0\]\.image/).and.to.match(/ID/);
    expect(gate.resolveCalls.some((c) => c.includes('sha256')), 'nothing is resolved for it').to.equal(false);
  });

  it('a truncated ID (sha256:3f4a9c) in an init container is refused too (containerd takes any unique prefix)', async () => {
    const short = BLOCKED_ID.slice(0, 'sha256:'.length + 6);
    expect(containerdResolvesAsId(kubeletImage(short), [BLOCKED_ID, `sha256:${'0'.repeat(64)}`])).to.equal(BLOCKED_ID);
    const body = reviewOf('admissionreview-pod-create.json', 'id-2', (o) => {
      pinned(o);
      o.spec.initContainers[0].image = short;
      o.spec.initContainers[0].imagePullPolicy = 'Never';
    });
    const r = await postReview(listener.port, body, apiServer);
    expect(r.allowed).to.equal(false);
    expect(r.status?.message).to.match(/invalid-reference/).and.to.match(/initContainers\[0\]/);
  });

  it('kubectl debug: an ephemeral container naming sha256:<ID> on the pods/ephemeralcontainers subresource is refused', async () => {
    const body = reviewOf('admissionreview-pod-ephemeralcontainers.json', 'id-3', (o) => {
      pinned(o);
      o.spec.ephemeralContainers[0].image = BLOCKED_ID;
      o.spec.ephemeralContainers[0].imagePullPolicy = 'IfNotPresent';
    });
    const r = await postReview(listener.port, body, apiServer);
    expect(r.allowed).to.equal(false);
    expect(r.status?.message).to.match(/invalid-reference/).and.to.match(/ephemeralContainers\[0\]/);
  });

  it('an image volume whose reference is sha256:<ID> is refused', async () => {
    const body = reviewOf('admissionreview-pod-image-volume.json', 'id-4', (o) => {
      pinned(o);
      const vol = (o.spec.volumes as Array<Record<string, any>>).find((v) => v.image)!;
      vol.image = { reference: BLOCKED_ID, pullPolicy: 'IfNotPresent' };
    });
    const r = await postReview(listener.port, body, apiServer);
    expect(r.allowed).to.equal(false);
    expect(r.status?.message).to.match(/invalid-reference/).and.to.match(/volumes\[\d\]\.image\.reference/);
  });

  it('the mutating webhook leaves it alone (no pin is made up for it)', async () => {
    const body = reviewOf('admissionreview-pod-create.json', 'id-5', (o) => {
      pinned(o);
      o.spec.containers[0].image = BLOCKED_ID;
    });
    const r = (await mutateReview(body, { gate, config })).body as { response: { allowed: boolean; patch?: string } };
    expect(r.response.allowed).to.equal(true);
    const ops = JSON.parse(Buffer.from(r.response.patch ?? 'W10=', 'base64').toString('utf8')) as Array<{ path: string }>;
    expect(ops.map((o) => o.path), 'the other (guarded) tags are pinned').to.include('/spec/initContainers/0/image');
    expect(ops.map((o) => o.path)).not.to.include('/spec/containers/0/image');
  });

  it('the full Docker Hub spelling docker.io/library/sha256:<hex> is a name to the runtime, and is judged as one', async () => {
    const full = `docker.io/library/${BLOCKED_ID}`;
    expect(containerdResolvesAsId(kubeletImage(full), [BLOCKED_ID])).to.equal(undefined);
    const body = reviewOf('admissionreview-pod-create.json', 'id-6', (o) => {
      pinned(o);
      o.spec.containers[0].image = full;
    });
    const r = await postReview(listener.port, body, apiServer);
    // unguarded: warn admits a Docker Hub name with a warning; it is not taken for an ID
    expect(r.allowed, r.status?.message).to.equal(true);
    expect(r.warnings?.join(' ')).to.match(/not guarded/);
  });

  describe('property: whatever containerd resolves as a cached image ID is refused, in every place and kind', () => {
    const hex = (min: number, max: number) => fc.stringMatching(new RegExp(`^[a-f0-9]{${min},${max}}$`));
    /** References built around the node's image ID: its prefixes (the attack) and look-alikes. */
    const reference = fc.oneof(
      hex(1, 64).map((h) => ({ kind: 'prefix-of-other', image: `sha256:${h}` })),
      fc.integer({ min: 1, max: 64 }).map((n) => ({ kind: 'prefix', image: `sha256:${BLOCKED_ID_HEX.slice(0, n)}` })),
      fc.tuple(fc.integer({ min: 1, max: 64 }), hex(64, 64)).map(([n, d]) => ({ kind: 'prefix+digest', image: `sha256:${BLOCKED_ID_HEX.slice(0, n)}@sha256:${d}` })),
      fc.tuple(fc.constantFrom('sha384', 'sha512', 'blake3'), hex(1, 128)).map(([a, h]) => ({ kind: 'other-algorithm', image: `${a}:${h}` })),
      fc.tuple(fc.constantFrom('docker.io/library/', 'library/', 'registry.example.test/team/', 'index.docker.io/library/'), fc.integer({ min: 1, max: 64 })).map(([p, n]) => ({ kind: 'named', image: `${p}sha256:${BLOCKED_ID_HEX.slice(0, n)}` })),
    );
    const KINDS: Record<string, string[]> = {
      Pod: ['spec'],
      PodTemplate: ['template', 'spec'],
      ReplicationController: ['spec', 'template', 'spec'],
      Deployment: ['spec', 'template', 'spec'],
      ReplicaSet: ['spec', 'template', 'spec'],
      StatefulSet: ['spec', 'template', 'spec'],
      DaemonSet: ['spec', 'template', 'spec'],
      Job: ['spec', 'template', 'spec'],
      CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
    };
    const shape = fc.record({
      kind: fc.constantFrom(...Object.keys(KINDS)),
      place: fc.constantFrom('containers', 'initContainers', 'ephemeralContainers', 'volume'),
      pullPolicy: fc.constantFrom(undefined, 'IfNotPresent', 'Never', 'Always'),
      unguarded: fc.constantFrom('allow', 'warn', 'deny') as fc.Arbitrary<'allow' | 'warn' | 'deny'>,
      exempt: fc.constantFrom([] as string[], ['docker.io/library/*'], ['docker.io/**'], ['sha256*', 'sha256:*']),
      operation: fc.constantFrom('CREATE', 'UPDATE'),
    });

    it('never admits an image-ID reference; judges the others as names', async () => {
      await fc.assert(
        fc.asyncProperty(reference, shape, async (ref, s) => {
          const ephemeral = s.place === 'ephemeralContainers';
          const kind = ephemeral ? 'Pod' : s.kind;
          const spec: Record<string, any> = { containers: [{ name: 'app', image: 'registry.example.test/team/app:1.4.2', imagePullPolicy: 'Always' }] };
          const entry = s.place === 'volume'
            ? { name: 'v', image: { reference: ref.image, ...(s.pullPolicy ? { pullPolicy: s.pullPolicy } : {}) } }
            : { name: 'x', image: ref.image, ...(s.pullPolicy ? { imagePullPolicy: s.pullPolicy } : {}) };
          const list = s.place === 'volume' ? 'volumes' : s.place;
          spec[list] = [...((spec[list] as unknown[]) ?? []), entry];
          const wrap = (podSpec: Record<string, any>): Record<string, any> => {
            const segs = KINDS[kind]!;
            const obj: Record<string, any> = { apiVersion: 'v1', kind, metadata: { name: 'w', namespace: 'team-app' } };
            let cur = obj;
            segs.slice(0, -1).forEach((k) => (cur = cur[k] ??= {}));
            cur[segs[segs.length - 1]!] = podSpec;
            return obj;
          };
          const oldSpec = { ...spec, [list]: (spec[list] as unknown[]).filter((e) => e !== entry) };
          const update = ephemeral || s.operation === 'UPDATE';
          const body = {
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            request: {
              uid: 'p', kind: { group: '', version: 'v1', kind }, namespace: 'team-app', operation: update ? 'UPDATE' : 'CREATE',
              ...(ephemeral ? { subResource: 'ephemeralcontainers' } : {}),
              userInfo: { username: 'alice' }, object: wrap(spec), ...(update ? { oldObject: wrap(oldSpec) } : {}),
            },
          };
          const deps: AdmissionDeps = { gate, config: admissionConfig({ unguarded: s.unguarded, unpinnedTags: 'allow', exemptions: { namespaces: [], images: s.exempt } }) };
          const r = ((await validateReview(body, deps)).body as { response: { allowed: boolean; status?: { message?: string } } }).response;
          const asId = containerdResolvesAsId(kubeletImage(ref.image), [BLOCKED_ID, `sha256:${'0'.repeat(64)}`]);
          if (asId !== undefined) {
            expect(r.allowed, `${ref.image} runs ${asId} from the node cache`).to.equal(false);
            expect(r.status?.message).to.match(/invalid-reference/);
          }
          if (ref.kind === 'named') {
            // A name: refused only for what it names (unguarded rule, tag not found), never as an image ID.
            expect(r.status?.message ?? '').not.to.match(/ID, or a prefix of the ID/);
          } else {
            expect(r.allowed, ref.image).to.equal(false);
          }
        }),
        { numRuns: 300 },
      );
    });
  });
});
