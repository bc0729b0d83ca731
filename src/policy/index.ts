/**
 * The policy engine: policy documents (`kind: Policy`), compiled once, evaluated per image.
 * DESIGN.md §3 "Verdict", §4 "The default policy"; language reference in config/policy.yaml.
 */
import type { Evaluation, PolicyMode } from '../core/verdict.js';
import { compileShippedPolicy } from './compile.js';
import { DEFAULT_POLICY_DOCUMENT } from './default-policy-document.js';
import { DEFAULT_POLICY_YAML } from './default-policy.js';
import { evaluate as evaluatePolicy } from './evaluate.js';
import type { CompiledPolicy, PolicyEvaluation, PolicyInput } from './types.js';

export { compilePolicy, loadPolicy, isPolicyText, type PolicyTarget, withExceptions, revisionOf, RESERVED_RULE_NAMES, MAX_GRACE_MS } from './compile.js';
export { withSeverityThreshold, SEVERITY_THRESHOLD_RULE } from './threshold.js';
export { INCOMPLETE_RULE, INCOMPLETE_ADVICE, UNCOVERED_RULE, UNCOVERED_CODE, SIGNATURE_PENDING_RULE, MESSAGE_ITEMS, selectMapping, candidateRuleSets, evaluateRuleSet, applyMode, patchFindingRules, findingRuleNames } from './evaluate.js';
export type { MappingRef, RawPolicyEvaluation } from './evaluate.js';
export { runsAsRoot, RUNS_AS_ROOT_CHECK } from './rules/image-config.js';
export { BASE_NAME_LABEL } from './rules/base-image.js';
export { DEFAULT_POLICY_YAML } from './default-policy.js';
export { applyVex, loadVexFiles, parseCsafVex, parseCycloneDxVex, parseOpenVex, parseVex, scopeToImage, vexAuthor, vexRevision, type VexStatement } from './vex.js';
export type * from './types.js';

/** Source name of the built-in policy. */
export const BUILT_IN = '<built-in>';

let builtIn: CompiledPolicy | undefined;

/**
 * The built-in default policy (DESIGN.md §4): config/policy.yaml as embedded (its text and its
 * parsed document), compiled without parsing YAML or compiling the schema, which would cost every
 * `pushgate scan` a noticeable part of its run; test/unit/policy checks the document against both.
 */
export function defaultPolicy(): CompiledPolicy {
  builtIn ??= compileShippedPolicy(DEFAULT_POLICY_DOCUMENT, DEFAULT_POLICY_YAML, BUILT_IN);
  return builtIn;
}

/**
 * Evaluates one image (see ./evaluate.ts for the full semantics): decision (worst action of the rules
 * that fired, `allow` when none), reasons (one per fired rule, worst first, with items and fixed versions),
 * the policy's name and revision, the mode of the mapping that matched, and the exceptions that expired.
 */
export function evaluate(policy: CompiledPolicy, input: PolicyInput): Evaluation & PolicyEvaluation & { mode: PolicyMode; expiredExceptions: string[] } {
  return evaluatePolicy(policy, input);
}
