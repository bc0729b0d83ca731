/**
 * Credentials from a Docker CLI `config.json` named by `registries[].auth.dockerConfig` (docker/cli
 * `cli/config/configfile/file.go`, `types/authconfig.go`): `auths[<server>]` with `auth` =
 * base64(`user:password`), or `username`/`password`, or `identitytoken` (an OAuth2 refresh token).
 * Keys are read by auth-files.ts, the one reading of credential files. Credential helpers
 * (`credsStore`, `credHelpers`) are not executed: pushgate never runs programs named in a file.
 */
import { findRegistryCredentials, parseAuthKey } from './auth-files.js';

/** Credentials for one registry host. */
export interface Credentials {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (`identitytoken`), exchanged with the POST token flow. */
  identityToken?: string;
  /** A registry bearer token used as is (`registrytoken`). */
  registryToken?: string;
}

/**
 * The host[:port] a config key names: `https://host:port/v1/` → `host:port`; Docker Hub aliases →
 * `docker.io`; the key lower-cased when it is no valid host (it then matches nothing real).
 */
export function normalizeAuthKey(key: string): string {
  return parseAuthKey(key, 'docker')?.host ?? key.trim().toLowerCase();
}

/**
 * Reads the credentials for `host` (`host[:port]`) from a Docker config.json.
 * @returns undefined when the file names no credentials for that host.
 * @throws PushgateError BAD_CONFIG when the file cannot be read, is not JSON, or an `auth` value
 *   is not base64 `user:password`.
 */
export function readDockerConfigCredentials(file: string, host: string): Credentials | undefined {
  return findRegistryCredentials([{ path: file, format: 'docker' }], host).credentials;
}
