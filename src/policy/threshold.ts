/**
 * `pushgate scan --severity-threshold LEVEL` (docker scan's `--severity`): the policy's vulnerability
 * rules are replaced by one rule, "any finding at or above LEVEL → reject".
 */
import type { Severity } from '../core/finding.js';
import { revisionOf } from './compile.js';
import { compileVulnerabilityRule } from './rules/vulnerability.js';
import type { CompiledPolicy, CompiledRule, CompiledRuleSet } from './types.js';

/** Name of the rule that replaces the vulnerability rules. */
export const SEVERITY_THRESHOLD_RULE = 'severity-threshold';

/**
 * A copy of `policy` in which, in every rule set, the vulnerability rules are replaced by one rule
 * `severity-threshold` (action `reject`, every finding with severity ≥ `level`; `unknown` counts as the
 * rule set's `unknownSeverity`) at the place of the first one (or last when there was none). Other rules,
 * mappings and exceptions stay. The revision changes (sha256 of the text plus the threshold).
 */
export function withSeverityThreshold(policy: CompiledPolicy, level: Severity): CompiledPolicy {
  const body = compileVulnerabilityRule({ minSeverity: level }, { name: SEVERITY_THRESHOLD_RULE, action: 'reject', match: {} }, [], () => {});
  const threshold: CompiledRule = {
    name: SEVERITY_THRESHOLD_RULE,
    action: 'reject',
    kind: 'vulnerability',
    excludeBase: false,
    ...body,
  };
  const ruleSets: Record<string, CompiledRuleSet> = {};
  for (const [name, rs] of Object.entries(policy.ruleSets)) {
    const first = rs.rules.findIndex((r) => r.kind === 'vulnerability');
    const others = rs.rules.filter((r) => r.kind !== 'vulnerability');
    const at = first < 0 ? others.length : rs.rules.slice(0, first).filter((r) => r.kind !== 'vulnerability').length;
    const rules = [...others.slice(0, at), { ...threshold, excludeBase: rs.excludeBase }, ...others.slice(at)];
    ruleSets[name] = { ...rs, rules };
  }
  return { ...policy, ruleSets, revision: revisionOf(`${policy.text}\n# severity-threshold: ${level}\n`) };
}
