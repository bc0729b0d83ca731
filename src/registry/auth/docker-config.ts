/**
 * Credentials from a Docker CLI `config.json` (docker/cli `cli/config/configfile/file.go`,
 * `types/authconfig.go`): `auths[<server>]` with `auth` = base64(`user:password`), or
 * `username`/`password`, or `identitytoken` (an OAuth2 refresh token). Credential helpers
 * (`credsStore`, `credHelpers`) are not executed: pushgate never runs programs named in a file.
 */
import fs from 'node:fs';
import { PushgateError } from '../../core/errors.js';

/** Credentials for one registry host. */
export interface Credentials {
  username?: string;
  password?: string;
  /** OAuth2 refresh token (`identitytoken`), exchanged with the POST token flow. */
  identityToken?: string;
  /** A registry bearer token used as is (`registrytoken`). */
  registryToken?: string;
}

/** The host[:port] a config key names: `https://host:port/v1/` → `host:port`; Docker Hub aliases → `docker.io`. */
export function normalizeAuthKey(key: string): string {
  let k = key.trim();
  k = k.replace(/^[a-z]+:\/\//i, '');
  k = k.replace(/\/.*$/, '');
  k = k.toLowerCase();
  if (k === 'index.docker.io' || k === 'registry-1.docker.io' || k === 'registry.hub.docker.com') return 'docker.io';
  return k;
}

/**
 * Reads the credentials for `host` (`host[:port]`) from a Docker config.json.
 * @returns undefined when the file names no credentials for that host.
 * @throws PushgateError BAD_CONFIG when the file cannot be read, is not JSON, or an `auth` value
 *   is not base64 `user:password`.
 */
export function readDockerConfigCredentials(file: string, host: string): Credentials | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new PushgateError('BAD_CONFIG', `cannot read Docker config ${file}: ${(err as Error).message}`, { cause: err });
  }
  let j: unknown;
  try {
    j = JSON.parse(raw);
  } catch (err) {
    throw new PushgateError('BAD_CONFIG', `Docker config ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const auths = (j as { auths?: unknown })?.auths;
  if (!auths || typeof auths !== 'object') return undefined;
  const want = normalizeAuthKey(host);
  for (const [key, value] of Object.entries(auths as Record<string, unknown>)) {
    if (normalizeAuthKey(key) !== want || !value || typeof value !== 'object') continue;
    const v = value as Record<string, unknown>;
    const creds: Credentials = {};
    if (typeof v.auth === 'string' && v.auth) {
      const decoded = Buffer.from(v.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) {
        throw new PushgateError(
          'BAD_CONFIG',
          `Docker config ${file}: auths["${key}"].auth is not base64 of "user:password"; run "docker login ${key}" again`,
        );
      }
      creds.username = decoded.slice(0, colon);
      creds.password = decoded.slice(colon + 1);
    }
    if (typeof v.username === 'string' && v.username) creds.username = v.username;
    if (typeof v.password === 'string' && v.password) creds.password = v.password;
    if (typeof v.identitytoken === 'string' && v.identitytoken) creds.identityToken = v.identitytoken;
    if (typeof v.registrytoken === 'string' && v.registrytoken) creds.registryToken = v.registrytoken;
    if (creds.username || creds.password || creds.identityToken || creds.registryToken) return creds;
  }
  return undefined;
}
