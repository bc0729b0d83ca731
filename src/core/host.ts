/**
 * The one host normalizer: which configured registry a `host[:port]` names. Every place that
 * matches a host (admission image references, the admin API's `image=REF`, the CLI, the proxy's
 * upstream) asks {@link RegistryHosts}; nothing compares host strings as written.
 *
 * Spellings that reach the same registry are the same registry:
 * - letter case (`REGISTRY.example.test`), one trailing dot (`registry.example.test.`, a fully
 *   qualified DNS name), leading zeros in the port (`:05000`: Go's strconv reads it as 5000);
 * - the scheme's default port written or not (`host:443` for an `https://` registry, `host:80` for
 *   an `http://` one); a reference without a port reaches a registry whose URL has no port (or the
 *   scheme's default);
 * - IPv6 literals in any textual form (`[0:0::1]` = `[::1]`, RFC 5952);
 * - loopback names (`localhost`, `127.0.0.0/8`, `::1`) are one host, but ONLY when the configured
 *   registry (or alias) is itself loopback: then every loopback spelling on its port reaches it, and so
 *   do the unspecified addresses `0.0.0.0` and `[::]` ({@link dialsLoopback}): Linux connects a socket
 *   aimed at them to 127.0.0.1 or ::1, so a Go runtime pulling `0.0.0.0:5000/app` reaches the registry
 *   on 127.0.0.1:5000;
 * - Docker Hub: `docker.io`, `index.docker.io`, `registry-1.docker.io` and no host at all;
 * - `registries[].aliases`: other `host[:port]` names the registry is reached by (an ingress name,
 *   a node-local mirror name).
 * A different host, or the same host on a different port, is never the registry.
 *
 * No I/O: names are compared, never resolved.
 */
import { LRUCache } from 'lru-cache';
import { PushgateError } from './errors.js';

/** The host Docker Hub references normalize to (distribution/reference `defaultDomain`). */
export const DOCKER_HUB = 'docker.io';
/** Other names of Docker Hub: the legacy index and the API endpoint the runtimes actually call. */
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** A normalized `host[:port]`. */
export interface HostPort {
  /** Lowercase, no trailing dot; IPv6 in RFC 5952 form inside brackets (`[::1]`); Docker Hub names → `docker.io`. */
  host: string;
  /** 1–65535, or undefined when none was written. */
  port?: number;
}

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const IPV6_BODY = /^[0-9a-f:.]+$/;

/**
 * Normalized hosts by spelling. Every admission review and API lookup normalizes the hosts it names
 * (an IPv4 spelling goes through the WHATWG URL parser); a cluster names a handful of registries, so
 * the answers are kept. Bounded: spellings nobody repeats are forgotten first. Refused spellings are
 * not kept (they throw each time).
 */
const normalized = new LRUCache<string, Readonly<HostPort>>({ max: 1024 });

/**
 * Parses and normalizes `host[:port]` (no scheme, no path).
 * @returns a new object each call (callers may change it).
 * @throws PushgateError BAD_ARGUMENT naming what is wrong: an empty host, a label that is not
 *   letters/digits/hyphens, an IPv6 literal without brackets or not parseable, a port that is not
 *   1–65535.
 */
export function parseHostPort(input: string): HostPort {
  let hp = normalized.get(input);
  if (!hp) {
    hp = parseHostPortUncached(input);
    normalized.set(input, hp);
  }
  return { ...hp };
}

function parseHostPortUncached(input: string): HostPort {
  const s = input;
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw bad(s, 'an IPv6 literal opened with "[" is never closed');
    host = s.slice(0, close + 1);
    const rest = s.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw bad(s, `unexpected "${rest}" after the IPv6 literal`);
      portText = rest.slice(1);
    }
  } else {
    const colons = s.split(':').length - 1;
    if (colons > 1) throw bad(s, 'an IPv6 address must be written in brackets: [::1]:5000');
    const c = s.indexOf(':');
    host = c >= 0 ? s.slice(0, c) : s;
    portText = c >= 0 ? s.slice(c + 1) : undefined;
  }
  const out: HostPort = { host: normalizeHostName(host, s) };
  if (portText !== undefined) out.port = parsePort(portText, s);
  return out;
}

function bad(input: string, why: string): PushgateError {
  return new PushgateError('BAD_ARGUMENT', `host "${input}": ${why}`);
}

function parsePort(text: string, input: string): number {
  if (!/^[0-9]+$/.test(text)) throw bad(input, `port "${text}" is not a number`);
  // Leading zeros are the same port to every dialer (Go's strconv, the kernel): ":05000" is 5000.
  const n = Number(text.replace(/^0+(?=\d)/, ''));
  if (!Number.isSafeInteger(n) || n < 1 || n > 65535) throw bad(input, `port ${text} is outside 1-65535`);
  return n;
}

function normalizeHostName(raw: string, input: string): string {
  if (raw.startsWith('[')) {
    const body = raw.slice(1, -1).toLowerCase();
    if (!body || !IPV6_BODY.test(body)) throw bad(input, `"${raw}" is not an IPv6 address`);
    let canonical: string;
    try {
      // WHATWG URL serializes IPv6 hosts in RFC 5952 form (no I/O: the string is only parsed).
      canonical = new URL(`http://[${body}]/`).hostname;
    } catch {
      throw bad(input, `"${raw}" is not an IPv6 address`);
    }
    // An IPv4-mapped address is dialled as IPv4 (Go's net package, the kernel): [::ffff:a00:5] is 10.0.0.5.
    const mapped = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(canonical);
    if (mapped) {
      const hi = parseInt(mapped[1], 16);
      const lo = parseInt(mapped[2], 16);
      return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
    }
    return canonical;
  }
  let h = raw.toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (!h) throw bad(input, 'the host name is empty');
  // A name whose last label is a number is an IPv4 address to inet_aton (glibc's resolver) and to the WHATWG
  // URL parser alike, in any of its spellings: 127.1, 2130706433, 0x7f.1, 0177.0.0.1 are all 127.0.0.1. One
  // canonical dotted form, so no spelling of a guarded registry's address counts as another host.
  if (/^(?:0x[0-9a-f]*|[0-9]+)$/.test(h.slice(h.lastIndexOf('.') + 1))) {
    let v4: string;
    try {
      v4 = new URL(`http://${h}/`).hostname;
    } catch {
      throw bad(input, `"${raw}" ends in a number but is not an IPv4 address`);
    }
    if (!/^\d{1,3}(?:\.\d{1,3}){3}$/.test(v4)) throw bad(input, `"${raw}" ends in a number but is not an IPv4 address`);
    return v4;
  }
  if (h.length > 253) throw bad(input, 'the host name is longer than 253 characters');
  for (const label of h.split('.')) {
    if (!DNS_LABEL.test(label)) throw bad(input, `"${label}" is not a host name label (letters, digits and inner hyphens)`);
  }
  return DOCKER_HUB_ALIASES.has(h) ? DOCKER_HUB : h;
}

/** Formats a {@link HostPort} back to `host[:port]`. */
export function formatHostPort(hp: HostPort): string {
  return hp.port === undefined ? hp.host : `${hp.host}:${hp.port}`;
}

/** True for a loopback host: `localhost`, an IPv4 address in 127.0.0.0/8 (also IPv4-mapped), `[::1]`. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '[::1]') return true;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (v4) return Number(v4[1]) === 127 && v4.slice(2).every((o) => Number(o) <= 255);
  // IPv4-mapped 127.x.y.z, as the URL parser serializes it: [::ffff:7f00:1] for 127.0.0.1
  return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host);
}

/**
 * True for a host a connection to which reaches this machine's loopback interface: a loopback host
 * ({@link isLoopbackHost}) or an unspecified address, `0.0.0.0` or `[::]` (also IPv4-mapped, which the
 * normalizer folds to `0.0.0.0`). Linux's connect(2) sends a TCP connection aimed at INADDR_ANY to
 * 127.0.0.1 and one aimed at in6addr_any to ::1 (net/ipv4/route.c `ip_route_output_key_hash_rcu`,
 * net/ipv6/tcp_ipv6.c `tcp_v6_connect`), and Go's dialer (containerd, CRI-O, the kubelet) passes
 * them to connect unchanged. Also a name under `localhost.` (RFC 6761 §6.3: `app.localhost`), which
 * systemd-resolved (Ubuntu's default) and nss-myhostname answer with the loopback addresses, though Go's
 * resolver has no rule for it (golang/go#22826) and asks the system's stub: counting it as loopback
 * can only make a reference guarded that would otherwise pass as unguarded.
 * Only for matching a reference's host to a configured registry: as a listen address `0.0.0.0` means
 * every interface, which is not loopback ({@link isLoopbackHost}).
 * @param host a normalized host ({@link parseHostPort}).
 */
export function dialsLoopback(host: string): boolean {
  return isLoopbackHost(host) || host === '0.0.0.0' || host === '[::]' || host.endsWith('.localhost');
}

/** The default port of an `http:` or `https:` URL scheme. */
export function defaultPortOf(protocol: string): number {
  return protocol === 'https:' ? 443 : 80;
}

/** What {@link RegistryHosts} needs of a configured registry (`registries[]`). */
export interface RegistryHostsEntry {
  name: string;
  /** `http://` or `https://` base URL. */
  url: string;
  /** Other `host[:port]` names it is reached by. */
  aliases?: string[];
}

interface Name {
  host: string;
  port: number;
  loopback: boolean;
  /** The name was configured without a port (or with the scheme's default): a portless reference reaches it. */
  portless: boolean;
}

/**
 * The configured registries by every name they are reached by. Built once per configuration.
 * @throws PushgateError BAD_ARGUMENT when a URL or alias cannot be parsed.
 */
export class RegistryHosts {
  private readonly entries: Array<{ name: string; names: Name[] }>;

  constructor(registries: readonly RegistryHostsEntry[]) {
    this.entries = registries.map((r) => {
      let u: URL;
      try {
        u = new URL(r.url);
      } catch {
        throw new PushgateError('BAD_ARGUMENT', `registry "${r.name}": url "${r.url}" is not a URL`);
      }
      const dflt = defaultPortOf(u.protocol);
      const name = (hp: HostPort): Name => {
        const port = hp.port ?? dflt;
        return { host: hp.host, port, loopback: isLoopbackHost(hp.host), portless: port === dflt };
      };
      const own = parseHostPort(u.host);
      return { name: r.name, names: [name(own), ...(r.aliases ?? []).map((a) => name(parseHostPort(a)))] };
    });
  }

  /**
   * The names of the registries `host[:port]` reaches (normally zero or one; more only when the
   * configuration gives two registries a common name, which config validation refuses).
   * @throws PushgateError BAD_ARGUMENT when `hostPort` is not a host (callers refuse the input).
   */
  matchAll(hostPort: string | HostPort): string[] {
    const hp = typeof hostPort === 'string' ? parseHostPort(hostPort) : hostPort;
    // An unspecified address is dialled as loopback: a reference naming it reaches a loopback registry.
    const loopback = dialsLoopback(hp.host);
    const out: string[] = [];
    for (const e of this.entries) {
      const hit = e.names.some((n) => {
        const sameHost = n.host === hp.host || (n.loopback && loopback);
        const samePort = hp.port === undefined ? n.portless : hp.port === n.port;
        return sameHost && samePort;
      });
      if (hit) out.push(e.name);
    }
    return out;
  }

  /**
   * The name of the registry `host[:port]` reaches, or undefined when it reaches none.
   * @throws PushgateError BAD_ARGUMENT when `hostPort` is not a host, or when it reaches several
   *   registries (the message names them): the caller refuses the input rather than pick one.
   */
  match(hostPort: string | HostPort): string | undefined {
    const all = this.matchAll(hostPort);
    if (all.length > 1) {
      const shown = typeof hostPort === 'string' ? hostPort : formatHostPort(hostPort);
      throw new PushgateError('BAD_ARGUMENT', `host "${shown}" names several configured registries (${all.join(', ')}): give each registry its own url and aliases`);
    }
    return all[0];
  }
}

/**
 * True when two registry base URLs name the same origin under the host normalizer: same scheme,
 * same normalized host (case, trailing dot, IPv6 form) and same port (the scheme's default written or
 * not), same path without trailing slashes. Loopback names are NOT merged here: a configured URL is
 * compared as written. False when either is not a URL.
 */
export function sameRegistryUrl(a: string, b: string): boolean {
  let ua: URL, ub: URL;
  try {
    ua = new URL(a);
    ub = new URL(b);
  } catch {
    return false;
  }
  if (ua.protocol !== ub.protocol) return false;
  const path = (u: URL) => u.pathname.replace(/\/+$/, '');
  if (path(ua) !== path(ub)) return false;
  try {
    const ha = parseHostPort(ua.host);
    const hb = parseHostPort(ub.host);
    const dflt = defaultPortOf(ua.protocol);
    return ha.host === hb.host && (ha.port ?? dflt) === (hb.port ?? dflt);
  } catch {
    return false;
  }
}
