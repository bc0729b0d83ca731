/**
 * lang/cargo-lock: Rust `Cargo.lock` files (TOML: one `[[package]]` table per crate with `name`,
 * `version`, `source`; format versions 1 to 4). Every package is listed, workspace members too (they
 * have no `source`), as trivy's parser does (pkg/dependency/parser/rust/cargo). The TOML subset a
 * lock file uses (tables, arrays of tables, quoted strings) is read line by line.
 * purl `pkg:cargo/NAME@VERSION`, OSV ecosystem crates.io.
 */
import type { Analyzer, FoundPackage } from './types.js';
import { formatPurl } from '../purl.js';

/** Parses a Cargo.lock's text. */
export function parseCargoLock(text: string, path: string): FoundPackage[] {
  const out: FoundPackage[] = [];
  const seen = new Set<string>();
  let cur: Record<string, string> | undefined;
  const flush = () => {
    if (cur?.name && cur.version && !seen.has(`${cur.name}@${cur.version}`)) {
      seen.add(`${cur.name}@${cur.version}`);
      out.push({ ecosystem: 'crates.io', name: cur.name, version: cur.version, path, purl: formatPurl({ type: 'cargo', name: cur.name, version: cur.version }) });
    }
    cur = undefined;
  };
  for (const raw of text.split(/\r?\n/)) {
    const l = raw.trim();
    if (l.startsWith('[')) {
      flush();
      if (l === '[[package]]') cur = {};
      continue;
    }
    if (!cur) continue;
    const m = /^([A-Za-z_-]+)\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(l);
    if (m) cur[m[1]] = m[2];
  }
  flush();
  return out;
}

/** The analyzer. */
export const cargoLockAnalyzer: Analyzer = {
  name: 'lang/cargo-lock',
  version: 1,
  maxSize: 16 * 1024 * 1024,
  sizeClass: 'lockfile',
  wants: (e) => e.path.endsWith('/Cargo.lock'),
  names: { baseNames: ['Cargo.lock'] },
  analyze(input) {
    const packages = parseCargoLock(input.content.toString('utf8'), input.path);
    return packages.length ? { packages } : undefined;
  },
};
