/**
 * `pushgate versions compare --ecosystem ECO`: reads `A B` lines on stdin and prints `A < B`,
 * `A = B`, `A > B`, or `A ! B reason` (DESIGN.md §3). Exit 0 unless stdin cannot be read; an
 * unknown ecosystem is a PushgateError BAD_ARGUMENT (exit 2 through the main CLI).
 */
import { Command } from 'commander';
import { PushgateError } from '../../core/errors.js';
import { comparatorFor, compareLines, supportedEcosystems } from '../../vulndb/index.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of process.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  } catch (err) {
    throw new PushgateError('BAD_ARGUMENT', `versions compare: cannot read stdin: ${(err as Error).message}`, { cause: err });
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Adds `versions compare` to the program. */
export function register(program: Command): void {
  const versions = program.command('versions').description('version order of each ecosystem');
  versions
    .command('compare')
    .description('compare "A B" version pairs read from stdin in an ecosystem\'s order')
    .requiredOption('--ecosystem <ECO>', `OSV ecosystem: ${supportedEcosystems().join(', ')} (release suffix allowed)`)
    .action(async (opts: { ecosystem: string }) => {
      comparatorFor(opts.ecosystem); // unknown ecosystem: fail before reading stdin
      process.stdout.write(compareLines(opts.ecosystem, await readStdin()));
    });
}
