/**
 * Harbor webhook payloads (protocols.md §2.3–2.5; goharbor/harbor `src/pkg/notifier/model/event.go`,
 * `src/pkg/notifier/formats/{default,cloudevents}.go`). Harbor cannot run here: the tests use payloads
 * written from those sources (test/fixtures/webhooks/README.md says so).
 *
 * - Default format (`application/json`): `{type, occur_at, operator, event_data:{resources, repository}}`.
 * - CloudEvents structured mode (`application/cloudevents+json`, Harbor ≥ 2.8): `{specversion, id,
 *   type: "harbor.artifact.pushed"…, time, data: <event_data>, operator}`.
 * PUSH_ARTIFACT → `push` (for a push by digest Harbor puts the digest in `tag`: no tag then; a `tag`
 * outside the tag grammar `[\w][\w.-]{0,127}` is no tag either, and the push is judged by its digest);
 * DELETE_ARTIFACT → `delete`; SCANNING_COMPLETED/FAILED/STOPPED → ignored `scan-event` with the parsed
 * summaries; PULL_ARTIFACT → ignored `pull`; anything else → `unsupported-action`.
 */
import crypto from 'node:crypto';
import { PushgateError } from '../core/errors.js';
import { isContentDigest, isDigest } from '../core/digest.js';
import { TAG_RE } from '../core/names.js';
import type { PushEvent } from '../core/events.js';
import type { HarborScanSummary, ParsedNotification } from './types.js';

/** CloudEvents `type` → Harbor event type (formats/cloudevents.go). */
export const HARBOR_CLOUDEVENT_TYPES: Record<string, string> = {
  'harbor.artifact.pushed': 'PUSH_ARTIFACT',
  'harbor.artifact.pulled': 'PULL_ARTIFACT',
  'harbor.artifact.deleted': 'DELETE_ARTIFACT',
  'harbor.scan.completed': 'SCANNING_COMPLETED',
  'harbor.scan.failed': 'SCANNING_FAILED',
  'harbor.scan.stopped': 'SCANNING_STOPPED',
  'harbor.quota.exceeded': 'QUOTA_EXCEED',
  'harbor.quota.warned': 'QUOTA_WARNING',
  'harbor.replication.status.changed': 'REPLICATION',
  'harbor.tag_retention.finished': 'TAG_RETENTION',
};

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

function parseScanOverview(overview: unknown, scanType: string | undefined): HarborScanSummary[] {
  return Object.entries(obj(overview)).map(([reportType, v]) => {
    const s = obj(v);
    const summary = obj(s.summary);
    const counts = obj(summary.summary);
    const scanner = obj(s.scanner);
    const r: HarborScanSummary = { reportType };
    if (str(s.scan_status)) r.status = str(s.scan_status);
    if (str(s.severity)) r.severity = str(s.severity);
    if (typeof summary.total === 'number') r.total = summary.total;
    if (typeof summary.fixable === 'number') r.fixable = summary.fixable;
    const by = Object.fromEntries(Object.entries(counts).filter(([, n]) => typeof n === 'number')) as Record<string, number>;
    if (Object.keys(by).length) r.bySeverity = by;
    if (Object.keys(scanner).length) r.scanner = { name: str(scanner.name), vendor: str(scanner.vendor), version: str(scanner.version) };
    if (scanType) r.scanType = scanType;
    return r;
  });
}

/** `harbor.example.test/team/app:1.4.2` or `…@sha256:…` → `team/app` (the host part is dropped). */
function repoFromResourceUrl(u: string | undefined): string | undefined {
  if (!u) return undefined;
  const noScheme = u.replace(/^[a-z]+:\/\//i, '');
  const slash = noScheme.indexOf('/');
  if (slash < 0) return undefined;
  const path = noScheme.slice(slash + 1);
  const at = path.indexOf('@');
  const beforeAt = at >= 0 ? path.slice(0, at) : path;
  const colon = beforeAt.lastIndexOf(':');
  return colon > beforeAt.lastIndexOf('/') ? beforeAt.slice(0, colon) : beforeAt;
}

/**
 * Parses a Harbor webhook body (Default or CloudEvents).
 * @param contentType the request Content-Type; `application/cloudevents+json` (or a `specversion`
 *   field) selects CloudEvents.
 * @param registry the configured name of the sender.
 * @throws PushgateError BAD_ARGUMENT when the body is not an object with a Harbor event `type` (→ HTTP 400).
 */
export function parseHarborPayload(body: unknown, contentType: string | undefined, registry: string): ParsedNotification {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new PushgateError('BAD_ARGUMENT', 'Harbor webhook body must be a JSON object (Default or CloudEvents payload)');
  }
  const b = body as Record<string, unknown>;
  const cloud = /cloudevents/i.test(contentType ?? '') || typeof b.specversion === 'string';
  let type: string | undefined;
  let data: Record<string, unknown>;
  let timestamp: string | undefined;
  if (cloud) {
    const ce = str(b.type);
    type = ce ? (HARBOR_CLOUDEVENT_TYPES[ce] ?? ce) : undefined;
    data = obj(b.data);
    const t = str(b.time);
    // normalized like occur_at, so a CloudEvents and a Default delivery of one event share an id
    timestamp = t && Number.isFinite(Date.parse(t)) ? new Date(Date.parse(t)).toISOString() : t;
  } else {
    type = str(b.type);
    data = obj(b.event_data);
    if (typeof b.occur_at === 'number' && Number.isFinite(b.occur_at)) timestamp = new Date(b.occur_at * 1000).toISOString();
  }
  if (!type) {
    throw new PushgateError('BAD_ARGUMENT', `Harbor webhook body has no event "type"${cloud ? ' (CloudEvents)' : ''}: is this a Harbor webhook?`);
  }
  const operator = str(b.operator);
  const delivery = crypto.randomUUID();
  const repoObj = obj(data.repository);
  const resources = Array.isArray(data.resources) ? data.resources.map(obj) : [];
  const out: ParsedNotification = { events: [], ignored: [] };
  const scanType = str(obj(data.scan).scan_type);

  for (const r of resources.length ? resources : [{}]) {
    const digest = str(r.digest);
    const rawTag = str(r.tag);
    // Only a tag the registry can store names one: Harbor's payload carries the reference the client
    // pushed (the digest for a push by digest), and a reference Distribution took for a tag but
    // could not store (`foo:bar`, an over-long one) left the manifest untagged, pullable by digest.
    const tag = rawTag && !isDigest(rawTag) && TAG_RE.test(rawTag) ? rawTag : undefined;
    const repository =
      str(repoObj.repo_full_name) ??
      (str(repoObj.namespace) && str(repoObj.name) ? `${str(repoObj.namespace)}/${str(repoObj.name)}` : undefined) ??
      repoFromResourceUrl(str(r.resource_url));
    const base = { action: type, repository, digest, tag };
    if (type === 'SCANNING_COMPLETED' || type === 'SCANNING_FAILED' || type === 'SCANNING_STOPPED') {
      out.ignored.push({ ...base, reason: 'scan-event', scan: parseScanOverview(r.scan_overview, scanType) });
      continue;
    }
    if (type === 'PULL_ARTIFACT') {
      out.ignored.push({ ...base, reason: 'pull' });
      continue;
    }
    if (type !== 'PUSH_ARTIFACT' && type !== 'DELETE_ARTIFACT') {
      out.ignored.push({ ...base, reason: 'unsupported-action' });
      continue;
    }
    if (!repository) {
      out.ignored.push({ ...base, reason: 'no-repository' });
      continue;
    }
    const d = digest ?? (rawTag && isContentDigest(rawTag) ? rawTag : undefined);
    if (!d) {
      out.ignored.push({ ...base, reason: 'no-digest' });
      continue;
    }
    if (!isDigest(d)) {
      // A sha512 manifest digest names nothing pushgate can judge (src/core/digest.ts): said apart.
      out.ignored.push({ ...base, reason: d.startsWith('sha512:') ? 'unsupported-digest' : 'bad-digest' });
      continue;
    }
    const action = type === 'PUSH_ARTIFACT' ? 'push' : 'delete';
    // Harbor's payloads have no event id (the CloudEvents `id` is made anew for every delivery) and
    // a time in whole seconds: a push of the same artifact to the same reference within one second is
    // the same bytes as a redelivery of the first. So every delivery is an event of its own (`delivery`
    // differs): a redelivery is judged again (the stored verdict is reused; an artifact already removed
    // is "gone"), where de-duplicating dropped the re-push of a blocked artifact right after its removal.
    const id = `harbor:${crypto.createHash('sha256').update([registry, type, repository, d, tag ?? '', timestamp ?? '', delivery].join('|')).digest('hex').slice(0, 32)}`;
    const ev: PushEvent = { id, source: 'harbor', registry, action, repository, digest: d };
    if (tag) ev.tag = tag;
    if (operator) ev.actor = operator;
    if (timestamp) ev.timestamp = timestamp;
    const url = str(r.resource_url);
    if (url) ev.targetUrl = url;
    out.events.push(ev);
  }
  return out;
}
