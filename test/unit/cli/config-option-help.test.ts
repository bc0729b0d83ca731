/**
 * `--help` of every command that takes `--config` says where the configuration comes from without it:
 * scan and db read only $PUSHGATE_CONFIG, the others also config/pushgate.yaml of the working directory.
 *
 * The commands are registered from their modules (src/cli/commands/*.ts, each exporting `register`),
 * not through src/cli/main.ts: importing the entry runs the command line on the test runner's own
 * arguments (an "unknown command" error, exit code 2 and a process-wide unhandledRejection handler
 * that exits the runner).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { ROOT } from '../../helpers/lab.js';

function walk(c: Command, prefix: string[] = []): Array<[string, Command]> {
  return c.commands.flatMap((sub) => [[[...prefix, sub.name()].join(' '), sub] as [string, Command], ...walk(sub, [...prefix, sub.name()])]);
}

async function everyCommand(): Promise<Command> {
  const program = new Command();
  const dir = path.join(ROOT, 'src/cli/commands');
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.ts')).sort()) {
    const m = (await import(pathToFileURL(path.join(dir, f)).href)) as { register?: (p: Command) => void };
    m.register?.(program);
  }
  return program;
}

describe('cli: --config help names its default', () => {
  it('every command with --config says what applies without it', async () => {
    const program = await everyCommand();
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

  it('no test file imports the CLI entry (it runs the command line when loaded)', () => {
    const offenders: string[] = [];
    const visit = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) visit(p);
        else if (/\.(ts|mts|js|mjs)$/.test(e.name) && /^\s*import\b[^;]*?['"][./]*(?:\.\.\/)*src\/cli\/main(?:\.js|\.ts)?['"]/m.test(fs.readFileSync(p, 'utf8'))) offenders.push(path.relative(ROOT, p));
      }
    };
    visit(path.join(ROOT, 'test'));
    visit(path.join(ROOT, 'bench'));
    expect(offenders).to.deep.equal([]);
  });
});
