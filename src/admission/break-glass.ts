/**
 * Who may use the break-glass annotation. The decision reads only what the API server vouches
 * for in an AdmissionReview: `request.namespace` and `request.userInfo` (the authenticated requester
 * of this API call, kubernetes/api admission/v1 types.go). Nothing in the object counts: any pod
 * author can write annotations, labels or a `metadata.namespace`.
 *
 * Config `admission.breakGlass: { namespaces, groups, users }`:
 * - all three empty (the default): break-glass is off, the annotation is ignored everywhere;
 * - `namespaces` (names or globs) non-empty: the review's `request.namespace` must match one;
 * - `users` or `groups` non-empty: `userInfo.username` must be one of `users`, or one of
 *   `userInfo.groups` one of `groups`;
 * - every condition that is configured must hold (namespace AND who).
 *
 * Pods created by controllers (ReplicaSet, Job, DaemonSet, …) are requested by the controller's
 * service account, not by the person who created the workload: `users`/`groups` therefore admit
 * bare Pods and workload objects, and `namespaces` is what admits the Pods of a workload.
 */
import picomatch from 'picomatch';
import type { PushgateConfig } from '../config/types.js';

/** Annotation (on the Pod, the pod template, or the workload) that admits and is audited. Value: the reason. */
export const BREAK_GLASS_ANNOTATION = 'pushgate.io/break-glass';

/** `request.userInfo` of an AdmissionReview (authentication/v1 UserInfo), as far as it is read here. */
export interface ReviewUserInfo {
  username?: unknown;
  groups?: unknown;
}

/** What {@link judgeBreakGlass} decided. */
export type BreakGlassDecision =
  | { kind: 'absent' }
  | { kind: 'honoured'; reason: string; matched: string[] }
  | { kind: 'refused'; reason: string; why: string };

type BreakGlassConfig = NonNullable<PushgateConfig['admission']['breakGlass']>;

const OFF: BreakGlassConfig = { namespaces: [], groups: [], users: [] };
const compiled = new WeakMap<BreakGlassConfig, (ns: string) => boolean>();

function namespaceMatcher(cfg: BreakGlassConfig): (ns: string) => boolean {
  let m = compiled.get(cfg);
  if (!m) {
    const tests = cfg.namespaces.map((g) => picomatch(g));
    m = (ns) => ns !== '' && tests.some((t) => t(ns));
    compiled.set(cfg, m);
  }
  return m;
}

/** `userInfo.username` when it is a string, else ''. */
export function usernameOf(userInfo: ReviewUserInfo | undefined): string {
  return typeof userInfo?.username === 'string' ? userInfo.username : '';
}

/** The string entries of `userInfo.groups`. */
export function groupsOf(userInfo: ReviewUserInfo | undefined): string[] {
  return Array.isArray(userInfo?.groups) ? userInfo.groups.filter((g): g is string => typeof g === 'string') : [];
}

/**
 * Decides on a break-glass annotation.
 * @param annotation the trimmed annotation value (the reason), undefined or '' when absent.
 * @param request `request.namespace` (not the object's) and `request.userInfo` of the review.
 * @param cfg `admission.breakGlass`.
 * @returns `absent` without an annotation; `honoured` with the config entries that matched;
 *   `refused` with a sentence saying why (for the review's warnings and the audit record).
 */
export function judgeBreakGlass(annotation: string | undefined, request: { namespace?: unknown; userInfo?: ReviewUserInfo }, cfg: BreakGlassConfig = OFF): BreakGlassDecision {
  if (!annotation) return { kind: 'absent' };
  const ns = typeof request.namespace === 'string' ? request.namespace : '';
  const user = usernameOf(request.userInfo);
  const groups = groupsOf(request.userInfo);
  if (!cfg.namespaces.length && !cfg.users.length && !cfg.groups.length) {
    return { kind: 'refused', reason: annotation, why: 'break-glass is not enabled (admission.breakGlass lists no namespaces, groups or users)' };
  }
  const matched: string[] = [];
  if (cfg.namespaces.length) {
    if (!namespaceMatcher(cfg)(ns)) return { kind: 'refused', reason: annotation, why: `namespace "${ns}" is not in admission.breakGlass.namespaces` };
    matched.push(`namespace:${ns}`);
  }
  if (cfg.users.length || cfg.groups.length) {
    const userOk = user !== '' && cfg.users.includes(user);
    const group = groups.find((g) => cfg.groups.includes(g));
    if (!userOk && group === undefined) {
      return { kind: 'refused', reason: annotation, why: `user "${user}" is not in admission.breakGlass.users and none of its groups is in admission.breakGlass.groups` };
    }
    matched.push(userOk ? `user:${user}` : `group:${group}`);
  }
  return { kind: 'honoured', reason: annotation, matched };
}

/**
 * Groups and users that take break-glass out of the hands of the people it names: Kubernetes' own
 * groups (authentication/v1 well-known names) and the kube-controller-manager's identities. The
 * controllers create every workload's Pods and ReplicaSets under these names, so listing one honours
 * the annotation any pod author writes into a pod template.
 */
const WIDE_GROUPS: Record<string, string> = {
  'system:authenticated': 'every authenticated caller, so every pod author',
  'system:unauthenticated': 'callers the API server could not authenticate',
  'system:serviceaccounts': 'every service account, among them the controllers that create Pods for any workload',
  'system:serviceaccounts:kube-system': "kube-system's service accounts, among them the controllers that create Pods for any workload",
  'system:nodes': 'every kubelet (mirror Pods of static Pods)',
};

/**
 * Warnings about an `admission.breakGlass` that would honour any pod author's annotation: a group
 * of {@link WIDE_GROUPS}, or a user that is a controller (`system:kube-controller-manager`, a
 * `system:serviceaccount:kube-system:` account, a node). Each is one line naming the key, the entry,
 * who it includes and what to list instead. Empty when none applies. Not errors: a cluster may mean it.
 */
export function breakGlassWarnings(cfg: BreakGlassConfig | undefined): string[] {
  if (!cfg) return [];
  const out: string[] = [];
  const instead = 'so any pod author\'s break-glass annotation on a workload would be honoured; list the people\'s own users or groups (their bare Pods), and admission.breakGlass.namespaces for workloads';
  for (const g of cfg.groups) {
    const who = WIDE_GROUPS[g];
    if (who) out.push(`admission.breakGlass.groups: "${g}" is ${who}, ${instead}`);
  }
  for (const u of cfg.users) {
    const controller = u === 'system:kube-controller-manager' || u.startsWith('system:serviceaccount:kube-system:') || u.startsWith('system:node:');
    if (controller) out.push(`admission.breakGlass.users: "${u}" is a Kubernetes controller or node that creates Pods for other people's workloads, ${instead}`);
  }
  return out;
}
