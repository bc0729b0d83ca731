/**
 * Standing workloads: an image that became blocking because the vulnerability database changed
 * (the monitor's re-judgement, src/monitor/monitor.ts) must not stop an existing workload from
 * scaling or replacing its pods, while a new workload or a changed pod template follows the new
 * verdict (docs/threat-model.md "Newly failing images").
 *
 * Both questions are answered only from what cannot be claimed by the object's author:
 * - "newly failing" from the monitor's change records of (registry, repository, digest), never from
 *   the verdict alone: {@link newlyFailingSince};
 * - "existing workload" from the review: a CREATE of a Pod (ReplicaSet, Job…) whose `request.userInfo`
 *   is the kube-controller-manager identity that creates that kind, vouched for by the API server (the
 *   caller authenticated with its client certificate), with a controller ownerReference of the kind
 *   that controller owns: {@link standingOwner}. A Pod author can write any ownerReference on a bare
 *   Pod, but cannot be the controller's user.
 */
import { isBlocking, type Verdict } from '../core/index.js';
import type { ChangeRecord } from '../gate/types.js';

/**
 * Controller identities of kube-controller-manager per created kind, and the owner kinds whose
 * objects that controller creates it for. With `--use-service-account-credentials` (kubeadm's
 * default) each controller acts as `system:serviceaccount:kube-system:<name>`; without it every
 * controller acts as `system:kube-controller-manager`.
 * Source: kubernetes/cmd/kube-controller-manager (controller names), RBAC bootstrap policy
 * `system:controller:*` roles (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/controller_policy.go).
 */
const CREATORS: Record<string, Array<{ users: string[]; owners: string[] }>> = {
  Pod: [
    { users: ['replicaset-controller'], owners: ['ReplicaSet'] },
    { users: ['replication-controller'], owners: ['ReplicationController'] },
    { users: ['statefulset-controller'], owners: ['StatefulSet'] },
    { users: ['daemon-set-controller'], owners: ['DaemonSet'] },
    { users: ['job-controller'], owners: ['Job'] },
  ],
  ReplicaSet: [{ users: ['deployment-controller'], owners: ['Deployment'] }],
  Job: [{ users: ['cronjob-controller'], owners: ['CronJob'] }],
};
const SA_PREFIX = 'system:serviceaccount:kube-system:';
const KCM_USER = 'system:kube-controller-manager';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The parts of an AdmissionReview `request` read here. */
export interface StandingRequest {
  operation?: string;
  subResource?: string;
  kind?: { kind?: string };
  userInfo?: { username?: unknown };
  object?: unknown;
}

/**
 * The workload an object is created for, when the review proves it is created by the
 * kube-controller-manager for an existing owner: `ReplicaSet/web-7d9c` (a Pod), `Deployment/web`
 * (a ReplicaSet), `CronJob/nightly` (a Job). Undefined for anything else, in particular:
 * an UPDATE, a subresource, an unauthenticated caller (its `userInfo` is only a claim), a user that
 * is not the controller creating that kind, or no `controller: true` ownerReference of the owner kind
 * that controller serves.
 *
 * The owner existed before this object (the controller only creates for an owner it watches) and, when
 * the webhook covers workload kinds, that owner was itself admitted: a new Deployment of a newly
 * failing image is denied at its own CREATE, so its pods never reach this point.
 */
export function standingOwner(req: StandingRequest, authenticated: boolean): string | undefined {
  if (!authenticated || req.operation !== 'CREATE' || req.subResource) return undefined;
  // Own keys only: a kind spelled `__proto__` or `constructor` is no workload kind.
  const creators = Object.hasOwn(CREATORS, req.kind?.kind ?? '') ? CREATORS[req.kind!.kind!] : undefined;
  const user = req.userInfo?.username;
  if (!creators || typeof user !== 'string') return undefined;
  const md = isRecord(req.object) && isRecord(req.object.metadata) ? req.object.metadata : undefined;
  const refs = Array.isArray(md?.ownerReferences) ? md.ownerReferences : [];
  // The API server allows at most one controller reference per object.
  const ctl = refs.find((r): r is Record<string, unknown> => isRecord(r) && r.controller === true);
  if (!ctl || typeof ctl.kind !== 'string' || typeof ctl.name !== 'string') return undefined;
  const ok = creators.some((c) => c.owners.includes(ctl.kind as string) && (user === KCM_USER || c.users.some((u) => user === SA_PREFIX + u)));
  return ok ? `${ctl.kind}/${ctl.name}` : undefined;
}

/**
 * The change record that made `v` blocking through a database change, if it is one: walking the
 * monitor's change records of the same (registry, repository, digest) from the newest, each record's
 * decision before must be the next older record's decision after (no re-judgement outside the monitor
 * changed the decision in between), the newest record's decision after must be `v.decision`, and the
 * walk must reach a record whose decision before was not blocking. A verdict blocking since its push
 * (no record, or a chain that starts blocking) gives undefined.
 *
 * @param v the stored verdict (its `decision` is the strictest over its tags, src/gate/verdict-view.ts)
 * @param changes change records of that digest, newest first (MonitorStore.listChanges; other
 *   repositories are ignored)
 */
export function newlyFailingSince(v: Verdict, changes: ChangeRecord[]): ChangeRecord | undefined {
  if (!isBlocking(v.decision)) return undefined;
  const mine = changes.filter((c) => c.registry === v.registry && c.repository === v.repository && c.digest === v.digest);
  let expect: string = v.decision;
  for (const c of mine) {
    if (c.decision.after !== expect) return undefined;
    if (!isBlocking(c.decision.before as Verdict['decision'])) return c;
    expect = c.decision.before;
  }
  return undefined;
}
