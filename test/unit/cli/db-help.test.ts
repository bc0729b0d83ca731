/**
 * `pushgate db update --help` says what an update reads when a flag is left out: the options that
 * collect repeated values start empty, and Commander would print that as "(default: [])", which
 * reads as "no sources" while the update then fetches `vulndb.sources` or the public OSV exports.
 */
import { expect } from 'chai';
import { Command } from 'commander';
import { register } from '../../../src/cli/commands/db.js';

/** The help text of `db SUB` as `pushgate db SUB --help` prints it (words joined across wrapped lines). */
function helpOf(sub: string): string {
  const program = new Command('pushgate');
  register(program);
  const db = program.commands.find((c) => c.name() === 'db')!;
  const cmd = db.commands.find((c) => c.name() === sub)!;
  return cmd.helpInformation().replace(/\s+/g, ' ');
}

describe('cli: pushgate db update --help', () => {
  it('names what --source and --ecosystems default to, never an empty list', () => {
    const help = helpOf('update');
    expect(help).not.to.include('[]');
    expect(help).to.include('--source <URL|DIR|ZIP>');
    expect(help).to.include('(default: vulndb.sources of the config file, else the public OSV exports)');
    expect(help).to.include('(default: vulndb.ecosystems of the config file, else every ecosystem in the sources)');
  });

  it('no option of db update or db status prints a default that is an empty list', () => {
    for (const sub of ['update', 'status']) expect(helpOf(sub), sub).not.to.match(/default: \[\]/);
  });
});
