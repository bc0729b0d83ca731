/**
 * What the CLI loads: each command loads what it uses and nothing else (the server, PostgreSQL,
 * metrics, schema compilation and report libraries only when used). The real CLI in a child process
 * (bin/pushgate.js: dist/ when current, else the sources), with test/helpers/record-modules.mjs
 * preloaded to list every module the process loaded (ESM resolutions and require.cache). dist/ is
 * esbuild's bundle of the CLI (scripts/build.mjs): a loaded file of it stands for every source
 * module in it (dist/.bundle-map.json), so the checks below name source modules either way.
 * On Node 20, bin/pushgate.js runs the same bundle as one CommonJS file through a code cache
 * (dist/chunks/cli.cjs, bin/code-cache.js), where every source module is in the one file and run
 * only when imported: the checks on source and built-in modules run the ES modules
 * (PUSHGATE_CODE_CACHE=0; the recorder does not see a built-in `require`d), one compares the
 * packages both load.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VERSION } from '../../../src/core/version.js';
import { INFLATE_WORKER_MIN_CORES } from '../../../src/scan/engine.js';
import { labImages, ROOT } from '../../helpers/lab.js';

/** Packages no start-up and no local scan needs. */
const HEAVY = ['pg', 'express', 'ajv', 'prom-client', 'pino', 'axios', '@cyclonedx/cyclonedx-library', 'node-sarif-builder', 'jsonwebtoken'];

interface Loaded { status: number | null; stdout: string; stderr: string; packages: Set<string>; files: string[] }

/**
 * `files` with every file of the CLI bundle replaced by the source modules bundled into it
 * (absolute paths under ROOT/src/): what ran, in the sources' names. Other files are kept.
 */
function unbundled(files: readonly string[], root = ROOT): string[] {
  const mapFile = path.join(root, 'dist/.bundle-map.json');
  const map = fs.existsSync(mapFile) ? JSON.parse(fs.readFileSync(mapFile, 'utf8')) as Record<string, string[]> : {};
  const dist = path.join(root, 'dist');
  return files.flatMap((f) => {
    const rel = path.relative(dist, f).split(path.sep).join('/');
    const inputs = Object.hasOwn(map, rel) ? map[rel] : undefined;
    return inputs ? inputs.map((i) => path.join(root, i)) : [f];
  });
}

describe('cli: start-up loads only what the command uses', function () {
  this.timeout(120_000);
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-start-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** `pushgate ARGS` from an empty working directory, HOME and caches pointed at temp dirs. */
  function run(args: string[], opts: { codeCache?: boolean } = {}): Loaded {
    const record = path.join(dir, `modules-${Math.random().toString(36).slice(2)}.json`);
    const home = path.join(dir, 'home');
    const r = spawnSync(process.execPath, ['--import', path.join(ROOT, 'test/helpers/record-modules.mjs'), path.join(ROOT, 'bin/pushgate.js'), ...args], {
      encoding: 'utf8', cwd: dir, timeout: 60_000,
      env: { ...process.env, PUSHGATE_RECORD_MODULES: record, HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), PUSHGATE_CACHE_DIR: path.join(home, 'pushgate-cache'), PUSHGATE_CODE_CACHE: opts.codeCache ? '1' : '0' },
    });
    const rec = JSON.parse(fs.readFileSync(record, 'utf8')) as { esm: string[]; cjs: string[] };
    const files = unbundled([...rec.esm.map((u) => (u.startsWith('file://') ? new URL(u).pathname : u)), ...rec.cjs]);
    const packages = new Set<string>();
    for (const f of files) {
      const m = [...f.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)/g)].pop();
      if (m) packages.add(m[1]);
    }
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, packages, files };
  }

  function heavyIn(l: Loaded): string[] {
    return HEAVY.filter((p) => l.packages.has(p));
  }

  it('the recorder sees what a command loads: `serve --help` loads express, `--format sarif` and `cyclonedx` their libraries', () => {
    // The positive control: without it, an empty list below could mean a recorder that sees nothing.
    const serve = run(['serve', '--help']);
    expect(serve.status, serve.stderr).to.equal(0);
    expect([...serve.packages]).to.include('express');
    fs.mkdirSync(path.join(dir, 'root/etc'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'root/etc/os-release'), 'ID=debian\nVERSION_ID="12"\n');
    const sarif = run(['scan', `dir:${path.join(dir, 'root')}`, '--format', 'sarif', '--offline']);
    expect(sarif.stderr).not.to.match(/Error/);
    expect([...sarif.packages]).to.include('node-sarif-builder').and.not.include('@cyclonedx/cyclonedx-library');
    const cdx = run(['scan', `dir:${path.join(dir, 'root')}`, '--format', 'cyclonedx', '--offline']);
    expect([...cdx.packages]).to.include('@cyclonedx/cyclonedx-library').and.not.include('node-sarif-builder');
  });

  it('`pushgate --version` and `-V` load no module of pushgate and no package: bin/pushgate.js answers from package.json', () => {
    for (const flag of ['--version', '-V']) {
      const r = run([flag]);
      expect(r.status, r.stderr).to.equal(0);
      // The compiled-in version and package.json's must agree: this compares them.
      expect(r.stdout, flag).to.equal(`${VERSION}\n`);
      expect(r.files.filter((f) => /\/(src|dist)\//.test(f)), `${flag}: pushgate modules`).to.deep.equal([]);
      expect([...r.packages], `${flag}: packages`).to.deep.equal([]);
    }
  });

  it('`pushgate scan --help` loads no heavy package', () => {
    const r = run(['scan', '--help']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/Usage: pushgate scan/);
    expect(heavyIn(r)).to.deep.equal([]);
  });

  it('`pushgate scan`, with and without --config, through the code cache (one CommonJS file) loads the packages the ES modules load: from node_modules, or compiled into the file', () => {
    const config = path.join(dir, 'scan-config.yaml');
    fs.writeFileSync(config, `# a configuration file: its YAML parsed, the schema's validator run\nvulndb:\n  path: ${path.join(dir, 'no-db.sqlite')}\n`);
    const plain = ['scan', `oci:${path.join(labImages(), 'debian-minbase')}:bookworm`, '--format', 'json', '--offline'];
    // The packages scripts/build.mjs compiled into dist/chunks/cli.cjs (which no recorder sees loaded:
    // the file runs through vm.Script).
    const map = JSON.parse(fs.readFileSync(path.join(ROOT, 'dist/.bundle-map.json'), 'utf8')) as Record<string, string[]>;
    const inputs = map['chunks/cli.cjs'] ?? [];
    const bundled = new Set(inputs.map((i) => [...i.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)/g)].pop()?.[1]).filter((p): p is string => p !== undefined));
    // The configuration validator generated at build time is compiled into the file too.
    expect(inputs).to.include('dist/config/config-validator.cjs');
    const loadedByEsm = new Set<string>();
    for (const args of [plain, [...plain, '--config', config]]) {
      const esm = run(args);
      expect(esm.stdout, esm.stderr).to.match(/"verdict"/);
      for (const p of esm.packages) loadedByEsm.add(p);
      for (const pass of ['writes the cache', 'uses it']) {
        const what = `${args.includes('--config') ? '--config' : 'plain'}, ${pass}`;
        const cjs = run(args, { codeCache: true });
        expect(cjs.stdout, `${what}: ${cjs.stderr}`).to.match(/"verdict"/);
        // The positive control: this run did not take the ES modules.
        expect(cjs.files.filter((f) => /\/dist\/cli\/main\.js$/.test(f)), what).to.deep.equal([]);
        // Nothing the ES modules do not load, and all they load: read from node_modules or compiled in.
        expect([...cjs.packages].filter((p) => !esm.packages.has(p)), what).to.deep.equal([]);
        expect([...esm.packages].filter((p) => !cjs.packages.has(p) && !bundled.has(p)), what).to.deep.equal([]);
        // A package compiled into the file is never also read from node_modules (yaml with --config).
        expect([...cjs.packages].filter((p) => bundled.has(p)), what).to.deep.equal([]);
        // Nor the generated validator from its own file.
        expect(cjs.files.filter((f) => f.endsWith('config-validator.cjs')), what).to.deep.equal([]);
      }
    }
    // Every package compiled into the file is one a scan loads (with a configuration file, yaml).
    expect([...bundled].filter((p) => !loadedByEsm.has(p))).to.deep.equal([]);
    expect([...loadedByEsm]).to.include('yaml');
  });

  it('`pushgate scan` of a lab image without --config, as JSON: no heavy package (no schema compiled)', () => {
    // --offline: no database in the fresh cache directory, and no first-use download attempt here.
    const r = run(['scan', `oci:${path.join(labImages(), 'debian-minbase')}:bookworm`, '--format', 'json', '--offline']);
    expect(r.stdout, r.stderr).to.match(/"verdict"/);
    expect(heavyIn(r)).to.deep.equal([]);
    // The positive control of the checks on pushgate's own modules: the engine is seen by its source's name.
    expect(r.files.some((f) => /\/(src\/scan\/engine\.ts|dist\/scan\/engine\.js)$/.test(f)), 'the scan engine among the loaded modules').to.equal(true);
    // No configuration file and no product page to parse: no YAML parser (some 70 modules), and
    // matching does not load `db update`.
    expect([...r.packages]).to.not.include('yaml');
    // No Java archive in the image: no zip reader loaded (nor parsed for its exports).
    expect([...r.packages]).to.not.include('yauzl');
    expect(r.files.filter((f) => /\/(src|dist)\/vulndb\/update\.[jt]s$/.test(f)), 'db update').to.deep.equal([]);
    // A local target and no base-image catalog: no registry client, so no HTTP or TLS module either.
    expect(r.files.filter((f) => /\/(src|dist)\/(registry\/|cli\/registry-client\.)/.test(f)), 'registry client').to.deep.equal([]);
    expect(r.files.filter((f) => /^node:(https?|tls)$/.test(f)), 'HTTP/TLS modules').to.deep.equal([]);
  });

  it('`pushgate scan` of a gzip image through the code cache loads no node:child_process, nor node:worker_threads where it inflates on its own thread; a zstd image loads the former', () => {
    // Node's own list of the built-in modules it loaded (the recorder does not see a built-in
    // `require`d), written at exit by a preloaded script.
    const preload = path.join(dir, 'builtins.cjs');
    fs.writeFileSync(preload, 'process.on("exit", () => require("node:fs").writeFileSync(process.env.BUILTINS_OUT, JSON.stringify(process.moduleLoadList)));\n');
    const builtins = (image: string, pass: string): string[] => {
      const out = path.join(dir, `builtins-${image}-${pass}.json`);
      const home = path.join(dir, 'home-builtins');
      const r = spawnSync(process.execPath, ['-r', preload, path.join(ROOT, 'bin/pushgate.js'), 'scan', `oci:${path.join(labImages(), image)}`, '--format', 'json', '--offline'], {
        encoding: 'utf8', cwd: dir, timeout: 60_000, maxBuffer: 64 << 20,
        env: { ...process.env, BUILTINS_OUT: out, HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), PUSHGATE_CACHE_DIR: path.join(home, 'pushgate-cache'), PUSHGATE_CODE_CACHE: '1' },
      });
      expect(r.stdout, `${image} ${pass}: ${r.stderr}`).to.match(/"verdict"/);
      return (JSON.parse(fs.readFileSync(out, 'utf8')) as string[]).filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
    };
    for (const pass of ['writes the cache', 'uses it']) {
      const gzip = builtins('debian-minbase', pass);
      // The positive control: the list names what a scan surely loads.
      expect(gzip, pass).to.include('zlib');
      // Only a zstd, xz or bzip2 layer spawns a decoder; commander's own require of it is lazy in the bundle.
      expect(gzip, pass).to.not.include('child_process');
      if (os.availableParallelism() < INFLATE_WORKER_MIN_CORES) expect(gzip, pass).to.not.include('worker_threads');
    }
    expect(builtins('zstd', 'zstd')).to.include('child_process');
  });

  it('a bad argument to `pushgate scan` loads nothing of the scan', () => {
    const r = run(['scan', 'oci:/nonexistent:x', '--formt', 'json']);
    expect(r.status).to.equal(2);
    expect(r.files.filter((f) => /\/(src|dist)\/(scan|vulndb|policy)\//.test(f))).to.deep.equal([]);
  });
});
