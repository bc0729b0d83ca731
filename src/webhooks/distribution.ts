/**
 * CNCF Distribution notification envelopes (protocols.md §1.3–1.6; distribution
 * `notifications/event.go`): v1 (`application/vnd.docker.distribution.events.v1+json`, ≤ 2.8) and
 * v2 (`…events.v2+json`, 3.x, where `mediaType`/`digest`/`size` are always present and may be
 * `""`/0, which mean "absent"). Checked against every envelope captured from Distribution 2.8.2 in
 * test/fixtures/webhooks/distribution-2.8-captured.
 *
 * What becomes a {@link PushEvent}:
 * - `push` of a manifest (by tag or by digest; any media type other than `application/octet-stream`) → `push`;
 * - `delete` with a digest → `delete`. Distribution 2.8 gives manifest and blob deletes the same shape
 *   (`{digest, repository}`), so a blob delete also comes out as a `delete` event; the gate finds no
 *   verdict for a blob digest and does nothing. A tag delete (`{repository, tag}`, no digest) is ignored
 *   with reason `no-digest`.
 * Everything else is ignored with a reason: blob pushes (`blob`), pulls (`pull`: including those the
 * registry emits for pushgate's own HEAD/GET and for blob HEADs during a push), mounts (`mount`),
 * unknown actions.
 * - A `push` whose `tag` is no tag (a `:` in it, over 128 characters) is a push BY DIGEST: Distribution
 *   2.8 routes any reference matching go-digest's DigestRegexp (`foo:bar`, `sha256:<upper-case hex>`)
 *   and, when `digest.Parse` refuses it, takes it for a tag; it stores the manifest (pullable by
 *   digest), notifies the push with that tag, and only then fails to write the tag link (500 to the
 *   client: the storage driver's path grammar has no `:`). The tag is dropped, the digest judged.
 *   (registry/handlers/app.go, manifests.go PutManifest; registry/storage/driver/storagedriver.go PathRegexp.)
 * - Every event's `source.instanceID` (any action, ignored or not) is collected into `instances`: the
 *   registry process that sent it (notifications/bridge.go `SourceRecord`; a UUID made at start); at most
 *   {@link MAX_INSTANCES_PER_ENVELOPE} distinct ones, the first.
 * Nothing here reads `request.useragent`, `request.host` or
 * `target.url`: they are what the pushing client claims. Whether a push is pushgate's own is decided
 * by the gate (src/gate/own-traffic.ts) from what pushgate wrote and the registry's `actor.name`.
 */
import { PushgateError } from '../core/errors.js';
import { isDigest } from '../core/digest.js';
import { TAG_RE } from '../core/names.js';
import type { PushEvent } from '../core/events.js';
import type { Descriptor } from '../core/manifest.js';
import type { IgnoredEvent, ParsedNotification } from './types.js';

/** Media type Distribution gives blob events. */
const BLOB_MEDIA_TYPE = 'application/octet-stream';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
/** What an instance ID may look like (Distribution: a UUID; kept short and printable whatever a sender writes). */
const INSTANCE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/**
 * Distinct instances taken from one envelope. Distribution sends each envelope from one process (one
 * instance); every new instance costs a store read, an audit row and a registry reconcile
 * (src/server/registry-instances.ts), so an envelope naming thousands must not cost thousands. An
 * instance left out is learnt from its next envelope.
 */
export const MAX_INSTANCES_PER_ENVELOPE = 4;

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/**
 * Parses a Distribution envelope `{ events: [...] }`.
 * @param registry the configured name of the sender (from {@link authenticateSender}): every event
 *   of the envelope is that registry's, whatever host its `target.url` names (Distribution builds
 *   that URL from the client's `Host`/`X-Forwarded-Host`, or leaves it relative).
 * @throws PushgateError BAD_ARGUMENT when `body` is not an object with an `events` array (→ HTTP 400).
 */
export function parseDistributionEnvelope(body: unknown, registry: string): ParsedNotification {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new PushgateError('BAD_ARGUMENT', 'notification body must be a JSON object {"events": [...]} (Distribution envelope)');
  }
  const events = (body as { events?: unknown }).events;
  if (!Array.isArray(events)) {
    throw new PushgateError('BAD_ARGUMENT', 'notification body has no "events" array: is the registry sending Distribution notifications to this URL?');
  }
  const out: ParsedNotification = { events: [], ignored: [] };
  const instances = new Set<string>();
  for (const raw of events) {
    const e = obj(raw);
    const instance = str(obj(e.source).instanceID);
    if (instance && instances.size < MAX_INSTANCES_PER_ENVELOPE && INSTANCE_ID.test(instance)) instances.add(instance);
    const action = str(e.action);
    const target = obj(e.target);
    const repository = str(target.repository);
    const digest = str(target.digest);
    const writtenTag = str(target.tag);
    const mediaType = str(target.mediaType);
    const id = str(e.id);
    const base: IgnoredEvent = { reason: '', action, repository, digest, tag: writtenTag, id };
    const ignore = (reason: string) => out.ignored.push({ ...base, reason });
    if (!raw || typeof raw !== 'object' || !action) {
      ignore('malformed');
      continue;
    }
    if (action === 'pull') {
      ignore('pull');
      continue;
    }
    if (action === 'mount') {
      ignore('mount');
      continue;
    }
    if (action !== 'push' && action !== 'delete') {
      ignore('unsupported-action');
      continue;
    }
    if (!repository) {
      ignore('no-repository');
      continue;
    }
    if (action === 'push') {
      const url = str(target.url) ?? '';
      if (mediaType === BLOB_MEDIA_TYPE || (!mediaType && url.includes('/blobs/'))) {
        ignore('blob');
        continue;
      }
    } else if (mediaType === BLOB_MEDIA_TYPE) {
      ignore('blob');
      continue;
    }
    if (!digest) {
      ignore('no-digest');
      continue;
    }
    if (!isDigest(digest)) {
      // A sha512 manifest digest names nothing pushgate can judge (src/core/digest.ts): said apart.
      ignore(digest.startsWith('sha512:') ? 'unsupported-digest' : 'bad-digest');
      continue;
    }
    // A reference the registry could not store as a tag left the manifest untagged: judged by digest.
    const tag = writtenTag !== undefined && TAG_RE.test(writtenTag) ? writtenTag : undefined;
    const size = typeof target.size === 'number' && target.size > 0 ? target.size : typeof target.length === 'number' && target.length > 0 ? target.length : undefined;
    const ev: PushEvent = {
      id: id ?? `distribution:${registry}:${repository}@${digest}:${action}:${str(e.timestamp) ?? ''}`,
      source: 'distribution',
      registry,
      action: action === 'push' ? 'push' : 'delete',
      repository,
      digest,
    };
    if (tag) ev.tag = tag;
    if (mediaType) ev.mediaType = mediaType;
    if (size !== undefined) ev.size = size;
    const actor = str(obj(e.actor).name);
    if (actor) ev.actor = actor;
    const targetUrl = str(target.url);
    if (targetUrl) ev.targetUrl = targetUrl;
    const ts = str(e.timestamp);
    if (ts) ev.timestamp = ts;
    out.events.push(ev);
    if (Array.isArray(target.references) && target.references.length) {
      const refs = target.references.filter((r): r is Descriptor => {
        const d = obj(r);
        return typeof d.digest === 'string' && isDigest(d.digest) && typeof d.mediaType === 'string';
      });
      (out.references ??= {})[ev.id] = refs;
    }
  }
  if (instances.size) out.instances = [...instances];
  return out;
}
