/**
 * Outbound notifications of enforced quarantines and rejects (config `notify[]`), so the pusher
 * learns why a tag vanished: a generic JSON webhook (`format: json`) or a Slack-compatible
 * incoming-webhook body (`format: slack`, `{text, blocks}` per api.slack.com/messaging/webhooks;
 * Mattermost and Rocket.Chat accept the same). Sent in the background, retried on network errors,
 * 429 and 5xx with exponential backoff, given up after the last attempt with a log line. With an
 * outbox attached ({@link Notifier.useOutbox}: `serve`, `pushgate monitor`), the notice of an enforced
 * verdict is first written to the store's outbox (the monitor's `monitor_outbox`), before the event
 * that enforced is completed, and delivered from there: a process killed while a notice waits for
 * its next attempt leaves it to the next delivery (at least once), as the monitor's new-findings
 * notices are. Bodies are built from the verdict only (rule, message, finding
 * ids, enforcement), so no secret value can reach them; target URLs (a Slack webhook URL is itself
 * a credential) and headers are never logged: logs name the host only.
 */
import type { PushgateConfig } from '../config/types.js';
import type { Verdict } from '../core/index.js';
import type { Logger } from './gate.js';

/** One configured target. */
export type NotifyTarget = PushgateConfig['notify'][number];

/** Options of a {@link Notifier}. */
export interface NotifierOptions {
  targets: NotifyTarget[];
  /** `server.publicUrl`: report links are `<publicUrl>/api/v1/images/<digest>`. */
  publicUrl?: string;
  logger: Logger;
  /** Attempts per target (default 4). */
  attempts?: number;
  /** First backoff, ms (default 1000; doubles per attempt). */
  backoffMs?: number;
  /** Per-request timeout, ms (default 5000). */
  timeoutMs?: number;
}

/** The JSON body of `format: json`. */
export interface NotificationBody {
  event: 'quarantine' | 'reject';
  registry: string;
  repository: string;
  tags: string[];
  digest: string;
  decision: string;
  mode: string;
  reasons: Array<{ rule: string; action: string; message: string; findings: string[] }>;
  enforcement?: { action: string; status: string; detail: string };
  policy: { name: string; revision: string };
  /** Link to the full report, when `server.publicUrl` is set; else null. */
  reportUrl: string | null;
  at: string;
}

/**
 * The JSON body of a `new-findings` notice: one image in one repository, its new findings grouped per
 * advisory (each with the packages it hits), the decision before and after and what `onNewFindings` did.
 */
export interface NewFindingsBody {
  event: 'new-findings';
  registry: string;
  repository: string;
  tags: string[];
  digest: string;
  advisories: Array<{ id: string; aliases: string[]; severity: string; packages: Array<{ name: string; installedVersion: string; fixedVersions: string[]; path: string }> }>;
  decision: { before: string; after: string };
  onNewFindings: { action: string; effect: string; enforceAfter?: string };
  vulndb: { before: string | null; after: string | null };
  reportUrl: string | null;
  at: string;
}

/** The Slack-compatible body of a `new-findings` notice. */
export function newFindingsSlack(n: NewFindingsBody): { text: string; blocks: unknown[] } {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const ref = `${n.repository}${n.tags.length ? `:${n.tags.join(', :')}` : `@${n.digest}`}`;
  const text = `pushgate: ${n.advisories.length} new advisor${n.advisories.length === 1 ? 'y' : 'ies'} in ${ref} (${n.registry}): ${n.advisories.map((a) => a.id).slice(0, 10).join(', ')}`;
  const lines = n.advisories.slice(0, 20).map((a) => `• *${esc(a.id)}* (${a.severity}): ${a.packages.map((p) => `${esc(p.name)} ${esc(p.installedVersion)}${p.fixedVersions.length ? ` → ${esc(p.fixedVersions.join(', '))}` : ''}`).join('; ')}`);
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*New findings* in \`${esc(ref)}\` (${esc(n.registry)}): ${n.decision.before} → ${n.decision.after}, ${esc(n.onNewFindings.effect)}` } },
    { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n').slice(0, 2900) || 'none' } },
  ];
  if (n.reportUrl) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `<${n.reportUrl}|Full report>` } });
  return { text: n.reportUrl ? `${text} — ${n.reportUrl}` : text, blocks };
}

/** The event a verdict is (quarantine or reject), or undefined when it does not notify. */
export function eventOf(v: Verdict): 'quarantine' | 'reject' | undefined {
  return v.decision === 'quarantine' || v.decision === 'reject' ? v.decision : undefined;
}

/** Builds the `json` body. */
export function jsonBody(v: Verdict, publicUrl: string | undefined): NotificationBody {
  return {
    event: eventOf(v) ?? 'reject',
    registry: v.registry,
    repository: v.repository,
    tags: v.tags,
    digest: v.digest,
    decision: v.decision,
    mode: v.mode,
    reasons: v.reasons.map((r) => ({ rule: r.rule, action: r.action, message: r.message, findings: r.findings ?? [] })),
    ...(v.enforcement ? { enforcement: { action: v.enforcement.action, status: v.enforcement.status, detail: v.enforcement.detail } } : {}),
    policy: v.policy,
    reportUrl: publicUrl ? `${publicUrl.replace(/\/+$/, '')}/api/v1/images/${v.digest}` : null,
    at: new Date().toISOString(),
  };
}

/** Builds the Slack-compatible body (`text` for notifications and old clients, `blocks` for layout). */
export function slackBody(v: Verdict, publicUrl: string | undefined): { text: string; blocks: unknown[] } {
  const b = jsonBody(v, publicUrl);
  const ref = `${b.repository}${b.tags.length ? `:${b.tags.join(', :')}` : `@${b.digest}`}`;
  const verb = b.event === 'quarantine' ? 'quarantined' : 'rejected';
  const text = `pushgate ${verb} ${ref} (${b.registry}): ${b.reasons.filter((r) => r.action === b.decision).map((r) => r.rule).join(', ') || b.decision}`;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const lines = b.reasons.slice(0, 10).map((r) => `• *${esc(r.rule)}* (${r.action}): ${esc(r.message).slice(0, 500)}`);
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*pushgate ${verb}* \`${esc(ref)}\` in ${esc(b.registry)}\n\`${b.digest}\`` } },
    { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n').slice(0, 2900) || 'no reasons recorded' } },
  ];
  if (b.enforcement) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: esc(b.enforcement.detail).slice(0, 2000) }] });
  if (b.reportUrl) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `<${b.reportUrl}|Full report>` } });
  return { text: b.reportUrl ? `${text} — ${b.reportUrl}` : text, blocks };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '<bad url>';
  }
}

/**
 * The outbox row of a blocked verdict's notice: the verdict as the gate saw it, without its raw
 * evaluations (the bodies are built from decision, reasons and enforcement only).
 */
export interface BlockedNotice {
  event: 'blocked';
  verdict: Verdict;
}

/** Where a {@link Notifier} writes notices before they are delivered, and how delivery is started. */
export interface NoticeOutbox {
  /** Writes notices durably (the store's outbox). @throws PushgateError STORE */
  add(bodies: unknown[]): Promise<void>;
  /** Starts (or has the delivery in flight look again for) the outbox's undelivered notices. */
  kick(): void;
}

/** See the module comment. */
export class Notifier {
  private readonly inflight = new Set<Promise<void>>();
  private outbox: NoticeOutbox | undefined;

  constructor(private readonly opts: NotifierOptions) {}

  /**
   * From now on {@link Notifier.blocked} writes its notices to `outbox` and delivery goes through it
   * ({@link Notifier.deliverNotice}), so they outlive the process.
   */
  useOutbox(outbox: NoticeOutbox): void {
    this.outbox = outbox;
  }

  /**
   * The notifications of a blocked verdict. With an outbox: resolves once the notice is written there
   * (throws when the store cannot write it: the caller's event is then tried again, so the notice is
   * not lost) and delivery is started in the background. Without: sent in the background (never throws).
   */
  async blocked(v: Verdict): Promise<void> {
    const ev = eventOf(v);
    if (!ev || !this.opts.targets.some((t) => t.events.includes(ev))) return;
    if (this.outbox) {
      const { evaluations: _raw, ...verdict } = v;
      const notice: BlockedNotice = { event: 'blocked', verdict: verdict as Verdict };
      await this.outbox.add([notice]);
      this.outbox.kick();
      return;
    }
    void this.blockedNow(v);
  }

  /** Sends a blocked verdict's notifications to every target that wants its event; resolves when each was delivered or given up. */
  private blockedNow(v: Verdict): Promise<void> {
    const ev = eventOf(v);
    const all: Array<Promise<void>> = [];
    if (!ev) return Promise.resolve();
    for (const t of this.opts.targets) {
      if (!t.events.includes(ev)) continue;
      const p = this.deliver(t, v).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
      all.push(p);
    }
    return Promise.all(all).then(() => undefined);
  }

  /**
   * Delivers one outbox notice (a {@link BlockedNotice} or a {@link NewFindingsBody}); resolves (never
   * rejects) once every target got it or its attempts were used up, when the outbox removes it.
   */
  deliverNotice(body: unknown): Promise<void> {
    if ((body as Partial<BlockedNotice> | null)?.event === 'blocked') return this.blockedNow((body as BlockedNotice).verdict);
    return this.newFindings(body as NewFindingsBody);
  }

  /**
   * Sends a notice of new findings in an already judged image (src/monitor) to every target whose
   * `events` hold `new-findings`, in the background (never throws). The body names only the new
   * findings: advisory ids, package, installed and fixed versions, severity. The promise resolves
   * (never rejects) once every target got it or its attempts were used up (the monitor's outbox removes
   * the notice then).
   */
  newFindings(n: NewFindingsBody): Promise<void> {
    const all: Array<Promise<void>> = [];
    for (const t of this.opts.targets) {
      if (!(t.events as string[]).includes('new-findings')) continue;
      const withUrl: NewFindingsBody = { ...n, reportUrl: this.opts.publicUrl ? `${this.opts.publicUrl.replace(/\/+$/, '')}/api/v1/images/${n.digest}` : null };
      const body = t.format === 'slack' ? newFindingsSlack(withUrl) : withUrl;
      const p = this.post(t, JSON.stringify(body), { repository: n.repository, digest: n.digest }).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
      all.push(p);
    }
    return Promise.all(all).then(() => undefined);
  }

  /** Resolves when every notification started so far has been delivered or given up (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.all([...this.inflight]);
  }

  private deliver(t: NotifyTarget, v: Verdict): Promise<void> {
    const body = JSON.stringify(t.format === 'slack' ? slackBody(v, this.opts.publicUrl) : jsonBody(v, this.opts.publicUrl));
    return this.post(t, body, v);
  }

  private async post(t: NotifyTarget, body: string, v: { repository: string; digest: string }): Promise<void> {
    const attempts = this.opts.attempts ?? 4;
    let last = '';
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, (this.opts.backoffMs ?? 1000) * 2 ** (i - 1)));
      try {
        const res = await fetch(t.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'pushgate', ...(t.headers ?? {}) },
          body,
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5000),
          redirect: 'error',
        });
        // Only the status matters: the answer's body is dropped unread, so a receiver that streams
        // without end costs nothing (reading it grew the heap for the whole timeout).
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) return;
        last = `HTTP ${res.status}`;
        if (res.status < 500 && res.status !== 429 && res.status !== 408) break; // a 4xx will not get better
      } catch (e) {
        last = (e as Error).name === 'TimeoutError' ? 'timeout' : 'network error';
      }
    }
    this.opts.logger.warn({ target: hostOf(t.url), repository: v.repository, digest: v.digest, error: last }, 'notification not delivered');
  }
}
