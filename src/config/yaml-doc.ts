/**
 * YAML documents with positions: parse with the `yaml` package's LineCounter, substitute `${VAR}`
 * from the environment, validate with ajv and turn every error into a {@link ConfigProblem} that names
 * the key path and its line and column. Shared by the config loader and the policy compiler.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import type { Alias, Document, LineCounter, Node, Pair, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { yamlPackage as yaml } from '../core/yaml-package.js';
import { isDuration, isSize } from './units.js';
import type { ConfigProblem } from './errors.js';

// ajv and ajv-formats are loaded by the first createAjv, not with this module: reading a YAML
// document needs neither, and a CLI run without a configuration file compiles no schema. Both are
// CommonJS, so `require` keeps createAjv synchronous.
const requireCjs = createRequire(import.meta.url);

// The yaml package (some 70 modules) is loaded by the first document read (yamlPackage), not with
// this module: `pushgate scan` without a configuration file reads no YAML at all.
/** yaml's `isMap`, loading yaml on first use. */
export const isMap = (n: unknown): n is YAMLMap => yaml().isMap(n);
const isPair = (n: unknown): n is Pair => yaml().isPair(n);
const isScalar = (n: unknown): n is Scalar => yaml().isScalar(n);
const isSeq = (n: unknown): n is YAMLSeq => yaml().isSeq(n);

/** A key path: map keys and sequence indexes. */
export type KeyPath = Array<string | number>;

/** A parsed YAML document that remembers where every node came from. */
export interface LocatedDocument {
  /** Display name used in problems. */
  file: string;
  text: string;
  doc: Document;
  lineCounter: LineCounter;
  /** Syntax problems (and later substitution problems). */
  problems: ConfigProblem[];
}

/** The file name to print: relative to the working directory when below it, else as given. */
export function displayPath(file: string): string {
  if (file.startsWith('<')) return file;
  const abs = path.resolve(file);
  const rel = path.relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

/**
 * Parses YAML text into a located document. Syntax errors (and duplicate keys) become problems with
 * their positions; the document is still returned so that more problems can be collected.
 */
export function parseLocated(text: string, file: string): LocatedDocument {
  const lineCounter = new (yaml().LineCounter)();
  const doc = yaml().parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  for (const e of doc.errors) {
    const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
    problems.push({ file, line: pos.line, col: pos.col, key: '(document)', message: `YAML syntax: ${firstLine(e.message)}` });
  }
  return { file, text, doc, lineCounter, problems };
}

function firstLine(s: string): string {
  return s.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

/** The key path of a node reached by `visit` through `nodePath` (its ancestors). */
function visitedPath(nodePath: readonly unknown[], node: unknown): KeyPath {
  const chain = [...nodePath, node];
  const out: KeyPath = [];
  for (let i = 0; i < nodePath.length; i++) {
    const parent = chain[i];
    if (isPair(parent) && isScalar(parent.key)) out.push(String(parent.key.value));
    else if (isSeq(parent)) out.push(parent.items.indexOf(chain[i + 1] as never));
  }
  return out;
}

/**
 * The document as plain JS (`Document.toJS()`). Converting can fail where parsing did not: an alias
 * whose anchor is not defined before it (`a: *nope`), or more aliases than the `yaml` package expands
 * (its guard against alias bombs). Such a failure becomes a problem in `ld.problems`, located at the
 * alias when one is to blame (else at the document's start), and the result is `undefined`; otherwise
 * `{ value }`.
 */
export function toJSLocated(ld: LocatedDocument): { value: unknown } | undefined {
  try {
    return { value: ld.doc.toJS() as unknown };
  } catch (err) {
    let culprit: { node: Alias; at: KeyPath; unresolved: boolean } | undefined;
    yaml().visit(ld.doc, {
      Alias(_key, node, nodePath) {
        const unresolved = node.resolve(ld.doc) === undefined;
        if (unresolved || !culprit) culprit = { node, at: visitedPath(nodePath, node), unresolved };
        return unresolved ? yaml().visit.BREAK : undefined;
      },
    });
    const why = firstLine((err as Error).message);
    if (culprit?.unresolved) {
      // an unquoted value starting with `*` (a generated token can) is read as an alias: its name is the value
      const name = mayHoldSecret(culprit.at) ? '<name not shown: this key may hold a secret>' : culprit.node.source;
      const { line, col } = ld.lineCounter.linePos(culprit.node.range?.[0] ?? 0);
      ld.problems.push({
        file: ld.file,
        line,
        col,
        key: formatKey(culprit.at),
        message: `YAML alias *${name} names no anchor: define &${name} before this alias, or write the value out (quoted, if it is no alias)`,
      });
    } else {
      // Not one alias's fault (e.g. the alias count limit): point at the first alias, if any.
      const { line, col } = culprit ? ld.lineCounter.linePos(culprit.node.range?.[0] ?? 0) : { line: 1, col: 1 };
      ld.problems.push({ file: ld.file, line, col, key: culprit ? formatKey(culprit.at) : '(document)', message: `YAML document cannot be read: ${why}` });
    }
    return undefined;
  }
}

/** `spec.rules[2].match` from `['spec', 'rules', 2, 'match']`. */
export function formatKey(p: KeyPath): string {
  if (p.length === 0) return '(document)';
  let s = '';
  for (const seg of p) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else s += s ? `.${seg}` : seg;
  }
  return s;
}

/**
 * Finds the node at `p` and returns the position of its key (`at: 'key'`) or of its value.
 * When the path does not exist, the position of the deepest existing ancestor is returned.
 */
export function locate(ld: LocatedDocument, p: KeyPath, at: 'key' | 'value' = 'value'): { line: number; col: number } {
  let node: unknown = ld.doc.contents;
  let pos: number | undefined = (node as Node | null)?.range?.[0];
  for (let i = 0; i < p.length; i++) {
    const seg = p[i];
    const last = i === p.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) break;
      const keyNode = pair.key as Node;
      const valueNode = pair.value as Node | null;
      if (last && at === 'key') {
        pos = keyNode.range?.[0] ?? pos;
      } else {
        pos = valueNode?.range?.[0] ?? keyNode.range?.[0] ?? pos;
      }
      node = valueNode;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)] as Node | undefined;
      if (!item) break;
      pos = item.range?.[0] ?? pos;
      node = item;
    } else {
      break;
    }
  }
  if (pos === undefined) return { line: 1, col: 1 };
  return ld.lineCounter.linePos(pos);
}

/** Builds a problem located at `p`. */
export function problemAt(ld: LocatedDocument, p: KeyPath, message: string, at: 'key' | 'value' = 'value'): ConfigProblem {
  const { line, col } = locate(ld, p, at);
  return { file: ld.file, line, col, key: formatKey(p), message };
}

const VAR_RE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` in every scalar value (never in keys) with the environment's value. `${VAR:-word}`
 * uses `word` when VAR is unset or empty; `$$` is a literal `$`. An unset variable without a default is
 * a problem at the scalar's position. A plain (unquoted) scalar that is exactly one `${VAR}` takes the
 * YAML type of the value (`8080` → number, `true` → boolean); quoted scalars stay strings. Substitution
 * works on parsed scalars, so a value can never inject YAML structure.
 */
export function substituteEnv(ld: LocatedDocument, env: NodeJS.ProcessEnv): void {
  yaml().visit(ld.doc, {
    Scalar(key, node, nodePath) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return;
      const original = node.value;
      const missing: string[] = [];
      const replaced = original.replace(VAR_RE, (m, name: string | undefined, def: string | undefined) => {
        if (m === '$$') return '$';
        const v = env[name as string];
        if (v === undefined || (def !== undefined && v === '')) {
          if (def !== undefined) return def;
          missing.push(name as string);
          return '';
        }
        return v;
      });
      for (const name of missing) {
        const { line, col } = ld.lineCounter.linePos(node.range?.[0] ?? 0);
        ld.problems.push({
          file: ld.file,
          line,
          col,
          key: formatKey(visitedPath(nodePath, node)),
          message: `environment variable ${name} is not set (set it, or write \${${name}:-default})`,
        });
      }
      if (replaced === original) return;
      const whole = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/.test(original);
      if (whole && node.type === yaml().Scalar.PLAIN) {
        let typed: unknown;
        try {
          typed = yaml().parseDocument(replaced).toJS() as unknown;
        } catch {
          // A value that is not plain YAML (`*x`, an alias to nothing) stays the string it is.
        }
        if (typeof typed === 'number' || typeof typed === 'boolean') {
          node.value = typed;
          return;
        }
      }
      node.value = replaced;
    },
  });
}

/**
 * The formats pushgate adds to ajv-formats' (ajv format definitions by name): `duration`, `size`
 * and `date-or-date-time`. The same objects serve the validators ajv compiles at run time and the
 * standalone configuration validator generated at build time (./config-validator.ts), whose code
 * calls `formats.NAME.validate(value)` on exactly these.
 */
export const PUSHGATE_FORMATS = {
  duration: { type: 'string', validate: (s: string) => isDuration(s) },
  size: { type: 'string', validate: (s: string) => isSize(s) },
  'date-or-date-time': {
    type: 'string',
    validate: (s: string) =>
      /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}))?$/.test(s) && !Number.isNaN(Date.parse(s)),
  },
} as const;

/**
 * An ajv instance configured for pushgate documents: every error collected, strict schemas, formats
 * from ajv-formats plus {@link PUSHGATE_FORMATS}, and the annotation keyword `x-message` (a friendlier
 * message for the node it sits on).
 *
 * `standalone`: keep the source of what it compiles, for ajv's standalone code generation
 * (./config-validator.ts), with every format read from a variable `formats` of that code's scope
 * instead of a `require` of ajv-formats.
 */
export function createAjv(opts: { standalone?: boolean } = {}): Ajv {
  const { Ajv, _ } = requireCjs('ajv') as typeof import('ajv');
  const formats = requireCjs('ajv-formats') as { default?: unknown };
  // ajv-formats is CommonJS with a default export: the callable sits on `.default`.
  const addFormats = (formats.default ?? formats) as (a: Ajv) => Ajv;
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    verbose: true,
    allowUnionTypes: true,
    ...(opts.standalone ? { code: { source: true, formats: _`formats` } } : {}),
  });
  addFormats(ajv);
  for (const [name, format] of Object.entries(PUSHGATE_FORMATS)) ajv.addFormat(name, format);
  ajv.addKeyword({ keyword: 'x-message', schemaType: 'string' });
  return ajv;
}

function pointerToPath(ld: LocatedDocument, pointer: string): KeyPath {
  if (!pointer) return [];
  const out: KeyPath = [];
  let node: unknown = ld.doc.contents;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (isSeq(node)) {
      out.push(Number(seg));
      node = node.items[Number(seg)];
    } else {
      out.push(seg);
      if (isMap(node)) {
        const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === seg);
        node = pair?.value;
      } else node = undefined;
    }
  }
  return out;
}

const FORMAT_MESSAGES: Record<string, string> = {
  duration: 'must be a duration with a unit, e.g. 500ms, 30s, 5m, 1h, 14d',
  size: 'must be a size in bytes or with a unit, e.g. 1048576, 512MiB, 2GB',
  'date-or-date-time': 'must be a date (2026-12-31) or an RFC 3339 date-time',
  uri: 'must be a URL with a scheme',
};

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
};

/**
 * Keys whose value, or anything beneath them, may be a credential: tokens and their rotation lists,
 * passwords, secrets, registry auth, notification headers (`Authorization`), and URLs (a Slack incoming
 * webhook URL is itself the credential; a store URL, or the proxy's upstream, carries its password), and
 * the NVD API key. A problem at such a key
 * names the type of the value it got, never the value: `config check` output lands in CI logs.
 */
const SECRET_KEYS = new Set(['token', 'tokens', 'previousTokens', 'password', 'secret', 'auth', 'headers', 'url', 'upstream', 'nvdApiKey']);

/** True when the value at `path` may be (part of) a credential ({@link SECRET_KEYS}). */
export function mayHoldSecret(path: KeyPath): boolean {
  return path.some((k) => typeof k === 'string' && SECRET_KEYS.has(k));
}

/** What a problem says it got: the type, and for a scalar not under a {@link SECRET_KEYS} key its value. */
function typeName(v: unknown, secret = false): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return secret ? `${typeof v}, not shown: this key may hold a secret` : `${typeof v} ${JSON.stringify(v)}`;
}

/** Converts ajv errors into located problems, one per error, without duplicates. */
export function ajvProblems(ld: LocatedDocument, errors: ErrorObject[] | null | undefined): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    const base = pointerToPath(ld, e.instancePath);
    const got = (v: unknown): string => typeName(v, mayHoldSecret(base));
    const custom = (e.parentSchema as { 'x-message'?: string } | undefined)?.['x-message'];
    let p: ConfigProblem;
    switch (e.keyword) {
      case 'additionalProperties': {
        const key = (e.params as { additionalProperty: string }).additionalProperty;
        const allowed = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {});
        p = problemAt(ld, [...base, key], `unknown key${allowed.length ? ` (allowed here: ${allowed.join(', ')})` : ''}`, 'key');
        break;
      }
      case 'required': {
        const key = (e.params as { missingProperty: string }).missingProperty;
        const at = locate(ld, base, 'value');
        p = { file: ld.file, ...at, key: formatKey([...base, key]), message: 'is required' };
        break;
      }
      case 'enum':
        p = problemAt(ld, base, `must be one of: ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).join(', ')} (got ${got(e.data)})`);
        break;
      case 'const':
        p = problemAt(ld, base, `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)} (got ${got(e.data)})`);
        break;
      case 'type':
        p = problemAt(ld, base, `must be ${String((e.params as { type: string | string[] }).type).split(',').map((t) => TYPE_WORDS[t] ?? t).join(' or ')} (got ${got(e.data)})`);
        break;
      case 'format': {
        const f = (e.params as { format: string }).format;
        p = problemAt(ld, base, `${FORMAT_MESSAGES[f] ?? `must be a valid ${f}`} (got ${got(e.data)})`);
        break;
      }
      default:
        p = problemAt(ld, base, custom ?? e.message ?? 'is invalid');
    }
    if (custom && e.keyword !== 'additionalProperties' && e.keyword !== 'required') {
      p.message = e.data !== null && typeof e.data === 'object' ? custom : `${custom} (got ${got(e.data)})`;
    }
    const k = `${p.line}:${p.col}:${p.key}:${p.message}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(p);
    }
  }
  return out;
}

/** Runs a compiled schema on the document's JS value and returns located problems. */
export function validateLocated(ld: LocatedDocument, validate: ValidateFunction, value: unknown): ConfigProblem[] {
  return validate(value) ? [] : ajvProblems(ld, validate.errors);
}

/** Sorts problems by line, then column, then key. */
export function sortProblems(ps: ConfigProblem[]): ConfigProblem[] {
  return [...ps].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col || a.key.localeCompare(b.key));
}
