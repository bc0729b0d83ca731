import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHarborPayload, authenticateSender, identifySender } from '../../../src/webhooks/index.js';
import { isPushgateError } from '../../../src/core/errors.js';

// Harbor cannot run here: these payloads are written from goharbor/harbor's notifier sources
// (see test/fixtures/webhooks/README.md).
const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/webhooks');
const load = (f: string) => JSON.parse(fs.readFileSync(path.join(FIX, f), 'utf8')) as Record<string, unknown>;
const D = 'sha256:aa042b851685f8718cbf3f5866cc6d6b0165bbfb93ac6a9386092a5a676cf32c';

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

describe('webhooks/harbor', () => {
  it('Default PUSH_ARTIFACT by tag → push event', () => {
    const p = parseHarborPayload(load('harbor-push-artifact.json'), 'application/json', 'harbor');
    expect(p.ignored).to.deep.equal([]);
    expect(p.events).to.have.length(1);
    expect(p.events[0]).to.deep.include({
      source: 'harbor',
      registry: 'harbor',
      action: 'push',
      repository: 'team/app',
      digest: D,
      tag: '1.4.2',
      actor: 'robot$team+ci',
      timestamp: new Date(1773067466 * 1000).toISOString(),
      targetUrl: 'harbor.example.test/team/app:1.4.2',
    });
    expect(p.events[0].id).to.match(/^harbor:[0-9a-f]{32}$/);
  });

  it('CloudEvents payload gives the same event as Default, each delivery an event of its own', () => {
    const def = parseHarborPayload(load('harbor-push-artifact.json'), 'application/json', 'harbor');
    const ce = parseHarborPayload(load('harbor-push-artifact-cloudevents.json'), 'application/cloudevents+json', 'harbor');
    expect(ce.events).to.have.length(1);
    expect({ ...ce.events[0], id: '' }).to.deep.equal({ ...def.events[0], id: '' });
  });

  it('property: two deliveries of identical bytes (a redelivery, or a re-push in the same second) are never one event', () => {
    // Harbor's payloads carry no event id and whole seconds: the store queues an id once, so an id
    // derived from the payload dropped a blocked artifact's re-push right after its removal.
    fc.assert(
      fc.property(fc.boolean(), fc.constantFrom('PUSH_ARTIFACT', 'DELETE_ARTIFACT'), fc.integer({ min: 0, max: 2 ** 31 }), fc.boolean(), (cloud, type, occurAt, byDigest) => {
        const body = load(cloud ? 'harbor-push-artifact-cloudevents.json' : 'harbor-push-artifact.json');
        if (cloud) {
          body.type = type === 'PUSH_ARTIFACT' ? 'harbor.artifact.pushed' : 'harbor.artifact.deleted';
          body.time = new Date(occurAt * 1000).toISOString();
        } else {
          body.type = type;
          body.occur_at = occurAt;
        }
        if (byDigest) ((cloud ? body.data : body.event_data) as { resources: Array<Record<string, string>> }).resources[0] = { digest: D, tag: D };
        const ct = cloud ? 'application/cloudevents+json' : 'application/json';
        const a = parseHarborPayload(structuredClone(body), ct, 'h').events[0]!;
        const b = parseHarborPayload(structuredClone(body), ct, 'h').events[0]!;
        expect(a.id).to.match(/^harbor:[0-9a-f]{32}$/);
        expect(a.id).to.not.equal(b.id);
        expect({ ...a, id: '' }).to.deep.equal({ ...b, id: '' });
      }),
    );
  });

  it('push by digest: the digest sits in tag → no tag', () => {
    const body = load('harbor-push-artifact.json');
    const ed = body.event_data as { resources: Array<Record<string, string>> };
    ed.resources[0] = { digest: D, tag: D, resource_url: `harbor.example.test/team/app@${D}` };
    const p = parseHarborPayload(body, 'application/json', 'h');
    expect(p.events[0].tag).to.equal(undefined);
    expect(p.events[0].digest).to.equal(D);
    // and when Harbor omits `digest`, the digest in `tag` is used
    ed.resources[0] = { tag: D };
    expect(parseHarborPayload(body, 'application/json', 'h').events[0].digest).to.equal(D);
  });

  it('DELETE_ARTIFACT → delete; PULL_ARTIFACT, quota and replication events → ignored', () => {
    const body = load('harbor-push-artifact.json');
    body.type = 'DELETE_ARTIFACT';
    expect(parseHarborPayload(body, 'application/json', 'h').events[0].action).to.equal('delete');
    body.type = 'PULL_ARTIFACT';
    expect(parseHarborPayload(body, undefined, 'h').ignored.map((i) => i.reason)).to.deep.equal(['pull']);
    body.type = 'QUOTA_EXCEED';
    expect(parseHarborPayload(body, undefined, 'h').ignored.map((i) => i.reason)).to.deep.equal(['unsupported-action']);
    const ce = load('harbor-push-artifact-cloudevents.json');
    ce.type = 'harbor.artifact.deleted';
    expect(parseHarborPayload(ce, 'application/cloudevents+json', 'h').events[0].action).to.equal('delete');
  });

  it('SCANNING_COMPLETED is recorded as a scan-event with the parsed summary', () => {
    const p = parseHarborPayload(load('harbor-scanning-completed.json'), 'application/json', 'h');
    expect(p.events).to.deep.equal([]);
    expect(p.ignored).to.have.length(1);
    const i = p.ignored[0];
    expect(i).to.include({ reason: 'scan-event', action: 'SCANNING_COMPLETED', repository: 'team/app', tag: '1.4.2' });
    expect(i.digest).to.match(/^sha256:dd1a4d/);
    expect(i.scan).to.deep.equal([
      {
        reportType: 'application/vnd.security.vulnerability.report; version=1.1',
        status: 'Success',
        severity: 'Critical',
        total: 27,
        fixable: 19,
        bySeverity: { Critical: 3, High: 6, Medium: 11, Low: 7 },
        scanner: { name: 'Trivy', vendor: 'Aqua Security', version: 'v0.58.2' },
        scanType: 'vulnerability',
      },
    ]);
    // a scheduled "scan all" payload with "scan": {} and no overview (goharbor/harbor#22212)
    const bare = load('harbor-scanning-completed.json');
    const ed = bare.event_data as Record<string, unknown>;
    ed.scan = {};
    delete (ed.resources as Array<Record<string, unknown>>)[0].scan_overview;
    bare.type = 'SCANNING_FAILED';
    expect(parseHarborPayload(bare, 'application/json', 'h').ignored[0]).to.deep.include({ reason: 'scan-event', scan: [] });
  });

  it('repository from namespace/name or resource_url when repo_full_name is missing', () => {
    const body = load('harbor-push-artifact.json');
    const ed = body.event_data as Record<string, unknown>;
    ed.repository = { name: 'sub/app', namespace: 'team' };
    expect(parseHarborPayload(body, undefined, 'h').events[0].repository).to.equal('team/sub/app');
    delete ed.repository;
    expect(parseHarborPayload(body, undefined, 'h').events[0].repository).to.equal('team/app');
  });

  it('throws BAD_ARGUMENT for non-objects and bodies without a type', () => {
    for (const bad of [null, 'x', [], {}, { event_data: {} }, { specversion: '1.0', data: {} }]) {
      let err: unknown;
      try {
        parseHarborPayload(bad, 'application/json', 'h');
      } catch (e) {
        err = e;
      }
      expect(isPushgateError(err, 'BAD_ARGUMENT'), JSON.stringify(bad)).to.equal(true);
    }
  });
});

describe('webhooks/harbor: a tag the registry cannot store is no tag (the push is judged by digest)', () => {
  const withTag = (type: 'PUSH_ARTIFACT' | 'DELETE_ARTIFACT', tag: string) => ({
    type, occur_at: 1773067466, operator: 'ci',
    event_data: { resources: [{ digest: D, tag, resource_url: `harbor.example.test/team/app:${tag}` }], repository: { name: 'app', namespace: 'team', repo_full_name: 'team/app' } },
  });
  const cloud = (tag: string) => ({ specversion: '1.0', id: 'x', type: 'harbor.artifact.pushed', time: '2026-03-09T14:44:26Z', operator: 'ci', data: withTag('PUSH_ARTIFACT', tag).event_data });

  it('foo:bar, sha256:<upper case>, 129 characters, a leading dot or dash, spaces, non-ASCII word letters → the event is kept, without the tag', () => {
    for (const tag of ['foo:bar', `sha256:${'AB'.repeat(32)}`, `a${'b'.repeat(128)}`, '.hidden', '-x', 'a b', 'é', 'a/b', 'v1@x']) {
      for (const [label, p] of [['default push', parseHarborPayload(withTag('PUSH_ARTIFACT', tag), 'application/json', 'h')], ['default delete', parseHarborPayload(withTag('DELETE_ARTIFACT', tag), 'application/json', 'h')], ['cloudevents', parseHarborPayload(cloud(tag), 'application/cloudevents+json', 'h')]] as const) {
        expect(p.events, `${label} ${tag}`).to.have.length(1);
        expect(p.events[0]).to.include({ repository: 'team/app', digest: D });
        expect(p.events[0]!.tag, `${label} ${tag}`).to.equal(undefined);
      }
    }
  });

  it('property: every payload keeps its event and digest; the tag survives iff it is in the tag grammar', () => {
    const tagLike = fc.stringMatching(/^[A-Za-z0-9_.:@ -]{1,140}$/);
    fc.assert(
      fc.property(fc.oneof(tagLike, fc.string({ minLength: 1, maxLength: 140 }), fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,140}$/), nearTagMax), fc.boolean(), (tag, ce) => {
        const p = ce ? parseHarborPayload(cloud(tag), 'application/cloudevents+json', 'h') : parseHarborPayload(withTag('PUSH_ARTIFACT', tag), 'application/json', 'h');
        expect(p.events).to.have.length(1);
        expect(p.events[0]!.digest).to.equal(D);
        expect(p.events[0]!.tag).to.equal(SPEC_TAG.test(tag) && !tag.startsWith('sha256:') ? tag : undefined);
      }),
      { numRuns: 500 },
    );
  });
});

describe('webhooks/auth: authenticateSender', () => {
  const regs = [
    { name: 'a', webhook: { token: 'token-a' } },
    { name: 'none', webhook: {} },
    { name: 'b', webhook: { token: 'token-b-longer' } },
  ];
  it('returns the registry whose token is presented', () => {
    expect(authenticateSender('Bearer token-a', regs)).to.equal('a');
    expect(authenticateSender('bearer   token-b-longer ', regs)).to.equal('b');
    // Harbor sends auth_header verbatim: a bare secret works too
    expect(authenticateSender('token-b-longer', regs)).to.equal('b');
  });
  it('refuses missing, empty, wrong and prefix tokens', () => {
    for (const h of [undefined, '', 'Bearer ', 'Bearer token-', 'Bearer token-a2', 'Basic dG9rZW4tYQ==', 'Bearer TOKEN-A']) {
      expect(authenticateSender(h, regs), String(h)).to.equal(undefined);
    }
    expect(authenticateSender('Bearer x', [{ name: 'n', webhook: {} }])).to.equal(undefined);
  });
  it('during a rotation accepts the token and every previous token, says which, and nothing else (property)', () => {
    const tok = fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/);
    fc.assert(
      fc.property(fc.uniqueArray(tok, { minLength: 2, maxLength: 8 }), fc.integer({ min: 0, max: 3 }), tok, (all, nPrev, other) => {
        // registry r owns all[0] (token) and the next nPrev (previous); s owns the rest as its token and previous tokens
        const prev = all.slice(1, 1 + nPrev);
        const rest = all.slice(1 + nPrev);
        const rs = [{ name: 'r', webhook: { token: all[0], previousTokens: prev } }, { name: 's', webhook: { token: rest[0], previousTokens: rest.slice(1) } }];
        expect(identifySender(`Bearer ${all[0]}`, rs)).to.deep.equal({ registry: 'r', previous: false });
        for (const p of prev) expect(identifySender(`Bearer ${p}`, rs)).to.deep.equal({ registry: 'r', previous: true });
        if (rest.length) expect(identifySender(`Bearer ${rest[0]}`, rs)).to.deep.equal({ registry: 's', previous: false });
        for (const p of rest.slice(1)) expect(identifySender(p, rs)).to.deep.equal({ registry: 's', previous: true });
        if (!all.includes(other)) expect(identifySender(`Bearer ${other}`, rs)).to.equal(undefined);
      }),
      { numRuns: 300 },
    );
  });
});
