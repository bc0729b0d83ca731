/**
 * lang/npm-pnp: where Yarn's Plug'n'Play runtime loads packages from. `.pnp.cjs` (its data inlined, Yarn's
 * default: `hydrateRuntimeState(JSON.parse('…'), …)`) or `.pnp.data.json` (`pnpEnableInlining: false`)
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
 * but pushgate cannot tell what it names. A `.pnp.cjs` with no inlined data (it reads `.pnp.data.json`,
 * judged by itself) says nothing.
 */
import { posix } from 'node:path';
import type { Diagnostic } from '../../core/index.js';
import type { Analyzer } from './types.js';
import { isInstalledPackageJson } from './npm.js';

/** The files the PnP runtime reads its data from. */
const PNP_FILE = /\/\.pnp\.(?:c?js|data\.json)$/;

/** The references that name the project's own folders, not a package from a registry. */
const LOCAL_REF = /^(?:workspace|link|portal):/;

/** Most diagnostics one file gives (a file of 100,000 odd locations says as much with 100). */
const MAX_DIAGNOSTICS = 100;

/**
 * The JS single-quoted string literal starting at `text[start]` (the quote), decoded; undefined when it
 * does not end. Yarn writes the data so (generatePnpScript `generateStringLiteral`: `\` and `'` escaped, each
 * line ending in a `\` continuation); the other JS escapes are decoded too.
 */
export function jsStringAt(text: string, start: number): string | undefined {
  const q = text[start];
  let out = '';
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === q) return out;
    if (c === '\n' || c === '\r') return undefined;
    if (c !== '\\') { out += c; continue; }
    const d = text[++i];
    if (d === undefined) return undefined;
    if (d === '\n') continue;
    if (d === '\r') { if (text[i + 1] === '\n') i++; continue; }
    if (d === 'n') out += '\n';
    else if (d === 'r') out += '\r';
    else if (d === 't') out += '\t';
    else if (d === 'b') out += '\b';
    else if (d === 'f') out += '\f';
    else if (d === 'v') out += '\v';
    else if (d === '0' && !/[0-9]/.test(text[i + 1] ?? '')) out += '\0';
    else if (d === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) { out += String.fromCharCode(parseInt(text.slice(i + 1, i + 3), 16)); i += 2; }
    else if (d === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) { out += String.fromCharCode(parseInt(text.slice(i + 1, i + 5), 16)); i += 4; }
    else if (d === 'u' && text[i + 1] === '{') {
      const m = /^\{([0-9a-fA-F]{1,6})\}/.exec(text.slice(i + 1, i + 10));
      if (!m) return undefined;
      out += String.fromCodePoint(parseInt(m[1]!, 16));
      i += m[0].length;
    } else out += d;
  }
  return undefined;
}

/** The inlined data of a `.pnp.cjs` (the JSON text), or undefined when it has none. */
function inlinedData(text: string): string | undefined {
  const m = /hydrateRuntimeState\(\s*JSON\.parse\(\s*(['"])/.exec(text);
  if (!m) return undefined;
  return jsStringAt(text, m.index + m[0].length - 1) ?? '';
}

/** The `pnp-location` (and `parse-error`) diagnostics of one PnP file at `path`. */
export function pnpLocationDiagnostics(text: string, path: string): Diagnostic[] {
  const json = path.endsWith('.json') ? text : inlinedData(text);
  if (json === undefined) return [];
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
      // the top-level entry (`[null, [[null, {packageLocation: "./"}]]]`) is the project itself
      if (typeof ref !== 'string') continue;
      if (LOCAL_REF.test(ref.startsWith('virtual:') ? ref.slice(ref.indexOf('#') + 1) : ref)) continue;
      const loc = (info as { packageLocation?: unknown } | null)?.packageLocation;
      if (typeof loc === 'string' && isInstalledPackageJson(posix.normalize(`${base}/${loc}/package.json`))) continue;
      out.push({ code: 'pnp-location', path, incomplete: true, message: `${path} has Yarn's Plug'n'Play runtime load ${JSON.stringify(String(pkg[0]).slice(0, 200))} ${JSON.stringify(ref.slice(0, 200))} from ${JSON.stringify(String(loc).slice(0, 200))}, which is no node_modules/NAME/ folder pushgate reads packages in; not judged` });
      if (out.length >= MAX_DIAGNOSTICS) return out;
    }
  }
  return out;
}

/** The analyzer. */
export const npmPnpAnalyzer: Analyzer = {
  name: 'lang/npm-pnp',
  version: 1,
  maxSize: 256 * 1024 * 1024,
  sizeClass: 'lockfile',
  wants: (e) => PNP_FILE.test(e.path),
  names: { baseNames: ['.pnp.cjs', '.pnp.js', '.pnp.data.json'] },
  analyze(input) {
    const diagnostics = pnpLocationDiagnostics(input.content.toString('utf8'), input.path);
    return diagnostics.length ? { diagnostics } : undefined;
  },
};
