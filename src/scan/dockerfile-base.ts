/**
 * The base image a Dockerfile builds its final stage on, resolved the way BuildKit resolves it
 * (moby/buildkit frontend/dockerfile: `instructions/parse.go`, `shell/lex.go`, `dockerfile2llb`), for
 * `pushgate scan --file Dockerfile`, where it is the strongest evidence of an image's base.
 *
 * - Global `ARG`s (before the first `FROM`) are the only variables a `FROM` line sees. A declared ARG
 *   takes its `--build-arg` value if one is given, else its default (which may use earlier global
 *   ARGs); a `--build-arg` for an undeclared ARG is ignored, as docker build ignores it. BuildKit's
 *   automatic platform ARGs (`TARGETPLATFORM`, `TARGETOS`, `TARGETARCH`, `TARGETVARIANT` and the
 *   `BUILD*` ones) exist without a declaration when a platform is given.
 * - Words are expanded as BuildKit's shell lexer does: `$V`, `${V}`, `${V:-w}`, `${V-w}`, `${V:+w}`,
 *   `${V+w}`, `${V:?msg}`, `${V?msg}`, single quotes literal, double quotes expanding, the escape
 *   character (`\`, or the `# escape=` directive's) quoting the next character.
 * - `FROM <stage>` (stage names are case-insensitive) continues an earlier stage: the chain is followed
 *   to the `FROM` that names an image (or `scratch`), and the instructions of every stage on the chain
 *   are the image's own history entries after the base's.
 * - The final stage is the last one, or `target` (docker build `--target`).
 *
 * What a build could read two ways is refused with a {@link PushgateError} `BAD_ARGUMENT` that names
 * the line and says what to do: a variable with no value (no default and no `--build-arg`), a
 * variable no global ARG declares (docker build would silently use an empty string), a `FROM` naming
 * a stage defined later (builders differ on whether that is the stage or an image of that name; a
 * stage named like its own base, `FROM debian AS debian`, names the image), a stage name used twice, expansions BuildKit added later (`${V#p}`, `${V/a/b}`), a `FROM`
 * that is not `image [AS name]`, a reference that does not parse.
 */
import { createRequire } from 'node:module';
import type * as DockerfileAst from 'dockerfile-ast';
import { PushgateError, parseImageRef, type ImageRef } from '../core/index.js';

// Loaded on first use: only `--file` needs a Dockerfile parser.
const load = createRequire(import.meta.url);

/** A warning about how the final stage names its base. */
export interface BaseFlag {
  /** `latest`: `FROM x:latest`; `untagged`: `FROM x` (docker build reads it as `x:latest`). */
  kind: 'latest' | 'untagged';
  /** One sentence: what was found where, and what to do. */
  message: string;
}

/** One stage on the chain from the base image's `FROM` to the final stage. */
export interface StageLink {
  /** The stage's name (lower case, as BuildKit keeps it), if it has one. */
  name?: string;
  /** 0-based index of the stage in the file (what `COPY --from=<n>` counts). */
  index: number;
  /** 1-based line of the stage's `FROM`. */
  line: number;
}

/** The final stage's base, resolved. */
export interface DockerfileBase {
  /** The base reference after substitution, as the Dockerfile writes it (`lab/debian:12`), or `scratch`. */
  reference: string;
  /** `FROM scratch`: the image has no base image. */
  scratch: boolean;
  /** {@link reference} normalized (Docker Hub names expanded; no tag added); absent for scratch. */
  ref?: ImageRef;
  /** Whether {@link reference} names its registry (else Docker Hub, or the builder's mirror of it). */
  explicitRegistry: boolean;
  /** `--platform` of the base's `FROM`, substituted, if it has one. */
  platform?: string;
  /** 1-based line of the `FROM` that names the base image. */
  line: number;
  /** The stages from the base's `FROM` (first) to the final stage (last). */
  stages: StageLink[];
  /** Keywords (upper case) of the instructions of those stages after the base's `FROM`, in order. */
  keywords: string[];
  /** `latest` / `untagged` warnings (none for scratch or a digest). */
  flags: BaseFlag[];
}

/** What {@link resolveDockerfileBase} is told besides the text. */
export interface ResolveOptions {
  /** `--build-arg` values (name → value), as docker build takes them. */
  buildArgs?: Record<string, string>;
  /** `--target`: the stage to resolve instead of the last one (case-insensitive name, or index). */
  target?: string;
  /** The target platform `os/arch[/variant]` (e.g. the scanned image's), defining the automatic platform ARGs. */
  platform?: string;
}

const NAME_START = /[A-Za-z_]/;
/** BuildKit's automatic platform ARGs. */
const PLATFORM_ARGS = new Set(['TARGETPLATFORM', 'TARGETOS', 'TARGETARCH', 'TARGETVARIANT', 'BUILDPLATFORM', 'BUILDOS', 'BUILDARCH', 'BUILDVARIANT']);
const NAME_CHAR = /[A-Za-z0-9_]/;

/** A variable as a FROM line sees it: a value, declared without one, or not declared at all. */
type Lookup = (name: string) => { kind: 'value'; value: string } | { kind: 'unset' } | { kind: 'undeclared' };

function bad(line: number, message: string): PushgateError {
  return new PushgateError('BAD_ARGUMENT', `line ${line}: ${message}`);
}

/**
 * Expands one word as BuildKit's shell lexer does (quotes removed, variables substituted).
 * @param line 1-based, for errors.
 */
function expandWord(word: string, lookup: Lookup, escape: string, line: number): string {
  let i = 0;
  const peek = () => word[i];
  // Reads until `stop` (or the end when stop is undefined) at this nesting level; handles quotes.
  const read = (stop: string | undefined, inDouble: boolean): string => {
    let out = '';
    while (i < word.length) {
      const c = word[i];
      if (stop !== undefined && c === stop && !inDouble) return out;
      if (c === escape) {
        i++;
        if (i < word.length) {
          // In double quotes only $, ", the escape character and a newline are quoted (POSIX, BuildKit).
          if (inDouble && !['$', '"', escape].includes(word[i])) out += escape;
          out += word[i++];
        } else out += escape;
        continue;
      }
      if (c === "'" && !inDouble) {
        const end = word.indexOf("'", i + 1);
        if (end < 0) throw bad(line, `unterminated single quote in "${word}"`);
        out += word.slice(i + 1, end);
        i = end + 1;
        continue;
      }
      if (c === '"') {
        if (inDouble) return out;
        i++;
        out += read(undefined, true);
        if (word[i] !== '"') throw bad(line, `unterminated double quote in "${word}"`);
        i++;
        continue;
      }
      if (c === '$') {
        out += variable();
        continue;
      }
      out += c;
      i++;
    }
    if (inDouble) return out;
    if (stop !== undefined) throw bad(line, `"\${" without its closing "}" in "${word}"`);
    return out;
  };
  const valueOf = (name: string): string | undefined => {
    const v = lookup(name);
    if (v.kind === 'value') return v.value;
    if (v.kind === 'undeclared' && PLATFORM_ARGS.has(name)) {
      throw bad(line, `"${word}" uses $${name}, which BuildKit sets from the build's platform; pass --platform os/arch (the platform the image was built for)`);
    }
    if (v.kind === 'undeclared') {
      throw bad(line, `"${word}" uses $${name}, which no ARG before the first FROM declares (docker build would put an empty string there); declare it with ARG ${name}=<value> before the first FROM`);
    }
    return undefined;
  };
  const variable = (): string => {
    i++; // '$'
    if (peek() === '{') {
      i++;
      let name = '';
      while (i < word.length && NAME_CHAR.test(word[i]) && (name || NAME_START.test(word[i]))) name += word[i++];
      if (!name) throw bad(line, `"${word}": "\${" must be followed by a variable name`);
      if (i >= word.length) throw bad(line, `"\${" without its closing "}" in "${word}"`);
      if (peek() === '}') {
        i++;
        const v = valueOf(name);
        if (v === undefined) throw bad(line, `"${word}" uses $${name}, which has no default and no --build-arg value; docker build reads the base from the value given at build time: pass the same --build-arg ${name}=<value>`);
        return v;
      }
      const colon = peek() === ':';
      if (colon) i++;
      const op = peek();
      if (op !== '-' && op !== '+' && op !== '?') {
        throw bad(line, `"${word}": the expansion \${${name}${colon ? ':' : ''}${op ?? ''}…} is not supported here; write the base with $${name}, \${${name}:-default} or \${${name}:+alt}`);
      }
      i++;
      const v = valueOf(name);
      const set = v !== undefined && (!colon || v !== '');
      // The word is read (and its variables checked) only where the shell would use it.
      const skip = () => {
        let depth = 0;
        while (i < word.length) {
          const c = word[i];
          if (c === escape) { i += 2; continue; }
          if (c === '{') depth++;
          if (c === '}') { if (depth === 0) return; depth--; }
          i++;
        }
        throw bad(line, `"\${" without its closing "}" in "${word}"`);
      };
      let out: string;
      if (op === '-') {
        if (set) { skip(); out = v; } else out = read('}', false);
      } else if (op === '+') {
        if (set) out = read('}', false); else { skip(); out = ''; }
      } else {
        if (set) { skip(); out = v; } else {
          const msg = read('}', false);
          throw bad(line, `"${word}": ${name} is not set${msg ? ` (${msg})` : ''}; pass --build-arg ${name}=<value>`);
        }
      }
      if (word[i] !== '}') throw bad(line, `"\${" without its closing "}" in "${word}"`);
      i++;
      return out;
    }
    if (i < word.length && NAME_START.test(word[i])) {
      let name = '';
      while (i < word.length && NAME_CHAR.test(word[i])) name += word[i++];
      const v = valueOf(name);
      if (v === undefined) throw bad(line, `"${word}" uses $${name}, which has no default and no --build-arg value; docker build reads the base from the value given at build time: pass the same --build-arg ${name}=<value>`);
      return v;
    }
    return '$'; // a lone `$` is literal
  };
  return read(undefined, false);
}

/** Splits instruction arguments into words at unquoted, unescaped white space (quotes kept). */
function splitWords(text: string, escape: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === escape && quote !== "'" && i + 1 < text.length) { cur += c + text[++i]; continue; }
    if (quote) { if (c === quote) quote = undefined; cur += c; continue; }
    if (c === "'" || c === '"') { quote = c; cur += c; continue; }
    if (/\s/.test(c)) { if (cur) words.push(cur); cur = ''; continue; }
    cur += c;
  }
  if (cur) words.push(cur);
  return words;
}

/** The automatic platform ARGs BuildKit defines for `os/arch[/variant]` (build platform taken as the target's). */
function platformArgs(platform: string): Record<string, string> {
  const [os = '', arch = '', variant = ''] = platform.split('/');
  const out: Record<string, string> = {};
  for (const p of ['TARGET', 'BUILD']) {
    out[`${p}PLATFORM`] = platform;
    out[`${p}OS`] = os;
    out[`${p}ARCH`] = arch;
    out[`${p}VARIANT`] = variant;
  }
  return out;
}

interface Stage {
  index: number;
  name?: string;
  /** The expanded base word (an image reference, `scratch`, or an earlier stage's name). */
  base: string;
  platform?: string;
  line: number;
  keywords: string[];
}

/**
 * Resolves the base image of a Dockerfile's final stage (see the module comment for the rules).
 * @param text the Dockerfile.
 * @returns the base, the stage chain leading to it, and `latest` / `untagged` flags.
 * @throws PushgateError BAD_ARGUMENT (with the line) when the file has no FROM, when the base depends
 *   on a value the scan was not given, or when the build could read it two ways.
 */
export function resolveDockerfileBase(text: string, opts: ResolveOptions = {}): DockerfileBase {
  const ast = load('dockerfile-ast') as typeof DockerfileAst;
  const d = ast.DockerfileParser.parse(text);
  const escape = d.getEscapeCharacter();
  const instructions = d.getInstructions();
  const firstFrom = instructions.findIndex((ins) => ins.getKeyword().toUpperCase() === 'FROM');
  if (firstFrom < 0) throw new PushgateError('BAD_ARGUMENT', 'the Dockerfile has no FROM instruction');

  // Global ARGs, in order; each default sees the ones declared before it.
  const auto = opts.platform ? platformArgs(opts.platform) : {};
  const globals = new Map<string, string | undefined>();
  const lookup: Lookup = (name) => {
    if (globals.has(name)) {
      const v = globals.get(name);
      return v === undefined ? { kind: 'unset' } : { kind: 'value', value: v };
    }
    if (name in auto) return { kind: 'value', value: auto[name] };
    return { kind: 'undeclared' };
  };
  const given = opts.buildArgs ?? {};
  for (const ins of instructions.slice(0, firstFrom)) {
    const line = ins.getRange().start.line + 1;
    const kw = ins.getKeyword().toUpperCase();
    if (kw !== 'ARG') throw bad(line, `${kw} before the first FROM; only ARG may come before it`);
    const words = splitWords(ins.getArgumentsContent() ?? '', escape);
    if (!words.length) throw bad(line, 'ARG without a name');
    for (const w of words) {
      const eq = w.indexOf('=');
      const name = eq < 0 ? w : w.slice(0, eq);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw bad(line, `ARG "${w}": "${name}" is not a variable name`);
      if (Object.prototype.hasOwnProperty.call(given, name)) globals.set(name, given[name]);
      else globals.set(name, eq < 0 ? (name in auto ? auto[name] : undefined) : expandWord(w.slice(eq + 1), lookup, escape, line));
    }
  }

  // Stages: FROM [--platform=p] image [AS name], and the keywords of the instructions after it.
  const stages: Stage[] = [];
  for (const ins of instructions.slice(firstFrom)) {
    const line = ins.getRange().start.line + 1;
    const kw = ins.getKeyword().toUpperCase();
    if (kw !== 'FROM') {
      stages[stages.length - 1].keywords.push(kw);
      continue;
    }
    const from = ins as DockerfileAst.From;
    let platform: string | undefined;
    for (const f of from.getFlags()) {
      if (f.getName().toLowerCase() !== 'platform') throw bad(line, `FROM --${f.getName()}: FROM takes only --platform`);
      const v = f.getValue();
      if (v === null || v === '') throw bad(line, 'FROM --platform needs a value (--platform=os/arch)');
      platform = expandWord(v, lookup, escape, line);
    }
    const words = splitWords(from.getArgumentsContent() ?? '', escape);
    let name: string | undefined;
    if (words.length === 3 && words[1].toLowerCase() === 'as') name = words[2].toLowerCase();
    else if (words.length !== 1) throw bad(line, `FROM ${words.join(' ')}: write FROM [--platform=…] <image> [AS <name>]`);
    if (name !== undefined) {
      if (!/^[a-z][a-z0-9-_.]*$/.test(name)) throw bad(line, `stage name "${words[2]}" is not valid (a letter, then letters, digits, - _ .)`);
      if (name === 'scratch' || name === 'context') throw bad(line, `"${name}" is reserved and cannot name a stage`);
      if (stages.some((s) => s.name === name)) throw bad(line, `stage name "${name}" is used twice; docker build refuses the file`);
    }
    const base = expandWord(words[0], lookup, escape, line);
    if (!base) throw bad(line, `FROM ${words[0]} is empty after substitution`);
    stages.push({ index: stages.length, name, base, platform, line, keywords: [] });
  }

  let final = stages[stages.length - 1];
  if (opts.target !== undefined) {
    const t = opts.target.toLowerCase();
    const found = stages.find((s) => s.name === t) ?? (/^\d+$/.test(t) ? stages[Number(t)] : undefined);
    if (!found) throw new PushgateError('BAD_ARGUMENT', `--target ${opts.target}: no such stage (stages: ${stages.map((s) => s.name ?? String(s.index)).join(', ')})`);
    final = found;
  }

  // Follow FROM <stage> back to the FROM that names an image.
  const chain: Stage[] = [final];
  for (let s = final; ;) {
    const key = s.base.toLowerCase();
    const named = stages.find((x) => x.name === key);
    // `FROM debian AS debian` names the image: a stage is not its own base.
    if (!named || named.index === s.index) break;
    if (named.index > s.index) {
      throw bad(s.line, `FROM ${s.base} names stage "${named.name}", defined later, at line ${named.line}; the classic builder would pull an image called "${s.base}" where BuildKit uses the stage, so the base is ambiguous: define the stage first or rename it`);
    }
    chain.unshift(named);
    s = named;
  }
  const root = chain[0];
  const keywords = chain.flatMap((s) => s.keywords);
  const links = chain.map((s) => ({ ...(s.name ? { name: s.name } : {}), index: s.index, line: s.line }));
  if (root.base.toLowerCase() === 'scratch') {
    return { reference: 'scratch', scratch: true, explicitRegistry: false, ...(root.platform ? { platform: root.platform } : {}), line: root.line, stages: links, keywords, flags: [] };
  }
  let ref: ImageRef;
  try {
    ref = parseImageRef(root.base, { defaultTag: null });
  } catch (e) {
    throw bad(root.line, `FROM ${root.base}: ${(e as Error).message}`);
  }
  const slash = root.base.indexOf('/');
  const first = slash < 0 ? '' : root.base.slice(0, slash);
  const explicitRegistry = first.includes('.') || first.includes(':') || first === 'localhost' || (first !== '' && first !== first.toLowerCase());
  const flags: BaseFlag[] = [];
  if (!ref.digest && ref.tag === 'latest') {
    flags.push({ kind: 'latest', message: `line ${root.line}: FROM ${root.base} builds on "latest", which moves without notice; name a version tag (and pin its digest) so rebuilds are repeatable` });
  } else if (!ref.digest && !ref.tag) {
    flags.push({ kind: 'untagged', message: `line ${root.line}: FROM ${root.base} has no tag, so docker build uses "latest", which moves without notice; name a version tag (and pin its digest)` });
  }
  return { reference: root.base, scratch: false, ref, explicitRegistry, ...(root.platform ? { platform: root.platform } : {}), line: root.line, stages: links, keywords, flags };
}

/**
 * Parses `--build-arg` values as docker build does: `NAME=value` (the value may contain `=`), or
 * `NAME` alone for the value of the environment variable NAME.
 * @throws PushgateError BAD_ARGUMENT for an empty or malformed name, or `NAME` alone with no such
 *   environment variable.
 */
export function parseBuildArgs(list: readonly string[], env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new PushgateError('BAD_ARGUMENT', `--build-arg ${item}: "${name}" is not a variable name; write --build-arg NAME=value`);
    if (eq >= 0) out[name] = item.slice(eq + 1);
    else {
      const v = env[name];
      if (v === undefined) throw new PushgateError('BAD_ARGUMENT', `--build-arg ${name}: no value given and no environment variable ${name}; write --build-arg ${name}=value`);
      out[name] = v;
    }
  }
  return out;
}

/** The base as detection found it (annotations, provenance, catalog chain match, history). */
export interface DetectedBase {
  /** Reference of the detected base (`registry/repository[:tag]`), if known. */
  reference?: string;
  /** Manifest digest of the detected base, if known. */
  digest?: string;
  /** How it was found, for the message (e.g. `chain match`). */
  method?: string;
}

function repoKey(ref: ImageRef): string {
  return ref.registry === 'docker.io' && ref.repository.startsWith('library/') ? ref.repository.slice('library/'.length) : ref.repository;
}

/**
 * Warnings for a Dockerfile base that disagrees with the base detected in the image: another
 * repository (the registry is compared only when the Dockerfile names one: `FROM lab/debian:12` is
 * Docker Hub's name, often served by a mirror), another tag, a pinned digest the image's base layers
 * are not, or `FROM scratch` while the image's layers match a base.
 * @returns one sentence per disagreement; empty when they agree or nothing was detected.
 */
export function compareDockerfileBase(df: DockerfileBase, detected: DetectedBase | undefined): string[] {
  if (!detected || (!detected.reference && !detected.digest)) return [];
  const by = detected.method ? ` (found by ${detected.method})` : '';
  const seen = `${detected.reference ?? ''}${detected.digest ? `@${detected.digest}` : ''}`;
  const where = `the Dockerfile's base (line ${df.line})`;
  if (df.scratch) return [`${where} is scratch, but the image's first layers are those of ${seen}${by}; the image was not built from this Dockerfile`];
  const ref = df.ref as ImageRef;
  const out: string[] = [];
  let dref: ImageRef | undefined;
  if (detected.reference) {
    try {
      dref = parseImageRef(detected.reference, { defaultTag: null });
    } catch {
      dref = undefined;
    }
  }
  if (dref) {
    const sameRepo = repoKey(ref) === repoKey(dref) && (!df.explicitRegistry || ref.registry === dref.registry);
    if (!sameRepo) out.push(`${where} is ${df.reference}, but the image is built on ${seen}${by}; the image was not built from this Dockerfile, or the Dockerfile changed since`);
    else if (ref.tag && dref.tag && ref.tag !== dref.tag && !ref.digest) out.push(`${where} is ${df.reference}, but the image's base layers are ${seen}${by}, another tag of the same repository; rebuild to pick up ${df.reference}`);
  } else if (detected.reference) {
    out.push(`${where} is ${df.reference}; the detected base "${detected.reference}"${by} is not an image reference, so they cannot be compared`);
  }
  if (ref.digest && detected.digest && ref.digest !== detected.digest) {
    out.push(`${where} pins ${ref.digest}, but the image's base layers are those of ${seen}${by}; the image was not built from this Dockerfile's base`);
  }
  return out;
}
