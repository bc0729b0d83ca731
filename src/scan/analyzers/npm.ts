/**
 * lang/npm: installed npm packages, one per `node_modules/NAME/package.json` (or
 * `node_modules/@scope/NAME/package.json`), and Debian's `/usr/share/nodejs/NAME/package.json`
 * (owned by dpkg, so `ownedBy` is set later). A package.json without a version is skipped.
 *
 * Node resolves `require('x')` by the folder `node_modules/x`, never by the `name` inside its package.json,
 * so the folder name is what runs. A package.json whose `name` is missing or differs from its folder is
 * reported under the folder name too (and a note says so): an npm alias (`"zip": "npm:adm-zip@0.4.7"`)
 * installs adm-zip in `node_modules/zip`, and a renamed package.json must not hide adm-zip in
 * `node_modules/adm-zip` from the advisories of adm-zip.
 */
import type { Diagnostic } from '../../core/index.js';
import type { Analyzer, AnalyzerOutput, FoundPackage } from './types.js';
import { npmPurl } from '../purl.js';

const INSTALLED = /\/node_modules\/(?:@[^/]+\/)?[^/@.][^/]*\/package\.json$/;
const DEBIAN = /^\/usr\/(?:share|lib)\/nodejs\/(?:@[^/]+\/)?[^/]+\/package\.json$/;

/**
 * Parses one installed package.json.
 * @returns the package under its `name`, or undefined when there is no version (or, outside
 *   node_modules, no name).
 */
export function parseInstalledPackageJson(text: string, path: string): FoundPackage | undefined {
  const j = JSON.parse(text) as { name?: unknown; version?: unknown };
  if (typeof j.name !== 'string' || typeof j.version !== 'string' || !j.name || !j.version) return undefined;
  return { ecosystem: 'npm', name: j.name, version: j.version, path, purl: npmPurl(j.name, j.version) };
}

/** The name Node resolves a `node_modules/NAME/package.json` by (`@scope/name` for scoped folders). */
export function folderName(path: string): string | undefined {
  const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/package\.json$/.exec(path);
  return m?.[1];
}

/** Every package an installed package.json stands for (see the module comment), with a note when the names differ. */
function installed(text: string, path: string): AnalyzerOutput | undefined {
  const j = JSON.parse(text) as { name?: unknown; version?: unknown };
  if (typeof j.version !== 'string' || !j.version) return undefined;
  const declared = typeof j.name === 'string' && j.name ? j.name : undefined;
  const folder = folderName(path);
  const names = [...new Set([declared, folder].filter((n): n is string => !!n))];
  if (!names.length) return undefined;
  const packages = names.map((name) => ({ ecosystem: 'npm', name, version: j.version as string, path, purl: npmPurl(name, j.version as string) }));
  const diagnostics: Diagnostic[] =
    folder && declared !== folder
      ? [{ code: 'npm-name-mismatch', path, message: `package.json names ${declared ? `"${declared}"` : 'no package'} in the folder of "${folder}", which is what require() loads: reported under both names` }]
      : [];
  return { packages, ...(diagnostics.length ? { diagnostics } : {}) };
}

/** The analyzer. */
export const npmAnalyzer: Analyzer = {
  name: 'lang/npm',
  version: 2,
  maxSize: 4 * 1024 * 1024,
  wants: (e) => e.path.endsWith('/package.json') && (INSTALLED.test(e.path) || DEBIAN.test(e.path)),
  analyze(input) {
    const text = input.content.toString('utf8');
    if (INSTALLED.test(input.path)) return installed(text, input.path);
    const p = parseInstalledPackageJson(text, input.path);
    return p ? { packages: [p] } : undefined;
  },
};
