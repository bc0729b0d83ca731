/**
 * Image references following distribution/reference (reference.go, normalize.go):
 * `[domain/]path[:tag][@digest]`. Normalization as the container runtime does it:
 * `nginx` → `docker.io/library/nginx:latest`; `name:tag@digest` means the digest.
 */
import { PushgateError } from './errors.js';
import { isDigest, type Digest } from './digest.js';
import { PATH_COMPONENT, TAG_RE } from './names.js';

/** A parsed image reference. `registry` is `host[:port]` as written (docker.io normalized). */
export interface ImageRef {
  registry: string;
  repository: string;
  tag?: string;
  digest?: Digest;
}


/**
 * Parses a reference such as `127.0.0.1:5000/team/app:v1` or `nginx@sha256:…`.
 * @param opts.defaultTag tag to use when neither tag nor digest is given (runtime: `latest`);
 *   pass `null` to leave both unset.
 * @throws PushgateError BAD_REFERENCE naming what is malformed.
 */
export function parseImageRef(input: string, opts: { defaultTag?: string | null } = {}): ImageRef {
  const s = input.trim();
  if (!s) throw new PushgateError('BAD_REFERENCE', 'empty image reference');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) {
      throw new PushgateError('BAD_REFERENCE', `image reference "${s}": "${digest}" is not a sha256 digest`);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG_RE.test(tag)) throw new PushgateError('BAD_REFERENCE', `image reference "${s}": bad tag "${tag}"`);
  }
  let registry = 'docker.io';
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (registry === 'index.docker.io') registry = 'docker.io';
  if (registry === 'docker.io' && !repository.includes('/')) repository = `library/${repository}`;
  if (!repository || !repository.split('/').every((c) => PATH_COMPONENT.test(c))) {
    throw new PushgateError(
      'BAD_REFERENCE',
      `image reference "${s}": repository "${repository}" is not valid (lowercase letters, digits, separators . _ __ -)`,
    );
  }
  if (repository.length > 255) throw new PushgateError('BAD_REFERENCE', `image reference "${s}": name longer than 255`);
  const defaultTag = opts.defaultTag === undefined ? 'latest' : opts.defaultTag;
  if (!tag && !digest && defaultTag) tag = defaultTag;
  return { registry, repository, tag, digest };
}

/** Formats a reference back to `registry/repository[:tag][@digest]`. */
export function formatImageRef(ref: ImageRef): string {
  let s = `${ref.registry}/${ref.repository}`;
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}
