/**
 * The ignore file of `pushgate scan` (`--ignore-file FILE`, default `.pushgateignore.yaml` in the
 * working directory when it exists), shaped after Trivy's `.trivyignore.yaml`
 * (https://trivy.dev/latest/docs/configuration/filtering/#trivyignoreyaml):
 *
 * ```yaml
 * vulnerabilities:
 *   - id: CVE-2024-12345          # the advisory id or any alias (GHSA-…, DEBIAN-CL-…), any letter case
 *     purls: [pkg:deb/debian/libc6] # optional scope: package URLs (no version = every version)
 *     paths: ["/var/lib/dpkg/**"]  # optional scope: globs on the file the package was read from (Finding.path:
 *                                 # /var/lib/dpkg/status for a deb, the package.json or lock file for npm)
 *     statement: not reachable    # why (or `reason:`); shown when the entry applies
 *     expires: 2026-12-31         # optional; a date lasts through that day (UTC), as policy exceptions
 * ```
 *
 * A file named with `--ignore-file` may also be Trivy's plain-text `.trivyignore`
 * (https://trivy.dev/latest/docs/configuration/filtering/#trivyignore): one advisory id per line, `#`
 * comments, an optional `exp:YYYY-MM-DD` field after the id ({@link parseTrivyIgnore}). It is told from YAML
 * by its lines ({@link isTrivyIgnoreText}), never by its name, and never read without the flag.
 *
 * An entry hides the findings whose id or alias equals its `id` (case-insensitive) and, when scoped,
 * whose purl matches one of `purls` and whose path matches one of `paths`. An expired entry hides
 * nothing and is reported. The file is validated with ajv; a malformed one is an error naming its line.
 */
import fs from 'node:fs';
import picomatch from 'picomatch';
import { createRequire } from 'node:module';
import type { PackageURL } from 'packageurl-js';
import type * as Purl from 'packageurl-js';
import { PushgateError, type Finding } from '../core/index.js';
import { ConfigError, type ConfigProblem } from '../config/errors.js';
import { createAjv, displayPath, formatKey, parseLocated, problemAt, sortProblems, toJSLocated, validateLocated } from '../config/yaml-doc.js';

// Loaded on first use (an entry with `purls`), not at every CLI start.
const load = createRequire(import.meta.url);
const parsePurl = (s: string): PackageURL => (load('packageurl-js') as typeof Purl).PackageURL.fromString(s);

/** Default ignore file name, looked up in the working directory only. */
export const DEFAULT_IGNORE_FILE = '.pushgateignore.yaml';

/** One entry as written in the file. */
export interface IgnoreEntrySpec {
  id: string;
  purls?: string[];
  paths?: string[];
  statement?: string;
  reason?: string;
  /** `2026-12-31` (through that day, UTC) or an RFC 3339 date-time. */
  expires?: string;
}

/** A compiled entry. */
export interface IgnoreEntry {
  spec: IgnoreEntrySpec;
  /** 1-based line of the entry in the file. */
  line: number;
  /** Last instant (ms since the epoch) the entry applies; Infinity without `expires`. */
  expiresAt: number;
  /** True when the entry covers `f` (expiry not considered). */
  covers(f: Finding): boolean;
}

/** A loaded ignore file. */
export interface IgnoreFile {
  /** The file as the user named it (relative to the working directory when inside it). */
  file: string;
  entries: IgnoreEntry[];
}

const SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    vulnerabilities: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id'],
        properties: {
          id: { type: 'string', minLength: 1, pattern: '\\S' },
          purls: { type: 'array', items: { type: 'string', pattern: '^pkg:' } },
          paths: { type: 'array', items: { type: 'string', minLength: 1 } },
          statement: { type: 'string' },
          reason: { type: 'string' },
          expires: { type: 'string', format: 'date-or-date-time' },
        },
      },
    },
  },
} as const;

let validator: ReturnType<ReturnType<typeof createAjv>['compile']> | undefined;

/** Normalizes an advisory id for comparison: trimmed, upper case (ids are case-insensitive: OSV schema §id). */
export function normalizeId(id: string): string {
  return id.trim().toUpperCase();
}

/** Last instant an entry applies: a date means through the end of that day (UTC), like policy exceptions. */
export function expiryOf(expires: string | undefined): number {
  if (expires === undefined) return Infinity;
  return /^\d{4}-\d{2}-\d{2}$/.test(expires) ? Date.parse(`${expires}T23:59:59.999Z`) : Date.parse(expires);
}

/** A purl matcher: type, namespace, name equal; version and each given qualifier equal when the pattern has them. */
function purlMatcher(pattern: string): (purl: string | undefined) => boolean {
  const want = parsePurl(pattern);
  const wantQ = Object.entries((want.qualifiers ?? {}) as Record<string, string>);
  return (purl) => {
    if (!purl) return false;
    let got: PackageURL;
    try {
      got = parsePurl(purl);
    } catch {
      return false;
    }
    if (got.type !== want.type || (got.namespace ?? '') !== (want.namespace ?? '') || got.name !== want.name) return false;
    if (want.version && got.version !== want.version) return false;
    const q = (got.qualifiers ?? {}) as Record<string, string>;
    return wantQ.every(([k, v]) => q[k] === v);
  };
}

/**
 * Parses and validates ignore-file text.
 * @param file the name used in problems.
 * @throws PushgateError BAD_CONFIG whose one line names the problem's line and key; with more than
 *   one problem a ConfigError (also BAD_CONFIG) whose first line names the first and whose next
 *   lines list every problem as `FILE:LINE:COL: KEY: message`.
 */
export function parseIgnoreFile(text: string, file: string): IgnoreFile {
  const ld = parseLocated(text, file);
  const js = ld.problems.length ? undefined : toJSLocated(ld);
  const problems: ConfigProblem[] = [...ld.problems];
  const value = js?.value ?? {};
  const entries: IgnoreEntry[] = [];
  if (js && value !== null && value !== undefined) {
    validator ??= createAjv().compile(SCHEMA);
    problems.push(...validateLocated(ld, validator, value));
  }
  if (!problems.length && value && typeof value === 'object') {
    const list = (value as { vulnerabilities?: IgnoreEntrySpec[] }).vulnerabilities ?? [];
    list.forEach((spec, i) => {
      const at = ['vulnerabilities', i];
      if (spec.statement !== undefined && spec.reason !== undefined) {
        problems.push(problemAt(ld, [...at, 'reason'], 'give `statement` or `reason` (the same field under two names), not both', 'key'));
      }
      const purls: Array<(p: string | undefined) => boolean> = [];
      for (const [j, p] of (spec.purls ?? []).entries()) {
        try {
          purls.push(purlMatcher(p));
        } catch (e) {
          problems.push(problemAt(ld, [...at, 'purls', j], `not a package URL: ${e instanceof Error ? e.message : String(e)}`));
        }
      }
      const globs = (spec.paths ?? []).map((g) => picomatch(g, { dot: true }));
      const id = normalizeId(spec.id);
      entries.push({
        spec,
        line: problemAt(ld, at, '').line,
        expiresAt: expiryOf(spec.expires),
        covers: (f) =>
          (normalizeId(f.id) === id || f.aliases.some((a) => normalizeId(a) === id)) &&
          (!purls.length || purls.some((m) => m(f.purl))) &&
          (!globs.length || globs.some((m) => m(f.path))),
      });
    });
  }
  if (problems.length) {
    const sorted = sortProblems(problems);
    const first = sorted[0];
    const summary = `invalid ignore file ${file}: line ${first.line}: ${first.key === formatKey([]) ? '' : `${first.key}: `}${first.message}`;
    // One problem is one line; more are listed below the first, one per line.
    if (sorted.length === 1) throw new PushgateError('BAD_CONFIG', summary, { details: { problems: sorted } });
    throw new ConfigError(sorted, `${summary} (and ${sorted.length - 1} more problem(s))`);
  }
  return { file, entries };
}

/** One meaningful line of a `.trivyignore`: an id (no `:`), then `exp:` fields, then an optional `#` comment. */
const TRIVY_LINE = /^[^\s:#]+(?:\s+exp:\S*)*(?:\s+#.*)?$/;

/**
 * True when `text` reads as Trivy's plain-text `.trivyignore` rather than YAML: every line that is not
 * blank or a `#` comment is an id without `:` (YAML keys and `- id:` list items have one), optionally
 * followed by `exp:` fields and a `#` comment. A file of comments only holds no entries either way.
 */
export function isTrivyIgnoreText(text: string): boolean {
  return text.split(/\r?\n/).every((l) => {
    const t = l.trim();
    return t === '' || t.startsWith('#') || TRIVY_LINE.test(t);
  });
}

/**
 * Parses Trivy's plain-text `.trivyignore`: each line that is not blank or a `#` comment names one
 * advisory id (or alias); `exp:YYYY-MM-DD` after it is the last day the entry applies (through that day,
 * UTC, as everywhere in pushgate; Trivy stops at the start of it). Entries have no purl or path scope.
 * @param file the name used in problems.
 * @throws PushgateError BAD_CONFIG naming the first line whose `exp:` is not a calendar date, or a
 *   ConfigError listing every such line.
 */
export function parseTrivyIgnore(text: string, file: string): IgnoreFile {
  const entries: IgnoreEntry[] = [];
  const problems: ConfigProblem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const t = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!t) return;
    const [id, ...fields] = t.split(/\s+/);
    let expires: string | undefined;
    for (const f of fields) {
      const date = f.slice('exp:'.length);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date) {
        problems.push({ file, line: i + 1, col: raw.indexOf(f) + 1, key: formatKey([]), message: `${f}: the expiry must be exp:YYYY-MM-DD, a calendar date` });
        return;
      }
      expires = date;
    }
    const want = normalizeId(id);
    entries.push({
      spec: { id, ...(expires ? { expires } : {}) },
      line: i + 1,
      expiresAt: expiryOf(expires),
      covers: (f) => normalizeId(f.id) === want || f.aliases.some((a) => normalizeId(a) === want),
    });
  });
  if (problems.length) {
    const summary = `invalid ignore file ${file}: line ${problems[0].line}: ${problems[0].message}`;
    if (problems.length === 1) throw new PushgateError('BAD_CONFIG', summary, { details: { problems } });
    throw new ConfigError(problems, `${summary} (and ${problems.length - 1} more problem(s))`);
  }
  return { file, entries };
}

/**
 * Loads the ignore file: `explicit` when given (must exist), else {@link DEFAULT_IGNORE_FILE} in the
 * working directory when present, else undefined. `explicit === false` (`--no-ignore-file`) reads none.
 * A named file that is not `.yaml`/`.yml` and reads as Trivy's plain text ({@link isTrivyIgnoreText}) is
 * read as such; the default file is always YAML.
 * @throws PushgateError NOT_FOUND for a named file that does not exist; ConfigError for a malformed one.
 */
export function loadIgnoreFile(explicit: string | false | undefined, cwd = process.cwd()): IgnoreFile | undefined {
  if (explicit === false) return undefined;
  const file = explicit ?? (fs.existsSync(`${cwd}/${DEFAULT_IGNORE_FILE}`) ? `${cwd}/${DEFAULT_IGNORE_FILE}` : undefined);
  if (file === undefined) return undefined;
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) throw new PushgateError('NOT_FOUND', `--ignore-file ${file}: no such file`);
  if (!st.isFile()) throw new PushgateError('BAD_ARGUMENT', `--ignore-file ${file}: not a regular file`);
  const text = fs.readFileSync(file, 'utf8');
  if (explicit !== undefined && !/\.ya?ml$/i.test(file) && isTrivyIgnoreText(text)) return parseTrivyIgnore(text, displayPath(file));
  return parseIgnoreFile(text, displayPath(file));
}

/** What applying an ignore file did. */
export interface IgnoreOutcome {
  kept: Finding[];
  /** Findings hidden, each with the entry that hid it. */
  ignored: Array<{ finding: Finding; entry: IgnoreEntry }>;
}

/** Entries that have expired at `now` (ms since the epoch). */
export function expiredEntries(f: IgnoreFile, now: number): IgnoreEntry[] {
  return f.entries.filter((e) => e.expiresAt < now);
}

/** Splits findings into kept and ignored by the entries in force at `now` (ms since the epoch). */
export function applyIgnoreFile(findings: Finding[], f: IgnoreFile, now: number): IgnoreOutcome {
  const live = f.entries.filter((e) => e.expiresAt >= now);
  const kept: Finding[] = [];
  const ignored: IgnoreOutcome['ignored'] = [];
  for (const finding of findings) {
    const entry = live.find((e) => e.covers(finding));
    if (entry) ignored.push({ finding, entry });
    else kept.push(finding);
  }
  return { kept, ignored };
}
