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
import { parseHostPort, RegistryHosts, type RegistryHostsEntry } from '../core/host.js';
import { glob, type ProblemSink } from './rules/common.js';
import type { PolicyDocument } from './types.js';

/** The `host[:port]` spellings of a registry as configured: its URL's host (with and without a default port) and its aliases, lower-cased. */
function spellings(r: RegistryHostsEntry): string[] {
  const out: string[] = [];
  try {
    const u = new URL(r.url);
    out.push(u.host, u.hostname, `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`);
  } catch {
    // config validation refuses a registry without a URL; nothing to compare
  }
  out.push(...(r.aliases ?? []));
  return [...new Set(out.map((s) => s.toLowerCase()))];
}

/**
 * The registries `pattern` names by something other than their configured name: a host spelling
 * (normalized as references are: case, default port, IP spellings, loopback names) or a glob over
 * those spellings, or the name in another case, while the glob as the gate reads it does not match
 * that registry's name. Judged per registry: a glob that reaches one registry by its name and another
 * by its host (`{lab,registry.example.com}`, `@(lab|registry.example.com)`, `l*` with `lab` named and
 * `lab.example.com` the host of `prod`) applies to the first only, so the second is reported. Empty
 * when every registry the glob reaches in any spelling it reaches by name.
 */
export function registriesNamedOtherwise(pattern: string, registries: readonly RegistryHostsEntry[]): string[] {
  // Each brace alternative is judged alone too, so the message names what each alternative reaches.
  const alternatives = braceAlternatives(pattern);
  if (alternatives.length > 1) return [...new Set(alternatives.flatMap((a) => registriesNamedOtherwise(a, registries)))].filter((n) => !glob(pattern)(n));
  const byName = glob(pattern);
  const out = new Set<string>();
  try {
    parseHostPort(pattern);
    for (const n of new RegistryHosts(registries).matchAll(pattern)) out.add(n);
  } catch {
    // not a literal host[:port] (a glob, or no host at all): the spellings below decide
  }
  const loose = picomatch(pattern, { dot: true, nocase: true });
  for (const r of registries) if (loose(r.name) || spellings(r).some((s) => loose(s))) out.add(r.name);
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
