/**
 * A renderer for exactly the subset of Go text/template + Helm (sprig) functions that
 * charts/pushgate uses, for tests on a machine without helm or Go. It fails on anything it does not
 * know (unknown function, unsupported action), so a template using more than the subset is noticed
 * rather than rendered wrongly.
 *
 * Supported: text with `{{- -}}` trimming and comments; pipelines with `|`; parenthesized
 * sub-expressions; field chains on `.`, `$` and variables; string ("…", `…`), number, true/false/nil
 * literals; `$x := …` and `$x = …`; if/else if/else, range (`$k, $v :=` / `$v :=`), with/else, define,
 * include; functions listed in FUNCS. Semantics follow text/template (truthiness, `and`/`or` return an
 * operand, scoping of variables per block) and Helm (`toYaml` without trailing newline, `lookup` empty
 * as in `helm template`, missing values render empty).
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import YAML from 'yaml';

type Tok =
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'field'; v: string[] } // .A.B ; [] = dot
  | { t: 'var'; name: string; fields: string[] } // $x.A ; name '' = $
  | { t: 'ident'; v: string }
  | { t: 'op'; v: '(' | ')' | '|' | ':=' | '=' | ',' };

type Operand =
  | { k: 'lit'; v: unknown }
  | { k: 'field'; path: string[] }
  | { k: 'var'; name: string; path: string[] }
  | { k: 'ident'; name: string }
  | { k: 'pipe'; pipe: Pipeline };
interface Command { args: Operand[] }
interface Pipeline { decl?: { vars: string[]; assign: boolean }; cmds: Command[] }

type Node =
  | { n: 'text'; v: string }
  | { n: 'action'; pipe: Pipeline }
  | { n: 'if'; branches: Array<{ pipe: Pipeline; body: Node[] }>; els?: Node[] }
  | { n: 'range'; pipe: Pipeline; body: Node[]; els?: Node[] }
  | { n: 'with'; pipe: Pipeline; body: Node[]; els?: Node[] };

class TemplateError extends Error {}

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const ident = /[A-Za-z0-9_]/;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (src[j] !== '"') {
        if (j >= src.length) throw new TemplateError(`unterminated string in {{${src}}}`);
        if (src[j] === '\\') { const e = src[j + 1]; s += e === 'n' ? '\n' : e === 't' ? '\t' : e; j += 2; } else s += src[j++];
      }
      out.push({ t: 'str', v: s });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) throw new TemplateError(`unterminated raw string in {{${src}}}`);
      out.push({ t: 'str', v: src.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    if (c === ':' && src[i + 1] === '=') { out.push({ t: 'op', v: ':=' }); i += 2; continue; }
    if ('()|=,'.includes(c)) { out.push({ t: 'op', v: c as '(' }); i++; continue; }
    if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^-?[0-9]+(\.[0-9]+)?/.exec(src.slice(i))!;
      out.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
      continue;
    }
    if (c === '.' || c === '$') {
      let j = i;
      let name = '';
      if (c === '$') { j++; while (j < src.length && ident.test(src[j])) name += src[j++]; }
      const fields: string[] = [];
      while (src[j] === '.') {
        j++;
        let f = '';
        while (j < src.length && ident.test(src[j])) f += src[j++];
        if (f) fields.push(f);
      }
      out.push(c === '$' ? { t: 'var', name, fields } : { t: 'field', v: fields });
      i = j;
      continue;
    }
    if (ident.test(c)) {
      let j = i;
      while (j < src.length && ident.test(src[j])) j++;
      out.push({ t: 'ident', v: src.slice(i, j) });
      i = j;
      continue;
    }
    throw new TemplateError(`unsupported character ${JSON.stringify(c)} in action {{${src}}}`);
  }
  return out;
}

function parsePipeline(toks: Tok[], src: string): Pipeline {
  let pos = 0;
  let decl: Pipeline['decl'];
  // `$a := `, `$a = `, `$k, $v := `
  const isVar = (t?: Tok) => t?.t === 'var' && t.fields.length === 0;
  if (isVar(toks[0]) && toks[1]?.t === 'op' && (toks[1].v === ':=' || toks[1].v === '=')) {
    decl = { vars: [(toks[0] as { name: string }).name], assign: toks[1].v === '=' };
    pos = 2;
  } else if (isVar(toks[0]) && toks[1]?.t === 'op' && toks[1].v === ',' && isVar(toks[2]) && toks[3]?.t === 'op' && toks[3].v === ':=') {
    decl = { vars: [(toks[0] as { name: string }).name, (toks[2] as { name: string }).name], assign: false };
    pos = 4;
  }
  const parseCmds = (stopAtParen: boolean): Command[] => {
    const cmds: Command[] = [];
    let args: Operand[] = [];
    while (pos < toks.length) {
      const t = toks[pos];
      if (t.t === 'op' && t.v === ')') {
        if (!stopAtParen) throw new TemplateError(`unbalanced ) in {{${src}}}`);
        break;
      }
      pos++;
      if (t.t === 'op' && t.v === '|') { cmds.push({ args }); args = []; continue; }
      if (t.t === 'op' && t.v === '(') {
        const inner = parseCmds(true);
        if (toks[pos]?.t !== 'op' || (toks[pos] as { v: string }).v !== ')') throw new TemplateError(`missing ) in {{${src}}}`);
        pos++;
        args.push({ k: 'pipe', pipe: { cmds: inner } });
        continue;
      }
      if (t.t === 'str' || t.t === 'num') args.push({ k: 'lit', v: t.v });
      else if (t.t === 'field') args.push({ k: 'field', path: t.v });
      else if (t.t === 'var') args.push({ k: 'var', name: t.name, path: t.fields });
      else if (t.t === 'ident') {
        if (t.v === 'true' || t.v === 'false') args.push({ k: 'lit', v: t.v === 'true' });
        else if (t.v === 'nil') args.push({ k: 'lit', v: null });
        else args.push({ k: 'ident', name: t.v });
      } else throw new TemplateError(`unexpected ${JSON.stringify(t)} in {{${src}}}`);
    }
    if (args.length) cmds.push({ args });
    return cmds;
  };
  const cmds = parseCmds(false);
  if (!cmds.length) throw new TemplateError(`empty pipeline in {{${src}}}`);
  return { decl, cmds };
}

interface Item { text?: string; action?: string }

/** Splits into text and actions, applying `{{-`/`-}}` trimming and dropping comments. */
function lex(tpl: string, name: string): Item[] {
  const items: Item[] = [];
  let i = 0;
  let trimNext = false;
  while (i < tpl.length) {
    const open = tpl.indexOf('{{', i);
    let text = open < 0 ? tpl.slice(i) : tpl.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open < 0) { items.push({ text }); break; }
    let j = open + 2;
    const trimLeft = tpl[j] === '-' && /\s/.test(tpl[j + 1]);
    if (trimLeft) { text = text.replace(/\s+$/, ''); j += 1; }
    items.push({ text });
    // The action ends at the first `}}` outside a quoted or raw string.
    let close = -1;
    for (let k = j, q = ''; k < tpl.length; k++) {
      const ch = tpl[k];
      if (q) {
        if (ch === '\\' && q === '"') k++;
        else if (ch === q) q = '';
      } else if (ch === '"' || ch === '`') q = ch;
      else if (ch === '}' && tpl[k + 1] === '}') {
        close = k;
        break;
      }
    }
    if (close < 0) throw new TemplateError(`${name}: unclosed action`);
    let inner = tpl.slice(j, close);
    trimNext = /\s-$/.test(inner);
    if (trimNext) inner = inner.slice(0, -1);
    inner = inner.trim();
    if (inner.startsWith('/*')) {
      if (!inner.endsWith('*/')) throw new TemplateError(`${name}: bad comment`);
    } else items.push({ action: inner });
    i = close + 2;
  }
  return items;
}

/** Parses items into nodes until one of `stops` (returned with the stopping keyword and its rest). */
function parseNodes(items: Item[], st: { pos: number }, defines: Map<string, Node[]>, name: string, stops: string[]): { nodes: Node[]; stop?: string; rest?: string } {
  const nodes: Node[] = [];
  while (st.pos < items.length) {
    const it = items[st.pos++];
    if (it.text !== undefined) { if (it.text) nodes.push({ n: 'text', v: it.text }); continue; }
    const a = it.action!;
    const m = /^(\w+)\b\s*(.*)$/s.exec(a);
    const kw = m?.[1] ?? '';
    const rest = m?.[2] ?? '';
    if (kw === 'end' || kw === 'else') {
      if (!stops.includes(kw)) throw new TemplateError(`${name}: unexpected {{${a}}}`);
      return { nodes, stop: kw, rest };
    }
    if (kw === 'if') {
      const branches: Array<{ pipe: Pipeline; body: Node[] }> = [];
      let cond = rest;
      let els: Node[] | undefined;
      for (;;) {
        const r = parseNodes(items, st, defines, name, ['else', 'end']);
        branches.push({ pipe: parsePipeline(tokenize(cond), cond), body: r.nodes });
        if (r.stop === 'end') break;
        if (r.rest && r.rest.startsWith('if ')) { cond = r.rest.slice(3); continue; }
        if (r.rest) throw new TemplateError(`${name}: unsupported {{else ${r.rest}}}`);
        const e = parseNodes(items, st, defines, name, ['end']);
        els = e.nodes;
        break;
      }
      nodes.push({ n: 'if', branches, els });
    } else if (kw === 'range' || kw === 'with') {
      const r = parseNodes(items, st, defines, name, ['else', 'end']);
      let els: Node[] | undefined;
      if (r.stop === 'else') {
        if (r.rest) throw new TemplateError(`${name}: unsupported {{else ${r.rest}}} in ${kw}`);
        els = parseNodes(items, st, defines, name, ['end']).nodes;
      }
      nodes.push({ n: kw, pipe: parsePipeline(tokenize(rest), rest), body: r.nodes, els });
    } else if (kw === 'define') {
      const dn = /^"([^"]+)"$/.exec(rest.trim());
      if (!dn) throw new TemplateError(`${name}: bad define ${rest}`);
      defines.set(dn[1], parseNodes(items, st, defines, name, ['end']).nodes);
    } else if (['template', 'block', 'break', 'continue'].includes(kw)) {
      throw new TemplateError(`${name}: unsupported action {{${a}}}`);
    } else {
      nodes.push({ n: 'action', pipe: parsePipeline(tokenize(a), a) });
    }
  }
  if (stops.length) throw new TemplateError(`${name}: missing {{end}}`);
  return { nodes };
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

function str(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') throw new TemplateError(`cannot print a map or list directly (use toYaml): ${JSON.stringify(v).slice(0, 60)}`);
  return String(v);
}

function field(v: unknown, pathParts: string[]): unknown {
  let cur = v;
  for (const p of pathParts) {
    if (cur === undefined || cur === null) return undefined;
    if (typeof cur !== 'object') throw new TemplateError(`can't evaluate field ${p} in ${typeof cur}`);
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function toYaml(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  return YAML.stringify(v, { sortMapEntries: true, lineWidth: 0 }).replace(/\n$/, '');
}

function indent(n: number, s: string): string {
  const pad = ' '.repeat(n);
  return s.split('\n').map((l) => pad + l).join('\n');
}

function sprintf(fmt: string, args: unknown[]): string {
  let i = 0;
  return fmt.replace(/%([svdq%])/g, (_m, c: string) => {
    if (c === '%') return '%';
    const a = args[i++];
    if (c === 'q') return JSON.stringify(str(a));
    if (c === 'd') return String(Math.trunc(Number(a)));
    return typeof a === 'object' && a !== null ? JSON.stringify(a) : str(a);
  });
}

function openssl(args: string[], dir: string): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** sprig genCA / genSignedCert with openssl (RSA 2048 as sprig). */
const certMemo = new Map<string, { Cert: string; Key: string }>();
function memoCert(key: string, make: () => { Cert: string; Key: string }): { Cert: string; Key: string } {
  let c = certMemo.get(key);
  if (!c) certMemo.set(key, (c = make()));
  return c;
}

function genCA(cn: string, days: number): { Cert: string; Key: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helm-render-'));
  try {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-days', String(days), '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,digitalSignature', '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
    return { Cert: fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8'), Key: fs.readFileSync(path.join(dir, 'ca.key'), 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function genSignedCert(cn: string, ips: unknown, alt: unknown, days: number, ca: { Cert: string; Key: string }): { Cert: string; Key: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'helm-render-'));
  try {
    fs.writeFileSync(path.join(dir, 'ca.crt'), ca.Cert);
    fs.writeFileSync(path.join(dir, 'ca.key'), ca.Key);
    const sans = [...(Array.isArray(alt) ? alt : []).map((d) => `DNS:${d}`), ...(Array.isArray(ips) ? ips : []).map((d) => `IP:${d}`)];
    fs.writeFileSync(path.join(dir, 'ext.cnf'), `${sans.length ? `subjectAltName=${sans.join(',')}\n` : ''}extendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', 'tls.key', '-out', 'tls.csr'], dir);
    openssl(['x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', String(days), '-extfile', 'ext.cnf', '-out', 'tls.crt'], dir);
    return { Cert: fs.readFileSync(path.join(dir, 'tls.crt'), 'utf8'), Key: fs.readFileSync(path.join(dir, 'tls.key'), 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Values for `.Release`, `.Chart`, `.Values`, `.Files` of one render. */
export interface RenderContext {
  Values: Record<string, unknown>;
  Release: { Name: string; Namespace: string; Service: string };
  Chart: Record<string, unknown>;
  Files: { Get(p: string): string };
}

type Scope = Array<Map<string, unknown>>;

class Renderer {
  constructor(readonly defines: Map<string, Node[]>, readonly root: RenderContext) {}

  /** Certificates generated so far in this render. */
  private certs = 0;
  readonly funcs: Record<string, (...a: unknown[]) => unknown> = {
    include: (n, ctx) => {
      const body = this.defines.get(String(n));
      if (!body) throw new TemplateError(`include: no template "${String(n)}"`);
      return this.exec(body, ctx, [new Map([['', ctx]])]);
    },
    default: (d, v) => (truthy(v) ? v : d),
    quote: (...a) => a.map((x) => JSON.stringify(str(x))).join(' '),
    toYaml: (v) => toYaml(v),
    toJson: (v) => JSON.stringify(v ?? null),
    toString: (v: unknown) => str(v),
    nindent: (n, s) => '\n' + indent(Number(n), str(s)),
    indent: (n, s) => indent(Number(n), str(s)),
    trunc: (n, s) => str(s).slice(0, Number(n)),
    trimSuffix: (suf, s) => (str(s).endsWith(str(suf)) ? str(s).slice(0, -str(suf).length) : str(s)),
    contains: (sub, s) => str(s).includes(str(sub)),
    printf: (f, ...a) => sprintf(str(f), a),
    print: (...a) => a.map(str).join(''),
    b64enc: (s) => Buffer.from(str(s)).toString('base64'),
    sha256sum: (s) => crypto.createHash('sha256').update(str(s)).digest('hex'),
    int: (v) => Math.trunc(Number(v ?? 0)),
    mul: (a, b) => Number(a) * Number(b),
    eq: (a, ...b) => b.some((x) => x === a),
    ne: (a, b) => a !== b,
    gt: (a, b) => Number(a) > Number(b),
    lt: (a, b) => Number(a) < Number(b),
    and: (...a) => a.find((x) => !truthy(x)) ?? a[a.length - 1],
    or: (...a) => a.find((x) => truthy(x)) ?? a[a.length - 1],
    not: (v) => !truthy(v),
    hasKey: (m, k) => typeof m === 'object' && m !== null && !Array.isArray(m) && Object.hasOwn(m, str(k)),
    list: (...a) => a,
    // sprig `omit`: a copy of the map without the keys named (nil gives an empty map)
    omit: (m, ...keys) => {
      const out: Record<string, unknown> = {};
      if (m && typeof m === 'object' && !Array.isArray(m)) for (const [k, v] of Object.entries(m)) if (!keys.map(str).includes(k)) out[k] = v;
      return out;
    },
    index: (m, ...k) => k.reduce((cur, key) => (cur == null ? undefined : (cur as Record<string, unknown>)[str(key)]), m),
    required: (msg, v) => {
      if (v === undefined || v === null || v === '') throw new TemplateError(str(msg));
      return v;
    },
    fail: (msg) => {
      throw new TemplateError(str(msg));
    },
    // `helm template` (no cluster) sees no existing objects.
    lookup: () => ({}),
    // RSA key generation is most of a render's time: a render's n-th certificate of the same arguments
    // is the one an earlier render made (distinct within one render, as helm's are)
    genCA: (cn, days) => memoCert(`ca ${this.certs++} ${str(cn)} ${Number(days)}`, () => genCA(str(cn), Number(days))),
    genSignedCert: (cn, ips, alt, days, ca) => memoCert(`cert ${this.certs++} ${JSON.stringify([cn, ips, alt, days, (ca as { Cert: string }).Cert])}`,
      () => genSignedCert(str(cn), ips, alt, Number(days), ca as { Cert: string; Key: string })),
  };

  private lookupVar(scope: Scope, name: string): unknown {
    for (let i = scope.length - 1; i >= 0; i--) if (scope[i].has(name)) return scope[i].get(name);
    throw new TemplateError(`undefined variable $${name}`);
  }

  private operand(o: Operand, dot: unknown, scope: Scope): unknown {
    switch (o.k) {
      case 'lit':
        return o.v;
      case 'field':
        return field(dot, o.path);
      case 'var':
        return field(this.lookupVar(scope, o.name), o.path);
      case 'pipe':
        return this.pipeline(o.pipe, dot, scope);
      case 'ident':
        return this.call(o.name, []);
    }
  }

  private call(name: string, args: unknown[]): unknown {
    const f = this.funcs[name];
    if (!f) throw new TemplateError(`unsupported function "${name}"`);
    return f(...args);
  }

  pipeline(p: Pipeline, dot: unknown, scope: Scope): unknown {
    let val: unknown;
    let first = true;
    for (const c of p.cmds) {
      const [head, ...rest] = c.args;
      if (head.k === 'ident') {
        const args = rest.map((a) => this.operand(a, dot, scope));
        if (!first) args.push(val);
        val = this.call(head.name, args);
      } else {
        if (rest.length || !first) throw new TemplateError('a non-function command takes no arguments');
        val = this.operand(head, dot, scope);
      }
      first = false;
    }
    if (p.decl) {
      const [v] = p.decl.vars;
      if (p.decl.assign) {
        const s = [...scope].reverse().find((m) => m.has(v));
        if (!s) throw new TemplateError(`assignment to undeclared $${v}`);
        s.set(v, val);
      } else scope[scope.length - 1].set(v, val);
      return '';
    }
    return val;
  }

  exec(nodes: Node[], dot: unknown, scope: Scope): string {
    let out = '';
    for (const node of nodes) {
      switch (node.n) {
        case 'text':
          out += node.v;
          break;
        case 'action': {
          const v = this.pipeline(node.pipe, dot, scope);
          if (!node.pipe.decl) out += str(v);
          break;
        }
        case 'if': {
          const hit = node.branches.find((b) => truthy(this.pipeline(b.pipe, dot, scope)));
          if (hit) out += this.exec(hit.body, dot, [...scope, new Map()]);
          else if (node.els) out += this.exec(node.els, dot, [...scope, new Map()]);
          break;
        }
        case 'with': {
          const v = this.pipeline(node.pipe, dot, scope);
          if (truthy(v)) out += this.exec(node.body, v, [...scope, new Map()]);
          else if (node.els) out += this.exec(node.els, dot, [...scope, new Map()]);
          break;
        }
        case 'range': {
          const decl = node.pipe.decl;
          const v = this.pipeline({ cmds: node.pipe.cmds }, dot, scope);
          const entries: Array<[unknown, unknown]> = Array.isArray(v)
            ? v.map((x, i) => [i, x])
            : v && typeof v === 'object'
              ? Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]])
              : [];
          if (!entries.length && node.els) out += this.exec(node.els, dot, [...scope, new Map()]);
          for (const [k, x] of entries) {
            const m = new Map<string, unknown>();
            if (decl?.vars.length === 2) { m.set(decl.vars[0], k); m.set(decl.vars[1], x); } else if (decl) m.set(decl.vars[0], x);
            out += this.exec(node.body, x, [...scope, m]);
          }
          break;
        }
      }
    }
    return out;
  }
}

/** One rendered template file: its name and the YAML documents it produced (empty ones dropped). */
export interface RenderedFile { name: string; text: string; docs: Array<Record<string, unknown>> }

function deepMerge(base: unknown, over: unknown): unknown {
  if (over && typeof over === 'object' && !Array.isArray(over) && base && typeof base === 'object' && !Array.isArray(base)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(over)) out[k] = deepMerge(out[k], v);
    return out;
  }
  return over === undefined ? base : over;
}

/** Compiled values schemas by their text (compiling one takes longer than rendering the chart). */
const schemaValidators = new Map<string, ValidateFunction>();

/**
 * Renders every `templates/*.yaml` of `chartDir` with `values.yaml` merged with `overrides`,
 * as `helm template RELEASE chartDir --namespace NAMESPACE` would.
 * @throws Error on values the chart's values.schema.json refuses, template errors, `fail`/`required`, or output that is not YAML.
 */
export function renderChart(chartDir: string, overrides: Record<string, unknown> = {}, release = { name: 'pushgate', namespace: 'pushgate' }): RenderedFile[] {
  const chart = YAML.parse(fs.readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
  const values = deepMerge(YAML.parse(fs.readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')), overrides) as Record<string, unknown>;
  // helm validates the merged values against values.schema.json before rendering (install, upgrade and
  // template alike): values it refuses never render, so neither do they here.
  const schemaFile = path.join(chartDir, 'values.schema.json');
  if (fs.existsSync(schemaFile)) {
    const text = fs.readFileSync(schemaFile, 'utf8');
    let validate = schemaValidators.get(text);
    if (!validate) schemaValidators.set(text, (validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(text) as object)));
    if (!validate(values)) throw new TemplateError(`values don't meet the schema: ${JSON.stringify(validate.errors)}`);
  }
  const ctx: RenderContext = {
    Values: values,
    Release: { Name: release.name, Namespace: release.namespace, Service: 'Helm' },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
    Files: { Get: (p: string) => fs.readFileSync(path.join(chartDir, p), 'utf8') },
  };
  const tdir = path.join(chartDir, 'templates');
  const names = fs.readdirSync(tdir).sort();
  const defines = new Map<string, Node[]>();
  const parsed = new Map<string, Node[]>();
  for (const n of names) {
    if (!n.endsWith('.yaml') && !n.endsWith('.tpl')) continue;
    // `.Files.Get "x"` is a method call, which the subset has no syntax for: rewritten to a function.
    const src = fs.readFileSync(path.join(tdir, n), 'utf8').replace(/\.Files\.Get\s+"([^"]+)"/g, (_m, p: string) => `(filesGet "${p}")`);
    parsed.set(n, parseNodes(lex(src, n), { pos: 0 }, defines, n, []).nodes);
  }
  const r = new Renderer(defines, ctx);
  r.funcs.filesGet = (p) => ctx.Files.Get(str(p));
  const out: RenderedFile[] = [];
  for (const [n, nodes] of parsed) {
    if (!n.endsWith('.yaml')) continue;
    const text = r.exec(nodes, ctx, [new Map([['', ctx]])]);
    const docs = YAML.parseAllDocuments(text).map((d) => {
      if (d.errors.length) throw new Error(`${n}: rendered output is not YAML: ${d.errors[0].message}\n${text}`);
      return d.toJS() as Record<string, unknown>;
    }).filter((d) => d && typeof d === 'object');
    out.push({ name: n, text, docs });
  }
  return out;
}
