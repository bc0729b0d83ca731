/**
 * Evaluation: one image against a compiled policy → decision, reasons, mode (DESIGN.md §3 "Verdict").
 * Pure and synchronous: compile once, evaluate many inventories.
 */
import { DECISIONS, decisionRank, isBlocking, type Decision } from '../core/verdict.js';
import type {
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

/**
 * Evaluates `input` with `policy`.
 *
 * The first mapping whose globs match `input.registry`/`repository`/`tag` (else the default) picks the
 * rule set and the mode. Every rule runs; items from base layers are dropped where `excludeBase`
 * applies, and items covered by an active exception are dropped (expired exceptions that cover this
 * image are listed in `expiredExceptions` and do not apply). A rule with items left fires: one reason
 * each, worst action first. An incomplete scan adds `incomplete-scan` with the rule set's `onIncomplete`.
 * The decision is the worst action of the reasons, `allow` when none. Mode `warn` downgrades a blocking
 * decision to `warn` (reasons keep the original action); mode `audit` keeps the decision as computed:
 * callers record it and neither enforce nor deny.
 */
export function evaluate(policy: CompiledPolicy, input: PolicyInput): PolicyEvaluation {
  const now = input.now?.getTime() ?? Date.now();
  const mapping = policy.mappings.find((m) => m.matches(input)) ?? policy.defaultMapping;
  const rs = policy.ruleSets[mapping.ruleSet];
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
    if (rule.excludeBase && base.size) items = items.filter((i) => !i.layer || !base.has(i.layer));
    items = items.filter((i) => keep(rule.name, i));
    if (items.length) reasons.push(reasonOf(rule, rule.action, items));
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
            advice: 'Fix the cause (a damaged or missing blob, a missing vulnerability database) and push again',
          },
          rs.onIncomplete,
          left,
        ),
      );
    }
  }

  // Worst first, rule order otherwise (sort is stable).
  reasons.sort((a, b) => decisionRank(b.action) - decisionRank(a.action));
  let decision: Decision = reasons.reduce<Decision>((d, r) => (decisionRank(r.action) > decisionRank(d) ? r.action : d), DECISIONS[0]);
  if (mapping.mode === 'warn' && isBlocking(decision)) decision = 'warn';
  return {
    decision,
    reasons,
    policy: { name: policy.name, revision: policy.revision },
    mode: mapping.mode,
    ruleSet: rs.name,
    mapping: mapping.name,
    expiredExceptions,
    appliedExceptions: [...applied],
  };
}
