/**
 * Configuration problems: every problem carries the file, line and column of the key it is about,
 * so `pushgate config check` and startup errors can point at it (DESIGN.md §3 `config check`).
 */
import { PushgateError } from '../core/errors.js';

/** One problem in a configuration or policy document. `line`/`col` are 1-based (0 when unknown). */
export interface ConfigProblem {
  /** The file as the user named it (relative to the working directory when inside it), or `<built-in>`. */
  file: string;
  line: number;
  col: number;
  /** Key path in the document, `registries[0].webhook.token`; `(document)` for the whole file. */
  key: string;
  message: string;
}

/**
 * `FILE:LINE:COL: KEY: message`, the one-line form printed by `pushgate config check`; a problem of
 * the whole file (line 0: missing, unreadable) is `FILE: KEY: message`, as compilers print it.
 */
export function formatProblem(p: ConfigProblem): string {
  return p.line > 0 ? `${p.file}:${p.line}:${p.col}: ${p.key}: ${p.message}` : `${p.file}: ${p.key}: ${p.message}`;
}

/**
 * The configuration or a policy document is invalid. `problems` holds every problem found (not only
 * the first); the message lists them one per line as `FILE:LINE:COL: KEY: message`.
 * Code `BAD_CONFIG`.
 */
export class ConfigError extends PushgateError {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[], summary?: string) {
    const head = summary ?? (problems.length === 1 ? 'invalid configuration (1 problem); fix it and retry' : `invalid configuration (${problems.length} problems); fix them and retry`);
    super('BAD_CONFIG', [head, ...problems.map(formatProblem)].join('\n'), { details: { problems } });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** True when `err` is a {@link ConfigError}. */
export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError;
}
