/**
 * Evaluation: one image against a compiled policy → decision, reasons, mode (DESIGN.md §3 "Verdict").
 * Pure and synchronous: compile once, evaluate many inventories.
 */
import { rebuildHint } from '../core/base-image.js';
import { DECISIONS, decisionRank, isBlocking, type Decision, type PolicyMode } from '../core/verdict.js';
import type {
  CompiledMapping,
  CompiledPolicy,
  CompiledRule,
  PolicyEvaluation,
  PolicyInput,
  PolicyItem,
  PolicyReason,
  RuleAction,
} from './types.js';

/** Most items named in one reason message; the reason's `items` and `findings` list them all. */
export const MESSAGE_ITEMS = 5;

/** Name of the reason added when the scan is incomplete. */
export const INCOMPLETE_RULE = 'incomplete-scan';
/**
 * The advice ending every {@link INCOMPLETE_RULE} reason, as the gate stores it. The stored reason text
 * is part of the key that decides when published verdict referrers are replaced (src/publish/documents.ts),
 * so it stays as it is; `pushgate scan`, where nothing was pushed, rewords it when it renders.
 */
export const INCOMPLETE_ADVICE = 'Fix the cause (a damaged or missing blob, a missing vulnerability database) and push again';

/** Name of the reason added when packages of an ecosystem were not matched (`ecosystem-uncovered` diagnostics). */
export const UNCOVERED_RULE = 'uncovered-ecosystem';
/** Rule name of the reason a verdict carries while a signature rule of `spec.signatures` awaits admission. */
export const SIGNATURE_PENDING_RULE = 'signature-pending';

/** The diagnostic code the vulnerability database gives packages it could not match (src/vulndb/coverage.ts). */
export const UNCOVERED_CODE = 'ecosystem-uncovered';

function reasonOf(rule: Pick<CompiledRule, 'name' | 'describe' | 'advice'>, action: RuleAction, items: PolicyItem[]): PolicyReason {
  const shown = items.slice(0, MESSAGE_ITEMS).map((i) => i.text);
  const more = items.length > MESSAGE_ITEMS ? `; and ${items.length - MESSAGE_ITEMS} more` : '';
  const message = `${rule.describe(items)}: ${shown.join('; ')}${more}${rule.advice ? `. ${rule.advice}.` : '.'}`;
  return {
    rule: rule.name,
    action,
    message,
    findings: [...new Set(items.map((i) => i.id))],
    items: items.map(({ text: _text, ...rest }) => rest),
  };
}

/** Where an image is, as the mappings see it. */
export interface MappingRef {
  registry?: string;
  repository?: string;
  tag?: string;
}

/**
 * The mapping that applies to `ref`: the first of `policy.mappings` whose globs all match (a glob on
 * a field `ref` lacks does not match), else the default. It picks both the rule set and the mode.
 */
export function selectMapping(policy: CompiledPolicy, ref: MappingRef): CompiledMapping {
  return policy.mappings.find((m) => m.matches(ref)) ?? policy.defaultMapping;
}

/**
 * The rule sets that some reference of `registry`/`repository` can map to: the rule set of every
 * mapping whose registry and repository globs match (whatever its tag glob says), in mapping order
 * and without repeats, up to the first such mapping without a tag glob (it catches every tag, and
 * the untagged reference), else through the default. Evaluating an image under each of these is
 * enough to derive its decision for any tag later ({@link evaluateRuleSet}, {@link applyMode}).
 */
export function candidateRuleSets(policy: CompiledPolicy, ref: Omit<MappingRef, 'tag'>): string[] {
  const out: string[] = [];
  const add = (rs: string) => {
    if (!out.includes(rs)) out.push(rs);
  };
  for (const m of policy.mappings) {
    if (!m.matchesRepository(ref)) continue;
    add(m.ruleSet);
    if (!m.constrainsTag) return out;
  }
  add(policy.defaultMapping.ruleSet);
  return out;
}

/**
 * A mode applied to a decision: `warn` turns a blocking decision into `warn`; `enforce` and `audit`
 * keep it (audit callers record it and neither enforce nor deny).
 */
export function applyMode(decision: Decision, mode: PolicyMode): Decision {
  return mode === 'warn' && isBlocking(decision) ? 'warn' : decision;
}

/** {@link evaluateRuleSet}'s result: the evaluation before any mode applies. */
export type RawPolicyEvaluation = Omit<PolicyEvaluation, 'mode' | 'mapping'>;

/**
 * Evaluates `input` with one rule set of `policy`, whatever the mappings say, and returns the raw
 * decision (no mode applied). Every rule runs; items from base layers are dropped where
 * `excludeBase` applies, and items covered by an active exception are dropped (expired exceptions
 * that cover this image are listed in `expiredExceptions` and do not apply). A rule with items left
 * fires: one reason each, worst action first. An incomplete scan adds `incomplete-scan` with the
 * rule set's `onIncomplete`. The decision is the worst action of the reasons, `allow` when none.
 * Nothing here reads `input.tag`: the tag matters only through the mapping that picks the rule set.
 * @throws Error when `ruleSet` is not a rule set of `policy` (a compiled policy's mappings only name existing ones).
 */
export function evaluateRuleSet(policy: CompiledPolicy, input: PolicyInput, ruleSet: string): RawPolicyEvaluation {
  const rs = policy.ruleSets[ruleSet];
  if (!rs) throw new Error(`policy ${policy.name} has no rule set "${ruleSet}"`);
  const now = input.now?.getTime() ?? Date.now();
  const forImage = policy.exceptions.filter((e) => e.coversImage(input));
  const active = forImage.filter((e) => e.expiresAt >= now);
  const expiredExceptions = forImage.filter((e) => e.expiresAt < now).map((e) => e.name);
  const applied = new Set<string>();
  const base = new Set(input.baseLayers ?? []);

  const keep = (ruleName: string, item: PolicyItem): boolean => {
    const ex = active.find((e) => e.coversItem(ruleName, item));
    if (ex) applied.add(ex.name);
    return !ex;
  };

  const ctx = { input, now, unknownSeverity: rs.unknownSeverity };
  const reasons: PolicyReason[] = [];
  for (const rule of rs.rules) {
    let items = rule.match(ctx);
    // The base attribution (src/base) decides where it was made; else the item's layer.
    if (rule.excludeBase && input.baseVerified) items = items.filter((i) => (i.origin ? i.origin !== 'base' : !i.layer || !base.has(i.layer)));
    items = items.filter((i) => keep(rule.name, i));
    if (items.length) {
      const reason = reasonOf(rule, rule.action, items);
      // Findings of the base are fixed by a rebuild on a newer base, not by a package bump: say which.
      const fromBase = items.filter((i) => i.origin === 'base').length;
      const hint = fromBase && input.base ? rebuildHint([input.base]) : undefined;
      if (hint) reason.message += ` ${fromBase} of ${items.length} come from the base image ${input.base!.repository}${input.base!.tags.length ? `:${input.base!.tags[0]}` : ''}: ${hint}.`;
      reasons.push(reason);
    }
  }

  if (!input.complete && rs.onIncomplete !== 'allow') {
    const diags = input.diagnostics.filter((d) => d.incomplete);
    const items: PolicyItem[] = (diags.length ? diags : [{ code: 'scan-incomplete', message: 'the scan did not complete' }]).map((d) => ({
      id: d.code,
      ...(d.path ? { path: d.path } : {}),
      ...(d.layer ? { layer: d.layer } : {}),
      text: `${d.code}${d.path ? ` (${d.path})` : ''}: ${d.message}`,
    }));
    const left = items.filter((i) => keep(INCOMPLETE_RULE, i));
    if (left.length) {
      reasons.push(
        reasonOf(
          {
            name: INCOMPLETE_RULE,
            describe: () => 'the scan is incomplete, so the image could not be judged fully',
            advice: INCOMPLETE_ADVICE,
          },
          rs.onIncomplete,
          left,
        ),
      );
    }
  }

  if (rs.onUncovered !== 'allow') {
    const items: PolicyItem[] = input.diagnostics.filter((d) => d.code === UNCOVERED_CODE).map((d) => ({
      id: d.ecosystem ?? d.code,
      text: d.message,
    }));
    const left = items.filter((i) => keep(UNCOVERED_RULE, i));
    if (left.length) {
      reasons.push(
        reasonOf(
          {
            name: UNCOVERED_RULE,
            describe: (its) => `${its.length} ecosystem(s) not matched against advisories`,
            advice: 'Load their advisories (`pushgate db update`; see `pushgate db status`) or, for an OS OSV does not cover, accept the gap with an exception or onUncovered: allow',
          },
          rs.onUncovered,
          left,
        ),
      );
    }
  }

  // Signatures usually arrive after the push: a matching signature rule never blocks here; the verdict
  // says the requirement is pending and admission enforces it.
  if (input.registry !== undefined && input.repository !== undefined) {
    for (const r of policy.signatures ?? []) {
      if (!r.matches(input.registry, input.repository)) continue;
      reasons.push({
        rule: SIGNATURE_PENDING_RULE,
        action: 'allow',
        message: `signature pending: signature rule ${r.name} (${r.mode}, ${r.require} of ${r.authorities.map((a) => a.name).join(', ')}) is checked at admission, not at push`,
      });
    }
  }

  // Worst first, rule order otherwise (sort is stable).
  reasons.sort((a, b) => decisionRank(b.action) - decisionRank(a.action));
  const decision: Decision = reasons.reduce<Decision>((d, r) => (decisionRank(r.action) > decisionRank(d) ? r.action : d), DECISIONS[0]);
  return {
    decision,
    reasons,
    policy: { name: policy.name, revision: policy.revision },
    ruleSet: rs.name,
    expiredExceptions,
    appliedExceptions: [...applied],
  };
}

/**
 * Evaluates `input` with `policy`: the mapping of `input.registry`/`repository`/`tag`
 * ({@link selectMapping}) picks the rule set and the mode; the rule set is evaluated
 * ({@link evaluateRuleSet}) and the mode applied ({@link applyMode}): mode `warn` downgrades a
 * blocking decision to `warn` (reasons keep the original action); mode `audit` keeps the decision as
 * computed: callers record it and neither enforce nor deny.
 */
export function evaluate(policy: CompiledPolicy, input: PolicyInput): PolicyEvaluation {
  const mapping = selectMapping(policy, input);
  const raw = evaluateRuleSet(policy, input, mapping.ruleSet);
  return { ...raw, decision: applyMode(raw.decision, mapping.mode), mode: mapping.mode, mapping: mapping.name };
}

/** The rules of a rule set whose items come only from `input.findings` (vulnerability rules). */
export function findingRuleNames(policy: CompiledPolicy, ruleSet: string): Set<string> {
  return new Set((policy.ruleSets[ruleSet]?.rules ?? []).filter((r) => r.kind === 'vulnerability').map((r) => r.name));
}

/**
 * {@link evaluateRuleSet}'s raw result for an input that differs from the one `stored` was evaluated
 * on only in its findings: the vulnerability rules (they read nothing but `input.findings`, the time
 * and the rule set's `unknownSeverity`) run again on `input.findings`; every other reason (rules on
 * packages, secrets, configuration, end of life, the base; incomplete, uncovered, signature pending)
 * is taken from `stored` as it is. The reasons are put back in the order evaluateRuleSet builds them
 * (rule order, then incomplete, uncovered, signature pending) and sorted worst first the same way, so
 * the result equals evaluateRuleSet's on the full input when the other inputs are unchanged.
 * Preconditions the caller checks: no verified base (excludeBase and the rebuild hint read the base,
 * which is not given here), a single platform (an index's reasons name platforms).
 * @returns undefined when `stored` cannot have come from this rule set (a reason of a rule it does not
 *   have): the caller then judges in full.
 */
export function patchFindingRules(
  policy: CompiledPolicy,
  ruleSet: string,
  stored: { decision: Decision; reasons: PolicyReason[] },
  input: Pick<PolicyInput, 'registry' | 'repository' | 'digest' | 'findings' | 'now'>,
): { decision: Decision; reasons: PolicyReason[] } | undefined {
  const rs = policy.ruleSets[ruleSet];
  if (!rs) return undefined;
  const now = input.now?.getTime() ?? Date.now();
  const full: PolicyInput = { ...input, secrets: [], config: [], diagnostics: [], packages: [], complete: true };
  const active = policy.exceptions.filter((e) => e.coversImage(full) && e.expiresAt >= now);
  const keep = (ruleName: string, item: PolicyItem): boolean => !active.some((e) => e.coversItem(ruleName, item));
  const byRule = new Map<string, PolicyReason[]>();
  for (const r of stored.reasons) {
    const l = byRule.get(r.rule);
    if (l) l.push(r);
    else byRule.set(r.rule, [r]);
  }
  const ctx = { input: full, now, unknownSeverity: rs.unknownSeverity };
  const reasons: PolicyReason[] = [];
  const used = new Set<string>();
  for (const rule of rs.rules) {
    used.add(rule.name);
    if (rule.kind !== 'vulnerability') {
      reasons.push(...(byRule.get(rule.name) ?? []));
      continue;
    }
    const items = rule.match(ctx).filter((i) => keep(rule.name, i));
    if (items.length) reasons.push(reasonOf(rule, rule.action, items));
  }
  for (const name of [INCOMPLETE_RULE, UNCOVERED_RULE, SIGNATURE_PENDING_RULE]) {
    used.add(name);
    reasons.push(...(byRule.get(name) ?? []));
  }
  if ([...byRule.keys()].some((k) => !used.has(k))) return undefined;
  reasons.sort((a, b) => decisionRank(b.action) - decisionRank(a.action));
  const decision: Decision = reasons.reduce<Decision>((d, r) => (decisionRank(r.action) > decisionRank(d) ? r.action : d), DECISIONS[0]);
  return { decision, reasons };
}
