import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDistributionEnvelope } from '../../../src/webhooks/index.js';
import { isPushgateError } from '../../../src/core/errors.js';

const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/webhooks');
const CAPTURED = path.join(FIX, 'distribution-2.8-captured');

interface Capture {
  scenario: string;
  notifications?: Array<{ headers: Record<string, string>; body: unknown }>;
}

/** Expected outcome per captured scenario, read off each file's note and events by hand. */
const EXPECTED: Record<string, { events: string[]; ignored: Record<string, number>; actor?: string }> = {
  '01-push-single-image': { events: ['push lab/debian-minbase:bookworm@996bc3cab57e'], ignored: { blob: 2 } },
  '02-push-layered-cross-repo-mount': { events: ['push lab/node-app:vuln@1c827b64e543'], ignored: { pull: 1, mount: 1, blob: 2 } },
  '03-push-index-all': {
    events: ['push lab/multiarch@1c827b64e543', 'push lab/multiarch@723efb7a5eba', 'push lab/multiarch:1.0@9e4973f445cf'],
    ignored: { pull: 4, mount: 2, blob: 2 },
  },
  '04-push-index-without-all': { events: ['push lab/multiarch-single:1.0@1c827b64e543'], ignored: { pull: 2, mount: 2, blob: 1 } },
  '05-push-zstd': { events: ['push lab/zstd:1.0@f3fcfc0e71c9'], ignored: { blob: 3 } },
  '06-push-docker-v2s2': { events: ['push lab/node-app-v2s2:vuln@15c8a6a27dc1'], ignored: { pull: 2, mount: 2, blob: 1 } },
  '07-push-docker-manifest-list': {
    events: ['push lab/multiarch-v2s2@15c8a6a27dc1', 'push lab/multiarch-v2s2@da756e06d6b7', 'push lab/multiarch-v2s2:1.0@2ca46709ca44'],
    ignored: { pull: 4, mount: 2, blob: 2 },
  },
  '08-repush-same-tag': { events: ['push lab/node-app:vuln@1c827b64e543'], ignored: { pull: 3 } },
  '09-tag-overwrite': { events: ['push lab/node-app:vuln@996bc3cab57e'], ignored: { pull: 1, blob: 1 } },
  // manifest delete and blob delete look alike in 2.8; the tag delete has no digest
  '10-delete-and-pull': { events: ['delete lab/tar-noeof@e98d034db84e', 'delete lab/tar-noeof@97ace76866c9'], ignored: { pull: 2, 'no-digest': 1 } },
  '11-retry-endpoint-500': { events: [], ignored: { pull: 11 } },
  '12-retry-recovered': { events: ['push lab/retry-test:1@996bc3cab57e'], ignored: { pull: 1, mount: 1, blob: 1 } },
  '13-push-htpasswd-actor': { events: ['push lab/basic:1@996bc3cab57e'], ignored: { blob: 2 }, actor: 'labuser' },
  '14-push-token-actor': { events: ['push lab/tok:1@996bc3cab57e'], ignored: { blob: 2 }, actor: 'labuser' },
  '15-notify-header-ignore-pull': { events: ['push lab/node-app:vuln@1c827b64e543'], ignored: { blob: 3 } },
  '16-push-tar-noeof': { events: ['push lab/tar-noeof:1.0@e98d034db84e'], ignored: { pull: 1, mount: 1, blob: 2 } },
};

function summarize(bodies: unknown[]) {
  const events: string[] = [];
  const ignored: Record<string, number> = {};
  const all = bodies.map((b) => parseDistributionEnvelope(b, 'lab'));
  for (const p of all) {
    for (const e of p.events) events.push(`${e.action} ${e.repository}${e.tag ? `:${e.tag}` : ''}@${e.digest.slice(7, 19)}`);
    for (const i of p.ignored) ignored[i.reason] = (ignored[i.reason] ?? 0) + 1;
  }
  return { events, ignored, all };
}

/**
 * The distribution spec's tag grammar (a word character, then up to 127 word characters, `.` and
 * `-`), written out rather than imported from src/core/names.ts so that its bound is checked too.
 */
const SPEC_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/**
 * Tags of 120 to 140 characters, around the 128 bound: a short tag repeated (it shrinks in a few
 * steps). At fast-check's default size the generated tags stayed near 10 characters.
 */
const nearTagMax = fc.tuple(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,7}$/), fc.integer({ min: 120, max: 140 }))
  .map(([u, n]) => u.repeat(Math.ceil(n / u.length)).slice(0, n));

describe('webhooks/distribution: captured Distribution 2.8 notifications', () => {
  const files = fs.readdirSync(CAPTURED).filter((f) => f.endsWith('.json')).sort();

  it('covers every captured file', () => {
    expect(files.length).to.equal(17);
    const scenarios = files.map((f) => f.replace(/\.json$/, ''));
    for (const s of Object.keys(EXPECTED)) expect(scenarios).to.include(s);
  });

  for (const f of files) {
    const cap = JSON.parse(fs.readFileSync(path.join(CAPTURED, f), 'utf8')) as Capture;
    const exp = EXPECTED[cap.scenario];
    if (!exp) {
      it(`${cap.scenario}: holds no notifications (a probe table)`, () => {
        expect(cap.notifications ?? []).to.have.length(0);
      });
      continue;
    }
    it(`${cap.scenario}: manifest events kept, blobs/pulls/mounts ignored with a reason`, () => {
      const bodies = (cap.notifications ?? []).map((n) => n.body);
      for (const n of cap.notifications ?? []) expect(n.headers['content-type']).to.equal('application/vnd.docker.distribution.events.v1+json');
      const { events, ignored, all } = summarize(bodies);
      expect(events).to.deep.equal(exp.events);
      expect(ignored).to.deep.equal(exp.ignored);
      for (const e of all.flatMap((p) => p.events)) {
        expect(e.source).to.equal('distribution');
        expect(e.registry).to.equal('lab');
        expect(e.id).to.match(/^[0-9a-f-]{36}$/);
        if (exp.actor) expect(e.actor).to.equal(exp.actor);
        else expect(e.actor).to.equal(undefined);
        if (e.action === 'push') {
          expect(e.mediaType).to.match(/^application\/vnd\.(oci|docker)\./);
          expect(e.size).to.be.a('number').greaterThan(0);
          expect(e.targetUrl).to.include(`/v2/${e.repository}/manifests/${e.digest}`);
          expect(e.timestamp).to.match(/^2026-/);
        }
      }
    });
  }

  it('03: the index event carries its references (the child manifests)', () => {
    const cap = JSON.parse(fs.readFileSync(path.join(CAPTURED, '03-push-index-all.json'), 'utf8')) as Capture;
    const parsed = (cap.notifications ?? []).map((n) => parseDistributionEnvelope(n.body, 'lab'));
    const idx = parsed.find((p) => p.events.some((e) => e.tag === '1.0'));
    const ev = idx!.events[0];
    expect(ev.mediaType).to.equal('application/vnd.oci.image.index.v1+json');
    const refs = idx!.references![ev.id];
    expect(refs.map((r) => r.digest.slice(7, 19))).to.have.members(['1c827b64e543', '723efb7a5eba']);
    // observed: 2.8.2 copies no platform into references (protocols.md §1.3 describes 3.x, which does)
    expect(refs.every((r) => r.mediaType === 'application/vnd.oci.image.manifest.v1+json' && r.platform === undefined)).to.equal(true);
  });

  it('a request.useragent of pushgate/… makes no event own traffic (the client chooses it)', () => {
    const cap = JSON.parse(fs.readFileSync(path.join(CAPTURED, '02-push-layered-cross-repo-mount.json'), 'utf8')) as Capture;
    const bodies = (cap.notifications ?? []).map((n) => n.body);
    const before = summarize(bodies);
    expect(before.events).to.have.length(1);
    // the same envelopes with pushgate's User-Agent (and a foreign Host) on every request: the same result
    const spoofed = bodies.map((b) => JSON.parse(JSON.stringify(b).replaceAll(/"useragent":"[^"]*"/g, '"useragent":"pushgate/1.0.0"').replaceAll(/"host":"[^"]*"/g, '"host":"pushgate.internal"')));
    expect(JSON.stringify(spoofed)).to.include('pushgate/1.0.0');
    expect(summarize(spoofed)).to.deep.equal(before);
    expect(before.ignored['own-traffic']).to.equal(undefined);
  });
});

describe('webhooks/distribution: v2 envelopes (Distribution 3.x, from its sources)', () => {
  it('parses the v3 manifest and index examples', () => {
    for (const f of ['distribution-push-manifest.json', 'distribution-push-index.json']) {
      const body = JSON.parse(fs.readFileSync(path.join(FIX, f), 'utf8'));
      const p = parseDistributionEnvelope(body, 'prod');
      expect(p.events, f).to.have.length(1);
      expect(p.events[0]).to.include({ action: 'push', repository: 'team/app', registry: 'prod', actor: 'ci-bot' });
      expect(p.ignored).to.deep.equal([]);
    }
    const idx = parseDistributionEnvelope(JSON.parse(fs.readFileSync(path.join(FIX, 'distribution-push-index.json'), 'utf8')), 'prod');
    expect(idx.events[0]).to.include({ tag: '1.4.2', mediaType: 'application/vnd.oci.image.index.v1+json', size: 1609 });
    expect(idx.references![idx.events[0].id]).to.have.length(3);
  });

  it('treats v3 empty strings and zero sizes as absent (tag delete, blob delete)', () => {
    const env = {
      events: [
        { id: 'a', action: 'delete', target: { mediaType: '', digest: '', size: 0, repository: 'team/app', tag: 'old' }, request: {}, actor: {} },
        { id: 'b', action: 'delete', target: { mediaType: '', digest: `sha256:${'a'.repeat(64)}`, size: 0, repository: 'team/app' }, request: {}, actor: {} },
        { id: 'c', action: 'push', target: { mediaType: 'application/octet-stream', digest: `sha256:${'b'.repeat(64)}`, size: 10, repository: 'team/app' } },
        { id: 'd', action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 0, repository: 'team/app', tag: '' } },
      ],
    };
    const p = parseDistributionEnvelope(env, 'r');
    expect(p.ignored.map((i) => [i.id, i.reason])).to.deep.equal([
      ['a', 'no-digest'],
      ['c', 'blob'],
    ]);
    expect(p.events.map((e) => [e.id, e.action, e.tag, e.size])).to.deep.equal([
      ['b', 'delete', undefined, undefined],
      ['d', 'push', undefined, undefined],
    ]);
  });

  it('several events per envelope, each kept or ignored on its own', () => {
    const m = (id: string, action: string, extra: Record<string, unknown> = {}) => ({
      id,
      action,
      target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${id.repeat(64)}`, repository: 'x/y', ...extra },
    });
    const p = parseDistributionEnvelope({ events: [m('1', 'push', { tag: 't' }), m('2', 'pull'), m('3', 'frobnicate'), 'junk', m('4', 'push', { digest: 'sha256:zz' }), m('5', 'push', { repository: undefined })] }, 'r');
    expect(p.events.map((e) => e.id)).to.deep.equal(['1']);
    expect(p.ignored.map((i) => i.reason)).to.deep.equal(['pull', 'unsupported-action', 'malformed', 'bad-digest', 'no-repository']);
  });

  it('throws BAD_ARGUMENT only for a body without an events array', () => {
    for (const bad of [null, undefined, 'x', 42, [], {}, { events: {} }, { events: 'no' }]) {
      let err: unknown;
      try {
        parseDistributionEnvelope(bad, 'r');
      } catch (e) {
        err = e;
      }
      expect(isPushgateError(err, 'BAD_ARGUMENT'), JSON.stringify(bad)).to.equal(true);
    }
    expect(parseDistributionEnvelope({ events: [] }, 'r')).to.deep.equal({ events: [], ignored: [] });
  });
});

describe('webhooks/distribution: a push whose tag the registry could not store is a push by digest', () => {
  const digest = `sha256:${'ab'.repeat(32)}`;
  const push = (tag: string) => ({ events: [{ id: 'e1', action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', repository: 'team/app', digest, size: 500, tag } }] });

  // Distribution 2.8 routes `/v2/<name>/manifests/<reference>` for any reference matching the tag grammar
  // OR go-digest's DigestRegexp; one that digest.Parse refuses is taken for a tag. The manifest is stored
  // and the push notified with that "tag" before the tag link (a path with ":") fails: seen on the lab
  // registry, test/security/digest-pushes.test.ts.
  it('foo:bar, sha256:<upper-case hex>, md5:… → the event is kept, without the tag', () => {
    for (const tag of ['foo:bar', `sha256:${'AB'.repeat(32)}`, 'sha256:short', `md5:${'ab'.repeat(16)}`]) {
      const out = parseDistributionEnvelope(push(tag), 'lab');
      expect(out.events, tag).to.have.length(1);
      expect(out.events[0]).to.include({ action: 'push', repository: 'team/app', digest });
      expect(out.events[0]!.tag, tag).to.equal(undefined);
    }
  });

  it('property: every reference the registry routes keeps its event; the tag survives iff it is a tag', () => {
    const lower = fc.stringMatching(/^[a-z0-9]{1,8}$/);
    // go-digest DigestRegexp: [a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+
    const digestLike = fc
      .tuple(fc.array(lower, { minLength: 1, maxLength: 3 }), fc.constantFrom('.', '+', '_', '-'), fc.stringMatching(/^[a-zA-Z0-9=_-]{1,80}$/))
      .map(([parts, sep, enc]) => `${parts.join(sep)}:${enc}`);
    const tagLike = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,140}$/), nearTagMax);
    fc.assert(
      fc.property(fc.oneof(digestLike, tagLike), (ref) => {
        const out = parseDistributionEnvelope(push(ref), 'lab');
        expect(out.events).to.have.length(1);
        expect(out.events[0]!.digest).to.equal(digest);
        expect(out.events[0]!.tag).to.equal(SPEC_TAG.test(ref) ? ref : undefined);
      }),
      { numRuns: 500 },
    );
  });
});
