/**
 * Signed VEX read from referrers listings a pusher writes (src/gate/referrer-vex.ts): whatever sequence of
 * listings the gate reads, in whichever repositories, a finding is suppressed only when the latest
 * statement of the authority among what the listings show now and every retraction (`affected`,
 * `under_investigation`) it has ever shown is suppressing. Before, a listing that left out a retraction
 * brought back the `not_affected` it overrode. Documents are signed with the authority's key as cosign
 * writes them (`.att` DSSE envelopes); the registry is a double serving each repository's current `.att`.
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import type { Digest, Finding } from '../../../src/core/index.js';
import { compilePolicy, applyVex } from '../../../src/policy/index.js';
import { openStore } from '../../../src/store/index.js';
import { readReferrerVex, storedReferrerVex } from '../../../src/gate/referrer-vex.js';
import type { RegistryClient } from '../../../src/registry/index.js';
import { RegistryError } from '../../../src/registry/errors.js';
import { attestationEnvelope, attestationManifest, vexAuthoritiesYaml } from '../../helpers/cosign.js';

const OPENVEX = 'https://openvex.dev/ns';
const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const POLICY = compilePolicy(`apiVersion: pushgate.dev/v1
kind: Policy
metadata: { name: t }
spec:
  ruleSets:
    default: { rules: [] }
${vexAuthoritiesYaml([{ name: 'security', key: key.publicKey }])}
`, '<t>');
const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
/** The same policy with a second authority added (a policy edit). */
const POLICY_TWO = compilePolicy(`apiVersion: pushgate.dev/v1
kind: Policy
metadata: { name: t }
spec:
  ruleSets:
    default: { rules: [] }
${vexAuthoritiesYaml([{ name: 'security', key: key.publicKey }, { name: 'platform', key: other.publicKey }])}
`, '<t2>');
const DIGEST = `sha256:${'cd'.repeat(32)}` as Digest;
const STATUSES = ['not_affected', 'fixed', 'affected', 'under_investigation'] as const;
type Status = (typeof STATUSES)[number];
const SUPPRESSING = new Set<Status>(['not_affected', 'fixed']);

const finding = { id: 'CVE-2018-1002204', aliases: [], package: 'adm-zip', ecosystem: 'npm', installedVersion: '0.4.7', fixedVersions: ['0.4.9'], severity: 'high', purl: 'pkg:npm/adm-zip@0.4.7', path: '/app/node_modules/adm-zip/package.json' } as unknown as Finding;

/** One signed document: its envelope, status and time (ms). */
interface Doc { envelope: Buffer; status: Status; time: number }

function doc(status: Status, time: number): Doc {
  const body = {
    '@context': 'https://openvex.dev/ns/v0.2.0', '@id': `https://lab.example/vex/${status}/${time}`, author: 'security', timestamp: new Date(time).toISOString(), version: 1,
    statements: [{ vulnerability: { name: 'CVE-2018-1002204' }, products: [{ '@id': `pkg:oci/app@${encodeURIComponent(DIGEST)}`, subcomponents: [{ '@id': 'pkg:npm/adm-zip' }] }], status, ...(status === 'not_affected' ? { justification: 'vulnerable_code_not_in_execute_path' } : {}) }],
  };
  return { envelope: attestationEnvelope(key.privateKey, 'lab/app', DIGEST, OPENVEX, body), status, time };
}

/** A registry double: each repository's `.att` tag lists what the test says now. */
function registry(listing: Map<string, Doc[]>): RegistryClient {
  const blobs = new Map<string, Buffer>();
  return {
    async getManifest(repo: string, ref: string) {
      const docs = listing.get(repo);
      if (!docs?.length || !ref.endsWith('.att')) throw new RegistryError('NOT_FOUND', `${repo}:${ref}: 404`, { status: 404, url: `http://lab/v2/${repo}/manifests/${ref}` });
      const m = attestationManifest(docs.map((d) => d.envelope), OPENVEX);
      for (const b of m.blobs) blobs.set(`sha256:${crypto.createHash('sha256').update(b).digest('hex')}`, b);
      return { digest: m.digest as Digest, mediaType: m.mediaType, bytes: m.bytes };
    },
    async getBlob(_repo: string, digest: Digest) {
      return Readable.from([blobs.get(digest)!]);
    },
    async referrers() {
      return [];
    },
  } as unknown as RegistryClient;
}

describe('gate: referrer VEX retractions survive listings that leave them out', () => {
  it('a retraction survives a policy edit that adds another authority, and the pusher\'s listing without it', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      const t1 = doc('not_affected', Date.UTC(2026, 0, 1));
      const t2 = doc('affected', Date.UTC(2026, 1, 1));
      const where = { registry: 'lab', repository: 'lab/app' };
      const suppressed = (v: { statements: Parameters<typeof applyVex>[1] }) => !!applyVex([finding], v.statements, [DIGEST])[0]!.vex;
      expect(suppressed((await readReferrerVex(store, registry(new Map([['lab/app', [t1]]])), where, DIGEST, POLICY, () => undefined))!)).to.equal(true);
      expect(suppressed((await readReferrerVex(store, registry(new Map([['lab/app', [t1, t2]]])), where, DIGEST, POLICY, () => undefined))!)).to.equal(false);
      // spec.vex gains an authority; the stored documents are stale until read again, the retraction is not.
      expect(suppressed((await storedReferrerVex(store, DIGEST, POLICY_TWO))!)).to.equal(false);
      expect(suppressed((await readReferrerVex(store, registry(new Map([['lab/app', [t1]]])), where, DIGEST, POLICY_TWO, () => undefined))!)).to.equal(false);
    } finally {
      await store.close();
    }
  });

  it('property: suppressed exactly when the latest of (listed now ∪ retractions ever listed) suppresses', async () => {
    const pool = fc.uniqueArray(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 6 }).chain((times) =>
      fc.tuple(...times.map((t) => fc.constantFrom(...STATUSES).map((s) => ({ s, t: Date.UTC(2026, 0, 1) + t * 60_000 })))));
    await fc.assert(
      fc.asyncProperty(
        pool,
        fc.array(fc.record({ repo: fc.constantFrom('lab/app', 'lab/mine'), pick: fc.array(fc.nat(5), { maxLength: 6 }) }), { minLength: 1, maxLength: 6 }),
        async (specs, reads) => {
          const docs = specs.map((x) => doc(x.s, x.t));
          const store = await openStore('sqlite::memory:');
          try {
            const listing = new Map<string, Doc[]>();
            const everRetracting = new Set<Doc>();
            for (const r of reads) {
              const listed = [...new Set(r.pick.map((i) => docs[i % docs.length]!))];
              listing.set(r.repo, listed);
              for (const d of listed) if (!SUPPRESSING.has(d.status)) everRetracting.add(d);
              const got = (await readReferrerVex(store, registry(listing), { registry: 'lab', repository: r.repo }, DIGEST, POLICY, () => undefined))!;
              // What applies: every repository's latest listing (the digest is the same image everywhere), and every retraction seen.
              const visible = new Set<Doc>([...[...listing.values()].flat(), ...everRetracting]);
              const latest = [...visible].sort((a, b) => a.time - b.time).at(-1);
              const expected = !!latest && SUPPRESSING.has(latest.status);
              for (const v of [got, (await storedReferrerVex(store, DIGEST, POLICY))!]) {
                const [f] = applyVex([finding], v.statements, [DIGEST]);
                expect(!!f!.vex, `listed ${listed.map((d) => `${d.status}@${d.time}`).join(',')} in ${r.repo}; seen retractions ${[...everRetracting].map((d) => d.time).join(',')}`).to.equal(expected);
              }
            }
          } finally {
            await store.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
