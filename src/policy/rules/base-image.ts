/**
 * `match.baseImage`: a base image allowlist. The base is known by the label
 * `org.opencontainers.image.base.name` (OCI annotations spec, set by `docker buildx` and others) or by
 * layers: the image's `rootfs.diff_ids` (or the caller's `baseLayers`) begin with an allowed base's diffIDs.
 */
import type { BaseImageMatchSpec } from '../types.js';
import { glob, type RuleCompiler } from './common.js';

/** The OCI label naming the base image. */
export const BASE_NAME_LABEL = 'org.opencontainers.image.base.name';

function startsWith(list: string[] | undefined, prefix: string[]): boolean {
  return list !== undefined && list.length >= prefix.length && prefix.every((d, i) => list[i] === d);
}

/** Compiles a base image allowlist rule. */
export const compileBaseImageRule: RuleCompiler<BaseImageMatchSpec> = (spec) => {
  const allowed = spec.allowed.map((a) => ({ name: a.name === undefined ? undefined : glob(a.name), diffIDs: a.diffIDs }));
  const names = spec.allowed.map((a) => a.name).filter(Boolean);
  return {
    match: ({ input }) => {
      const label = input.imageConfig?.config?.Labels?.[BASE_NAME_LABEL];
      const rootfs = input.imageConfig?.rootfs?.diff_ids;
      const ok = allowed.some(
        (a) =>
          (a.name !== undefined && label !== undefined && a.name(label)) ||
          (a.diffIDs !== undefined && (startsWith(rootfs, a.diffIDs) || startsWith(input.baseLayers, a.diffIDs))),
      );
      if (ok) return [];
      const text = label
        ? `base image ${label} is not allowed`
        : `the base image is unknown: no ${BASE_NAME_LABEL} label, and the first layers match no allowed base`;
      return [{ id: 'base-image', text }];
    },
    describe: () => 'base image not in the allowlist',
    advice: `Build FROM an allowed base${names.length ? ` (${names.join(', ')})` : ''}`,
  };
};
