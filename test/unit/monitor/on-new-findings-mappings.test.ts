/**
 * `onNewFindings` when several mappings of a verdict's references select the same rule set: the verdict
 * keeps one evaluation per rule set, so one cap serves every reference. It follows the strictest of those
 * mappings (and the shortest grace of that action). The most lenient let a tag anyone with push rights can
 * add (`dev-1`, mapped to `notify`, on the digest of `v1`, mapped to `reject`), or the bare digest's own
 * mapping, keep `v1` admitted after a database change its mapping says must block it.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { validateReview } from '../../../src/admission/review.js';
import { Gate } from '../../../src/gate/gate.js';
import { Monitor } from '../../../src/monitor/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { VulnDb } from '../../../src/vulndb/index.js';
import { labGateConfig, labRegistryConfig, silentLogger } from '../../helpers/gate.js';
import type { Finding, Verdict } from '../../../src/core/index.js';
import { viewOf } from '../../../src/gate/verdict-view.js';
import { capNewFindings, governingMapping } from '../../../src/monitor/on-new-findings.js';
import { compilePolicy, DEFAULT_POLICY_YAML, type CompiledPolicy } from '../../../src/policy/index.js';
import type { CompiledMapping, OnNewFindings } from '../../../src/policy/types.js';
import { buildDb, digestOf, npmPackage, osvRecord, scanOf, storeImage } from '../../helpers/monitor.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

const NOW = Date.parse('2026-12-05T12:00:00Z');
const LENIENCY: OnNewFindings[] = ['notify', 'warn', 'quarantine', 'reject'];

/** The default policy with mappings of `app`: `v*` and `dev-*` tags on one rule set, and a default mapping. */
function policy(release: OnNewFindings, dev: OnNewFindings, dflt: OnNewFindings): CompiledPolicy {
  const text = DEFAULT_POLICY_YAML
    .replace('  mappings: []\n', `  mappings:\n    - { name: release, repository: app, tag: "v*", ruleSet: default, onNewFindings: ${release} }\n    - { name: dev, repository: app, tag: "dev-*", ruleSet: default, onNewFindings: ${dev} }\n`)
    .replace('  default:\n    ruleSet: default\n    mode: enforce\n', `  default:\n    ruleSet: default\n    mode: enforce\n    onNewFindings: ${dflt}\n`);
  return compilePolicy(text, '<test>');
}

function verdicts(p: CompiledPolicy, tags: string[]): { before: Verdict; after: Verdict } {
  const before: Verdict = {
    registry: 'lab', repository: 'app', digest: digestOf(1), tags, decision: 'allow', complete: true, reasons: [], mode: 'enforce',
    policy: { name: p.name, revision: p.revision }, vulndb: { builtAt: null }, evaluatedAt: new Date(NOW).toISOString(),
    evaluations: { default: { decision: 'allow', reasons: [] } },
  };
  const after: Verdict = { ...before, decision: 'reject', evaluations: { default: { decision: 'reject', reasons: [{ rule: 'critical', action: 'reject', message: 'critical finding' }] } } };
  return { before, after };
}

const finding = { id: 'CVE-2026-0001', severity: 'critical', package: { name: 'adm-zip', version: '0.4.7' } } as unknown as Finding;

/** The decision admission reads for `app:<tag>` after a database change brought a critical finding. */
function afterChange(p: CompiledPolicy, tags: string[], tag: string): string {
  const { before, after } = verdicts(p, tags);
  const cap = capNewFindings(p, before, after, [{ finding, firstSeen: NOW }], NOW);
  return viewOf(p, cap.verdict, tag).decision;
}

describe('onNewFindings across the mappings of one rule set', () => {
  it('a pusher adding a tag of a lenient mapping does not keep a release tag admitted', () => {
    const p = policy('reject', 'notify', 'reject');
    expect(afterChange(p, ['v1'], 'v1'), 'v1 alone').to.equal('reject');
    expect(afterChange(p, ['v1', 'dev-1'], 'v1'), 'v1 retagged dev-1 by the pusher').to.equal('reject');
  });

  it("the bare digest's lenient default mapping does not keep a release tag admitted", () => {
    // the default mapping's onNewFindings is notify unless set: the usual configuration
    expect(afterChange(policy('reject', 'notify', 'notify'), ['v1'], 'v1')).to.equal('reject');
    expect(afterChange(policy('quarantine', 'notify', 'notify'), ['v1'], 'v1')).to.equal('quarantine');
  });

  it('lenient mappings alone stay lenient', () => {
    expect(afterChange(policy('notify', 'notify', 'notify'), ['v1', 'dev-1'], 'v1')).to.equal('allow');
    expect(afterChange(policy('warn', 'notify', 'notify'), ['v1'], 'v1')).to.equal('warn');
  });

  it('any tags and actions: the decision is at least what the strictest involved mapping allows (property)', () => {
    const action = fc.constantFrom<OnNewFindings>(...LENIENCY);
    const tagArb = fc.constantFrom('v1', 'v2', 'dev-1', 'dev-2', 'latest');
    fc.assert(fc.property(action, action, action, fc.uniqueArray(tagArb, { minLength: 1, maxLength: 4 }), (r, d, x, tags) => {
      const p = policy(r, d, x);
      const involved = [undefined, ...tags].map((t) => (t === undefined ? x : t.startsWith('v') ? r : t.startsWith('dev-') ? d : x));
      const strictest = involved.reduce((a, b) => (LENIENCY.indexOf(b) > LENIENCY.indexOf(a) ? b : a));
      const expected = { notify: 'allow', warn: 'warn', quarantine: 'quarantine', reject: 'reject' }[strictest];
      for (const t of tags) expect(afterChange(p, tags, t), `${t} of ${tags.join(',')} under release ${r}, dev ${d}, default ${x}`).to.equal(expected);
    }), { numRuns: 300 });
  });

  it('the governing grace is the shortest among the strictest mappings', () => {
    const m = (name: string, onNewFindings: OnNewFindings, graceMs: CompiledMapping['graceMs']) => ({ name, onNewFindings, graceMs }) as CompiledMapping;
    const g = governingMapping([m('a', 'reject', { critical: 5 }), m('b', 'reject', { high: 7 }), m('c', 'notify', {})]);
    expect(g).to.deep.equal({ name: 'a, b', onNewFindings: 'reject', graceMs: { critical: 0, high: 0 } });
    expect(governingMapping([m('a', 'quarantine', { critical: 5 }), m('b', 'quarantine', { critical: 3 })]).graceMs).to.deep.equal({ critical: 3 });
  });
});

/** A mapping line's `onNewFindings` and optional critical grace (days). */
interface MappingSpec { action: OnNewFindings; graceDays?: number }

/** The default policy with mappings `v*` (release) and `dev-*` (dev) of `app` on one rule set, each with its grace. */
function gracePolicy(release: MappingSpec, dev: MappingSpec): CompiledPolicy {
  const line = (name: string, tag: string, m: MappingSpec) =>
    `    - { name: ${name}, repository: app, tag: "${tag}", ruleSet: default, onNewFindings: ${m.action}${m.graceDays !== undefined ? `, grace: { critical: ${m.graceDays}d }` : ''} }\n`;
  return compilePolicy(DEFAULT_POLICY_YAML.replace('  mappings: []\n', `  mappings:\n${line('release', 'v*', release)}${line('dev', 'dev-*', dev)}`), '<test>');
}

/** `v1`'s decision and hold due time (ms, if held) after a database change brought a critical finding. */
function capOf(p: CompiledPolicy, tags: string[]): { decision: string; due?: number } {
  const { before, after } = verdicts(p, tags);
  const cap = capNewFindings(p, before, after, [{ finding, firstSeen: NOW }], NOW);
  return { decision: viewOf(p, cap.verdict, 'v1').decision, ...(cap.effect === 'held' ? { due: cap.enforceAfter } : {}) };
}

describe('onNewFindings: the grace of a pusher-added tag', () => {
  const RANK = ['allow', 'warn', 'quarantine', 'reject'];

  it('a tag mapped to reject with a long grace does not hold at warn a release its mapping quarantines at once', () => {
    const p = gracePolicy({ action: 'quarantine' }, { action: 'reject', graceDays: 30 });
    expect(capOf(p, ['v1']).decision, 'v1 alone').to.equal('quarantine');
    // reject (dev's action) without grace (release's): at least as strict as either mapping alone
    expect(capOf(p, ['v1', 'dev-1']).decision, 'v1 retagged dev-1 by the pusher').to.equal('reject');
  });

  it('nor delays the block of a release whose own grace is shorter', () => {
    const p = gracePolicy({ action: 'quarantine', graceDays: 1 }, { action: 'reject', graceDays: 30 });
    const alone = capOf(p, ['v1']);
    expect(alone.due).to.equal(NOW + 86_400_000);
    expect(capOf(p, ['v1', 'dev-1']).due, 'v1 retagged dev-1').to.equal(alone.due);
  });

  it('any actions and graces: adding a tag never lowers the decision or delays the block (property)', () => {
    const spec = fc.record({ action: fc.constantFrom<OnNewFindings>(...LENIENCY), graceDays: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }) });
    fc.assert(fc.property(spec, spec, (release, dev) => {
      const p = gracePolicy(release, dev);
      const alone = capOf(p, ['v1']);
      const both = capOf(p, ['v1', 'dev-1']);
      const why = `release ${JSON.stringify(release)}, dev ${JSON.stringify(dev)}: alone ${JSON.stringify(alone)}, retagged ${JSON.stringify(both)}`;
      expect(RANK.indexOf(both.decision), why).to.be.at.least(RANK.indexOf(alone.decision));
      // held both ways: the block is due no later than without the tag
      if (alone.due !== undefined && both.due !== undefined) expect(both.due, why).to.be.at.most(alone.due);
      // held only once retagged: the decision alone was no stricter than warn (no block was delayed)
      if (alone.due === undefined && both.due !== undefined) expect(RANK.indexOf(alone.decision), why).to.be.at.most(RANK.indexOf('warn'));
    }), { numRuns: 200 });
  });
});

describe('onNewFindings: a pusher\'s retag through the real monitor and admission', function () {
  this.timeout(60_000);
  let store: Store;
  let dir: string;
  let db: VulnDb | undefined;
  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-onf-'));
  });
  afterEach(async () => {
    db?.close();
    db = undefined;
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('v1 (reject on new findings), tagged dev-1 (notify) by the pusher, is denied once the database brings a finding', async () => {
    const text = DEFAULT_POLICY_YAML
      .replace('  mappings: []\n', '  mappings:\n    - { name: dev, repository: "team/**", tag: "dev-*", ruleSet: default, onNewFindings: notify }\n')
      .replace('  default:\n    ruleSet: default\n    mode: enforce\n', '  default:\n    ruleSet: default\n    mode: enforce\n    onNewFindings: reject\n');
    const p = compilePolicy(text, '<test>');
    db = await buildDb(path.join(dir, 'v1.sqlite'), [osvRecord('npm/NSWG-NPM-368.json')]);
    const v = await storeImage(store, { repository: 'team/app', tag: 'v1', scan: scanOf(digestOf(7), [npmPackage('adm-zip', '0.4.7')]), db, policy: p });
    expect(v.decision).to.equal('allow');
    // The pusher tags the same digest dev-1 (a manifest PUT of the same bytes): the verdict lists both tags.
    await store.putVerdict({ ...v, tags: ['v1', 'dev-1'] });
    const mon = new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => p });
    await mon.tick();
    db.close();
    db = await buildDb(path.join(dir, 'v2.sqlite'), [osvRecord('npm/NSWG-NPM-368.json'), osvRecord('npm/NSWG-NPM-458.json')]);
    await mon.tick();

    const port = 24253; // never listened on: the tags' HEAD checks fail and count as pointing at the digest
    const config = labGateConfig(dir, [labRegistryConfig('lab', port, 'onf-token-0123456789abcdef')]);
    const gate = new Gate({ config, store, policy: p, logger: silentLogger });
    const deps = { gate, config: { ...config.admission, namespaces: [{ match: '*', unknown: 'deny' as const }] } };
    const review = {
      apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
      request: {
        uid: 'u-onf', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'team-a', operation: 'CREATE', userInfo: { username: 'alice' },
        object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'team-a' }, spec: { containers: [{ name: 'app', image: `127.0.0.1:${port}/team/app@${digestOf(7)}` }] } },
      },
    };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const answer = ((await validateReview(review, deps, { caller: { authenticated: true, id: 'cert:kube-apiserver' } })).body as any).response;
    expect(answer.allowed, JSON.stringify(answer)).to.equal(false);
  });
});
