/**
 * The `registry` globs of a policy document (`spec.mappings[].registry`, `spec.signatures[].registry`,
 * `spec.exceptions[].registry`) against the registries the gate guards. In the gate they match a
 * configured `registries[].name` (src/admission/signatures.ts `rulesFor`, src/policy/evaluate.ts
 * `selectMapping`, exceptions' `coversImage`), while `pushgate scan REF` matches them against the
 * reference's `host[:port]`. A glob written as a guarded registry's host (`registry.example.com:5000`,
 * `127.0.0.1:5000`, `*.example.com`) or as its name in another case (`Prod` for `prod`) therefore
 * matches nothing in the gate: a signature rule so written is never required (unsigned images are
 * admitted), a mapping so written never chooses its rule set, an exception never applies, and nothing
 * said so. Such a glob is refused when the gate loads the policy, naming the registry to write instead.
 */
import picomatch from 'picomatch';
import { domainToASCII, domainToUnicode } from 'node:url';
import { defaultPortOf, formatHostPort, isLoopbackHost, parseHostPort, RegistryHosts, type RegistryHostsEntry } from '../core/host.js';
import { glob, MAX_GLOB_LENGTH, type ProblemSink } from './rules/common.js';
import type { PolicyDocument } from './types.js';

/** The loopback spellings a loopback registry is reached by besides its own (src/core/host.ts: one host on its port). */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/**
 * Every `host[:port]` spelling by which `r` is reached, lower-cased, that a glob can be written over: for
 * its URL's host and each alias, the host in its ASCII (punycode) and Unicode forms, with one trailing dot
 * and without, and, when the host is loopback, every loopback name (`localhost`, `127.0.0.1`, `[::1]`); each
 * of them alone (also an alias's or non-default-port host without its port: written so, it still means that
 * registry), with its port, and with the scheme's default port when that is its port. Names the configured
 * URL or an alias cannot be parsed as give nothing (config validation refuses them). Of the other 127/8
 * addresses only a literal is judged (normalized, {@link registriesNamedOtherwise}): a glob over one that matches
 * none of these loopback names (`127.0.0.?9`) is not.
 */
export function registrySpellings(r: RegistryHostsEntry): string[] {
  const out = new Set<string>();
  let dflt = 443;
  const add = (hostPort: string): void => {
    let hp;
    try {
      hp = parseHostPort(hostPort);
    } catch {
      return;
    }
    const port = hp.port ?? dflt;
    const hosts = new Set<string>([hp.host]);
    if (isLoopbackHost(hp.host)) for (const h of LOOPBACK_NAMES) hosts.add(h);
    if (!hp.host.startsWith('[')) {
      const unicode = domainToUnicode(hp.host);
      if (unicode) hosts.add(unicode.toLowerCase());
    }
    for (const h of [...hosts]) if (!h.startsWith('[')) hosts.add(`${h}.`);
    for (const h of hosts) {
      out.add(h);
      out.add(`${h}:${port}`);
      if (port === dflt) out.add(`${h}:${dflt}`);
    }
  };
  try {
    const u = new URL(r.url);
    dflt = defaultPortOf(u.protocol);
    add(u.host);
  } catch {
    // config validation refuses a registry without a URL; its aliases are still spellings of it
  }
  for (const a of r.aliases ?? []) add(a);
  return [...out];
}

/** Characters that make a glob label more than a literal name. */
const GLOB_CHARS = /[*?[\]{}()!+@\\,]/;

/**
 * `pattern` with each literal DNS label (no glob character) in its IDNA ASCII form, the way the URL parser
 * and every client read a host (`EXÄMPLE` → `xn--exmple-cua`, a fullwidth `ｅ` → `e`, an invisible joiner
 * dropped), and the port left as written. A label IDNA refuses is kept as written. So a glob spelling a
 * registry's host in Unicode, in another Unicode case or in compatibility characters is compared with the
 * punycode host the registry is reached by.
 */
export function asciiGlob(pattern: string): string {
  // An IPv6 literal (a `[` that opens a class, `[r]egistry`, is a label like any other).
  if (/^\[[0-9a-f.]*:[0-9a-f:.]*\]/i.test(pattern)) return pattern.toLowerCase();
  const colon = pattern.lastIndexOf(':');
  const host = colon >= 0 ? pattern.slice(0, colon) : pattern;
  const port = colon >= 0 ? pattern.slice(colon) : '';
  const labels = host.split('.').map((l) => {
    if (!l || GLOB_CHARS.test(l)) return l.normalize('NFKC').toLowerCase();
    return domainToASCII(l) || l.normalize('NFKC').toLowerCase();
  });
  return labels.join('.') + port;
}

/**
 * The registries `pattern` names by something other than their configured name: a host spelling
 * (normalized as references are: case, default port, IP spellings, loopback names, IDN forms) or a glob over
 * those spellings ({@link registrySpellings}), or the name in another case, while the glob as the gate reads
 * it does not match that registry's name. Judged per registry: a glob that reaches one registry by its name
 * and another by its host (`{lab,registry.example.com}`, `@(lab|registry.example.com)`, `l*` with `lab` named
 * and `lab.example.com` the host of `prod`) applies to the first only, so the second is reported. A leading
 * `!` (picomatch's negation, any count) is judged by what it negates: `!lab` excludes lab by name and is
 * fine, `!127.0.0.1:5000` meant to exclude lab but the gate, matching names, excludes nothing. Empty when
 * every registry the glob reaches in any spelling it reaches by name, and for a glob longer than
 * MAX_GLOB_LENGTH (refused by the schema and by `glob()`: its compile alone could take minutes).
 */
export function registriesNamedOtherwise(pattern: string, registries: readonly RegistryHostsEntry[]): string[] {
  // Too long to compile (rules/common.ts MAX_GLOB_LENGTH): refused where it is compiled, never matched here.
  if (pattern.length > MAX_GLOB_LENGTH) return [];
  const negated = /^!+(?!\()/.exec(pattern);
  if (negated) return registriesNamedOtherwise(pattern.slice(negated[0].length), registries);
  // Each brace alternative is judged alone too, so the message names what each alternative reaches.
  const alternatives = braceAlternatives(pattern);
  if (alternatives.length > 1) return [...new Set(alternatives.flatMap((a) => registriesNamedOtherwise(a, registries)))].filter((n) => !glob(pattern)(n));
  const byName = glob(pattern);
  const out = new Set<string>();
  const forms = [...new Set([pattern, asciiGlob(pattern)])];
  const hosts = new RegistryHosts(registries);
  // A glob whose only specials are escapes (`\[::1\]:5000`) is a literal host[:port] too.
  for (const f of [...forms, ...forms.map((x) => x.replace(/\\(.)/g, '$1'))]) {
    try {
      const hp = parseHostPort(f);
      for (const n of hosts.matchAll(hp)) out.add(n);
      // Its normalized form (`127.1` → `127.0.0.1`, `[0:0::1]` → `[::1]`; any loopback name as 127.0.0.1) is
      // compared with the spellings below too, so a literal without the registry's port still names it.
      forms.push(formatHostPort({ ...hp, host: isLoopbackHost(hp.host) ? '127.0.0.1' : hp.host }));
    } catch {
      // not a literal host[:port] (a glob, or no host at all): the spellings below decide
    }
  }
  const loose = forms.map((f) => picomatch(f, { dot: true, nocase: true }));
  for (const r of registries) {
    const spelled = registrySpellings(r);
    if (loose.some((m) => m(r.name) || spelled.some((s) => m(s)))) out.add(r.name);
  }
  return [...out].filter((n) => !byName(n));
}

/** An unescaped `(`, `)` or `|`: picomatch's parenthesised and extglob alternations. */
const ALTERNATION = /(?<!\\)[()|]/;

/** Most alternatives {@link braceAlternatives} expands a glob into; past it the glob is judged whole. */
const MAX_ALTERNATIVES = 64;
/** Longest glob {@link braceAlternatives} expands, characters. */
const MAX_EXPANDED_LENGTH = 1024;

/**
 * The alternatives of the brace lists of `pattern` (`a{b,c{d,e}}` → `ab`, `acd`, `ace`), as picomatch reads
 * them: a backslash escapes the next character, a brace without a top-level comma (`{1..3}`, `{x}`) or never
 * closed is not a list. `[pattern]` when it has none, is longer than {@link MAX_EXPANDED_LENGTH}, or has
 * more than {@link MAX_ALTERNATIVES} (`{a,b}` ten times over is 1,024: expanding all would let a policy
 * cost exponential time).
 */
export function braceAlternatives(pattern: string): string[] {
  // Each alternative is a copy of the pattern: a long one (no registry glob needs one) is judged whole.
  if (pattern.length > MAX_EXPANDED_LENGTH) return [pattern];
  const out: string[] = [];
  // Expansion stops at the first alternative past the limit, wherever it is nested (a bound on the work,
  // not only on the answer): one scan of the pattern per alternative produced.
  return expand(pattern, out) ? out : [pattern];
}

/** Appends the alternatives of `pattern` to `out`; false once `out` would pass {@link MAX_ALTERNATIVES}. */
function expand(pattern: string, out: string[]): boolean {
  let open = -1;
  let depth = 0;
  const commas: number[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
    } else if (c === '{') {
      if (depth++ === 0) {
        open = i;
        commas.length = 0;
      }
    } else if (c === '}' && depth > 0) {
      if (--depth === 0 && commas.length) {
        const head = pattern.slice(0, open);
        const tail = pattern.slice(i + 1);
        const items = [...commas, i].map((end, k) => pattern.slice(k === 0 ? open + 1 : commas[k - 1]! + 1, end));
        for (const item of items) if (!expand(`${head}${item}${tail}`, out)) return false;
        return true;
      }
    } else if (c === ',' && depth === 1) {
      commas.push(i);
    }
  }
  out.push(pattern);
  return out.length <= MAX_ALTERNATIVES;
}

/**
 * Reports each registry glob of `doc` that names a configured registry otherwise than by its name
 * ({@link registriesNamedOtherwise}) at its key, saying what to write.
 * @param registries the gate's `registries[]` (name, url, aliases).
 */
export function checkRegistryGlobs(doc: PolicyDocument, registries: readonly RegistryHostsEntry[], problem: ProblemSink): void {
  const spec = doc.spec as Partial<PolicyDocument['spec']> | undefined;
  const lists: Array<[string, unknown]> = [
    ['mappings', spec?.mappings],
    ['signatures', spec?.signatures],
    ['exceptions', spec?.exceptions],
  ];
  const effect: Record<string, string> = {
    mappings: 'this mapping would choose no image',
    signatures: 'this signature rule would require no signature (unsigned images admitted)',
    exceptions: 'this exception would apply to no image',
  };
  for (const [list, items] of lists) {
    if (!Array.isArray(items)) continue;
    items.forEach((item: unknown, i) => {
      const pattern = item && typeof item === 'object' ? (item as { registry?: unknown }).registry : undefined;
      if (typeof pattern !== 'string') return;
      if (ALTERNATION.test(pattern)) {
        // A registry name never holds `(`, `)` or `|`, so these only spell picomatch's other alternations
        // (`(a|b)`, `@(a|b)`, `+(a|b)`): their alternatives are not expanded here (a repeat or a negation has
        // no finite list), so one naming a registry by host could not be told apart: refused, for a brace list.
        problem(['spec', list, i, 'registry'], `${JSON.stringify(pattern)}: registry globs match registries[].name (letters, digits, ".", "_", "-") with *, ?, [...] and {a,b}; "(", ")" and "|" are not taken: write the alternatives as a brace list, e.g. {${registries.slice(0, 2).map((r) => r.name).join(',') || 'a,b'}}`);
        return;
      }
      const named = registriesNamedOtherwise(pattern, registries);
      if (!named.length) return;
      problem(
        ['spec', list, i, 'registry'],
        `${JSON.stringify(pattern)} names the configured registr${named.length > 1 ? 'ies' : 'y'} ${named.map((n) => JSON.stringify(n)).join(', ')} by host or in another case, but registry globs match registries[].name: ${effect[list]}; write registry: ${named[0]}`,
      );
    });
  }
}
