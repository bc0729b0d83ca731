/**
 * lang/npm-pnp: where Yarn's Plug'n'Play runtime loads packages from. `.pnp.cjs` (its data inlined, Yarn's
 * default: `const RAW_RUNTIME_STATE = '…'` parsed by `$$SETUP_STATE`) or `.pnp.data.json` (`pnpEnableInlining: false`)
 * lists, in `packageRegistryData`, for every package and reference a `packageLocation` relative to the
 * project, and the runtime loads the package found there whatever the path looks like: a location
 * `./vendor/minimist/` or `./deps/m.zip/minimist/` (the real Yarn 4 runtime loaded minimist 1.2.5 from
 * both) is no `node_modules/NAME/` directory, so neither lang/npm nor lang/npm-zip, which read installed
 * package.json files by that rule ({@link isInstalledPackageJson}), ever reported it, and the scan was
 * complete without it.
 *
 * A location of a package from a registry (any reference but `workspace:`, `link:` and `portal:`, which
 * name the project's own folders, also behind a `virtual:…#`) that is not such a directory makes the
 * scan incomplete (`pnp-location`). Locations Yarn writes (`.yarn/cache/X.zip/node_modules/NAME/`,
 * `.yarn/unplugged/X/node_modules/NAME/`, `.yarn/__virtual__/…/node_modules/NAME/`) are read already and
 * say nothing. Data that cannot be parsed is incomplete too (`parse-error`): the runtime would not start,
 * but pushgate cannot tell what it names. A `.pnp.cjs` that reads `.pnp.data.json` (judged by itself) says
 * nothing; one whose setup is not one of the forms Yarn writes (a decoy call, a template literal, a
 * second `$$SETUP_STATE`, a `require` of another file; also Yarn 2's object-literal `.pnp.js`) is
 * `parse-error`, incomplete: it is code, and what it loads is not read.
 */
import { posix } from 'node:path';
import type { Diagnostic } from '../../core/index.js';
import type { Analyzer } from './types.js';
import { isInstalledPackageJson } from './npm.js';

/** The files the PnP runtime reads its data from. */
const PNP_FILE = /\/\.pnp\.(?:c?js|data\.json)$/;

/**
 * What `require("./.pnp.data.json")` (Yarn 2 and 3's split setups) loads when there is no such regular file:
 * node tries the name with `.js`, `.json` and `.node` appended, then the folder's `package.json` `main` and
 * `index.*`. Code or data there is what the runtime runs, and pushgate does not read it.
 */
const DATA_STAND_IN = /\/\.pnp\.data\.json(?:\.(?:js|json|node)|\/(?:index\.(?:js|json|node)|package\.json))$/;

/** The references that name the project's own folders, not a package from a registry. */
const LOCAL_REF = /^(?:workspace|link|portal):/;

/** Most diagnostics one file gives (a file of 100,000 odd locations says as much with 100). */
const MAX_DIAGNOSTICS = 100;

/**
 * The JS single-quoted string literal starting at `text[start]` (the quote), decoded; undefined when it
 * does not end. Yarn writes the data so (generatePnpScript `generateStringLiteral`: `\` and `'` escaped, each
 * line ending in a `\` continuation); the other JS escapes are decoded as node decodes them (a `\` before
 * U+2028 or U+2029 is a continuation too). Undefined as well for an escape node refuses or decodes only in
 * sloppy code (legacy octal `\1`, `\01`, `\8`): the data must not depend on a guess.
 */
export function jsStringAt(text: string, start: number): string | undefined {
  return jsStringEnd(text, start)?.value;
}

/** {@link jsStringAt}, with the index just past the closing quote. */
function jsStringEnd(text: string, start: number): { value: string; end: number } | undefined {
  const q = text[start];
  let out = '';
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === q) return { value: out, end: i + 1 };
    if (c === '\n' || c === '\r') return undefined;
    if (c !== '\\') { out += c; continue; }
    const d = text[++i];
    if (d === undefined) return undefined;
    // a line continuation: `\` and a line terminator (U+2028 and U+2029 are line terminators too) are nothing
    if (d === '\n' || d === '\u2028' || d === '\u2029') continue;
    if (d === '\r') { if (text[i + 1] === '\n') i++; continue; }
    // `\1`…`\9` and `\0` before a digit: a legacy octal (or `\8`, `\9`) escape, decoded as a character in
    // sloppy code and a SyntaxError in strict code; which one the file is cannot be told from the literal,
    // and Yarn never writes them
    if (/[1-9]/.test(d) || (d === '0' && /[0-9]/.test(text[i + 1] ?? ''))) return undefined;
    if (d === 'n') out += '\n';
    else if (d === 'r') out += '\r';
    else if (d === 't') out += '\t';
    else if (d === 'b') out += '\b';
    else if (d === 'f') out += '\f';
    else if (d === 'v') out += '\v';
    else if (d === '0' && !/[0-9]/.test(text[i + 1] ?? '')) out += '\0';
    else if (d === 'x') {
      // node refuses a `\x` without two hex digits (SyntaxError): the file is not JavaScript
      if (!/^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) return undefined;
      out += String.fromCharCode(parseInt(text.slice(i + 1, i + 3), 16)); i += 2;
    } else if (d === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) { out += String.fromCharCode(parseInt(text.slice(i + 1, i + 5), 16)); i += 4; }
    else if (d === 'u') {
      const m = /^\{0*([0-9a-fA-F]{1,6})\}/.exec(text.slice(i + 1));
      const cp = m ? parseInt(m[1]!, 16) : NaN;
      // like `\x`, anything else after `\u` (or a code point past U+10FFFF) is a SyntaxError
      if (!m || !(cp <= 0x10ffff)) return undefined;
      out += String.fromCodePoint(cp);
      i += m[0].length;
    } else out += d;
  }
  return undefined;
}

/**
 * The one `$$SETUP_STATE` function Yarn writes into `.pnp.cjs`, whose body says where the data is. Inlined
 * (Yarn 3 and 4, generatePnpScript `generateInlinedSetup`): `const RAW_RUNTIME_STATE = '…';` before it and
 * `hydrateRuntimeState(JSON.parse(RAW_RUNTIME_STATE), …)` in it, or the literal written in the call itself.
 * Split (`pnpEnableInlining: false`, `generateSplitSetup`): `.pnp.data.json` beside it, read with
 * `fs.readFileSync` (Yarn 4), `require("./.pnp.data.json")` (Yarn 3) or `require(dataLocation)` (Yarn 2).
 */
const SETUP_DECL = /function\s+\$\$SETUP_STATE\s*\(\s*hydrateRuntimeState\s*,\s*basePath\s*\)\s*\{/g;
const BASE_PATH = String.raw`\{\s*basePath\s*:\s*basePath\s*\|\|\s*(?:__dirname|path\.dirname\(dataLocation\))\s*\}`;
const CALL_TAIL = new RegExp(String.raw`^\s*\)\s*,\s*${BASE_PATH}\s*\)\s*;?\s*\}`);
const INLINED_HEAD = /^\s*return\s+hydrateRuntimeState\(\s*JSON\.parse\(\s*(?=['"])/;
const RAW_STATE_BODY = new RegExp(String.raw`^\s*return\s+hydrateRuntimeState\(\s*JSON\.parse\(\s*RAW_RUNTIME_STATE\s*\)\s*,\s*${BASE_PATH}\s*\)\s*;?\s*\}`);
const RAW_STATE_DECL = /\b(?:const|let|var)\s+RAW_RUNTIME_STATE\s*=\s*(?=['"])/g;
/** Yarn's split setups, each reading `.pnp.data.json` beside the `.pnp.cjs`. */
const SPLIT_BODIES: RegExp[] = [
  // Yarn 4
  new RegExp(String.raw`^\s*const fs = require\((['"])fs\1\);\s*const path = require\((['"])path\2\);\s*const pnpDataFilepath = path\.resolve\(__dirname,\s*(['"\x60])\.pnp\.data\.json\3\);\s*return hydrateRuntimeState\(JSON\.parse\(fs\.readFileSync\(pnpDataFilepath,\s*(['"\x60])utf8\4\)\),\s*${BASE_PATH}\);?\s*\}`),
  // Yarn 3
  new RegExp(String.raw`^\s*return hydrateRuntimeState\(require\((['"\x60])\./\.pnp\.data\.json\1\),\s*${BASE_PATH}\);?\s*\}`),
  // Yarn 2 (pnpDataPath left at its default)
  new RegExp(String.raw`^\s*const path = require\((['"])path\1\);\s*const dataLocation = path\.resolve\(__dirname,\s*(['"\x60])\.pnp\.data\.json\2\);\s*return hydrateRuntimeState\(require\(dataLocation\),\s*${BASE_PATH}\);?\s*\}`),
];

/**
 * What a `.pnp.cjs` loads its data from: the inlined JSON text, `'file'` (it reads `.pnp.data.json`, judged
 * by itself), or undefined when it is not a setup Yarn writes. The file is JavaScript the runtime runs: a
 * second `$$SETUP_STATE` (the later declaration wins), a decoy call in a comment before the real one, a
 * template literal, a second assignment to `RAW_RUNTIME_STATE` or a `require` of another file all load
 * data pushgate would not have read, so only Yarn's own forms are read and anything else is not judged.
 */
function setupData(text: string): string | 'file' | undefined {
  const decls = [...text.matchAll(SETUP_DECL)];
  if (decls.length !== 1 || /\$\$SETUP_STATE\s*=(?!=)/.test(text)) return undefined;
  const body = text.slice(decls[0]!.index + decls[0]![0].length);
  if (SPLIT_BODIES.some((re) => re.test(body))) return 'file';
  if (RAW_STATE_BODY.test(body)) {
    const raw = [...text.matchAll(RAW_STATE_DECL)];
    // one declaration, assigned nowhere else
    if (raw.length !== 1 || (text.match(/RAW_RUNTIME_STATE\s*=(?!=)/g) ?? []).length !== 1) return undefined;
    const lit = jsStringEnd(text, raw[0]!.index + raw[0]![0].length);
    if (!lit || !/^\s*;/.test(text.slice(lit.end))) return undefined;
    return lit.value;
  }
  const head = INLINED_HEAD.exec(body);
  if (!head) return undefined;
  const lit = jsStringEnd(body, head[0].length);
  if (!lit || !CALL_TAIL.test(body.slice(lit.end))) return undefined;
  return lit.value;
}

/** The `pnp-location` (and `parse-error`) diagnostics of one PnP file at `path`. */
export function pnpLocationDiagnostics(text: string, path: string): Diagnostic[] {
  const json = path.endsWith('.json') ? text : setupData(text);
  if (json === 'file') return [];
  if (json === undefined) {
    return [{ code: 'parse-error', path, incomplete: true, message: `lang/npm-pnp: ${path} is no Plug'n'Play setup Yarn writes (one $$SETUP_STATE reading .pnp.data.json or JSON.parse of an inlined string): where its runtime loads packages from is unknown` }];
  }
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    return [{ code: 'parse-error', path, incomplete: true, message: `lang/npm-pnp: Yarn Plug'n'Play data that cannot be parsed (${err instanceof Error ? err.message : String(err)}): where the runtime loads packages from is unknown` }];
  }
  const registry = (data as { packageRegistryData?: unknown } | null)?.packageRegistryData;
  const out: Diagnostic[] = [];
  if (!Array.isArray(registry)) return out;
  const base = posix.dirname(path);
  for (const pkg of registry) {
    if (!Array.isArray(pkg) || !Array.isArray(pkg[1])) continue;
    for (const refInfo of pkg[1] as unknown[]) {
      if (!Array.isArray(refInfo)) continue;
      const [ref, info] = refInfo as [unknown, unknown];
      // the top-level entry (`[null, [[null, {packageLocation: "./"}]]]`) is the project itself. Any other
      // reference that is no string (Yarn writes none) is judged by its location: the runtime keys its maps by
      // the JSON value, so `["minimist", [[5, …]]]` depended on as `["minimist", 5]` loads like any other
      // (at `./`, the folder of the data: moved elsewhere, an alias `["minimist", [null, null]]` loads it as minimist)
      const loc = (info as { packageLocation?: unknown } | null)?.packageLocation;
      if (pkg[0] === null && ref === null && typeof loc === 'string' && posix.normalize(`${base}/${loc}/`) === posix.normalize(`${base}/`)) continue;
      if (typeof ref === 'string' && LOCAL_REF.test(ref.startsWith('virtual:') ? ref.slice(ref.indexOf('#') + 1) : ref)) continue;
      if (typeof loc === 'string' && isInstalledPackageJson(posix.normalize(`${base}/${loc}/package.json`))) continue;
      out.push({ code: 'pnp-location', path, incomplete: true, message: `${path} has Yarn's Plug'n'Play runtime load ${JSON.stringify(String(pkg[0]).slice(0, 200))} ${typeof ref === 'string' ? JSON.stringify(ref.slice(0, 200)) : String(JSON.stringify(ref ?? null)).slice(0, 200)} from ${JSON.stringify(String(loc).slice(0, 200))}, which is no node_modules/NAME/ folder pushgate reads packages in; not judged` });
      if (out.length >= MAX_DIAGNOSTICS) return out;
    }
  }
  return out;
}

/** The analyzer. */
export const npmPnpAnalyzer: Analyzer = {
  name: 'lang/npm-pnp',
  // 2: only Yarn's own two setups are read; any other .pnp.cjs is incomplete. 3: the literal is decoded as
  // node decodes it (`\` before U+2028/U+2029 is nothing), legacy octal and malformed escapes refused.
  // 4: references that are no string (a number, a boolean, null but for the project's own at `./`) are judged.
  // 5: files require("./.pnp.data.json") loads in its place are incomplete.
  version: 5,
  maxSize: 256 * 1024 * 1024,
  sizeClass: 'lockfile',
  wants: (e) => PNP_FILE.test(e.path) || DATA_STAND_IN.test(e.path),
  names: { baseNames: ['.pnp.cjs', '.pnp.js', '.pnp.data.json', '.pnp.data.json.js', '.pnp.data.json.json', '.pnp.data.json.node', 'index.js', 'index.json', 'index.node', 'package.json'] },
  analyze(input) {
    if (DATA_STAND_IN.test(input.path)) {
      return { diagnostics: [{ code: 'parse-error', path: input.path, incomplete: true, message: `lang/npm-pnp: ${input.path} is what require("./.pnp.data.json") in a Yarn 2/3 .pnp.cjs loads when .pnp.data.json is no file: where the runtime loads packages from is unknown; remove it` }] };
    }
    const diagnostics = pnpLocationDiagnostics(input.content.toString('utf8'), input.path);
    return diagnostics.length ? { diagnostics } : undefined;
  },
};
