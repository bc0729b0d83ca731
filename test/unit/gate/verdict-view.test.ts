/**
 * A verdict's decision and mode for a tag are derived from its raw evaluations with that tag's
 * mapping (src/gate/verdict-view.ts). Property: for random policies (tag globs → rule sets and
 * warn/enforce/audit modes), images and tag sets, the decision, mode and reasons derived for every
 * tag (and the untagged digest) equal what evaluate() says for that tag, whichever tag judged the
 * image first and in whatever order the tags arrived.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { Decision, PolicyMode, Verdict } from '../../../src/core/index.js';
import { judgeScan } from '../../../src/gate/judge.js';
import { legacyRaw, presentVerdict, strictest, summarize, viewOf } from '../../../src/gate/verdict-view.js';
import { compilePolicy, evaluate, type CompiledPolicy, type PolicyInput } from '../../../src/policy/index.js';
import type { ImageScan } from '../../../src/scan/engine.js';
import type { VulnDb } from '../../../src/vulndb/index.js';

const REGISTRY = 'lab';
const DIGEST = `sha256:${'a'.repeat(64)}`;
/** A database that knows no advisory (findings do not matter here; mappings do). */
const NO_ADVISORIES = { builtAt: '2026-01-01T00:00:00Z', match: () => [], coverage: () => [] } as unknown as VulnDb;

const RULE_SETS = `
    strict:
      onIncomplete: quarantine
      rules:
        - { name: secrets, action: reject, match: { secret: {} } }
        - { name: root, action: warn, match: { image: { runsAsRoot: true } } }
    lenient:
      onIncomplete: warn
      rules:
        - { name: secrets, action: warn, match: { secret: {} } }
    quarantining:
      onIncomplete: reject
      rules:
        - { name: secrets, action: quarantine, match: { secret: {} } }
        - { name: root, action: quarantine, match: { image: { runsAsRoot: true } } }
    empty:
      onIncomplete: allow
      rules: []`;

interface MappingGen {
  tag?: string;
  repository?: string;
  ruleSet: string;
  mode: PolicyMode;
}

function policyText(mappings: MappingGen[], def: { ruleSet: string; mode: PolicyMode }): string {
  const ms = mappings
    .map((m, i) => `    - { name: m${i}, ruleSet: ${m.ruleSet}, mode: ${m.mode}${m.tag ? `, tag: "${m.tag}"` : ''}${m.repository ? `, repository: "${m.repository}"` : ''} }`)
    .join('\n');
  return `apiVersion: pushgate.dev/v1
kind: Policy
metadata: { name: prop }
spec:
  ruleSets:${RULE_SETS}
  mappings:${mappings.length ? `\n${ms}` : ' []'}
  default: { ruleSet: ${def.ruleSet}, mode: ${def.mode} }
`;
}

interface ImageGen {
  secret: boolean;
  root: boolean;
  complete: boolean;
}

function scanOf(img: ImageGen): ImageScan {
  return {
    target: 'lab/app',
    digest: DIGEST,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    diagnostics: [],
    bytesRead: 0,
    platforms: [
      {
        platform: 'linux/amd64',
        manifestDigest: DIGEST,
        configDigest: `sha256:${'c'.repeat(64)}`,
        config: { architecture: 'amd64', os: 'linux', config: img.root ? {} : { User: '1000' }, rootfs: { type: 'layers', diff_ids: [] } },
        layers: [],
        inventory: {
          packages: [],
          secrets: img.secret ? [{ rule: 'private-key', severity: 'critical', path: '/k.pem', redacted: '-----BEGIN PRIVATE KEY----- (redacted)' }] : [],
          config: [],
          diagnostics: img.complete ? [] : [{ code: 'layer-unreadable', message: 'blob truncated', incomplete: true }],
        },
      },
    ],
  };
}

/** The policy input judgeScan builds for the single platform of {@link scanOf}. */
function inputOf(scan: ImageScan, repository: string, tag: string | undefined): PolicyInput {
  const p = scan.platforms[0]!;
  return {
    registry: REGISTRY,
    repository,
    tag,
    digest: p.manifestDigest,
    findings: [],
    secrets: p.inventory.secrets,
    config: p.inventory.config,
    diagnostics: p.inventory.diagnostics,
    packages: p.inventory.packages,
    imageConfig: p.config,
    imageSize: 0,
    complete: !p.inventory.diagnostics.some((d) => d.incomplete),
  };
}

/** What the gate stores after the pushes `tags` (in that order): judged by the first, retagged by the rest. */
function storedAfterPushes(policy: CompiledPolicy, scan: ImageScan, repository: string, tags: Array<string | undefined>): Verdict {
  const j = judgeScan(scan, NO_ADVISORIES, policy, { registry: REGISTRY, repository, tag: tags[0] });
  let v: Verdict = summarize(policy, {
    registry: REGISTRY,
    repository,
    digest: DIGEST,
    tags: tags[0] ? [tags[0]] : [],
    decision: 'allow',
    complete: j.report.complete,
    reasons: [],
    mode: 'enforce',
    policy: j.evaluation.policy,
    vulndb: { builtAt: null },
    evaluatedAt: new Date(0).toISOString(),
    evaluations: j.raw,
  });
  for (const t of tags.slice(1)) if (t) v = summarize(policy, { ...v, tags: [...new Set([...v.tags, t])].sort() });
  return v;
}

const TAGS = ['rc-1', 'rc-2', '1.0', '1.0.1', 'v2-dev', 'latest', 'audit-7', 'nightly-dev', 'stable'];
const GLOBS = ['rc-*', '1.*', '*-dev', 'audit-*', 'v*', '*', 'latest', '{rc,audit}-*'];
const arbMapping: fc.Arbitrary<MappingGen> = fc.record(
  {
    tag: fc.constantFrom(...GLOBS),
    repository: fc.constantFrom('team/*', 'other/**', 'team/app'),
    ruleSet: fc.constantFrom('strict', 'lenient', 'quarantining', 'empty'),
    mode: fc.constantFrom<PolicyMode>('enforce', 'warn', 'audit'),
  },
  { requiredKeys: ['ruleSet', 'mode'] },
);
const arbDefault = fc.record({ ruleSet: fc.constantFrom('strict', 'lenient', 'quarantining', 'empty'), mode: fc.constantFrom<PolicyMode>('enforce', 'warn', 'audit') });
const arbImage: fc.Arbitrary<ImageGen> = fc.record({ secret: fc.boolean(), root: fc.boolean(), complete: fc.boolean() });

describe('gate/verdict-view: decision and mode derived per tag', () => {
  it('property: every tag (and the bare digest) gets exactly what evaluate() gives that tag, in any push order', () => {
    fc.assert(
      fc.property(
        fc.array(arbMapping, { maxLength: 6 }),
        arbDefault,
        arbImage,
        fc.constantFrom('team/app', 'other/x/app', 'solo'),
        fc.uniqueArray(fc.constantFrom(...TAGS), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        (mappings, def, img, repository, tags, firstUntagged) => {
          const policy = compilePolicy(policyText(mappings, def), '<prop>');
          const scan = scanOf(img);
          const orders: Array<Array<string | undefined>> = [tags, [...tags].reverse(), firstUntagged ? [undefined, ...tags] : [tags[tags.length - 1]!, ...tags]];
          const stored = orders.map((o) => storedAfterPushes(policy, scan, repository, o));
          for (const ref of [undefined, ...tags]) {
            const want = evaluate(policy, inputOf(scan, repository, ref));
            for (const v of stored) {
              const got = viewOf(policy, v, ref);
              expect(got.basis, `tag ${ref}`).to.equal('evaluation');
              expect({ decision: got.decision, mode: got.mode, ruleSet: got.ruleSet }, `tag ${String(ref)}`).to.deep.equal({ decision: want.decision, mode: want.mode, ruleSet: want.ruleSet });
              expect(got.reasons).to.deep.equal(want.reasons);
            }
          }
          // The stored summary is the strictest of its tags: never laxer than any tag's own view.
          for (const v of stored) {
            const s = viewOf(policy, v, v.tags[0]);
            const views = v.tags.map((t) => viewOf(policy, v, t));
            expect({ decision: v.decision, mode: v.mode }).to.deep.equal({ decision: strictest(views).decision, mode: strictest(views).mode });
            expect(s).to.be.an('object');
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a digest pushed as rc-1 (warn, lenient rule set) and retagged 1.0 (enforce, strict) blocks as 1.0 and warns as rc-1', () => {
    const policy = compilePolicy(policyText([{ tag: 'rc-*', ruleSet: 'lenient', mode: 'warn' }], { ruleSet: 'strict', mode: 'enforce' }), '<example>');
    const v = storedAfterPushes(policy, scanOf({ secret: true, root: false, complete: true }), 'team/app', ['rc-1', '1.0']);
    expect(viewOf(policy, v, 'rc-1')).to.include({ decision: 'warn', mode: 'warn', ruleSet: 'lenient' });
    expect(viewOf(policy, v, '1.0')).to.include({ decision: 'reject', mode: 'enforce', ruleSet: 'strict' });
    expect(viewOf(policy, v)).to.include({ decision: 'reject', mode: 'enforce' });
    expect(v).to.include({ decision: 'reject', mode: 'enforce' });
    const shown = presentVerdict(policy, v, 'rc-1');
    expect(shown).to.include({ decision: 'warn', mode: 'warn' });
    expect(shown.perTag).to.deep.equal({
      '1.0': { decision: 'reject', mode: 'enforce', ruleSet: 'strict', mapping: 'default' },
      'rc-1': { decision: 'warn', mode: 'warn', ruleSet: 'lenient', mapping: 'm0' },
    });
  });

  it('verdicts stored before raw evaluations existed: a warn-mode downgrade is undone from the reasons, an allow (a release) stays', () => {
    const reasons = (action: Decision) => [{ rule: 'secrets', action, message: 'm' }];
    expect(legacyRaw({ decision: 'warn', reasons: reasons('reject') }).decision).to.equal('reject');
    expect(legacyRaw({ decision: 'warn', reasons: reasons('warn') }).decision).to.equal('warn');
    expect(legacyRaw({ decision: 'allow', reasons: [{ rule: 'released', action: 'allow', message: 'r' }, ...reasons('quarantine')] }).decision).to.equal('allow');
    const policy = compilePolicy(policyText([], { ruleSet: 'strict', mode: 'enforce' }), '<legacy>');
    const legacy: Verdict = { registry: REGISTRY, repository: 'a', digest: DIGEST, tags: ['rc-1'], decision: 'warn', complete: true, reasons: reasons('reject'), mode: 'warn', policy: { name: 'p', revision: 'r' }, vulndb: { builtAt: null }, evaluatedAt: '' };
    expect(viewOf(policy, legacy, '1.0')).to.include({ decision: 'reject', mode: 'enforce', basis: 'fallback' });
  });

  it('strictest: a denial beats a warning beats an audit record beats an allow; then the decision rank', () => {
    const v = (decision: Decision, mode: PolicyMode) => ({ decision, mode });
    expect(strictest([v('allow', 'enforce'), v('quarantine', 'audit'), v('warn', 'enforce')])).to.deep.equal(v('warn', 'enforce'));
    expect(strictest([v('warn', 'warn'), v('quarantine', 'enforce')])).to.deep.equal(v('quarantine', 'enforce'));
    expect(strictest([v('quarantine', 'enforce'), v('reject', 'enforce')])).to.deep.equal(v('reject', 'enforce'));
    expect(strictest([v('reject', 'audit'), v('allow', 'enforce')])).to.deep.equal(v('reject', 'audit'));
  });
});
