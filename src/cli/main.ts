/**
 * The `pushgate` command (DESIGN.md §3 "CLI"). stdout carries results only; logs, progress and
 * errors go to stderr. Exit 2 for bad arguments, bad configuration or an unreadable target, with
 * one clear line and no stack trace (set PUSHGATE_DEBUG=1 for the stack).
 */
import { Command, CommanderError } from 'commander';
import { PushgateError } from '../core/index.js';
import { register as registerConfig } from './commands/config.js';
import { register as registerDb } from './commands/db.js';
import { register as registerMonitor } from './commands/monitor.js';
import { register as registerReconcile } from './commands/reconcile.js';
import { register as registerScan } from './commands/scan.js';
import { register as registerServe } from './commands/serve.js';
import { register as registerVersions } from './commands/versions.js';
import { VERSION } from '../core/version.js';
import { terminalText } from './terminal-text.js';

/** Prints an error as one line and sets exit code 2. A message may quote a registry or an image: shown as terminal-safe text. */
export function reportError(e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`pushgate: ${terminalText(msg.split('\n')[0])}\n`);
  if (e instanceof PushgateError && e.message.includes('\n')) process.stderr.write(`${e.message.split('\n').slice(1).map(terminalText).join('\n')}\n`);
  if (process.env.PUSHGATE_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  process.exitCode = 2;
}

/**
 * Commander's error text (`error: unknown option '--formt'\n(Did you mean --format?)`) as one line:
 * `pushgate: unknown option '--formt' (Did you mean --format?); run with --help for usage`.
 */
function commanderErrorLine(text: string): string {
  const msg = text.trim().replace(/^error:\s*/, '').replace(/\s*\n\s*/g, ' ').replace(/\.$/, '');
  return `pushgate: ${msg}; run with --help for usage`;
}

/** Builds the program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('pushgate')
    .description('Admission gate for private container registries')
    .version(VERSION)
    .exitOverride();
  // Set before the commands are added, which inherit it: an argument error (missing argument,
  // unknown option, bad choice) is one `pushgate: ` line like every other error, its hint included.
  program.configureOutput({
    writeErr: (s) => process.stderr.write(s),
    outputError: (s, write) => write(`${commanderErrorLine(s)}\n`),
  });
  registerScan(program);
  registerServe(program);
  registerDb(program);
  registerVersions(program);
  registerConfig(program);
  registerReconcile(program);
  registerMonitor(program);
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    reportError(e);
  }
}

process.on('unhandledRejection', (e) => {
  reportError(e);
  process.exit(2);
});
await main();
