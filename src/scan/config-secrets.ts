/**
 * Secrets anywhere in an image config, image manifest or index, found and cut out in one step.
 *
 * Every string of the parsed document is searched (secret-spans.ts): values and object keys, at any
 * depth, so history `created_by` and `comment`, `author`, Labels, Env, Cmd, Entrypoint, Shell,
 * Healthcheck.Test, OnBuild, WorkingDir, Volumes and ExposedPorts keys, Docker's `container_config`,
 * the annotations of manifests, indexes and descriptors, and fields no spec names. A string under a
 * key that means a secret (`Labels.api_token`, `annotations["com.example.password"]`) is a secret as a
 * whole; an Env entry `NAME=VALUE` is one as a whole when NAME means one. The strings of an array of
 * strings (Cmd, Entrypoint) are also searched joined by spaces, so `["--password", "x"]` is found.
 *
 * {@link redactDocument} is the only way the scan engine lets a config or manifest out: it returns
 * the findings and a copy in which every secret value is replaced by its kept prefix and
 * `…[REDACTED]`. The raw document never leaves the engine, so no report, stored scan, policy
 * message or log line built later can hold the value.
 */
import { PushgateError, type SecretFinding } from '../core/index.js';
import { findSecretSpans, redactSpans, type SecretSpan } from './secret-spans.js';

/** Which document: it prefixes the finding paths (`config:history[3].created_by`, `manifest:annotations.x`). */
export type DocumentKind = 'config' | 'manifest' | 'index';

/** A document with its secret values redacted, and the secrets found in it. */
export interface RedactedDocument<T> {
  doc: T;
  secrets: SecretFinding[];
}

/**
 * Nesting depth beyond which a document is refused. An image config has no deep structure; a
 * document nested thousands of levels deep would only serve to exhaust the stack of a reader.
 */
export const MAX_DOCUMENT_DEPTH = 256;

const PLAIN_KEY = /^[A-Za-z0-9_][\w./-]*$/;

function keySegment(key: string): string {
  return PLAIN_KEY.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** The 1-based line of offset `at` in `text`, for texts of several lines (undefined otherwise). */
function lineOf(text: string, at: number, starts: Map<string, number[]>): number | undefined {
  if (!text.includes('\n')) return undefined;
  let ls = starts.get(text);
  if (!ls) {
    ls = [0];
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) ls.push(i + 1);
    starts.set(text, ls);
  }
  let lo = 0;
  let hi = ls.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ls[mid] <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Findings listed per document; past it, secrets are still redacted and one more finding says how many
 * were not listed (a hostile config could otherwise turn 8 MiB into a report many times larger).
 */
export const MAX_LISTED_SECRETS = 1000;

function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  // `__proto__` is an ordinary key in JSON: keep it one.
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

class Walker {
  readonly secrets: SecretFinding[] = [];
  /** Secrets found past {@link MAX_LISTED_SECRETS}. */
  unlisted = 0;
  private readonly lineStarts = new Map<string, number[]>();
  constructor(private readonly kind: DocumentKind) {}

  path(segs: string[]): string {
    let s = segs;
    // The container config (`config.Labels`) is what people mean by "the config's Labels".
    if (this.kind === 'config' && s.length > 1 && s[0].toLowerCase() === '.config') s = s.slice(1);
    return `${this.kind}:${s.join('').replace(/^\./, '')}`;
  }

  private push(sp: SecretSpan, shown: string, segs: string[], text: string, at: number): void {
    if (this.secrets.length >= MAX_LISTED_SECRETS) {
      this.unlisted++;
      return;
    }
    const f: SecretFinding = { rule: sp.rule, severity: sp.severity, path: this.path(segs), redacted: shown };
    const line = lineOf(text, at, this.lineStarts);
    if (line) f.line = line;
    this.secrets.push(f);
  }

  report(spans: SecretSpan[], shown: string[], text: string, segs: string[]): void {
    spans.forEach((sp, i) => this.push(sp, shown[i], segs, text, sp.start));
  }

  str(v: string, segs: string[], name?: string, valueStart = 0): string {
    const spans = findSecretSpans(v, name === undefined ? undefined : { name, valueStart });
    if (!spans.length) return v;
    const r = redactSpans(v, spans);
    this.report(spans, r.shown, v, segs);
    return r.text;
  }

  /**
   * An argv-like array whose strings were already redacted one by one: searched joined by spaces for
   * what only the joined line shows (`--password`, `x`), each span cut out of the strings it covers.
   */
  argv(a: string[], segs: string[]): string[] {
    const text = a.join(' ');
    const spans = findSecretSpans(text);
    if (!spans.length) return a;
    const shown = redactSpans(text, spans).shown;
    const offs: number[] = [];
    let o = 0;
    for (const s of a) { offs.push(o); o += s.length + 1; }
    const per = new Map<number, SecretSpan[]>();
    spans.forEach((sp, i) => {
      // The string holding the span's start (offsets are sorted), then those it runs into.
      let lo = 0;
      let hi = offs.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (offs[mid] <= sp.start) lo = mid + 1;
        else hi = mid;
      }
      const first = Math.max(lo - 1, 0);
      for (let j = first; j < a.length && offs[j] < sp.end; j++) {
        const from = Math.max(sp.start, offs[j]);
        const to = Math.min(sp.end, offs[j] + a[j].length);
        if (from >= to) continue;
        const list = per.get(j) ?? [];
        list.push({ ...sp, start: from - offs[j], end: to - offs[j], keep: from === sp.start ? sp.keep : 0, contextStart: Math.max(sp.contextStart, offs[j]) - offs[j] });
        per.set(j, list);
      }
      this.push(sp, shown[i], [...segs, `[${first}]`], a[first], sp.start - offs[first]);
    });
    return a.map((s, j) => (per.has(j) ? redactSpans(s, per.get(j)!).text : s));
  }

  value(v: unknown, segs: string[], depth: number, name?: string): unknown {
    if (depth > MAX_DOCUMENT_DEPTH) {
      throw new PushgateError('UNSUPPORTED', `${this.kind} nests deeper than ${MAX_DOCUMENT_DEPTH} levels at ${this.path(segs)}; no image needs that: rebuild it`);
    }
    if (typeof v === 'string') return this.str(v, segs, name);
    if (Array.isArray(v)) {
      const allStrings = v.length > 0 && v.every((x) => typeof x === 'string');
      if (allStrings && name?.toLowerCase() === 'env') {
        // `NAME=VALUE` entries: the value runs to the end of the entry, spaces included.
        return (v as string[]).map((e, i) => {
          const eq = e.indexOf('=');
          return this.str(e, [...segs, `[${i}]`], eq > 0 ? e.slice(0, eq) : undefined, eq + 1);
        });
      }
      // Each string alone (a label-like value may be found only there), then the array as a command line.
      const each = v.map((x, i) => this.value(x, [...segs, `[${i}]`], depth + 1));
      return allStrings && v.length > 1 ? this.argv(each as string[], segs) : each;
    }
    if (typeof v === 'object' && v !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        let key = k;
        const ks = findSecretSpans(k);
        if (ks.length) {
          // A key holding a secret is redacted like a value; the finding's path names the redacted key.
          const r = redactSpans(k, ks);
          key = r.text;
          for (let n = 2; Object.prototype.hasOwnProperty.call(out, key); n++) key = `${r.text}#${n}`;
          this.report(ks, r.shown, k, [...segs, keySegment(key)]);
        }
        setOwn(out, key, this.value(x, [...segs, keySegment(key)], depth + 1, k));
      }
      return out;
    }
    return v;
  }
}

/**
 * Finds the secrets in a parsed JSON document (image config, manifest or index) and returns them
 * with a copy of the document whose secret values are redacted (`AKIA…[REDACTED]`,
 * `NPM_TOKEN=…[REDACTED]`). Keys holding a secret are redacted too (the finding's path names the
 * redacted key). Finding paths: `config:history[3].created_by`, `config:Labels.api_token`,
 * `config:Cmd[2]`, `config:Env[0]`, `manifest:annotations["org.example.token"]`,
 * `index:manifests[1].annotations.x`; `line` only for strings of several lines.
 * @throws PushgateError UNSUPPORTED when the document nests deeper than {@link MAX_DOCUMENT_DEPTH}.
 */
export function redactDocument<T>(doc: T, kind: DocumentKind): RedactedDocument<T> {
  const w = new Walker(kind);
  const out = w.value(doc, [], 0) as T;
  if (w.unlisted) {
    w.secrets.push({ rule: 'more-secrets', severity: 'critical', path: `${kind}:`, redacted: `${w.unlisted} more secrets in this ${kind}, not listed (all redacted)` });
  }
  return { doc: out, secrets: w.secrets };
}
