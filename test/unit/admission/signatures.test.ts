/**
 * Signature rules in the validating webhook, with a registry double for what a real one cannot do on
 * demand (refuse every request; count requests): fail closed in enforce mode, warn in warn mode, one
 * registry read per digest while the check is cached, a push notification dropping an unsatisfied
 * check, a policy reload (new revision) starting afresh. The real registry path is
 * test/integration/gate/signatures-e2e.test.ts.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fc from 'fast-check';
import { validateReview } from '../../../src/admission/review.js';
import { SignatureChecks } from '../../../src/admission/signatures.js';
import type { PushEvent } from '../../../src/core/index.js';
import type { CompiledSignatureRule } from '../../../src/policy/types.js';
import { RegistryError } from '../../../src/registry/errors.js';
import { legacySignatureManifest, signLegacy } from '../../helpers/cosign.js';
import { admissionConfig, dg, FakeGate, REG, verdict } from './fake-gate.js';

const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });

class SigningGate extends FakeGate {
  rules: CompiledSignatureRule[] = [];
  revision = 'r1';
  registryDown = false;
  requests: string[] = [];
  /** `repo@digest` → the `.sig` manifest bytes and its payloads by digest. */
  sigs = new Map<string, { manifest: Buffer; blobs: Map<string, Buffer> }>();
  listeners: Array<(ev: PushEvent) => void> = [];
  /** When set, a `.sig` read waits for it after taking the manifest: a read in flight across a notification. */
  hold: Promise<void> | undefined;
  blobs = new Map<string, Buffer>();

  get currentPolicy() {
    return { revision: this.revision, signatures: this.rules };
  }

  override onPush(l: (ev: PushEvent) => void): () => void {
    this.listeners.push(l);
    return () => undefined;
  }

  override client(registry: string) {
    const base = super.client(registry) as unknown as Record<string, unknown>;
    const fail = (op: string) => new RegistryError('NETWORK', `registry: ${op}: connect ECONNREFUSED`, { url: 'https://registry.example.test/v2/', retryable: true });
    const notFound = (op: string) => new RegistryError('NOT_FOUND', `registry: ${op}: 404`, { status: 404, url: 'https://registry.example.test/v2/' });
    return {
      ...base,
      getManifest: async (repo: string, ref: string) => {
        this.requests.push(`manifest ${repo}:${ref}`);
        if (this.registryDown) throw fail('GET manifest');
        const digest = ref.replace(/\.sig$/, '').replace('-', ':');
        const s = this.sigs.get(`${repo}@${digest}`);
        if (this.hold) await this.hold;
        if (!s || !ref.endsWith('.sig')) throw notFound('GET manifest');
        return { digest: `sha256:${crypto.createHash('sha256').update(s.manifest).digest('hex')}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', bytes: s.manifest };
      },
      getBlob: async (repo: string, digest: string) => {
        const { Readable } = await import('node:stream');
        // Blobs outlive their tag, as in a registry until garbage collection.
        const b = this.blobs.get(digest);
        if (b) return Readable.from([b]);
        throw notFound(`GET blob ${repo}@${digest}`);
      },
      referrers: async (repo: string) => {
        this.requests.push(`referrers ${repo}`);
        if (this.registryDown) throw fail('GET referrers');
        return [];
      },
    } as unknown as ReturnType<FakeGate['client']>;
  }

  sign(repo: string, digest: string): void {
    const m = legacySignatureManifest([signLegacy(key.privateKey, `registry.example.test/${repo}`, digest)]);
    const sha = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
    this.sigs.set(`${repo}@${digest}`, { manifest: m.bytes, blobs: new Map(m.blobs.map((b) => [sha(b), b])) });
    for (const b of m.blobs) this.blobs.set(sha(b), b);
  }

  notify(ev: Partial<PushEvent>): void {
    for (const l of this.listeners) l({ id: 'e', source: 'distribution', registry: REG.name, action: 'push', repository: 'app', digest: dg(9), ...ev });
  }
}

function rule(mode: 'enforce' | 'warn' = 'enforce'): CompiledSignatureRule {
  return { name: 'prod-signed', require: 'anyOf', mode, authorities: [{ name: 'release', kind: 'key', publicKey: key.publicKey }], matches: (_r, repo) => repo === 'app' };
}

function review(image: string): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'ns', operation: 'CREATE', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' }, spec: { containers: [{ name: 'c', image }] } } },
  };
}

async function judge(gate: SigningGate, digest = dg(1), now = () => Date.now()) {
  const config = admissionConfig({ signatures: { cacheTtlMs: 600_000, unsignedRecheckMs: 600_000 } });
  const signatureChecks = new SignatureChecks(gate, config.signatures, now);
  const run = async (d = digest) => ((await validateReview(review(`registry.example.test/app@${d}`), { gate, config, signatureChecks })).body as { response: { allowed: boolean; status?: { message: string }; warnings?: string[] } }).response;
  return { run, signatureChecks };
}

describe('admission signature rules', () => {
  let gate: SigningGate;
  beforeEach(() => {
    gate = new SigningGate();
    gate.put(verdict('app', dg(1), 'allow'));
    gate.put(verdict('app', dg(2), 'allow'));
    gate.rules = [rule()];
  });

  it('fails closed when the registry cannot be read in enforce mode; warns in warn mode', async () => {
    gate.registryDown = true;
    const { run } = await judge(gate);
    const denied = await run();
    expect(denied.allowed).to.equal(false);
    expect(denied.status?.message).to.match(/signature rule prod-signed: signatures could not be read \(.*ECONNREFUSED.*\); retry/);
    gate.rules = [rule('warn')];
    const warned = await (await judge(gate)).run();
    expect(warned.allowed).to.equal(true);
    expect(warned.warnings?.join(' ')).to.match(/signature rule prod-signed: signatures could not be read/);
  });

  it('reads the registry once per digest while cached; a push notification of the repository drops an unsatisfied check; another repository does not', async () => {
    const { run } = await judge(gate);
    expect((await run()).allowed).to.equal(false);
    expect((await run()).allowed).to.equal(false);
    expect(gate.requests.filter((r) => r.startsWith('manifest'))).to.have.length(1);
    gate.sign('app', dg(1));
    gate.notify({ repository: 'other' });
    expect((await run()).allowed).to.equal(false);
    gate.notify({ repository: 'app', tag: `${dg(1).replace(':', '-')}.sig` });
    expect((await run()).allowed).to.equal(true);
    const before = gate.requests.length;
    expect((await run()).allowed).to.equal(true);
    expect(gate.requests.length).to.equal(before);
  });

  it('a satisfied check survives pushes of other manifests but not a rewrite of its .sig tag or a delete; a new policy revision checks again', async () => {
    gate.sign('app', dg(1));
    const { run } = await judge(gate);
    expect((await run()).allowed).to.equal(true);
    const reads = () => gate.requests.filter((r) => r.startsWith('manifest')).length;
    gate.notify({ repository: 'app', tag: 'latest' });
    await run();
    expect(reads()).to.equal(1);
    gate.sigs.clear();
    gate.notify({ repository: 'app', tag: `${dg(1).replace(':', '-')}.sig` });
    expect((await run()).allowed).to.equal(false);
    gate.sign('app', dg(1));
    gate.notify({ repository: 'app', action: 'delete' });
    expect((await run()).allowed).to.equal(true);
    const n = reads();
    gate.revision = 'r2';
    await run();
    expect(reads()).to.equal(n + 1);
  });

  it('concurrent reviews of one digest share one registry read', async () => {
    gate.sign('app', dg(1));
    const { run } = await judge(gate);
    const all = await Promise.all([run(), run(), run()]);
    expect(all.every((a) => a.allowed)).to.equal(true);
    expect(gate.requests.filter((r) => r.startsWith('manifest'))).to.have.length(1);
  });

  it('a delete or .sig rewrite notified while a check is in flight: neither that read nor one started before it decides a later review', async () => {
    const sigTag = `${dg(1).replace(':', '-')}.sig`;
    for (const ev of [{ action: 'delete' as const }, { tag: sigTag }]) {
      gate.requests = [];
      gate.sign('app', dg(1));
      const { run } = await judge(gate);
      let release!: () => void;
      gate.hold = new Promise((r) => (release = r));
      const first = run();
      await new Promise((r) => setTimeout(r, 10));
      // The signature is withdrawn while the read above still holds it.
      gate.sigs.clear();
      gate.notify({ repository: 'app', ...ev });
      gate.hold = undefined;
      const second = run();
      release();
      expect((await first).allowed, 'the read that began before the withdrawal').to.equal(true);
      expect((await second).allowed, `a review after the ${JSON.stringify(ev)} notification`).to.equal(false);
      expect((await run()).allowed, 'a later review (cache)').to.equal(false);
    }
  });
});

describe('admission signature cache: bounded without losing track of what a notification must drop', () => {
  it('after more repositories than the cache holds were checked, a delete notification still drops a cached satisfied check', async () => {
    const gate = new SigningGate();
    gate.sign('app', dg(1));
    const checks = new SignatureChecks(gate, { cacheTtlMs: 600_000, unsignedRecheckMs: 600_000 }, Date.now, 3);
    const reg = REG;
    const rules = [{ ...rule(), matches: () => true }];
    const ok = async (repo: string) => (await checks.check(reg, repo, dg(1), rules))[0].satisfied;
    for (const repo of ['r1', 'r2']) await ok(repo);
    expect(await ok('app')).to.equal(true);
    // Another repository: the least recently used (r1) leaves the cache; app stays cached.
    await ok('r3');
    gate.sigs.clear();
    gate.notify({ repository: 'app', action: 'delete' });
    expect(await ok('app'), 'the signature was deleted').to.equal(false);
  });

  it('any order of checks over more repositories than the cache holds: a delete notification of app means app is read again (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('app', 'r1', 'r2', 'r3', 'r4', 'r5'), { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 4 }), async (order, max) => {
        const gate = new SigningGate();
        gate.sign('app', dg(1));
        const checks = new SignatureChecks(gate, { cacheTtlMs: 600_000, unsignedRecheckMs: 600_000 }, Date.now, max);
        const rules = [{ ...rule(), matches: () => true }];
        for (const repo of ['app', ...order]) await checks.check(REG, repo, dg(1), rules);
        gate.sigs.clear();
        gate.notify({ repository: 'app', action: 'delete' });
        return !(await checks.check(REG, 'app', dg(1), rules))[0].satisfied;
      }),
      { numRuns: 200 },
    );
  });
});
