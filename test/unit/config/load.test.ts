/**
 * loadConfig: defaults, the file search order, ${VAR} substitution, units, relative paths, and every
 * problem located as FILE:LINE:COL: KEY: message.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, defaultConfig, formatProblem, loadConfig, parseConfigText } from '../../../src/config/load.js';
import { parseListen } from '../../../src/server/serve.js';
import { ROOT } from '../../helpers/lab.js';

const FIX = path.join(ROOT, 'test/fixtures/config');
const ENV = { PORT: '18080', HOOK_TOKEN: 'hook-secret-0123456789', REG_PASSWORD: 'p@ss ${not-a-var}', VIEWER_TOKEN: 'viewer-token-0123456789', JWT_SECRET: 'jwt-secret-of-at-least-thirty-two-bytes' };

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    const ce = e as ConfigError;
    expect(ce.code).to.equal('BAD_CONFIG');
    // The message lists the same lines.
    for (const p of ce.problems) expect(ce.message).to.include(formatProblem(p));
    return ce.problems.map(formatProblem);
  }
  expect.fail('expected a ConfigError');
}

describe('config: loadConfig', () => {
  let tmp: string;
  let cwd: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-config-'));
    cwd = process.cwd();
  });
  afterEach(() => {
    process.chdir(cwd);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('without a file, PUSHGATE_CONFIG or config/pushgate.yaml, returns the built-in defaults', () => {
    process.chdir(tmp);
    const c = loadConfig(undefined, {});
    expect(c).to.deep.equal(defaultConfig());
    expect(c.source).to.equal('<built-in>');
    expect(c.store.url).to.equal('sqlite:./data/pushgate.db');
    expect(c.vulndb.path).to.equal('./data/vulndb.sqlite');
    expect(c.vulndb.sources.every((s) => s.startsWith('https://osv-vulnerabilities.storage.googleapis.com/'))).to.equal(true);
    expect(c.policy).to.equal(undefined);
  });

  it('search order: argument, then PUSHGATE_CONFIG, then config/pushgate.yaml', () => {
    process.chdir(tmp);
    fs.mkdirSync('config');
    fs.writeFileSync('config/pushgate.yaml', 'log:\n  level: warn\n');
    fs.writeFileSync('env.yaml', 'log:\n  level: error\n');
    fs.writeFileSync('arg.yaml', 'log:\n  level: trace\n');
    expect(loadConfig(undefined, {}).log.level).to.equal('warn');
    expect(loadConfig(undefined, { PUSHGATE_CONFIG: 'env.yaml' }).log.level).to.equal('error');
    expect(loadConfig('arg.yaml', { PUSHGATE_CONFIG: 'env.yaml' }).log.level).to.equal('trace');
    expect(loadConfig(undefined, {}).source).to.equal(path.join(fs.realpathSync(tmp), 'config/pushgate.yaml'));
  });

  it('config/pushgate.yaml documents the built-in defaults exactly (plus policy: policy.yaml)', () => {
    const c = loadConfig(path.join(ROOT, 'config/pushgate.yaml'), {});
    expect(c.policy).to.equal(path.join(ROOT, 'config/policy.yaml'));
    expect({ ...c, source: '<built-in>', policy: undefined }).to.deep.equal(defaultConfig());
  });

  it('config/pushgate.yaml mentions every key of the schema', () => {
    const text = fs.readFileSync(path.join(ROOT, 'config/pushgate.yaml'), 'utf8');
    const documented = ['listen', 'bodyLimit', 'publicUrl', 'level', 'url', 'aliases', 'path', 'sources', 'ecosystems', 'updateInterval', 'workers', 'tmpDir', 'tmpDirLimit', 'maxManifestSize', 'deadline', 'limits', 'layers', 'entriesPerLayer', 'layerSize', 'ratio', 'lockFileSize', 'packageDbSize', 'name', 'type', 'insecure', 'auth', 'username', 'password', 'dockerConfig', 'ca', 'clientCert', 'clientKey', 'webhook', 'token', 'previousTokens', 'quarantine', 'repositoryPrefix', 'project', 'label', 'concurrency', 'timeout', 'policy', 'tokens', 'jwt', 'secret', 'publicKey', 'issuer', 'audience', 'tls', 'cert', 'key', 'namespaces', 'match', 'unknown', 'unguarded', 'unpinnedTags', 'exemptions', 'images', 'digestCacheTtl', 'upstream', 'onTimeout', 'onError', 'format', 'events', 'headers'];
    const missing = documented.filter((k) => !new RegExp(`(^|[\\s#-])${k}:`, 'm').test(text));
    expect(missing).to.deep.equal([]);
  });

  it('loads a full file: env substitution, units, defaults, paths relative to the file', () => {
    const c = loadConfig(path.join(FIX, 'full.yaml'), ENV);
    expect(c.server).to.deep.equal({ listen: '127.0.0.1:18080', bodyLimitBytes: 2 * 1024 ** 2, readTimeoutMs: 30_000, publicUrl: 'https://pushgate.example.test' });
    expect(c.store.url).to.equal('sqlite:./data/test.db'); // ${STORE_URL:-…} default
    expect(c.vulndb.updateIntervalMs).to.equal(90 * 60_000);
    expect(c.vulndb.sources).to.deep.equal([path.join(FIX, 'osv-mirror'), 'https://osv.example.test/npm/all.zip']);
    expect(c.vulndb.path).to.equal('./data/v.sqlite'); // state paths stay relative to the working directory
    expect(c.scan).to.deep.equal({ workers: 4, tmpDir: './data/tmp', tmpDirLimitBytes: 536870912, maxManifestBytes: 1_500_000, deadlineMs: defaultConfig().scan.deadlineMs, limits: defaultConfig().scan.limits });
    const [local, secure] = c.registries;
    expect(local).to.deep.equal({
      name: 'local',
      url: 'http://127.0.0.1:5000',
      type: 'distribution',
      insecure: false,
      webhook: { token: 'hook-secret-0123456789' },
      quarantine: { repositoryPrefix: 'quarantine/' },
      concurrency: 4,
      timeoutMs: 500,
    });
    expect(secure.ca).to.equal(path.join(FIX, 'sub/ca.pem'));
    expect(secure.auth).to.deep.equal({ username: 'robot$pushgate', password: 'p@ss ${not-a-var}' });
    expect(secure.quarantine).to.deep.equal({ repositoryPrefix: 'q/', project: 'quarantine' });
    expect([secure.type, secure.insecure, secure.concurrency, secure.timeoutMs]).to.deep.equal(['harbor', true, 8, 30_000]);
    expect(c.policy).to.equal(path.join(FIX, 'sub/policy.yaml'));
    expect(c.api).to.deep.equal({ tokens: ['viewer-token-0123456789'], jwt: { secret: 'jwt-secret-of-at-least-thirty-two-bytes' } });
    expect(c.admission.unguarded).to.equal('deny');
    expect(c.admission.unpinnedTags).to.equal('deny'); // not in the file: the default
    expect(c.admission.digestCacheTtlMs).to.equal(120_000);
    expect(c.admission.exemptions).to.deep.equal({ namespaces: ['kube-system'], images: [] });
    expect(c.proxy).to.deep.equal({ listen: '127.0.0.1:5001', upstream: 'http://127.0.0.1:5000', timeoutMs: 3_600_000, onTimeout: 'allow', onError: 'reject', bodyTimeoutMs: 30_000, maxHeldManifests: 16 });
    expect(c.notify).to.deep.equal([{ url: 'https://hooks.example.test/x', format: 'slack', events: ['quarantine', 'reject', 'new-findings'] }]);
  });

  it('a plain ${VAR} takes the YAML type of its value; a quoted one stays a string', () => {
    const c = parseConfigText('scan:\n  workers: ${W}\nregistries:\n  - name: r\n    url: http://h:1\n    insecure: ${I}\n', path.join(tmp, 'x.yaml'), { W: '3', I: 'false' });
    expect(c.scan.workers).to.equal(3);
    expect(c.registries[0].insecure).to.equal(false);
    const lines = problems(() => parseConfigText('scan:\n  workers: "${W}"\n', path.join(tmp, 'x.yaml'), { W: '3' }));
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/:2:12: scan\.workers: must be a whole number \(got string "3"\)$/);
  });

  it('an unset ${VAR} is an error at its line and column, and is not also reported as malformed', () => {
    const file = path.join(tmp, 'p.yaml');
    fs.writeFileSync(file, 'store:\n  url: ${DB_URL}\nregistries:\n  - name: r\n    url: http://h:1\n    webhook:\n      token: "x-${TOKEN}"\n');
    const lines = problems(() => loadConfig(file, {}));
    expect(lines).to.deep.equal([
      `${file}:2:8: store.url: environment variable DB_URL is not set (set it, or write \${DB_URL:-default})`,
      `${file}:7:14: registries[0].webhook.token: environment variable TOKEN is not set (set it, or write \${TOKEN:-default})`,
    ]);
  });

  it('registries[].aliases: normalized; a malformed alias, or a name that reaches two registries, is an error at its line', () => {
    const f = path.join(tmp, 'a.yaml');
    const c = parseConfigText('registries:\n  - name: r\n    url: http://127.0.0.1:5000\n    aliases: [REGISTRY.Lab.test.:05000, lab.example.test]\n', f, {});
    expect(c.registries[0].aliases).to.deep.equal(['registry.lab.test:5000', 'lab.example.test']);
    const lines = problems(() =>
      parseConfigText(
        [
          'registries:',
          '  - name: a',
          '    url: http://127.0.0.1:5000',
          '    aliases: ["http://x.test", "x_y.test", "ok.test:70000"]',
          '  - name: b',
          '    url: https://registry.example.test',
          '    aliases: ["localhost:5000"]',
          '  - name: c',
          '    url: https://REGISTRY.example.test:443',
          '',
        ].join('\n'),
        f,
        {},
      ),
    );
    expect(lines.map((l) => l.split(': ')[0].replace(`${f}:`, ''))).to.have.members(['4:15', '4:32', '4:44', '3:10', '6:10', '7:15', '9:10']);
    expect(lines.join('\n')).to.match(/registries\[1\]\.aliases\[0\]: localhost:5000 also reaches registries "a"/);
    expect(lines.join('\n')).to.match(/registries\[2\]\.url: registry\.example\.test(:443)? also reaches registries "b"/);
    expect(lines.join('\n')).to.match(/registries\[0\]\.aliases\[0\]: host "http:\/\/x\.test".*without scheme or path/);
  });

  it('unknown keys are errors, at the key, with the allowed keys', () => {
    const file = path.join(tmp, 'u.yaml');
    fs.writeFileSync(file, 'server:\n  listen: 0.0.0.0:1\n  port: 1\nregistry: []\n');
    expect(problems(() => loadConfig(file, {}))).to.deep.equal([
      `${file}:3:3: server.port: unknown key (allowed here: listen, bodyLimit, readTimeout, publicUrl)`,
      `${file}:4:1: registry: unknown key (allowed here: server, metrics, log, store, vulndb, scan, registries, policy, api, admission, proxy, queue, enforcement, vex, publish, harborAdapter, reconcile, baseImages, notify)`,
    ]);
  });

  it('property: a listen address takes ports 0 to 65535 only; a larger one is a problem at its key, not a failed listen()', () => {
    const keys = [
      ['server', ''], ['metrics', ''], ['admission', '  allowUnauthenticated: true\n'], ['proxy', '  upstream: http://127.0.0.1:5000\n'],
    ] as const;
    const reg = 'registries:\n  - name: r\n    url: http://127.0.0.1:5000\n    webhook: { token: t-0123456789abcdef }\n';
    const host = fc.constantFrom('', '0.0.0.0', '127.0.0.1', 'localhost', '[::1]', '[::]');
    fc.assert(
      fc.property(fc.constantFrom(...keys), host, fc.integer({ min: 0, max: 99_999 }), fc.boolean(), ([key, extra], h, port, padded) => {
        // a port of up to four digits written with leading zeros (0080) is still accepted
        const spelled = padded && port < 10_000 ? String(port).padStart(4, '0') : String(port);
        const text = `${reg}${key}:\n  listen: "${h}:${spelled}"\n${extra}`;
        const f = path.join(tmp, 'listen.yaml');
        if (port <= 65_535) {
          const c = parseConfigText(text, f, {}) as unknown as Record<string, { listen: string }>;
          expect(c[key].listen).to.equal(`${h}:${spelled}`);
        } else {
          const lines = problems(() => parseConfigText(text, f, {}));
          expect(lines).to.have.length(1);
          expect(lines[0]).to.include(`${key}.listen: must be host:port with a port from 0 to 65535`);
        }
      }),
      { numRuns: 400 },
    );
    expect(() => parseListen('127.0.0.1:65536')).to.throw(/port from 0 to 65535/);
    expect(parseListen('[::1]:65535')).to.deep.equal({ host: '::1', port: 65535 });
  });

  it('the message\'s first line counts the problems in words that fit the count', () => {
    const problem = { file: 'c.yaml', line: 1, col: 1, key: 'server', message: 'm' };
    expect(new ConfigError([problem]).message.split('\n')[0]).to.equal('invalid configuration (1 problem); fix it and retry');
    expect(new ConfigError([problem, problem]).message.split('\n')[0]).to.equal('invalid configuration (2 problems); fix them and retry');
  });

  it('reports every problem of a bad file at once, in line order', () => {
    const lines = problems(() => loadConfig(path.join(FIX, 'bad-many.yaml'), {}));
    const f = 'test/fixtures/config/bad-many.yaml';
    expect(lines.map((l) => l.split(': ').slice(0, 2).join(': '))).to.deep.equal([
      `${f}:2:11: server.listen`,
      `${f}:3:14: server.bodyLimit`,
      `${f}:4:1: storage`,
      `${f}:7:19: vulndb.updateInterval`,
      `${f}:10:10: registries[0].url`,
      `${f}:12:14: registries[0].webhook.token`,
      `${f}:13:11: registries[1].name`,
      `${f}:15:9: registries[1].ca`,
      `${f}:16:5: registries[1].extra`,
      `${f}:17:9: policy`,
    ]);
    expect(lines[3]).to.include('must be a duration with a unit');
    expect(lines[6]).to.include('duplicate registry name');
    expect(lines[7]).to.include('no-such-ca.pem does not exist');
  });

  it('checks what the schema cannot: shared webhook tokens, proxy upstream, insecure with http://, mTLS pairs', () => {
    const file = path.join(tmp, 'c.yaml');
    fs.writeFileSync(
      file,
      [
        'registries:',
        '  - name: a',
        '    url: http://a:5000',
        '    insecure: true',
        '    webhook: { token: same-token-0123456789 }',
        '  - name: b',
        '    url: https://b',
        '    webhook: { token: same-token-0123456789 }',
        '    clientCert: c.yaml',
        'proxy:',
        '  listen: 127.0.0.1:5001',
        '  upstream: http://elsewhere:5000',
        '',
      ].join('\n'),
    );
    const lines = problems(() => loadConfig(file, {}));
    expect(lines.map((l) => l.split(': ')[1])).to.deep.equal([
      'registries[0].insecure',
      'registries[1].webhook.token',
      'registries[1].clientCert',
      'proxy.upstream',
    ]);
  });

  it('webhook.previousTokens (a rotation): loaded, and checked like token: unique across registries, not repeated, only beside a token', () => {
    const file = path.join(tmp, 'rot.yaml');
    const write = (lines: string[]) => fs.writeFileSync(file, ['registries:', ...lines, ''].join('\n'));
    write(['  - name: a', '    url: http://a:5000', '    webhook: { token: new-a-token-0123456789, previousTokens: [old-a-token-0123456789, older-a-token-0123456789] }']);
    expect(loadConfig(file, {}).registries[0].webhook).to.deep.equal({ token: 'new-a-token-0123456789', previousTokens: ['old-a-token-0123456789', 'older-a-token-0123456789'] });
    write([
      '  - name: a',
      '    url: http://a:5000',
      '    webhook: { token: new-a-token-0123456789, previousTokens: [old-a-token-0123456789, new-a-token-0123456789] }',
      '  - name: b',
      '    url: http://b:5000',
      '    webhook: { token: new-b-token-0123456789, previousTokens: [old-a-token-0123456789] }',
      '  - name: c',
      '    url: http://c:5000',
      '    webhook: { previousTokens: [old-c-token-0123456789] }',
    ]);
    const lines = problems(() => loadConfig(file, {}));
    expect(lines.map((l) => l.split(': ').slice(1).join(': '))).to.deep.equal([
      'registries[0].webhook.previousTokens[1]: this webhook token is listed twice for this registry: keep the new one in token and only old ones in previousTokens',
      'registries[1].webhook.previousTokens[0]: same webhook token as registries[0]: the token identifies the sender, give each registry its own',
      'registries[2].webhook.previousTokens: previousTokens is for a rotation: set token to the new token too',
    ]);
  });

  it('YAML syntax errors and unreadable files are problems, not crashes', () => {
    const file = path.join(tmp, 's.yaml');
    fs.writeFileSync(file, 'server:\n  listen: [\n');
    expect(problems(() => loadConfig(file, {}))[0]).to.match(/s\.yaml:\d+:\d+: \(document\): YAML syntax/);
    expect(problems(() => loadConfig(path.join(tmp, 'none.yaml'), {}))).to.deep.equal([`${tmp}/none.yaml: (file): cannot read the configuration: file not found (named by the command line, looked for at ${tmp}/none.yaml); name an existing file, or name none to run on the built-in defaults`]);
    // Named by the environment: the message says so (a stale PUSHGATE_CONFIG is the usual surprise).
    expect(problems(() => loadConfig(undefined, { PUSHGATE_CONFIG: path.join(tmp, 'gone.yaml') }))[0]).to.include('(named by PUSHGATE_CONFIG, looked for at');
  });

  it('an alias without an anchor is a problem at the alias (FILE:LINE:COL), not a crash', () => {
    const file = path.join(tmp, 'alias.yaml');
    fs.writeFileSync(file, 'log:\n  level: info\nscan:\n  workers: *nope\n');
    expect(problems(() => loadConfig(file, {}))).to.deep.equal([
      `${file}:4:12: scan.workers: YAML alias *nope names no anchor: define &nope before this alias, or write the value out (quoted, if it is no alias)`,
    ]);
    // An anchor defined after its alias does not count: YAML reads top to bottom.
    fs.writeFileSync(file, 'registries:\n  - *reg\n  - &reg { name: r, url: http://h:1 }\n');
    expect(problems(() => loadConfig(file, {}))).to.deep.equal([
      `${file}:2:5: registries[0]: YAML alias *reg names no anchor: define &reg before this alias, or write the value out (quoted, if it is no alias)`,
    ]);
  });

  it('a ${VAR} whose value looks like a YAML alias stays a string', () => {
    const lines = problems(() => parseConfigText('scan:\n  workers: ${W}\n', path.join(tmp, 'x.yaml'), { W: '*x' }));
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/:2:12: scan\.workers: must be a whole number \(got string "\*x"\)$/);
  });

  it('enforcement.untaggedGrace: a duration, 60s by default, 0s acts at once; a bare number is an error at its line', () => {
    const f = path.join(tmp, 'g.yaml');
    expect(parseConfigText('log:\n  level: info\n', f, {}).enforcement?.untaggedGraceMs).to.equal(60_000);
    expect(parseConfigText('enforcement:\n  untaggedGrace: 5s\n', f, {}).enforcement?.untaggedGraceMs).to.equal(5_000);
    expect(parseConfigText('enforcement:\n  untaggedGrace: 0s\n', f, {}).enforcement?.untaggedGraceMs).to.equal(0);
    const lines = problems(() => parseConfigText('enforcement:\n  untaggedGrace: 30\n', f, {}));
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/:2:\d+: enforcement\.untaggedGrace: must be a duration/);
  });

  it('property: a missing input file says how a relative path was resolved, and only for a relative path', () => {
    // Every key whose file is checked at load: each gets an absolute, a `~/` or a relative path.
    const KEYS = ['policy', 'registries[0].ca', 'vulndb.sources[0]', 'admission.signatures.trustedRoot'] as const;
    const segment = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,11}$/).filter((x) => x !== '..');
    const spec = fc.record({ kind: fc.constantFrom('absolute', 'home', 'relative', 'dot', 'parent'), segs: fc.array(segment, { minLength: 1, maxLength: 3 }) });
    const written = (s: { kind: string; segs: string[] }): string => {
      const rest = s.segs.join('/');
      // below a directory that does not exist, wherever it is resolved
      if (s.kind === 'absolute') return `/pushgate-absent-dir/${rest}`;
      if (s.kind === 'home') return `~/pushgate-absent-dir/${rest}`;
      if (s.kind === 'dot') return `./pushgate-absent-dir/${rest}`;
      if (s.kind === 'parent') return `../pushgate-absent-dir/${rest}`;
      return `pushgate-absent-dir/${rest}`;
    };
    const file = path.join(tmp, 'paths.yaml');
    fc.assert(
      fc.property(fc.tuple(spec, spec, spec, spec), (specs) => {
        const [policy, ca, source, root] = specs.map(written).map((p) => JSON.stringify(p));
        const text = `policy: ${policy}\nregistries:\n  - name: r\n    url: http://h:1\n    ca: ${ca}\nvulndb:\n  sources: [${source}]\nadmission:\n  signatures:\n    trustedRoot: ${root}\n`;
        const lines = problems(() => parseConfigText(text, file, {}));
        KEYS.forEach((key, i) => {
          const line = lines.filter((l) => l.includes(` ${key}: `));
          expect(line, key).to.have.length(1);
          expect(line[0], key).to.include(' does not exist');
          const relative = !['absolute', 'home'].includes(specs[i].kind);
          expect(line[0].endsWith(` does not exist (paths are relative to ${file})`), `${key}: ${line[0]}`).to.equal(relative);
          if (!relative) expect(line[0], key).to.match(/ does not exist$/);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('an empty file and sections whose keys are all commented out mean defaults', () => {
    const file = path.join(tmp, 'e.yaml');
    fs.writeFileSync(file, '# nothing\n');
    expect({ ...loadConfig(file, {}), source: '<built-in>' }).to.deep.equal(defaultConfig());
    fs.writeFileSync(file, 'metrics:\n  # listen: 1\nnotify:\n');
    expect({ ...loadConfig(file, {}), source: '<built-in>' }).to.deep.equal(defaultConfig());
  });
});

describe('config: a policy document given as the configuration', () => {
  it('property: any document whose top-level kind is Policy is one problem saying what it is and where it goes, whatever else it holds', () => {
    const key = fc.constantFrom('apiVersion', 'metadata', 'spec', 'server', 'store', 'registries', 'x');
    fc.assert(fc.property(fc.uniqueArray(key, { maxLength: 5 }), fc.boolean(), (keys, kindFirst) => {
      const rest = keys.map((k) => `${k}: {}`);
      const text = (kindFirst ? ['kind: Policy', ...rest] : [...rest, 'kind: Policy']).join('\n');
      try {
        parseConfigText(text, '/etc/pushgate/policy.yaml');
        expect.fail('a policy document must be refused as a configuration');
      } catch (e) {
        expect(e).to.be.instanceOf(ConfigError);
        const problems = (e as ConfigError).problems;
        expect(problems).to.have.length(1);
        expect(problems[0].message).to.include('/etc/pushgate/policy.yaml is a policy document (kind: Policy), not a pushgate configuration');
        expect(problems[0].message).to.include('`policy:` key');
      }
    }), { numRuns: 100 });
    // the shipped policy, as a user gives it to --config
    expect(() => loadConfig(path.join(ROOT, 'config/policy.yaml'))).to.throw(ConfigError, /is a policy document \(kind: Policy\)/);
    // another kind is a configuration with an unknown key, as before
    expect(() => parseConfigText('kind: Other\n', '/x.yaml')).to.throw(ConfigError, /unknown key/);
  });
});

describe('config: the container image configuration (config/container.yaml)', () => {
  const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

  it('is what the image copies to the path PUSHGATE_CONFIG names', () => {
    const env = /PUSHGATE_CONFIG=(\S+)/.exec(dockerfile);
    expect(env, 'Dockerfile sets PUSHGATE_CONFIG').to.not.equal(null);
    expect(dockerfile).to.match(new RegExp(`^COPY config/container\\.yaml ${env![1].replace(/[.]/g, '\\.')}$`, 'm'));
  });

  it('loads to the built-in defaults but for the state paths, which are on the image volumes', () => {
    const volumes = JSON.parse(/^VOLUME (\[.*\])$/m.exec(dockerfile)![1]) as string[];
    const c = loadConfig(path.join(ROOT, 'config/container.yaml'), {});
    const d = defaultConfig();
    const state = [c.store.url.replace(/^sqlite:/, ''), c.vulndb.path, c.scan.tmpDir];
    for (const p of state) {
      expect(path.isAbsolute(p), p).to.equal(true);
      expect(volumes.some((v) => p === v || p.startsWith(`${v}/`)), `${p} on a volume (${volumes.join(', ')})`).to.equal(true);
    }
    const strip = (x: typeof c) => ({ ...x, source: '', store: { ...x.store, url: '' }, vulndb: { ...x.vulndb, path: '' }, scan: { ...x.scan, tmpDir: '' } });
    expect(strip(c)).to.deep.equal(strip(d));
  });
});
