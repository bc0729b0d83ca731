/** OCI distribution client (the only module talking to registries over HTTP). */
export { RegistryClient, DEFAULT_USER_AGENT, computeDigest, referrersTag, nextLink } from './client.js';
export type { RegistryClientOptions, GetBlobOptions } from './client.js';
export { RegistryError, isRegistryError, isOverLimit, parseErrorBody, redactUrl } from './errors.js';
export type { RegistryErrorEntry } from './errors.js';
export { parseManifest, detectManifestMediaType, nonImageArtifactType, isSchema1, bareMediaType } from './manifest.js';
export type { ParsedManifest } from './manifest.js';
export { readDockerConfigCredentials } from './auth/docker-config.js';
export type { Credentials } from './auth/docker-config.js';
export { parseChallenges, parseScope, mergeScopes } from './auth/challenge.js';
