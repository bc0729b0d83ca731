/**
 * PushEvent: the one internal type every sender format (Distribution v1/v2 envelopes,
 * Harbor default/CloudEvents) is parsed into at the edge (src/webhooks).
 */
import type { Digest } from './digest.js';

/** A registry event that pushgate may act on. */
export interface PushEvent {
  /** Sender's event id (Distribution event id, Harbor request id) for de-duplication. */
  id: string;
  source: 'distribution' | 'harbor' | 'api' | 'reconcile' | 'proxy';
  /** The configured registry name (`registries[].name`) the sender authenticated as. */
  registry: string;
  action: 'push' | 'delete';
  repository: string;
  /** Manifest digest. */
  digest: Digest;
  /** Tag, when the manifest was pushed by tag. */
  tag?: string;
  mediaType?: string;
  size?: number;
  /** Who pushed (`actor.name`, Harbor operator), for audit. */
  actor?: string;
  /**
   * The URL the sender says the manifest lives at (Distribution `target.url`, Harbor `resource_url`).
   * Never fetched: used only to drop events that name a registry pushgate does not guard.
   */
  targetUrl?: string;
  /** Sender's timestamp (RFC 3339). */
  timestamp?: string;
}
