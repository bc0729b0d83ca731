/**
 * `match.baseImage`, one check per rule:
 * - `allowed`: a base image allowlist. The base is known by the detected base's catalog name
 *   (`repository:tag`, src/base), or by layers: the image's `rootfs.diff_ids` (or the caller's
 *   `baseLayers`) begin with an allowed base's diffIDs. The label `org.opencontainers.image.base.name`
 *   (OCI annotations spec) is written by the image author, so it names the base only when the caller trusts
 *   the author (PolicyInput.baseVerified without a catalog-verified base: the CLI's trustAuthorBase).
 * - `upToDate`: the detected base's tag now names a newer digest (a `refresh` recommendation) and has
 *   for longer than `grace`: names the newer digest and the findings it no longer has.
 * - `maxAge`: the detected base was created longer ago than the duration.
 */
import { rebuildHint } from '../../core/base-image.js';
import { formatDuration, parseDuration } from '../../config/units.js';
import type { BaseImageMatchSpec, PolicyItem } from '../types.js';
import { glob, parseDate, type RuleCompiler } from './common.js';

/** Base detection methods whose evidence the catalog checked (src/base/detect.ts). */
const CATALOG_VERIFIED: ReadonlySet<string> = new Set(['chain', 'annotation', 'provenance']);

/** The OCI label naming the base image. */
export const BASE_NAME_LABEL = 'org.opencontainers.image.base.name';

function startsWith(list: string[] | undefined, prefix: string[]): boolean {
  return list !== undefined && list.length >= prefix.length && prefix.every((d, i) => list[i] === d);
}

/** Compiles a base image rule (see the module comment). */
export const compileBaseImageRule: RuleCompiler<BaseImageMatchSpec> = (spec) => {
  if (spec.upToDate) {
    const grace = parseDuration(spec.upToDate.grace ?? '0s');
    return {
      match: ({ input, now }) => {
        const b = input.base;
        const r = b?.recommendations?.find((x) => x.kind === 'refresh');
        const since = parseDate(r?.since);
        if (!b || !r || since === undefined || now - since < grace) return [];
        const fixes = r.fixes?.length ? `; the newer base no longer has ${r.fixes.length} finding(s): ${r.fixes.slice(0, 5).join(', ')}${r.fixes.length > 5 ? ', …' : ''}` : '';
        // Not marked as the base's own item: excludeBase must not silence the rules about the base itself.
        const item: PolicyItem = { id: 'base-outdated', text: `base ${r.repository}:${r.tag} moved on ${r.since} from ${b.digest} to ${r.digest}${fixes}; ${rebuildHint([b])}` };
        return [item];
      },
      describe: () => `the base image's tag moved on to a newer digest${grace ? ` more than ${formatDuration(grace)} ago` : ''}`,
      advice: 'Rebuild on the refreshed base (pull it again, or pin its new digest)',
    };
  }
  if (spec.maxAge !== undefined) {
    const max = parseDuration(spec.maxAge);
    return {
      match: ({ input, now }) => {
        const created = parseDate(input.base?.created);
        if (created === undefined || now - created <= max) return [];
        const days = Math.floor((now - created) / 86_400_000);
        return [{ id: 'base-age', text: `base ${input.base!.repository ?? '(unnamed)'}${input.base!.tags.length ? `:${input.base!.tags[0]}` : ''} created ${input.base!.created} (${days} days ago)` }];
      },
      describe: () => `base image older than ${formatDuration(max)}`,
      advice: 'Rebuild on a newer base (see the recommendations)',
    };
  }
  const list = spec.allowed ?? [];
  const allowed = list.map((a) => ({ name: a.name === undefined ? undefined : glob(a.name), diffIDs: a.diffIDs }));
  const names = list.map((a) => a.name).filter(Boolean);
  return {
    match: ({ input }) => {
      // The label is written by whoever built the image: it names the base only where the caller trusts the
      // author (baseVerified with no catalog-verified base, i.e. the CLI's trustAuthorBase). A base the catalog
      // verified is judged by its catalog name, whatever the label claims.
      const raw = input.imageConfig?.config?.Labels?.[BASE_NAME_LABEL];
      const label = input.baseVerified && !(input.base && CATALOG_VERIFIED.has(input.base.method)) ? raw : undefined;
      const rootfs = input.imageConfig?.rootfs?.diff_ids;
      const b = input.base;
      const detected = b?.repository ? [...b.tags.map((t) => `${b.repository}:${t}`), ...(b.digest ? [`${b.repository}@${b.digest}`] : [])] : [];
      const ok = allowed.some(
        (a) =>
          (a.name !== undefined && label !== undefined && a.name(label)) ||
          (a.name !== undefined && detected.some((n) => a.name!(n))) ||
          (a.diffIDs !== undefined && (startsWith(rootfs, a.diffIDs) || startsWith(input.baseLayers, a.diffIDs))),
      );
      if (ok) return [];
      const text = label
        ? `base image ${label} is not allowed`
        : detected.length
          ? `base image ${detected[0]} (found by ${b!.method}) is not allowed${raw !== undefined ? ` (its ${BASE_NAME_LABEL} label ${JSON.stringify(raw)} is the author's word and was not used)` : ''}`
          : raw !== undefined
            ? `the base image is unverified: the ${BASE_NAME_LABEL} label ${JSON.stringify(raw)} is the image author's word, no catalog image's layers begin this image, and the first layers match no allowed base`
            : `the base image is unknown: no ${BASE_NAME_LABEL} label, and the first layers match no allowed base`;
      return [{ id: 'base-image', text }];
    },
    describe: () => 'base image not in the allowlist',
    advice: `Build FROM an allowed base${names.length ? ` (${names.join(', ')})` : ''}`,
  };
};
