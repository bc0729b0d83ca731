/**
 * Credentials from the files container tools write (src/registry/auth/auth-files.ts): key forms as
 * Docker and containers-auth.json(5) read them, most specific namespace first, first file wins,
 * credential helpers reported and never run.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findRegistryCredentials, parseAuthKey, type AuthFile } from '../../../src/registry/auth/auth-files.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('registry/auth: credential files', () => {
  let dir: string;
  const write = (name: string, j: unknown): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, JSON.stringify(j));
    return f;
  };
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-authfiles-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keys: URLs lose scheme and path; Docker keys are hosts; containers keys keep their namespace; hosts normalized', () => {
    expect(parseAuthKey('https://index.docker.io/v1/', 'docker')).to.deep.equal({ host: 'docker.io', path: '' });
    expect(parseAuthKey('https://index.docker.io/v1/', 'containers')).to.deep.equal({ host: 'docker.io', path: '' });
    expect(parseAuthKey('Registry.Example.:05000/team/app', 'docker')).to.deep.equal({ host: 'registry.example:5000', path: '' });
    expect(parseAuthKey('registry.example:5000/team/app/', 'containers')).to.deep.equal({ host: 'registry.example:5000', path: 'team/app' });
    expect(parseAuthKey('http://127.1:5000/v2/', 'containers')).to.deep.equal({ host: '127.0.0.1:5000', path: '' });
    expect(parseAuthKey('not a host', 'docker')).to.equal(undefined);
  });

  it('containers-auth.json: the most specific key covering the repository wins; a sibling namespace never matches', () => {
    const f = write('auth.json', {
      auths: {
        'reg.example': { auth: b64('host:h') },
        'reg.example/team': { auth: b64('team:t') },
        'reg.example/team/app': { auth: b64('app:a') },
        'reg.example/teamx': { auth: b64('teamx:x') },
      },
    });
    const files: AuthFile[] = [{ path: f, format: 'containers' }];
    expect(findRegistryCredentials(files, 'reg.example', 'team/app').credentials).to.deep.equal({ username: 'app', password: 'a' });
    expect(findRegistryCredentials(files, 'reg.example', 'team/app/sub').credentials).to.deep.equal({ username: 'app', password: 'a' });
    expect(findRegistryCredentials(files, 'reg.example', 'team/other').credentials).to.deep.equal({ username: 'team', password: 't' });
    expect(findRegistryCredentials(files, 'reg.example', 'teamy/app').credentials).to.deep.equal({ username: 'host', password: 'h' });
    expect(findRegistryCredentials(files, 'REG.example.', 'teamx').credentials).to.deep.equal({ username: 'teamx', password: 'x' });
    expect(findRegistryCredentials(files, 'reg.example:5000', 'team/app').credentials).to.equal(undefined);
    // In a Docker config.json the same keys are hosts: the repository plays no part
    const d = write('config.json', { auths: { 'reg.example/team/app': { auth: b64('d:1') } } });
    expect(findRegistryCredentials([{ path: d, format: 'docker' }], 'reg.example', 'other/repo').credentials).to.deep.equal({ username: 'd', password: '1' });
  });

  it('files in order: the first file with a credential wins; entries without one ({} beside a store) are passed over', () => {
    const first = write('first.json', { auths: { 'reg.example': {} } });
    const second = write('second.json', { auths: { 'https://reg.example/v1/': { username: 'u', password: 'p', identitytoken: 'rt' } } });
    const third = write('third.json', { auths: { 'reg.example': { auth: b64('late:x') } } });
    const r = findRegistryCredentials([{ path: first, format: 'containers' }, { path: second, format: 'docker' }, { path: third, format: 'docker' }], 'reg.example');
    expect(r.credentials).to.deep.equal({ username: 'u', password: 'p', identityToken: 'rt' });
    expect(r.source).to.deep.equal({ file: second, key: 'https://reg.example/v1/' });
  });

  it('credential helpers are reported, never run: credHelpers for the host, else credsStore', () => {
    const helpers = write('helpers.json', { auths: { 'reg.example': {} }, credHelpers: { 'reg.example': 'pass', 'other.example': 'ecr-login' }, credsStore: 'desktop' });
    const store = write('store.json', { credsStore: 'desktop' });
    const r = findRegistryCredentials([{ path: helpers, format: 'docker' }, { path: store, format: 'docker' }], 'reg.example');
    expect(r.credentials).to.equal(undefined);
    expect(r.helpers).to.deep.equal([
      { file: helpers, program: 'docker-credential-pass', via: 'credHelpers' },
      { file: store, program: 'docker-credential-desktop', via: 'credsStore' },
    ]);
  });

  it('a malformed auth value is BAD_CONFIG naming the file and key, never the value; bad JSON names the file', () => {
    const f = write('bad.json', { auths: { 'reg.example': { auth: b64('no-colon-s3cret') } } });
    expect(() => findRegistryCredentials([{ path: f, format: 'containers' }], 'reg.example')).to.throw(/bad\.json: auths\["reg\.example"\]\.auth is not base64 of "user:password"/).and.satisfy((e: Error) => !e.message.includes('s3cret'));
    fs.writeFileSync(f, '{nope');
    expect(() => findRegistryCredentials([{ path: f, format: 'containers' }], 'reg.example')).to.throw(/containers auth file .*bad\.json is not valid JSON/);
  });
});
