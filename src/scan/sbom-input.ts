/**
 * SBOMs as scan input (`pushgate scan sbom:FILE`, as `trivy sbom FILE` and `grype sbom:FILE` take them):
 * a CycloneDX JSON BOM (https://cyclonedx.org/docs/1.6/json/, any 1.x: `components[]` and nested
 * `components`; `metadata.component` is the subject, not a package) or an SPDX 2.x JSON document (SPDX 2.3 §7.21 external references:
 * `externalRefs[]` with `referenceCategory` PACKAGE-MANAGER and `referenceType` purl) becomes an
 * inventory that the same matcher and policy judge as an image's.
 *
 * The package URL decides ecosystem, name and version (purl-spec PURL-TYPES; parsed with packageurl-js);
 * the component's own name/version fields are never read for matching. OS packages (`deb`, `apk`, `rpm`)
 * need their distribution release: the purl qualifier `distro` (`debian-12`, `alpine-3.19.1`, as syft
 * and trivy write it), else the SBOM's operating-system component (CycloneDX `type: operating-system`,
 * SPDX `primaryPackagePurpose: OPERATING-SYSTEM`). An OS package whose release is unknown, or differs
 * from the one the SBOM's other OS packages name, is listed as a diagnostic (incomplete) and not
 * matched: matching it against the advisories of a guessed release would be a guess. When the SBOM names
 * no release at all, its OS packages are still part of the inventory, as an image's are when it has no
 * os-release: counted, and named `NOT MATCHED` in coverage (the OS release is unknown), while only
 * advisories that name no release could apply to them (OSV's OS ecosystems name one). The source package
 * comes from the `upstream` qualifier (`glibc` or `glibc@2.36-9`, purl-spec deb/apk/rpm), trivy's
 * `aquasecurity:trivy:SrcName`/`SrcVersion` properties or pushgate's own `pushgate:sourceName`/
 * `pushgate:sourceVersion` (its `--format cyclonedx`); deb/rpm `epoch` qualifiers are prefixed.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { PackageURL } from 'packageurl-js';
import type * as Purl from 'packageurl-js';
import { familyOf, PushgateError, type Diagnostic, type OsInfo, type Package } from '../core/index.js';
import type { ImageScan } from './engine.js';

// Loaded on first use (sbom: targets only), not at every CLI start.
const load = createRequire(import.meta.url);

/** Largest SBOM read (bytes): far above real ones (a 2,000-package image's CycloneDX is ~3 MB). */
export const MAX_SBOM_BYTES = 256 * 1024 * 1024;

/** The SBOM formats read. */
export type SbomFormat = 'cyclonedx' | 'spdx';

/** One package reference found in an SBOM, before it is turned into a {@link Package}. */
interface SbomEntry {
  purl?: string;
  /** Display name of the component (messages only). */
  label: string;
  /** Extra facts from format-specific properties. */
  props: Record<string, string>;
}

/** purl type (and, for OS types, namespace) → OSV ecosystem as pushgate's analyzers spell it. */
export const OS_NAMESPACES: Record<string, Record<string, string>> = {
  deb: { debian: 'Debian', ubuntu: 'Ubuntu' },
  apk: { alpine: 'Alpine', wolfi: 'Wolfi', chainguard: 'Chainguard' },
  rpm: {},
};
export const LANG_TYPES: Record<string, string> = {
  npm: 'npm', pypi: 'PyPI', maven: 'Maven', golang: 'Go', cargo: 'crates.io', gem: 'RubyGems', nuget: 'NuGet', composer: 'Packagist',
};
/**
 * Trivy's OS family names (its `distro` qualifier is `<family>-<version>`) that are not the os-release
 * `ID` the OS table knows; syft writes the os-release `ID` itself (`rhel-9.3`, `sles-15.5`).
 */
const TRIVY_FAMILIES: Record<string, string> = {
  redhat: 'rhel', alma: 'almalinux', amazon: 'amzn', oracle: 'ol', 'cbl-mariner': 'mariner',
  'opensuse.leap': 'opensuse-leap', 'opensuse.tumbleweed': 'opensuse-tumbleweed',
  // SLE Micro is `slem` since trivy 0.51; before, SLES and SLE Micro were written out (with spaces)
  slem: 'sle-micro', 'suse linux enterprise server': 'sles', 'suse linux enterprise micro': 'sle-micro',
};

/** The os-release `ID` of an OS family name as an SBOM writes it (an `ID` itself, or one of trivy's names). */
function osId(name: string): string {
  const n = name.trim().toLowerCase();
  return TRIVY_FAMILIES[n] ?? n;
}

/**
 * The OS named by a purl `distro` qualifier: `debian-12` / `debian-12.5` / `alpine-3.19.1` → id and
 * version; a bare codename or version (`bookworm`, `12`) with the purl's namespace as id.
 */
export function parseDistro(distro: string, namespace: string | undefined): OsInfo | undefined {
  const d = distro.trim().toLowerCase();
  // the id as the OS table (src/core/os-table.ts) knows it, so every family an image scan detects is read here too
  const m = /^([a-z][a-z0-9._ -]*?)-(\d[\w.]*)$/.exec(d);
  const id = m ? osId(m[1]) : undefined;
  if (m && id && familyOf(id)?.ids.includes(id)) return { id, versionId: m[2] };
  if (/^\d[\w.]*$/.test(d) && namespace) return { id: namespace.toLowerCase(), versionId: d };
  const codename = DEBIAN_CODENAMES[d];
  if (codename && (!namespace || namespace.toLowerCase() === 'debian')) return { id: 'debian', versionId: codename };
  return undefined;
}

const DEBIAN_CODENAMES: Record<string, string> = { buster: '10', bullseye: '11', bookworm: '12', trixie: '13', forky: '14' };

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function propsOf(list: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(list)) return out;
  for (const p of list as Array<{ name?: unknown; value?: unknown }>) {
    const k = str(p?.name);
    const v = typeof p?.value === 'string' ? p.value : undefined;
    if (k && v !== undefined) out[k] = v;
  }
  return out;
}

/** Which format a parsed document is, or undefined. */
export function sbomFormatOf(doc: unknown): SbomFormat | undefined {
  if (!doc || typeof doc !== 'object') return undefined;
  const d = doc as Record<string, unknown>;
  if (d.bomFormat === 'CycloneDX') return 'cyclonedx';
  if (typeof d.spdxVersion === 'string' && d.spdxVersion.startsWith('SPDX-2.')) return 'spdx';
  return undefined;
}

/**
 * How deep CycloneDX `components` may nest (the top-level list is depth 0) before pushgate stops
 * descending. The walk recurses, so a limit keeps a hostile BOM from exhausting the stack; the
 * components below it are counted and reported as not judged (an incomplete scan), never dropped silently.
 */
export const MAX_SBOM_DEPTH = 64;

/** Components in `list` and everything nested below it, counted without recursion. */
function countComponents(list: unknown, seen: Set<unknown>): number {
  let n = 0;
  const stack: unknown[] = [list];
  while (stack.length) {
    const l = stack.pop();
    if (!Array.isArray(l)) continue;
    for (const c of l as Array<Record<string, unknown>>) {
      if (!c || typeof c !== 'object' || seen.has(c)) continue;
      seen.add(c);
      n++;
      stack.push(c.components);
    }
  }
  return n;
}

/**
 * CycloneDX: every component (nested ones too, down to {@link MAX_SBOM_DEPTH}) with its purl; OS
 * components give the OS. `tooDeep` counts the components nested below the limit, not read.
 */
function cyclonedxEntries(doc: Record<string, unknown>): { entries: SbomEntry[]; os: OsInfo[]; tooDeep: number } {
  const entries: SbomEntry[] = [];
  const os: OsInfo[] = [];
  const seen = new Set<unknown>();
  let tooDeep = 0;
  const walk = (list: unknown, depth: number) => {
    if (!Array.isArray(list)) return;
    if (depth > MAX_SBOM_DEPTH) { tooDeep += countComponents(list, seen); return; }
    for (const c of list as Array<Record<string, unknown>>) {
      if (!c || typeof c !== 'object' || seen.has(c)) continue;
      seen.add(c);
      const name = str(c.name) ?? '(unnamed)';
      if (c.type === 'operating-system') {
        if (str(c.name)) os.push({ id: osId(name), versionId: str(c.version) });
      } else {
        entries.push({ purl: str(c.purl), label: `${str(c.group) ? `${c.group as string}/` : ''}${name}${str(c.version) ? `@${c.version as string}` : ''}`, props: propsOf(c.properties) });
      }
      walk(c.components, depth + 1);
    }
  };
  // metadata.component is the subject the BOM describes (the image or application), not one of its
  // packages: trivy and syft read it the same way.
  walk(doc.components, 0);
  return { entries, os, tooDeep };
}

/** SPDX 2.x: every package with a `purl` external reference (PACKAGE-MANAGER / PACKAGE_MANAGER). */
function spdxEntries(doc: Record<string, unknown>): { entries: SbomEntry[]; os: OsInfo[] } {
  const entries: SbomEntry[] = [];
  const os: OsInfo[] = [];
  for (const p of Array.isArray(doc.packages) ? (doc.packages as Array<Record<string, unknown>>) : []) {
    if (!p || typeof p !== 'object') continue;
    const name = str(p.name) ?? '(unnamed)';
    if (p.primaryPackagePurpose === 'OPERATING-SYSTEM') {
      os.push({ id: name.toLowerCase(), versionId: str(p.versionInfo) });
      continue;
    }
    const refs = Array.isArray(p.externalRefs) ? (p.externalRefs as Array<Record<string, unknown>>) : [];
    const purls = refs
      .filter((r) => r && r.referenceType === 'purl' && /^PACKAGE[-_]MANAGER$/.test(String(r.referenceCategory)))
      .map((r) => str(r.referenceLocator))
      .filter((s): s is string => !!s);
    const label = `${name}${str(p.versionInfo) ? `@${p.versionInfo as string}` : ''}`;
    if (!purls.length) entries.push({ label, props: {} });
    for (const purl of new Set(purls)) entries.push({ purl, label, props: {} });
  }
  return { entries, os };
}

/** The result of reading an SBOM: an inventory plus what could not be judged. */
export interface SbomInventory {
  format: SbomFormat;
  os?: OsInfo;
  packages: Package[];
  diagnostics: Diagnostic[];
}

/**
 * Turns a parsed SBOM document into packages. `where` is the path reported for every package (the
 * SBOM file) unless the component names its own location (trivy `aquasecurity:trivy:FilePath`,
 * CycloneDX npm `cdx:npm:package:path`).
 * @throws PushgateError BAD_ARGUMENT when the document is neither CycloneDX nor SPDX 2.x JSON.
 */
export function sbomInventory(doc: unknown, where: string): SbomInventory {
  const format = sbomFormatOf(doc);
  if (!format) {
    throw new PushgateError('BAD_ARGUMENT', `sbom:${where}: not a CycloneDX JSON BOM ("bomFormat": "CycloneDX") nor an SPDX 2.x JSON document ("spdxVersion": "SPDX-2.x"); SPDX 3, tag-value and XML are not read`);
  }
  const { entries, os: osComponents, tooDeep = 0 } = format === 'cyclonedx' ? cyclonedxEntries(doc as Record<string, unknown>) : { ...spdxEntries(doc as Record<string, unknown>), tooDeep: 0 };
  const diagnostics: Diagnostic[] = [];
  if (tooDeep) {
    diagnostics.push({ code: 'sbom-too-deep', message: `${tooDeep} component(s) are nested more than ${MAX_SBOM_DEPTH} levels deep in components[] and were not read (the depth limit for CycloneDX nesting); flatten the BOM's components`, incomplete: true });
  }
  const noPurl: string[] = [];
  const badPurl: string[] = [];
  const otherTypes = new Map<string, number>();
  const noDistro: string[] = [];
  const conflicting: string[] = [];
  const unreadDistro: string[] = [];
  const packages: Package[] = [];
  // OS packages wait until the release is known: from their own qualifiers, else the OS component.
  const osPackages: Array<{ pkg: Package; os?: OsInfo; label: string }> = [];
  const analyzer = `sbom/${format}`;
  for (const e of entries) {
    if (!e.purl) { noPurl.push(e.label); continue; }
    let p: PackageURL;
    try {
      p = (load('packageurl-js') as typeof Purl).PackageURL.fromString(e.purl);
    } catch (err) {
      badPurl.push(`${e.purl} (${err instanceof Error ? err.message : String(err)})`);
      continue;
    }
    if (!p.version) { badPurl.push(`${e.purl} (no version)`); continue; }
    const q = (p.qualifiers ?? {}) as Record<string, string>;
    const pathOf = e.props['aquasecurity:trivy:FilePath'] || (e.props['cdx:npm:package:path'] ? `/${e.props['cdx:npm:package:path']}` : '') || where;
    if (p.type in OS_NAMESPACES) {
      const eco = p.type === 'rpm' ? 'RPM' : OS_NAMESPACES[p.type][(p.namespace ?? '').toLowerCase()];
      if (!eco) { otherTypes.set(`${p.type}/${p.namespace ?? ''}`, (otherTypes.get(`${p.type}/${p.namespace ?? ''}`) ?? 0) + 1); continue; }
      const epoch = q.epoch && p.type !== 'apk' ? `${q.epoch}:` : '';
      const version = `${epoch}${p.version}`;
      const up = q.upstream ? /^([^@]+)(?:@(.+))?$/.exec(q.upstream) : null;
      const srcName = e.props['aquasecurity:trivy:SrcName'] || e.props['pushgate:sourceName'] || up?.[1];
      const trivySrcVer = e.props['aquasecurity:trivy:SrcVersion']
        ? `${e.props['aquasecurity:trivy:SrcEpoch'] && e.props['aquasecurity:trivy:SrcEpoch'] !== '0' ? `${e.props['aquasecurity:trivy:SrcEpoch']}:` : ''}${e.props['aquasecurity:trivy:SrcVersion']}${e.props['aquasecurity:trivy:SrcRelease'] ? `-${e.props['aquasecurity:trivy:SrcRelease']}` : ''}`
        : undefined;
      const srcVer = trivySrcVer || e.props['pushgate:sourceVersion'] || up?.[2];
      const pkg: Package = {
        ecosystem: eco, name: p.name, version, purl: e.purl, path: pathOf, analyzer,
        ...(srcName ? { sourceName: srcName } : {}), ...(srcVer ? { sourceVersion: srcVer } : {}), ...(q.arch ? { arch: q.arch } : {}),
      };
      const named = q.distro ? parseDistro(q.distro, p.namespace ?? undefined) : undefined;
      // A release named but not read is some release, perhaps not the SBOM's: never matched as the SBOM's.
      if (q.distro && !named) { unreadDistro.push(e.purl); continue; }
      osPackages.push({ pkg, os: named, label: e.purl });
      continue;
    }
    const eco = LANG_TYPES[p.type];
    if (!eco) { otherTypes.set(p.type, (otherTypes.get(p.type) ?? 0) + 1); continue; }
    const ns = p.namespace ?? '';
    const name = !ns ? p.name : p.type === 'maven' ? `${ns}:${p.name}` : `${ns}/${p.name}`;
    packages.push({ ecosystem: eco, name, version: p.version, purl: e.purl, path: pathOf, analyzer });
  }
  // The release: the one the OS packages' qualifiers name (all must agree), else the OS component.
  const named = [...new Set(osPackages.map((o) => o.os && osKey(o.os)).filter((k): k is string => !!k))];
  let os: OsInfo | undefined;
  if (named.length === 1) os = osPackages.find((o) => o.os)!.os;
  else if (named.length === 0 && osComponents.length === 1) os = osComponents[0];
  else if (named.length === 0 && osComponents.length > 1) {
    diagnostics.push({ code: 'sbom-os-ambiguous', message: `the SBOM names ${osComponents.length} operating systems (${osComponents.map(osKey).join(', ')}); OS packages were not matched`, incomplete: true });
  } else if (named.length > 1) {
    // The most common release is the image's; packages naming another are not judged.
    const count = new Map<string, number>();
    for (const o of osPackages) if (o.os) count.set(osKey(o.os), (count.get(osKey(o.os)) ?? 0) + 1);
    const best = [...count.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0][0];
    os = osPackages.find((o) => o.os && osKey(o.os) === best)!.os;
  }
  for (const o of osPackages) {
    // No release anywhere: kept, so the package count and coverage (NOT MATCHED) show them; the matcher,
    // given no OS, holds them to release-less advisories only (src/vulndb/release.ts releaseMatches).
    if (!os) { noDistro.push(o.label); packages.push(o.pkg); continue; }
    if (o.os && osKey(o.os) !== osKey(os)) { conflicting.push(o.label); continue; }
    packages.push(o.pkg);
  }
  const list = (xs: string[]) => `${xs.slice(0, 5).join(', ')}${xs.length > 5 ? `, … (${xs.length} in all)` : ''}`;
  if (noPurl.length) diagnostics.push({ code: 'sbom-no-purl', message: `${noPurl.length} component(s) have no package URL and were not matched: ${list(noPurl)}` });
  if (badPurl.length) diagnostics.push({ code: 'sbom-bad-purl', message: `${badPurl.length} package URL(s) could not be read and were not matched: ${list(badPurl)}`, incomplete: true });
  if (otherTypes.size) diagnostics.push({ code: 'sbom-unsupported-type', message: `package URL types without advisories in pushgate, not matched: ${[...otherTypes.entries()].map(([t, n]) => `${t} (${n})`).join(', ')}` });
  if (noDistro.length) diagnostics.push({ code: 'sbom-no-distro', message: `${noDistro.length} OS package(s) name no distribution release (purl qualifier distro=, or an operating-system component) and were not matched: ${list(noDistro)}`, incomplete: true });
  if (unreadDistro.length) diagnostics.push({ code: 'sbom-distro-unknown', message: `${unreadDistro.length} OS package(s) name a distribution release pushgate does not know (purl qualifier distro=) and were not matched: ${list(unreadDistro)}`, incomplete: true });
  if (conflicting.length) diagnostics.push({ code: 'sbom-os-conflict', message: `${conflicting.length} OS package(s) name a release other than ${osKey(os!)} and were not matched: ${list(conflicting)}`, incomplete: true });
  return { format, os, packages, diagnostics };
}

function osKey(o: OsInfo): string {
  return `${o.id}-${o.versionId ?? ''}`;
}

/**
 * Reads `sbom:FILE` into an {@link ImageScan} of one platform (`unknown`) with no layers, so that
 * `judgeScan` matches and judges it as it judges an image. `digest` is the sha256 of the file.
 * @throws PushgateError NOT_FOUND (no such file), BAD_ARGUMENT (not a regular file, over
 *   {@link MAX_SBOM_BYTES}, not JSON, neither CycloneDX nor SPDX 2.x).
 */
export function scanSbom(target: string): ImageScan {
  const file = target.replace(/^sbom:/, '');
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) throw new PushgateError('NOT_FOUND', `sbom:${file}: no such file`);
  if (!st.isFile()) throw new PushgateError('BAD_ARGUMENT', `sbom:${file}: not a regular file`);
  if (st.size > MAX_SBOM_BYTES) throw new PushgateError('BAD_ARGUMENT', `sbom:${file}: ${st.size} bytes, over the ${MAX_SBOM_BYTES}-byte limit for an SBOM`);
  const bytes = fs.readFileSync(file);
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new PushgateError('BAD_ARGUMENT', `sbom:${file}: not JSON (${e instanceof Error ? e.message : String(e)}); CycloneDX and SPDX are read in their JSON forms`);
  }
  const inv = sbomInventory(doc, path.resolve(file));
  return {
    target,
    digest: `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`,
    mediaType: inv.format === 'cyclonedx' ? 'application/vnd.cyclonedx+json' : 'application/spdx+json',
    platforms: [{ platform: 'unknown', manifestDigest: '', config: {}, layers: [], inventory: { os: inv.os, packages: inv.packages, secrets: [], config: [], diagnostics: inv.diagnostics } }],
    diagnostics: [],
    bytesRead: bytes.length,
  };
}
