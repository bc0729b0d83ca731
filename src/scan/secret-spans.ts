/**
 * Secrets inside one string of an image config or manifest (history `created_by`, a label, an
 * argument of Cmd, an annotation): where each secret value starts and ends, so that it can be
 * reported and cut out of the string while the rest stays readable.
 *
 * Two kinds of rules, in priority order (a span overlapping an earlier one is dropped):
 * 1. the known-format rules of analyzers/secrets.ts (private keys, AWS, GitHub, GitLab, Slack and npm
 *    tokens), whatever surrounds them;
 * 2. heuristics for how secrets are written into build commands and settings:
 *    - `NAME=VALUE` where NAME means a password (rule `env-password`) or a token, secret, API/private/access
 *      key or credential (rule `secret-assignment`), and VALUE is not a placeholder or a `$reference`.
 *      This covers Env entries, `ENV`/`ARG` lines, and the build arguments BuildKit and the legacy
 *      builder write in front of a RUN's `created_by` (`|2 NPM_TOKEN=abc BUILD=1 /bin/sh -c npm ci`);
 *    - options that carry a secret (`--password=…`, `--token …`, `--api-key=…`; `-pSECRET` in a mysql or
 *      mariadb command; `-u user:pass` in a curl command): rule `password-option`;
 *    - credentials in a URL (`https://user:pass@host`): rule `url-credentials`;
 *    - HTTP authorization headers (`Authorization: Bearer …`, `Private-Token: …`, `X-Api-Key: …`):
 *      rule `authorization-header`.
 * Names and values are matched as a shell word: a quoted value counts as one word; a value stops at
 * whitespace or a shell operator otherwise.
 */
import { SECRET_RULES, isPasswordName, isPlaceholderValue } from './analyzers/secrets.js';

/** The text that replaces a secret value (after its kept prefix). */
export const REDACTED_MARK = '…[REDACTED]';

/** One secret value inside a string. */
export interface SecretSpan {
  rule: string;
  severity: 'critical' | 'high' | 'medium';
  /** UTF-16 offsets of the secret value: `[start, end)`. */
  start: number;
  end: number;
  /** Leading characters of the value that may stay (a format prefix such as `AKIA`); 0 keeps nothing. */
  keep: number;
  /**
   * Where the context shown with the redacted value starts (`NAME=`, `--password=`, `Authorization:
   * Bearer `); equal to `start` when there is none.
   */
  contextStart: number;
}

/** The replacement of a secret value: its kept prefix and {@link REDACTED_MARK}. */
export function redactValue(value: string, keep: number): string {
  return `${value.slice(0, Math.max(0, Math.min(keep, value.length - 1)))}${REDACTED_MARK}`;
}

/** The known-format rules with match indices (the `d` flag), built once. */
const KNOWN = SECRET_RULES.filter((r) => r.id !== 'private-key').map((r) => ({ rule: r, re: new RegExp(r.re.source, `${r.re.flags.replace('d', '')}d`) }));

// In a config string a private key header alone is enough (a key pasted into a label or an ENV): the
// span runs from the header to the END line, or to the end of the string when there is none.
const PRIVATE_KEY = /-----BEGIN ((?:RSA |DSA |EC |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----/g;
const PRIVATE_KEY_END = /-----END [A-Z ]{0,16}PRIVATE KEY(?: BLOCK)?-----/g;

/** Last words of a name that mean the value is a token, key or credential (`NPM_TOKEN`, `api-key`, `apiKey`). */
const SECRET_LAST = new Set(['TOKEN', 'KEY', 'APIKEY', 'APITOKEN', 'AUTHTOKEN', 'ACCESSTOKEN', 'CREDENTIAL', 'CREDENTIALS', 'CREDS', 'AUTH', 'SECRET', 'PAT']);
/** Words anywhere in a name that mean a password or a secret (`*PASSWORD*`, `*SECRET*`). */
const PASSWORD_ANY = /PASSWORD|PASSWD|PASSPHRASE/;
const SECRET_ANY = /SECRET/;
/** Last words that only describe a secret (its file, length, lifetime, header name): not the secret. */
const DESCRIBES = new Set(['FILE', 'PATH', 'DIR', 'URL', 'URI', 'ENDPOINT', 'LENGTH', 'LEN', 'SIZE', 'TTL', 'TIMEOUT', 'EXPIRY', 'EXPIRES', 'EXPIRATION', 'AGE', 'NAME', 'TYPE', 'MODE', 'POLICY', 'ENABLED', 'DISABLED', 'HEADER', 'FIELD', 'PARAM', 'COUNT', 'LIMIT', 'MIN', 'MAX', 'ID', 'IDS', 'STDIN', 'ENV', 'REF', 'HINT', 'PROMPT', 'FORMAT', 'ALGORITHM', 'ALG', 'KEYS', 'KEYRING', 'FINGERPRINT', 'SERVER', 'HOST', 'PORT', 'ISSUER', 'AUDIENCE', 'SCOPE', 'SCOPES', 'METHOD', 'PROVIDER']);
/** Words before `KEY` that make it a public or structural key (official images set `ENV GPG_KEY A035C8…`). */
const PUBLIC_KEY_WORDS = new Set(['GPG', 'PGP', 'PUBLIC', 'PUB', 'SIGNING', 'HOST', 'PRIMARY', 'FOREIGN', 'SORT', 'PARTITION', 'CACHE', 'SHARD', 'ROUTING', 'IDEMPOTENCY', 'DEDUP', 'DEDUPE', 'LOOKUP', 'REDIS', 'HASH', 'GROUP', 'MAP', 'ENCODED']);
/** First words that make a name a switch about a secret (`ALLOW_EMPTY_PASSWORD`, `DISABLE_AUTH`). */
const SWITCH_FIRST = new Set(['ALLOW', 'DISABLE', 'ENABLE', 'REQUIRE', 'SKIP', 'USE', 'NO', 'IGNORE', 'RANDOM', 'GENERATE']);

/** The words of a name: split at `_`, `.`, `-`, `/` and camelCase humps, upper-cased. */
function nameWords(name: string): string[] {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase().split(/[_.\-/]+/).filter(Boolean);
}

/**
 * The rule a `NAME=VALUE` assignment (or a label or annotation named NAME) falls under: `env-password`
 * when NAME means a password, `secret-assignment` when it means a token, secret, key or credential
 * (`*PASSWORD*`, `*SECRET*`, `*_TOKEN`, `*_KEY`, `*_CREDENTIALS`, `*_AUTH`), undefined otherwise.
 */
export function assignmentRule(name: string): 'env-password' | 'secret-assignment' | undefined {
  if (RULE_OF_NAME.has(name)) return RULE_OF_NAME.get(name);
  const rule = ruleOfName(name);
  if (RULE_OF_NAME.size >= 10_000) RULE_OF_NAME.clear();
  RULE_OF_NAME.set(name, rule);
  return rule;
}

const RULE_OF_NAME = new Map<string, 'env-password' | 'secret-assignment' | undefined>();

function ruleOfName(name: string): 'env-password' | 'secret-assignment' | undefined {
  const w = nameWords(name);
  if (!w.length) return undefined;
  const last = w[w.length - 1];
  if (DESCRIBES.has(last) || SWITCH_FIRST.has(w[0])) return undefined;
  const joined = w.join('_');
  if (isPasswordName(name) || PASSWORD_ANY.test(joined) || ['PASS', 'PWD'].includes(last)) return 'env-password';
  if (last === 'KEY' && w.length > 1 && PUBLIC_KEY_WORDS.has(w[w.length - 2])) return undefined;
  if (SECRET_ANY.test(joined) || SECRET_LAST.has(last)) return 'secret-assignment';
  return undefined;
}

/** Booleans are switches (`ALLOW_EMPTY_PASSWORD=yes`), never a secret. */
const SWITCH = /^(?:true|false|yes|no|on|off|0|1|enabled?|disabled?)$/i;

/** True when a value is real enough to be a secret: not a placeholder, switch or `$reference`. */
export function isSecretValue(v: string): boolean {
  const t = v.trim();
  if (t.length < 3 || SWITCH.test(t) || isPlaceholderValue(t)) return false;
  // A shell reference is expanded at run time: the literal text is not the secret.
  if (/\$[{(A-Za-z_]/.test(t)) return false;
  return true;
}

// Every pattern below matches in time linear in the text (a hostile config is up to 8 MiB): names
// and prefixes are matched by the global patterns, values by wordEnd from the value's start and
// then consumed; a quote without its closing quote runs to the end of the text instead of failing (a
// failing unbounded match retried at every position would be quadratic).

// Also a Java system property (`-Ddb.password=…`), whose name follows `-D` without a separator.
const ASSIGNMENT = /(?:(?<![\w.$-])|(?<=(?<![\w-])-D))([A-Za-z_][A-Za-z0-9_.-]*)=/g;
const OPTION = /(?<![\w-])(--?[A-Za-z][\w-]*)(?:=|[ \t]+)/g;
const OPTION_NAME = /(?:password|passwd|passphrase|token|secret|api-?key|access-?key|private-?key|credentials?|(?:^-+|store|key|src|dest|-)pass)$|password|secret/i;
const OPTION_NOT_SECRET = /(?:-file|-stdin|-env|-path|-dir|-name|-id|-type|-length|-url|-endpoint|-header|-ttl|-hint)$|^--?no-/i;
const MYSQL_P = /(?<![\w-])-p(?=[^\s-])/g;
const CURL_USER = /(?<![\w-])(?:-u[ \t]*|--user(?:=|[ \t]+))(?=[^\s-])/g;
const URL_CREDENTIALS = /[a-z][a-z0-9+.-]{0,31}:\/\/([^\s/:@'"]{0,256}):([^\s/@'"]{1,1024})@/gid;
const AUTH_HEADER = /\b(?:proxy-)?(?:authorization|x-api-key|api-key|apikey|private-token|job-token|x-auth-token|x-access-token)\s*:\s*(?:(?:bearer|basic|token|digest|negotiate|apikey|ssws)\s+)?([^\s'"]+)/gid;

/** Characters that end an unquoted shell word: whitespace and the shell's operators. */
const WORD_END = new Set([' ', '\t', '\n', '\r', '\f', '\v', ';', '&', '|', '<', '>', '(', ')', '`']);

/**
 * The end of the shell word starting at `at` (`at` itself when there is none): quoted parts, escaped
 * characters or plain characters up to whitespace or an operator. A quote that is never closed runs to
 * the end of the text. A loop, not a pattern: linear, and no regular-expression stack on long words.
 */
function wordEnd(text: string, at: number): number {
  let i = at;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i = Math.min(i + 1, text.length);
    } else if (c === "'") {
      const j = text.indexOf("'", i + 1);
      i = j < 0 ? text.length : j + 1;
    } else if (c === '\\') {
      i = Math.min(i + 2, text.length);
    } else if (WORD_END.has(c)) {
      break;
    } else {
      i++;
    }
  }
  return i;
}

/** The unquoted extent of a shell word at `[start, end)`: the inside of one quoted string, else the word. */
function unquote(text: string, start: number, end: number): [number, number] {
  const q = text[start];
  if ((q === '"' || q === "'") && end - start >= 2 && text[end - 1] === q && text.indexOf(q, start + 1) === end - 1) return [start + 1, end - 1];
  return [start, end];
}

/** The shell commands of a text (split at `;`, `&`, `|` and newlines), found once and looked up by position. */
function commands(text: string): (at: number) => string {
  let bounds: number[] | undefined;
  return (at) => {
    if (!bounds) {
      bounds = [-1];
      for (let i = 0; i < text.length; i++) if (/[;&|\n]/.test(text[i])) bounds.push(i);
      bounds.push(text.length);
    }
    let lo = 0;
    let hi = bounds.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (bounds[mid] < at) lo = mid;
      else hi = mid;
    }
    return text.slice(bounds[lo] + 1, bounds[hi]);
  };
}

/**
 * Every secret value in `text`, in order of position, without overlaps. `assign` treats the whole
 * of `text` after `assign.valueStart` as the value of a variable named `assign.name` (an Env entry,
 * a label, an annotation): the value can hold spaces there, unlike in a shell command.
 */
export function findSecretSpans(text: string, assign?: { name: string; valueStart: number }): SecretSpan[] {
  const out: SecretSpan[] = [];
  // Characters already inside an accepted span: an overlapping later candidate is dropped.
  let taken: Uint8Array | undefined;
  const add = (s: SecretSpan) => {
    if (s.end <= s.start) return;
    // A value already redacted (the mark alone) is not found again when a redacted string is searched anew.
    if (s.end - s.start === REDACTED_MARK.length && text.slice(s.start, s.end) === REDACTED_MARK) return;
    taken ??= new Uint8Array(text.length);
    for (let i = s.start; i < s.end; i++) if (taken[i]) return;
    taken.fill(1, s.start, s.end);
    out.push(s);
  };
  const commandAt = commands(text);
  let endAt = -1;
  let endSearchedFrom = -1;
  for (let m = (PRIVATE_KEY.lastIndex = 0, PRIVATE_KEY.exec(text)); m; m = PRIVATE_KEY.exec(text)) {
    const start = m.index + m[0].length;
    // One forward search serves every header before the END line it finds.
    if (endSearchedFrom < 0 || (endAt >= 0 && endAt < start)) {
      PRIVATE_KEY_END.lastIndex = start;
      const e = PRIVATE_KEY_END.exec(text);
      endAt = e ? e.index : -1;
      endSearchedFrom = start;
    }
    const end = endAt >= 0 ? endAt : text.length;
    add({ rule: 'private-key', severity: 'critical', start, end, keep: 0, contextStart: m.index });
    // A header with nothing after it still hides nothing: report the header itself.
    if (endAt < 0 && start === text.length) add({ rule: 'private-key', severity: 'critical', start: m.index, end: text.length, keep: m[0].length - 5, contextStart: m.index });
  }
  for (const { rule, re } of KNOWN) {
    re.lastIndex = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const [s, e] = m.indices?.[rule.group ?? 0] ?? [m.index, m.index + m[0].length];
      add({ rule: rule.id, severity: rule.severity, start: s, end: e, keep: rule.keep, contextStart: s });
      if (m[0].length === 0) re.lastIndex++;
    }
  }
  if (assign) {
    const rule = assignmentRule(assign.name);
    const value = text.slice(assign.valueStart);
    if (rule && isSecretValue(value)) {
      const lead = value.length - value.trimStart().length;
      add({ rule, severity: rule === 'env-password' ? 'medium' : 'high', start: assign.valueStart + lead, end: assign.valueStart + value.trimEnd().length, keep: 0, contextStart: 0 });
    }
  }
  // `NOTE=DB_PASSWORD=x`: the value of a plain name is not consumed, so an assignment inside it is found.
  for (let m = (ASSIGNMENT.lastIndex = 0, ASSIGNMENT.exec(text)); m; m = ASSIGNMENT.exec(text)) {
    const rule = assignmentRule(m[1]);
    if (!rule) continue;
    const at = m.index + m[0].length;
    const end = wordEnd(text, at);
    ASSIGNMENT.lastIndex = Math.max(end, at);
    const [vs, ve] = unquote(text, at, end);
    if (isSecretValue(text.slice(vs, ve))) add({ rule, severity: rule === 'env-password' ? 'medium' : 'high', start: vs, end: ve, keep: 0, contextStart: m.index });
  }
  for (let m = (OPTION.lastIndex = 0, OPTION.exec(text)); m; m = OPTION.exec(text)) {
    const name = m[1];
    const at = m.index + m[0].length;
    // The word after a plain option may be the next option: it is looked at again.
    if (!OPTION_NAME.test(name) || OPTION_NOT_SECRET.test(name) || text[at] === '-') continue;
    const end = wordEnd(text, at);
    OPTION.lastIndex = Math.max(end, at);
    const [vs, ve] = unquote(text, at, end);
    if (isSecretValue(text.slice(vs, ve))) add({ rule: 'password-option', severity: 'high', start: vs, end: ve, keep: 0, contextStart: m.index });
  }
  for (let m = (MYSQL_P.lastIndex = 0, MYSQL_P.exec(text)); m; m = MYSQL_P.exec(text)) {
    if (!/\b(?:mysql\w*|mariadb\w*)\b/i.test(commandAt(m.index))) continue;
    const at = m.index + m[0].length;
    const end = wordEnd(text, at);
    MYSQL_P.lastIndex = Math.max(end, at);
    const [vs, ve] = unquote(text, at, end);
    if (isSecretValue(text.slice(vs, ve))) add({ rule: 'password-option', severity: 'high', start: vs, end: ve, keep: 0, contextStart: m.index });
  }
  for (let m = (CURL_USER.lastIndex = 0, CURL_USER.exec(text)); m; m = CURL_USER.exec(text)) {
    if (!/\bcurl\b/i.test(commandAt(m.index))) continue;
    const at = m.index + m[0].length;
    const end = wordEnd(text, at);
    CURL_USER.lastIndex = Math.max(end, at);
    const [us, ue] = unquote(text, at, end);
    const colon = text.indexOf(':', us);
    if (colon < 0 || colon >= ue) continue;
    if (isSecretValue(text.slice(colon + 1, ue))) add({ rule: 'password-option', severity: 'high', start: colon + 1, end: ue, keep: 0, contextStart: m.index });
  }
  for (let m = (URL_CREDENTIALS.lastIndex = 0, URL_CREDENTIALS.exec(text)); m; m = URL_CREDENTIALS.exec(text)) {
    const [vs, ve] = m.indices![2];
    const v = text.slice(vs, ve);
    // `user:$PASS@host` is expanded at run time: not a credential written into the image.
    if (!/\$/.test(v) && !isPlaceholderValue(v)) {
      add({ rule: 'url-credentials', severity: 'high', start: vs, end: ve, keep: 0, contextStart: m.index });
    }
  }
  for (let m = (AUTH_HEADER.lastIndex = 0, AUTH_HEADER.exec(text)); m; m = AUTH_HEADER.exec(text)) {
    const [vs, ve] = m.indices![1];
    if (isSecretValue(text.slice(vs, ve))) add({ rule: 'authorization-header', severity: 'high', start: vs, end: ve, keep: 0, contextStart: m.index });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** A string with its secret values replaced, and where each replacement landed. */
export interface RedactedText {
  text: string;
  /** Per span (same order as given): the redacted context and value, e.g. `NPM_TOKEN=…[REDACTED]`. */
  shown: string[];
}

/** Longest context shown before a redacted value in a report. */
const MAX_CONTEXT = 60;

/**
 * Replaces every span of `text` (non-overlapping, sorted by start) with its kept prefix and
 * {@link REDACTED_MARK}. `shown[i]` is span i with its context as it reads after redaction, so a
 * secret in the context of another (a token as the user of a URL) is hidden there too.
 */
export function redactSpans(text: string, spans: SecretSpan[]): RedactedText {
  let out = '';
  let at = 0;
  const placed: Array<{ start: number; end: number; newStart: number; newEnd: number }> = [];
  for (const s of spans) {
    out += text.slice(at, s.start);
    const newStart = out.length;
    out += redactValue(text.slice(s.start, s.end), s.keep);
    placed.push({ start: s.start, end: s.end, newStart, newEnd: out.length });
    at = s.end;
  }
  out += text.slice(at);
  // Where an offset of `text` lands in `out`: inside a span, at its replacement's start.
  const map = (pos: number): number => {
    let lo = 0;
    let hi = placed.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (placed[mid].start <= pos) lo = mid + 1;
      else hi = mid;
    }
    const p = placed[lo - 1];
    if (!p) return pos;
    return pos < p.end ? p.newStart : pos + (p.newEnd - p.end);
  };
  const shown = spans.map((s, i) => {
    const from = Math.max(map(Math.max(s.contextStart, s.start - MAX_CONTEXT)), 0);
    return out.slice(from, placed[i].newEnd).replace(/\s+/g, ' ');
  });
  return { text: out, shown };
}

/** `text` with every secret value found by {@link findSecretSpans} redacted. */
export function redactText(text: string): string {
  const spans = findSecretSpans(text);
  return spans.length ? redactSpans(text, spans).text : text;
}
