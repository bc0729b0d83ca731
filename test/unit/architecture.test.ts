/**
 * Dependency direction is a test (STYLE.md habit 9; DESIGN.md §2): each module imports only the
 * modules the table allows, and the libraries that shape the architecture have one home.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/lab.js';

const SRC = path.join(ROOT, 'src');

/** module → modules it may import (besides itself). */
const ALLOWED: Record<string, string[]> = {
  core: [],
  config: ['core'],
  registry: ['core'],
  webhooks: ['core'],
  scan: ['core'],
  vulndb: ['core', 'config'],
  policy: ['core', 'config'],
  enforce: ['core', 'registry'],
  store: ['core'],
  base: ['core', 'config', 'scan', 'store'],
  metrics: ['core', 'gate'],
  gate: ['core', 'config', 'registry', 'webhooks', 'scan', 'vulndb', 'policy', 'enforce', 'store', 'base', 'trust', 'publish'],
  publish: ['core', 'registry', 'trust'],
  trust: ['core', 'registry'],
  admission: ['core', 'config', 'policy', 'gate', 'registry', 'trust', 'store'],
  proxy: ['core', 'config', 'registry', 'gate'],
  monitor: ['core', 'config', 'scan', 'vulndb', 'policy', 'store', 'gate'],
  server: ['core', 'config', 'registry', 'webhooks', 'scan', 'vulndb', 'policy', 'enforce', 'store', 'metrics', 'gate', 'admission', 'proxy', 'monitor', 'trust', 'base'],
  cli: ['*'],
};

/** library → modules that may import it. */
const LIBRARY_HOMES: Record<string, string[]> = {
  axios: ['registry'],
  express: ['server'],
  'prom-client': ['metrics'],
  pg: ['store'],
  'better-sqlite3': ['store', 'vulndb', 'scan'],
  '@sigstore/verify': ['trust'],
  '@sigstore/bundle': ['trust'],
  '@sigstore/protobuf-specs': ['trust'],
};

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  // Static imports, dynamic import(), and require() through createRequire (libraries loaded on first use).
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|\brequire\w*\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

describe('architecture: module dependency rules', () => {
  const all = files(SRC);

  it('finds the modules of DESIGN.md §2', () => {
    const mods = new Set(all.map((f) => path.relative(SRC, f).split(path.sep)[0]));
    for (const m of ['core', 'registry', 'scan', 'vulndb', 'policy', 'store', 'gate', 'server', 'cli']) expect(mods.has(m), m).to.equal(true);
  });

  it('each module imports only what the table allows', () => {
    const bad: string[] = [];
    for (const f of all) {
      const mod = path.relative(SRC, f).split(path.sep)[0];
      const allowed = ALLOWED[mod];
      if (!allowed) continue;
      for (const spec of imports(f)) {
        if (!spec.startsWith('.')) continue;
        const target = path.relative(SRC, path.resolve(path.dirname(f), spec)).split(path.sep)[0];
        if (target === mod || allowed.includes('*') || allowed.includes(target)) continue;
        bad.push(`${path.relative(ROOT, f)} imports ${target} (${spec})`);
      }
    }
    expect(bad).to.deep.equal([]);
  });

  it('the libraries that shape the architecture have one home', () => {
    const bad: string[] = [];
    for (const f of all) {
      const mod = path.relative(SRC, f).split(path.sep)[0];
      for (const spec of imports(f)) {
        const lib = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        const homes = LIBRARY_HOMES[lib];
        if (homes && !homes.includes(mod)) bad.push(`${path.relative(ROOT, f)} imports ${lib}`);
      }
    }
    expect(bad).to.deep.equal([]);
  });
});
