/**
 * lang/ruby: installed gems from `specifications/NAME-VERSION.gemspec` (RubyGems writes the
 * installed spec there: GEM_HOME/specifications, Debian's /usr/share/rubygems-integration/(all|VERSION)/
 * specifications). The spec is Ruby code that RubyGems evaluates (Gem::Specification.load), after
 * finding the gem by the file's `# stub: NAME VERSION …` second line (Gem::StubSpecification). It is
 * never evaluated here: a spec is read only in the shape RubyGems writes it
 * (Gem::Specification#to_ruby: one `Gem::Specification.new do |s| … end` block of literal attribute
 * assignments, `if s.respond_to? …` guards and dependency calls), with exactly one unguarded
 * `s.name = "…"` and `s.version = "…"` agreeing with the stub line. Anything else (a second
 * assignment, one under a condition, a `=begin` block, a heredoc, interpolation, a method RubyGems
 * does not write) could be evaluated to another gem than a pattern reads (a decoy `s.name` in a
 * `=begin` block hid `rack 2.0.0` from the first-match reading), so the file is reported as
 * `gemspec-ambiguous` (incomplete) with every name and version it spells.
 * purl `pkg:gem/NAME@VERSION`, OSV ecosystem RubyGems.
 */
import type { Analyzer, FoundPackage } from './types.js';
import { formatPurl } from '../purl.js';

const WANT = /\/specifications\/[^/]+\.gemspec$/;

/** One token of the Ruby subset to_ruby writes. */
type Tok =
  | { t: 'word'; v: string }
  | { t: 'str'; v: string }
  | { t: 'sym'; v: string }
  | { t: 'num'; v: string }
  | { t: 'punct'; v: string }
  | { t: 'nl' };

/** Thrown by the tokenizer for text outside the subset. */
class Outside extends Error {}

const PUNCT = ['::', '=>', '>=', '=', '.', ',', '(', ')', '[', ']', '{', '}', '|'];
const PERCENT_CLOSE: Record<string, string> = { '<': '>', '{': '}', '(': ')', '[': ']' };
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', s: ' ', e: '\x1b', a: '\x07', b: '\b', f: '\f', v: '\v' };

function isWordStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function isWordChar(c: number): boolean {
  return isWordStart(c) || (c >= 48 && c <= 57);
}

/**
 * The escape at `text[i]` (a backslash) in a double-quoted string, as Ruby's parser reads it: the
 * characters it stands for and its length. What String#dump writes (`\n`, `\e`, `\#`, `\xHH`,
 * `\uHHHH`, `\u{H…}`) and the rest of Ruby's single-character escapes are read; an octal or `\x`
 * escape is read to its full length (`"\062"` is `"2"` to Ruby, not a NUL and `62`). A backslash before
 * a line break (Ruby joins the lines), a byte above 0x7F, a code point Ruby refuses and the control
 * escapes (`\c`, `\C-`, `\M-`) are {@link Outside}.
 */
function escape(text: string, i: number): [string, number] {
  const e = text[i + 1];
  if (e === undefined) throw new Outside('unterminated string');
  const hexCode = (h: string): string => {
    const cp = parseInt(h, 16);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new Outside('an invalid Unicode escape');
    return String.fromCodePoint(cp);
  };
  const ascii = (code: number): string => {
    if (code > 0x7f) throw new Outside('a byte escape above 0x7F');
    return String.fromCharCode(code);
  };
  if (e === 'u') {
    const m = /^\\u(?:([0-9a-fA-F]{4})|\{([0-9a-fA-F]{1,6})\})/.exec(text.slice(i, i + 11));
    if (!m) throw new Outside('a \\u escape to_ruby does not write');
    return [hexCode(m[1] ?? m[2]!), m[0].length];
  }
  if (e === 'x') {
    const m = /^\\x([0-9a-fA-F]{1,2})/.exec(text.slice(i, i + 4));
    if (!m) throw new Outside('a \\x escape without a hex digit');
    return [ascii(parseInt(m[1]!, 16)), m[0].length];
  }
  if (e >= '0' && e <= '7') {
    const m = /^\\([0-7]{1,3})/.exec(text.slice(i, i + 4))!;
    return [ascii(parseInt(m[1]!, 8)), m[0].length];
  }
  if (e === '\n' || e === '\r') throw new Outside('a backslash before a line break');
  if (e === 'c' || e === 'C' || e === 'M') throw new Outside(`the escape \\${e}`);
  // A code point beyond the BMP is two UTF-16 units: keep both.
  const cp = text.codePointAt(i + 1)!;
  const ch = String.fromCodePoint(cp);
  return [ESCAPES[ch] ?? ch, 1 + ch.length];
}

/** Tokens of `text`, or {@link Outside} for anything to_ruby does not write. */
function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c === '\n') { out.push({ t: 'nl' }); i++; continue; }
    if (c === '#') { while (i < n && text[i] !== '\n') i++; continue; }
    if (c === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= n) throw new Outside('unterminated string');
        const d = text[i]!;
        if (d === '"') { i++; break; }
        if (d === '#' && (text[i + 1] === '{' || text[i + 1] === '$' || text[i + 1] === '@')) throw new Outside('string interpolation');
        if (d === '\\') {
          const [decoded, len] = escape(text, i);
          v += decoded;
          i += len;
          continue;
        }
        // A literal line break: Ruby reads CR LF in a literal as LF, and String#dump never writes one.
        if (d === '\r' || d === '\n') throw new Outside('a line break inside a double-quoted string');
        v += d;
        i++;
      }
      out.push({ t: 'str', v });
      continue;
    }
    if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= n) throw new Outside('unterminated string');
        const d = text[i]!;
        if (d === "'") { i++; break; }
        if (d === '\\' && (text[i + 1] === "'" || text[i + 1] === '\\')) { v += text[i + 1]; i += 2; continue; }
        v += d;
        i++;
      }
      out.push({ t: 'str', v });
      continue;
    }
    if (c === '%' && text[i + 1] === 'q' && PERCENT_CLOSE[text[i + 2] ?? '']) {
      const open = text[i + 2]!;
      const close = PERCENT_CLOSE[open]!;
      const end = text.indexOf(close, i + 3);
      if (end < 0) throw new Outside('unterminated %q string');
      const v = text.slice(i + 3, end);
      if (v.includes(open) || v.includes('\\')) throw new Outside('a nested or escaped %q string');
      out.push({ t: 'str', v });
      i = end + 1;
      continue;
    }
    if (c === ':' && isWordStart(text.charCodeAt(i + 1))) {
      let j = i + 2;
      while (j < n && isWordChar(text.charCodeAt(j))) j++;
      if (text[j] === '?' || text[j] === '=') j++;
      out.push({ t: 'sym', v: text.slice(i, j) });
      i = j;
      continue;
    }
    const code = text.charCodeAt(i);
    if (code >= 48 && code <= 57) {
      let j = i + 1;
      while (j < n && ((text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) || text[j] === '_' || (text[j] === '.' && text.charCodeAt(j + 1) >= 48 && text.charCodeAt(j + 1) <= 57))) j++;
      out.push({ t: 'num', v: text.slice(i, j) });
      i = j;
      continue;
    }
    if (isWordStart(code)) {
      let j = i + 1;
      while (j < n && isWordChar(text.charCodeAt(j))) j++;
      if (text[j] === '?') j++;
      out.push({ t: 'word', v: text.slice(i, j) });
      i = j;
      continue;
    }
    const p = PUNCT.find((q) => text.startsWith(q, i));
    if (!p) throw new Outside(`the character ${JSON.stringify(c)}`);
    out.push({ t: 'punct', v: p });
    i += p.length;
  }
  return out;
}

/** Words to_ruby writes outside `s.<method>`. */
const WORDS = new Set(['s', 'Gem', 'Specification', 'Requirement', 'Version', 'Platform', 'Dependency', 'new', 'do', 'end', 'if', 'then', 'else', 'freeze', 'nil', 'true', 'false', 'Time', 'utc',
  // RubyGems before 3.1: `if Gem::Version.new(Gem::VERSION) >= Gem::Version.new('1.2.0') then`, and
  // before 2.0 `current_version = Gem::Specification::CURRENT_SPECIFICATION_VERSION`.
  'VERSION', 'current_version', 'CURRENT_SPECIFICATION_VERSION']);
/** Methods to_ruby calls on `s` other than attribute writers. */
const S_CALLS = new Set(['respond_to?', 'add_runtime_dependency', 'add_development_dependency', 'add_dependency']);

/** What one gemspec says, read without evaluating it. */
export interface GemspecReading {
  /** The gem, when the file is in to_ruby's shape and names one gem. */
  package?: FoundPackage;
  /** Every name/version the file spells (assignments and stub line), for an ambiguous file. */
  candidates: FoundPackage[];
  /** Why RubyGems could read the file as another gem than this reading: set ⇒ incomplete. */
  problem?: string;
}

function pkg(name: string, version: string, path: string): FoundPackage {
  return { ecosystem: 'RubyGems', name, version, path, purl: formatPurl({ type: 'gem', name, version }) };
}

/** The `# stub: NAME VERSION …` line RubyGems looks a gem up by (the file's second line), if any. */
function stubLine(text: string): { name: string; version: string } | undefined {
  const lines = text.split('\n', 3);
  const l = lines[1]?.replace(/\r$/, '');
  if (lines.length < 3 || !l?.startsWith('# stub: ')) return undefined;
  // StubLine splits with String#split(" "): white space runs, leading white space skipped.
  const parts = l.slice('# stub: '.length).replace(/^[ \t\n\v\f\r]+/, '').split(/[ \t\n\v\f\r]+/);
  return parts[0] && parts[1] ? { name: parts[0], version: parts[1] } : undefined;
}

/**
 * Reads name and version from a gemspec's text as described in the module comment: the package when
 * the file is in to_ruby's shape and its one name and version agree with the stub line, else a
 * problem and the candidates.
 */
export function readGemspec(text: string, path: string): GemspecReading {
  const names: string[] = [];
  const versions: string[] = [];
  // Every spelling a pattern could take, for the candidates of an ambiguous file.
  // Bounded and anchored at a word's start: each position is tried in constant time (an unbounded
  // `\w+` retried from every letter of a long word, quadratic in a file of 1 MiB).
  for (const m of text.matchAll(/\b\w{1,64}\.name[ \t]{0,16}=[ \t]{0,16}(?:%q[<{([]([^>})\]\n]{1,256})[>})\]]|["']([^"'\n]{1,256})["'])/g)) names.push(m[1] ?? m[2]!);
  for (const m of text.matchAll(/\b\w{1,64}\.version[ \t]{0,16}=[ \t]{0,16}(?:Gem::Version\.new\([ \t]{0,16})?(?:%q[<{([]([^>})\]\n]{1,256})[>})\]]|["']([^"'\n]{1,256})["'])/g)) versions.push(m[1] ?? m[2]!);
  const stub = stubLine(text);
  if (stub) { names.push(stub.name); versions.push(stub.version); }
  // At most 8 × 8: the file is incomplete anyway, and a crafted one spells thousands of each.
  const candidates = [...new Set(names)].slice(0, 8).flatMap((nm) => [...new Set(versions)].slice(0, 8).map((v) => pkg(nm, v, path)));
  const problem = (why: string): GemspecReading => ({ candidates, problem: why });

  // The block opens after comment and blank lines only: anything else is refused before it is tokenized.
  if (!/^(?:\uFEFF)?(?:[ \t]*(?:#[^\n]*)?\r?\n)*Gem::Specification\.new do \|s\|[ \t]*\r?\n/.test(text.slice(0, 64 * 1024))) return problem('it does not start with Gem::Specification.new do |s|');
  let toks: Tok[];
  try {
    toks = tokenize(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    return problem(`not in the shape RubyGems writes: ${(e as Error).message}`);
  }
  // Statements: token runs between newlines (to_ruby writes one per line).
  const stmts: Tok[][] = [];
  let cur: Tok[] = [];
  for (const t of toks) {
    if (t.t === 'nl') { if (cur.length) stmts.push(cur); cur = []; } else cur.push(t);
  }
  if (cur.length) stmts.push(cur);
  const is = (t: Tok | undefined, type: Tok['t'], v?: string): boolean => t !== undefined && t.t === type && (v === undefined || (t as { v?: string }).v === v);
  const head = stmts[0];
  const HEAD = ['Gem', '::', 'Specification', '.', 'new', 'do', '|', 's', '|'];
  if (!head || head.length !== HEAD.length || head.some((t, q) => (t as { v?: string }).v !== HEAD[q] || t.t === 'str')) return problem('it does not start with Gem::Specification.new do |s|');
  let depth = 1;
  let name: string | undefined;
  let version: string | undefined;
  for (let k = 1; k < stmts.length; k++) {
    const st = stmts[k]!;
    if (depth === 0) return problem('code after the specification block');
    // Every word is one to_ruby writes, and `s.` is followed by an attribute writer or a call it writes.
    for (let q = 0; q < st.length; q++) {
      const t = st[q]!;
      if (t.t !== 'word') continue;
      const afterS = q >= 2 && is(st[q - 1], 'punct', '.') && is(st[q - 2], 'word', 's');
      if (afterS) {
        if (!(S_CALLS.has(t.v) || (is(st[q + 1], 'punct', '=') && !t.v.endsWith('?')))) return problem(`s.${t.v} is not what RubyGems writes`);
        // Ruby evaluates an assignment wherever it stands (an if's condition, a trailing if, the value
        // of another assignment, an argument): name and version are read only from the assignment that
        // opens a statement, so one anywhere else is not read past.
        if ((t.v === 'name' || t.v === 'version') && q !== 2) return problem(`s.${t.v} is assigned inside another statement`);
      } else if (!WORDS.has(t.v)) return problem(`${t.v} is not what RubyGems writes`);
      else if (t.v === 's' && !is(st[q + 1], 'punct', '.')) return problem('s used other than as s.<attribute>');
    }
    const first = st[0]!;
    // Ruby reads on past a line that ends in an operator, a comma, an open bracket or a keyword that
    // wants more (`s.summary = true ||` skips the next line's assignment): to_ruby ends every
    // statement on its line, so a statement that goes on is not read as one.
    const last = st[st.length - 1]!;
    if ((last.t === 'punct' && last.v !== ')' && last.v !== ']' && last.v !== '}')
      || (last.t === 'word' && (last.v === 'do' || (last.v === 'if' && st.length > 1) || (last.v === 'then' && !is(first, 'word', 'if')) || (last.v === 'else' && st.length > 1)))) {
      return problem('a statement that goes on to the next line');
    }
    if (is(first, 'word', 'end') && st.length === 1) { depth--; continue; }
    if (is(first, 'word', 'else') && st.length === 1) continue;
    if (is(first, 'word', 'if')) {
      if (!is(st[st.length - 1], 'word', 'then')) return problem('an if without then');
      depth++;
      continue;
    }
    if (is(first, 'word', 'current_version') && is(st[1], 'punct', '=')) continue;
    if (!(is(first, 'word', 's') && is(st[1], 'punct', '.') && st[2]?.t === 'word')) return problem('a statement that is not s.<attribute> = … or a dependency');
    const attr = (st[2] as { v: string }).v;
    if (attr !== 'name' && attr !== 'version') continue;
    // `s.name = "x"` / `"x".freeze`; `s.version = "x"` / `Gem::Version.new("x")`: at the block's top level, unguarded.
    const rhs = st.slice(4);
    let v: string | undefined;
    const lit = (r: Tok[]): string | undefined => (r.length === 1 && r[0]!.t === 'str') || (r.length === 3 && r[0]!.t === 'str' && is(r[1], 'punct', '.') && is(r[2], 'word', 'freeze')) ? (r[0] as { v: string }).v : undefined;
    if (is(st[3], 'punct', '=')) {
      v = lit(rhs);
      if (v === undefined && attr === 'version' && rhs.length >= 8 && is(rhs[0], 'word', 'Gem') && is(rhs[1], 'punct', '::') && is(rhs[2], 'word', 'Version') && is(rhs[3], 'punct', '.') && is(rhs[4], 'word', 'new') && is(rhs[5], 'punct', '(') && is(rhs[rhs.length - 1], 'punct', ')')) v = lit(rhs.slice(6, -1));
    }
    if (v === undefined) return problem(`s.${attr} is not assigned one literal`);
    if (depth !== 1) return problem(`s.${attr} is assigned under a condition`);
    if (attr === 'name') {
      if (name !== undefined) return problem('s.name is assigned twice');
      name = v;
    } else {
      if (version !== undefined) return problem('s.version is assigned twice');
      version = v;
    }
  }
  if (depth !== 0) return problem('the specification block is not closed');
  if (!name || !version) return problem('no s.name or s.version');
  if (stub && (stub.name !== name || stub.version !== version)) return problem(`its stub line names ${stub.name} ${stub.version}, its assignments ${name} ${version}`);
  return { package: pkg(name, version, path), candidates };
}

/** Reads name and version from a gemspec's text; undefined unless {@link readGemspec} finds one gem. */
export function parseGemspec(text: string, path: string): FoundPackage | undefined {
  return readGemspec(text, path).package;
}

/** The analyzer. */
export const rubyAnalyzer: Analyzer = {
  name: 'lang/ruby',
  version: 3,
  maxSize: 1024 * 1024,
  wants: (e) => WANT.test(e.path),
  names: { extensions: ['.gemspec'] },
  analyze(input) {
    const r = readGemspec(input.content.toString('utf8'), input.path);
    if (r.package) return { packages: [r.package] };
    return {
      packages: r.candidates,
      diagnostics: [{ code: 'gemspec-ambiguous', path: input.path, incomplete: true, message: `RubyGems evaluates this gemspec (Ruby code) and could read another gem than pushgate: ${r.problem}; not judged` }],
    };
  },
};
