/**
 * Reading JSON documents the way Go's `encoding/json` reads them into structs, for the documents
 * that Go programs (CNCF Distribution, containerd, Docker, CRI-O) also read: manifests, indexes and
 * image configs. `JSON.parse` and Go disagree on exactly the inputs an attacker would send:
 *
 * - Go matches an object key to a struct field case-insensitively (`Layers`, `LAYERS` and
 *   `layers` all fill the field `layers`), folding ASCII case plus the Kelvin sign `K` (U+212A,
 *   folds with `k`) and the long s `ſ` (U+017F, folds with `s`): `unicode.SimpleFold` orbits, see
 *   `foldName` in go/src/encoding/json/fold.go (Go ≥ 1.21) and the `equalFoldRight` special
 *   cases it replaced (Go ≤ 1.20; Debian's Distribution 2.8 is built with Go 1.19). Both read the
 *   same keys.
 * - When several keys fill one field, each assignment overwrites the previous one: the last wins.
 *   `JSON.parse` keeps the last of exact duplicates only, and reads `layers` and `Layers` as two
 *   different properties.
 * - A number is read into an integer field only when its text is an integer (`1.0` and `1e3` are
 *   errors), a string field takes only strings, and `null` leaves a field at its zero value.
 *
 * {@link parseJsonTree} keeps every member of every object (duplicates included) with the raw text
 * of every number; {@link decodeGo} then reads a tree against a {@link GoType} the way
 * `json.Unmarshal` would, except that it REFUSES (throws {@link GoDecodeError}) instead of
 * guessing where the readers could differ: two keys naming one field, a duplicated key, a value of
 * the wrong type. Nothing here does I/O.
 */

/** One JSON value, as written: object members in order and with duplicates, numbers as their text. */
export type JsonNode =
  | { t: 'object'; members: Array<[string, JsonNode]> }
  | { t: 'array'; items: JsonNode[] }
  | { t: 'string'; v: string }
  | { t: 'number'; raw: string }
  | { t: 'bool'; v: boolean }
  | { t: 'null' };

/** Nesting deeper than this is refused (Go's own limit is 10 000; no manifest or config nests past 10). */
export const MAX_JSON_DEPTH = 256;

/**
 * A document that is not JSON, or that Go's decoder would read differently from pushgate.
 * `path` is where (`layers[0].size`, `config.Env`), `key` the offending key when there is one.
 */
export class GoDecodeError extends Error {
  constructor(message: string, readonly path: string, readonly key?: string) {
    super(message);
    this.name = 'GoDecodeError';
  }
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Parses JSON text (RFC 8259, as strict as Go's scanner: no comments, no trailing commas, no
 * leading zeros, only the four JSON whitespace characters) into a {@link JsonNode} tree that keeps
 * duplicate keys and number texts.
 * @throws GoDecodeError with the offset of the first syntax error, or when nesting passes
 *   {@link MAX_JSON_DEPTH}.
 */
export function parseJsonTree(text: string): JsonNode {
  let i = 0;
  const n = text.length;
  const fail = (what: string): never => {
    throw new GoDecodeError(`not valid JSON: ${what} at offset ${i}`, '');
  };
  const ws = () => {
    while (i < n && WS.has(text.charCodeAt(i))) i++;
  };
  const str = (): string => {
    // text[i] is the opening quote
    i++;
    let out = '';
    let start = i;
    for (;;) {
      if (i >= n) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        out += text.slice(start, i);
        const e = text[i + 1];
        i += 2;
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            const hex = text.slice(i, i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
            out += String.fromCharCode(parseInt(hex, 16));
            i += 4;
            break;
          }
          default: fail('bad escape');
        }
        start = i;
        continue;
      }
      i++;
    }
  };
  const NUM = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const value = (depth: number): JsonNode => {
    if (depth > MAX_JSON_DEPTH) fail(`nesting deeper than ${MAX_JSON_DEPTH}`);
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const members: Array<[string, JsonNode]> = [];
      ws();
      if (text[i] === '}') { i++; return { t: 'object', members }; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a string key');
        const k = str();
        ws();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        members.push([k, value(depth + 1)]);
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return { t: 'object', members }; }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const items: JsonNode[] = [];
      ws();
      if (text[i] === ']') { i++; return { t: 'array', items }; }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return { t: 'array', items }; }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return { t: 'string', v: str() };
    if (text.startsWith('true', i)) { i += 4; return { t: 'bool', v: true }; }
    if (text.startsWith('false', i)) { i += 5; return { t: 'bool', v: false }; }
    if (text.startsWith('null', i)) { i += 4; return { t: 'null' }; }
    NUM.lastIndex = i;
    const m = NUM.exec(text);
    if (m && m[0].length > 0) { i += m[0].length; return { t: 'number', raw: m[0] }; }
    return fail(i >= n ? 'unexpected end of input' : `unexpected character ${JSON.stringify(text[i])}`);
  };
  const root = value(0);
  ws();
  if (i !== n) fail('data after the top-level value');
  return root;
}


function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * The key Go's struct decoder files `key` under: ASCII letters upper-cased, the Kelvin sign as
 * `K` and the long s as `S` (the only non-ASCII code points whose case-fold orbit holds an ASCII
 * letter, so the only ones that can reach a field with an ASCII name). Two keys name the same
 * struct field exactly when their folds are equal.
 */
export function goFoldKey(key: string): string {
  // ASCII keys (nearly all): upper-casing is the whole fold.
  if (isAscii(key)) return key.toUpperCase();
  let out = '';
  for (const ch of key) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x61 && c <= 0x7a) out += String.fromCharCode(c - 0x20);
    else if (c === 0x212a) out += 'K';
    else if (c === 0x17f) out += 'S';
    else out += ch;
  }
  return out;
}

/**
 * The Go type a value is decoded into. `struct` fields are keyed by their JSON name (the struct
 * tag); keys that name no field are kept as they are (Go ignores them; pushgate's secret scan may
 * still read them). `any` is a value pushgate does not model: kept as plain JSON, only exact
 * duplicate keys refused.
 */
export type GoType =
  | { k: 'string' }
  | { k: 'int'; min?: number }
  | { k: 'bool' }
  | { k: 'bytes' }
  | { k: 'slice'; of: GoType }
  | { k: 'map'; of: GoType }
  | { k: 'struct'; fields: Record<string, GoType> }
  | { k: 'any' };

/** Shorthands for building {@link GoType}s. */
export const go = {
  string: { k: 'string' } as GoType,
  int: (min?: number): GoType => ({ k: 'int', min }),
  bool: { k: 'bool' } as GoType,
  bytes: { k: 'bytes' } as GoType,
  any: { k: 'any' } as GoType,
  slice: (of: GoType): GoType => ({ k: 'slice', of }),
  map: (of: GoType): GoType => ({ k: 'map', of }),
  struct: (fields: Record<string, GoType>): GoType => ({ k: 'struct', fields }),
};

function where(path: string): string {
  return path || 'the document';
}

function kindOf(n: JsonNode): string {
  return n.t === 'bool' ? 'a boolean' : n.t === 'null' ? 'null' : n.t === 'object' ? 'an object' : n.t === 'array' ? 'an array' : `a ${n.t}`;
}

function typeName(t: GoType): string {
  switch (t.k) {
    case 'string': return 'a string';
    case 'int': return 'an integer';
    case 'bool': return 'a boolean';
    case 'bytes': return 'a base64 string';
    case 'slice': return 'an array';
    case 'map': case 'struct': return 'an object';
    default: return 'a JSON value';
  }
}

/** Sets an own property; `__proto__` as data, never as the prototype. */
function put(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

const PLAIN_KEY = /^[A-Za-z_][\w.]*$/;

/** Where a value sits: a string, or a step below a parent, turned into text only when an error names it. */
export type Path = string | { up: Path; key?: string; i?: number };

function ps(p: Path): string {
  if (typeof p === 'string') return p;
  const up = ps(p.up);
  if (p.i !== undefined) return `${up}[${p.i}]`;
  const key = p.key!;
  return PLAIN_KEY.test(key) ? (up ? `${up}.${key}` : key) : `${up}[${JSON.stringify(key)}]`;
}

/** Refuses exact duplicate keys in one object (both readers keep the last, pushgate's other readers might not). */
function checkExactDuplicates(members: Array<[string, JsonNode]>, path: Path): void {
  if (members.length < 2) return;
  const seen = new Set<string>();
  for (const [k] of members) {
    if (seen.has(k)) throw new GoDecodeError(`${where(ps(path))} has the key "${k}" more than once; registries and runtimes keep the last one silently, so pushgate refuses the document: write each key once`, ps(path), k);
    seen.add(k);
  }
}

/** Plain JS value of a node pushgate does not model (`any`): exact duplicates refused at every depth. */
export function plainValue(n: JsonNode, path: Path = ''): unknown {
  switch (n.t) {
    case 'object': {
      checkExactDuplicates(n.members, path);
      const o: Record<string, unknown> = {};
      for (const [k, v] of n.members) put(o, k, plainValue(v, { up: path, key: k }));
      return o;
    }
    case 'array': return n.items.map((x, i) => plainValue(x, { up: path, i }));
    case 'string': return n.v;
    case 'number': return Number(n.raw);
    case 'bool': return n.v;
    default: return null;
  }
}

const FOLDED = new WeakMap<GoType, Map<string, string>>();

/** Folded JSON name → field name of a struct type, computed once per type. */
function foldedFields(type: Extract<GoType, { k: 'struct' }>): Map<string, string> {
  let m = FOLDED.get(type);
  if (!m) {
    m = new Map(Object.keys(type.fields).map((name) => [goFoldKey(name), name]));
    FOLDED.set(type, m);
  }
  return m;
}

const INT_TEXT = /^-?(?:0|[1-9]\d*)$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes `n` into `type` as `json.Unmarshal` would, or refuses where Go and pushgate could read
 * the document differently. `null` decodes to `undefined` (Go leaves the zero value); a `null`
 * inside an array or map is refused. Struct output objects carry each field under its canonical
 * JSON name, unknown keys as written.
 * @throws GoDecodeError naming the path and key: two keys that name one struct field (`layers` and
 *   `Layers`), an exact duplicate key, a value of the wrong type (a string for an integer, `1.5` or
 *   `1e3` for an integer, an integer below `min` or past 2^53 − 1, a non-base64 `bytes`).
 */
export function decodeGo(n: JsonNode, type: GoType, path: Path = ''): unknown {
  if (n.t === 'null') return undefined;
  const wrong = (): never => {
    throw new GoDecodeError(`${where(ps(path))} must be ${typeName(type)}, not ${kindOf(n)}`, ps(path));
  };
  switch (type.k) {
    case 'any': return plainValue(n, path);
    case 'string': return n.t === 'string' ? n.v : wrong();
    case 'bool': return n.t === 'bool' ? n.v : wrong();
    case 'bytes':
      if (n.t !== 'string') return wrong();
      if (!BASE64.test(n.v.replace(/[\r\n]/g, ''))) throw new GoDecodeError(`${where(ps(path))} must be base64 (RFC 4648 standard alphabet)`, ps(path));
      return n.v;
    case 'int': {
      if (n.t !== 'number') return wrong();
      if (!INT_TEXT.test(n.raw)) throw new GoDecodeError(`${where(ps(path))} must be an integer, not ${n.raw} (Go's decoder refuses fractions and exponents here)`, ps(path));
      const v = Number(n.raw);
      if (!Number.isSafeInteger(v)) throw new GoDecodeError(`${where(ps(path))} is ${n.raw}, past the largest integer pushgate reads exactly (2^53 − 1)`, ps(path));
      if (type.min !== undefined && v < type.min) throw new GoDecodeError(`${where(ps(path))} is ${n.raw}; it must be at least ${type.min}`, ps(path));
      return v === 0 ? 0 : v;
    }
    case 'slice':
      if (n.t !== 'array') return wrong();
      return n.items.map((x, i) => {
        const p: Path = { up: path, i };
        if (x.t === 'null' && type.of.k !== 'any') throw new GoDecodeError(`${ps(p)} is null; it must be ${typeName(type.of)}`, ps(p));
        return decodeGo(x, type.of, p);
      });
    case 'map': {
      if (n.t !== 'object') return wrong();
      checkExactDuplicates(n.members, path);
      const o: Record<string, unknown> = {};
      for (const [k, v] of n.members) {
        const p: Path = { up: path, key: k };
        if (v.t === 'null' && type.of.k !== 'any') throw new GoDecodeError(`${ps(p)} is null; it must be ${typeName(type.of)}`, ps(p), k);
        put(o, k, decodeGo(v, type.of, p));
      }
      return o;
    }
    case 'struct': {
      if (n.t !== 'object') return wrong();
      checkExactDuplicates(n.members, path);
      const byFold = foldedFields(type);
      const firstKey = new Map<string, string>();
      const o: Record<string, unknown> = {};
      for (const [k, v] of n.members) {
        const fold = goFoldKey(k);
        const prior = firstKey.get(fold);
        if (prior !== undefined) {
          const field = byFold.get(fold) ?? k;
          throw new GoDecodeError(
            `${where(ps(path))} has the keys "${prior}" and "${k}", which Go's decoder (Distribution, containerd) reads as the same field "${field}", keeping the last; pushgate refuses the ambiguity: write the field once, spelled "${field}"`,
            ps(path),
            k,
          );
        }
        firstKey.set(fold, k);
        const field = byFold.get(fold);
        const p: Path = { up: path, key: field ?? k };
        const value = field ? decodeGo(v, type.fields[field]!, p) : plainValue(v, p);
        if (value !== undefined) put(o, field ?? k, value);
      }
      return o;
    }
  }
}
