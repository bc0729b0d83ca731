/**
 * Applying layer analyses in order to get the final filesystem's inventory: a later layer's entry
 * replaces a lower layer's file at the same path; whiteouts delete a path and everything under it;
 * an opaque directory hides everything lower layers put under it (image-spec layer.md "Whiteouts").
 * Then OS identification, OS-package purls, lock-entry de-duplication and `ownedBy`.
 */
import type { Diagnostic, Digest, Inventory, OsInfo, Package, SecretFinding } from '../core/index.js';
import type { FoundPackage, OsHint } from './analyzers/types.js';
import { debianMajor, osvEcosystem } from './analyzers/os-release.js';
import { formatPurl } from './purl.js';
import type { FileResult, LayerAnalysis } from './walker.js';

interface Placed { r: FileResult; layer?: Digest }

function removeUnder(state: Map<string, Placed[]>, p: string): void {
  const prefix = p === '/' ? '/' : `${p}/`;
  for (const k of state.keys()) if (k === p || k.startsWith(prefix)) state.delete(k);
}

/** The surviving file results after stacking the layers (lowest first). */
export function stackLayers(layers: Array<{ analysis: LayerAnalysis; label?: Digest }>): Placed[] {
  const state = new Map<string, Placed[]>();
  for (const { analysis, label } of layers) {
    for (const d of analysis.opaqueDirs) {
      const prefix = d === '/' ? '/' : `${d}/`;
      for (const k of state.keys()) if (k.startsWith(prefix)) state.delete(k);
    }
    for (const w of analysis.whiteouts) removeUnder(state, w);
    if (state.size) for (const p of analysis.paths) state.delete(p);
    for (const r of analysis.results) {
      const list = state.get(r.path);
      if (list) list.push({ r, layer: label });
      else state.set(r.path, [{ r, layer: label }]);
    }
  }
  return [...state.values()].flat();
}

function resolveOs(hints: OsHint[]): OsInfo | undefined {
  if (!hints.length) return undefined;
  const best = [...hints].sort((a, b) => b.priority - a.priority)[0];
  let versionId = best.versionId;
  // Debian testing/sid os-release has no VERSION_ID; debian_version may still hold a number.
  if (best.id === 'debian' && !versionId) {
    const dv = hints.find((h) => h.priority === 40)?.versionId;
    versionId = debianMajor(dv) ?? undefined;
  }
  return { id: best.id, versionId, prettyName: best.prettyName, ecosystem: osvEcosystem(best.id, versionId) };
}

const DEB_FAMILY: Record<string, { eco: string; ns: string }> = {
  debian: { eco: 'Debian', ns: 'debian' },
  ubuntu: { eco: 'Ubuntu', ns: 'ubuntu' },
};
const RPM_NS: Record<string, { eco: string; ns: string }> = {
  rhel: { eco: 'Red Hat', ns: 'redhat' }, centos: { eco: 'Red Hat', ns: 'centos' }, rocky: { eco: 'Rocky Linux', ns: 'rocky' },
  almalinux: { eco: 'AlmaLinux', ns: 'almalinux' }, fedora: { eco: 'Fedora', ns: 'fedora' }, amzn: { eco: 'Amazon Linux', ns: 'amazon' },
  ol: { eco: 'Oracle Linux', ns: 'oracle' }, sles: { eco: 'SUSE', ns: 'suse' }, 'opensuse-leap': { eco: 'openSUSE', ns: 'opensuse' },
  mariner: { eco: 'Mariner', ns: 'mariner' }, azurelinux: { eco: 'Azure Linux', ns: 'azurelinux' },
};

function fixOsPackage(p: FoundPackage, os: OsInfo | undefined): FoundPackage {
  const distro = os ? `${os.id}-${os.versionId ?? ''}`.replace(/-$/, '') : undefined;
  if (p.purl.startsWith('pkg:deb/')) {
    const fam = DEB_FAMILY[os?.id ?? ''] ?? { eco: p.ecosystem, ns: os?.id ?? 'debian' };
    const epoch = /^(\d+):/.exec(p.version)?.[1];
    return { ...p, ecosystem: fam.eco, purl: formatPurl({ type: 'deb', namespace: fam.ns, name: p.name, version: p.version.replace(/^\d+:/, ''), qualifiers: { arch: p.arch, epoch, distro } }) };
  }
  if (p.purl.startsWith('pkg:apk/')) {
    const ns = os?.id && os.id !== 'alpine' ? os.id : 'alpine';
    const eco = os?.id === 'wolfi' ? 'Wolfi' : os?.id === 'chainguard' ? 'Chainguard' : 'Alpine';
    return { ...p, ecosystem: eco, purl: formatPurl({ type: 'apk', namespace: ns, name: p.name, version: p.version, qualifiers: { arch: p.arch, distro: os?.versionId } }) };
  }
  if (p.purl.startsWith('pkg:rpm/')) {
    const fam = RPM_NS[os?.id ?? ''] ?? { eco: p.ecosystem, ns: os?.id ?? 'redhat' };
    return { ...p, ecosystem: fam.eco, purl: formatPurl({ type: 'rpm', namespace: fam.ns, name: p.name, version: p.version.replace(/^\d+:/, ''), qualifiers: { arch: p.arch, epoch: p.epoch ? String(p.epoch) : undefined, distro } }) };
  }
  return p;
}

const OS_ECOSYSTEMS = new Set(['Debian', 'Ubuntu', 'Alpine', 'Wolfi', 'Chainguard', 'Red Hat', 'Rocky Linux', 'AlmaLinux', 'SUSE', 'openSUSE', 'Fedora', 'Amazon Linux', 'Oracle Linux', 'Mariner', 'Azure Linux', 'RPM']);

/** Builds the final inventory from the stacked results. */
export function buildInventory(placed: Placed[], extraDiagnostics: Diagnostic[]): Inventory {
  const hints: OsHint[] = [];
  const owners = new Map<string, string>();
  for (const { r } of placed) {
    if (r.out.os) hints.push(r.out.os);
    for (const o of r.out.ownedFiles ?? []) for (const f of o.files) owners.set(f, o.owner);
  }
  const os = resolveOs(hints);
  const packages: Package[] = [];
  const installed = new Set<string>();
  const found: Array<{ p: FoundPackage; layer?: Digest; analyzer: string }> = [];
  for (const { r, layer } of placed) {
    for (const p of r.out.packages ?? []) {
      found.push({ p, layer, analyzer: r.analyzer });
      if (!p.installPath && p.path.endsWith('/package.json')) installed.add(`${p.path.slice(0, -'/package.json'.length)}\0${p.name}\0${p.version}`);
    }
  }
  for (const { p, layer, analyzer } of found) {
    if (p.installPath && installed.has(`${p.installPath}\0${p.name}\0${p.version}`)) continue;
    const fixed = OS_ECOSYSTEMS.has(p.ecosystem) ? fixOsPackage(p, os) : p;
    const { installPath: _i, epoch: _e, ...rest } = fixed;
    void _i; void _e;
    const pkg: Package = { ...rest, layer, analyzer };
    if (!OS_ECOSYSTEMS.has(pkg.ecosystem)) {
      const owner = owners.get(pkg.path);
      if (owner) pkg.ownedBy = owner;
    }
    packages.push(pkg);
  }
  const secrets: SecretFinding[] = [];
  const diagnostics: Diagnostic[] = [...extraDiagnostics];
  for (const { r, layer } of placed) {
    for (const s of r.out.secrets ?? []) secrets.push({ ...s, layer });
    for (const d of r.out.diagnostics ?? []) diagnostics.push(d);
  }
  return { os, packages, secrets, config: [], diagnostics };
}
