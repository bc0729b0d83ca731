/**
 * Enforcement: what a decision does to the registry. `enforce` mode acts; `warn` and `audit`
 * modes record only. Manifests pushed by digest without a tag (index children) are judged but not
 * acted on: nothing names them yet, and deleting a child before its index arrives would make the
 * index push fail with a confusing error; the index (or a tag) push that follows is enforced.
 */
import { isBlocking, isPushgateError, type Decision, type Digest, type Enforcement, type PolicyMode } from '../core/index.js';
import type { RegistryClient } from '../registry/client.js';
import { quarantine } from './actions/quarantine.js';
import { reject } from './actions/reject.js';

/** What to enforce. */
export interface EnforceRequest {
  client: RegistryClient;
  type: 'distribution' | 'harbor';
  repository: string;
  digest: Digest;
  tag?: string;
  decision: Decision;
  mode: PolicyMode;
  quarantinePrefix: string;
}

/**
 * Acts on a decision. Never throws: a failed action is returned with status `failed` and the
 * registry's error, so the verdict records it (the caller decides whether to retry).
 */
export async function enforce(req: EnforceRequest): Promise<Enforcement> {
  if (!isBlocking(req.decision)) return { action: 'none', status: 'skipped', detail: `decision ${req.decision}: nothing to do` };
  if (req.mode !== 'enforce') return { action: 'none', status: 'skipped', detail: `mode ${req.mode}: a ${req.decision} is recorded, not acted on` };
  if (!req.tag) return { action: 'none', status: 'skipped', detail: 'pushed by digest without a tag: judged, enforced when a tag or index names it' };
  if (req.type !== 'distribution') return { action: 'none', status: 'skipped', detail: `enforcement on ${req.type} registries is not available yet` };
  try {
    if (req.decision === 'quarantine') return await quarantine(req.client, req.repository, req.digest, req.tag, req.quarantinePrefix);
    return await reject(req.client, req.repository, req.digest);
  } catch (e) {
    if (isPushgateError(e, 'NOT_FOUND') && /DELETE|delete/.test((e as Error).message)) {
      // Deleted meanwhile (by a duplicate notification, or a person): the goal is reached.
      return { action: req.decision === 'quarantine' ? 'quarantine' : 'delete', status: 'done', detail: `already gone: ${(e as Error).message}` };
    }
    return { action: req.decision === 'quarantine' ? 'quarantine' : 'delete', status: 'failed', detail: (e as Error).message };
  }
}
