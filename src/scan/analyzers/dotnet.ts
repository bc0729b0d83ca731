/**
 * lang/dotnet: .NET dependencies from `*.deps.json` (written by the SDK beside a published app;
 * https://github.com/dotnet/sdk/blob/main/documentation/specs/runtime-configuration-file.md):
 * `libraries` maps `NAME/VERSION` to `{type: "package" | "project" | "reference", …}`; only
 * `package` entries are NuGet packages (trivy pkg/dependency/parser/dotnet/core_deps).
 * purl `pkg:nuget/NAME@VERSION`, OSV ecosystem NuGet.
 */
import type { Analyzer, FoundPackage } from './types.js';
import { formatPurl } from '../purl.js';

/**
 * Parses a deps.json.
 * @throws SyntaxError on invalid JSON (a `parse-error` diagnostic).
 */
export function parseDepsJson(text: string, path: string): FoundPackage[] {
  const j = JSON.parse(text.replace(/^\uFEFF/, '')) as { libraries?: Record<string, { type?: string }> };
  const out: FoundPackage[] = [];
  for (const [key, lib] of Object.entries(j.libraries ?? {})) {
    if (lib?.type?.toLowerCase() !== 'package') continue;
    const i = key.lastIndexOf('/');
    if (i <= 0) continue;
    const name = key.slice(0, i);
    const version = key.slice(i + 1);
    out.push({ ecosystem: 'NuGet', name, version, path, purl: formatPurl({ type: 'nuget', name, version }) });
  }
  return out;
}

/** The analyzer. */
export const dotnetAnalyzer: Analyzer = {
  name: 'lang/dotnet',
  version: 1,
  maxSize: 32 * 1024 * 1024,
  sizeClass: 'lockfile',
  wants: (e) => e.path.endsWith('.deps.json'),
  names: { extensions: ['.json'] },
  analyze(input) {
    const packages = parseDepsJson(input.content.toString('utf8'), input.path);
    return packages.length ? { packages } : undefined;
  },
};
