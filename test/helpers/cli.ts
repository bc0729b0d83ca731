/**
 * Runs the real `pushgate` CLI (bin/pushgate.js) in a child process, as a user would, with a
 * deadline so that a command that blocks fails its test instead of hanging the run.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './lab.js';

/** Exit status (null when killed at the deadline) and both output streams of one run. */
export interface CliRun { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/**
 * `pushgate ARGS...` in `cwd`; killed after `timeoutMs` (default 30 s).
 * @param args the command line after `pushgate`.
 * @param opts.env variables added to (or replacing in) this process's environment for the child.
 */
export function runCli(args: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): CliRun {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), ...args], { encoding: 'utf8', cwd: opts.cwd ?? ROOT, timeout: opts.timeoutMs ?? 30_000, ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Asserts a usage error as the CLI contract says (DESIGN §3): not blocked, exit 2, nothing on stdout,
 * exactly one `pushgate: …` line on stderr; returns that line. `what` labels the assertion messages.
 */
export function oneLine(r: CliRun, what: string): string {
  expect(r.signal, `${what}: killed at the deadline (blocked)`).to.equal(null);
  expect(r.status, `${what}: ${r.stderr}`).to.equal(2);
  expect(r.stdout, what).to.equal('');
  const lines = r.stderr.trim().split('\n');
  expect(lines, what).to.have.length(1);
  expect(lines[0], what).to.match(/^pushgate: /);
  return lines[0];
}
