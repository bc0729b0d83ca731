/**
 * The result of parsing one notification body: the events pushgate acts on, and what it ignored
 * and why (counted in `pushgate_events_dropped_total{source,reason}` and audited).
 */
import type { PushEvent } from '../core/events.js';
import type { Descriptor } from '../core/manifest.js';

/** Harbor's scan summary of one artifact (`NativeReportSummary`, protocols.md §2.4), as recorded. */
export interface HarborScanSummary {
  /** Report MIME type the summary was keyed by. */
  reportType: string;
  /** `Success`, `Error`, `Running`, … */
  status?: string;
  /** Harbor's overall severity word (`Critical`, `None`, …). */
  severity?: string;
  total?: number;
  fixable?: number;
  /** Counts per Harbor severity word. */
  bySeverity?: Record<string, number>;
  scanner?: { name?: string; vendor?: string; version?: string };
  /** Harbor `event_data.scan.scan_type` (`vulnerability` | `sbom`). */
  scanType?: string;
}

/** One ignored event. */
export interface IgnoredEvent {
  /**
   * `blob` (blob push/delete), `pull`, `mount`, `own-traffic` (pushgate's own requests),
   * `unsupported-action`, `no-digest` (e.g. a tag delete), `no-repository`, `malformed`,
   * `scan-event` (Harbor scan results, recorded), `bad-digest`, `unsupported-digest` (a sha512
   * manifest digest: src/core/digest.ts says why it is not judged).
   */
  reason: 'blob' | 'pull' | 'mount' | 'own-traffic' | 'unsupported-action' | 'no-digest' | string;
  action?: string;
  repository?: string;
  digest?: string;
  tag?: string;
  /** Sender event id when there is one. */
  id?: string;
  /** For `scan-event`: the parsed Harbor scan summaries. */
  scan?: HarborScanSummary[];
}

/** Parsed notification. */
export interface ParsedNotification {
  events: PushEvent[];
  ignored: IgnoredEvent[];
  /**
   * Manifest references the sender included (Distribution `target.references` with
   * `events.includereferences: true`), keyed by event id: an index's children with platforms, or a
   * manifest's config and layers. Informational: pushgate still reads the index from the registry.
   */
  references?: Record<string, Descriptor[]>;
  /**
   * The registry instances that sent the envelope's events (Distribution `source.instanceID`: a UUID each
   * registry process makes when it starts), distinct, in order of appearance; absent when none was named.
   * A new instance of a registry means the old one stopped, and with it its in-memory delivery queue.
   */
  instances?: string[];
}

export type { PushEvent };
