/**
 * Yarn's Plug'n'Play installs no `node_modules`: `.pnp.cjs` points each package at a directory inside a zip
 * (`.yarn/cache/minimist-npm-1.2.5-….zip/node_modules/minimist/`), and its file system layer opens any path
 * segment ending in `.zip` as a directory. An image of such a project without its `yarn.lock` ran minimist
 * 1.2.5 (the real Yarn 4 runtime below loads it) while the scan found no package at all, complete. The
 * oracle is the real `.pnp.cjs` Yarn 4.5.0 wrote (test/fixtures/scan/lang/README.md), run by node, with its
 * `.pnp.data.json` pointed at generated zips built by the real `zip` tool.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { scanLayers, storedZip, treeEntries } from './layout-helper.js';

const FIX = path.resolve('test/fixtures/scan/lang/yarn-pnp');
const CACHE_ZIP = 'minimist-npm-1.2.5-ced0e1f617-c143b0c199.zip';

describe('scan: npm packages in zips, as Yarn Plug\'n\'Play loads them', function () {
  this.timeout(180_000);
  let tmp: string;
  let n = 0;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-npm-zip-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A PnP project as Yarn left it (no yarn.lock), with minimist's location `loc` and `files` besides. */
  function project(loc: string, files: Record<string, Buffer>): string {
    const app = path.join(tmp, `app${n++}`);
    fs.mkdirSync(app, { recursive: true });
    fs.writeFileSync(path.join(app, '.pnp.cjs'), zlib.gunzipSync(fs.readFileSync(path.join(FIX, 'pnp.cjs.gz'))));
    fs.copyFileSync(path.join(FIX, 'package.json'), path.join(app, 'package.json'));
    const data = fs.readFileSync(path.join(FIX, 'pnp.data.json'), 'utf8').replace(`./.yarn/cache/${CACHE_ZIP}/node_modules/minimist/`, loc);
    fs.writeFileSync(path.join(app, '.pnp.data.json'), data);
    for (const [p, c] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(app, p)), { recursive: true });
      fs.writeFileSync(path.join(app, p), c);
    }
    return app;
  }

  /** What the real PnP runtime loads as minimist: its version and the file it resolved. */
  function runtime(app: string): { version: string; at: string } {
    const out = execFileSync('node', ['-r', './.pnp.cjs', '-e', 'process.stdout.write(JSON.stringify({ version: require("minimist/package.json").version, at: require.resolve("minimist/package.json") }))'], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out) as { version: string; at: string };
  }

  /** The inventory of an image holding `app` at /srv/app. */
  const scan = (app: string) => scanLayers(tmp, `l${n++}`, [treeEntries(app, 'srv/app')]);

  it('the Yarn 4 cache zip without yarn.lock: the runtime loads minimist 1.2.5, and so does the scan', async () => {
    const app = project(`./.yarn/cache/${CACHE_ZIP}/node_modules/minimist/`, { [`.yarn/cache/${CACHE_ZIP}`]: fs.readFileSync(path.join(FIX, CACHE_ZIP)) });
    expect(fs.existsSync(path.join(app, 'yarn.lock'))).to.equal(false);
    const r = runtime(app);
    expect(r.version).to.equal('1.2.5');
    expect(r.at).to.equal(path.join(app, `.yarn/cache/${CACHE_ZIP}/node_modules/minimist/package.json`));
    const inv = await scan(app);
    expect(inv.packages.filter((p) => p.ecosystem === 'npm').map((p) => `${p.name}@${p.version} ${p.path}`))
      .to.deep.equal([`minimist@1.2.5 /srv/app/.yarn/cache/${CACHE_ZIP}/node_modules/minimist/package.json`]);
    expect(inv.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
  });

  it('property: a package.json entry spelt with `./`, `//` or `.` segments (Yarn\'s ZipFS resolves the name) is the one the runtime loads, and is reported (fast-check, real runtime)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.constantFrom('', '.'), { minLength: 3, maxLength: 3 }),
      fc.integer({ min: 0, max: 20 }).map((m) => `1.${m}.0`),
      async (gaps, version) => {
        // Empty and `.` segments around each part of node_modules/minimist/package.json: `./x`, `x//y`, `x/./y`.
        const g = (i: number) => (gaps[i] ? `${gaps[i]}/` : '');
        const name = `${g(0)}node_modules/${g(1)}minimist/${g(2)}package.json`.replace(/^\//, '');
        const zipFile = storedZip([[name, Buffer.from(JSON.stringify({ name: 'minimist', version, main: 'index.js' }))], ['node_modules/minimist/index.js', Buffer.from('module.exports = 1;\n')]]);
        const rel = `.yarn/cache/${CACHE_ZIP}`;
        const app = project(`./${rel}/node_modules/minimist/`, { [rel]: zipFile });
        expect(runtime(app).version, name).to.equal(version);
        const inv = await scan(app);
        expect(inv.packages.filter((p) => p.ecosystem === 'npm').map((p) => `${p.name}@${p.version} ${p.path}`), name)
          .to.deep.equal([`minimist@${version} /srv/app/${rel}/node_modules/minimist/package.json`]);
      },
    ), { numRuns: 12 });
  });

  it('`node_modules//minimist/package.json`, `node_modules/minimist/./package.json`: the runtime loads it; the scan reports it', async () => {
    for (const name of ['node_modules//minimist/package.json', 'node_modules/minimist/./package.json', 'node_modules/./minimist/package.json']) {
      const rel = `.yarn/cache/${CACHE_ZIP}`;
      const app = project(`./${rel}/node_modules/minimist/`, { [rel]: storedZip([[name, Buffer.from('{"name":"minimist","version":"1.2.5"}')]]) });
      expect(runtime(app).version, name).to.equal('1.2.5');
      const inv = await scan(app);
      expect(inv.packages.filter((p) => p.ecosystem === 'npm').map((p) => `${p.name}@${p.version}`), name).to.deep.equal(['minimist@1.2.5']);
    }
  });

  it('property: whatever zip the PnP data names, the version the runtime loads is the one reported there (fast-check, real runtime and zip)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('.yarn/cache', 'deps', 'opt/lib/x', '.cache/yarn/v6'),
      fc.constantFrom('minimist-npm-1.2.5-x', 'x', 'Lib.v2', 'a b'),
      fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 })).map(([a, b, c]) => `${a}.${b}.${c}`),
      fc.boolean(),
      fc.boolean(),
      async (dir, name, version, dirEntries, junkFirst) => {
        const src = path.join(tmp, `zsrc${n++}`);
        fs.mkdirSync(path.join(src, 'node_modules/minimist'), { recursive: true });
        fs.writeFileSync(path.join(src, 'README'), 'first\n');
        fs.writeFileSync(path.join(src, 'node_modules/minimist/package.json'), JSON.stringify({ name: 'minimist', version, main: 'index.js' }));
        fs.writeFileSync(path.join(src, 'node_modules/minimist/index.js'), 'module.exports = () => ({});\n');
        const order = ['node_modules/minimist/index.js', 'node_modules/minimist/package.json'];
        const list = junkFirst ? ['README', ...order] : [...order, 'README'];
        execFileSync('zip', ['-q', '-X', ...(dirEntries ? [] : ['-D']), 'out.zip', ...list], { cwd: src });
        const rel = `${dir}/${name}.zip`;
        const app = project(`./${rel}/node_modules/minimist/`, { [rel]: fs.readFileSync(path.join(src, 'out.zip')) });
        const r = runtime(app);
        expect(r.version).to.equal(version);
        const inv = await scan(app);
        expect(inv.packages.filter((p) => p.ecosystem === 'npm').map((p) => `${p.name}@${p.version} ${p.path}`), rel)
          .to.deep.equal([`minimist@${r.version} /srv/app/${rel}/node_modules/minimist/package.json`]);
        expect(inv.diagnostics.filter((d) => d.incomplete)).to.deep.equal([]);
      },
    ), { numRuns: 15 });
  });

  it('a zip naming node_modules/ that cannot be read is incomplete; other unreadable zips and names PnP does not open are nothing', async () => {
    const good = fs.readFileSync(path.join(FIX, CACHE_ZIP));
    // the runtime does not open these names as archives either
    for (const rel of ['deps/upper.ZIP', 'deps/x.zip.bak']) {
      expect(() => runtime(project(`./${rel}/node_modules/minimist/`, { [rel]: good })), rel).to.throw();
    }
    const inv = await scan(project('./none/node_modules/minimist/', {
      'deps/cut.zip': good.subarray(0, Math.floor(good.length / 2)),
      'deps/data.zip': Buffer.from('PK\x03\x04 not really a zip\n'),
      'deps/upper.ZIP': good,
      'deps/x.zip.bak': good,
    }));
    expect(inv.packages.filter((p) => p.ecosystem === 'npm')).to.deep.equal([]);
    expect(inv.diagnostics.filter((d) => d.incomplete).map((d) => `${d.code} ${d.path}`)).to.deep.equal(['parse-error /srv/app/deps/cut.zip']);
  });
});
