/**
 * Admission answers from the verdict as it is in the store now, on every replica: two real Gates (two
 * replicas) share one PostgreSQL store, each with its own admission state (digest cache, scan triggers);
 * whichever replica writes a verdict, the next review on either replica decides by it. Pins that no
 * process-local verdict cache (or any other copy) can keep admitting a digest another replica has since
 * blocked. The reviews name the image by digest, so no registry is asked (the registry port is never
 * opened).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateReview, type AdmissionDeps } from '../../../src/admission/review.js';
import type { Decision, Verdict } from '../../../src/core/index.js';
import { Gate } from '../../../src/gate/gate.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../../helpers/gate.js';
import { freshDatabase } from '../../helpers/postgres.js';

/** Never listened on: a review by digest must not need the registry. */
const REGISTRY_PORT = 23150;
const DIGEST = `sha256:${'ab'.repeat(32)}` as Verdict['digest'];
const IMAGE = `127.0.0.1:${REGISTRY_PORT}/team/app@${DIGEST}`;

function verdictOf(decision: Decision, n: number): Verdict {
  const reasons = decision === 'allow' ? [] : [{ rule: 'fixable-high-vulns', action: decision, message: `write ${n}: a fixable high vulnerability` }];
  const policy = defaultPolicy();
  return {
    registry: 'lab',
    repository: 'team/app',
    digest: DIGEST,
    tags: [],
    decision,
    complete: true,
    reasons,
    mode: 'enforce',
    policy: { name: policy.name, revision: policy.revision },
    vulndb: { builtAt: null },
    evaluatedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    // The raw evaluation of every rule set the default policy can map team/app to.
    evaluations: Object.fromEntries([policy.defaultMapping.ruleSet, ...policy.mappings.map((m) => m.ruleSet)].map((rs) => [rs, { decision, reasons }])),
  };
}

function review(uid: string): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'team-a',
      operation: 'CREATE',
      userInfo: { username: 'dev@example.com' },
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'team-a' }, spec: { containers: [{ name: 'app', image: IMAGE }] } },
    },
  };
}

describe('admission: every replica answers from the verdict in the shared store now', function () {
  this.timeout(120_000);
  let db: { url: string; drop(): Promise<void> };
  let dir: string;
  const replicas: Array<{ store: Store; gate: Gate; deps: AdmissionDeps }> = [];

  before(async () => {
    db = await freshDatabase('pushgate_freshness');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-freshness-'));
    for (let i = 0; i < 2; i++) {
      const config = labGateConfig(dir, [labRegistryConfig('lab', REGISTRY_PORT, 'freshness-token-0123456789abcdef')]);
      config.store.url = db.url;
      const store = await openStore(db.url);
      const gate = new Gate({ config, store, policy: defaultPolicy(), logger: silentLogger });
      replicas.push({ store, gate, deps: { gate, config: config.admission } });
    }
  });

  after(async () => {
    for (const r of replicas) await r.store.close();
    await db?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function allowedOn(i: number, uid: string): Promise<boolean> {
    const r = await validateReview(review(uid), replicas[i].deps);
    expect(r.status).to.equal(200);
    return (r.body as { response: { allowed: boolean } }).response.allowed;
  }

  it('a verdict flipped from allow to quarantine by the other replica denies the next review here, and back', async () => {
    await replicas[0].store.putVerdict(verdictOf('allow', 0));
    expect(await allowedOn(0, 'a0')).to.equal(true);
    expect(await allowedOn(1, 'a1')).to.equal(true);
    await replicas[1].store.putVerdict(verdictOf('quarantine', 1));
    expect(await allowedOn(0, 'b0'), 'replica 0 after replica 1 blocked the digest').to.equal(false);
    expect(await allowedOn(1, 'b1')).to.equal(false);
    await replicas[0].store.putVerdict(verdictOf('allow', 2));
    expect(await allowedOn(1, 'c1'), 'replica 1 after replica 0 allowed it again').to.equal(true);
  });

  it('property: after any sequence of writes from either replica, both replicas decide by the last one', async () => {
    let n = 10;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(0, 1), fc.constantFrom<Decision>('allow', 'quarantine', 'reject')), { minLength: 1, maxLength: 6 }), async (writes) => {
        for (const [writer, decision] of writes) {
          n++;
          await replicas[writer].store.putVerdict(verdictOf(decision, n));
          // Each replica reviews after every write (so any copy it kept would be the stale one).
          for (const reader of [0, 1]) expect(await allowedOn(reader, `u${n}-${reader}`), `replica ${reader} after ${decision} by replica ${writer}`).to.equal(decision === 'allow');
        }
      }),
      { numRuns: 15 },
    );
  });
});
