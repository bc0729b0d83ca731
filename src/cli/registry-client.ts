/**
 * The registry client `pushgate scan` uses for a registry reference, and the credentials it carries.
 *
 * Credentials, first match wins:
 * 1. `--username U --password-stdin` (one-off, for the scanned reference's registry only);
 * 2. `registries[].auth` of the configured registry the reference names (any of its forms);
 * 3. the credential files container tools write, in containers-auth.json(5) order (src/config/cli-state.ts
 *    `authFileLocations`): `$REGISTRY_AUTH_FILE` or `$XDG_RUNTIME_DIR/containers/auth.json`,
 *    `$XDG_CONFIG_HOME/containers/auth.json`, `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
 *    This applies to a configured registry without `auth` too.
 * Credential helpers are not run (src/registry/auth/auth-files.ts); when one is configured for the
 * registry and no file holds a credential, one line on stderr says so and what to do instead.
 * Whatever the source, the credentials go only to that registry's origin and its token realm
 * (src/registry/auth/credential-scope.ts).
 */
import { formatHostPort, isLoopbackHost, isPushgateError, parseHostPort, PushgateError, RegistryHosts } from '../core/index.js';
import type { PushgateConfig, RegistryConfig } from '../config/types.js';
import type { AuthFileLocation } from '../config/cli-state.js';
import { RegistryClient } from '../registry/client.js';
import { findRegistryCredentials, type CredentialLookup } from '../registry/auth/auth-files.js';
import { TOKEN_HINTS } from '../registry/auth/token-errors.js';
import { TLS_CONFIG_HINT } from '../registry/transport.js';
import type { Credentials } from '../registry/auth/docker-config.js';
import { USER_AGENT } from '../core/version.js';

/** How {@link clientForHost} finds credentials. */
export interface ClientCredentialOptions {
  /** The repository about to be read (containers-auth.json namespace keys). */
  repository?: string;
  /** Credential files to search, in order (default: none). */
  authFiles?: readonly AuthFileLocation[];
  /** `--username`/`--password-stdin` for this registry. */
  oneOff?: { username: string; password: string };
  /** Where a note about an unexecuted credential helper goes (default: dropped). */
  warn?: (line: string) => void;
  /**
   * `scan --insecure`: the registry's TLS certificate is not verified (its own origin only: token realms
   * and redirect targets still are). See {@link insecureFallback} for plain HTTP.
   */
  insecure?: boolean;
}

/** The one line telling the user that a credential helper was not run and what to do instead. */
export function helperNote(host: string, lookup: CredentialLookup): string | undefined {
  const h = lookup.helpers[0];
  if (!h || lookup.credentials) return undefined;
  return `pushgate: note: ${h.file} sends ${host} to the credential helper ${h.program} (${h.via}), which pushgate never runs; reading ${host} anonymously. `
    + `Pass --username USER --password-stdin, or log in with a tool that writes the credential into a file (podman/skopeo login --authfile FILE, then REGISTRY_AUTH_FILE=FILE)`;
}

/**
 * A client for a registry reference's host: the configured registry of that host (fetched from its
 * `url`), else an ad-hoc one (HTTPS unless loopback; Docker Hub's API host for `docker.io`).
 * @throws PushgateError BAD_CONFIG for an unreadable or malformed credential file.
 */
export function clientForHost(config: PushgateConfig, host: string, opts: ClientCredentialOptions = {}): RegistryClient {
  // The one host normalizer: `LOCALHOST:05000` or an alias is the configured registry, fetched from its url.
  const name = new RegistryHosts(config.registries).match(host);
  const rc: RegistryConfig | undefined = name === undefined ? undefined : config.registries.find((r) => r.name === name);
  const explicit = rc?.auth && (rc.auth.username || rc.auth.password || rc.auth.dockerConfig || rc.auth.token);
  let credentials: Credentials | undefined;
  if (opts.oneOff) {
    credentials = { username: opts.oneOff.username, password: opts.oneOff.password };
  } else if (!explicit && opts.authFiles?.length) {
    // Only the host pushgate connects to: a configured registry's url host, else the name the user wrote. A
    // key for the written name when that is an alias (a mirror named `docker.io`, an old host name) is a
    // credential for another server (Docker Hub's password went to the mirror): not sent, and said so.
    const written = formatHostPort(parseHostPort(host));
    const target = rc ? formatHostPort(parseHostPort(new URL(rc.url).host)) : written;
    const lookup: CredentialLookup = findRegistryCredentials(opts.authFiles, target, opts.repository);
    credentials = lookup.credentials;
    if (!credentials && written !== target && findRegistryCredentials(opts.authFiles, written, opts.repository).credentials) {
      opts.warn?.(
        `pushgate: note: the credential for ${written} is not sent to registry ${rc!.name} (${target}): a credential goes only to the host its key names; `
        + `log in to ${target}, or pass --username USER --password-stdin`,
      );
    }
    const note = helperNote(target, lookup);
    if (note) opts.warn?.(note);
  }
  if (rc) {
    const auth = opts.oneOff ? { realms: rc.auth?.realms } : rc.auth;
    // --insecure adds to the entry's own `insecure` for the registry's origin; other origins keep the entry's setting.
    return new RegistryClient({ name: rc.name, url: rc.url, insecure: rc.insecure || !!opts.insecure, insecureOtherOrigins: rc.insecure, ca: rc.ca, clientCert: rc.clientCert, clientKey: rc.clientKey, auth, credentials, timeoutMs: rc.timeoutMs, maxManifestBytes: config.scan.maxManifestBytes, userAgent: USER_AGENT });
  }
  const loopback = isLoopbackHost(parseHostPort(host).host);
  const apiHost = parseHostPort(host).host === 'docker.io' ? 'registry-1.docker.io' : host;
  const client = new RegistryClient({ name: host, url: `${loopback ? 'http' : 'https'}://${apiHost}`, credentials, insecure: !!opts.insecure, insecureOtherOrigins: false, maxManifestBytes: config.scan.maxManifestBytes, userAgent: USER_AGENT });
  if (credentials) carriesCredentials.add(client);
  return client;
}

/**
 * The note `scan --insecure` prints when it keeps TLS without verification and has credentials for the
 * host. Verifying the token realm does not protect them: whoever answers for the unverified host chooses
 * the realm (a host of its own, with a valid certificate) or asks for Basic credentials itself, so the
 * password reaches anyone able to intercept the connection, as with Docker's insecure registries.
 */
export const INSECURE_CREDENTIALS_NOTE = (host: string): string =>
  `pushgate: note: --insecure: ${host}'s TLS certificate is not verified, and your credentials for it are sent to it (and to the token service it names): anyone able to intercept the connection can take them. To keep verification, trust its CA instead: NODE_EXTRA_CA_CERTS=ca.pem pushgate scan …`;

/** Ad-hoc clients ({@link clientForHost}) made with credentials: {@link insecureFallback} says it drops them. */
const carriesCredentials = new WeakSet<RegistryClient>();

/** True when `e` is what an HTTPS request gets from a server that answers plain HTTP (OpenSSL's "wrong version number"). */
export function isPlainHttpAnswer(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    const { code, message } = c as { code?: unknown; message?: unknown };
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'ERR_SSL_HTTP_REQUEST') return true;
    // Other EPROTO failures (a handshake alert, no shared protocol version) come from a TLS server: never plain HTTP.
    if (code === 'EPROTO' && typeof message === 'string' && /wrong version number|packet length too long|http request/i.test(message)) return true;
  }
  return false;
}

/**
 * `scan --insecure` for a registry the configuration does not name (Trivy's flag): when its host does
 * not speak TLS at all (an HTTPS request meets a plain HTTP answer), the client for plain HTTP instead.
 * Over plain HTTP to a host that is not loopback no credentials are sent (they would cross the network in
 * clear): the registry is read anonymously, and `warn` says so when there were some. Sending credentials
 * over plain HTTP takes a `--config` entry whose url is `http://…`, written by the user. A configured or
 * loopback registry, or a host that answers TLS, keeps `client`; when that client carries credentials
 * for a host that is not loopback, `warn` says they go to a server whose certificate is unverified
 * ({@link INSECURE_CREDENTIALS_NOTE}).
 * @param probe the request that tells (default `client.ping()`, GET /v2/); any other failure keeps `client`.
 */
export async function insecureFallback(config: PushgateConfig, host: string, client: RegistryClient, opts: { warn?: (line: string) => void; probe?: () => Promise<unknown> } = {}): Promise<RegistryClient> {
  if (isConfiguredHost(config, host) || isLoopbackHost(parseHostPort(host).host)) return client;
  const kept = (): RegistryClient => {
    if (carriesCredentials.has(client)) opts.warn?.(INSECURE_CREDENTIALS_NOTE(host));
    return client;
  };
  try {
    await (opts.probe ?? (() => client.ping()))();
    return kept();
  } catch (e) {
    if (!isPlainHttpAnswer(e)) return kept();
  }
  if (carriesCredentials.has(client)) {
    opts.warn?.(`pushgate: note: ${host} answers plain HTTP only; with --insecure it is read over http without credentials, which would cross the network in clear. To send them anyway, name it in a --config file: registries: [{ name: ..., url: http://${host} }]`);
  }
  return new RegistryClient({ name: host, url: `http://${host}`, maxManifestBytes: config.scan.maxManifestBytes, userAgent: USER_AGENT });
}

/** True when `host` names a registry of `config.registries` (any of its forms: url host, aliases). */
export function isConfiguredHost(config: PushgateConfig, host: string): boolean {
  return new RegistryHosts(config.registries).match(host) !== undefined;
}

/**
 * A registry's 401 as the CLI user can act on it: the registry error plus how `pushgate scan` finds
 * credentials. The registry client's own advice speaks to the operator of `pushgate serve`
 * (`registries[].auth`, its account's rights at the token issuer); for a registry the configuration
 * does not name (`configured` false, as for every scan without `--config`) that advice is dropped, since
 * there is no such entry to check. When the credentials were the one-off `--username USER
 * --password-stdin` (`oneOffUser`), the registry refused exactly those, so the hint says that instead of
 * suggesting the flags the user already passed. Other errors are returned as they are.
 */
export function withLoginHint(e: unknown, host: string, oneOffUser?: string, configured = false): unknown {
  if (!isPushgateError(e, 'UNAUTHORIZED') || !/: 401\b/.test(e.message)) return e;
  const hint = oneOffUser !== undefined
    ? `${host} refused the credentials given with --username ${JSON.stringify(oneOffUser)} --password-stdin: check the user name and the password piped in (all of stdin but one trailing newline)`
    : `to scan ${host}, log in (docker login ${host}, or podman/skopeo login ${host}) or pass --username USER --password-stdin`;
  let message = e.message;
  if (!configured) for (const h of TOKEN_HINTS) message = message.split(`: ${h}`).join('').split(`; ${h}`).join('');
  return new PushgateError('UNAUTHORIZED', `${message}; ${hint}`, { cause: e, retryable: false });
}

/**
 * A TLS verification failure as the CLI user can act on it. The registry client's advice names
 * `registries[].ca` and `insecure`, keys of a configuration file; for a registry the configuration does
 * not name (`configured` false) it becomes what works from the command line: Node's
 * `NODE_EXTRA_CA_CERTS` (a PEM bundle added to the trusted roots), or a `--config` file with a
 * registries[] entry for the host. Other errors, and those of a configured registry, are returned as they are.
 */
export function withTlsHint(e: unknown, host: string, configured = false): unknown {
  if (configured || !isPushgateError(e) || !e.message.includes(`; ${TLS_CONFIG_HINT}`)) return e;
  const hint = `to trust the registry's CA, run NODE_EXTRA_CA_CERTS=ca.pem pushgate scan …, or pass --config FILE naming it in registries[] (url: https://${host}, ca: ca.pem, or insecure: true to skip verification)`;
  return new PushgateError(e.code, e.message.replace(`; ${TLS_CONFIG_HINT}`, `; ${hint}`), { cause: e, retryable: false, details: e.details });
}
