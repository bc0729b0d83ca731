/**
 * `admission.unpinnedTags: deny` follows the mode of the tag's mapping, with the real gate (its policy's
 * mappings, its verdict views) and a real Distribution registry resolving the tags. Under an `enforce`
 * mapping a tag the node may run from its cache is refused; under `warn` and `audit` mappings, which refuse
 * nothing at admission, it is admitted with the rule's warning. Without a verdict (namespace rule
 * `unknown: allow`) the policy's mapping of repo:tag decides the same way.
 * Port 21970.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateReview } from '../../../src/admission/review.js';
import { Gate } from '../../../src/gate/gate.js';
import { compilePolicy } from '../../../src/policy/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { labGateConfig, labRegistryConfig } from '../../helpers/gate.js';
import { startRegistry, type LabRegistry } from '../../helpers/lab.js';
import { makeImage, Raw } from '../../helpers/raw-push.js';
import { FAULTS_POLICY } from '../faults/helpers.js';

const REG_PORT = 21970;
const MODES = ['enforce', 'warn', 'audit'] as const;
const POLICY = FAULTS_POLICY.replace(
  '  mappings: []\n',
  `  mappings:\n${MODES.map((m) => `    - name: ${m}-mapping\n      repository: "lab/${m}-*"\n      ruleSet: default\n      mode: ${m}\n`).join('')}`,
);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

describe('admission: unpinnedTags follows the mapping mode (real gate and registry)', function () {
  this.timeout(180_000);
  let dir: string;
  let reg: LabRegistry;
  let store: Store;
  let gate: Gate;
  const logger = { debug() {}, info() {}, warn() {}, error() {} };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-unpinned-modes-'));
    reg = startRegistry(REG_PORT);
    const raw = new Raw(reg.host);
    store = await openStore(`sqlite:${path.join(dir, 'pushgate.db')}`);
    const policy = compilePolicy(POLICY, 'unpinned-modes-policy.yaml');
    gate = new Gate({ config: labGateConfig(dir, [labRegistryConfig('lab', REG_PORT, 't')]), store, policy, logger });
    for (const mode of MODES) {
      const repository = `lab/${mode}-app`;
      // v1: allowed, judged; bad: a private key (quarantine), judged; fresh: never judged.
      for (const [tag, kind, judged] of [['v1', 'good', true], ['bad', 'secret', true], ['fresh', 'good', false]] as const) {
        const img = makeImage(kind, `${mode}-${tag}`);
        await raw.pushBlobs(repository, img.blobs);
        const put = await raw.putManifest(repository, tag, img);
        expect(put.status, put.body).to.equal(201);
        if (judged) await gate.ingest({ id: `${mode}-${tag}`, source: 'distribution', registry: 'lab', action: 'push', repository, tag, digest: img.digest as `sha256:${string}` });
      }
    }
    await gate.drain();
  });
  after(async () => {
    await store?.close();
    reg?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function review(image: string, unknown: 'deny' | 'allow'): Promise<Json> {
    const config = { ...labGateConfig(dir, []).admission, unpinnedTags: 'deny' as const, namespaces: [{ match: '*', unknown }] };
    const body = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u', kind: { kind: 'Pod' }, operation: 'CREATE', namespace: 'team', userInfo: { username: 'alice' }, object: { metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image, imagePullPolicy: 'IfNotPresent' }] } } },
    };
    return ((await validateReview(body, { gate, config })).body as Json).response;
  }

  for (const mode of MODES) {
    it(`${mode} mapping: an allowed tag, a blocked tag and a never-judged tag with IfNotPresent`, async () => {
      const image = (tag: string) => `${reg.host}/lab/${mode}-app:${tag}`;
      const warning = (tag: string) => `tag may run from node cache; pin by digest or set imagePullPolicy: Always: ${image(tag)}`;
      const allowed = await review(image('v1'), 'deny');
      const fresh = await review(image('fresh'), 'allow');
      if (mode === 'enforce') {
        for (const r of [allowed, fresh]) {
          expect(r.allowed, JSON.stringify(r)).to.equal(false);
          expect(r.status.message).to.contain(': unpinned-tag — tag without digest and imagePullPolicy IfNotPresent');
        }
      } else {
        for (const r of [allowed, fresh]) {
          expect(r.allowed, JSON.stringify(r)).to.equal(true);
          expect(r.warnings).to.include(warning(r === allowed ? 'v1' : 'fresh'));
          expect(r.auditAnnotations['unpinned-tag']).to.contain(`admitted: its mapping is in ${mode} mode`);
        }
      }
      // A blocked image: enforce refuses it for its verdict (and quarantined it), warn warns, audit admits; the
      // pull-policy warning comes with either.
      const bad = await review(image('bad'), 'deny');
      if (mode === 'enforce') {
        expect(bad.allowed).to.equal(false);
        expect(bad.status.message).not.to.contain('unpinned-tag');
      } else {
        expect(bad.allowed, JSON.stringify(bad)).to.equal(true);
        expect(bad.warnings[0]).to.equal(warning('bad'));
        if (mode === 'audit') expect(bad.auditAnnotations['audit-mode']).to.contain('quarantine (audit mode)');
      }
    });
  }
});
