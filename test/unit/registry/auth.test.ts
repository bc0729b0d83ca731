import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseChallenges, parseScope, mergeScopes, scopesCover } from '../../../src/registry/auth/challenge.js';
import { normalizeAuthKey, readDockerConfigCredentials } from '../../../src/registry/auth/docker-config.js';
import { Authenticator, type AuthSend } from '../../../src/registry/auth/authenticator.js';
import { CredentialScope } from '../../../src/registry/auth/credential-scope.js';
import { backoffDelay, parseRetryAfter } from '../../../src/registry/transport.js';
import { nextLink, referrersTag } from '../../../src/registry/client.js';
import { redactUrl, parseErrorBody } from '../../../src/registry/errors.js';

describe('registry/auth: WWW-Authenticate and scopes', () => {
  const cases: Array<[string, Array<{ scheme: string; params: Record<string, string> }>]> = [
    [
      'Bearer realm="https://auth.example.test/token",service="registry.example.test",scope="repository:team/app:pull,push"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.example.test/token', service: 'registry.example.test', scope: 'repository:team/app:pull,push' } }],
    ],
    [
      'Bearer realm="https://h/service/token",service="harbor-registry",scope="repository:a/b:pull repository:c/d:pull",error="insufficient_scope"',
      [{ scheme: 'bearer', params: { realm: 'https://h/service/token', service: 'harbor-registry', scope: 'repository:a/b:pull repository:c/d:pull', error: 'insufficient_scope' } }],
    ],
    ['Basic realm="lab-registry"', [{ scheme: 'basic', params: { realm: 'lab-registry' } }]],
    [
      'Basic realm="a, b", Bearer realm="x\\"y",service=svc',
      [
        { scheme: 'basic', params: { realm: 'a, b' } },
        { scheme: 'bearer', params: { realm: 'x"y', service: 'svc' } },
      ],
    ],
    ['Negotiate abc123==', [{ scheme: 'negotiate', params: { token68: 'abc123==' } }]],
    ['', []],
  ];
  for (const [h, want] of cases) {
    it(`parses ${h || '(empty)'}`, () => expect(parseChallenges(h)).to.deep.equal(want));
  }

  it('scopes: names with a port, merging, coverage', () => {
    expect(parseScope('repository:localhost:5000/team/app:pull,push')).to.deep.equal({ type: 'repository', name: 'localhost:5000/team/app', actions: ['pull', 'push'] });
    expect(parseScope('nonsense')).to.equal(undefined);
    expect(mergeScopes(['repository:b:push', 'repository:a:pull', 'repository:b:pull repository:a:pull'])).to.deep.equal(['repository:a:pull', 'repository:b:pull,push']);
    expect(scopesCover(['repository:a:pull,push'], ['repository:a:push'])).to.equal(true);
    expect(scopesCover(['repository:a:pull'], ['repository:a:push'])).to.equal(false);
    expect(scopesCover(['registry:catalog:*'], ['registry:catalog:list'])).to.equal(true);
  });
});

describe('registry/auth: Docker config.json', () => {
  it('normalizes keys like the Docker CLI', () => {
    expect(normalizeAuthKey('https://index.docker.io/v1/')).to.equal('docker.io');
    expect(normalizeAuthKey('HTTP://Reg.Example:5000/v2/')).to.equal('reg.example:5000');
    expect(normalizeAuthKey('reg.example')).to.equal('reg.example');
  });
  it('reads auth, username/password, identitytoken; missing host → undefined; bad JSON → BAD_CONFIG', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-dc-'));
    const f = path.join(dir, 'config.json');
    fs.writeFileSync(
      f,
      JSON.stringify({
        auths: {
          'https://reg.example:5000': { auth: Buffer.from('u:p:with:colons').toString('base64') },
          'tok.example': { identitytoken: 'rt' },
        },
        credsStore: 'desktop',
      }),
    );
    expect(readDockerConfigCredentials(f, 'reg.example:5000')).to.deep.equal({ username: 'u', password: 'p:with:colons' });
    expect(readDockerConfigCredentials(f, 'tok.example')).to.deep.equal({ identityToken: 'rt' });
    expect(readDockerConfigCredentials(f, 'other')).to.equal(undefined);
    fs.writeFileSync(f, '{nope');
    expect(() => readDockerConfigCredentials(f, 'x')).to.throw(/not valid JSON/);
    expect(() => readDockerConfigCredentials(path.join(dir, 'missing.json'), 'x')).to.throw(/cannot read Docker config/);
  });
});

describe('registry/auth: token cache and renewal', () => {
  function setup(tokenBody: (n: number) => Record<string, unknown>) {
    let now = 1_000_000;
    const calls: Array<{ method: string; url: string; body?: string }> = [];
    const send: AuthSend = async (r) => {
      calls.push({ method: r.method, url: r.url, body: r.body?.toString() });
      return { status: 200, headers: {}, body: Buffer.from(JSON.stringify(tokenBody(calls.length))) };
    };
    const a = new Authenticator({ registry: 'r', credentials: () => ({ username: 'u', password: 'p' }), send, scope: new CredentialScope('r', 'https://registry.test'), now: () => now });
    a.onUnauthorized(parseChallenges('Bearer realm="https://auth.test/token",service="svc"'), [], false);
    return { a, calls, advance: (ms: number) => (now += ms) };
  }

  it('caches per scope set and renews before expires_in runs out', async () => {
    const { a, calls, advance } = setup((n) => ({ token: `t${n}`, expires_in: 300 }));
    expect(await a.header(['repository:x:pull'])).to.equal('Bearer t1');
    expect(await a.header(['repository:x:pull'])).to.equal('Bearer t1');
    expect(await a.header(['repository:y:pull'])).to.equal('Bearer t2');
    advance(269_000); // 300 s minus the 30 s margin, not yet
    expect(await a.header(['repository:x:pull'])).to.equal('Bearer t1');
    advance(2_000);
    expect(await a.header(['repository:x:pull'])).to.equal('Bearer t3');
    expect(calls).to.have.length(3);
    const u = new URL(calls[0].url);
    expect(u.searchParams.get('service')).to.equal('svc');
    expect(u.searchParams.getAll('scope')).to.deep.equal(['repository:x:pull']);
  });

  it('short or missing expires_in counts as 60 s; access_token is accepted', async () => {
    const { a, calls, advance } = setup((n) => ({ access_token: `a${n}`, expires_in: 5 }));
    expect(await a.header([])).to.equal('Bearer a1');
    advance(50_000);
    expect(await a.header([])).to.equal('Bearer a1');
    advance(5_000);
    expect(await a.header([])).to.equal('Bearer a2');
    expect(calls).to.have.length(2);
  });

  it('a refresh_token from the server is used with the POST grant next time', async () => {
    const { a, calls, advance } = setup((n) => ({ access_token: `a${n}`, expires_in: 60, refresh_token: 'rt-1' }));
    await a.header(['repository:x:pull']);
    advance(61_000);
    await a.header(['repository:x:pull']);
    expect(calls.map((c) => c.method)).to.deep.equal(['GET', 'POST']);
    const form = new URLSearchParams(calls[1].body);
    expect(Object.fromEntries(form)).to.deep.equal({ grant_type: 'refresh_token', refresh_token: 'rt-1', client_id: 'pushgate', service: 'svc', scope: 'repository:x:pull' });
  });

  it('concurrent requests share one token fetch', async () => {
    const { a, calls } = setup((n) => ({ token: `t${n}` }));
    const hs = await Promise.all(Array.from({ length: 10 }, () => a.header(['repository:x:pull'])));
    expect(new Set(hs)).to.deep.equal(new Set(['Bearer t1']));
    expect(calls).to.have.length(1);
  });
});

describe('registry: small helpers', () => {
  it('Retry-After in seconds or as a date; backoff grows, is jittered and capped', () => {
    expect(parseRetryAfter('3')).to.equal(3000);
    expect(parseRetryAfter(new Date(Date.now() + 10_000).toUTCString())).to.be.within(8000, 10_000);
    expect(parseRetryAfter('soon')).to.equal(undefined);
    expect(backoffDelay(0, 100, 10_000, () => 0)).to.equal(50);
    expect(backoffDelay(3, 100, 10_000, () => 1)).to.equal(800);
    expect(backoffDelay(20, 100, 10_000, () => 1)).to.equal(10_000);
  });
  it('Link next is resolved against the request URL', () => {
    expect(nextLink('</v2/a/tags/list?last=b&n=2>; rel="next"', 'https://r.test/v2/a/tags/list?n=2')).to.equal('https://r.test/v2/a/tags/list?last=b&n=2');
    expect(nextLink('<https://r.test/x>; rel="prev"', 'https://r.test/')).to.equal(undefined);
    expect(nextLink(undefined, 'https://r.test/')).to.equal(undefined);
  });
  it('referrers fallback tag, URL redaction, error bodies', () => {
    expect(referrersTag(`sha256:${'ab'.repeat(32)}`)).to.equal(`sha256-${'ab'.repeat(32)}`);
    expect(redactUrl('https://u:p@s3.test/b?X-Amz-Signature=abc&part=1')).to.equal('https://s3.test/b?X-Amz-Signature=REDACTED&part=1');
    expect(parseErrorBody('<html>')).to.deep.equal([]);
    expect(parseErrorBody('{"errors":[{"code":"DENIED","message":"m","detail":{"x":1}}]}')).to.deep.equal([{ code: 'DENIED', message: 'm', detail: { x: 1 } }]);
  });
});
