/**
 * Which repositories of a registry are its quarantine repositories: `<repositoryPrefix>…`, and on
 * Harbor also `<project>/…` (the quarantine project, default the prefix without its `/`), where
 * pushgate copies blocked images (src/enforce/index.ts quarantineRepositoryOf writes exactly these).
 */
import type { RegistryConfig } from './types.js';

/** The Harbor project quarantined artifacts are copied into (`quarantine.project`, else the prefix without its `/`). */
export function harborQuarantineProject(rc: Pick<RegistryConfig, 'quarantine'>): string {
  return rc.quarantine.project ?? rc.quarantine.repositoryPrefix.replace(/\/+$/, '');
}

/** True when `repository` of the registry `rc` is one of its quarantine repositories (see the module comment). */
export function isQuarantineRepositoryOf(rc: Pick<RegistryConfig, 'type' | 'quarantine'>, repository: string): boolean {
  const prefix = rc.quarantine.repositoryPrefix;
  if (prefix && repository.startsWith(prefix)) return true;
  return rc.type === 'harbor' && repository.startsWith(`${harborQuarantineProject(rc)}/`);
}
