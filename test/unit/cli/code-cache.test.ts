/**
 * bin/code-cache.js: the V8 code cache through which bin/pushgate.js runs the command line bundled
 * as one CommonJS file on Node 20. A cache is written by a run that had none and used by the next;
 * one that is missing, truncated, corrupt, rejected by V8, of another script or unwritable never
 * changes what runs (the script's output), and a bad one is replaced. Each case in its own process,
 * as the CLI uses it (the cache is written at exit).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { labImages, ROOT } from '../../helpers/lab.js';

const LOADER = pathToFileURL(path.join(ROOT, 'bin/code-cache.js')).href;

/** A CommonJS script with some functions to compile, its `require` and `__dirname` in use. */
function script(tag: string): string {
  return [
    "const path = require('node:path');",
    'function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }',
    `module.exports.answer = ${JSON.stringify(tag)} + ':' + fib(15) + ':' + path.basename(__dirname);`,
    "process.stdout.write(JSON.stringify({ out: module.exports.answer }) + '\\n');",
    '',
  ].join('\n');
}

interface Run { status: number | null; out?: string; cache?: string; stderr: string }

/** Runs `file` through runCached in a child process; its output and what runCached said of the cache. */
function run(file: string, dir: string, command = 'scan', env: NodeJS.ProcessEnv = process.env, v8Flags = ''): Run {
  // `v8Flags`: set by the process itself before running the script, as bin/pushgate.js sets its JIT
  // flags. Passed in the environment: the code (`-e`, in process.execArgv) is the same either way.
  const flags = 'const f = process.env.PUSHGATE_TEST_V8_FLAGS ?? \'\'; if (f) (await import(\'node:v8\')).setFlagsFromString(f); ';
  const code = `${flags}const { runCached } = await import(${JSON.stringify(LOADER)}); const r = runCached(${JSON.stringify(file)}, ${JSON.stringify(dir)}, ${JSON.stringify(command)}, f); process.stdout.write(JSON.stringify({ cache: r.cache }) + '\\n');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', env: { ...env, PUSHGATE_TEST_V8_FLAGS: v8Flags } });
  const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { out?: string; cache?: string });
  return { status: r.status, out: lines.find((l) => l.out)?.out, cache: lines.find((l) => l.cache)?.cache, stderr: r.stderr };
}

describe('cli: the code cache of the bundled command line (bin/code-cache.js)', function () {
  this.timeout(60_000);
  let tmp: string;
  let file: string;
  let dir: string;
  const cacheFiles = () => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.bin')) : []);
  const only = () => {
    const fs0 = cacheFiles();
    expect(fs0).to.have.length(1);
    return path.join(dir, fs0[0]);
  };

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-code-cache-'));
    file = path.join(tmp, 'app', 'cli.cjs');
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, script('one'));
    dir = path.join(tmp, 'cache', 'code-cache');
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a run without a cache writes one; the next run uses it, with the same output', () => {
    const first = run(file, dir);
    expect(first).to.include({ status: 0, out: 'one:610:app', cache: 'none' });
    const f = only();
    expect(path.basename(f)).to.match(/^scan-[0-9a-f]{8}-[0-9a-f]{40}\.bin$/);
    expect((fs.statSync(f).mode & 0o777).toString(8)).to.equal('600');
    const second = run(file, dir);
    expect(second).to.include({ status: 0, out: 'one:610:app', cache: 'used' });
    expect(cacheFiles()).to.deep.equal([path.basename(f)]);
  });

  it('a script with characters beyond ASCII (UTF-8) runs as its text says, with a cache and without', () => {
    // An ASCII file is decoded as Latin-1 (the same text, faster); any other byte takes UTF-8.
    const text = ['€', 'é', '→', '😀', 'ÿ'];
    fs.writeFileSync(file, `// naïve → comment\nprocess.stdout.write(JSON.stringify({ out: ${JSON.stringify(text.join(''))} + ':' + ${JSON.stringify(text.join('')).length} }) + '\\n');\n`);
    const want = `${text.join('')}:${JSON.stringify(text.join('')).length}`;
    expect(run(file, dir)).to.include({ status: 0, out: want, cache: 'none' });
    expect(run(file, dir)).to.include({ status: 0, out: want, cache: 'used' });
  });

  it('a truncated, empty, garbage or bit-flipped cache file is not used, the script runs as without it, and the file is rewritten', () => {
    run(file, dir);
    const f = only();
    const good = fs.readFileSync(f);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 100] ^= 0x20;
    for (const [what, bytes] of [['truncated', good.subarray(0, good.length >> 1)], ['empty', Buffer.alloc(0)], ['garbage', crypto.randomBytes(good.length)], ['bit-flipped', flipped]] as const) {
      fs.writeFileSync(f, bytes);
      expect(run(file, dir), what).to.include({ status: 0, out: 'one:610:app', cache: 'none' });
      expect(fs.readFileSync(f).equals(bytes), what).to.equal(false);
      expect(run(file, dir), `${what}, rewritten`).to.include({ status: 0, out: 'one:610:app', cache: 'used' });
    }
  });

  it('intact cached data V8 rejects (not made from this script) is not used, and is rewritten', () => {
    run(file, dir);
    const f = only();
    const good = fs.readFileSync(f);
    // A header and checksum as the loader writes them, over a payload V8 did not make.
    const magic = good.subarray(0, good.indexOf(0x0a) + 1);
    const payload = crypto.randomBytes(4096);
    fs.writeFileSync(f, Buffer.concat([magic, crypto.createHash('sha256').update(payload).digest(), payload]));
    expect(run(file, dir)).to.include({ status: 0, out: 'one:610:app', cache: 'rejected' });
    expect(run(file, dir)).to.include({ status: 0, out: 'one:610:app', cache: 'used' });
  });

  it('another script (a new build) gets its own cache, which replaces the old one of the same command; other commands keep theirs', () => {
    run(file, dir);
    run(file, dir, 'db');
    const before = cacheFiles().sort();
    expect(before).to.have.length(2);
    fs.writeFileSync(file, script('two'));
    expect(run(file, dir)).to.include({ status: 0, out: 'two:610:app', cache: 'none' });
    const after = cacheFiles().sort();
    expect(after).to.have.length(2);
    expect(after.find((f) => f.startsWith('db-'))).to.equal(before.find((f) => f.startsWith('db-')));
    expect(after.find((f) => f.startsWith('scan-'))).to.not.equal(before.find((f) => f.startsWith('scan-')));
    expect(run(file, dir)).to.include({ status: 0, out: 'two:610:app', cache: 'used' });
  });

  it('runs with and without V8 flags in NODE_OPTIONS keep a cache each, instead of rewriting one in turn', () => {
    const plain: NodeJS.ProcessEnv = { ...process.env };
    delete plain.NODE_OPTIONS;
    const flagged = { ...plain, NODE_OPTIONS: '--max-old-space-size=200' };
    expect(run(file, dir, 'scan', plain)).to.include({ status: 0, out: 'one:610:app', cache: 'none' });
    expect(run(file, dir, 'scan', flagged)).to.include({ status: 0, out: 'one:610:app', cache: 'none' });
    expect(cacheFiles()).to.have.length(2);
    expect(run(file, dir, 'scan', plain)).to.include({ status: 0, out: 'one:610:app', cache: 'used' });
    expect(run(file, dir, 'scan', flagged)).to.include({ status: 0, out: 'one:610:app', cache: 'used' });
  });

  it('runs with and without V8 flags the process set itself (v8.setFlagsFromString) keep a cache each: V8 rejects data made under other flags', () => {
    const flags = '--interrupt-budget=540672';
    expect(run(file, dir, 'scan', process.env)).to.include({ status: 0, out: 'one:610:app', cache: 'none' });
    expect(run(file, dir, 'scan', process.env, flags)).to.include({ status: 0, out: 'one:610:app', cache: 'none' });
    expect(cacheFiles()).to.have.length(2);
    for (let i = 0; i < 2; i++) {
      expect(run(file, dir, 'scan', process.env)).to.include({ status: 0, out: 'one:610:app', cache: 'used' });
      expect(run(file, dir, 'scan', process.env, flags)).to.include({ status: 0, out: 'one:610:app', cache: 'used' });
    }
  });

  it('a cache file or directory that group or others can write is not used; such a directory is not written', () => {
    run(file, dir);
    const f = only();
    expect(run(file, dir)).to.include({ cache: 'used' });
    fs.chmodSync(f, 0o620);
    expect(run(file, dir)).to.include({ status: 0, out: 'one:610:app', cache: 'none' });
    // rewritten with the loader's own mode
    expect((fs.statSync(f).mode & 0o777).toString(8)).to.equal('600');
    expect(run(file, dir)).to.include({ cache: 'used' });
    fs.chmodSync(dir, 0o707);
    const before = fs.statSync(f);
    expect(run(file, dir)).to.include({ status: 0, out: 'one:610:app', cache: 'none' });
    expect(run(file, dir)).to.include({ status: 0, out: 'one:610:app', cache: 'none' });
    // not written either: no run would read it
    expect(fs.statSync(f).mtimeMs).to.equal(before.mtimeMs);
    expect(fs.statSync(f).ino).to.equal(before.ino);
    fs.chmodSync(dir, 0o700);
    expect(run(file, dir)).to.include({ cache: 'used' });
  });

  it('an unwritable cache directory changes nothing but the speed', () => {
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.writeFileSync(dir, 'a file where the directory would be');
    expect(run(file, dir)).to.include({ status: 0, out: 'one:610:app', cache: 'none' });
    expect(run(file, dir)).to.include({ status: 0, out: 'one:610:app', cache: 'none' });
  });

  it('names a cache after the command, for the commands of the CLI only', async () => {
    const { COMMAND_NAMES, commandKey } = await import(LOADER) as { COMMAND_NAMES: string[]; commandKey: (a: string[], env?: Record<string, string | undefined>) => string };
    // The keys of COMMANDS in src/cli/main.ts (read, not imported: importing it runs the CLI).
    const main = fs.readFileSync(path.join(ROOT, 'src/cli/main.ts'), 'utf8');
    const block = /export const COMMANDS\b.*= \{\n([\s\S]*?)\n\};/.exec(main)?.[1] ?? '';
    const commands = [...block.matchAll(/^\s*([a-z-]+):/gm)].map((m) => m[1]);
    expect(commands).to.include('scan');
    expect([...COMMAND_NAMES].sort()).to.deep.equal(commands.sort());
    const env = {};
    expect(commandKey(['scan', 'oci:x'], env)).to.equal('scan');
    expect(commandKey(['--no-color', 'db', 'status'], env)).to.equal('db');
    expect(commandKey(['scann'], env)).to.equal('other');
    expect(commandKey(['--help'], env)).to.equal('other');
    expect(commandKey(['../../etc'], env)).to.equal('other');
    // A run that reads a configuration file compiles its parser and validator too: a cache of its own.
    expect(commandKey(['scan', 'oci:x', '--config', 'p.yaml'], env)).to.equal('scan-config');
    expect(commandKey(['scan', '--config=p.yaml', 'oci:x'], env)).to.equal('scan-config');
    expect(commandKey(['scan', 'oci:x'], { PUSHGATE_CONFIG: 'p.yaml' })).to.equal('scan-config');
    expect(commandKey(['scan', 'oci:x'], { PUSHGATE_CONFIG: '' })).to.equal('scan');
    expect(commandKey(['scan', '--', '--config'], env)).to.equal('scan');
    expect(commandKey(['--help'], { PUSHGATE_CONFIG: 'p.yaml' })).to.equal('other');
  });
});

describe('cli: pushgate through its code cache', function () {
  this.timeout(120_000);
  const build = () => {
    const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--if-needed'], { encoding: 'utf8' });
    expect(b.status, b.stderr).to.equal(0);
  };

  it('the bundle runs in strict mode, as the ES modules it stands for do, and is ASCII', () => {
    build();
    const bytes = fs.readFileSync(path.join(ROOT, 'dist/chunks/cli.cjs'));
    const text = bytes.toString('utf8');
    // A directive counts only as the first statement of the function bin/code-cache.js wraps it in.
    expect(text.split('\n')[0]).to.equal('"use strict";');
    // ASCII: read as a one-byte string (bin/code-cache.js), not decoded as UTF-8 into a two-byte one.
    expect(bytes.findIndex((b) => b > 0x7f), 'first byte beyond ASCII').to.equal(-1);
  });

  it('with source maps on (NODE_OPTIONS=--enable-source-maps), stack traces name the TypeScript sources', () => {
    build();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-code-cache-maps-'));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: tmp, PUSHGATE_CACHE_DIR: path.join(tmp, 'pg'), PUSHGATE_USE_DIST: '1', PUSHGATE_DEBUG: '1' };
      delete env.PUSHGATE_CODE_CACHE;
      const cli = (nodeOptions: string) => spawnSync(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), 'scan', `oci:${path.join(tmp, 'absent')}`, '--offline'], { encoding: 'utf8', env: { ...env, NODE_OPTIONS: nodeOptions }, cwd: tmp });
      const mapped = cli('--enable-source-maps');
      expect(mapped.status).to.equal(2);
      expect(mapped.stderr).to.match(/^pushgate: oci:.*absent: no such directory\n/);
      expect(mapped.stderr).to.match(/\(\S*src\/scan\/local-source\.ts:\d+:\d+\)/);
      const plain = cli('');
      expect(plain.status).to.equal(2);
      expect(plain.stderr.split('\n')[0]).to.equal(mapped.stderr.split('\n')[0]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a run whose full GCs flush unused bytecode still writes every function it compiled into the cache', () => {
    build();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-code-cache-flush-'));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: tmp, XDG_CACHE_HOME: path.join(tmp, '.cache'), PUSHGATE_USE_DIST: '1' };
      for (const k of ['PUSHGATE_CODE_CACHE', 'PUSHGATE_JIT_TUNE', 'NODE_OPTIONS']) delete env[k];
      // The cache a scan of a lab image writes, in a directory of its own; `v8Flag` as a node flag.
      const written = (v8Flag: string, dir: string): number => {
        const r = spawnSync(process.execPath, [v8Flag, path.join(ROOT, 'bin/pushgate.js'), 'scan', `oci:${path.join(labImages(), 'debian-minbase')}:bookworm`, '--format', 'json', '--offline'], { encoding: 'utf8', env: { ...env, PUSHGATE_CACHE_DIR: path.join(tmp, dir) }, cwd: tmp, maxBuffer: 64 << 20 });
        expect(r.stdout, r.stderr).to.match(/"verdict"/);
        const files = fs.readdirSync(path.join(tmp, dir, 'code-cache')).filter((f) => f.startsWith('scan-'));
        expect(files).to.have.length(1);
        return fs.statSync(path.join(tmp, dir, 'code-cache', files[0])).size;
      };
      // --stress-flush-code flushes at every full GC what V8 flushes after a few (a loaded machine, a
      // big image): with flushing on, that run's cache lacked about a third of the functions.
      const stressed = written('--stress-flush-code', 'stressed');
      const usual = written('--no-stress-flush-code', 'usual');
      expect(stressed / usual).to.be.within(0.97, 1.03);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('--cache-dir of scan and db holds the code cache too, as it holds their state', () => {
    build();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-code-cache-flag-'));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: path.join(tmp, 'home'), PUSHGATE_USE_DIST: '1' };
      for (const k of ['PUSHGATE_CODE_CACHE', 'PUSHGATE_CACHE_DIR', 'XDG_CACHE_HOME', 'NODE_OPTIONS']) delete env[k];
      const cli = (...a: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), ...a], { encoding: 'utf8', env, cwd: tmp });
      expect(cli('scan', '--help', '--cache-dir', 'flagged').status).to.equal(0);
      expect(cli('db', 'status', '--cache-dir=other', '--help').status).to.equal(0);
      expect(fs.readdirSync(path.join(tmp, 'flagged', 'code-cache')).filter((f) => f.startsWith('scan-'))).to.have.length(1);
      expect(fs.readdirSync(path.join(tmp, 'other', 'code-cache')).filter((f) => f.startsWith('db-'))).to.have.length(1);
      expect(fs.existsSync(path.join(tmp, 'home', '.cache', 'pushgate', 'code-cache'))).to.equal(false);
      // serve takes no --cache-dir: refused, and no directory made from it
      expect(cli('serve', '--cache-dir', 'nope').status).to.equal(2);
      expect(fs.existsSync(path.join(tmp, 'nope'))).to.equal(false);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a corrupt cache file of the command never breaks the CLI: same output, exit status', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-code-cache-cli-'));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: tmp, XDG_CACHE_HOME: path.join(tmp, '.cache'), PUSHGATE_CACHE_DIR: path.join(tmp, 'pg'), PUSHGATE_USE_DIST: '1' };
      delete env.PUSHGATE_CODE_CACHE;
      const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--if-needed'], { encoding: 'utf8' });
      expect(build.status, build.stderr).to.equal(0);
      const cli = () => spawnSync(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), 'scan', '--help'], { encoding: 'utf8', env, cwd: tmp });
      const want = cli();
      expect(want.status).to.equal(0);
      expect(want.stdout).to.include('Usage: pushgate scan');
      const dir = path.join(tmp, 'pg', 'code-cache');
      const files = fs.readdirSync(dir);
      expect(files.filter((f) => f.startsWith('scan-'))).to.have.length(1);
      const f = path.join(dir, files.find((x) => x.startsWith('scan-'))!);
      const good = fs.readFileSync(f);
      const flipped = Buffer.from(good);
      flipped[Math.floor(flipped.length * 0.7)] ^= 0xff;
      for (const bytes of [good, flipped, good.subarray(0, 1000), crypto.randomBytes(good.length)]) {
        fs.writeFileSync(f, bytes);
        const r = cli();
        expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).to.deep.equal({ status: want.status, stdout: want.stdout, stderr: want.stderr });
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
