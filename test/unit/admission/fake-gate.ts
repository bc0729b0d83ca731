/**
 * In-memory test double of the lead's GateApi for admission unit tests: verdicts in a Map, tags in a
 * Map (what a registry HEAD would answer), `assess` that stores a verdict after a delay, and call logs.
 * The end-to-end test with the real gate and registry lives with the gate.
 */
import type { AuditEntry, AssessRequest, ChangeRecord, GateApi } from '../../../src/gate/types.js';
import type { PushgateConfig, RegistryConfig } from '../../../src/config/types.js';
import type { Decision, Digest, PolicyMode, PushEvent, Verdict } from '../../../src/core/index.js';
import type { VerdictView } from '../../../src/gate/verdict-view.js';

export const REG: RegistryConfig = {
  name: 'example',
  url: 'https://registry.example.test',
  type: 'distribution',
  insecure: false,
  webhook: {},
  quarantine: { repositoryPrefix: 'quarantine/' },
  concurrency: 4,
  timeoutMs: 5000,
};

export function dg(n: number | string): Digest {
  return `sha256:${String(n).padStart(2, '0').repeat(32).slice(0, 64)}`;
}

export function verdict(repository: string, digest: Digest, decision: Decision, reasons: Array<[string, string]> = [], complete = true): Verdict {
  return {
    registry: REG.name,
    repository,
    digest,
    tags: [],
    decision,
    complete,
    reasons: reasons.map(([rule, message]) => ({ rule, action: decision, message })),
    mode: 'enforce',
    policy: { name: 'default', revision: '1' },
    vulndb: { builtAt: null },
    evaluatedAt: new Date(0).toISOString(),
  };
}

export class FakeGate implements GateApi {
  verdicts = new Map<string, Verdict>();
  /** `repo:tag` → digest, as the registry would resolve it. */
  tags = new Map<string, Digest>();
  /** Verdicts `assess` produces (key `repo@digest`), after `assessDelayMs`. */
  scanResults = new Map<string, Verdict>();
  assessDelayMs = 10;
  modes = new Map<string, PolicyMode>();
  resolveCalls: string[] = [];
  resolveDelayMs = 0;
  resolveError?: Error;
  verdictError?: Error;
  auditError?: Error;
  enqueued: AssessRequest[] = [];
  assessed: AssessRequest[] = [];
  audits: AuditEntry[] = [];
  metrics: Array<{ decision: string; seconds: number }> = [];
  hooks = {
    admission: (decision: 'allow' | 'deny' | 'warn' | 'error', seconds: number) => {
      this.metrics.push({ decision, seconds });
    },
  };

  private pushListeners = new Set<(ev: PushEvent) => void>();

  /** As the gate's: listeners hear every push or delete event queued ({@link emitPush} here). */
  onPush(listener: (ev: PushEvent) => void): () => void {
    this.pushListeners.add(listener);
    return () => this.pushListeners.delete(listener);
  }

  /** What the gate does once a registry notification is queued. */
  emitPush(ev: PushEvent): void {
    for (const l of this.pushListeners) l(ev);
  }

  registryForHost(host: string): RegistryConfig | undefined {
    return host === 'registry.example.test' ? REG : undefined;
  }

  client(registry: string) {
    if (registry !== REG.name) throw new Error(`no registry ${registry}`);
    return {
      resolve: async (repo: string, ref: string) => {
        this.resolveCalls.push(`${repo}:${ref}`);
        if (this.resolveDelayMs) await new Promise((r) => setTimeout(r, this.resolveDelayMs));
        if (this.resolveError) throw this.resolveError;
        const d = this.tags.get(`${repo}:${ref}`);
        return d ? { digest: d, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1234 } : undefined;
      },
    } as unknown as ReturnType<GateApi['client']>;
  }

  /** The monitor's change records, newest first (what `Store.monitor.listChanges` would hold). */
  changeRecords: ChangeRecord[] = [];
  changesError?: Error;
  changesCalls = 0;

  async changes(registry: string, repository: string, digest: Digest): Promise<ChangeRecord[]> {
    this.changesCalls++;
    if (this.changesError) throw this.changesError;
    return this.changeRecords.filter((c) => c.registry === registry && c.repository === repository && c.digest === digest);
  }

  async verdict(registry: string, repository: string, digest: Digest): Promise<Verdict | undefined> {
    if (this.verdictError) throw this.verdictError;
    return this.verdicts.get(`${registry}/${repository}@${digest}`);
  }

  put(v: Verdict): void {
    this.verdicts.set(`${v.registry}/${v.repository}@${v.digest}`, v);
  }

  async assess(req: AssessRequest): Promise<Verdict> {
    this.assessed.push(req);
    await new Promise((r) => setTimeout(r, this.assessDelayMs));
    const v = this.scanResults.get(`${req.repository}@${req.digest}`);
    if (!v) throw new Error(`scan of ${req.repository}@${req.digest} failed`);
    this.put(v);
    return v;
  }

  async assessPending(): Promise<never> {
    throw new Error('not used by admission');
  }

  async enqueue(req: AssessRequest): Promise<void> {
    this.enqueued.push(req);
  }

  modeFor(_registry: string, repository: string): PolicyMode {
    return this.modes.get(repository) ?? 'enforce';
  }

  /** The stored decision under the mode set for the repository (the real derivation is tested with the gate). */
  viewFor(v: Verdict, tag?: string): VerdictView {
    return { tag, decision: v.decision, mode: this.modeFor(v.registry, v.repository), reasons: v.reasons, ruleSet: 'default', mapping: 'default', basis: 'evaluation' };
  }

  isQuarantineRepository(_registry: string, repository: string): boolean {
    return repository.startsWith(REG.quarantine.repositoryPrefix);
  }

  async audit(entry: AuditEntry): Promise<void> {
    if (this.auditError) throw this.auditError;
    this.audits.push(entry);
  }
}

export function admissionConfig(over: Partial<PushgateConfig['admission']> = {}): PushgateConfig['admission'] {
  return {
    namespaces: [{ match: '*', unknown: 'deny' }],
    unguarded: 'allow',
    exemptions: { namespaces: [], images: [] },
    digestCacheTtlMs: 60_000,
    ...over,
  };
}
