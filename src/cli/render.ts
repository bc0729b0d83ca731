/** Human-readable rendering of a scan report (`--format table`). */
import { severityRank, type ScanReport } from '../core/index.js';

function pad(s: string, n: number): string {
  return s.length >= n ? s.slice(0, n) : s + ' '.repeat(n - s.length);
}

/** Renders a report as plain text tables, most severe findings first. */
export function renderTable(r: ScanReport): string {
  const out: string[] = [];
  out.push(`${r.target}${r.digest ? `  ${r.digest}` : ''}`);
  if (r.os) out.push(`os: ${r.os.id} ${r.os.versionId ?? ''}`.trimEnd());
  if (r.platforms && r.platforms.length > 1) out.push(`platforms: ${r.platforms.join(', ')}`);
  out.push(`packages: ${r.packages.length}   findings: ${r.findings.length}   secrets: ${r.secrets.length}   complete: ${r.complete}`);
  if (r.findings.length) {
    out.push('', `${pad('SEVERITY', 10)} ${pad('ID', 24)} ${pad('PACKAGE', 28)} ${pad('INSTALLED', 22)} FIXED`);
    const fs = [...r.findings].sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || a.id.localeCompare(b.id));
    for (const f of fs) {
      out.push(`${pad(f.severity, 10)} ${pad(f.id, 24)} ${pad(f.package, 28)} ${pad(f.installedVersion, 22)} ${f.fixedVersions.join(', ') || '-'}${f.platform ? `  [${f.platform}]` : ''}`);
    }
  }
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
