/**
 * `WWW-Authenticate` parsing (RFC 7235 §4.1, RFC 6750 §3) and token-auth scopes
 * (distribution `docs/spec/auth/scope.md`, protocols.md §5.1–5.2).
 */

/** One challenge: scheme (lower case) and its parameters (names lower case, values unquoted). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header into its challenges. Handles several challenges in one
 * header, quoted strings with escaped quotes and commas inside quotes, and token68 values.
 * Never throws: unreadable parts are skipped.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (!header) return [];
  const input = Array.isArray(header) ? header.join(', ') : header;
  const out: Challenge[] = [];
  let i = 0;
  const n = input.length;
  const skipWs = () => {
    while (i < n && (input[i] === ' ' || input[i] === '\t')) i++;
  };
  const readToken = () => {
    const start = i;
    while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(input[i])) i++;
    return input.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipWs();
    if (input[i] === ',') {
      i++;
      continue;
    }
    const save = i;
    const tok = readToken();
    if (!tok) {
      i++;
      continue;
    }
    skipWs();
    if (input[i] === '=' && current && input[i + 1] !== '=') {
      // auth-param name=value
      i++;
      skipWs();
      let value = '';
      if (input[i] === '"') {
        i++;
        while (i < n && input[i] !== '"') {
          if (input[i] === '\\' && i + 1 < n) i++;
          value += input[i++];
        }
        i++; // closing quote
      } else {
        const start = i;
        while (i < n && input[i] !== ',') i++;
        value = input.slice(start, i).trim();
      }
      current.params[tok.toLowerCase()] = value;
      continue;
    }
    // a new challenge starts with a scheme token not followed by '='
    i = save + tok.length;
    current = { scheme: tok.toLowerCase(), params: {} };
    out.push(current);
    skipWs();
    // token68 (e.g. `Negotiate abc==`): keep as param "token68"
    const m = /^[A-Za-z0-9._~+/-]+=*(?=\s*(,|$))/.exec(input.slice(i));
    if (m && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*=[^=]/.test(input.slice(i))) {
      current.params.token68 = m[0];
      i += m[0].length;
    }
  }
  return out;
}

/** A resource scope `type:name:actions` (scope.md). */
export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

/**
 * Parses one resource scope. The name may contain `:port`, so the type is split at the first `:`
 * and the actions at the last. Returns undefined when malformed.
 */
export function parseScope(s: string): Scope | undefined {
  const first = s.indexOf(':');
  const last = s.lastIndexOf(':');
  if (first <= 0 || last <= first) return undefined;
  return {
    type: s.slice(0, first),
    name: s.slice(first + 1, last),
    actions: s
      .slice(last + 1)
      .split(',')
      .filter(Boolean),
  };
}

/** Formats a scope back to `type:name:a,b`. */
export function formatScope(s: Scope): string {
  return `${s.type}:${s.name}:${s.actions.join(',')}`;
}

/**
 * Merges scope strings: the same resource listed twice gets the union of its actions; the result
 * is sorted, so it doubles as a stable cache key.
 */
export function mergeScopes(scopes: string[]): string[] {
  const byRes = new Map<string, Set<string>>();
  for (const raw of scopes.flatMap((s) => s.split(' ')).filter(Boolean)) {
    const sc = parseScope(raw);
    if (!sc) continue;
    const key = `${sc.type}:${sc.name}`;
    const set = byRes.get(key) ?? new Set<string>();
    sc.actions.forEach((a) => set.add(a));
    byRes.set(key, set);
  }
  return [...byRes.entries()].map(([k, acts]) => `${k}:${[...acts].sort().join(',')}`).sort();
}

/** `repository:<repo>:<actions>` */
export function repoScope(repo: string, ...actions: string[]): string {
  return `repository:${repo}:${actions.join(',')}`;
}

/** True when every action of every scope in `need` is granted by `have` (both merged lists). */
export function scopesCover(have: string[], need: string[]): boolean {
  const h = new Map(have.map((s) => parseScope(s)).filter((s): s is Scope => !!s).map((s) => [`${s.type}:${s.name}`, new Set(s.actions)]));
  return need.every((raw) => {
    const s = parseScope(raw);
    if (!s) return true;
    const acts = h.get(`${s.type}:${s.name}`);
    return !!acts && (acts.has('*') || s.actions.every((a) => acts.has(a)));
  });
}
