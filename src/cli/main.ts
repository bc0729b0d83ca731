/**
 * The `pushgate` command (DESIGN.md §3 "CLI"). stdout carries results only; logs, progress and
 * errors go to stderr. Exit 2 for bad arguments, bad configuration or an unreadable target, with
 * one clear line and no stack trace (set PUSHGATE_DEBUG=1 for the stack).
 */
// commander by a static import: every command line but a bare `--version` (which bin/pushgate.js
// answers before loading this module) parses with it, and in the command line bundled into one
// CommonJS file (scripts/build.mjs) it is compiled into the bundle, under the V8 code cache of
// bin/pushgate.js, instead of loaded and compiled from node_modules on every run.
import { Command, CommanderError } from 'commander';
import { PushgateError } from '../core/errors.js';
import { VERSION } from '../core/version.js';
import { terminalText } from './terminal-text.js';

/** `monitor` and `affected` live in one module. */
const monitorCommands = () => import('./commands/monitor.js');

/**
 * Every command and the module that defines it, loaded only when that command runs (or for the
 * help and suggestions that need them all), so `pushgate --version` and `pushgate scan` never load
 * the server, PostgreSQL, metrics or report libraries they do not use. Each module exports
 * `register(program)`.
 */
export const COMMANDS: Record<string, () => Promise<{ register: (program: Command) => void }>> = {
  scan: () => import('./commands/scan.js'),
  serve: () => import('./commands/serve.js'),
  db: () => import('./commands/db.js'),
  versions: () => import('./commands/versions.js'),
  config: () => import('./commands/config.js'),
  reconcile: () => import('./commands/reconcile.js'),
  store: () => import('./commands/store.js'),
  monitor: monitorCommands,
  affected: monitorCommands,
};

/**
 * The commands `args` (the command line after `pushgate`) needs: the one it names; none for a bare
 * `--version`/`-V`; all of them otherwise (help, no command, an unknown command and its suggestion).
 * The program's own options take no value, so the first argument that is no option is the command.
 */
export function commandsFor(args: readonly string[]): string[] {
  const first = args.find((a) => !a.startsWith('-'));
  if (first !== undefined && Object.hasOwn(COMMANDS, first)) return [first];
  if (versionOnly(args)) return [];
  return Object.keys(COMMANDS);
}

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

/**
 * Builds the program with the commands `args` needs ({@link commandsFor}; default: every command),
 * in the order of {@link COMMANDS} (exported for tests).
 */
export async function buildProgram(args?: readonly string[]): Promise<Command> {
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
  const names = args ? commandsFor(args) : Object.keys(COMMANDS);
  // One module may register several commands (monitor: `monitor` and `affected`): each is loaded once.
  const modules = await Promise.all([...new Set(names.map((n) => COMMANDS[n]))].map((load) => load()));
  for (const m of modules) m.register(program);
  return program;
}

/** True for a command line that only asks for the version (commander would print just that). */
function versionOnly(args: readonly string[]): boolean {
  return args.length === 1 && (args[0] === '--version' || args[0] === '-V');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  // The one answer that needs no command-line parser: printed as commander prints it, without loading it.
  if (versionOnly(args)) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  try {
    const program = await buildProgram(args);
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    reportError(e);
  }
}

/**
 * A reader that closes stdout early (`pushgate scan --help | head`, `… --format json | jq -e .x` stopping
 * at its answer) makes the next write fail with EPIPE, which Node raises as an unhandled 'error' event: a
 * stack trace and exit 1. The reader has what it wanted, so the rest of the output is dropped and the
 * command runs to its end: its exit status stays the one it decides (a blocking verdict still exits 1),
 * never a crash's. Any other stdout error (a full disk behind `>`) is still reported.
 */
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') return;
  reportError(e);
  process.exit(2);
});
process.on('unhandledRejection', (e) => {
  reportError(e);
  process.exit(2);
});
// Not awaited at the top level: the same file is also bundled as CommonJS, which has no top-level
// await. main() reports its own errors; anything else ends up in the handler above.
void main();
