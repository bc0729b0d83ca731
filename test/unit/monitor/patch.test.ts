/**
 * The database pass's patched re-judgement (src/monitor/monitor.ts `patch`: stored verdicts with only the
 * changed pairs' findings matched again) equals a full re-judgement from the stored scans: for generated
 * npm inventories, advisories and advisory changes (added, withdrawn, range changed, severity changed,
 * aliases changed), two stores hold the same images judged by the same first database; after the swap,
 * one runs the database pass (patched) and the other `--all` (every image judged in full from its scan),
 * and every verdict, report, index and change record must be the same (times and run ids aside).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Digest, Package, Verdict } from '../../../src/core/index.js';
import { Monitor } from '../../../src/monitor/index.js';
import { compilePolicy, type CompiledPolicy } from '../../../src/policy/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import type { VulnDb } from '../../../src/vulndb/index.js';
import { buildDb, digestOf, npmPackage, scanOf, storeImage } from '../../helpers/monitor.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const NAMES = ['pa', 'pb', 'pc'];
const VERSIONS = ['1.0.0', '1.1.0', '1.2.0', '1.3.0'];
const ALIASES = ['CVE-2020-0001', 'CVE-2020-0002', 'CVE-2020-0003', 'GHSA-aaaa-bbbb-cccc'];
// critical 9.8, high 8.2, medium 5.4, low 2.0 (CVSS 3.x vectors), or no rating
const VECTORS = [
  'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
  'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:L',
  'CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N',
  'CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N',
  undefined,
];

interface Adv { name: string; introduced: number; fixed?: number; aliases: string[]; vector?: string }

const adv: fc.Arbitrary<Adv> = fc.record({
  name: fc.constantFrom(...NAMES),
  introduced: fc.nat(VERSIONS.length - 1),
  fixed: fc.option(fc.nat(VERSIONS.length - 1), { nil: undefined }),
  aliases: fc.subarray(ALIASES, { maxLength: 2 }),
  vector: fc.constantFrom(...VECTORS),
});

/** What the swap does to one advisory. */
type Change = { kind: 'keep' } | { kind: 'withdraw' } | { kind: 'range'; introduced: number; fixed?: number } | { kind: 'rate'; vector?: string } | { kind: 'alias'; aliases: string[] };
const change: fc.Arbitrary<Change> = fc.oneof(
  fc.constant<Change>({ kind: 'keep' }),
  fc.constant<Change>({ kind: 'withdraw' }),
  fc.record({ kind: fc.constant('range' as const), introduced: fc.nat(VERSIONS.length - 1), fixed: fc.option(fc.nat(VERSIONS.length - 1), { nil: undefined }) }),
  fc.record({ kind: fc.constant('rate' as const), vector: fc.constantFrom(...VECTORS) }),
  fc.record({ kind: fc.constant('alias' as const), aliases: fc.subarray(ALIASES, { maxLength: 3 }) }),
);

/** An image: npm packages (a name may repeat at another path), in one or two repositories. */
const image = fc.record({
  packages: fc.array(fc.record({ name: fc.constantFrom(...NAMES), version: fc.nat(VERSIONS.length - 1), at: fc.nat(1) }), { minLength: 1, maxLength: 5 }),
  repos: fc.subarray(['team/a', 'team/b', 'prod/c'], { minLength: 1, maxLength: 2 }),
});

function record(id: string, a: Adv): Record<string, unknown> {
  const events: Array<Record<string, string>> = [{ introduced: a.introduced === 0 ? '0' : VERSIONS[a.introduced] }];
  if (a.fixed !== undefined && a.fixed > a.introduced) events.push({ fixed: VERSIONS[a.fixed] });
  return {
    schema_version: '1.6.0',
    id,
    modified: '2024-01-01T00:00:00Z',
    published: '2024-01-01T00:00:00Z',
    aliases: a.aliases,
    affected: [{ package: { ecosystem: 'npm', name: a.name }, ranges: [{ type: 'SEMVER', events }] }],
    ...(a.vector ? { severity: [{ type: 'CVSS_V3', score: a.vector }] } : {}),
  };
}

// An advisory on a package no image holds and no change touches: npm stays covered across the swap.
const ANCHOR = record('GEN-ANCHOR', { name: 'anchor-pkg', introduced: 0, aliases: [] });

/**
 * The policy: fixable high vulnerabilities quarantined, any critical one rejected, a denied package
 * version (a rule on packages, not findings: carried over), root images warned, an exception for one
 * alias in team/*; `onNewFindings` and a strict mapping for prod/* vary.
 */
function policyOf(onNew: 'notify' | 'warn' | 'reject', strictProd: boolean): CompiledPolicy {
  const rules = (extra: string) => `      rules:
        - name: secrets
          action: reject
          match:
            secret: {}
${extra}        - name: denied-pb
          action: warn
          match:
            packages:
              - ecosystem: npm
                name: pb
                versions: "1.0.0"
        - name: runs-as-root
          action: warn
          match:
            image:
              runsAsRoot: true
`;
  const text = `apiVersion: pushgate.dev/v1
kind: Policy
metadata:
  name: patch-test
spec:
  ruleSets:
    default:
${rules(`        - name: fixable-high-vulns
          action: quarantine
          match:
            vulnerability:
              minSeverity: high
              fixAvailable: true
        - name: critical-vulns
          action: reject
          match:
            vulnerability:
              minSeverity: critical
`)}    strict:
${rules(`        - name: any-medium
          action: reject
          match:
            vulnerability:
              minSeverity: medium
`)}  mappings:
${strictProd ? '    - name: prod\n      repository: "prod/*"\n      ruleSet: strict\n      mode: enforce\n' : '    []\n'}  default:
    ruleSet: default
    mode: enforce
    onNewFindings: ${onNew}
  exceptions:
    - name: accepted-0002
      ids: [CVE-2020-0002]
      repository: "team/*"
      reason: test
      owner: test@example.test
      expires: 2999-12-31
`;
  return compilePolicy(text, '<test>');
}

/** Every verdict, report, index and change record of `digests` is the same in both stores (times and run ids aside). */
async function same(stores: Store[], digests: Digest[], seen: { decisions: number }): Promise<void> {
  for (const d of digests) {
    const [a, b] = await Promise.all(stores.map((s) => s.monitor.verdictsOf([d])));
    const strip = (v: Verdict) => ({ ...v, evaluatedAt: undefined });
    expect(a.map(strip), `verdicts of ${d}`).to.deep.equal(b.map(strip));
    const [ra, rb] = await Promise.all(stores.map((s) => s.getReport(d)));
    expect(ra?.findings, `report findings of ${d}`).to.deep.equal(rb?.findings);
    expect(ra?.verdict, `report verdict of ${d}`).to.deep.equal(rb?.verdict);
    expect(ra?.vulndb).to.deep.equal(rb?.vulndb);
    const [ia, ib] = await Promise.all(stores.map((s) => s.monitor.findingsOf(d)));
    const idx = (l: typeof ia) => l.map((f) => ({ key: f.key, pkg: f.pkg, finding: f.finding })).sort((x, y) => (x.key < y.key ? -1 : 1));
    expect(idx(ia), `index of ${d}`).to.deep.equal(idx(ib));
    const [ca, cb] = await Promise.all(stores.map((s) => s.monitor.listChanges(d, 10)));
    const ch = (l: typeof ca) => l.map((c) => ({ ...c, run: undefined, at: undefined })).sort((x, y) => (x.repository < y.repository ? -1 : x.repository > y.repository ? 1 : 0));
    expect(ch(ca), `change records of ${d}`).to.deep.equal(ch(cb));
    seen.decisions += ca.filter((c) => c.decision.before !== c.decision.after).length;
  }
}

describe('monitor: a patched database pass equals a full re-judgement', function () {
  this.timeout(600_000);

  it('the policy text variants compile', () => {
    for (const o of ['notify', 'warn', 'reject'] as const) for (const s of [false, true]) expect(policyOf(o, s).ruleSets).to.have.property('default');
    expect(Object.keys(policyOf('notify', true).ruleSets)).to.include('strict');
  });

  it('for generated inventories and advisory changes: findings, decisions, reports and change records', async () => {
    // what the runs covered, so the property is known to have exercised the patched path
    const seen = { patched: 0, second: 0, changed: 0, decisions: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(adv, { minLength: 1, maxLength: 6 }),
        fc.array(fc.record({ changes: fc.array(change, { minLength: 9, maxLength: 9 }), added: fc.array(adv, { maxLength: 3 }) }), { minLength: 2, maxLength: 2 }),
        fc.array(image, { minLength: 1, maxLength: 6 }),
        fc.constantFrom('notify' as const, 'warn' as const, 'reject' as const),
        fc.boolean(),
        // chunks of a few images: one pass's reads share findings across chunks (one parser per pass)
        fc.integer({ min: 1, max: 4 }),
        async (first, swaps, images, onNew, strictProd, chunk) => {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-patch-'));
          const stores: Store[] = [];
          let db: VulnDb | undefined;
          try {
            const policy = policyOf(onNew, strictProd);
            const dbPath = path.join(dir, 'vulndb.sqlite');
            const recordsOf = (advs: Map<string, Adv>) => [ANCHOR, ...[...advs].map(([id, a]) => record(id, a))];
            let advs = new Map(first.map((a, i) => [`GEN-${i}`, a]));
            db = await buildDb(dbPath, recordsOf(advs));
            for (const name of ['patched', 'full']) stores.push(await openStore(`sqlite:${path.join(dir, `${name}.db`)}`));
            const digests: Digest[] = images.map((_, i) => digestOf(i + 1));
            for (const store of stores) {
              for (const [i, im] of images.entries()) {
                const pkgs: Package[] = im.packages.map((p) => npmPackage(p.name, VERSIONS[p.version], `/app${p.at}/node_modules/${p.name}/package.json`));
                for (const repository of im.repos) await storeImage(store, { repository, tag: 'v1', scan: scanOf(digests[i], pkgs), db, policy });
              }
            }
            const mons = stores.map((store, n) => new Monitor({ store, logger: quiet, vulndb: () => db, policy: () => policy, ...(n === 0 ? { chunk } : {}) }));
            for (const m of mons) await m.tick(); // index under the first database
            // two swaps: the second patches verdicts the first capped (onNewFindings)
            for (const [n, sw] of swaps.entries()) {
              const next = new Map<string, Adv>();
              [...advs].forEach(([id, a], i) => {
                const c = sw.changes[i % sw.changes.length];
                if (c.kind === 'withdraw') return;
                next.set(id, c.kind === 'range' ? { ...a, introduced: c.introduced, fixed: c.fixed } : c.kind === 'rate' ? { ...a, vector: c.vector } : c.kind === 'alias' ? { ...a, aliases: c.aliases } : a);
              });
              sw.added.forEach((a, i) => next.set(`GEN-NEW-${n}-${i}`, a));
              advs = next;
              db.close();
              db = await buildDb(dbPath, recordsOf(advs));
              const pass = await mons[0].tick();
              await mons[1].all();
              if (pass) {
                // an inventory holding one package instance twice is judged in full (the index keeps one finding per instance)
                const repeats = images.filter((im) => new Set(im.packages.map((p) => `${p.name}@${p.version}#${p.at}`)).size < im.packages.length).length;
                expect(pass.rejudged, 'every other candidate patched: no scan read').to.be.at.most(repeats);
                seen.patched += pass.patched;
                seen.changed += pass.changed;
                if (n === 1) seen.second += pass.patched;
              }
              await same(stores, digests, seen);
            }
          } finally {
            db?.close();
            for (const s of stores) await s.close();
            fs.rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 40 },
    );
    expect(seen.patched, 'images patched over the runs').to.be.greaterThan(20);
    expect(seen.second, 'images patched by a second swap (stored verdicts judged by the monitor)').to.be.greaterThan(5);
    expect(seen.changed, 'change records over the runs').to.be.greaterThan(10);
    expect(seen.decisions, 'decisions changed over the runs').to.be.greaterThan(0);
  });
});
