/**
 * The registries the configuration names: one shared client each (made on first use, with its request
 * counter and the own-writes hook that remembers every manifest PUT before it is sent), the Harbor API target
 * of a Harbor registry, the registry a host spelling names (src/core/host.ts), and where its quarantine
 * copies live. pushgate talks only to these.
 */
import { PushgateError, RegistryHosts } from '../core/index.js';
import type { PushgateConfig, RegistryConfig } from '../config/types.js';
import { isQuarantineRepositoryOf } from '../config/quarantine.js';
import { harborTarget, quarantineRepositoryOf, type HarborTarget, type OwnWrite } from '../enforce/index.js';
import { RegistryClient } from '../registry/client.js';
import type { GateCounters } from './gate.js';

/** What the directory needs. */
export interface RegistryDirectoryOptions {
  config: PushgateConfig;
  counters?: GateCounters;
  /** Creates the client of a configured registry (tests may wrap it); such clients do not announce their writes. */
  clientFactory?: (rc: RegistryConfig, onRequest: (e: { method: string; code: number | 'error' }) => void) => RegistryClient;
  /** Called before each manifest PUT of a client made here (the own-writes memo). */
  beforeManifestPut(registry: string, w: OwnWrite): Promise<void>;
}

/** See the module comment. */
export class RegistryDirectory {
  private readonly clients = new Map<string, RegistryClient>();
  private readonly harborTargets = new Map<string, HarborTarget>();
  /** Registries whose client remembers every manifest PUT before it happens (not a test's clientFactory). */
  private readonly announcingClients = new Set<string>();
  /** Every name of every configured registry, built on first use. */
  private hosts: RegistryHosts | undefined;

  constructor(private readonly o: RegistryDirectoryOptions) {}

  /** True when the client of `registry` remembers each manifest before writing it. */
  announces(registry: string): boolean {
    return this.announcingClients.has(registry);
  }

  /** The Harbor REST API target of a configured registry of type harbor (undefined for Distribution). */
  harborTarget(registry: string): HarborTarget | undefined {
    const rc = this.config(registry);
    if (rc.type !== 'harbor') return undefined;
    let t = this.harborTargets.get(registry);
    if (!t) {
      t = harborTarget({ name: rc.name, url: rc.url, auth: rc.auth, insecure: rc.insecure, ca: rc.ca, timeoutMs: rc.timeoutMs, quarantine: rc.quarantine });
      this.harborTargets.set(registry, t);
    }
    return t;
  }

  /** The quarantine repository of `repository` in `registry` (`<prefix><repository>`; Harbor: `<project>/<repository>`). */
  quarantineRepository(registry: string, repository: string): string {
    const rc = this.config(registry);
    return quarantineRepositoryOf({ type: rc.type, quarantinePrefix: rc.quarantine.repositoryPrefix, harbor: this.harborTarget(registry) }, repository);
  }

  /**
   * True when `repository` lies under the quarantine prefix of `registry` (or, on Harbor, in its
   * quarantine project): where pushgate keeps its quarantine copies.
   */
  isQuarantineRepository(registry: string, repository: string): boolean {
    const rc = this.o.config.registries.find((r) => r.name === registry);
    return !!rc && isQuarantineRepositoryOf(rc, repository);
  }

  /** The configured registry that `host` (any spelling, alias) names, if exactly one does (src/core/host.ts). */
  registryForHost(host: string): RegistryConfig | undefined {
    this.hosts ??= new RegistryHosts(this.o.config.registries);
    const name = this.hosts.match(host);
    return name === undefined ? undefined : this.config(name);
  }

  /**
   * The configuration of registry `name`.
   * @throws PushgateError NOT_FOUND when no registry of that name is configured.
   */
  config(name: string): RegistryConfig {
    const rc = this.o.config.registries.find((r) => r.name === name);
    if (!rc) throw new PushgateError('NOT_FOUND', `registry "${name}" is not configured (registries[].name)`);
    return rc;
  }

  /** The shared client of registry `name` (made on first use). @throws PushgateError NOT_FOUND when not configured. */
  client(registry: string): RegistryClient {
    const c = this.clients.get(registry);
    if (c) return c;
    const made = this.makeClient(this.config(registry));
    this.clients.set(registry, made);
    return made;
  }

  /** A new client of `rc` (its own auth state). */
  makeClient(rc: RegistryConfig): RegistryClient {
    const onRequest = (e: { method: string; code: number | 'error' }) => this.o.counters?.registryRequest?.(rc.name, e.method, e.code);
    if (!this.o.clientFactory) this.announcingClients.add(rc.name);
    return this.o.clientFactory
      ? this.o.clientFactory(rc, onRequest)
      : new RegistryClient({
          name: rc.name,
          url: rc.url,
          insecure: rc.insecure,
          ca: rc.ca,
          clientCert: rc.clientCert,
          clientKey: rc.clientKey,
          auth: rc.auth,
          timeoutMs: rc.timeoutMs,
          concurrency: rc.concurrency,
          // What pushgate reads of a manifest is the configured `scan.maxManifestSize`, as the proxy admits:
          // without it the client kept its 4 MiB default whatever the operator set, and a manifest the proxy
          // admitted (or the registry stored) above that was judged unreadable, incomplete, and deleted.
          maxManifestBytes: this.o.config.scan.maxManifestBytes,
          onRequest,
          // Every manifest this client writes is pushgate's own: remembered in the store before the PUT,
          // so the registry's notification of it (sent as soon as it is stored) always finds the memo.
          beforeManifestPut: (w) => this.o.beforeManifestPut(rc.name, w),
        });
  }
}
