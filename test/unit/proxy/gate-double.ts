/**
 * Test double of the lead's GateApi (src/gate/types.ts) for the proxy tests: assessPending applies
 * a decision chosen by repository after a delay, reading the pushed manifest's config blob from
 * the real upstream registry when the decision depends on the platform. It records every call so
 * tests can assert hooks, audits and enqueues.
 *
 * Repository prefixes: `bad/` → quarantine (fixable-high-vulns, adm-zip finding); `secret/` →
 * reject (secrets, no findings); `mixed/` → reject for arm64 images only; `warn/` → warn;
 * `audit/` → reject in audit mode; `err/` → the gate throws; anything else → allow.
 */
import { createHash } from 'node:crypto';
import type { AssessRequest, AuditEntry, GateApi, PendingManifest } from '../../../src/gate/types.js';
import type { RegistryConfig } from '../../../src/config/types.js';
import { RegistryClient } from '../../../src/registry/client.js';
import type { VerdictView } from '../../../src/gate/verdict-view.js';
import type { Decision, Finding, Reason, ScanReport, Verdict, PolicyMode, Digest, ImageConfig, ImageIndex, ImageManifest } from '../../../src/core/index.js';
import { PushgateError, isIndexMediaType, worstDecision, platformString } from '../../../src/core/index.js';

export interface DoubleOptions {
  /** Registry the double fetches config blobs from (plain HTTP), e.g. `http://127.0.0.1:18001`. */
  upstream: string;
  registryName?: string;
  /** Basic credentials for the upstream (`user:pass`), pushgate's own. */
  creds?: string;
  /** Delay before answering assessPending (ms), per repository. */
  delayMs?: (repository: string) => number;
}

export const ADM_ZIP_FINDING: Finding = {
  id: 'NSWG-NPM-458',
  aliases: ['CVE-2018-1002204'],
  ecosystem: 'npm',
  package: 'adm-zip',
  installedVersion: '0.4.7',
  fixedVersions: ['0.4.9'],
  severity: 'high',
  cvss: { score: 8.2, vector: 'CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:H/A:H', version: '3.0' },
  path: '/app/node_modules/adm-zip/package.json',
};

const LODASH_FINDING: Finding = {
  id: 'NSWG-NPM-516',
  aliases: ['CVE-2019-10744'],
  ecosystem: 'npm',
  package: 'lodash',
  installedVersion: '4.17.15',
  fixedVersions: ['4.17.19'],
  severity: 'medium',
  path: '/app/node_modules/lodash/package.json',
};

/** The GateApi double; public arrays record what the proxy did. */
export class GateDouble implements GateApi {
  readonly pending: PendingManifest[] = [];
  readonly audits: AuditEntry[] = [];
  readonly enqueued: AssessRequest[] = [];
  readonly blocked: Array<{ registry: string; repository: string; rule: string; mode: string }> = [];
  readonly requests: Array<{ method: string; code: number }> = [];
  readonly gateSeconds: number[] = [];
  readonly verdicts = new Map<string, Verdict>();
  /** Scans still running after the caller stopped waiting (timeout path). */
  finishedLate = 0;
  readonly hooks: GateApi['hooks'];

  constructor(private readonly opts: DoubleOptions) {
    this.hooks = {
      proxyRequest: (method, code) => this.requests.push({ method, code }),
      proxyGate: (s) => this.gateSeconds.push(s),
      blockedPush: (registry, repository, rule, mode) => this.blocked.push({ registry, repository, rule, mode }),
    };
  }

  registryForHost(host: string): RegistryConfig | undefined {
    return new URL(this.opts.upstream).host === host ? ({ name: this.name, url: this.opts.upstream } as RegistryConfig) : undefined;
  }

  private registryClient?: RegistryClient;

  /** A real registry client for the upstream, with pushgate's own credentials (`creds`), as the gate's. */
  client(registry: string): RegistryClient {
    if (registry !== this.name) throw new PushgateError('NOT_FOUND', `test double has no registry client for ${registry}`);
    if (!this.registryClient) {
      const [username, ...rest] = (this.opts.creds ?? '').split(':');
      this.registryClient = new RegistryClient({ name: this.name, url: this.opts.upstream, retries: 0, ...(this.opts.creds ? { auth: { username, password: rest.join(':') } } : {}) });
    }
    return this.registryClient;
  }

  get name(): string {
    return this.opts.registryName ?? 'lab';
  }

  async verdict(registry: string, repository: string, digest: Digest): Promise<Verdict | undefined> {
    return this.verdicts.get(`${registry}/${repository}@${digest}`);
  }

  async assess(): Promise<Verdict> {
    throw new PushgateError('UNSUPPORTED', 'test double: assess is not used by the proxy');
  }

  async enqueue(req: AssessRequest): Promise<void> {
    this.enqueued.push(req);
  }

  modeFor(_registry: string, repository: string): PolicyMode {
    return repository.startsWith('audit/') ? 'audit' : 'enforce';
  }

  /** The stored decision under the repository's mode (the real derivation is tested with the gate). */
  viewFor(v: Verdict, tag?: string): VerdictView {
    return { tag, decision: v.decision, mode: this.modeFor(v.registry, v.repository), reasons: v.reasons, ruleSet: 'default', mapping: 'default', basis: 'evaluation' };
  }

  isQuarantineRepository(_registry: string, repository: string): boolean {
    return repository.startsWith('quarantine/');
  }

  async audit(entry: AuditEntry): Promise<void> {
    this.audits.push(entry);
  }

  async assessPending(m: PendingManifest, opts: { deadlineMs?: number; signal?: AbortSignal } = {}): Promise<{ verdict: Verdict; report: ScanReport }> {
    this.pending.push(m);
    const delay = this.opts.delayMs?.(m.repository) ?? 20;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(t);
        reject(new PushgateError('INTERNAL', 'aborted'));
      };
      const t = setTimeout(() => {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve();
      }, delay);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
    const digest = `sha256:${createHash('sha256').update(m.bytes).digest('hex')}`;
    const repo = m.repository;
    if (repo.startsWith('err/')) throw new PushgateError('NETWORK', `registry ${this.opts.upstream}: GET blob: connect ECONNREFUSED`, { retryable: true });
    let decision: Decision = 'allow';
    let reasons: Reason[] = [];
    let findings: Finding[] = [];
    let platforms: string[] | undefined;
    if (isIndexMediaType(m.mediaType)) {
      const index = JSON.parse(m.bytes.toString()) as ImageIndex;
      for (const c of index.manifests) {
        const v = this.verdicts.get(`${m.registry}/${repo}@${c.digest}`);
        if (v) {
          decision = worstDecision(decision, v.decision);
          reasons.push(...v.reasons);
        }
      }
      platforms = index.manifests.map((c) => platformString(c.platform));
    } else if (repo.startsWith('bad/')) {
      decision = 'quarantine';
      findings = [LODASH_FINDING, ADM_ZIP_FINDING];
      reasons = [{ rule: 'fixable-high-vulns', action: 'quarantine', message: 'adm-zip 0.4.7 has NSWG-NPM-458 (high), fixed in 0.4.9', findings: ['NSWG-NPM-458'] }];
    } else if (repo.startsWith('secret/') || repo.startsWith('audit/')) {
      decision = 'reject';
      reasons = [{ rule: 'secrets', action: 'reject', message: 'private key in /root/.ssh/id_rsa (layer sha256:1234…): remove it and rotate the key', findings: ['private-key'] }];
    } else if (repo.startsWith('warn/')) {
      decision = 'warn';
      reasons = [{ rule: 'runs-as-root', action: 'warn', message: 'the image runs as root: set USER' }];
    } else if (repo.startsWith('mixed/')) {
      const platform = await this.platformOf(repo, m);
      platforms = [platform];
      if (platform.includes('arm64')) {
        decision = 'reject';
        reasons = [{ rule: 'secrets', action: 'reject', message: `private key in /etc/ssl/private/lab.key on ${platform}` }];
      }
    }
    const mode = this.modeFor(m.registry, repo);
    const verdict: Verdict = {
      registry: m.registry,
      repository: repo,
      digest,
      tags: m.tag ? [m.tag] : [],
      decision,
      complete: true,
      reasons,
      mode,
      policy: { name: 'double', revision: '1' },
      vulndb: { builtAt: null },
      evaluatedAt: new Date().toISOString(),
    };
    this.verdicts.set(`${m.registry}/${repo}@${digest}`, verdict);
    if (opts.signal?.aborted) this.finishedLate++;
    const report: ScanReport = {
      target: `${repo}@${digest}`,
      digest,
      mediaType: m.mediaType,
      platforms,
      packages: [],
      findings,
      secrets: [],
      config: [],
      diagnostics: [],
      complete: true,
      verdict: { decision, reasons, policy: verdict.policy, complete: true },
      scannedAt: new Date().toISOString(),
    };
    return { verdict, report };
  }

  /** Reads the config blob of an image manifest from the upstream: `os/arch[/variant]`. */
  private async platformOf(repo: string, m: PendingManifest): Promise<string> {
    const manifest = JSON.parse(m.bytes.toString()) as ImageManifest;
    const headers: Record<string, string> = {};
    if (this.opts.creds) headers.authorization = `Basic ${Buffer.from(this.opts.creds).toString('base64')}`;
    const r = await fetch(`${this.opts.upstream}/v2/${repo}/blobs/${manifest.config.digest}`, { headers });
    if (!r.ok) throw new PushgateError('NOT_FOUND', `config blob ${manifest.config.digest}: ${r.status}`);
    const cfg = (await r.json()) as ImageConfig;
    return platformString({ os: cfg.os ?? 'linux', architecture: cfg.architecture ?? 'unknown', variant: cfg.variant });
  }
}
