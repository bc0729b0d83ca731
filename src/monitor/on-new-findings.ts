/**
 * What a re-judgement after a database change may do to an image that was judged before
 * (`mappings[].onNewFindings`, `grace`): the raw evaluation of each rule set is capped so that the
 * decision rises no further than the mapping allows, and a blocking decision waits for the grace
 * period of the new findings' severities (Docker Scout's "age" idea). A push is never capped: this
 * applies only to re-judgements of stored images, so a CVE published tonight does not take down a
 * workload that was allowed this morning unless the policy says so.
 *
 * - `notify`: the previous decision stays (the new findings are recorded and notified).
 * - `warn`: at most `warn` (or the previous decision, if stricter).
 * - `quarantine`: at most `quarantine`, after the grace period; `warn` until then.
 * - `reject`: the new decision in full, after the grace period; `warn` until then.
 */
import { decisionRank, worstDecision, type Decision, type Finding, type RawEvaluation, type Reason, type Verdict } from '../core/index.js';
import { MAX_GRACE_MS, selectMapping, type CompiledPolicy } from '../policy/index.js';
import type { CompiledMapping, OnNewFindings } from '../policy/types.js';

/** The rule name of the reason a capped evaluation carries. */
export const ON_NEW_FINDINGS_RULE = 'on-new-findings';

const LENIENCY: OnNewFindings[] = ['notify', 'warn', 'quarantine', 'reject'];

/**
 * Slack over the longest grace of the policy before a hold's due time counts as stepped
 * ({@link holdLatestDue}), ms: replicas' clocks differ by that much without being wrong.
 */
export const HOLD_MARGIN_MS = 60_000;

/** The longest `grace` of any severity in any mapping of `policy` (the default mapping's too), ms; 0 when none. */
export function longestGraceMs(policy: CompiledPolicy): number {
  let max = 0;
  for (const m of [...policy.mappings, policy.defaultMapping]) for (const ms of Object.values(m.graceMs)) if (ms !== undefined && ms > max) max = ms;
  return max;
}

/**
 * The latest due time a grace-period hold may have at `now` (ms since the epoch): `now` plus the longest
 * grace of `policy` plus {@link HOLD_MARGIN_MS}. A hold's due time is on the clock of the process that set
 * it (a finding's first-seen time plus its grace), and holds are found due by comparing it with `now`:
 * a clock set back by S (a corrected clock, a failover to a host whose clock lags) kept the image
 * admitted, held at `warn`, S longer, and a clock reset to 1970 for good. A hold due later than this was
 * set by a clock since set back, or under a policy whose grace was shortened since; in both cases it is
 * due now (the store's `dueHolds(now, latest)`), so no hold outlasts the longest grace (plus the margin)
 * of pass time after it was set, whatever the clock does. A clock that does not step never reads a due
 * time this far ahead (a due time is at most the longest grace after the clock's reading when it was
 * set), and a lengthened grace only raises the bound, so neither ends a hold early. At most
 * `Number.MAX_SAFE_INTEGER` (a bigint on PostgreSQL).
 */
export function holdLatestDue(policy: CompiledPolicy, now: number): number {
  // At most Number.MAX_SAFE_INTEGER: a grace written as "never" (`1000000000000w`) would otherwise be
  // past PostgreSQL's bigint (or printed as 6e+21), and the store's query of every hold would fail.
  return Math.min(Number.MAX_SAFE_INTEGER, Math.floor(now + longestGraceMs(policy) + HOLD_MARGIN_MS));
}

/** The due time (ms) of the hold a stored evaluation's reasons carry, if any. */
function heldUntil(reasons: readonly Reason[] | undefined): number | undefined {
  const until = reasons?.find((r) => r.rule === ON_NEW_FINDINGS_RULE && r.until !== undefined)?.until;
  const t = until === undefined ? NaN : Date.parse(until);
  return Number.isFinite(t) ? t : undefined;
}

/** True when a stored verdict carries a grace-period hold (a rule set capped at `warn` until a due time). */
export function isHeld(v: Verdict): boolean {
  return Object.values(v.evaluations ?? {}).some((e) => heldUntil(e.reasons) !== undefined);
}

/**
 * A stored verdict's raw evaluations as they were before {@link capNewFindings} capped them: a capped
 * evaluation is its raw one with the cap's reason put first and the decision lowered, so the cap's reason
 * is dropped and the decision is the strictest of the reasons left (as the policy evaluator sets it).
 * Evaluations without a cap are returned as stored. Used to enforce a due hold from the stored verdict
 * when the image's stored scan is gone (an analyzer upgrade changes the scan key): the block the hold
 * deferred is the stored raw decision, and capping it again with no new findings enforces it.
 */
export function uncappedEvaluations(v: Verdict): Record<string, RawEvaluation> {
  const out: Record<string, RawEvaluation> = {};
  for (const [rs, e] of Object.entries(v.evaluations ?? {})) {
    if (!e.reasons.some((r) => r.rule === ON_NEW_FINDINGS_RULE)) {
      out[rs] = e;
      continue;
    }
    const reasons = e.reasons.filter((r) => r.rule !== ON_NEW_FINDINGS_RULE);
    out[rs] = { decision: reasons.reduce<Decision>((d, r) => worstDecision(d, r.action), 'allow'), reasons };
  }
  return out;
}

/**
 * The `onNewFindings` and `grace` that govern a re-judgement of one rule set when several mappings of the
 * verdict's references select it: the strictest action among them and, when that action blocks
 * (`quarantine`, `reject`), per severity the shortest grace of every blocking mapping (none given: 0).
 * One evaluation per rule set is shared by every reference, so its cap cannot differ per tag; taking the
 * most lenient let any tag, which whoever can push may add (`dev-1` mapped to `notify` on a digest also
 * tagged `v1` mapped to `reject`), or the bare digest's mapping, keep the decision of every reference at
 * what it was. The grace is taken over every blocking mapping, not only those of the strictest action:
 * a tag mapped to `reject` with a long grace would otherwise hold at `warn` a digest whose other tag's
 * mapping quarantines it at once. The result is at least as strict as each mapping alone, at any time.
 */
export function governingMapping(ms: readonly CompiledMapping[]): Pick<CompiledMapping, 'name' | 'onNewFindings' | 'graceMs'> {
  const action = ms.reduce<OnNewFindings>((a, m) => (LENIENCY.indexOf(m.onNewFindings) > LENIENCY.indexOf(a) ? m.onNewFindings : a), 'notify');
  const blocks = (a: OnNewFindings) => LENIENCY.indexOf(a) >= LENIENCY.indexOf('quarantine');
  const strict = blocks(action) ? ms.filter((m) => blocks(m.onNewFindings)) : ms.filter((m) => m.onNewFindings === action);
  const graceMs: CompiledMapping['graceMs'] = {};
  const severities = new Set(strict.flatMap((m) => Object.keys(m.graceMs))) as Set<keyof CompiledMapping['graceMs']>;
  for (const sev of severities) graceMs[sev] = Math.min(...strict.map((m) => m.graceMs[sev] ?? 0));
  return { name: strict.map((m) => m.name).join(', '), onNewFindings: action, graceMs };
}

/** What {@link capNewFindings} did. */
export interface CapResult {
  verdict: Verdict;
  /** The most lenient `onNewFindings` that governed a rule set ({@link governingMapping}: the strictest of each rule set's mappings). */
  action: OnNewFindings;
  /** `none` (nothing got stricter), `kept` (capped), `enforced`, or `held` (grace running). */
  effect: 'none' | 'kept' | 'enforced' | 'held';
  /** When a held block becomes due, ms since the epoch. */
  enforceAfter?: number;
}

/**
 * The mappings of the references of a verdict (each tag, and the digest alone) that select rule set
 * `ruleSet`; the default mapping when none does.
 */
function mappingsFor(policy: CompiledPolicy, v: Verdict, ruleSet: string): CompiledMapping[] {
  const out: CompiledMapping[] = [];
  for (const tag of [undefined, ...v.tags]) {
    const m = selectMapping(policy, { registry: v.registry, repository: v.repository, tag });
    if (m.ruleSet === ruleSet && !out.includes(m)) out.push(m);
  }
  return out.length ? out : [policy.defaultMapping];
}

/**
 * Caps `after` (a re-judgement of `before`) per rule set as the mappings say (see the module comment).
 * @param fresh the findings new since `before`, with the time each was first seen (ms).
 * @param now evaluation time, ms since the epoch.
 */
export function capNewFindings(policy: CompiledPolicy, before: Verdict, after: Verdict, fresh: Array<{ finding: Finding; firstSeen: number }>, now: number): CapResult {
  const evaluations: Record<string, RawEvaluation> = { ...(after.evaluations ?? {}) };
  let action: OnNewFindings = 'reject';
  let effect: CapResult['effect'] = 'none';
  let enforceAfter: number | undefined;
  for (const [rs, ev] of Object.entries(evaluations)) {
    const prev: Decision = before.evaluations?.[rs]?.decision ?? before.decision;
    if (decisionRank(ev.decision) <= decisionRank(prev)) continue;
    const ms = mappingsFor(policy, after, rs);
    const m = governingMapping(ms);
    if (LENIENCY.indexOf(m.onNewFindings) < LENIENCY.indexOf(action)) action = m.onNewFindings;
    let allowed: Decision = m.onNewFindings === 'notify' ? prev : m.onNewFindings === 'reject' ? ev.decision : worstDecision(prev, m.onNewFindings);
    let until: string | undefined;
    let message = `new findings since the last judgement: onNewFindings ${m.onNewFindings} (mapping ${m.name}) keeps the decision at ${allowed}; pushing the image again judges it in full`;
    if (decisionRank(allowed) >= decisionRank('quarantine') && decisionRank(allowed) > decisionRank(prev)) {
      // the block waits for the grace of the new findings: the earliest due one decides. A first-seen time
      // after `now` was recorded by a clock since set back: the grace counts from now, not from then.
      let due = Infinity;
      // A grace is at most MAX_GRACE_MS (the policy schema refuses longer ones; a policy built in code is
      // clamped here): the due time is stored as a bigint on PostgreSQL and written as an ISO date.
      for (const f of fresh) due = Math.min(due, Math.min(f.firstSeen, now) + Math.min(MAX_GRACE_MS, m.graceMs[f.finding.severity as keyof typeof m.graceMs] ?? 0));
      // A hold already running keeps its due time: a finding arriving during the grace does not restart
      // it (advisories published more often than the grace would hold the image at warn for good), and a
      // pass with nothing new (`--all`) does not end it early. A due time past what the policy allows was
      // set by a clock since set back (or under a grace shortened since): the block is due now.
      const running = heldUntil(before.evaluations?.[rs]?.reasons);
      if (running !== undefined) due = Math.min(due, running > holdLatestDue(policy, now) ? now : running);
      if (due !== Infinity && due > now) {
        allowed = worstDecision(prev, 'warn');
        enforceAfter = enforceAfter === undefined ? due : Math.min(enforceAfter, due);
        message = `new findings since the last judgement: onNewFindings ${m.onNewFindings} (mapping ${m.name}) waits for their grace period until ${new Date(due).toISOString()}; until then the decision is ${allowed}`;
        until = new Date(due).toISOString();
        effect = 'held';
      } else if (effect !== 'held') {
        effect = 'enforced';
      }
    }
    if (decisionRank(ev.decision) > decisionRank(allowed)) {
      evaluations[rs] = { decision: allowed, reasons: [{ rule: ON_NEW_FINDINGS_RULE, action: allowed, message, ...(until !== undefined ? { until } : {}) }, ...ev.reasons] };
      if (effect === 'none') effect = 'kept';
    } else if (effect === 'none') {
      effect = 'enforced';
    }
  }
  if (effect === 'none') action = selectMapping(policy, { registry: after.registry, repository: after.repository, tag: after.tags[0] }).onNewFindings;
  return { verdict: { ...after, evaluations }, action, effect, ...(enforceAfter !== undefined ? { enforceAfter } : {}) };
}
