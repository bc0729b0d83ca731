import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateReview } from '../../../src/admission/review.js';
import { newlyFailingSince } from '../../../src/admission/standing.js';
import { Gate } from '../../../src/gate/gate.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../../helpers/gate.js';
import { Monitor } from '../../../src/monitor/index.js';
import { compilePolicy, DEFAULT_POLICY_YAML, type CompiledPolicy } from '../../../src/policy/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { VulnDb } from '../../../src/vulndb/index.js';
import { buildDb, digestOf, npmPackage, osvRecord, scanOf, storeImage } from '../../helpers/monitor.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const ADM_ZIP = osvRecord('npm/NSWG-NPM-458.json'); // adm-zip < 0.4.9, high
const LODASH_OLD = osvRecord('npm/NSWG-NPM-368.json'); // lodash < 4.17.5

function policyWith(extra: string): CompiledPolicy {
  const text = DEFAULT_POLICY_YAML.replace('  default:\n    ruleSet: default\n    mode: enforce\n', `  default:\n    ruleSet: default\n    mode: enforce\n${extra}`);
  expect(text).to.not.equal(DEFAULT_POLICY_YAML);
  return compilePolicy(text, '<test>');
}

// The change records the real monitor writes (SQLite store) are what admission reads to tell a newly
// failing image from one blocking since its push.
describe('admission/standing with the monitor\'s change records', function () {
  this.timeout(60_000);
  let store: Store;
  let dir: string;
  let db: VulnDb | undefined;
  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-standing-'));
  });
  afterEach(async () => {
    db?.close();
    db = undefined;
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  async function swap(records: Array<Record<string, unknown>>): Promise<void> {
    db?.close();
    db = await buildDb(path.join(dir, 'vulndb.sqlite'), records);
  }
  const changesOf = async (repository: string, n: number) =>
    (await store.monitor.listChanges(digestOf(n), 50)).filter((c) => c.repository === repository);

  it('an image blocked by a database change is newly failing; one blocked at push is not', async () => {
    const policy = policyWith('    onNewFindings: quarantine\n');
    await swap([LODASH_OLD]);
    await storeImage(store, { repository: 'team/old', tag: 'v1', scan: scanOf(digestOf(1), [npmPackage('adm-zip', '0.4.7')]), db, policy });
    const mon = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy });
    await mon.tick();
    await swap([LODASH_OLD, ADM_ZIP]);
    await storeImage(store, { repository: 'team/new', tag: 'v1', scan: scanOf(digestOf(2), [npmPackage('adm-zip', '0.4.7')]), db, policy });
    await mon.tick();

    const old = (await store.getVerdict('lab', 'team/old', digestOf(1)))!;
    expect(old.decision).to.equal('quarantine');
    expect(newlyFailingSince(old, await changesOf('team/old', 1))?.decision).to.deep.equal({ before: 'allow', after: 'quarantine' });

    const pushed = (await store.getVerdict('lab', 'team/new', digestOf(2)))!;
    expect(pushed.decision).to.equal('quarantine');
    expect(newlyFailingSince(pushed, await changesOf('team/new', 2))).to.equal(undefined);
  });

  it('an image whose block was held for a grace period and then enforced is newly failing', async () => {
    const policy = policyWith('    onNewFindings: quarantine\n    grace: { high: 2h }\n');
    let now = Date.parse('2026-12-05T12:00:00Z');
    await swap([LODASH_OLD]);
    await storeImage(store, { repository: 'team/zip', tag: 'v1', scan: scanOf(digestOf(7), [npmPackage('adm-zip', '0.4.7')]), db, policy });
    const mon = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy, now: () => now, act: async () => ({ action: 'quarantine', status: 'done', detail: 'test' }) });
    await mon.tick();
    await swap([LODASH_OLD, ADM_ZIP]);
    await mon.tick();
    now += 3 * 3_600_000;
    await mon.tick();
    const v = (await store.getVerdict('lab', 'team/zip', digestOf(7)))!;
    expect(v.decision).to.equal('quarantine');
    expect(newlyFailingSince(v, await changesOf('team/zip', 7)), JSON.stringify((await changesOf('team/zip', 7)).map((c) => c.decision))).to.not.equal(undefined);
  });

  it('the real gate: a controller-created pod of the newly failing image is admitted with a warning, a bare pod claiming the owner is denied', async () => {
    const policy = policyWith('    onNewFindings: quarantine\n');
    await swap([LODASH_OLD]);
    await storeImage(store, { repository: 'team/old', tag: 'v1', scan: scanOf(digestOf(1), [npmPackage('adm-zip', '0.4.7')]), db, policy });
    const mon = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy });
    await mon.tick();
    await swap([LODASH_OLD, ADM_ZIP]);
    await mon.tick();
    await storeImage(store, { repository: 'team/new', tag: 'v1', scan: scanOf(digestOf(2), [npmPackage('adm-zip', '0.4.7')]), db, policy });

    // Never listened on: a review by digest needs no registry request.
    const port = 24251;
    const config = labGateConfig(dir, [labRegistryConfig('lab', port, 'standing-token-0123456789abcdef')]);
    const gate = new Gate({ config, store, policy, logger: silentLogger });
    const deps = { gate, config: { ...config.admission, namespaces: [{ match: '*', unknown: 'deny' as const }] } };
    const pod = (repository: string, n: number, username: string) => ({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: `u-${repository}-${username}`,
        kind: { group: '', version: 'v1', kind: 'Pod' },
        namespace: 'team-a',
        operation: 'CREATE',
        userInfo: { username },
        object: {
          apiVersion: 'v1', kind: 'Pod',
          metadata: { generateName: 'web-7d9c-', namespace: 'team-a', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9c', uid: 'x', controller: true }] },
          spec: { containers: [{ name: 'app', image: `127.0.0.1:${port}/${repository}@${digestOf(n)}` }] },
        },
      },
    });
    const caller = { caller: { authenticated: true, id: 'cert:kube-apiserver' } };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const answer = async (body: unknown) => ((await validateReview(body, deps, caller)).body as any).response;
    const scaled = await answer(pod('team/old', 1, 'system:serviceaccount:kube-system:replicaset-controller'));
    expect(scaled.allowed, JSON.stringify(scaled)).to.equal(true);
    expect(scaled.warnings.join(' ')).to.contain('newly failing since');
    expect((await answer(pod('team/old', 1, 'mallory'))).allowed, 'a bare pod naming the ReplicaSet').to.equal(false);
    const pushed = await answer(pod('team/new', 2, 'system:serviceaccount:kube-system:replicaset-controller'));
    expect(pushed.allowed, 'blocking since its push').to.equal(false);
  });
});
