/** Human-readable rendering of a scan report (`--format table`). */
import { severityRank, type ScanReport } from '../core/index.js';

function pad(s: string, n: number): string {
  return s.length >= n ? s.slice(0, n) : s + ' '.repeat(n - s.length);
}

/**
 * Findings grouped by package (like trivy's and grype's tables): one row per installed package
 * (name, ecosystem, installed version, the fixed versions that cover its findings, where it is),
 * then its findings, most severe first. Packages are ordered by their worst finding, then name.
 */
export function renderFindingsByPackage(r: ScanReport): string[] {
  const groups = new Map<string, { pkg: string; eco: string; installed: string; path: string; platform?: string; findings: ScanReport['findings'] }>();
  for (const f of r.findings) {
    const key = [f.ecosystem, f.package, f.installedVersion, f.path, f.platform ?? ''].join('\u0000');
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { pkg: f.package, eco: f.ecosystem, installed: f.installedVersion, path: f.path, platform: f.platform, findings: [] }));
    g.findings.push(f);
  }
  const worst = (fs: ScanReport['findings']) => Math.max(...fs.map((f) => severityRank(f.severity)));
  const sorted = [...groups.values()].sort((a, b) => worst(b.findings) - worst(a.findings) || a.pkg.localeCompare(b.pkg) || a.path.localeCompare(b.path));
  const out = [`${pad('PACKAGE', 30)} ${pad('ECOSYSTEM', 12)} ${pad('INSTALLED', 22)} ${pad('FIXED IN', 24)} VULNERABILITIES`];
  for (const g of sorted) {
    g.findings.sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || a.id.localeCompare(b.id));
    const fixed = [...new Set(g.findings.flatMap((f) => f.fixedVersions))];
    const unfixed = g.findings.filter((f) => !f.fixedVersions.length).length;
    const fixText = (fixed.join(', ') || '-') + (unfixed && fixed.length ? ` (${unfixed} unfixed)` : '');
    const counts = SEVERITY_ORDER.map((s) => [s, g.findings.filter((f) => f.severity === s).length] as const).filter(([, n]) => n).map(([s, n]) => `${n} ${s}`).join(', ');
    // Names and versions are never cut: a cut version is a wrong version.
    out.push(`${g.pkg.padEnd(30)} ${pad(g.eco, 12)} ${g.installed.padEnd(22)} ${fixText.padEnd(24)} ${counts}`);
    out.push(`  ${g.path}${g.platform ? `  [${g.platform}]` : ''}`);
    for (const f of g.findings) {
      out.push(`    ${pad(f.severity.toUpperCase(), 10)} ${f.id.padEnd(24)} ${pad(f.fixedVersions.join(', ') || 'no fix', 18)} ${(f.summary ?? f.aliases.join(', ')).slice(0, 80)}`.trimEnd());
    }
  }
  return out;
}

const SEVERITY_ORDER = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'] as const;

/** Renders a report as plain text tables: findings grouped by package, most severe first. */
export function renderTable(r: ScanReport): string {
  const out: string[] = [];
  out.push(`${r.target}${r.digest ? `  ${r.digest}` : ''}`);
  if (r.os) out.push(`os: ${r.os.id} ${r.os.versionId ?? ''}`.trimEnd());
  if (r.platforms && r.platforms.length > 1) out.push(`platforms: ${r.platforms.join(', ')}`);
  out.push(`packages: ${r.packages.length}   findings: ${r.findings.length}   secrets: ${r.secrets.length}   complete: ${r.complete}`);
  if (r.findings.length) out.push('', ...renderFindingsByPackage(r));
  if (r.secrets.length) {
    out.push('', 'SECRETS');
    for (const s of r.secrets) out.push(`  ${pad(s.rule, 24)} ${s.path}${s.line ? `:${s.line}` : ''}  ${s.redacted}`);
  }
  if (r.config.length) {
    out.push('', 'CONFIG');
    for (const c of r.config) out.push(`  ${pad(c.severity, 8)} ${pad(c.check, 20)} ${c.message}`);
  }
  if (r.diagnostics.length) {
    out.push('', 'DIAGNOSTICS');
    for (const d of r.diagnostics) out.push(`  ${pad(d.code, 22)} ${d.path ?? d.layer ?? ''} ${d.message}`.replace(/\s+$/, ''));
  }
  out.push('', `DECISION: ${r.verdict.decision.toUpperCase()}  (policy ${r.verdict.policy.name}@${r.verdict.policy.revision})`);
  for (const reason of r.verdict.reasons) out.push(`  - [${reason.action}] ${reason.rule}: ${reason.message}`);
  return `${out.join('\n')}\n`;
}
