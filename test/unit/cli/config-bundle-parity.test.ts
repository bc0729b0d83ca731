/**
 * The command line's bundle (dist/chunks/cli.cjs, scripts/build.mjs) carries its own copy of the yaml
 * package and the validator generated from the configuration schema, run under a code cache. A
 * configuration the validator of the sources (ajv compiling the schema at run time, as under tsx) refuses
 * must be refused by the bundle too, with the same problems, and one it accepts accepted: a fast-check
 * property over generated configuration documents (values of the wrong type, out of range, malformed
 * durations, sizes, addresses and URLs, unknown keys, non-ASCII text), each given to the real CLI
 * (`pushgate scan --config FILE`, the run with a configuration file, through the code cache) and to
 * parseConfigText in this process.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isConfigError } from '../../../src/config/errors.js';
import { parseConfigText } from '../../../src/config/load.js';
import { ROOT } from '../../helpers/lab.js';

const text = fc.oneof(
  fc.constantFrom('0.0.0.0:8080', '[::1]:9090', '127.0.0.1:99999', 'nope', '30s', '5m', '1h', '14d', '30 s', '1e3s', '-5s', '512MiB', '2GB', '1 ZiB', '-1', 'info', 'loud', 'sqlite:./x.db', 'postgres://u@h/db', 'mysql://x', 'https://r.example', 'ftp://x', 'javascript:alert(1)', 'a', '-bad', 'ａ', 'é', '８０', 'distribution', 'harbor', 'tag', ''),
  fc.string({ maxLength: 12 }),
);
const value: fc.Arbitrary<unknown> = fc.oneof(text, fc.integer({ min: -3, max: 70_000 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.array(text, { maxLength: 2 }));
const registry = fc.record(
  { name: value, url: value, type: value, insecure: value, concurrency: value, webhook: fc.oneof(fc.record({ token: value }, { requiredKeys: [] }), value), quarantine: fc.record({ repositoryPrefix: value, remove: value, retention: value }, { requiredKeys: [] }), bogus: value },
  { requiredKeys: [] },
);
const documentArb = fc.record(
  {
    server: fc.record({ listen: value, bodyLimit: value, readTimeout: value, publicUrl: value }, { requiredKeys: [] }),
    metrics: fc.record({ listen: value, repositoryDepth: value }, { requiredKeys: [] }),
    log: fc.record({ level: value }, { requiredKeys: [] }),
    store: fc.record({ url: value, connectTimeout: value }, { requiredKeys: [] }),
    reconcile: fc.oneof(fc.record({ interval: value }, { requiredKeys: [] }), value),
    registries: fc.oneof(fc.array(registry, { maxLength: 2 }), value),
    unknownKey: value,
  },
  { requiredKeys: [] },
);

describe('cli: the bundled configuration validator refuses what the run-time one refuses', function () {
  this.timeout(180_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cfg-parity-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('property: `scan --config` through the code cache reports exactly the problems parseConfigText reports, and accepts what it accepts', () => {
    const home = path.join(dir, 'home');
    let n = 0;
    fc.assert(
      fc.property(documentArb, (doc) => {
        const file = path.join(dir, `c${n++}.yaml`);
        const body = JSON.stringify(doc);
        fs.writeFileSync(file, body);
        let want: string[] = [];
        try {
          parseConfigText(body, file, {});
        } catch (e) {
          if (!isConfigError(e)) throw e;
          want = e.problems.map((p) => `${p.key}: ${p.message}`);
        }
        const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), 'scan', '--config', file, 'oci:/nonexistent:x', '--offline'], {
          encoding: 'utf8', cwd: dir, timeout: 60_000,
          env: { PATH: process.env.PATH, HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), PUSHGATE_CACHE_DIR: path.join(home, 'pushgate-cache'), PUSHGATE_CODE_CACHE: '1' },
        });
        const refused = /invalid configuration/.test(r.stderr);
        expect(refused, `${body}\n${r.stderr}`).to.equal(want.length > 0);
        expect(r.status, r.stderr).to.equal(2);
        const got = r.stderr.split('\n').filter((l) => /^[^:]*\.yaml:\d+:\d+: /.test(l)).map((l) => l.replace(/^[^:]*\.yaml:\d+:\d+: /, ''));
        expect(got, body).to.deep.equal(want);
      }),
      // Two accepted documents among the generated ones, which are mostly refused.
      { numRuns: 20, examples: [[{}], [{ server: { listen: '0.0.0.0:8080', readTimeout: '30s' }, registries: [{ name: 'lab', url: 'https://r.example' }] }]] },
    );
  });
});
