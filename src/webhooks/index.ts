/**
 * Notification senders → {@link PushEvent}: Distribution envelopes (v1/v2), Harbor Default and
 * CloudEvents payloads, and the sender's bearer-token authentication. No I/O.
 */
export { parseDistributionEnvelope } from './distribution.js';
export { parseHarborPayload, HARBOR_CLOUDEVENT_TYPES } from './harbor.js';
export { authenticateSender, identifySender } from './auth.js';
export type { ParsedNotification, IgnoredEvent, HarborScanSummary } from './types.js';
export type { PushEvent } from '../core/events.js';
