/**
 * secret/builtin: secrets in text files, after trivy's builtin secret rules
 * (pkg/fanal/secret/builtin-rules.go, builtin-allow-rules.go): private keys (PEM, OpenSSH, PGP), AWS
 * access key ids and secret access keys (the secret only next to an `aws_secret_access_key` style
 * name), GCP service-account JSON, GitHub, GitLab, Slack and npm tokens; passwords (`DB_PASS=…` with
 * a non-placeholder value) only in `.env`-style files and the image config's Env: a generic
 * `password=` elsewhere is not a finding (too many false positives). A file of another name keeps
 * those lines (redacted) in `byName`, so that a link to it named `.env` reports them (`foundUnder`). The value is never stored: `redacted` keeps a short prefix at most.
 * Skipped: binary files (a NUL byte in the first 8000 bytes, as git decides), files over 1 MiB and the
 * directories package managers own (trivy's allow rules: /usr/share, /usr/include, /usr/lib,
 * node_modules, site-/dist-packages, Go module cache, gems), the distribution's binaries and the
 * package managers' state.
 */
import type { SecretFinding } from '../../core/index.js';
import type { Analyzer } from './types.js';

/** One secret rule of a known format. */
export interface SecretRule {
  id: string;
  severity: 'critical' | 'high' | 'medium';
  re: RegExp;
  /** Capture group holding the secret (0 = whole match). */
  group?: number;
  redact(v: string): string;
  /**
   * Characters of the secret that say only what kind it is (`AKIA`, `ghp_`, `glpat-`) and may stay
   * visible when the value is redacted inside a string of the image config; 0 keeps nothing.
   */
  keep: number;
}

const prefix = (n: number) => (v: string) => `${v.slice(0, n)}${'*'.repeat(Math.max(4, Math.min(16, v.length - n)))}`;

/** The rules, in reporting order. Exported for tests and for the image-config Env check. */
export const SECRET_RULES: SecretRule[] = [
  {
    id: 'private-key',
    severity: 'critical',
    re: /-----BEGIN ((?:RSA |DSA |EC |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----(?:\\n|\r?\n)(?:Proc-Type:|[A-Za-z0-9+/=]{20,})/g,
    group: 1,
    redact: (v) => `-----BEGIN ${v}----- (redacted)`,
    keep: 0,
  },
  { id: 'aws-access-key-id', severity: 'critical', re: /(?<![A-Z0-9])((?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|A3T[A-Z0-9])[A-Z2-7]{16})(?![A-Z0-9])/g, group: 1, redact: prefix(4), keep: 4 },
  {
    id: 'aws-secret-access-key',
    severity: 'critical',
    re: /aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/gi,
    group: 1,
    redact: () => '****************************************',
    keep: 0,
  },
  { id: 'gcp-service-account', severity: 'critical', re: /"type"\s*:\s*"service_account"[\s\S]{0,2000}?"private_key_id"\s*:\s*"([a-f0-9]{40})"/g, group: 1, redact: () => 'service_account private_key_id ****', keep: 0 },
  { id: 'github-token', severity: 'critical', re: /(?<![A-Za-z0-9_])(gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})(?![A-Za-z0-9_])/g, group: 1, redact: prefix(4), keep: 4 },
  { id: 'gitlab-token', severity: 'critical', re: /(?<![A-Za-z0-9_-])(glpat-[A-Za-z0-9_-]{20})(?![A-Za-z0-9_-])/g, group: 1, redact: prefix(6), keep: 6 },
  { id: 'slack-token', severity: 'high', re: /(?<![A-Za-z0-9-])(xox[baprs]-[0-9A-Za-z]{10,48}(?:-[0-9A-Za-z]{4,48}){0,4})/g, group: 1, redact: prefix(5), keep: 5 },
  { id: 'slack-webhook', severity: 'high', re: /(https:\/\/hooks\.slack\.com\/services\/T[A-Z0-9]{6,12}\/B[A-Z0-9]{6,12}\/[A-Za-z0-9]{20,32})/g, group: 1, redact: prefix(33), keep: 33 },
  { id: 'npm-token', severity: 'critical', re: /(?<![A-Za-z0-9_])(npm_[A-Za-z0-9]{36})(?![A-Za-z0-9])/g, group: 1, redact: prefix(4), keep: 4 },
];

// One cheap pass decides whether any rule can match at all.
const PREFILTER = /PRIVATE KEY|A[KS]IA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|A3T|secret|service_account|gh[pousr]_|github_pat_|glpat-|xox[baprs]-|hooks\.slack|npm_/i;

// Also skipped: the distribution's own binaries (/usr/bin, /usr/sbin, /bin, /sbin: ELF files owned by
// OS packages, about 85% of the bytes a Debian base would otherwise buffer) and package-manager state
// (/var/lib/{dpkg,apt,rpm,apk}, /var/cache/{apt,debconf}). /usr/local/bin and /opt stay scanned:
// entrypoint scripts with tokens live there.
const SKIP = /^\/(?:usr\/(?:share|include|lib|lib32|lib64|libexec|bin|sbin)\/|s?bin\/|var\/lib\/(?:dpkg|apt|rpm|apk)\/|var\/cache\/(?:apt|debconf)\/|proc\/|sys\/|dev\/)|\/node_modules\/|\/(?:site|dist)-packages\/|\/go\/pkg\/mod\/|\/gems\/|\/\.git\//;

/** Finds secrets in text. `text` must be the whole file (line numbers are 1-based). */
export function findSecrets(text: string, path: string): SecretFinding[] {
  if (!PREFILTER.test(text)) return [];
  const out: SecretFinding[] = [];
  for (const r of SECRET_RULES) {
    r.re.lastIndex = 0;
    for (let m = r.re.exec(text); m; m = r.re.exec(text)) {
      const v = m[r.group ?? 0] ?? m[0];
      let line = 1;
      for (let i = text.indexOf('\n'); i >= 0 && i < m.index; i = text.indexOf('\n', i + 1)) line++;
      out.push({ rule: r.id, severity: r.severity, path, line, redacted: r.redact(v) });
    }
  }
  return out;
}

/** `.env`, `.env.production`, `app.env`, but not the templates (`.env.example`, `.env.sample`, …). */
const ENV_FILE = /^(?:\.env(?:\.[\w-]+)?|[\w.-]+\.env)$/;
const ENV_TEMPLATE = /\.(?:example|sample|template|dist|tmpl|tpl|default|defaults)$|^\.?env\.(?:example|sample|template|dist)/i;
/** A variable name meaning a password: `PASSWORD`, `DB_PASS`, `MYSQL_ROOT_PASSWORD`, `REDIS_PWD`. */
const PASSWORD_KEY = /(?:^|_)(?:PASSWORD|PASSWD|PASS|PWD)$/i;
/** Values that are not real passwords: empty, references, templates, well-known placeholders. */
const PLACEHOLDER = /^(?:|changeme|change[_-]?me|change[_-]?it|password|passwd|pass|secret|example|placeholder|your[_-]?(?:db[_-]?)?pass(?:word)?(?:[_-]?here)?|x+|\*+|\.+|<[^>]*>|\$\{[^}]*\}|\$[A-Za-z_]\w*|\{\{.*\}\}|%[^%]+%|null|none|nil|undefined|todo|tbd|fixme|dummy|redacted|-)$/i;

/** True when `v` (unquoted) is a placeholder, a reference or a template rather than a real password or token. */
export function isPlaceholderValue(v: string): boolean {
  return PLACEHOLDER.test(v.trim());
}

/** True when a variable name means a password (`PASSWORD`, `DB_PASS`, `REDIS_PWD`). */
export function isPasswordName(name: string): boolean {
  return PASSWORD_KEY.test(name);
}

/** True when `path` names a `.env`-style file (not a template). */
export function isEnvFile(path: string): boolean {
  const b = path.slice(path.lastIndexOf('/') + 1);
  return ENV_FILE.test(b) && !ENV_TEMPLATE.test(b);
}

/**
 * Rule `env-password` (medium): `NAME=VALUE` lines whose name means a password and whose value is
 * not a placeholder or a reference, in `.env`-style text (also `export NAME=…`, quoted values,
 * `#` comments). `redacted` keeps the name, never the value.
 */
export function findEnvPasswords(text: string, path: string): SecretFinding[] {
  const out: SecretFinding[] = [];
  const ls = text.split(/\r?\n/);
  for (let i = 0; i < ls.length; i++) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(ls[i]);
    if (!m || !PASSWORD_KEY.test(m[1])) continue;
    let v = m[2].trim();
    const q = v[0];
    if ((q === '"' || q === "'") && v.lastIndexOf(q) > 0) v = v.slice(1, v.lastIndexOf(q));
    else v = v.replace(/\s+#.*$/, '');
    if (PLACEHOLDER.test(v.trim())) continue;
    out.push({ rule: 'env-password', severity: 'medium', path, line: i + 1, redacted: `${m[1]}=****` });
  }
  return out;
}

/**
 * Text that may hold a line {@link findEnvPasswords} reports: a name ending in PASS, PASSWD, PASSWORD
 * or PWD, then blanks and `=` on the same line (a superset of its lines, far fewer files than a
 * mention of "password").
 */
const ENV_PREFILTER = /(?:pass|passwd|password|pwd)[^\S\n]*=/i;

/** True when the first 8000 bytes hold a NUL (git's binary test). */
export function looksBinary(b: Buffer): boolean {
  return b.subarray(0, 8000).indexOf(0) >= 0;
}

/** The analyzer. */
export const secretsAnalyzer: Analyzer = {
  name: 'secret/builtin',
  // 4: `byName` holds the `.env` password lines of files of other names.
  version: 4,
  maxSize: 1024 * 1024,
  wants: (e) => e.size > 0 && e.size <= 1024 * 1024 && !SKIP.test(e.path),
  analyze(input) {
    if (looksBinary(input.content)) return undefined;
    const text = input.content.toString('latin1');
    const secrets = findSecrets(text, input.path);
    if (isEnvFile(input.path)) {
      secrets.push(...findEnvPasswords(text, input.path));
      return secrets.length ? { secrets } : undefined;
    }
    // The rule depends on the name: kept for the file's other names (links named `.env`). The
    // prefilter spares the line split for text without a password-like name.
    const env = ENV_PREFILTER.test(text) ? findEnvPasswords(text, input.path).map(({ line, redacted }) => ({ line, redacted })) : [];
    if (!secrets.length && !env.length) return undefined;
    return env.length ? { secrets, byName: { env } } : { secrets };
  },
  foundUnder(out, from, to) {
    const env = (out.byName as { env?: Array<{ line: number; redacted: string }> } | undefined)?.env;
    if (!env?.length || !isEnvFile(to) || isEnvFile(from)) return undefined;
    return { secrets: env.map(({ line, redacted }) => ({ rule: 'env-password', severity: 'medium', path: to, line, redacted })) };
  },
};
