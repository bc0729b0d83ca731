/**
 * Where images live in Kubernetes objects (protocols.md §6.5): the containers, init containers
 * (native sidecars included), ephemeral containers and image volumes of a PodSpec, found at the
 * PodSpec path of each workload kind, with the pull policy the kubelet applies to each.
 */
import { parseImageRef } from '../core/index.js';

/** One image found in an object, with where it was found. */
export interface ImageLocation {
  /** The reference exactly as written (may be empty when the field is missing). */
  image: string;
  /** Field path for messages: `spec.template.spec.containers[1].image`. */
  path: string;
  /** RFC 6901 JSON Pointer of the same field, for JSONPatch: `/spec/template/spec/containers/1/image`. */
  pointer: string;
  /**
   * Which place of the pod this is, stable across reordering: `containers/app`, `initContainers/migrate`,
   * `ephemeralContainers/debugger-x` (container names are unique across a pod's lists) or
   * `volumes/models` (an image volume); the pointer when the entry has no name. An UPDATE leaves an
   * image unchanged only when the old object held the same reference under the same key.
   */
  key: string;
  /**
   * The pull policy field of that place exactly as written: `imagePullPolicy` of a container,
   * `image.pullPolicy` of an image volume; undefined when the field is absent. Read it through
   * {@link effectivePullPolicy}.
   */
  pullPolicy: unknown;
}

/** Kubernetes `PullPolicy` (core/v1): when the kubelet pulls an image before starting a container. */
export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';

const PULL_POLICIES: ReadonlySet<unknown> = new Set<PullPolicy>(['Always', 'IfNotPresent', 'Never']);

/**
 * The pull policy the kubelet applies at `loc`: the written value, or when the field is absent
 * (missing, `null` or `""`) Kubernetes' defaulting rule (pkg/apis/core/v1/defaults.go
 * `SetDefaults_Container`, `SetDefaults_ImageVolumeSource`): `Always` when the reference's tag is
 * `latest`, explicit or implied by a reference with neither tag nor digest, else `IfNotPresent`
 * (a reference that does not parse defaults to `IfNotPresent`, as there).
 *
 * The API server applies that default before admission, so a review from it always carries the field;
 * the rule matters for objects from anyone else.
 *
 * @returns the policy, or `{ invalid }` with the written value when it is none of `Always`,
 *   `IfNotPresent`, `Never` (the API server refuses such an object; callers treat it as ambiguous).
 */
export function effectivePullPolicy(loc: Pick<ImageLocation, 'image' | 'pullPolicy'>): PullPolicy | { invalid: unknown } {
  const p = loc.pullPolicy;
  if (p === undefined || p === null || p === '') {
    let tag: string | undefined;
    try {
      tag = parseImageRef(loc.image).tag;
    } catch {
      tag = undefined;
    }
    return tag === 'latest' ? 'Always' : 'IfNotPresent';
  }
  return PULL_POLICIES.has(p) ? (p as PullPolicy) : { invalid: p };
}

/** The name of the pull policy field at `loc`: `pullPolicy` for an image volume, else `imagePullPolicy`. */
export function pullPolicyField(loc: Pick<ImageLocation, 'pointer'>): 'pullPolicy' | 'imagePullPolicy' {
  return /\/volumes\/\d+\/image\/reference$/.test(loc.pointer) ? 'pullPolicy' : 'imagePullPolicy';
}

/** PodSpec location per kind (protocols.md §6.5 table). Kinds not listed hold no images. */
const POD_SPEC_PATH: Record<string, string[]> = {
  Pod: ['spec'],
  PodTemplate: ['template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Deployment: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

/** True for kinds whose objects carry a PodSpec (the kinds {@link extractImages} understands). */
export function isWorkloadKind(kind: string): boolean {
  return Object.hasOwn(POD_SPEC_PATH, kind);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The PodSpec object of `object` of `kind`, and its path segments, if present. */
export function podSpecOf(kind: string, object: unknown): { spec: Record<string, unknown>; segments: string[] } | undefined {
  const segments = POD_SPEC_PATH[kind];
  if (!segments) return undefined;
  let cur: unknown = object;
  for (const s of segments) {
    if (!isRecord(cur)) return undefined;
    cur = cur[s];
  }
  return isRecord(cur) ? { spec: cur, segments } : undefined;
}

/**
 * The metadata of the pod that `object` describes or will create (`metadata` of a Pod,
 * `…template.metadata` of a workload). Used for the break-glass annotation.
 */
export function podMetadataOf(kind: string, object: unknown): Record<string, unknown> | undefined {
  const segments = POD_SPEC_PATH[kind];
  if (!segments) return undefined;
  let cur: unknown = object;
  for (const s of segments.slice(0, -1)) {
    if (!isRecord(cur)) return undefined;
    cur = cur[s];
  }
  return isRecord(cur) && isRecord(cur.metadata) ? cur.metadata : undefined;
}

/**
 * Every image reference of a Kubernetes object, in document order, with its field path.
 *
 * - `kind` is `request.kind.kind` (Pod, PodTemplate, ReplicationController, Deployment, ReplicaSet,
 *   StatefulSet, DaemonSet, Job, CronJob); other kinds give `[]`.
 * - `subResource`: undefined for the object itself; `ephemeralcontainers` (kubectl debug; the object is
 *   the whole Pod) gives only `spec.ephemeralContainers[*].image`, the only images that subresource can
 *   change; any other subresource (`status`, `scale`, `binding`, …) gives `[]`.
 * - Image volumes: `spec.volumes[*].image.reference` (ImageVolumeSource, k8s ≥ 1.31).
 * - Each location carries its pull policy field as written (`imagePullPolicy`, `image.pullPolicy`).
 * - A container without an `image` (allowed in templates) is returned with `image: ''` so the caller
 *   decides; malformed shapes (non-arrays, non-objects) are skipped, never thrown.
 */
export function extractImages(kind: string, object: unknown, subResource?: string): ImageLocation[] {
  if (subResource && subResource !== 'ephemeralcontainers') return [];
  const found = podSpecOf(kind, object);
  if (!found) return [];
  const { spec, segments } = found;
  const base = segments.join('.');
  const pbase = '/' + segments.join('/');
  const out: ImageLocation[] = [];
  const lists = subResource === 'ephemeralcontainers' ? (['ephemeralContainers'] as const) : CONTAINER_LISTS;
  for (const list of lists) {
    const arr = spec[list];
    if (!Array.isArray(arr)) continue;
    arr.forEach((c, i) => {
      if (!isRecord(c)) return;
      const pointer = `${pbase}/${list}/${i}/image`;
      out.push({
        image: typeof c.image === 'string' ? c.image : '',
        path: `${base}.${list}[${i}].image`,
        pointer,
        key: typeof c.name === 'string' && c.name ? `${list}/${c.name}` : pointer,
        pullPolicy: c.imagePullPolicy,
      });
    });
  }
  if (!subResource && Array.isArray(spec.volumes)) {
    spec.volumes.forEach((v, i) => {
      if (!isRecord(v) || !isRecord(v.image)) return;
      const pointer = `${pbase}/volumes/${i}/image/reference`;
      out.push({
        image: typeof v.image.reference === 'string' ? v.image.reference : '',
        path: `${base}.volumes[${i}].image.reference`,
        pointer,
        key: typeof v.name === 'string' && v.name ? `volumes/${v.name}` : pointer,
        pullPolicy: v.image.pullPolicy,
      });
    });
  }
  return out;
}
