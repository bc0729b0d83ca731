/**
 * `--help` of every command that takes `--config` says where the configuration comes from without it:
 * scan and db read only $PUSHGATE_CONFIG, the others also config/pushgate.yaml of the working directory.
 */
import { expect } from 'chai';
import type { Command } from 'commander';
import { buildProgram } from '../../../src/cli/main.js';

function walk(c: Command, prefix: string[] = []): Array<[string, Command]> {
  return c.commands.flatMap((sub) => [[[...prefix, sub.name()].join(' '), sub] as [string, Command], ...walk(sub, [...prefix, sub.name()])]);
}

describe('cli: --config help names its default', () => {
  it('every command with --config says what applies without it', async () => {
    const program = await buildProgram();
    const seen: string[] = [];
    for (const [name, cmd] of walk(program)) {
      const opt = cmd.options.find((o) => o.long === '--config');
      if (!opt) continue;
      seen.push(name);
      expect(opt.description, `pushgate ${name} --config`).to.match(/default/i);
      expect(opt.description, `pushgate ${name} --config`).to.include('$PUSHGATE_CONFIG');
    }
    expect(seen).to.include.members(['scan', 'serve', 'reconcile', 'monitor', 'affected']);
  });
});
