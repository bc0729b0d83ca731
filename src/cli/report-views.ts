/**
 * Two views of a scan report from `docker scan`: `--group-issues` (one entry per vulnerability,
 * listing every package and path it affects) and `--dependency-tree` (the packages before the
 * findings). pushgate's analyzers keep no dependency relations (dpkg `Depends`, package-lock
 * `dependencies`), so the tree is the image's structure instead: layer → file the packages were read
 * from → packages, and the view says so.
 */
import { severityRank, type Finding, type ScanReport, type Severity } from '../core/index.js';
import type { ImageScan } from '../scan/engine.js';
import { columnWidths, rowLines } from './table.js';

/** One vulnerability and everything it affects (`--group-issues`). */
export interface IssueGroup {
  id: string;
  aliases: string[];
  /** The highest severity among its findings. */
  severity: Severity;
  summary?: string;
  /** Fixed versions named by any of its findings. */
  fixedVersions: string[];
  affects: Array<Pick<Finding, 'package' | 'ecosystem' | 'installedVersion' | 'fixedVersions' | 'path' | 'purl' | 'layer' | 'platform'>>;
}

/**
 * Groups findings by vulnerability: findings whose ids or aliases meet (`DEBIAN-CL-CVE-2024-1` and a
 * GHSA record, both aliasing `CVE-2024-1`) are one vulnerability, named by the lowest of their
 * primary ids. Most severe first, then by id; each group's `affects` in package, then path order.
 */
export function groupIssues(findings: Finding[]): IssueGroup[] {
  // union-find over findings, joined by every id they carry (ids compare case-insensitively)
  const parent = findings.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const owner = new Map<string, number>();
  findings.forEach((f, i) => {
    for (const id of [f.id, ...f.aliases]) {
      const k = id.trim().toUpperCase();
      const j = owner.get(k);
      if (j === undefined) owner.set(k, i);
      else parent[find(i)] = find(j);
    }
  });
  const members = new Map<number, Finding[]>();
  findings.forEach((f, i) => {
    const r = find(i);
    const list = members.get(r);
    if (list) list.push(f);
    else members.set(r, [f]);
  });
  const out: IssueGroup[] = [];
  for (const fs of members.values()) {
    const id = fs.map((f) => f.id).sort()[0];
    const g: IssueGroup = { id, aliases: [], severity: fs[0].severity, fixedVersions: [], affects: [] };
    for (const f of fs) {
      if (severityRank(f.severity) > severityRank(g.severity)) g.severity = f.severity;
      for (const a of [f.id, ...f.aliases]) if (a !== id && !g.aliases.includes(a)) g.aliases.push(a);
      for (const v of f.fixedVersions) if (!g.fixedVersions.includes(v)) g.fixedVersions.push(v);
      if (!g.summary && f.summary) g.summary = f.summary;
      g.affects.push({
        package: f.package, ecosystem: f.ecosystem, installedVersion: f.installedVersion, fixedVersions: f.fixedVersions, path: f.path,
        ...(f.purl ? { purl: f.purl } : {}), ...(f.layer ? { layer: f.layer } : {}), ...(f.platform ? { platform: f.platform } : {}),
      });
    }
    g.aliases.sort();
    g.affects.sort((a, b) => a.package.localeCompare(b.package) || a.path.localeCompare(b.path) || (a.platform ?? '').localeCompare(b.platform ?? ''));
    out.push(g);
  }
  return out.sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || a.id.localeCompare(b.id));
}

/** Table lines for {@link groupIssues}: a header, then per vulnerability one line and one per affected package. */
export function renderIssueGroups(groups: IssueGroup[]): string[] {
  const head = ['VULNERABILITY', 'SEVERITY', 'AFFECTS'];
  const rows = groups.map((g) => {
    const n = g.affects.length;
    return [g.id, g.severity.toUpperCase(), `${n} package${n === 1 ? '' : 's'}${g.aliases.length ? `  (${g.aliases.join(', ')})` : ''}`];
  });
  const widths = columnWidths([head, ...rows], { min: [24, 10] });
  const out = rowLines(head, widths);
  for (const [i, g] of groups.entries()) {
    out.push(...rowLines(rows[i], widths));
    for (const a of g.affects) {
      out.push(`    ${a.package} ${a.installedVersion} → ${a.fixedVersions.join(', ') || 'no fix'}  ${a.path}${a.platform ? `  [${a.platform}]` : ''}`);
    }
  }
  return out;
}

/** Why the tree has no dependency edges. */
export const TREE_NOTE = 'pushgate keeps no dependency relations (dpkg Depends, package-lock dependencies): packages are grouped by the layer that last wrote them and the file they were read from';

/** The `--dependency-tree` view: per platform, its layers (lowest first) → files → packages. */
export interface DependencyTree {
  note: string;
  platforms: Array<{
    platform: string;
    layers: Array<{
      /** 1-based layer position; 0 for packages without a layer (a directory or SBOM scan). */
      index: number;
      digest?: string;
      diffID?: string;
      /** True when `--exclude-base` attributed the layer to the base image. */
      base?: boolean;
      files: Array<{ path: string; analyzer: string; packages: Array<{ name: string; version: string; ecosystem: string; purl?: string }> }>;
    }>;
  }>;
}

/**
 * Builds the tree from the scan's layers and the report's packages. `baseLayers` (by diffID or
 * digest, per platform) marks base layers when `--exclude-base` was given.
 */
export function dependencyTree(scan: ImageScan, report: ScanReport, baseLayers?: Map<string, Set<string>>): DependencyTree {
  const platforms: DependencyTree['platforms'] = [];
  const multi = scan.platforms.length > 1;
  for (const p of scan.platforms) {
    const pkgs = report.packages.filter((x) => !multi || x.platform === p.platform);
    const layerIndex = new Map<string, number>();
    p.layers.forEach((l, i) => layerIndex.set(l.diffID ?? l.digest, i + 1));
    const byLayer = new Map<number, Map<string, { analyzer: string; packages: DependencyTree['platforms'][number]['layers'][number]['files'][number]['packages'] }>>();
    for (const x of pkgs) {
      const i = x.layer ? layerIndex.get(x.layer) ?? 0 : 0;
      let files = byLayer.get(i);
      if (!files) byLayer.set(i, (files = new Map()));
      let f = files.get(x.path);
      if (!f) files.set(x.path, (f = { analyzer: x.analyzer, packages: [] }));
      f.packages.push({ name: x.name, version: x.version, ecosystem: x.ecosystem, ...(x.purl ? { purl: x.purl } : {}) });
    }
    const base = baseLayers?.get(p.platform);
    const layers = [...byLayer.entries()].sort((a, b) => a[0] - b[0]).map(([index, files]) => {
      const l = index > 0 ? p.layers[index - 1] : undefined;
      return {
        index,
        ...(l ? { digest: l.digest, ...(l.diffID ? { diffID: l.diffID } : {}) } : {}),
        ...(l && base ? { base: base.has(l.diffID ?? l.digest) } : {}),
        files: [...files.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([path, f]) => ({
          path, analyzer: f.analyzer, packages: f.packages.sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version)),
        })),
      };
    });
    platforms.push({ platform: p.platform, layers });
  }
  return { note: TREE_NOTE, platforms };
}

/** Table lines for a {@link DependencyTree}, drawn with box characters. */
export function renderDependencyTree(t: DependencyTree): string[] {
  const out = ['DEPENDENCY TREE', `  (${t.note})`];
  for (const p of t.platforms) {
    if (t.platforms.length > 1) out.push(`${p.platform}`);
    for (const l of p.layers) {
      out.push(l.index ? `layer ${l.index} ${l.diffID ?? l.digest}${l.base ? '  [base image]' : ''}` : '(no layer)');
      for (const f of l.files) {
        out.push(`  ${f.path}  (${f.analyzer}, ${f.packages.length} package${f.packages.length === 1 ? '' : 's'})`);
        f.packages.forEach((x, i) => out.push(`    ${i === f.packages.length - 1 ? '└─' : '├─'} ${x.name} ${x.version}`));
      }
    }
  }
  return out;
}
