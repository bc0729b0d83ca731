/**
 * Image references as the container runtimes read them (distribution/reference `reference.go`,
 * `normalize.go`, which containerd and docker use): `[domain/]path[:tag][@digest]`.
 * - The first `/`-separated component is the domain only when it contains `.` or `:`, is
 *   `localhost`, or has an upper-case letter; otherwise the reference is on Docker Hub
 *   (`nginx` → `docker.io/library/nginx:latest`).
 * - A domain is DNS labels or a bracketed IPv6 literal, with an optional port; upper case is allowed
 *   there. The path must be lower case. `name:tag@digest` means the digest.
 * - The domain is then normalized by the one host normalizer ({@link parseHostPort}: case, trailing
 *   dot refused by the grammar, port leading zeros, IPv6 form, Docker Hub names), so the same image
 *   has one `registry` whatever the spelling.
 * - What a runtime looks up as a local image ID instead of a name is refused: a bare 64-hex string, and
 *   `sha256:<hex>` (or a prefix of one), which containerd and Docker resolve among the node's images.
 */
import { PushgateError } from './errors.js';
import { isDigest, manifestDigestProblem, type Digest } from './digest.js';
import { PATH_COMPONENT, TAG_RE } from './names.js';
import { DOCKER_HUB, formatHostPort, parseHostPort } from './host.js';

/**
 * A parsed image reference. `registry` is the normalized `host[:port]` (lower case, no leading zeros
 * in the port, Docker Hub as `docker.io`); which configured registry it names is decided by
 * {@link RegistryHosts}.
 */
export interface ImageRef {
  registry: string;
  repository: string;
  tag?: string;
  digest?: Digest;
}

const DOMAIN_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
/** A bare 64-hex string is refused (it would be taken for an image ID). */
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;
/**
 * `<digest algorithm>:…` with nothing before it is refused: distribution/reference reads `sha256:3f4a…`
 * as Docker Hub's `library/sha256` with tag `3f4a…`, and the kubelet passes it on unchanged (it has a tag),
 * but containerd's CRI (`ImageStatus` → `LocalResolve`: go-digest `Parse`, then the image store's
 * `digestset.Lookup`, which takes any prefix) and Docker (`GetImage`, `imageStore.Search`) look it up
 * as the ID, or a truncated ID, of an image already on the node. With a pull policy other than `Always`
 * the node then starts whatever image it holds under that ID, whichever registry it came from.
 * Algorithms: go-digest's (sha256, sha384, sha512) and the image-spec's blake3.
 */
const IMAGE_ID_FORM_RE = /^(?:sha256|sha384|sha512|blake3):/;
/** distribution/reference NameTotalLengthMax. */
const NAME_MAX = 255;

/**
 * Parses a reference such as `127.0.0.1:5000/team/app:v1` or `nginx@sha256:…` the way the
 * runtimes do. Nothing is trimmed or guessed: what the runtime would refuse, or read differently
 * from how it looks, is refused here.
 * @param opts.defaultTag tag to use when neither tag nor digest is given (runtime: `latest`);
 *   pass `null` to leave both unset.
 * @throws PushgateError BAD_REFERENCE naming what is malformed, or an image-ID form (`<64 hex>`,
 *   `sha256:<hex>`) that the runtime resolves among the node's images.
 */
export function parseImageRef(input: string, opts: { defaultTag?: string | null } = {}): ImageRef {
  const s = input;
  const fail = (why: string) => new PushgateError('BAD_REFERENCE', `image reference "${s}": ${why}`);
  if (!s) throw new PushgateError('BAD_REFERENCE', 'empty image reference');
  if (/\s/.test(s)) throw fail('contains white space');
  if (IDENTIFIER_RE.test(s)) throw fail('a 64-hex string is an image ID, not a repository name; write name@sha256:…');
  if (IMAGE_ID_FORM_RE.test(s)) {
    throw fail('the runtime (containerd, Docker) reads "<algorithm>:<hex>" as the ID, or a prefix of the ID, of an image already on the node, not as a repository; write registry/repository@sha256:…');
  }
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw fail(manifestDigestProblem(digest));
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG_RE.test(tag)) throw fail(`bad tag "${tag}"`);
  }
  let domain: string | undefined;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (rest.length > NAME_MAX) throw fail(`name longer than ${NAME_MAX} characters`);
  let registry = DOCKER_HUB;
  if (domain !== undefined) {
    if (!DOMAIN_RE.test(domain)) {
      throw fail(`"${domain}" is not a registry host (DNS labels or [IPv6], optional :port; no trailing dot)`);
    }
    try {
      registry = formatHostPort(parseHostPort(domain));
    } catch (e) {
      throw fail((e as Error).message);
    }
  }
  if (path !== path.toLowerCase()) throw fail(`repository "${path}" must be lower case`);
  if (registry === DOCKER_HUB && path && !path.includes('/')) path = `library/${path}`;
  if (!path || !path.split('/').every((c) => PATH_COMPONENT.test(c))) {
    throw fail(`repository "${path}" is not valid (lowercase letters, digits, separators . _ __ -)`);
  }
  const defaultTag = opts.defaultTag === undefined ? 'latest' : opts.defaultTag;
  if (!tag && !digest && defaultTag) tag = defaultTag;
  return { registry, repository: path, tag, digest };
}

/** The domain strings distribution/reference itself folds into Docker Hub (normalize.go: `defaultDomain`, `legacyDefaultDomain`). */
const RUNTIME_HUB_DOMAINS = new Set(['docker.io', 'index.docker.io']);

/**
 * The domain of `input` exactly as written (`REGISTRY-1.docker.io:443`), or undefined when the
 * reference has none (a Docker Hub short name). Splits as {@link parseImageRef} does; call it on
 * a reference that parsed.
 */
function writtenDomain(input: string): string | undefined {
  let rest = input;
  const at = rest.indexOf('@');
  if (at >= 0) rest = rest.slice(0, at);
  const slash = rest.indexOf('/');
  if (slash < 0) return undefined;
  const first = rest.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase() ? first : undefined;
}

/**
 * Why the runtimes would not read `input` as the Docker Hub reference `ref` (its parse) names, or
 * undefined when they would (or when `ref` is not on a Docker Hub host name, any port).
 *
 * The host normalizer folds every Docker Hub host name into `docker.io` (case, `:443`,
 * `registry-1.docker.io`), but distribution/reference (containerd, CRI-O, the kubelet) folds only the
 * domain strings `docker.io` and `index.docker.io` and adds `library/` only to those. Any other
 * spelling stays a registry of its own to the runtime: `registry-1.docker.io/team/app` is pulled from
 * Docker Hub itself, past any mirror configured for `docker.io` (containerd `certs.d/docker.io`,
 * CRI-O `[[registry]] prefix = "docker.io"`), and `registry-1.docker.io/nginx` is not
 * `library/nginx`. So when Docker Hub's name reaches a guarded registry (a mirror, through
 * `registries[].aliases`), such a reference names an image pushgate cannot judge, and admission
 * refuses it.
 * @returns a sentence naming the spelling and the one to write instead.
 */
export function unfoldedDockerHubSpelling(input: string, ref: ImageRef): string | undefined {
  const domain = writtenDomain(input);
  if (domain === undefined || RUNTIME_HUB_DOMAINS.has(domain)) return undefined;
  // Any port too: `docker.io:443` is the same host to the normalizer, another domain to the runtime.
  if (ref.registry !== DOCKER_HUB && !ref.registry.startsWith(`${DOCKER_HUB}:`)) return undefined;
  const path = input.slice(domain.length + 1).replace(/[:@].*$/, '');
  return `image reference "${input}": runtimes read "${domain}" as a registry of its own, not as docker.io (distribution/reference folds only docker.io and index.docker.io): no library/ prefix, and a mirror configured for docker.io does not apply; write docker.io/${path}`;
}

/** An IPv4 address as Go's net.ParseIP reads one: four decimal parts 0-255 without leading zeros (Go 1.17+). */
const GO_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * Why the runtimes could read `input`'s domain as another host than pushgate does, or undefined when
 * they could not: a host whose last label is a number (or `0x…`) that is not an IPv4 address in Go's
 * spelling (`127.1`, `2130706433`, `0x7f.1`, `0177.0.0.1`, `10.0.0.05`).
 *
 * The host normalizer ({@link parseHostPort}) reads such a name as inet_aton does (glibc's resolver, the
 * WHATWG URL parser): `2130706433` is 127.0.0.1. The runtimes that pull for a pod are Go programs
 * (containerd, CRI-O, the kubelet): Go's net.ParseIP takes only four decimal parts without leading zeros,
 * so any other spelling is a host name to Go's own resolver, looked up in /etc/hosts and DNS (search
 * domains appended), while a cgo build or a glibc-based helper would read it as the address. What such a
 * reference pulls depends on which resolver runs, so pushgate cannot say which image it names, and
 * admission refuses it (where it would reach a guarded registry) instead of judging the address it folds to.
 * @param input the reference as written (a reference {@link parseImageRef} accepted).
 * @returns a sentence naming the spelling and the address to write instead.
 */
export function ambiguousIpv4Spelling(input: string): string | undefined {
  const domain = writtenDomain(input);
  if (domain === undefined || domain.startsWith('[')) return undefined;
  const colon = domain.lastIndexOf(':');
  const host = (colon >= 0 ? domain.slice(0, colon) : domain).toLowerCase();
  if (!/^(?:0x[0-9a-f]*|[0-9]+)$/.test(host.slice(host.lastIndexOf('.') + 1)) || GO_IPV4.test(host)) return undefined;
  let address: string;
  try {
    address = parseHostPort(host).host;
  } catch {
    return undefined; // the parse refused it already
  }
  return `image reference "${input}": "${host}" is not an IPv4 address to the container runtimes (Go reads only four decimal parts without leading zeros, and looks any other spelling up as a host name), while glibc reads it as ${address}: which registry it pulls from depends on the resolver; write ${address}`;
}

/** Formats a reference back to `registry/repository[:tag][@digest]`. */
export function formatImageRef(ref: ImageRef): string {
  let s = `${ref.registry}/${ref.repository}`;
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}
