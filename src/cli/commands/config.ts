/**
 * `pushgate config check [FILE]` (DESIGN.md §3): checks the main configuration (default
 * config/pushgate.yaml, or PUSHGATE_CONFIG) and the policy it names, or a policy document
 * (`kind: Policy`) given directly. Every problem on its own stdout line as
 * `FILE:LINE:COL: KEY: message`; `FILE: ok` for each valid file, then `FILE: warning: KEY: …` for a valid
 * setting that is probably not meant (a break-glass list that includes the Pod-creating controllers).
 * Exit 0 valid (warnings too), 1 invalid.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { formatProblem, isConfigError, type ConfigProblem } from '../../config/errors.js';
import { DEFAULT_CONFIG_FILE, loadConfig } from '../../config/load.js';
import { displayPath } from '../../config/yaml-doc.js';
import { isPushgateError } from '../../core/index.js';
import { breakGlassWarnings } from '../../admission/break-glass.js';
import { isPolicyText, loadPolicy, loadVexFiles } from '../../policy/index.js';
import { loadTrustedRoot } from '../../trust/trusted-root.js';

/** Result of checking one file: its display name and its problems (empty when valid). */
export interface CheckedFile {
  file: string;
  problems: ConfigProblem[];
  /** Settings that are valid but probably not meant (one line each, key first); never make the check fail. */
  warnings?: string[];
}

function attempt(file: string, fn: () => void): CheckedFile {
  try {
    fn();
    return { file: displayPath(file), problems: [] };
  } catch (err) {
    if (isConfigError(err)) return { file: displayPath(file), problems: err.problems };
    throw err;
  }
}

/** The `policy` value of a config file that did not load, so its policy can be checked too. */
function policyPathOf(configFile: string): string | undefined {
  try {
    const raw = parseYaml(fs.readFileSync(configFile, 'utf8')) as { policy?: unknown } | null;
    if (raw && typeof raw.policy === 'string' && !raw.policy.includes('${')) return path.resolve(path.dirname(configFile), raw.policy);
  } catch {
    // The config's own problems already say why it cannot be read.
  }
  return undefined;
}

/**
 * Checks `file` (a main configuration or a policy document) and, for a configuration, the policy it
 * names. Never throws for invalid input: problems are returned.
 */
export function checkConfigFiles(file: string, env: NodeJS.ProcessEnv = process.env): CheckedFile[] {
  let text: string | undefined;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    return [{ file: displayPath(file), problems: [{ file: displayPath(file), line: 0, col: 0, key: '(file)', message: `cannot read: ${why}` }] }];
  }
  if (isPolicyText(text)) return [attempt(file, () => loadPolicy(file))];
  let policyFile: string | undefined;
  let config: ReturnType<typeof loadConfig> | undefined;
  const main = attempt(file, () => {
    config = loadConfig(file, env);
    policyFile = config.policy;
  });
  if (config) main.warnings = breakGlassWarnings(config.admission.breakGlass);
  const out = [main];
  if (main.problems.length) policyFile = policyPathOf(file);
  if (policyFile) {
    const policy = policyFile;
    // A missing policy file is already a problem of the config's `policy` key.
    if (fs.existsSync(policy)) out.push(attempt(policy, () => loadPolicy(policy, config ? { registries: config.registries } : {})));
  }
  // Files the configuration names and pushgate reads at start: a Sigstore trusted root, VEX documents.
  const data: Array<[string, string, () => void]> = [];
  const root = config?.admission.signatures?.trustedRoot;
  if (root && fs.existsSync(root)) data.push([root, 'admission.signatures.trustedRoot', () => loadTrustedRoot(root)]);
  for (const p of config?.vex?.paths ?? []) if (fs.existsSync(p)) data.push([p, 'vex.paths', () => loadVexFiles([p])]);
  for (const [f, key, load] of data) {
    try {
      load();
      out.push({ file: displayPath(f), problems: [] });
    } catch (err) {
      if (!isPushgateError(err) || err.code !== 'BAD_CONFIG') throw err;
      out.push({ file: displayPath(f), problems: [{ file: displayPath(f), line: 0, col: 0, key, message: err.message.replace(`${key}: `, '') }] });
    }
  }
  return out;
}

/** Adds `config check` to the program. */
export function register(program: Command): void {
  const config = program.command('config').description('configuration and policy documents');
  config
    .command('check')
    .description('validate a configuration file (and the policy it names) or a policy document; every problem as FILE:LINE:COL: KEY: message')
    .argument('[FILE]', `main configuration or a policy document (default: $PUSHGATE_CONFIG, else ${DEFAULT_CONFIG_FILE})`)
    // Every other command takes the configuration as --config: the same spelling works here.
    .option('--config <file>', `the same as FILE (default: $PUSHGATE_CONFIG, else ${DEFAULT_CONFIG_FILE}; none: the built-in defaults)`)
    .action((arg: string | undefined, opts: { config?: string }, cmd: Command) => {
      if (arg && opts.config && arg !== opts.config) cmd.error(`pushgate: config check was given two files (${arg} and --config ${opts.config}); name one`, { exitCode: 2 });
      const file = arg ?? opts.config;
      const target = file ?? process.env.PUSHGATE_CONFIG ?? DEFAULT_CONFIG_FILE;
      if (!file && !process.env.PUSHGATE_CONFIG && !fs.existsSync(DEFAULT_CONFIG_FILE)) {
        // Nothing named and no config/pushgate.yaml here: `serve` and `scan` run on the built-in
        // defaults, which are valid; say so rather than report a missing file as a problem.
        process.stdout.write(`<built-in>: ok (no configuration file: ${DEFAULT_CONFIG_FILE} is not in ${process.cwd()} and PUSHGATE_CONFIG is unset, so pushgate runs on its built-in defaults; name a FILE to check one)\n`);
        process.exitCode = 0;
        return;
      }
      let bad = false;
      for (const c of checkConfigFiles(target, process.env)) {
        if (c.problems.length === 0) {
          process.stdout.write(`${c.file}: ok\n`);
          for (const w of c.warnings ?? []) process.stdout.write(`${c.file}: warning: ${w}\n`);
          continue;
        }
        bad = true;
        for (const p of c.problems) process.stdout.write(`${formatProblem(p)}\n`);
      }
      process.exitCode = bad ? 1 : 0;
    });
}
