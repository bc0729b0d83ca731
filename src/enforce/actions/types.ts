/** Shapes shared by the enforcement actions. */
import type { Digest, Enforcement } from '../../core/index.js';

/**
 * A manifest pushgate itself wrote to a registry (a quarantine copy, a restored tag, a released
 * copy). The gate remembers them so their notifications are recognized as its own traffic.
 */
export interface OwnWrite {
  repository: string;
  digest: Digest;
  tag?: string;
}

/** What an action did: the verdict's enforcement plus the writes it made. */
export interface ActionResult extends Enforcement {
  writes: OwnWrite[];
  /** Set when a quarantined copy now exists: where (for the quarantine records and retention). */
  quarantined?: { repository: string; tag: string };
}
