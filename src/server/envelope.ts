/**
 * Reads a notification body with a bounded buffer. Registries deliver notifications from a queue
 * that waits for a 2xx (Distribution 2.8 `notifications/sinks.go` retries one envelope forever and
 * every later event waits behind it), so a body pushgate cannot take must still be answered: up
 * to `limit` bytes are kept for parsing; past it the rest is read and dropped while the text is
 * scanned for the repository names it carries, so the caller can record what was lost and
 * reconcile just those repositories.
 */
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import zlib from 'node:zlib';

/** What {@link readEnvelope} read. */
export type EnvelopeBody =
  | { kind: 'body'; bytes: Buffer }
  | {
      kind: 'oversized';
      /** Bytes received (after decompression). */
      size: number;
      /** Repository names seen in the body (`"repository"`, Harbor `"repo_full_name"`), at most `maxNames`. */
      repositories: string[];
      /** True when more names were seen than kept (then reconcile the whole registry). */
      moreNames: boolean;
    };

/** `"repository": "team/app"` (Distribution target, Harbor resource) or `"repo_full_name": "team/app"` (Harbor). */
const NAME = /"(?:repository|repo_full_name)"\s*:\s*"((?:[^"\\\r\n]|\\.){1,300})"/g;
/** Text kept between chunks so a name split across two chunks is still seen. */
const CARRY = 512;

/**
 * Repository names in a notification's text (unvalidated; JSON string escapes decoded).
 * @param text any part of a Distribution envelope or Harbor payload.
 */
export function repositoryNamesIn(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(NAME)) {
    try {
      out.push(JSON.parse(`"${m[1]}"`) as string);
    } catch {
      // a broken escape: not a name
    }
  }
  return out;
}

/**
 * Whether `text` is whole as far as its brackets tell: from its first to its last non-whitespace
 * character one JSON object or array, its `{`/`[` and `}`/`]` (outside strings, as RFC 8259 §2 and §7
 * delimit them) balanced, none closed that was not open, and no string left open. A body that is not
 * JSON and fails this may have been cut (a sender or relay that ended the body early while its framing
 * said it was complete): the events past the cut, and the repositories they named, are unknown, so only
 * a body that passes may be reconciled by the names found in it.
 * @param text the decoded body.
 */
export function closesWhole(text: string): boolean {
  const s = text.trim();
  if (s[0] !== '{' && s[0] !== '[') return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      // Closed below the top level, or the top level closed before the end: not one whole value.
      if (depth < 0 || (depth === 0 && i !== s.length - 1)) return false;
    }
  }
  return depth === 0 && !inString;
}

/**
 * Reads `req` (decompressing `gzip`/`deflate` as the header says).
 * @param limit bytes kept for parsing; a larger body is read to its end but not kept.
 * @param maxNames repository names kept from an oversized body.
 * @throws Error when the stream fails (client gone, broken compression).
 */
export async function readEnvelope(req: Readable & { headers: Record<string, string | string[] | undefined> }, limit: number, maxNames = 1000): Promise<EnvelopeBody> {
  const enc = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  let stream: Readable = req;
  if (enc === 'gzip' || enc === 'x-gzip') stream = req.pipe(zlib.createGunzip());
  else if (enc === 'deflate') stream = req.pipe(zlib.createInflate());
  if (stream !== req) req.on('error', (e) => stream.destroy(e));
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  const names = new Set<string>();
  let more = false;
  const decoder = new StringDecoder('utf8');
  let carry = '';
  const scan = (text: string) => {
    const all = carry + text;
    for (const n of repositoryNamesIn(all)) {
      if (names.size < maxNames) names.add(n);
      else if (!names.has(n)) more = true;
    }
    carry = all.slice(-CARRY);
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (!over && size <= limit) {
      chunks.push(chunk);
      continue;
    }
    if (!over) {
      over = true;
      for (const c of chunks) scan(decoder.write(c));
      chunks.length = 0;
    }
    scan(decoder.write(chunk));
  }
  if (!over) return { kind: 'body', bytes: Buffer.concat(chunks, size) };
  scan(decoder.end());
  return { kind: 'oversized', size, repositories: [...names], moreNames: more };
}
