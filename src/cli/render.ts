/**
 * Human-readable rendering of a scan report (`--format table`). Every string of the report comes
 * from an image, a registry or an advisory: each renderer starts from {@link terminalSafe}, so no
 * control character reaches the terminal (terminal-text.ts).
 */
import { compareRisk, isIndexMediaType, type ScanReport } from '../core/index.js';
import { columnWidths, rowLines, tableLines } from './table.js';
import { terminalSafe, terminalText } from './terminal-text.js';

/** Prose cut to `n` characters with an ellipsis (summaries only; never ids, names or versions). */
function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/**
 * Findings grouped by package (like trivy's and grype's tables): one row per installed package
 * (name, ecosystem, installed version, the fixed versions that cover its findings, where it is),
 * then its findings, highest risk first (in CISA KEV, then EPSS, then CVSS, then severity: compareRisk),
 * each marked `KEV`, `EPSS <score>` and `[<severity source>]` where known. Packages are ordered by
 * their highest-risk finding, then name.
 */
export function renderFindingsByPackage(report: ScanReport): string[] {
  const r = terminalSafe(report);
  const groups = new Map<string, { pkg: string; eco: string; installed: string; path: string; platform?: string; findings: ScanReport['findings'] }>();
  for (const f of r.findings) {
    const key = [f.ecosystem, f.package, f.installedVersion, f.path, f.platform ?? ''].join('\u0000');
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { pkg: f.package, eco: f.ecosystem, installed: f.installedVersion, path: f.path, platform: f.platform, findings: [] }));
    g.findings.push(f);
  }
  for (const g of groups.values()) g.findings.sort(compareRisk);
  const sorted = [...groups.values()].sort((a, b) => compareRisk(a.findings[0], b.findings[0]) || a.pkg.localeCompare(b.pkg) || a.path.localeCompare(b.path));
  const rows = sorted.map((g) => {
    const fixed = [...new Set(g.findings.flatMap((f) => f.fixedVersions))];
    const unfixed = g.findings.filter((f) => !f.fixedVersions.length).length;
    const fixText = (fixed.join(', ') || '-') + (unfixed && fixed.length ? ` (${unfixed} unfixed)` : '');
    const counts = SEVERITY_ORDER.map((s) => [s, g.findings.filter((f) => f.severity === s).length] as const).filter(([, n]) => n).map(([s, n]) => `${n} ${s}`).join(', ');
    const findings = g.findings.map((f) => ({
      severity: f.severity.toUpperCase(), id: f.id, fixed: f.fixedVersions.join(', ') || 'no fix',
      // aliases are ids: listed whole; a summary is prose and may be shortened
      // suppressed by a VEX statement: listed (the reader sees what was waived and why), not judged
      about: `${f.vex ? `SUPPRESSED by VEX (${[f.vex.status, f.vex.justification].filter(Boolean).join(', ')}) ` : ''}${f.kev ? 'KEV ' : ''}${f.epss ? `EPSS ${f.epss.score.toFixed(3)} ` : ''}${sourceTag(f)}${f.summary ? clip(f.summary, 80) : f.aliases.join(', ')}`,
    }));
    return { g, fixText, counts, findings };
  });
  // Columns grow to fit their longest cell (up to MAX_COLUMN); a longer one is shown whole and the rest
  // of its row continues below at the columns (table.ts), so every version is shown whole and aligned.
  const pkgRows = rows.map(({ g, fixText, counts }) => [g.pkg, g.eco, g.installed, fixText, counts]);
  const head = ['PACKAGE', 'ECOSYSTEM', 'INSTALLED', 'FIXED IN', 'VULNERABILITIES'];
  const pkgW = columnWidths([head, ...pkgRows], { min: [30, 12, 22, 24] });
  const findingRows = rows.map((r) => r.findings.map((f) => [f.severity, f.id, f.fixed, f.about]));
  const findingW = columnWidths(findingRows.flat(), { min: [10, 24, 18] });
  const out = rowLines(head, pkgW);
  rows.forEach(({ g }, i) => {
    out.push(...rowLines(pkgRows[i], pkgW));
    out.push(`  ${g.path}${g.platform ? `  [${g.platform}]` : ''}`);
    for (const f of findingRows[i]) out.push(...rowLines(f, findingW, { indent: '    ' }));
  });
  return out;
}

/**
 * The base image lines: the base (name, digest, how it was found, its layer count and counts), then
 * "Recommendations for base image upgrade" as a table (kind, image, counts by severity, fixable).
 */
export function renderBases(bases: NonNullable<ScanReport['bases']>): string[] {
  const out: string[] = [];
  type Summary = NonNullable<ScanReport['bases']>[number]['summary'];
  const counts = (s: Summary) => (s ? [...SEVERITY_ORDER.slice(0, 4).map((x) => String(s.counts[x])), String(s.counts.negligible + s.counts.unknown)] : ['-', '-', '-', '-', '-']);
  const fixable = (s: Summary) => (s ? String(Object.values(s.fixable).reduce((a, b) => a + b, 0)) : '-');
  for (const b of bases) {
    const name = b.repository ? `${b.repository}${b.tags.length ? `:${b.tags.join(',')}` : ''}${b.digest ? `@${b.digest}` : ''}` : '(not named)';
    out.push(`BASE IMAGE${b.platform ? ` [${b.platform}]` : ''}: ${b.method === 'none' ? 'unknown' : name}  (found by ${b.method}; ${b.layers.length} layer(s))`);
    out.push(`  ${b.note}`);
    if (b.summary) out.push(`  vulnerabilities: ${SEVERITY_ORDER.filter((x) => x === 'critical' || x === 'high' || b.summary!.counts[x]).map((x) => `${b.summary!.counts[x]} ${x}`).join(', ')}; fixable: ${fixable(b.summary)}`);
    if (!b.recommendations?.length) continue;
    out.push('', 'Recommendations for base image upgrade:');
    const rows = b.recommendations.map((r) => [r.kind, `${r.repository}:${r.tag}`, ...counts(r.summary), fixable(r.summary)]);
    const head = ['KIND', 'BASE IMAGE', 'CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'OTHER', 'FIXABLE'];
    out.push(...tableLines([head, ...rows], { indent: '  ' }));
  }
  return out;
}

/**
 * The coverage header: each ecosystem with its package count, `✓` when matched against advisories,
 * `NOT MATCHED` otherwise (the reason is in the diagnostics): `Red Hat:enterprise_linux:8 120 ✓, PyPI 3 NOT MATCHED`.
 */
export function renderCoverage(c: NonNullable<ScanReport['coverage']>): string {
  return c.map((e) => `${e.ecosystem}${e.platform ? ` [${e.platform}]` : ''} ${e.packages} ${e.covered ? '✓' : 'NOT MATCHED'}`).join(', ');
}

const SEVERITY_ORDER = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'] as const;

/** `[nvd] `, `[vendor] `, …: which source the severity came from (nothing when unknown). */
function sourceTag(f: ScanReport['findings'][number]): string {
  const kind = f.severities?.find((x) => x.from === f.severitySource)?.source;
  return kind ? `[${kind}] ` : '';
}

/**
 * Renders a report as plain text tables: findings grouped by package, most severe first. Columns
 * grow to fit (table.ts); ids, names, versions and severities are never cut (only summaries are shortened).
 * `views.before` is printed before the findings (`--dependency-tree`); `views.findings` replaces
 * the by-package findings section (`--group-issues`).
 */
export function renderTable(report: ScanReport, views: { before?: string[]; findings?: string[] } = {}): string {
  // Names, versions and paths come from the image: no control character reaches the terminal, in the
  // report's own sections or in the views rendered from it.
  const r = terminalSafe(report);
  const safeLines = (lines?: string[]) => lines?.map(terminalText);
  views = { before: safeLines(views.before), findings: safeLines(views.findings) };
  const out: string[] = [];
  // An index's digest is what was asked for, not what was judged: each platform's manifest digest is named
  // under it (with --platform, the one judged), as `docker buildx imagetools inspect` lists them.
  const index = isIndexMediaType(r.mediaType) && !!r.manifests?.length;
  out.push(`${r.target}${r.digest ? `  ${r.digest}${index ? '  (index)' : ''}` : ''}`);
  if (index) for (const m of r.manifests!) out.push(`manifest ${m.digest}  [${m.platform}]`);
  if (r.os) out.push(`os: ${r.os.id} ${r.os.versionId ?? ''}`.trimEnd());
  if (!index && r.platforms && r.platforms.length > 1) out.push(`platforms: ${r.platforms.join(', ')}`);
  const suppressed = r.findings.filter((f) => f.vex).length;
  out.push(`packages: ${r.packages.length}   findings: ${r.findings.length}${suppressed ? ` (${suppressed} suppressed by VEX)` : ''}   secrets: ${r.secrets.length}   complete: ${r.complete}`);
  if (r.coverage?.length) out.push(`coverage: ${renderCoverage(r.coverage)}`);
  if (views.before?.length) out.push('', ...views.before);
  if (r.bases?.length) out.push('', ...renderBases(r.bases));
  if (r.findings.length && !views.findings && r.findings.some((f) => f.origin)) {
    // Two sections like docker scan: what the base brings (fixed by a newer base) and what the image adds.
    const base = r.findings.filter((f) => f.origin === 'base');
    const own = r.findings.filter((f) => f.origin !== 'base');
    const named = r.bases?.find((b) => b.repository);
    // An unnamed base (found by history alone) is not named twice: "FROM THE BASE IMAGE (21)".
    const name = named ? ` ${named.repository}${named.tags.length ? `:${named.tags[0]}` : ''}` : '';
    out.push('', `VULNERABILITIES FROM THE BASE IMAGE${name} (${base.length})`, ...(base.length ? renderFindingsByPackage({ ...r, findings: base }) : ['  none']));
    out.push('', `VULNERABILITIES FROM THE IMAGE'S OWN LAYERS (${own.length})`, ...(own.length ? renderFindingsByPackage({ ...r, findings: own }) : ['  none']));
  } else if (r.findings.length) out.push('', ...(views.findings ?? renderFindingsByPackage(r)));
  if (r.eol?.length) {
    out.push('', 'END OF LIFE');
    out.push(...tableLines(r.eol.map((e) => {
      const ext = e.extendedSupportUntil ? `; extended support ${e.inExtendedSupport ? 'until' : 'ended'} ${e.extendedSupportUntil}` : '';
      return [e.id, `${e.product} ${e.cycle}${e.codename ? ` (${e.codename})` : ''} (${e.via}): regular support ended ${e.eol}${ext}`];
    }), { indent: '  ', min: [12] }));
  }
  if (r.secrets.length) {
    out.push('', 'SECRETS');
    // In an index each platform's rows repeat: the platform tells them apart, as on package rows.
    out.push(...tableLines(r.secrets.map((s) => [s.rule, `${s.path}${s.line ? `:${s.line}` : ''}  ${s.redacted}${s.platform ? `  [${s.platform}]` : ''}`]), { indent: '  ', min: [24] }));
  }
  if (r.config.length) {
    out.push('', 'CONFIG');
    out.push(...tableLines(r.config.map((c) => [c.severity, c.check, `${c.message}${c.platform ? `  [${c.platform}]` : ''}`]), { indent: '  ', min: [8, 20] }));
  }
  if (r.diagnostics.length) {
    out.push('', 'DIAGNOSTICS');
    out.push(...tableLines(r.diagnostics.map((d) => [d.code, `${d.path ?? d.layer ?? ''} ${d.message}`]), { indent: '  ', min: [22] }));
  }
  out.push('', `DECISION: ${r.verdict.decision.toUpperCase()}  (policy ${r.verdict.policy.name}@${r.verdict.policy.revision})`);
  for (const reason of r.verdict.reasons) out.push(`  - [${reason.action}] ${reason.rule}: ${reason.message}`);
  return `${out.join('\n')}\n`;
}
