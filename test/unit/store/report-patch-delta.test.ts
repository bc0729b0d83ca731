/**
 * Report patches stored as deltas (src/store/report-patch.ts): a delta laid over the stored body reads
 * as the full patch it stands for, as a value and as JSON text (findings in risk order, as the monitor
 * sorts them), through a chain of patches each written over the previous one (a delta takes over the
 * previous delta's keys, so it is again against the body).
 *
 * Generated: a body whose findings may list a key twice (a report lists a package instance held twice
 * twice; the monitor's index keeps the first), and steps that remove, re-rate, change and add findings
 * (some findings tied in risk order, some keys repeated, some lists unsorted), each written with
 * `storedPatchText` as a store writes it: its index made from the report as it reads or written since
 * without it (other findings: the patch must then be written whole), over a delta or a full one. After
 * every step the read equals the read of the full patch and the report the monitor wrote whole before
 * patches existed; the steps written as deltas are counted (the property must cover them).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { compareRisk, findingKey, type Digest, type Finding, type ScanReport } from '../../../src/core/index.js';
import { DELTA_PREFIX, patchText, reportOf, storedPatchText, type ReportPatch } from '../../../src/store/report-patch.js';

/** The report the monitor wrote whole before reports were patched (src/monitor/monitor.ts `patch`). */
function wholeOf(stored: ScanReport, p: ReportPatch): ScanReport {
  return JSON.parse(JSON.stringify({ ...stored, findings: p.findings, vulndb: p.vulndb, scannedAt: p.scannedAt, verdict: { ...p.verdict, complete: stored.complete } })) as ScanReport;
}

/** The stored report's findings as the monitor's index holds them: keyed, the first of a repeated key. */
function indexOf(findings: Finding[]): Array<{ key: string; finding: Finding }> {
  const seen = new Set<string>();
  const out: Array<{ key: string; finding: Finding }> = [];
  for (const f of findings) {
    const key = findingKey(f);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ key, finding: f });
  }
  return out;
}

// few values, so keys collide, repeat and tie in risk order
const finding: fc.Arbitrary<Finding> = fc
  .record({
    id: fc.constantFrom('A-1', 'A-2', 'B-1'),
    package: fc.constantFrom('pa', 'pb'),
    installedVersion: fc.constantFrom('1.0.0', '2.0.0'),
    path: fc.constantFrom('/app/a', '/app/b'),
    platform: fc.option(fc.constantFrom('linux/amd64', 'linux/arm64'), { nil: undefined }),
    severity: fc.constantFrom('low', 'medium', 'high', 'critical'),
    cvss: fc.option(fc.record({ score: fc.constantFrom(5, 7.5, 9.8), vector: fc.constant('CVSS:3.1/AV:N'), version: fc.constant('3.1') }), { nil: undefined }),
    epss: fc.option(fc.record({ cve: fc.constant('CVE-1'), score: fc.constantFrom(0.1, 0.5), percentile: fc.constant(0.9) }), { nil: undefined }),
    kev: fc.option(fc.record({ cve: fc.constant('CVE-1'), dateAdded: fc.constant('2024-01-01'), dueDate: fc.constant('2024-02-01'), knownRansomwareCampaignUse: fc.constant('Unknown') }), { nil: undefined }),
    fixedVersions: fc.array(fc.constantFrom('1.0.1', '2.0.1'), { maxLength: 2 }),
    summary: fc.option(fc.string({ maxLength: 6 }), { nil: undefined }),
  })
  .map((f) => {
    const out = { ...f, aliases: [`CVE-${f.id}`], ecosystem: 'npm' } as Finding;
    for (const k of Object.keys(out) as Array<keyof Finding>) if (out[k] === undefined) delete out[k];
    return out;
  });
/** A stand-in for the index's findings signature (src/store/sqlite-monitor.ts findingSetSignature). */
function sigOf(index: Array<{ key: string; finding: Finding }>): string {
  return JSON.stringify(index.map((f) => [f.key, f.finding]).sort());
}

const verdict = fc.record({ decision: fc.constantFrom('allow', 'warn', 'reject'), reasons: fc.array(fc.record({ rule: fc.string(), action: fc.string(), message: fc.string() }), { maxLength: 2 }), policy: fc.record({ name: fc.string(), revision: fc.string() }) });

/** One pass's change of an image's findings, and how the store finds the stored report. */
const step = fc.record({
  /** Per current finding: keep, drop, or replace with a changed one (same key when the generated one keeps it). */
  edits: fc.array(fc.oneof(fc.constant('keep' as const), fc.constant('drop' as const), finding.map((f) => ({ change: f }))), { maxLength: 12 }),
  added: fc.array(finding, { maxLength: 4 }),
  /** Leave the list as generated rather than in risk order (the store must then write the full form). */
  unsorted: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  /** The index no longer matches the stored report (the store must write the full form). */
  inSync: fc.integer({ min: 0, max: 9 }).map((n) => n !== 0),
  vulndb: fc.record({ builtAt: fc.option(fc.string(), { nil: null }), digest: fc.option(fc.string(), { nil: null }) }),
  scannedAt: fc.string(),
  verdict,
});

describe('store: report patches written as deltas read as full patches', () => {
  it('property: over generated bodies and finding changes, every read equals the full patch and the report written whole', () => {
    let deltas = 0;
    let steps = 0;
    fc.assert(
      fc.property(
        fc.array(finding, { maxLength: 10 }),
        fc.record({ target: fc.string(), complete: fc.boolean(), packages: fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 }), other: fc.jsonValue({ maxDepth: 1 }) }),
        fc.boolean(),
        fc.array(step, { minLength: 1, maxLength: 5 }),
        (bodyFindings, rest, findingsFirst, patches) => {
          const bodyObject = findingsFirst ? { findings: bodyFindings, ...rest } : { ...rest, findings: bodyFindings };
          const body = JSON.stringify(bodyObject);
          let stored: string | null = null;
          let whole = JSON.parse(body) as ScanReport;
          // the store's index: its signature, and its report_at (the body's created_at, 0, when made from it)
          let sig = sigOf(indexOf(bodyObject.findings));
          let reportAt = 0;
          for (const [n, s] of patches.entries()) {
            const current = reportOf(body, stored);
            let index = indexOf(current.findings);
            if (!s.inSync) {
              // the index was written without the report since (it holds other findings than the report)
              index = index.slice(1).concat(indexOf(s.added.slice(0, 1)));
              sig = `moved-${n}`;
              reportAt = -1;
            }
            const next: Finding[] = [];
            index.forEach((f, i) => {
              const e = s.edits[i] ?? 'keep';
              if (e === 'keep') next.push(f.finding);
              else if (e !== 'drop') next.push(e.change);
            });
            next.push(...s.added);
            if (!s.unsorted) next.sort(compareRisk);
            const p: ReportPatch = { digest: 'sha256:x' as Digest, findings: next, vulndb: s.vulndb, scannedAt: s.scannedAt, verdict: s.verdict as ReportPatch['verdict'], replaces: { sig, findings: index } };
            // written as a store writes it: the index gets the new findings' signature and the pass's time
            const after = sigOf(indexOf(next));
            const text = storedPatchText(p, { fromBody: reportAt === 0, sig, previous: stored === null || stored.startsWith(DELTA_PREFIX) ? stored : '' }, after);
            sig = after;
            reportAt = 1000 + n;
            steps++;
            if (text.startsWith(DELTA_PREFIX)) deltas++;
            whole = wholeOf(whole, p);
            const read = JSON.stringify(reportOf(body, text));
            expect(read, 'against the full patch').to.equal(JSON.stringify(reportOf(body, patchText(p))));
            expect(read, 'against the report written whole').to.equal(JSON.stringify(whole));
            stored = text;
          }
        },
      ),
      { numRuns: 1000 },
    );
    // most steps are written as deltas (else the property says little about them)
    expect(deltas, `deltas among ${steps} steps`).to.be.greaterThan(steps / 2);
  });

  it('a delta is a small share of the full patch when a few findings of many change', () => {
    const base: Finding[] = Array.from({ length: 40 }, (_, i) => ({
      id: `DEBIAN-CVE-2024-${1000 + i}`, aliases: [`CVE-2024-${1000 + i}`], ecosystem: 'Debian:12', package: `lib${i}`, installedVersion: '1.0.0', fixedVersions: [],
      severity: 'medium', path: '/var/lib/dpkg/status', summary: 'x'.repeat(300),
    }));
    base.sort(compareRisk);
    const added: Finding = { ...base[0], id: 'NEW-1', aliases: ['CVE-2025-1'], package: 'newpkg' };
    const next = [...base.slice(1), added].sort(compareRisk);
    const p: ReportPatch = { digest: 'sha256:x' as Digest, findings: next, vulndb: { builtAt: null, digest: 'd' }, scannedAt: 't', verdict: { decision: 'allow', reasons: [], policy: { name: 'n', revision: 'r' } } as unknown as ReportPatch['verdict'], replaces: { sig: 's', findings: indexOf(base) } };
    const delta = storedPatchText(p, { fromBody: true, sig: 's', previous: null }, 't');
    expect(delta.startsWith(DELTA_PREFIX)).to.equal(true);
    expect(delta.length).to.be.lessThan(patchText(p).length / 8);
    const body = JSON.stringify({ target: 't', findings: base, complete: true });
    expect(JSON.stringify(reportOf(body, delta))).to.equal(JSON.stringify(reportOf(body, patchText(p))));
  });
});
