/**
 * The options of `pushgate scan` about where state and credentials come from (`--db`, `--cache-dir`,
 * `--offline`, `--username`, `--password-stdin`), kept apart from the report and policy flags.
 */
import { Command, Option } from 'commander';
import { PushgateError } from '../core/index.js';

/** Parsed state and credential options. */
export interface ScanStateOptions {
  db?: string;
  cacheDir?: string;
  offline?: boolean;
  username?: string;
  passwordStdin?: boolean;
}

/** The credential paragraph of `scan --help`. */
export const CREDENTIALS_HELP = `
Registry credentials, first match wins: --username/--password-stdin; registries[].auth of --config;
$REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json; $XDG_CONFIG_HOME/containers/auth.json
(podman, skopeo, buildah login); $DOCKER_CONFIG/config.json or ~/.docker/config.json (docker login).
Credential helpers (credsStore, credHelpers) are never run: pushgate executes no program named in a
file; use --username USER --password-stdin for such a registry. Credentials go to their registry only.

State: the vulnerability database is --db, else vulndb.path of the config file, else
<cache>/vulndb.sqlite, where <cache> is --cache-dir, $PUSHGATE_CACHE_DIR, $XDG_CACHE_HOME/pushgate or
~/.cache/pushgate. Without a database, scan builds one on first use (not with --offline).`;

/** Adds the state and credential options to `scan`. */
export function addScanStateOptions(cmd: Command): Command {
  return cmd
    .option('--db <path>', 'vulnerability database (default: vulndb.path of the config file, else <cache>/vulndb.sqlite)')
    .option('--cache-dir <dir>', 'cache directory (default: $PUSHGATE_CACHE_DIR, $XDG_CACHE_HOME/pushgate, ~/.cache/pushgate)')
    .option('--offline', 'never use the network for the vulnerability database (no first-use download)')
    .option('--username <user>', 'registry user name for the scanned reference (with --password-stdin)')
    .addOption(new Option('--password-stdin', 'read the registry password (or token) from stdin'))
    .addHelpText('after', CREDENTIALS_HELP);
}

/**
 * The one-off credentials of `--username`/`--password-stdin`: the password is all of stdin less one
 * trailing newline (`docker login --password-stdin` reads it the same way).
 * `stdin` defaults to process.stdin, which is looked at only when the password is read: Node makes
 * that stream on first use (loading tty or net and opening the descriptor, 5-10 ms), which every
 * scan without --password-stdin paid for nothing while a default parameter named it.
 * @throws PushgateError BAD_ARGUMENT when only one of the two is given, the target is not a registry
 *   reference, or the password is empty.
 */
export async function oneOffCredentials(target: string, opts: ScanStateOptions, stdin?: NodeJS.ReadableStream): Promise<{ username: string; password: string } | undefined> {
  if (!opts.username && !opts.passwordStdin) return undefined;
  if (!opts.passwordStdin) throw new PushgateError('BAD_ARGUMENT', '--username needs --password-stdin: pipe the password in (a password on the command line shows in ps and shell history)');
  if (!opts.username) throw new PushgateError('BAD_ARGUMENT', '--password-stdin needs --username USER');
  if (/^(oci|archive|dir|sbom):/.test(target)) throw new PushgateError('BAD_ARGUMENT', `--username: ${target.split(':')[0]}: targets are read from files, not from a registry; drop --username/--password-stdin`);
  const chunks: Buffer[] = [];
  for await (const c of stdin ?? process.stdin) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (!password) throw new PushgateError('BAD_ARGUMENT', '--password-stdin: stdin was empty; pipe the password in, e.g. printf %s "$TOKEN" | pushgate scan --username USER --password-stdin REF');
  return { username: opts.username, password };
}
