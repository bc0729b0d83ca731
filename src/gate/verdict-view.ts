/**
 * One verdict, many references. A verdict is stored once per (registry, repository, digest) with
 * the raw evaluation per rule set (`Verdict.evaluations`); the decision and mode of a reference
 * (`repo:tag`, or the digest without a tag) are derived here, with the policy's mapping for that
 * reference, every time one is needed: push and retag events, admission, the proxy's held PUT,
 * re-evaluation and the API. Nothing downstream reads a decision that another tag's mapping chose.
 *
 * The mapping picks both the rule set and the mode (src/policy/evaluate.ts); the rule set's raw
 * evaluation is looked up, and the mode applied (`warn` turns a blocking decision into `warn`).
 */
import {
  decisionRank,
  isBlocking,
  worstDecision,
  type Decision,
  type RawEvaluation,
  type Reason,
  type TagDecision,
  type Verdict,
} from '../core/index.js';
import { applyMode, selectMapping, type CompiledPolicy } from '../policy/index.js';

/** A verdict as seen from one reference. */
export interface VerdictView extends TagDecision {
  /** The tag the view is for; undefined for the digest without a tag. */
  tag?: string;
  reasons: Reason[];
  /**
   * `evaluation`: the rule set's stored raw evaluation. `fallback`: the verdict has none for it (stored
   * before raw evaluations existed, or judged by a policy whose rule sets have since changed, until the
   * re-evaluation reaches it): the worst raw decision the verdict holds is used.
   */
  basis: 'evaluation' | 'fallback';
}

/**
 * The raw evaluation of a verdict stored without `evaluations`: its reasons keep their original
 * actions, so a decision that `warn` mode downgraded is the worst action of its reasons again. A
 * stored `allow` stays allow (a release records the blocking reasons it overrode next to `allow`).
 */
export function legacyRaw(v: Pick<Verdict, 'decision' | 'reasons'>): RawEvaluation {
  if (v.decision !== 'warn') return { decision: v.decision, reasons: v.reasons };
  const worst = v.reasons.reduce<Decision>((d, r) => worstDecision(d, r.action), 'warn');
  return { decision: worst, reasons: v.reasons };
}

function fallbackRaw(v: Verdict): RawEvaluation {
  const stored = Object.values(v.evaluations ?? {});
  if (!stored.length) return legacyRaw(v);
  return stored.reduce((a, b) => (decisionRank(b.decision) > decisionRank(a.decision) ? b : a));
}

/**
 * The decision, mode and reasons of `v` for `tag` (undefined: the digest without a tag) under
 * `policy`: the mapping of (v.registry, v.repository, tag) picks the rule set and the mode.
 */
export function viewOf(policy: CompiledPolicy, v: Verdict, tag?: string): VerdictView {
  const m = selectMapping(policy, { registry: v.registry, repository: v.repository, tag });
  const stored = v.evaluations?.[m.ruleSet];
  const raw = stored ?? fallbackRaw(v);
  return { tag, decision: applyMode(raw.decision, m.mode), mode: m.mode, ruleSet: m.ruleSet, mapping: m.name, reasons: raw.reasons, basis: stored ? 'evaluation' : 'fallback' };
}

/**
 * How strongly admission reads a view: 3 denies (blocking in `enforce`), 2 warns (a `warn` decision,
 * or blocking in `warn` mode), 1 admits with an audit note (blocking in `audit` mode), 0 admits.
 */
export function strictness(view: Pick<VerdictView, 'decision' | 'mode'>): number {
  if (isBlocking(view.decision)) return view.mode === 'enforce' ? 3 : view.mode === 'warn' ? 2 : 1;
  return view.decision === 'warn' ? 2 : 0;
}

/** True when the view blocks: a blocking decision in `enforce` mode (enforced, denied, refused). */
export function blocks(view: Pick<VerdictView, 'decision' | 'mode'>): boolean {
  return isBlocking(view.decision) && view.mode === 'enforce';
}

/**
 * The strictest of `views` ({@link strictness}, then the decision's rank); the first of equals.
 * @throws Error for an empty list.
 */
export function strictest<T extends Pick<VerdictView, 'decision' | 'mode'>>(views: T[]): T {
  if (!views.length) throw new Error('strictest: no views');
  return views.reduce((best, v) => {
    const d = strictness(v) - strictness(best) || decisionRank(v.decision) - decisionRank(best.decision);
    return d > 0 ? v : best;
  });
}

/** `v` with its public `decision`, `mode` and `reasons` taken from `view`. */
export function withView(v: Verdict, view: VerdictView): Verdict {
  return { ...v, decision: view.decision, mode: view.mode, reasons: view.reasons };
}

/**
 * The form a verdict is stored in: `decision`/`mode`/`reasons` are the strictest over the tags it
 * names (the untagged digest when it names none), so a reader that does not derive per reference
 * errs towards blocking. Every decision pushgate acts on is derived with {@link viewOf}.
 */
export function summarize(policy: CompiledPolicy, v: Verdict): Verdict {
  const views = v.tags.length ? v.tags.map((t) => viewOf(policy, v, t)) : [viewOf(policy, v)];
  const { perTag: _perTag, ...rest } = withView(v, strictest(views));
  return rest;
}

/**
 * `v` for an API answer: `perTag` holds the derived decision of every tag it names; `decision`/
 * `mode`/`reasons` are those of `tag` when one was asked for, else the stored summary.
 */
export function presentVerdict(policy: CompiledPolicy, v: Verdict, tag?: string): Verdict {
  const perTag: Record<string, TagDecision> = {};
  for (const t of v.tags) {
    const { decision, mode, ruleSet, mapping } = viewOf(policy, v, t);
    perTag[t] = { decision, mode, ruleSet, mapping };
  }
  const base = tag === undefined ? summarize(policy, v) : withView(v, viewOf(policy, v, tag));
  return { ...base, perTag };
}
