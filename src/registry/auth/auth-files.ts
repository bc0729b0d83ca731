/**
 * Registry credentials from the files container tools write: Docker's `config.json` (docker/cli
 * `cli/config/configfile/file.go`, `types/authconfig.go`) and containers-auth.json(5) (podman,
 * skopeo, buildah). Both hold `auths: { KEY: { auth: base64("user:password") | username/password |
 * identitytoken | registrytoken } }`.
 *
 * Keys are read as each tool reads them:
 * - a key with a scheme (`https://index.docker.io/v1/`, `http://host:5000/v2/`) is a URL written by old
 *   Docker versions: its scheme and path are dropped, leaving the host;
 * - in a Docker config.json every key is a host (docker/cli `ConvertToHostname` drops any path);
 * - in a containers-auth.json a key may name a namespace or repository (`host/ns/repo`); the reference's
 *   repository is matched from the most specific key to the least (`host/ns/repo`, `host/ns`, `host`);
 * - hosts compare after the one host normalizer (src/core/host.ts): letter case, a trailing dot, port
 *   zeros, IPv4 spellings, and Docker Hub's names (`docker.io`, `index.docker.io`,
 *   `registry-1.docker.io`) are one host. A key that is no valid host is skipped.
 * Files are searched in the order given; the first file holding a credential for the registry wins
 * (containers-auth.json(5): "read in sequence until the valid credential is found").
 *
 * Credential helpers (`credsStore`, `credHelpers`) are never executed: pushgate runs no program named
 * in a file. When one is configured for the registry and no file holds an inline credential, the
 * lookup says so ({@link CredentialLookup.helpers}) so the caller can tell the user what to do.
 */
import fs from 'node:fs';
import { formatHostPort, parseHostPort } from '../../core/host.js';
import { PushgateError } from '../../core/errors.js';
import type { Credentials } from './docker-config.js';

/** One credential file to search. */
export interface AuthFile {
  path: string;
  /** `containers`: keys may carry a repository path; `docker`: keys are hosts. */
  format: 'containers' | 'docker';
}

/** A credential helper configured for the registry (not run). */
export interface HelperReference {
  file: string;
  /** The helper program: `docker-credential-<name>`. */
  program: string;
  /** `credHelpers` (for this registry) or `credsStore` (for every registry). */
  via: 'credHelpers' | 'credsStore';
}

/** The result of {@link findRegistryCredentials}. */
export interface CredentialLookup {
  credentials?: Credentials;
  /** The file and key the credentials came from (no secret). */
  source?: { file: string; key: string };
  /** Helpers configured for this registry in the files searched (none of them was run). */
  helpers: HelperReference[];
}

/** `host[:port]` normalized, or undefined when `s` is no valid host. */
function normalHost(s: string): string | undefined {
  try {
    return formatHostPort(parseHostPort(s));
  } catch {
    return undefined;
  }
}

/**
 * A key of `auths` (or `credHelpers`) as host and repository path (`''` for a host-only key), or
 * undefined when it names no valid host.
 */
export function parseAuthKey(key: string, format: AuthFile['format']): { host: string; path: string } | undefined {
  let k = key.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(k);
  if (scheme) k = k.slice(scheme[0].length);
  const slash = k.indexOf('/');
  const hostPart = slash < 0 ? k : k.slice(0, slash);
  // URL keys and every Docker key are hosts; only a containers-auth.json key without scheme has a path.
  const p = slash < 0 || scheme || format === 'docker' ? '' : k.slice(slash + 1).replace(/\/+$/, '');
  const host = normalHost(hostPart);
  return host === undefined ? undefined : { host, path: p };
}

function readJson(file: string, format: AuthFile['format']): Record<string, unknown> {
  const what = format === 'docker' ? 'Docker config' : 'containers auth file';
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new PushgateError('BAD_CONFIG', `cannot read ${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
  let j: unknown;
  try {
    j = JSON.parse(raw);
  } catch (err) {
    throw new PushgateError('BAD_CONFIG', `${what} ${file} is not valid JSON: ${(err as Error).message}; fix it or log in again`, { cause: err });
  }
  return j && typeof j === 'object' && !Array.isArray(j) ? (j as Record<string, unknown>) : {};
}

/**
 * The credentials one `auths` entry holds, or undefined when it holds none (`{}`, as Docker writes
 * beside a credential store).
 * @throws PushgateError BAD_CONFIG when `auth` is not base64 of `user:password` (the value is not shown).
 */
export function entryCredentials(file: string, key: string, value: unknown): Credentials | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  const creds: Credentials = {};
  if (typeof v.auth === 'string' && v.auth) {
    const decoded = Buffer.from(v.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) {
      throw new PushgateError('BAD_CONFIG', `${file}: auths["${key}"].auth is not base64 of "user:password"; log in to ${key} again`);
    }
    creds.username = decoded.slice(0, colon);
    creds.password = decoded.slice(colon + 1);
  }
  if (typeof v.username === 'string' && v.username) creds.username = v.username;
  if (typeof v.password === 'string' && v.password) creds.password = v.password;
  if (typeof v.identitytoken === 'string' && v.identitytoken) creds.identityToken = v.identitytoken;
  if (typeof v.registrytoken === 'string' && v.registrytoken) creds.registryToken = v.registrytoken;
  return creds.username || creds.password || creds.identityToken || creds.registryToken ? creds : undefined;
}

/** True when `repository` is `p` or below it (`team/app` is below `team`); `''` matches every repository. */
function covers(p: string, repository: string | undefined): boolean {
  if (p === '') return true;
  if (repository === undefined) return false;
  return repository === p || repository.startsWith(`${p}/`);
}

/**
 * Finds the credentials for a registry (see the module comment for the rules).
 * @param host the registry's `host[:port]` as the reference or URL names it.
 * @param repository the repository about to be read (for containers-auth.json namespace keys).
 * @throws PushgateError BAD_CONFIG for a file that cannot be read or is not JSON, or a malformed `auth`
 *   in the entry that would be used.
 */
export function findRegistryCredentials(files: readonly AuthFile[], host: string, repository?: string): CredentialLookup {
  const want = normalHost(host);
  const helpers: HelperReference[] = [];
  if (want === undefined) return { helpers };
  for (const f of files) {
    const j = readJson(f.path, f.format);
    const auths = j.auths && typeof j.auths === 'object' ? (j.auths as Record<string, unknown>) : {};
    // most specific key first; among equally specific keys, the first written
    const candidates = Object.entries(auths)
      .map(([key, value]) => ({ key, value, parsed: parseAuthKey(key, f.format) }))
      .filter((c) => c.parsed && c.parsed.host === want && covers(c.parsed.path, repository))
      .sort((a, b) => b.parsed!.path.length - a.parsed!.path.length);
    for (const c of candidates) {
      const creds = entryCredentials(f.path, c.key, c.value);
      if (creds) return { credentials: creds, source: { file: f.path, key: c.key }, helpers };
    }
    const credHelpers = j.credHelpers && typeof j.credHelpers === 'object' ? (j.credHelpers as Record<string, unknown>) : {};
    const helper = Object.entries(credHelpers).find(([k, v]) => typeof v === 'string' && parseAuthKey(k, 'docker')?.host === want);
    if (helper) helpers.push({ file: f.path, program: `docker-credential-${String(helper[1])}`, via: 'credHelpers' });
    else if (typeof j.credsStore === 'string' && j.credsStore) helpers.push({ file: f.path, program: `docker-credential-${j.credsStore}`, via: 'credsStore' });
  }
  return { helpers };
}
