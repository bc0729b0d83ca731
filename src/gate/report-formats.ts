/**
 * Scan report converters shared by the server (`GET /api/v1/images/{digest}?format=`) and the CLI
 * (`pushgate scan --format`): SARIF 2.1.0 through node-sarif-builder (OASIS SARIF v2.1.0, the
 * format GitHub code scanning ingests) and CycloneDX 1.6 JSON (an SBOM with its vulnerabilities)
 * through @cyclonedx/cyclonedx-library. The input is the report of DESIGN.md §3; secrets appear
 * only with their redacted text.
 */
import { createRequire } from 'node:module';
import type * as CycloneDx from '@cyclonedx/cyclonedx-library';
import type * as SarifLib from 'node-sarif-builder';
import { recommendationRef, summaryText, type Finding, type FindingVex, type ScanReport, type Severity } from '../core/index.js';

// Each converter's library is loaded on its first use (both are CommonJS, so `require` keeps the
// converters synchronous): a JSON report, and a CLI run that prints a table, load neither.
const require = createRequire(import.meta.url);
let cdxLib: typeof CycloneDx | undefined;
let sarifLib: typeof SarifLib | undefined;
const cyclonedx = (): typeof CycloneDx => (cdxLib ??= require('@cyclonedx/cyclonedx-library') as typeof CycloneDx);
const sarif = (): typeof SarifLib => (sarifLib ??= require('node-sarif-builder') as typeof SarifLib);

/** Report formats of the API and the CLI (`table` is the CLI's text rendering). */
export const REPORT_FORMATS = ['json', 'sarif', 'cyclonedx'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** Media types of the formats. */
export const REPORT_MEDIA_TYPES: Record<ReportFormat, string> = {
  json: 'application/json',
  sarif: 'application/sarif+json',
  cyclonedx: 'application/vnd.cyclonedx+json; version=1.6',
};

const TOOL = { name: 'pushgate', url: 'https://github.com/pushgate/pushgate' };

function sarifLevel(s: Severity): 'error' | 'warning' | 'note' {
  return s === 'critical' || s === 'high' ? 'error' : s === 'medium' ? 'warning' : 'note';
}

/** GitHub's `security-severity` (a CVSS-like number) for a severity word, when no CVSS score is known. */
const SECURITY_SEVERITY: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '2.0', negligible: '0.5', unknown: '0.0' };

function findingText(f: Finding): string {
  const fix = f.fixedVersions.length ? `fixed in ${f.fixedVersions.join(', ')}` : 'no fixed version yet';
  const kev = f.kev ? ` Known exploited (CISA KEV, ${f.kev.cve}, added ${f.kev.dateAdded}${f.kev.dueDate ? `, due ${f.kev.dueDate}` : ''}).` : '';
  const epss = f.epss ? ` EPSS ${f.epss.score} (percentile ${f.epss.percentile}, ${f.epss.cve}).` : '';
  return `${f.package} ${f.installedVersion} (${f.ecosystem}) is affected by ${f.id}${f.aliases.length ? ` (${f.aliases.slice(0, 3).join(', ')})` : ''}, severity ${f.severity}: ${fix}.${kev}${epss}${f.summary ? ` ${f.summary}` : ''}`;
}

/** CISA's catalog page filtered to one CVE (the catalog has no page per entry). */
const kevUrl = (cve: string) => `https://www.cisa.gov/known-exploited-vulnerabilities-catalog?search_api_fulltext=${encodeURIComponent(cve)}`;

/** A file path inside the image as a relative SARIF URI (`usr/lib/...`). */
function imageUri(p: string): string {
  return p.replace(/^\/+/, '') || '.';
}

/**
 * The report as a SARIF 2.1.0 log: one rule per advisory id, secret rule and config check; one
 * result per finding (level from the severity, `security-severity` from the CVSS score), secret
 * (with its line) and config finding; the verdict in the run's properties. Exploitation data rides in
 * the property bags (SARIF §3.8): a finding's result carries `kev` (CISA KEV entry: cve, dateAdded,
 * dueDate, knownRansomwareCampaignUse) and `epss` (cve, score, percentile, both 0–1) when it has them,
 * and `severitySource`; the rule of a known-exploited advisory is tagged `known-exploited`. The run's
 * properties carry `bases` (the report's, with how each was found and its recommendations); a result
 * carries `origin` (`base` or `app`: whether its package came with the base image).
 */
export function toSarif(r: ScanReport, toolVersion = '0.0.0'): object {
  const { SarifBuilder, SarifResultBuilder, SarifRuleBuilder, SarifRunBuilder } = sarif();
  const run = new SarifRunBuilder().initSimple({ toolDriverName: TOOL.name, toolDriverVersion: toolVersion, url: TOOL.url });
  const rules = new Set<string>();
  const rule = (id: string, text: string, props: Record<string, unknown> = {}) => {
    if (rules.has(id)) return;
    rules.add(id);
    const b = new SarifRuleBuilder().initSimple({ ruleId: id, shortDescriptionText: text.slice(0, 1000) });
    Object.assign(b.rule, { properties: props });
    run.addRule(b);
  };
  for (const f of r.findings) {
    const score = f.cvss ? f.cvss.score.toFixed(1) : SECURITY_SEVERITY[f.severity];
    rule(f.id, f.summary ?? `${f.id} in ${f.package}`, { tags: ['security', 'vulnerability', f.ecosystem, ...(f.kev ? ['known-exploited'] : [])], 'security-severity': score, precision: 'very-high' });
    const res = new SarifResultBuilder().initSimple({ ruleId: f.id, level: sarifLevel(f.severity), messageText: findingText(f), fileUri: imageUri(f.path) });
    Object.assign(res.result, {
      properties: {
        package: f.package, installedVersion: f.installedVersion, fixedVersions: f.fixedVersions, severity: f.severity, aliases: f.aliases,
        ...(f.severitySource ? { severitySource: f.severitySource } : {}), ...(f.kev ? { kev: { ...f.kev } } : {}), ...(f.epss ? { epss: { ...f.epss } } : {}),
        ...(f.purl ? { purl: f.purl } : {}), ...(f.layer ? { layer: f.layer } : {}), ...(f.platform ? { platform: f.platform } : {}),
        ...(f.origin ? { origin: f.origin } : {}),
      },
      // A VEX statement took it out of the policy's view: shown, marked as suppressed (SARIF 2.1.0 §3.35).
      ...(f.vex ? { suppressions: [{ kind: 'external', status: 'accepted', justification: vexText(f.vex) }] } : {}),
    });
    run.addResult(res);
  }
  for (const s of r.secrets) {
    const id = `secret/${s.rule}`;
    rule(id, `secret: ${s.rule}`, { tags: ['security', 'secret'], 'security-severity': '9.0' });
    const res = new SarifResultBuilder().initSimple({ ruleId: id, level: 'error', messageText: `secret (${s.rule}) in ${s.path}: ${s.redacted}`, fileUri: imageUri(s.path), ...(s.line ? { startLine: s.line } : {}) });
    if (s.origin) Object.assign(res.result, { properties: { origin: s.origin } });
    run.addResult(res);
  }
  for (const c of r.config) {
    const id = `config/${c.check}`;
    rule(id, `image configuration: ${c.check}`, { tags: ['configuration'] });
    run.addResult(new SarifResultBuilder().initSimple({ ruleId: id, level: sarifLevel(c.severity as Severity), messageText: c.message, fileUri: imageUri(r.target.replace(/[:@]/g, '_')) }));
  }
  Object.assign(run.run, {
    properties: {
      target: r.target, digest: r.digest, complete: r.complete, decision: r.verdict.decision, policy: r.verdict.policy, reasons: r.verdict.reasons,
      ...(r.bases?.length ? { bases: r.bases } : {}),
    },
  });
  const log = new SarifBuilder();
  log.addRun(run);
  return log.buildSarifOutput() as object;
}

/** OpenVEX justification → CycloneDX `analysis.justification` (CycloneDX's own values pass through). */
const CDX_JUSTIFICATION: Record<string, string> = {
  component_not_present: 'code_not_present',
  vulnerable_code_not_present: 'code_not_present',
  vulnerable_code_not_in_execute_path: 'code_not_reachable',
  inline_mitigations_already_exist: 'protected_by_mitigating_control',
  ...Object.fromEntries(['code_not_present', 'code_not_reachable', 'requires_configuration', 'requires_dependency', 'requires_environment', 'protected_by_compiler', 'protected_at_runtime', 'protected_at_perimeter', 'protected_by_mitigating_control'].map((j) => [j, j])),
};

/** `not_affected (vulnerable_code_not_in_execute_path): impact — VEX FILE#statements[0]` */
function vexText(v: FindingVex): string {
  return `${v.status}${v.justification ? ` (${v.justification})` : ''}${v.impactStatement ? `: ${v.impactStatement}` : ''} — VEX ${v.source}`;
}

function cdxSeverity(Enums: typeof CycloneDx.Enums): Record<Severity, CycloneDx.Enums.Vulnerability.Severity> {
  return {
    critical: Enums.Vulnerability.Severity.Critical,
    high: Enums.Vulnerability.Severity.High,
    medium: Enums.Vulnerability.Severity.Medium,
    low: Enums.Vulnerability.Severity.Low,
    negligible: Enums.Vulnerability.Severity.Info,
    unknown: Enums.Vulnerability.Severity.Unknown,
  };
}

/**
 * The report as a CycloneDX 1.6 JSON BOM: the image as `metadata.component` (type container), one
 * library component per package (bom-ref = purl + path, since one purl may be installed at
 * several paths), one vulnerability per finding affecting its package, with the fixed versions as the
 * recommendation and its ratings: the one its severity was taken from and every other rating known for it
 * (NVD, the OS vendor, other OSV records), each naming its source. CycloneDX has no field
 * for exploitation data: a finding in CISA's KEV catalog gets the catalog as an advisory and
 * `pushgate:kev:*` properties (cve, dateAdded, dueDate, knownRansomwareCampaignUse); its EPSS score the
 * `pushgate:epss:*` properties (cve, score, percentile; a probability, not a severity, so not a rating).
 * The image's base images are `metadata.component.pedigree.ancestors` (CycloneDX 1.6 pedigree: type
 * container, name the repository, version the tag, the manifest digest as a SHA-256 hash, bom-ref
 * `base:<platform>:<digest>`), each with `pushgate:base:*` properties (method, tags, registry, platform,
 * layers, note, recommendation); a base found by history alone (no name) gives only the properties on
 * `metadata.component`. Components and vulnerabilities carry `pushgate:origin` (`base` or `app`); OS
 * package components their source package as `pushgate:sourceName`/`pushgate:sourceVersion` (read back by
 * `scan sbom:`, src/scan/sbom-input.ts). Returns the serialized JSON text.
 */
export function toCycloneDx(r: ScanReport, toolVersion = '0.0.0'): string {
  const { Enums, Models, Serialize, Spec } = cyclonedx();
  const CDX_SEVERITY = cdxSeverity(Enums);
  const bom = new Models.Bom();
  bom.metadata.component = new Models.Component(Enums.ComponentType.Container, r.target, { bomRef: 'image', version: r.digest });
  bom.metadata.tools.components.add(new Models.Component(Enums.ComponentType.Application, TOOL.name, { version: toolVersion }));
  const byKey = new Map<string, CycloneDx.Models.Component>();
  const refOf = (purl: string, p: string) => `${purl}#${p}`;
  for (const p of r.packages) {
    const key = refOf(p.purl, p.path);
    if (byKey.has(key)) continue;
    const c = new Models.Component(Enums.ComponentType.Library, p.name, { bomRef: key, version: p.version, purl: p.purl });
    c.properties.add(new Models.Property('pushgate:ecosystem', p.ecosystem));
    c.properties.add(new Models.Property('pushgate:path', p.path));
    if (p.layer) c.properties.add(new Models.Property('pushgate:layer', p.layer));
    if (p.platform) c.properties.add(new Models.Property('pushgate:platform', p.platform));
    if (p.origin) c.properties.add(new Models.Property('pushgate:origin', p.origin));
    // OS advisories name source packages (perl, not perl-base): without them `scan sbom:` of this BOM
    // would match fewer advisories than the image scan it came from.
    if (p.sourceName) c.properties.add(new Models.Property('pushgate:sourceName', p.sourceName));
    if (p.sourceVersion) c.properties.add(new Models.Property('pushgate:sourceVersion', p.sourceVersion));
    byKey.set(key, c);
    bom.components.add(c);
  }
  // Every vulnerability gets a bom-ref of its own making: left to the library it is random, and with
  // sortLists (which orders by bom-ref first) the same report came out in another order each run.
  const vulnRefs = new Set<string>();
  for (const f of r.findings) {
    const base = `vulnerability:${f.id}:${f.purl ? refOf(f.purl, f.path) : `${f.package}@${f.installedVersion}#${f.path}`}`;
    let bomRef = base;
    for (let n = 2; vulnRefs.has(bomRef); n++) bomRef = `${base}:${n}`;
    vulnRefs.add(bomRef);
    const v = new Models.Vulnerability.Vulnerability({ bomRef, id: f.id, description: f.summary, recommendation: f.fixedVersions.length ? `Upgrade ${f.package} to ${f.fixedVersions.join(' or ')}` : 'No fixed version is known yet' });
    const method = (version: string) => version.startsWith('4') ? Enums.Vulnerability.RatingMethod.CVSSv4 : version.startsWith('3.1') ? Enums.Vulnerability.RatingMethod.CVSSv31
      : version.startsWith('3') ? Enums.Vulnerability.RatingMethod.CVSSv3 : version.startsWith('2') ? Enums.Vulnerability.RatingMethod.CVSSv2 : Enums.Vulnerability.RatingMethod.Other;
    const rating = (severity: Severity, cvss: Finding['cvss'], from: string | undefined) => new Models.Vulnerability.Rating({
      severity: CDX_SEVERITY[severity], ...(cvss ? { score: cvss.score, vector: cvss.vector, method: method(cvss.version) } : {}), ...(from && from !== 'none' ? { source: new Models.Vulnerability.Source({ name: from }) } : {}),
    });
    v.ratings.add(rating(f.severity, f.cvss, f.severitySource));
    for (const s of f.severities ?? []) if (s.from !== f.severitySource) v.ratings.add(rating(s.severity, s.cvss, s.from));
    if (f.kev) {
      v.advisories.add(new Models.Vulnerability.Advisory(kevUrl(f.kev.cve), { title: `CISA Known Exploited Vulnerabilities: ${f.kev.cve}` }));
      for (const [k, val] of Object.entries(f.kev)) v.properties.add(new Models.Property(`pushgate:kev:${k}`, String(val)));
    }
    if (f.epss) for (const [k, val] of Object.entries(f.epss)) v.properties.add(new Models.Property(`pushgate:epss:${k}`, String(val)));
    if (f.origin) v.properties.add(new Models.Property('pushgate:origin', f.origin));
    for (const a of f.aliases) v.references.add(new Models.Vulnerability.Reference(a, new Models.Vulnerability.Source({ name: a.split('-')[0] })));
    if (f.published) v.published = new Date(f.published);
    const target = (f.purl ? byKey.get(refOf(f.purl, f.path)) : undefined) ?? [...byKey.values()].find((c) => c.name === f.package && c.version === f.installedVersion);
    if (target) v.affects.add(new Models.Vulnerability.Affect(target.bomRef));
    if (f.vex) {
      const justification = CDX_JUSTIFICATION[f.vex.justification ?? ''] as CycloneDx.Enums.Vulnerability.AnalysisJustification | undefined;
      v.analysis = new Models.Vulnerability.Analysis({
        state: f.vex.status === 'fixed' ? Enums.Vulnerability.AnalysisState.Resolved : Enums.Vulnerability.AnalysisState.NotAffected,
        ...(justification ? { justification } : {}),
        detail: vexText(f.vex),
      });
    }
    bom.vulnerabilities.add(v);
  }
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  const text = serializer.serialize(bom, { sortLists: true, space: 2 });
  if (!r.bases?.length) return text;
  // The library models no pedigree: added to its normalized output, in the 1.6 schema's shape.
  const doc = JSON.parse(text) as { metadata: { component: Record<string, unknown> & { properties?: CdxProperty[] } } };
  const { ancestors, properties } = cdxBases(r.bases);
  if (ancestors.length) doc.metadata.component.pedigree = { ancestors };
  if (properties.length) doc.metadata.component.properties = [...(doc.metadata.component.properties ?? []), ...properties];
  return JSON.stringify(doc, null, 2);
}

type CdxProperty = { name: string; value: string };

/** A base's `pushgate:base:*` properties (see {@link toCycloneDx}). */
function baseProperties(b: NonNullable<ScanReport['bases']>[number]): CdxProperty[] {
  const out: CdxProperty[] = [{ name: 'pushgate:base:method', value: b.method }];
  if (b.registry) out.push({ name: 'pushgate:base:registry', value: b.registry });
  if (b.tags.length) out.push({ name: 'pushgate:base:tags', value: b.tags.join(',') });
  if (b.platform) out.push({ name: 'pushgate:base:platform', value: b.platform });
  out.push({ name: 'pushgate:base:layers', value: String(b.layers.length) }, { name: 'pushgate:base:note', value: b.note });
  for (const x of b.recommendations ?? []) {
    out.push({ name: 'pushgate:base:recommendation', value: `${x.kind} ${recommendationRef(x)}@${x.digest}: ${summaryText(x.summary)}` });
  }
  return out;
}

/** The report's bases as CycloneDX pedigree ancestors (named bases) and image properties (history). */
function cdxBases(bases: NonNullable<ScanReport['bases']>): { ancestors: object[]; properties: CdxProperty[] } {
  const ancestors: object[] = [];
  const properties: CdxProperty[] = [];
  for (const b of bases) {
    if (!b.repository) {
      properties.push(...baseProperties(b));
      continue;
    }
    const hex = b.digest?.startsWith('sha256:') ? b.digest.slice('sha256:'.length) : undefined;
    ancestors.push({
      'bom-ref': `base:${b.platform ?? ''}:${b.digest ?? b.repository}`,
      type: 'container',
      name: b.repository,
      ...(b.tags.length ? { version: b.tags[0] } : b.digest ? { version: b.digest } : {}),
      ...(hex ? { hashes: [{ alg: 'SHA-256', content: hex }] } : {}),
      properties: baseProperties(b),
    });
  }
  return { ancestors, properties };
}

/**
 * Renders a report in `format` as the body of an HTTP answer or a CLI output.
 * @returns the text and its media type.
 */
export function formatReport(r: ScanReport, format: ReportFormat, toolVersion?: string): { body: string; mediaType: string } {
  const body = format === 'sarif' ? JSON.stringify(toSarif(r, toolVersion), null, 2) : format === 'cyclonedx' ? toCycloneDx(r, toolVersion) : JSON.stringify(r, null, 2);
  return { body: `${body}\n`, mediaType: REPORT_MEDIA_TYPES[format] };
}
