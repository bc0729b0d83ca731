/**
 * Kubernetes admission (admission.k8s.io/v1, protocols.md §6): the validating webhook decides from the
 * stored verdict of each image's digest; the mutating webhook pins admitted images to their digest.
 *
 * Contract (issue 8):
 * - A review whose `request.uid` can be read always gets `200` with an AdmissionReview echoing the uid;
 *   a denial is `allowed: false` with a `status.message` naming the image, its field path, the decision
 *   and the first reasons. Only an unreadable body gets `400`.
 * - DELETE/CONNECT, subresources other than `ephemeralcontainers`, exempt namespaces and images that an
 *   UPDATE leaves unchanged (same reference and pull policy in the same place as in `oldObject`) pass; an
 *   unchanged digest-pinned image's verdict is read (tags are not resolved) only to warn when it blocks, an
 *   unchanged tag the node may run from its cache only gives a warning.
 * - `dryRun`: nothing is scanned, enqueued, audited or recorded as workload usage.
 */
import picomatch from 'picomatch';
import {
  decisionRank,
  formatImageRef,
  isBlocking,
  isPushgateError,
  parseImageRef,
  shortDigest,
  unfoldedDockerHubSpelling,
  ambiguousIpv4Spelling,
  type Digest,
  type ImageRef,
  type PolicyMode,
  type Verdict,
} from '../core/index.js';
import { DEFAULT_MAX_IMAGES_PER_REVIEW, DEFAULT_SCAN_TRIGGERS, type PushgateConfig, type RegistryConfig } from '../config/types.js';
import type { GateApi } from '../gate/types.js';
import { parseHostPort } from '../core/host.js';
import { strictest, strictness, type VerdictView } from '../gate/verdict-view.js';
import { BREAK_GLASS_ANNOTATION, judgeBreakGlass, groupsOf, usernameOf, type BreakGlassDecision } from './break-glass.js';
import { createDigestCache, type DigestCache } from './digest-cache.js';
import { effectivePullPolicy, extractImages, isWorkloadKind, podMetadataOf, pullPolicyField, type ImageLocation } from './images.js';
import { ScanTriggers, type ReviewBudget, type TriggerResult } from './scan-triggers.js';
import { SignatureChecks } from './signatures.js';
import { newlyFailingSince, standingOwner } from './standing.js';
import { workloadOf, type WorkloadRecorder } from './workload-usage.js';

export { BREAK_GLASS_ANNOTATION } from './break-glass.js';

/** What the HTTP layer sends back: 200 with an AdmissionReview, or 400 for an unreadable body. */
export interface AdmissionResult {
  status: number;
  body: unknown;
}

/** What admission needs: the gate (verdicts, registry clients, scans, audit, hooks) and its config section. */
export interface AdmissionDeps {
  gate: GateApi;
  config: PushgateConfig['admission'];
  /** Clock in ms (default `Date.now`); used for the review's time budget. */
  now?: () => number;
  /**
   * Tag → digest cache. Default: one cache per `gate` object with TTL `config.digestCacheTtlMs`,
   * shared by every review using that gate.
   */
  digestCache?: DigestCache;
  /**
   * Limits on the scans reviews start. Default: one per `gate` object with `config.scanTriggers`,
   * reporting through `gate.hooks.admissionScanTrigger`.
   */
  scanTriggers?: ScanTriggers;
  /**
   * Signature checks of policy `spec.signatures`. Default: one per `gate` object with
   * `config.signatures`, dropping stale checks on the gate's push notifications.
   */
  signatureChecks?: SignatureChecks;
  /**
   * Where admitted (workload, image digest) pairs are recorded (src/admission/workload-usage.ts):
   * buffered, never awaited by the review. Unset: nothing is recorded.
   */
  workloads?: WorkloadRecorder;
}

/**
 * Who sent a review, as the listener established it. Only an authenticated caller (a client
 * certificate chaining to `admission.clientCA`) is the API server, so only then is
 * `request.userInfo` what the API server vouches for.
 */
export interface AdmissionCaller {
  authenticated: boolean;
  /** Identity for per-caller limits: `cert:<subject>` or `addr:<remote address>`. */
  id: string;
}

/** The caller of a review handed over without one (in-process use): not authenticated. */
const IN_PROCESS: AdmissionCaller = { authenticated: false, id: 'in-process' };
/** Audit actor of every review whose caller did not authenticate. */
export const UNAUTHENTICATED_ACTOR = 'unauthenticated';

/** Options of one review. */
export interface ReviewOptions {
  /**
   * Time budget of the review in ms, counted from the call (the listener derives it from the
   * apiserver's `?timeout=Ns` minus a margin). Default {@link DEFAULT_DEADLINE_MS}.
   */
  deadlineMs?: number;
  /** Who sent the review (default: an unauthenticated in-process caller). */
  caller?: AdmissionCaller;
}

/** Budget when the caller gives none: under the apiserver's default webhook timeout of 10 s. */
export const DEFAULT_DEADLINE_MS = 9_000;
/** Kept back from the budget to build and send the answer. */
const RESPONSE_MARGIN_MS = 50;
const API_VERSION = 'admission.k8s.io/v1';
/** Kubernetes recommends warnings of at most 120 characters (protocols.md §6.3). */
const WARNING_MAX = 120;
const WARNINGS_MAX_COUNT = 20;
const MESSAGE_MAX = 3_000;
const REASONS_SHOWN = 3;

/** The parts of `request` admission reads. */
interface ReviewRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation?: string;
  userInfo?: { username?: unknown; groups?: unknown };
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

/** What `admission.unpinnedTags` does with one reference ({@link cachedTagRule}). */
interface UnpinnedTag {
  /** `deny` refuses an image the verdict admits; `warn` admits it with a warning. */
  outcome: 'deny' | 'warn';
  /** The pull policy field named in the advice: `imagePullPolicy`, or `pullPolicy` of an image volume. */
  field: 'pullPolicy' | 'imagePullPolicy';
  /** `imagePullPolicy IfNotPresent` (`… at <paths>` when only some places of the reference may use the cache). */
  detail: string;
  /** Admitted with a warning for this existing workload (`ReplicaSet/web-7d9c`) instead of denied. */
  standing?: string;
}

/** How one distinct image reference of the object was judged. */
interface Judgement {
  image: string;
  paths: string[];
  pointers: string[];
  outcome: 'allow' | 'warn' | 'deny';
  /** allow, warn, quarantine, reject, unknown, unguarded, quarantine-copy, invalid-reference, tag-not-found, scan-in-progress, error, exempt, audit, pending, signature */
  decision: string;
  reasons: string[];
  /** The first reason is an unsatisfied signature rule (its warning leads with the rule). */
  signature?: boolean;
  /** The judgement came from a failure (registry, store, scan), not from a verdict. */
  error?: boolean;
  /** Admitted despite a blocking verdict: newly failing image of this existing workload (`ReplicaSet/web-7d9c`). */
  standing?: string;
  /**
   * A tag reference the node may run from its cache ({@link cachedTagRule}): applied once the verdict and
   * signatures would admit the image, so an image that is blocked anyway is refused for that.
   */
  unpinned?: UnpinnedTag;
  /** The warning of the verdict an {@link unpinned} image was admitted with, if any. */
  verdictWarning?: string;
  /**
   * The mode of the reference's mapping (`enforce` | `warn` | `audit`): the verdict's view, or the
   * policy's mapping when there is no verdict yet. Unknown counts as `enforce` (fail closed).
   */
  mode?: PolicyMode;
  digest?: Digest;
  ref?: ImageRef;
}

type Phase = 'validate' | 'mutate' | 'peek';

const defaultCaches = new WeakMap<GateApi, DigestCache>();
const defaultTriggers = new WeakMap<GateApi, ScanTriggers>();
const defaultSignatureChecks = new WeakMap<GateApi, SignatureChecks>();

function triggersFor(deps: AdmissionDeps): ScanTriggers {
  if (deps.scanTriggers) return deps.scanTriggers;
  let t = defaultTriggers.get(deps.gate);
  if (!t) {
    const hooks = deps.gate.hooks;
    t = new ScanTriggers({ limits: deps.config.scanTriggers ?? DEFAULT_SCAN_TRIGGERS, onResult: (r) => hooks.admissionScanTrigger?.(r) });
    defaultTriggers.set(deps.gate, t);
  }
  return t;
}

function signatureChecksFor(deps: AdmissionDeps): SignatureChecks {
  if (deps.signatureChecks) return deps.signatureChecks;
  let c = defaultSignatureChecks.get(deps.gate);
  if (!c) {
    c = new SignatureChecks(deps.gate, deps.config.signatures, deps.now);
    defaultSignatureChecks.set(deps.gate, c);
  }
  return c;
}

function cacheFor(deps: AdmissionDeps): DigestCache {
  if (deps.digestCache) return deps.digestCache;
  let c = defaultCaches.get(deps.gate);
  if (!c) {
    c = createDigestCache(deps.gate, deps.config.digestCacheTtlMs);
    defaultCaches.set(deps.gate, c);
  }
  return c;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** Reads `body.request` far enough to answer; undefined when the uid cannot be read. */
function readRequest(body: unknown): ReviewRequest | undefined {
  if (!isRecord(body) || !isRecord(body.request)) return undefined;
  const uid = body.request.uid;
  if (typeof uid !== 'string' || uid === '') return undefined;
  return body.request as unknown as ReviewRequest;
}

function review(response: Record<string, unknown>): AdmissionResult {
  return { status: 200, body: { apiVersion: API_VERSION, kind: 'AdmissionReview', response } };
}

function badBody(message: string): AdmissionResult {
  return { status: 400, body: { error: { code: 'BAD_ARGUMENT', message } } };
}

function denyResponse(uid: string, message: string, code = 403, reason = 'Forbidden'): Record<string, unknown> {
  return { uid, allowed: false, status: { status: 'Failure', code, reason, message: truncate(message, MESSAGE_MAX) } };
}

/** Checks the envelope; returns a denial response when the uid is readable but the review is not usable. */
function checkEnvelope(body: Record<string, unknown>, req: ReviewRequest): Record<string, unknown> | undefined {
  if (body.apiVersion !== API_VERSION || body.kind !== 'AdmissionReview') {
    return denyResponse(
      req.uid,
      `pushgate: expected an AdmissionReview of apiVersion ${API_VERSION}, got ${String(body.kind)} ${String(body.apiVersion)}; set admissionReviewVersions: ["v1"] on the webhook`,
      400,
      'BadRequest',
    );
  }
  return undefined;
}

function namespaceOf(req: ReviewRequest): string {
  if (typeof req.namespace === 'string' && req.namespace) return req.namespace;
  const md = isRecord(req.object) && isRecord(req.object.metadata) ? req.object.metadata : undefined;
  return typeof md?.namespace === 'string' ? md.namespace : '';
}

/** Compiled matchers, cached per config object (configs are loaded once). */
interface Matchers {
  exemptNamespace: (ns: string) => boolean;
  exemptImage: (candidates: string[]) => boolean;
  unknownRule: (ns: string) => 'deny' | 'allow' | 'scan';
}
const matcherCache = new WeakMap<object, Matchers>();

function matchersFor(config: PushgateConfig['admission']): Matchers {
  let m = matcherCache.get(config);
  if (m) return m;
  const nsExempt = config.exemptions.namespaces.map((g) => picomatch(g));
  const imgExempt = config.exemptions.images.map((g) => picomatch(g));
  const rules = config.namespaces.map((r) => ({ test: picomatch(r.match), unknown: r.unknown }));
  m = {
    exemptNamespace: (ns) => nsExempt.some((t) => t(ns)),
    exemptImage: (cands) => imgExempt.some((t) => cands.some((c) => t(c))),
    // First matching rule wins; with none, an image that was never scanned is denied (fail closed).
    unknownRule: (ns) => rules.find((r) => r.test(ns))?.unknown ?? 'deny',
  };
  matcherCache.set(config, m);
  return m;
}

/** Context shared by the images of one review. */
interface Ctx {
  deps: AdmissionDeps;
  cache: DigestCache;
  matchers: Matchers;
  namespace: string;
  dryRun: boolean;
  phase: Phase;
  triggers: ScanTriggers;
  budget: ReviewBudget;
  /** Absolute time (deps.now clock) by which the answer must be ready. */
  deadline: number;
  now: () => number;
  /** The existing workload the review's object is created for by its controller (src/admission/standing.ts). */
  standing?: string;
}

function verdictReasons(v: Verdict): string[] {
  const r = v.reasons.map((x) => `${x.rule}: ${x.message}`);
  if (!v.complete && !v.reasons.some((x) => x.rule === 'incomplete-scan' || x.rule === 'scan-failed')) r.push('scan incomplete');
  return r;
}

/**
 * The verdict as seen from the reference the pod names. `repo:tag` (resolved by pushgate): that
 * tag's mapping. A digest (`repo@sha256:…`, or `repo:tag@sha256:…`, whose tag the runtime ignores and
 * nobody checked): the strictest of the untagged digest and every tag that now points at it, so a
 * digest cannot borrow the laxer mapping of a tag it was once pushed as. A tag is checked (HEAD,
 * cached) only when its view is stricter than the best so far; a failed check counts it as pointing.
 */
async function viewForReference(v: Verdict, ref: ImageRef, reg: RegistryConfig, ctx: Ctx): Promise<{ view: VerdictView; note?: string }> {
  const gate = ctx.deps.gate;
  if (!ref.digest) return { view: gate.viewFor(v, ref.tag ?? 'latest') };
  let best = gate.viewFor(v);
  const byStrictness = v.tags.map((t) => gate.viewFor(v, t)).sort((a, b) => strictness(b) - strictness(a) || decisionRank(b.decision) - decisionRank(a.decision));
  for (const view of byStrictness) {
    if (strictest([best, view]) === best) break;
    const now = await ctx.cache.resolve(reg.name, ref.repository, view.tag!).catch(() => ref.digest);
    if (now !== ref.digest) continue;
    best = view;
    break;
  }
  const note = best.tag === undefined ? undefined : `judged as tag ${best.tag} (mapping ${best.mapping}, mode ${best.mode}): the strictest of the tags pointing at this digest`;
  return { view: best, note };
}

/** Judges a verdict as seen from the pod's reference (enforce denies, warn warns, audit admits). */
async function judgeVerdict(judged: Judgement, v: Verdict, reg: RegistryConfig, ref: ImageRef, ctx: Ctx): Promise<Judgement> {
  const { view, note } = await viewForReference(v, ref, reg, ctx);
  const reasons = [...verdictReasons({ ...v, reasons: view.reasons }), ...(note ? [note] : [])];
  const j: Judgement = { ...judged, mode: view.mode };
  if (view.decision === 'allow') return { ...j, outcome: 'allow', decision: 'allow', reasons };
  if (!isBlocking(view.decision)) return { ...j, outcome: 'warn', decision: view.decision, reasons };
  if (view.mode === 'enforce') return (await standingExemption({ ...j, decision: view.decision, reasons }, v, ctx)) ?? { ...j, outcome: 'deny', decision: view.decision, reasons };
  if (view.mode === 'warn') return { ...j, outcome: 'warn', decision: view.decision, reasons };
  return { ...j, outcome: 'allow', decision: 'audit', reasons: [`${view.decision} (audit mode)`, ...reasons] };
}

/**
 * A blocking verdict of an image that became blocking through a database change, in a review that
 * creates a pod (ReplicaSet, Job) for an existing workload: admitted with a warning. Undefined: deny.
 * Change records that cannot be read deny (fail closed) and say so.
 */
async function standingExemption(j: Judgement, v: Verdict, ctx: Ctx): Promise<Judgement | undefined> {
  const gate = ctx.deps.gate;
  if (!ctx.standing || ctx.phase === 'peek' || !gate.changes) return undefined;
  let since;
  try {
    since = newlyFailingSince(v, await gate.changes(v.registry, v.repository, v.digest));
  } catch (e) {
    return { ...j, outcome: 'deny', reasons: [...j.reasons, `change records unreadable (${errText(e)}): not admitted as a standing workload; retry`] };
  }
  if (!since) return undefined;
  const why = `newly failing since ${since.at.slice(0, 10)} (database change), admitted for existing ${ctx.standing}`;
  return { ...j, outcome: 'warn', standing: ctx.standing, reasons: [why, ...j.reasons] };
}

/** The mode of the mapping of `repository:tag` under the policy in force; undefined when the gate cannot say (then `enforce`). */
function modeOf(gate: GateApi, registry: string, repository: string, tag: string): PolicyMode | undefined {
  try {
    return gate.modeFor?.(registry, repository, tag);
  } catch {
    return undefined;
  }
}

/** Whether `host` names a guarded registry; a host the normalizer cannot place counts as guarded (fail closed). */
function guardedOrUnknown(gate: GateApi, host: string): boolean {
  try {
    return gate.registryForHost(host) !== undefined;
  } catch {
    return true;
  }
}

/**
 * Why a `NAME.localhost` host is refused where it reaches a guarded registry only by the host normalizer's
 * loopback rule (src/core/host.ts `dialsLoopback`: RFC 6761, systemd-resolved answers such names with
 * loopback), not by being that registry's configured host or an alias; undefined otherwise. The runtimes
 * that pull for a pod are Go programs whose resolver has no rule for `.localhost` (golang/go#22826): they ask
 * /etc/hosts and the node's DNS, which may answer with any address, so the registry the node pulls from is
 * not the loopback one pushgate would judge (a tag resolved there, admitted, while the node pulls another
 * image by that tag). A registry configured as `x.localhost` is judged as before.
 */
function localhostSubdomainSpelling(gate: GateApi, registryHost: string): string | undefined {
  let host: string;
  try {
    host = parseHostPort(registryHost).host;
  } catch {
    return undefined;
  }
  if (!host.endsWith('.localhost')) return undefined;
  let reg: RegistryConfig | undefined;
  try {
    reg = gate.registryForHost(registryHost);
  } catch {
    return undefined; // refused below, naming the registries it reaches
  }
  if (!reg) return undefined;
  const own = (n: string): string | undefined => {
    try {
      return parseHostPort(n).host;
    } catch {
      return undefined;
    }
  };
  let url: URL | undefined;
  try {
    url = new URL(reg.url);
  } catch {
    url = undefined;
  }
  if ([url?.host ?? '', ...(reg.aliases ?? [])].some((n) => own(n) === host)) return undefined;
  return `${host} reaches the guarded registry ${reg.name} only where the node resolves it to a loopback address, and the container runtime's resolver has no rule for .localhost (it asks the node's DNS, which may answer with any address): write the registry's own host${url ? ` (${url.host})` : ''} instead`;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Resolves, looks up and (by namespace rule) scans one image reference. Never throws. */
/**
 * Judges one image: its verdict or the namespace rule ({@link judgeImageVerdict}), then, when the
 * validating webhook would admit it, the policy's signature rules ({@link judgeSignatures}).
 */
async function judgeImage(raw: string, locs: ImageLocation[], ctx: Ctx): Promise<Judgement> {
  let j = await judgeImageVerdict(raw, locs, ctx);
  if (ctx.phase === 'validate' && j.outcome !== 'deny' && j.digest && j.ref) j = await judgeSignatures(j, j.ref, j.digest, ctx);
  if (!j.unpinned || j.outcome === 'deny') return j;
  // A tag the verdict admits but the node may start from its cache: refused or warned about, saying what to do.
  const u = j.unpinned;
  const pinned = j.digest && j.ref ? `${raw}@${j.digest}` : `${raw}@sha256:…`;
  const reason =
    `tag without digest and ${u.detail}: the node may run an image it cached under this tag, not what the tag names now; ` +
    `pin it by digest (${pinned}, as pushgate's mutating webhook writes it) or set ${u.field}: Always` +
    (u.standing ? `; admitted for existing ${u.standing}` : '');
  // A mapping in `warn` or `audit` mode refuses nothing at admission (DESIGN.md, Verdict): there the rule
  // warns with the same advice, as `warn` mode turns a blocking verdict into a warning.
  const lax = u.outcome === 'deny' && j.mode !== undefined && j.mode !== 'enforce';
  if (u.outcome === 'deny' && !lax) return { ...j, outcome: 'deny', decision: 'unpinned-tag', reasons: [reason], unpinned: undefined };
  const why = lax ? `${reason}; admitted: its mapping is in ${j.mode} mode` : reason;
  return { ...j, outcome: 'warn', reasons: [why, ...j.reasons], ...(j.outcome === 'warn' ? { verdictWarning: warningFor({ ...j, unpinned: undefined }) } : {}) };
}

/**
 * The places of `locs` where the kubelet may start the image from the node's cache: an effective pull
 * policy ({@link effectivePullPolicy}) of `IfNotPresent` or `Never`, or a value that is none of the
 * three (ambiguous: counted as the worst). With them a tag reference runs whatever image the node
 * cached under that name, pulled when the tag named something else (a digest pushgate since blocked),
 * or for a pod pushgate admitted under a laxer rule (another namespace's `allow`, an exemption).
 */
function cachedPlaces(locs: ImageLocation[]): Array<{ loc: ImageLocation; policy: string }> {
  const out: Array<{ loc: ImageLocation; policy: string }> = [];
  for (const loc of locs) {
    const p = effectivePullPolicy(loc);
    if (p === 'Always') continue;
    out.push({ loc, policy: typeof p === 'string' ? p : `${JSON.stringify(p.invalid) ?? String(p.invalid)} (not Always, IfNotPresent or Never)` });
  }
  return out;
}

/**
 * `admission.unpinnedTags` for a guarded, non-exempt reference `ref` without a digest at `locs`:
 * undefined when every place pulls (`Always`) or the rule is `allow`; else what to do once the verdict
 * would admit the image ({@link judgeImage}). `deny` (the default) denies, except in a pod (ReplicaSet, Job) the
 * kube-controller-manager creates for an existing workload ({@link Ctx.standing}): that workload was
 * admitted before (its own CREATE or UPDATE now meets this rule), and refusing its new pods would
 * break scaling and pod replacement, so they are admitted with a warning. A `deny` under a mapping in
 * `warn` or `audit` mode becomes a warning in {@link judgeImage}, where the mode is known.
 */
function cachedTagRule(ref: ImageRef, locs: ImageLocation[], ctx: Ctx): UnpinnedTag | undefined {
  const rule = ctx.deps.config.unpinnedTags ?? 'deny';
  if (rule === 'allow' || ref.digest) return undefined;
  const cached = cachedPlaces(locs);
  if (cached.length === 0) return undefined;
  const field = pullPolicyField(cached[0]!.loc);
  const where = cached.length === locs.length ? '' : ` at ${cached.map((c) => c.loc.path).join(', ')}`;
  const detail = `${field} ${[...new Set(cached.map((c) => c.policy))].join(', ')}${where}`;
  if (rule === 'warn') return { outcome: 'warn', field, detail };
  if (!ctx.standing) return { outcome: 'deny', field, detail };
  return { outcome: 'warn', field, detail, standing: ctx.standing };
}

/**
 * Applies the signature rules covering the image's repository: an unsatisfied `enforce` rule denies,
 * a `warn` rule warns, each with the rule's message. A registry that cannot be read denies (fail
 * closed) unless every covering rule is in `warn` mode.
 */
async function judgeSignatures(j: Judgement, ref: ImageRef, digest: Digest, ctx: Ctx): Promise<Judgement> {
  const reg = ctx.deps.gate.registryForHost(ref.registry);
  if (!reg) return j;
  const checks = signatureChecksFor(ctx.deps);
  const rules = checks.rulesFor(reg.name, ref.repository);
  if (rules.length === 0) return j;
  let results;
  try {
    results = await checks.check(reg, ref.repository, digest, rules);
  } catch (e) {
    const why = `signature rule ${rules.map((r) => r.name).join(', ')}: signatures could not be read (${errText(e)}); retry`;
    if (rules.every((r) => r.mode === 'warn')) return { ...j, outcome: 'warn', reasons: [why, ...j.reasons], signature: true };
    return { ...j, outcome: 'deny', decision: 'error', error: true, reasons: [why, ...j.reasons] };
  }
  const failed = results.filter((r) => !r.satisfied);
  if (failed.length === 0) return j;
  const enforced = failed.filter((r) => r.mode === 'enforce');
  const reasons = [...failed.map((r) => (r.mode === 'warn' ? `${r.message} (warn mode)` : r.message)), ...j.reasons];
  if (enforced.length) return { ...j, outcome: 'deny', decision: 'signature', reasons };
  return { ...j, outcome: 'warn', decision: j.decision === 'allow' ? 'signature' : j.decision, reasons, signature: true };
}

async function judgeImageVerdict(raw: string, locs: ImageLocation[], ctx: Ctx): Promise<Judgement> {
  const j: Judgement = {
    image: raw,
    paths: locs.map((l) => l.path),
    pointers: locs.map((l) => l.pointer),
    outcome: 'allow',
    decision: 'allow',
    reasons: [],
  };
  const { gate } = ctx.deps;
  if (raw.trim() === '') {
    // A template without an image (allowed for config management); the apiserver rejects Pods without one.
    return { ...j, decision: 'no-image' };
  }
  let ref: ImageRef;
  try {
    ref = parseImageRef(raw);
  } catch (e) {
    return { ...j, outcome: 'deny', decision: 'invalid-reference', reasons: [errText(e)] };
  }
  const hubSpelling = unfoldedDockerHubSpelling(raw, ref);
  if (hubSpelling && guardedOrUnknown(gate, ref.registry)) {
    // Docker Hub's name reaches a guarded registry (a mirror), but the runtime reads this spelling as
    // another registry: what it pulls is not what pushgate would judge (src/core/image-ref.ts).
    return { ...j, outcome: 'deny', decision: 'invalid-reference', reasons: [hubSpelling] };
  }
  const ipv4Spelling = ambiguousIpv4Spelling(raw);
  if (ipv4Spelling && guardedOrUnknown(gate, ref.registry)) {
    // The address it folds to is guarded, but a Go runtime may pull from whatever the name resolves to.
    return { ...j, outcome: 'deny', decision: 'invalid-reference', reasons: [ipv4Spelling] };
  }
  const localhostName = localhostSubdomainSpelling(gate, ref.registry);
  if (localhostName) return { ...j, outcome: 'deny', decision: 'invalid-reference', reasons: [localhostName] };
  j.ref = ref;
  const name = `${ref.registry}/${ref.repository}`;
  if (ctx.matchers.exemptImage([raw, name, formatImageRef(ref)])) return { ...j, decision: 'exempt' };

  let reg: RegistryConfig | undefined;
  try {
    // The one host normalizer (src/core/host.ts): every spelling of a guarded registry is guarded.
    reg = gate.registryForHost(ref.registry);
  } catch (e) {
    return { ...j, outcome: 'deny', decision: 'invalid-reference', reasons: [errText(e)] };
  }
  if (!reg) {
    const rule = ctx.deps.config.unguarded;
    const why = `registry ${ref.registry} is not guarded by pushgate`;
    if (rule === 'allow') return { ...j, decision: 'unguarded' };
    return { ...j, outcome: rule === 'deny' ? 'deny' : 'warn', decision: 'unguarded', reasons: [why] };
  }
  if (gate.isQuarantineRepository(reg.name, ref.repository)) {
    // A quarantine copy is blocked by definition. Nothing is looked up, scanned or queued: a review
    // must never make pushgate act on its own copies.
    return { ...j, outcome: 'deny', decision: 'quarantine-copy', reasons: [`${ref.repository} is a quarantine repository of ${reg.name}: its images are blocked; an admin releases one with POST /api/v1/quarantine/release`] };
  }
  // Decided in judgeImage once the verdict would admit the image: a blocked image is refused for that,
  // and the advice names the digest the tag resolves to.
  if (ctx.phase === 'validate') j.unpinned = cachedTagRule(ref, locs, ctx);

  let digest = ref.digest;
  if (!digest) {
    try {
      digest = await ctx.cache.resolve(reg.name, ref.repository, ref.tag ?? 'latest');
    } catch (e) {
      return { ...j, outcome: 'deny', decision: 'error', error: true, reasons: [`cannot resolve tag ${ref.tag} in registry ${reg.name}: ${errText(e)}; retry`] };
    }
    if (!digest) {
      const tag = ref.tag ?? 'latest';
      // Why it is missing, when pushgate moved it: the registry is what decides, so this only explains.
      const q = await gate.quarantinedTag?.(reg.name, ref.repository, tag).catch(() => undefined);
      const why = q
        ? `tag ${tag} of ${ref.repository} (registry ${reg.name}) was quarantined by pushgate on ${new Date(q.at).toISOString().slice(0, 10)} (${q.digest}, copy in ${q.quarantineRepository}); see GET /api/v1/images/${q.digest}; an admin releases it with POST /api/v1/quarantine/release`
        : `tag ${tag} does not exist in ${ref.repository} of registry ${reg.name}`;
      return { ...j, outcome: 'deny', decision: 'tag-not-found', reasons: [why] };
    }
  }
  j.digest = digest;

  let verdict: Verdict | undefined;
  try {
    verdict = await gate.verdict(reg.name, ref.repository, digest);
  } catch (e) {
    return { ...j, outcome: 'deny', decision: 'error', error: true, reasons: [`verdict lookup failed: ${errText(e)}; retry`] };
  }
  if (verdict) return judgeVerdict(j, verdict, reg, ref, ctx);

  // No verdict: the namespace rule decides. The tag goes with the scan only when pushgate resolved
  // it: beside a digest it is the pod author's word, and the gate enforces on the tag it is given.
  const req = { registry: reg.name, repository: ref.repository, digest, tag: ref.digest ? undefined : ref.tag, source: 'admission' as const };
  const rule = ctx.matchers.unknownRule(ctx.namespace);
  if (ctx.phase === 'peek') return { ...j, outcome: 'deny', decision: 'unknown', reasons: ['no verdict: never scanned'] };
  if (ctx.phase === 'mutate') {
    // The mutating webhook never scans; it pins what the validating webhook will judge.
    return rule === 'deny' ? { ...j, outcome: 'deny', decision: 'unknown', reasons: ['no verdict'] } : { ...j, decision: 'pending' };
  }
  const key = `${reg.name}\u0000${ref.repository}\u0000${digest}`;
  const limits = ctx.triggers.limits;
  const notStarted = (r: TriggerResult): string =>
    r === 'over-review-cap'
      ? `no scan started: this review names more than ${limits.maxPerReview} images without a verdict (admission.scanTriggers.maxPerReview)`
      : `no scan started: too many scans requested by this caller (admission.scanTriggers: burst ${limits.burst}, ${limits.ratePerSecond}/s), retry later`;
  const enqueue = async (): Promise<{ result?: TriggerResult; text: string }> => {
    if (ctx.dryRun) return { text: 'dry run: no scan queued' };
    try {
      const result = await ctx.triggers.queue(ctx.budget, key, () => gate.enqueue(req));
      if (result === 'queued') return { result, text: 'a scan was queued' };
      if (result === 'coalesced') return { result, text: 'a scan is already queued' };
      return { result, text: notStarted(result) };
    } catch (e) {
      return { text: `queueing a scan failed: ${errText(e)}` };
    }
  };
  if (rule === 'allow') {
    // The namespace rule admits the never-scanned digest the tag names now; the node may run another one
    // cached under the tag, perhaps blocked: admission.unpinnedTags follows the tag's mapping's mode.
    j.mode = modeOf(gate, reg.name, ref.repository, ref.tag ?? 'latest');
    const q = await enqueue();
    // A review naming more never-scanned images than the cap is refused whatever the rule: the cap
    // bounds what one review can ask for.
    if (q.result === 'over-review-cap') return { ...j, outcome: 'deny', decision: 'unknown', reasons: [`never scanned; ${q.text}`] };
    return { ...j, outcome: 'warn', decision: 'unknown', reasons: [`not scanned yet, admitted by namespace rule; ${q.text}`] };
  }
  if (rule === 'deny') {
    const q = await enqueue();
    const retry = q.result === 'queued' || q.result === 'coalesced' ? ', retry when it has a verdict' : '';
    return { ...j, outcome: 'deny', decision: 'unknown', reasons: [`never scanned; ${q.text}${retry}`] };
  }
  if (ctx.dryRun) {
    return { ...j, outcome: 'deny', decision: 'unknown', reasons: ['never scanned (dry run: no scan started)'] };
  }
  const remaining = ctx.deadline - ctx.now();
  if (remaining <= 0) return { ...j, outcome: 'deny', decision: 'scan-in-progress', reasons: ['scan in progress, retry'] };
  // The scan is not aborted when the budget runs out: the gate keeps it running and a retry joins it.
  const started = ctx.triggers.scan(ctx.budget, key, () => gate.assess(req));
  if (!started.promise) return { ...j, outcome: 'deny', decision: 'unknown', reasons: [`never scanned; ${notStarted(started.result)}`] };
  const scan = started.promise;
  scan.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), remaining);
  });
  try {
    const r = await Promise.race([scan, timeout]);
    if (r === 'timeout') return { ...j, outcome: 'deny', decision: 'scan-in-progress', reasons: ['scan in progress, retry'] };
    return judgeVerdict(j, r, reg, ref, ctx);
  } catch (e) {
    const code = isPushgateError(e) ? `${e.code}: ` : '';
    return { ...j, outcome: 'deny', decision: 'error', error: true, reasons: [`scan failed: ${code}${errText(e)}; retry`] };
  } finally {
    clearTimeout(timer);
  }
}

/** `image "X" at PATH (sha256:…): DECISION — reason; reason` */
function describe(j: Judgement): string {
  const at = j.paths.join(', ');
  const dg = j.digest && !j.image.includes(j.digest) ? ` (${shortDigest(j.digest)}…)` : '';
  const reasons = j.reasons.slice(0, REASONS_SHOWN).join('; ');
  const more = j.reasons.length > REASONS_SHOWN ? ` (+${j.reasons.length - REASONS_SHOWN} more)` : '';
  return `image "${j.image}" at ${at}${dg}: ${j.decision}${reasons ? ` — ${reasons}${more}` : ''}`;
}

function warningFor(j: Judgement): string {
  // What matters comes first: the 120-character limit cuts a long digest reference, not the reason.
  if (j.unpinned) return truncate(`tag may run from node cache; pin by digest or set ${j.unpinned.field}: Always: ${j.image}`, WARNING_MAX);
  if (j.standing || j.signature) return truncate(`${j.reasons[0]}: ${j.image} (${j.decision})`, WARNING_MAX);
  // A pinned reference (what the mutating webhook writes) shows its digest shortened, or it alone fills the line.
  const image = j.image.replace(/@(sha256:[0-9a-f]{12})[0-9a-f]{52}$/, '@$1…');
  return truncate(`${image} at ${j.paths[0]}: ${j.decision}${j.reasons[0] ? `: ${j.reasons[0]}` : ''}`, WARNING_MAX);
}

/**
 * Digest-pinned images an UPDATE leaves unchanged ({@link unchangedAt}), grouped by
 * reference: looked up (a store read; no tag is resolved) only to warn that the workload runs a blocked
 * image; never denied.
 */
function unchangedPinned(req: ReviewRequest): Map<string, ImageLocation[]> {
  const out = new Map<string, ImageLocation[]>();
  if (req.operation !== 'UPDATE' || !req.oldObject || req.subResource) return out;
  const kind = req.kind?.kind ?? '';
  const old = imagesByKey(extractImages(kind, req.oldObject));
  for (const l of extractImages(kind, req.object)) {
    if (!unchangedAt(old, l) || !l.image.includes('@')) continue;
    const list = out.get(l.image);
    if (list) list.push(l);
    else out.set(l.image, [l]);
  }
  return out;
}

/**
 * Warnings for unchanged images with a blocking verdict: the update is admitted (nothing new runs from
 * it; new pods are judged on their own), but says so. Failures give no warning.
 */
async function unchangedWarnings(images: Map<string, ImageLocation[]>, ctx: Ctx): Promise<string[]> {
  if (images.size === 0) return [];
  const out: string[] = [];
  for (const j of await judgeAll(images, ctx)) {
    if (j.error || !j.digest || !j.ref || (j.decision !== 'quarantine' && j.decision !== 'reject')) continue;
    const reg = ctx.deps.gate.registryForHost(j.ref.registry);
    let since: string | undefined;
    try {
      const v = reg ? await ctx.deps.gate.verdict(reg.name, j.ref.repository, j.digest) : undefined;
      const c = v && ctx.deps.gate.changes ? newlyFailingSince(v, await ctx.deps.gate.changes(v.registry, v.repository, v.digest)) : undefined;
      since = c?.at.slice(0, 10);
    } catch {
      // Only the wording depends on it.
    }
    const why = since ? `newly failing since ${since} (database change)` : 'blocked';
    out.push(truncate(`${j.decision}: ${why}, unchanged by this update: ${j.image}`, WARNING_MAX));
  }
  return out.slice(0, WARNINGS_MAX_COUNT);
}

/**
 * Warnings for guarded, non-exempt tag references an UPDATE leaves unchanged ({@link unchangedAt})
 * where the node may start the image from its cache: the update is admitted (nothing new runs from it,
 * and an existing workload keeps scaling), but says what to change. No lookups; `admission.unpinnedTags:
 * allow` gives none.
 */
function unchangedCachedTags(req: ReviewRequest, deps: AdmissionDeps): string[] {
  if ((deps.config.unpinnedTags ?? 'deny') === 'allow' || req.operation !== 'UPDATE' || !req.oldObject || req.subResource) return [];
  const kind = req.kind?.kind ?? '';
  const old = imagesByKey(extractImages(kind, req.oldObject));
  const byImage = new Map<string, ImageLocation[]>();
  for (const l of extractImages(kind, req.object)) {
    if (!l.image || !unchangedAt(old, l)) continue;
    const list = byImage.get(l.image);
    if (list) list.push(l);
    else byImage.set(l.image, [l]);
  }
  const matchers = matchersFor(deps.config);
  const out: string[] = [];
  for (const [image, locs] of byImage) {
    let ref: ImageRef;
    let reg: RegistryConfig | undefined;
    try {
      ref = parseImageRef(image);
      reg = deps.gate.registryForHost(ref.registry);
    } catch {
      // Unreadable references were judged when they were written; a warning cannot add anything.
      continue;
    }
    if (ref.digest || !reg || deps.gate.isQuarantineRepository(reg.name, ref.repository)) continue;
    if (matchers.exemptImage([image, `${ref.registry}/${ref.repository}`, formatImageRef(ref)])) continue;
    const cached = cachedPlaces(locs);
    if (cached.length === 0) continue;
    out.push(truncate(`unchanged tag may run from node cache; pin by digest or set ${pullPolicyField(cached[0]!.loc)}: Always: ${image}`, WARNING_MAX));
  }
  return out.slice(0, WARNINGS_MAX_COUNT);
}

/** Location by place ({@link ImageLocation.key}) of an object's images. */
function imagesByKey(locs: ImageLocation[]): Map<string, ImageLocation> {
  return new Map(locs.map((l) => [l.key, l]));
}

/**
 * Whether an UPDATE leaves the place of `l` as it was: the old object held the same reference in the
 * same place (container list and name, or image volume name) with the same effective pull policy. A
 * changed pull policy changes what the kubelet starts (`Always` → `IfNotPresent` lets a tag run from
 * the node's cache) and a workload's pod template (it rolls out), so that place is judged anew.
 */
function unchangedAt(old: Map<string, ImageLocation>, l: ImageLocation): boolean {
  const o = old.get(l.key);
  return o !== undefined && o.image === l.image && JSON.stringify(effectivePullPolicy(o)) === JSON.stringify(effectivePullPolicy(l));
}

/**
 * The images of the request that need judging, grouped by reference. On UPDATE an image is dropped
 * when its place is unchanged ({@link unchangedAt}), so reordering changes nothing, while an image
 * written into another place, or given another pull policy, is judged.
 */
function imagesToJudge(req: ReviewRequest): Map<string, ImageLocation[]> {
  const kind = req.kind?.kind ?? (isRecord(req.object) && typeof req.object.kind === 'string' ? req.object.kind : '');
  const locs = extractImages(kind, req.object, req.subResource || undefined);
  const old = req.operation === 'UPDATE' && req.oldObject ? imagesByKey(extractImages(kind, req.oldObject, req.subResource || undefined)) : new Map<string, ImageLocation>();
  const byImage = new Map<string, ImageLocation[]>();
  for (const l of locs) {
    // Unchanged only in the same place: an image moved into another container runs there anew.
    if (unchangedAt(old, l)) continue;
    const list = byImage.get(l.image);
    if (list) list.push(l);
    else byImage.set(l.image, [l]);
  }
  return byImage;
}

/**
 * Why a review naming `count` distinct references to judge is refused before any is looked up, or
 * undefined within `admission.maxImagesPerReview`: each tag costs a registry request, on connections every
 * review and scan shares, so one review must not be able to hold the others past their deadline.
 */
function tooManyImages(count: number, config: PushgateConfig['admission']): string | undefined {
  const max = config.maxImagesPerReview ?? DEFAULT_MAX_IMAGES_PER_REVIEW;
  if (count <= max) return undefined;
  return `pushgate: this object names ${count} distinct images to judge, more than admission.maxImagesPerReview (${max}); none was looked up. Split the workload, or raise the limit`;
}

/** Whether the review is one admission never looks into (deletes, status and scale updates, other kinds). */
function passesUnchecked(req: ReviewRequest): boolean {
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return true;
  if (req.subResource && req.subResource !== 'ephemeralcontainers') return true;
  const kind = req.kind?.kind ?? '';
  return !isWorkloadKind(kind);
}

function breakGlassReason(req: ReviewRequest): string | undefined {
  const kind = req.kind?.kind ?? '';
  const candidates = [isRecord(req.object) ? req.object.metadata : undefined, podMetadataOf(kind, req.object)];
  for (const md of candidates) {
    if (!isRecord(md) || !isRecord(md.annotations)) continue;
    const v = md.annotations[BREAK_GLASS_ANNOTATION];
    if (typeof v === 'string' && v.trim()) return v.trim();
  }
  return undefined;
}

/** Judges every image in parallel; an image not judged by the deadline is denied with "retry". */
async function judgeAll(byImage: Map<string, ImageLocation[]>, ctx: Ctx): Promise<Judgement[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    // Half the response margin after the deadline, so a scan wait ending at the deadline wins the race.
    timer = setTimeout(() => resolve('late'), Math.max(0, ctx.deadline - ctx.now() + RESPONSE_MARGIN_MS / 2));
  });
  try {
    return await Promise.all(
      [...byImage].map(async ([image, locs]): Promise<Judgement> => {
        const r = await Promise.race([judgeImage(image, locs, ctx), late]);
        if (r !== 'late') return r;
        return {
          image,
          paths: locs.map((l) => l.path),
          pointers: locs.map((l) => l.pointer),
          outcome: 'deny',
          decision: 'error',
          error: true,
          reasons: ['registry or verdict store did not answer within the admission timeout; retry'],
        };
      }),
    );
  } finally {
    clearTimeout(timer);
  }
}

function makeCtx(deps: AdmissionDeps, req: ReviewRequest, phase: Phase, opts: ReviewOptions | undefined, start: number, now: () => number): Ctx {
  const budget = opts?.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const triggers = triggersFor(deps);
  const standing = deps.config.standingWorkloads === false ? undefined : standingOwner(req, (opts?.caller ?? IN_PROCESS).authenticated);
  return {
    standing,
    deps,
    cache: cacheFor(deps),
    matchers: matchersFor(deps.config),
    namespace: namespaceOf(req),
    dryRun: req.dryRun === true,
    phase,
    triggers,
    budget: triggers.review((opts?.caller ?? IN_PROCESS).id),
    deadline: start + budget - RESPONSE_MARGIN_MS,
    now,
  };
}

/**
 * The audit actor of a review: `request.userInfo.username` when the caller authenticated as the
 * API server (which vouches for it), else {@link UNAUTHENTICATED_ACTOR} whatever the review claims.
 */
export function auditActor(req: { userInfo?: { username?: unknown } }, caller: AdmissionCaller): string {
  if (!caller.authenticated) return UNAUTHENTICATED_ACTOR;
  return usernameOf(req.userInfo) || 'unknown';
}

function objectName(req: ReviewRequest): unknown {
  return req.name || (isRecord(req.object) && isRecord(req.object.metadata) ? req.object.metadata.name ?? req.object.metadata.generateName : undefined);
}

/** Audit detail naming the requester; a claim the caller did not prove is marked as such. */
function requesterDetail(req: ReviewRequest, caller: AdmissionCaller): Record<string, unknown> {
  const who = { username: usernameOf(req.userInfo), groups: groupsOf(req.userInfo) };
  return caller.authenticated ? { groups: who.groups } : { claimedUser: who };
}

function observe(deps: AdmissionDeps, decision: 'allow' | 'deny' | 'warn' | 'error', start: number, now: () => number): void {
  try {
    deps.gate.hooks.admission?.(decision, Math.max(0, now() - start) / 1000);
  } catch {
    // Metrics must never fail a review.
  }
}

/**
 * Records which workload runs the admitted images' digests: only for a review that is not a dry run
 * and whose caller authenticated as the API server (anyone else's namespace, owner and name are claims).
 * Buffered (never awaited), and never fails the review.
 */
function recordUsage(deps: AdmissionDeps, req: ReviewRequest, caller: AdmissionCaller, judged: Judgement[], dryRun: boolean): void {
  if (!deps.workloads || dryRun || !caller.authenticated) return;
  try {
    const who = workloadOf(req);
    if (!who) return;
    const digests = judged.flatMap((j) => (j.digest ? [j.digest] : []));
    if (digests.length) deps.workloads.record(who, digests);
  } catch {
    // Usage records are a convenience: a review never fails for them.
  }
}

/**
 * The validating webhook: AdmissionReview `admission.k8s.io/v1` in, AdmissionReview out echoing `uid`.
 *
 * Per distinct image (protocols.md §6.5 locations, §6.6 normalization): exemption globs (picomatch on
 * the reference as written, `registry/repository`, and the normalized reference) → unguarded-registry
 * rule (`admission.unguarded`) → a quarantine repository of the registry is denied (nothing looked up,
 * scanned or queued) → tag resolved to a digest (HEAD, TTL cache; `name:tag@digest` uses the
 * digest) → stored verdict, seen from the reference (the tag's mapping; for a digest, the strictest of
 * the untagged digest and the tags pointing at it): allow admits; warn admits with `response.warnings`;
 * quarantine/reject deny in `enforce` mode (except an image newly failing through a database change in a
 * pod its controller creates for an existing workload: admitted with a warning, src/admission/standing.ts),
 * warn in `warn` mode, admit in `audit` mode. An image the verdict (and signature rules) would admit, named
 * by tag without a digest where its effective pull policy lets the kubelet start the node's cached image
 * (`IfNotPresent`, `Never`; src/admission/images.ts `effectivePullPolicy`), follows `admission.unpinnedTags`:
 * `deny` (default) denies with "pin it by digest (…@sha256:…) or set imagePullPolicy: Always", except in a
 * pod its controller creates for an existing workload, or under a mapping in `warn` or `audit` mode (both
 * warned with the same advice); `warn` warns; `allow` admits. No verdict: the first matching
 * `admission.namespaces` rule (`deny` by default) — `deny` denies and queues a scan, `allow` admits with
 * a warning and queues a scan, `scan` scans within the remaining budget and denies with "scan in
 * progress, retry" when it does not finish. The break-glass annotation {@link BREAK_GLASS_ANNOTATION}
 * admits and writes an audit record through `gate.audit`. Registry or store failures deny (fail closed)
 * with a message that says to retry. Reports the decision through `gate.hooks.admission`.
 *
 * Never rejects: every failure becomes a denial or a 400.
 */
export async function validateReview(body: unknown, deps: AdmissionDeps, opts?: ReviewOptions): Promise<AdmissionResult> {
  const now = deps.now ?? Date.now;
  const start = now();
  const req = readRequest(body);
  if (!req) {
    observe(deps, 'error', start, now);
    return badBody('not an AdmissionReview: request.uid is missing; send an admission.k8s.io/v1 AdmissionReview');
  }
  const bad = checkEnvelope(body as Record<string, unknown>, req);
  if (bad) {
    observe(deps, 'error', start, now);
    return review(bad);
  }
  try {
    const matchers = matchersFor(deps.config);
    if (passesUnchecked(req) || matchers.exemptNamespace(namespaceOf(req))) {
      observe(deps, 'allow', start, now);
      return review({ uid: req.uid, allowed: true });
    }
    const byImage = imagesToJudge(req);
    const tooMany = tooManyImages(byImage.size, deps.config);
    if (tooMany) {
      observe(deps, 'deny', start, now);
      return review(denyResponse(req.uid, tooMany));
    }
    const standingNotes = [...(await unchangedWarnings(unchangedPinned(req), makeCtx(deps, req, 'peek', opts, start, now))), ...unchangedCachedTags(req, deps)];
    if (byImage.size === 0) {
      observe(deps, standingNotes.length ? 'warn' : 'allow', start, now);
      return review({ uid: req.uid, allowed: true, ...(standingNotes.length ? { warnings: standingNotes } : {}) });
    }
    const caller = opts?.caller ?? IN_PROCESS;
    const glass: BreakGlassDecision = judgeBreakGlass(breakGlassReason(req), { namespace: req.namespace, userInfo: req.userInfo }, deps.config.breakGlass);
    if (glass.kind !== 'absent') {
      try {
        deps.gate.hooks.admissionBreakGlass?.(glass.kind);
      } catch {
        // Metrics never fail a review.
      }
    }
    const ctx = makeCtx(deps, req, glass.kind === 'honoured' ? 'peek' : 'validate', opts, start, now);
    const judged = await judgeAll(byImage, ctx);
    const denied = judged.filter((j) => j.outcome === 'deny');
    const images = () => judged.map((j) => ({ image: j.image, paths: j.paths, digest: j.digest, decision: j.decision, outcome: j.outcome }));

    if (glass.kind === 'honoured') {
      const warnings = [truncate(`pushgate break-glass (${glass.reason}): ${denied.length} image(s) admitted without a passing verdict; audited`, WARNING_MAX)];
      if (!ctx.dryRun) {
        // An unauthenticated caller pays for its audit records like for its scans.
        if (!caller.authenticated && !ctx.triggers.spend(caller.id)) {
          observe(deps, 'error', start, now);
          return review(denyResponse(req.uid, 'pushgate: break-glass annotation present but this caller wrote too many records (admission.scanTriggers); retry later', 429, 'TooManyRequests'));
        }
        try {
          await deps.gate.audit({
            actor: auditActor(req, caller),
            action: 'admission.break-glass',
            detail: {
              reason: glass.reason,
              allowedBy: glass.matched,
              ...requesterDetail(req, caller),
              namespace: ctx.namespace,
              kind: req.kind?.kind,
              name: objectName(req),
              uid: req.uid,
              images: images(),
            },
          });
        } catch (e) {
          // Break-glass must not work unaudited.
          observe(deps, 'error', start, now);
          return review(denyResponse(req.uid, `pushgate: break-glass annotation present but the audit record could not be written (${errText(e)}); retry`, 500, 'InternalError'));
        }
      }
      recordUsage(deps, req, caller, judged, ctx.dryRun);
      observe(deps, 'warn', start, now);
      return review({ uid: req.uid, allowed: true, warnings, auditAnnotations: { 'break-glass': truncate(glass.reason, 256) } });
    }

    const extraWarnings: string[] = [];
    let glassNote = '';
    if (glass.kind === 'refused') {
      glassNote = `; break-glass annotation ignored: ${glass.why}`;
      extraWarnings.push(truncate(`pushgate break-glass ignored: ${glass.why}`, WARNING_MAX));
      // Only an authenticated caller's refusals are recorded: anyone else could fill the audit log.
      if (!ctx.dryRun && caller.authenticated) {
        await deps.gate
          .audit({
            actor: auditActor(req, caller),
            action: 'admission.break-glass-refused',
            detail: { reason: glass.reason, why: glass.why, ...requesterDetail(req, caller), namespace: ctx.namespace, kind: req.kind?.kind, name: objectName(req), uid: req.uid, images: images() },
          })
          .catch(() => undefined);
      }
    }

    if (denied.length > 0) {
      const message = `pushgate denied ${denied.length} image(s): ${denied.map(describe).join('; ')}${glassNote}`;
      observe(deps, denied.some((j) => j.error) ? 'error' : 'deny', start, now);
      const response = denyResponse(req.uid, message);
      if (extraWarnings.length) response.warnings = extraWarnings;
      return review(response);
    }
    const warned = judged.filter((j) => j.outcome === 'warn');
    const audited = judged.filter((j) => j.decision === 'audit');
    const response: Record<string, unknown> = { uid: req.uid, allowed: true };
    const warnings = [...extraWarnings, ...warned.flatMap((j) => [warningFor(j), ...(j.verdictWarning ? [j.verdictWarning] : [])]), ...standingNotes].slice(0, WARNINGS_MAX_COUNT + 1);
    if (warnings.length) response.warnings = warnings;
    const standing = judged.filter((j) => j.standing);
    const unpinned = judged.filter((j) => j.unpinned);
    if (audited.length || standing.length || unpinned.length) {
      const notes: Record<string, string> = {};
      if (audited.length) notes['audit-mode'] = truncate(audited.map(describe).join('; '), 1_000);
      if (standing.length) notes['newly-failing-standing-workload'] = truncate(standing.map(describe).join('; '), 1_000);
      if (unpinned.length) notes['unpinned-tag'] = truncate(unpinned.map(describe).join('; '), 1_000);
      response.auditAnnotations = notes;
    }
    recordUsage(deps, req, caller, judged, ctx.dryRun);
    observe(deps, warned.length ? 'warn' : 'allow', start, now);
    return review(response);
  } catch (e) {
    // A bug, not a decision: deny (fail closed) and say so.
    observe(deps, 'error', start, now);
    return review(denyResponse(req.uid, `pushgate internal error: ${errText(e)}`, 500, 'InternalError'));
  }
}

/**
 * The mutating webhook: pins every admitted image (verdict allow or warn, or not scanned yet in a
 * namespace whose rule is `allow` or `scan`) of a guarded registry to its digest with a base64 RFC 6902
 * JSONPatch `replace` of the field: `repo:tag` → `repo:tag@sha256:…`. References that already carry a
 * digest, unguarded registries, exempt images and images the validating webhook will deny are left as
 * they are. On UPDATE, a field whose old value is the new value pinned (`new@sha256:…`) keeps that pin, so
 * re-applying a manifest does not silently roll a workload to a re-pushed tag, and a field left unchanged
 * is not patched. Always `allowed: true`:
 * denying is the validating webhook's job. Never scans, enqueues or audits.
 */
export async function mutateReview(body: unknown, deps: AdmissionDeps, opts?: ReviewOptions): Promise<AdmissionResult> {
  const now = deps.now ?? Date.now;
  const start = now();
  const req = readRequest(body);
  if (!req) return badBody('not an AdmissionReview: request.uid is missing; send an admission.k8s.io/v1 AdmissionReview');
  const bad = checkEnvelope(body as Record<string, unknown>, req);
  if (bad) return review(bad);
  const allowed = { uid: req.uid, allowed: true };
  try {
    if (passesUnchecked(req) || matchersFor(deps.config).exemptNamespace(namespaceOf(req))) return review(allowed);
    const kind = req.kind?.kind ?? '';
    const all = extractImages(kind, req.object, req.subResource || undefined);
    // By place (container list and name, image volume name), so reordering a template keeps its pins.
    const oldByKey = req.operation === 'UPDATE' && req.oldObject ? imagesByKey(extractImages(kind, req.oldObject, req.subResource || undefined)) : new Map<string, ImageLocation>();
    const patch: Array<{ op: 'replace'; path: string; value: string }> = [];
    const byImage = new Map<string, ImageLocation[]>();
    for (const l of all) {
      if (!l.image || l.image.includes('@')) continue;
      const old = oldByKey.get(l.key)?.image;
      // Unchanged on UPDATE (e.g. pinned before the mutating webhook existed): left as is, so scaling or
      // relabelling never changes the pod template and never starts a rollout. A changed pull policy is
      // judged by the validating webhook, so it is pinned like a new image.
      if (unchangedAt(oldByKey, l)) continue;
      if (old && old.startsWith(`${l.image}@`)) {
        patch.push({ op: 'replace', path: l.pointer, value: old });
        continue;
      }
      const list = byImage.get(l.image);
      if (list) list.push(l);
      else byImage.set(l.image, [l]);
    }
    // The validating webhook denies such a review; nothing is resolved for it here either.
    if (tooManyImages(byImage.size, deps.config)) return review(allowed);
    const ctx = makeCtx(deps, req, 'mutate', opts, start, now);
    const judged = await judgeAll(byImage, ctx);
    for (const j of judged) {
      if (j.outcome === 'deny' || !j.digest || !j.ref || j.ref.digest) continue;
      for (const p of j.pointers) patch.push({ op: 'replace', path: p, value: `${j.image}@${j.digest}` });
    }
    if (patch.length === 0) return review(allowed);
    return review({ ...allowed, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') });
  } catch {
    // Mutation is best effort: the validating webhook still judges the object.
    return review(allowed);
  }
}
