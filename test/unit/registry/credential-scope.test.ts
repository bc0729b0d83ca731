/**
 * The credential scope's rules as tables, each case asserted both ways: which URLs are the
 * registry's origin, which token realms are admitted (configured, pinned on first use, https only
 * except loopback labs), and which redirects are followed. The end-to-end proof is
 * test/security/credentials.test.ts.
 */
import { expect } from 'chai';
import { CredentialScope, checkRedirect, isLoopbackHostname, originOf } from '../../../src/registry/auth/credential-scope.js';

describe('registry/auth/credential-scope: the registry origin', () => {
  const same: Array<[string, string]> = [
    ['https://reg.example.test', 'https://REG.example.test/v2/'],
    ['https://reg.example.test', 'https://reg.example.test:443/v2/x'],
    ['https://reg.example.test:5000', 'HTTPS://reg.example.test:05000/v2/'],
    ['http://127.0.0.1:5000', 'http://127.1:5000/v2/'],
    ['http://127.0.0.1:5000', 'http://0x7f.0.0.1:5000/v2/'],
    ['http://127.0.0.1:5000', 'http://2130706433:5000/v2/'],
    ['http://[::1]:5000', 'http://[0:0::1]:5000/v2/'],
  ];
  const other: Array<[string, string]> = [
    ['https://reg.example.test', 'http://reg.example.test/v2/'],
    ['https://reg.example.test', 'https://reg.example.test:444/v2/'],
    ['https://reg.example.test', 'https://reg.example.test./v2/'],
    ['https://reg.example.test', 'https://storage.reg.example.test/v2/'],
    ['https://reg.example.test', 'https://example.test/v2/'],
    ['http://127.0.0.1:5000', 'http://localhost:5000/v2/'],
    ['http://127.0.0.1:5000', 'http://[::1]:5000/v2/'],
    ['http://127.0.0.1:5000', 'http://127.0.0.2:5000/v2/'],
    ['http://127.0.0.1:5000', 'http://127.0.0.1:5001/v2/'],
    ['http://127.0.0.1:5000', 'ftp://127.0.0.1:5000/v2/'],
    ['http://127.0.0.1:5000', 'data:text/plain,x'],
  ];
  for (const [reg, url] of same) it(`${url} is ${reg}`, () => expect(new CredentialScope('r', reg).isRegistry(url)).to.equal(true));
  for (const [reg, url] of other) it(`${url} is not ${reg}`, () => expect(new CredentialScope('r', reg).isRegistry(url)).to.equal(false));

  it('origins and loopback names', () => {
    expect(originOf('HTTP://A.test:80/x')).to.equal('http://a.test');
    expect(originOf('file:///etc/passwd')).to.equal(undefined);
    expect(originOf('not a url')).to.equal(undefined);
    for (const h of ['127.0.0.1', '127.9.9.9', '[::1]', 'localhost']) expect(isLoopbackHostname(h), h).to.equal(true);
    for (const h of ['128.0.0.1', 'localhost.example', '[::2]', 'example.test']) expect(isLoopbackHostname(h), h).to.equal(false);
  });
});

describe('registry/auth/credential-scope: token realms', () => {
  it('trust on first use: the first realm the registry announces is pinned, another origin is refused', () => {
    const s = new CredentialScope('r', 'https://reg.example.test');
    expect(s.isAdmittedRealm('https://auth.example.test/token')).to.equal(false);
    expect(s.admitRealm('https://auth.example.test/token')).to.deep.equal({ ok: true, origin: 'https://auth.example.test' });
    expect(s.isAdmittedRealm('https://AUTH.example.test:443/other')).to.equal(true);
    expect(s.admitRealm('https://auth.example.test/v2/token')).to.deep.include({ ok: true });
    const moved = s.admitRealm('https://evil.example.test/token');
    expect(moved.ok).to.equal(false);
    expect(!moved.ok && moved.reason).to.match(/first announced realm was https:\/\/auth\.example\.test.*registries\[r\]\.auth\.realms/);
    expect(s.isAdmittedRealm('https://evil.example.test/token')).to.equal(false);
    // the refusal did not move the pin
    expect(s.isAdmittedRealm('https://auth.example.test/token')).to.equal(true);
  });

  it('an https registry never admits a plain-http realm announced to it', () => {
    for (const realm of ['http://auth.example.test/token', 'http://127.0.0.1:9000/token']) {
      const s = new CredentialScope('r', 'https://reg.example.test');
      const d = s.admitRealm(realm);
      expect(d.ok, realm).to.equal(false);
      expect(!d.ok && d.reason).to.match(/plain http/);
    }
  });

  it('a plain-http registry admits an http realm only when both are on loopback', () => {
    expect(new CredentialScope('r', 'http://127.0.0.1:5000').admitRealm('http://127.0.0.1:5001/token').ok).to.equal(true);
    expect(new CredentialScope('r', 'http://localhost:5000').admitRealm('http://[::1]:5001/token').ok).to.equal(true);
    expect(new CredentialScope('r', 'http://127.0.0.1:5000').admitRealm('http://auth.example.test/token').ok).to.equal(false);
    expect(new CredentialScope('r', 'http://reg.internal:5000').admitRealm('http://127.0.0.1:5001/token').ok).to.equal(false);
    expect(new CredentialScope('r', 'http://reg.internal:5000').admitRealm('https://auth.internal/token').ok).to.equal(true);
  });

  it('configured realms are the only ones, announced first or not', () => {
    const s = new CredentialScope('r', 'https://reg.example.test', ['https://auth.example.test/token', 'https://auth2.example.test']);
    expect(s.isAdmittedRealm('https://auth2.example.test/token')).to.equal(true);
    const d = s.admitRealm('https://other.example.test/token');
    expect(d.ok).to.equal(false);
    expect(!d.ok && d.reason).to.match(/not in registries\[r\]\.auth\.realms \(https:\/\/auth\.example\.test, https:\/\/auth2\.example\.test\)/);
    expect(s.admitRealm('https://auth.example.test/token').ok).to.equal(true);
    expect(s.admitRealm('https://auth2.example.test/token').ok).to.equal(true);
    // an http realm may be configured for a plain-http registry (the explicit choice of plain HTTP)
    expect(new CredentialScope('r', 'http://reg.internal:5000', ['http://auth.internal/token']).admitRealm('http://auth.internal/token').ok).to.equal(true);
  });

  it('bad realms: not a URL, other schemes, user info, http for https (config)', () => {
    const s = new CredentialScope('r', 'https://reg.example.test');
    expect(s.admitRealm('not a url').ok).to.equal(false);
    expect(s.admitRealm('ftp://auth.example.test/token').ok).to.equal(false);
    expect(s.admitRealm('https://u:p@auth.example.test/token').ok).to.equal(false);
    expect(() => new CredentialScope('r', 'https://reg.example.test', ['http://auth.example.test/token'])).to.throw(/plain http for an https registry/);
    expect(() => new CredentialScope('r', 'https://reg.example.test', ['auth.example.test'])).to.throw(/is not an http\(s\) URL/);
  });
});

describe('registry/auth/credential-scope: redirects', () => {
  const followed: Array<[string, string, string, string]> = [
    ['https://reg.test/v2/a/blobs/x', 'https://s3.test/b?sig=1', 'GET', 'https://s3.test/b?sig=1'],
    ['https://reg.test/v2/a/blobs/x', '/other', 'HEAD', 'https://reg.test/other'],
    ['http://127.0.0.1:1/v2/', 'https://127.0.0.1:2/x', 'GET', 'https://127.0.0.1:2/x'],
    ['https://reg.test/v2/a/blobs/uploads/', '/v2/a/blobs/uploads/u1', 'POST', 'https://reg.test/v2/a/blobs/uploads/u1'],
  ];
  for (const [from, loc, method, want] of followed) {
    it(`${method} ${from} → ${loc} is followed`, () => expect(checkRedirect(from, loc, method)).to.deep.equal({ ok: true, url: want }));
  }
  const refused: Array<[string, string, string, RegExp]> = [
    ['https://reg.test/v2/a/blobs/x', 'http://s3.test/b', 'GET', /https to plain http/],
    ['https://reg.test/v2/a/blobs/x', 'http://reg.test/v2/a/blobs/x', 'GET', /https to plain http/],
    ['https://reg.test/v2/a/blobs/x', 'data:text/plain,hello', 'GET', /data: URL/],
    ['https://reg.test/v2/a/blobs/x', 'file:///etc/passwd', 'GET', /file: URL/],
    ['https://reg.test/v2/a/blobs/x', 'https://u:p@reg.test/x', 'GET', /user info/],
    ['https://reg.test/v2/a/manifests/t', 'https://other.test/x', 'PUT', /PUT redirected to another origin/],
    ['https://reg.test/v2/a/blobs/uploads/', 'https://other.test/x', 'POST', /POST redirected/],
    ['https://reg.test/v2/a/blobs/x', 'http://[bad', 'GET', /not a URL/],
  ];
  for (const [from, loc, method, why] of refused) {
    it(`${method} ${from} → ${loc} is refused`, () => {
      const d = checkRedirect(from, loc, method);
      expect(d.ok).to.equal(false);
      expect(!d.ok && d.reason).to.match(why);
    });
  }
});
