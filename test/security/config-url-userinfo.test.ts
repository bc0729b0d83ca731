/**
 * A URL of the configuration that holds user info (`https://user:password@host`) is refused where the
 * configuration is read, naming the key and never the URL: pushgate never sends such a credential (the
 * registry client takes the URL's origin only, so the registry answered 401 to an unauthenticated client;
 * Node's fetch refuses such a notify URL), and the URL was shown where credentials never go: the proxy's
 * `proxy: listening` log line and the Harbor adapter's `/metadata` (`org.pushgate/registries`).
 *
 * Real components: `pushgate serve` as a child process (it must refuse to start and say nothing of the
 * password); the configuration parser for the property over generated user info, keys and spellings.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { ROOT } from '../helpers/lab.js';

const TOKEN = '0123456789abcdef0123456789abcdef';

/** A configuration whose registry, proxy upstream and notify target URLs are the given ones. */
function configText(dir: string, o: { registry: string; upstream?: string; notify?: string }): string {
  return [
    'server:', '  listen: 127.0.0.1:0',
    'store:', `  url: sqlite:${dir}/pushgate.db`,
    'vulndb:', `  path: ${dir}/vulndb.sqlite`, '  sources: []',
    ...(o.upstream ? ['proxy:', '  listen: 127.0.0.1:0', `  upstream: ${JSON.stringify(o.upstream)}`] : []),
    ...(o.notify ? ['notify:', `  - url: ${JSON.stringify(o.notify)}`] : []),
    'registries:', '  - name: lab', `    url: ${JSON.stringify(o.registry)}`, '    webhook:', `      token: ${TOKEN}`,
    '',
  ].join('\n');
}

function problemsOf(text: string, file: string): string {
  try {
    parseConfigText(text, file, {});
    return '';
  } catch (e) {
    return `${(e as Error).message}\n${JSON.stringify((e as { details?: unknown }).details ?? {})}`;
  }
}

const secretArb = fc.stringMatching(/^[A-Za-z0-9_~!$&'()*+,;=%-]{10,30}$/).map((s) => `Pw${s}`);

describe('security: configuration URLs with user info', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-url-userinfo-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('property: a registry, proxy upstream or notify URL with user info is refused, naming the key and not the secret', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('registry', 'notify'),
        fc.constantFrom('http', 'https'),
        fc.stringMatching(/^[a-z][a-z0-9._-]{0,10}$/),
        secretArb,
        fc.constantFrom('user:pass', 'user-only', 'pass-only', 'at-in-pass'),
        fc.constantFrom('127.0.0.1:5000', 'registry.example.test', '[::1]:5443'),
        (where, scheme, user, secret, shape, host) => {
          const info = shape === 'user:pass' ? `${user}:${secret}` : shape === 'user-only' ? secret : shape === 'pass-only' ? `:${secret}` : `${user}:${secret}@x`;
          const dirty = `${scheme}://${info}@${host}`;
          const clean = `${scheme}://${host}`;
          const file = path.join(dir, 'pushgate.yaml');
          const text = where === 'registry'
            ? configText(dir, { registry: dirty, upstream: dirty })
            : configText(dir, { registry: clean, notify: `${dirty}/hook` });
          const out = problemsOf(text, file);
          expect(out, dirty).to.match(/user info/);
          expect(out).to.match(where === 'registry' ? /registries\.0\.url|registries\[0\]\.url|registries.*url/ : /notify.*url/);
          expect(out).not.to.include(secret);
          // the same configuration without the user info is accepted on that account
          const ok = where === 'registry' ? configText(dir, { registry: clean, upstream: clean }) : configText(dir, { registry: clean, notify: `${clean}/hook` });
          expect(problemsOf(ok, file)).not.to.match(/user info/);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('an @ outside the authority (path, query, fragment) is no user info', () => {
    const file = path.join(dir, 'pushgate.yaml');
    for (const notify of ['https://hooks.example.test/a@b', 'https://hooks.example.test/x?to=a@b', 'https://hooks.example.test/#a@b']) {
      expect(problemsOf(configText(dir, { registry: 'http://127.0.0.1:5000', notify }), file), notify).not.to.match(/user info/);
    }
  });

  it('pushgate serve refuses such a configuration and never prints the password', () => {
    const secret = 'RegistryPasswordInUrl42';
    const file = path.join(dir, 'serve.yaml');
    fs.writeFileSync(file, configText(dir, { registry: `http://robot:${secret}@127.0.0.1:9`, upstream: `http://robot:${secret}@127.0.0.1:9` }));
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), 'serve', '--config', file], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.match(/user info/);
    expect(`${r.stdout}${r.stderr}`).not.to.include(secret);
  });
});
