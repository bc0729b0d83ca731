/**
 * The real `pushgate` CLI run as a user would run it from a fresh account: a temporary HOME and
 * XDG_CACHE_HOME / XDG_CONFIG_HOME / XDG_RUNTIME_DIR, a temporary working directory, and no pushgate,
 * Docker or containers variables from the test process. Runs asynchronously, so servers in the test
 * process (an OSV mirror, a token issuer) keep answering while the CLI talks to them.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CliRun } from './cli.js';
import { ROOT } from './lab.js';

/** A fresh user account for CLI runs. */
export interface CliSandbox {
  root: string;
  home: string;
  /** XDG_CACHE_HOME */
  cache: string;
  /** XDG_CONFIG_HOME */
  config: string;
  /** XDG_RUNTIME_DIR */
  runtime: string;
  /** A working directory (more can be made with {@link newDir}). */
  cwd: string;
  env: NodeJS.ProcessEnv;
  newDir(name: string): string;
  remove(): void;
}

/** Variables that would let the test machine's state leak into the run. */
const DROPPED = /^(PUSHGATE_|DOCKER_|REGISTRY_AUTH_FILE$|XDG_)/;

/**
 * Makes a sandbox. The default database sources point at a closed loopback port unless `env`
 * sets PUSHGATE_VULNDB_MIRROR (a first-use download then fails at once, as offline).
 */
export function makeSandbox(env: NodeJS.ProcessEnv = {}): CliSandbox {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-sandbox-'));
  const mk = (n: string) => {
    const d = path.join(root, n);
    fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  };
  const home = mk('home');
  const sb: CliSandbox = {
    root,
    home,
    cache: mk('xdg-cache'),
    config: mk('xdg-config'),
    runtime: mk('xdg-runtime'),
    cwd: mk('work'),
    env: {},
    newDir: mk,
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !DROPPED.test(k)));
  sb.env = {
    ...base,
    HOME: home,
    XDG_CACHE_HOME: sb.cache,
    XDG_CONFIG_HOME: sb.config,
    XDG_RUNTIME_DIR: sb.runtime,
    PUSHGATE_VULNDB_MIRROR: 'http://127.0.0.1:23299/osv',
    ...env,
  };
  return sb;
}

/**
 * Writes `rootfs/` in the sandbox's working directory: a directory image (`dir:rootfs`) holding one
 * npm package, adm-zip 0.4.7, which the OSV fixtures' NSWG-NPM-458 affects.
 */
export function writeAdmZipRootfs(sb: CliSandbox): void {
  fs.mkdirSync(path.join(sb.cwd, 'rootfs/app/node_modules/adm-zip'), { recursive: true });
  fs.writeFileSync(path.join(sb.cwd, 'rootfs/app/node_modules/adm-zip/package.json'), '{"name":"adm-zip","version":"0.4.7"}');
}

/**
 * `pushgate ARGS...` in the sandbox (working directory `opts.cwd`, default the sandbox's), stdin
 * `opts.stdin` (else empty), killed after `opts.timeoutMs` (default 120 s).
 */
export function runInSandbox(sb: CliSandbox, args: string[], opts: { cwd?: string; stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), ...args], { cwd: opts.cwd ?? sb.cwd, env: { ...sb.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
    child.stdin.end(opts.stdin ?? '');
  });
}
