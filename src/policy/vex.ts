/**
 * VEX (Vulnerability Exploitability eXchange) statements, OpenVEX v0.2.0 (https://github.com/openvex/spec,
 * OPENVEX-SPEC.md) and CycloneDX VEX (https://cyclonedx.org/capabilities/vex/, {@link parseCycloneDxVex}):
 * a `not_affected` or `fixed` statement about a vulnerability in a product suppresses
 * the matching findings for policy; they stay in the report, marked with the statement's status,
 * justification and source. `affected` and `under_investigation` suppress nothing and, being later,
 * override an earlier `not_affected` for the same vulnerability and product (the spec's rule: the most
 * recent statement wins).
 *
 * Matching, normalized before comparing:
 * - vulnerability: the statement's `vulnerability.name`, `@id` and `aliases` against the finding's id
 *   and aliases, case-insensitive;
 * - product: an image by digest (`pkg:oci/…@sha256%3A…` purl, or a `sha-256`/`sha-512` hash of the
 *   product) equal to the judged manifest's or its index's digest, or a package purl naming the
 *   finding's package (type, namespace, name; version only when the statement gives one; qualifiers
 *   ignored, as the statement's author rarely knows the scanner's);
 * - subcomponents: when a product is an image and names subcomponents, one of them must name the
 *   finding's package; without subcomponents the statement covers every package of the image.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PushgateError } from '../core/errors.js';
import { createRequire } from 'node:module';
import type * as Purl from 'packageurl-js';
import type { Finding, FindingVex } from '../core/finding.js';

const load = createRequire(import.meta.url);

/** A package named by a purl, normalized (type/namespace/name lower-cased where the purl spec says they are case-insensitive). */
interface PurlKey {
  type: string;
  namespace: string;
  name: string;
  version?: string;
}

/** One product of a statement. */
interface VexProduct {
  /** Image manifest digests it names (`sha256:<hex>`). */
  digests: string[];
  /** A package it names (when the product is a package, not an image). */
  purl?: PurlKey;
  subcomponents: PurlKey[];
}

/** One statement, ready to match. */
export interface VexStatement {
  /** Vulnerability id and aliases, upper-cased. */
  ids: string[];
  products: VexProduct[];
  status: 'not_affected' | 'affected' | 'fixed' | 'under_investigation';
  justification?: string;
  impactStatement?: string;
  /** ms since the epoch (statement timestamp, else the document's). */
  time: number;
  /** `FILE#statements[i]` or `admin-api:<id>#statements[i]`. */
  source: string;
}

const STATUSES = ['not_affected', 'affected', 'fixed', 'under_investigation'] as const;
const CASE_INSENSITIVE_TYPES = new Set(['npm', 'pypi', 'deb', 'apk', 'rpm', 'github', 'bitbucket', 'golang', 'oci']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function purlKey(s: string): PurlKey | undefined {
  let p: Purl.PackageURL;
  try {
    p = (load('packageurl-js') as typeof Purl).PackageURL.fromString(s.trim());
  } catch {
    return undefined;
  }
  const fold = (x: string | undefined | null) => (x ?? '').toString();
  const ci = CASE_INSENSITIVE_TYPES.has(p.type);
  return {
    type: p.type.toLowerCase(),
    namespace: ci ? fold(p.namespace).toLowerCase() : fold(p.namespace),
    name: ci ? fold(p.name).toLowerCase() : fold(p.name),
    ...(p.version ? { version: String(p.version) } : {}),
  };
}

function samePackage(a: PurlKey, finding: PurlKey): boolean {
  return a.type === finding.type && a.namespace === finding.namespace && a.name === finding.name && (a.version === undefined || a.version === finding.version);
}

/** Digests a product names: an `oci` purl's version (`sha256:…`) and its `hashes`. */
function productDigests(id: string | undefined, key: PurlKey | undefined, hashes: unknown): string[] {
  const out: string[] = [];
  if (key?.type === 'oci' && key.version && /^sha(256|512):[a-f0-9]+$/.test(key.version)) out.push(key.version);
  if (id && /^sha(256|512):[a-f0-9]+$/.test(id)) out.push(id);
  if (isRecord(hashes)) {
    for (const [alg, v] of Object.entries(hashes)) {
      const a = alg.toLowerCase().replace('-', '');
      if ((a === 'sha256' || a === 'sha512') && typeof v === 'string') out.push(`${a}:${v.toLowerCase()}`);
    }
  }
  return out;
}

function parseProduct(p: unknown, at: string): VexProduct {
  if (!isRecord(p)) throw new Error(`${at} is not an object`);
  const id = typeof p['@id'] === 'string' ? p['@id'] : undefined;
  const idents = isRecord(p.identifiers) ? p.identifiers : {};
  const purlText = typeof idents.purl === 'string' ? idents.purl : id?.startsWith('pkg:') ? id : undefined;
  const key = purlText ? purlKey(purlText) : undefined;
  if (purlText && !key) throw new Error(`${at}: ${JSON.stringify(purlText)} is not a package URL`);
  const digests = productDigests(id, key, p.hashes);
  const subs = Array.isArray(p.subcomponents) ? p.subcomponents : [];
  const subcomponents = subs.map((s, i) => {
    const t = isRecord(s) ? (isRecord(s.identifiers) && typeof s.identifiers.purl === 'string' ? s.identifiers.purl : s['@id']) : undefined;
    const k = typeof t === 'string' ? purlKey(t) : undefined;
    if (!k) throw new Error(`${at}.subcomponents[${i}] names no package URL`);
    return k;
  });
  if (!digests.length && !key) throw new Error(`${at} names neither an image digest nor a package URL`);
  return { digests, ...(key && key.type !== 'oci' ? { purl: key } : {}), subcomponents };
}

/** RFC 3339 `date-time` with its offset, as Go's `time.RFC3339` parser and the JSON schemas' `date-time` read it. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** Whether the fields of an {@link RFC3339} match are in range, as Go checks them (`Date.parse` rolls `02-30` over to March and `24:00` to the next day). */
function inRange(m: RegExpExecArray): boolean {
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const day = new Date(Date.UTC(y, mo - 1, d));
  const offset = m[7] === undefined || (Number(m[7]) < 24 && Number(m[8]) < 60);
  return day.getUTCFullYear() === y && day.getUTCMonth() === mo - 1 && day.getUTCDate() === d && h < 24 && mi < 60 && sec < 60 && offset;
}

/**
 * A VEX time (OpenVEX `timestamp`, CycloneDX `metadata.timestamp`/`analysis.lastUpdated`/`firstIssued`,
 * CSAF `current_release_date`), ms since the epoch; NaN when the field is absent (the caller falls back).
 * Only RFC 3339 with an offset is read: `Date.parse` reads a time without a zone (`2026-01-01T00:00:00`) in
 * the process's own time zone and takes date-only and RFC 2822 forms Go's parser refuses, so the latest
 * statement could differ between replicas and from the tools that wrote it.
 * @throws Error naming the field and the form to write, for a value that is present and not such a time.
 */
function vexTime(value: unknown, at: string): number {
  if (value === undefined) return NaN;
  const m = typeof value === 'string' ? RFC3339.exec(value) : null;
  const t = m && inRange(m) ? Date.parse(m[0]) : NaN;
  if (Number.isNaN(t)) throw new Error(`${at} ${JSON.stringify(value)} is not an RFC 3339 time with an offset (e.g. 2026-01-01T00:00:00Z): without a zone each process would read it in its own time zone`);
  return t;
}

/**
 * Parses an OpenVEX document.
 * @param source where it came from (a file path, `admin-api:<id>`), kept on each statement.
 * @throws Error naming the statement and field that is wrong (not JSON, not OpenVEX, unknown status,
 *   a product without digest or purl, `not_affected` without justification or impact statement).
 */
export function parseOpenVex(text: string, source: string): VexStatement[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON`, { cause: e });
  }
  if (!isRecord(doc) || typeof doc['@context'] !== 'string' || !doc['@context'].startsWith('https://openvex.dev/ns')) {
    throw new Error(`${source}: not a VEX document (OpenVEX: @context https://openvex.dev/ns/v0.2.0; CycloneDX: bomFormat CycloneDX)`);
  }
  const docTime = vexTime(doc.timestamp, `${source}: timestamp`);
  const statements = Array.isArray(doc.statements) ? doc.statements : [];
  return statements.map((s, i): VexStatement => {
    const at = `${source}#statements[${i}]`;
    if (!isRecord(s)) throw new Error(`${at} is not an object`);
    const v = s.vulnerability;
    const ids = new Set<string>();
    if (typeof v === 'string') ids.add(v.toUpperCase());
    if (isRecord(v)) {
      for (const x of [v.name, v['@id'], ...(Array.isArray(v.aliases) ? v.aliases : [])]) if (typeof x === 'string' && x.trim()) ids.add(x.trim().toUpperCase());
    }
    if (!ids.size) throw new Error(`${at}: vulnerability names no id`);
    const status = s.status;
    if (typeof status !== 'string' || !(STATUSES as readonly string[]).includes(status)) throw new Error(`${at}: status ${JSON.stringify(status)} is not one of ${STATUSES.join(', ')}`);
    const justification = typeof s.justification === 'string' ? s.justification : undefined;
    const impactStatement = typeof s.impact_statement === 'string' ? s.impact_statement : undefined;
    if (status === 'not_affected' && !justification && !impactStatement) throw new Error(`${at}: not_affected needs a justification or an impact_statement (OpenVEX)`);
    const products = (Array.isArray(s.products) ? s.products : []).map((p, j) => parseProduct(p, `${at}.products[${j}]`));
    if (!products.length) throw new Error(`${at}: no products`);
    const t = s.timestamp === undefined ? docTime : vexTime(s.timestamp, `${at}.timestamp`);
    return { ids: [...ids], products, status: status as VexStatement['status'], ...(justification ? { justification } : {}), ...(impactStatement ? { impactStatement } : {}), time: Number.isNaN(t) ? 0 : t, source: at };
  });
}

function covers(st: VexStatement, f: Finding, digests: string[]): boolean {
  const ids = [f.id, ...f.aliases].map((x) => x.toUpperCase());
  if (!st.ids.some((x) => ids.includes(x))) return false;
  const pkg = f.purl ? purlKey(f.purl) : undefined;
  return st.products.some((p) => {
    if (p.purl) return pkg !== undefined && samePackage(p.purl, pkg);
    if (!p.digests.some((d) => digests.includes(d))) return false;
    return p.subcomponents.length === 0 || (pkg !== undefined && p.subcomponents.some((s) => samePackage(s, pkg)));
  });
}

const suppresses = (st: VexStatement): st is VexStatement & { status: 'not_affected' | 'fixed' } => st.status === 'not_affected' || st.status === 'fixed';

/**
 * Whether `st` replaces `last` as the statement that decides a finding: it is more recent, or as recent
 * and it suppresses nothing while `last` does. Statements of the same time are ambiguous ("the most
 * recent wins" cannot choose; two undated documents are both time 0), and their order is not the
 * author's: it is the order of files, of a referrers listing (the pusher's to write) or of statements
 * in a document. So an `affected`/`under_investigation` statement wins a tie whatever the order.
 */
function decides(st: VexStatement, last: VexStatement | undefined): boolean {
  if (!last || st.time > last.time) return true;
  return st.time === last.time && (suppresses(last) || !suppresses(st));
}

/**
 * Marks the findings a statement suppresses (`vex` set). The latest matching statement decides; among
 * equally recent ones, one that suppresses nothing wins ({@link decides}), so the outcome does not depend
 * on the order of `statements`.
 * @param digests the judged manifest's digest and, for a platform of an index, the index's.
 * @returns the findings in the same order, suppressed ones with `vex`.
 */
export function applyVex(findings: Finding[], statements: readonly VexStatement[], digests: string[]): Finding[] {
  if (!statements.length) return findings;
  return findings.map((f) => {
    let last: VexStatement | undefined;
    for (const st of statements) if (covers(st, f, digests) && decides(st, last)) last = st;
    if (!last || !suppresses(last)) return f;
    const vex: FindingVex = { status: last.status, source: last.source, ...(last.justification ? { justification: last.justification } : {}), ...(last.impactStatement ? { impactStatement: last.impactStatement } : {}) };
    return { ...f, vex };
  });
}

/** A digest of statements, for the policy revision (a VEX change re-judges like a policy change). */
export function vexRevision(statements: readonly VexStatement[]): string {
  return createHash('sha256').update(JSON.stringify(statements)).digest('hex').slice(0, 12);
}

/** CycloneDX `analysis.state` → VEX status (CycloneDX 1.4+ "Vulnerability Exploitability eXchange"). */
const CDX_STATES: Record<string, VexStatement['status']> = {
  not_affected: 'not_affected',
  false_positive: 'not_affected',
  resolved: 'fixed',
  resolved_with_pedigree: 'fixed',
  exploitable: 'affected',
  in_triage: 'under_investigation',
};

/**
 * A product from a CycloneDX reference: a purl, or a component's purl found by its bom-ref (also through
 * a BOM-Link `urn:cdx:<serial>/<version>#<bom-ref>`). Undefined for a component without a purl (a
 * product pushgate cannot recognize in an image: the statement does not apply here).
 */
function cdxProduct(ref: string, components: Map<string, string>, at: string): VexProduct | undefined {
  const local = ref.includes('#') && ref.startsWith('urn:cdx:') ? ref.slice(ref.indexOf('#') + 1) : ref;
  const purl = components.get(local) ?? (local.startsWith('pkg:') ? local : undefined);
  if (!purl) return undefined;
  const key = purlKey(purl);
  if (!key) throw new Error(`${at}: ${JSON.stringify(purl)} is not a package URL`);
  const digests = productDigests(undefined, key, undefined);
  return { digests, ...(key.type !== 'oci' ? { purl: key } : {}), subcomponents: [] };
}

/**
 * Parses a CycloneDX VEX document (CycloneDX 1.4–1.6 JSON, `vulnerabilities[]` with `analysis` and
 * `affects`). A statement about a component is a statement about that package; about a `container`
 * component whose purl is `pkg:oci/…@sha256:…`, about that image.
 * @throws Error naming the vulnerability and field that is wrong.
 */
export function parseCycloneDxVex(doc: Record<string, unknown>, source: string): VexStatement[] {
  const components = new Map<string, string>();
  // Iterative: nesting is as deep as the document says, and a 4 MB body nests ~300k levels.
  const walk = (top: unknown): void => {
    const stack: unknown[] = [top];
    while (stack.length) {
      const cs = stack.pop();
      for (const c of Array.isArray(cs) ? cs : []) {
        if (!isRecord(c)) continue;
        if (typeof c['bom-ref'] === 'string' && typeof c.purl === 'string') components.set(c['bom-ref'], c.purl);
        stack.push(c.components);
      }
    }
  };
  const meta = isRecord(doc.metadata) ? doc.metadata : {};
  walk(isRecord(meta.component) ? [meta.component] : []);
  walk(doc.components);
  const docTime = vexTime(meta.timestamp, `${source}: metadata.timestamp`);
  const vulns = Array.isArray(doc.vulnerabilities) ? doc.vulnerabilities : [];
  return vulns.flatMap((v, i): VexStatement[] => {
    const at = `${source}#vulnerabilities[${i}]`;
    if (!isRecord(v) || typeof v.id !== 'string' || !v.id.trim()) throw new Error(`${at}: no id`);
    const analysis = isRecord(v.analysis) ? v.analysis : undefined;
    if (!analysis) return []; // a vulnerability without analysis is a finding, not a statement
    const status = typeof analysis.state === 'string' ? CDX_STATES[analysis.state] : undefined;
    if (!status) throw new Error(`${at}: analysis.state ${JSON.stringify(analysis.state)} is not one of ${Object.keys(CDX_STATES).join(', ')}`);
    const ids = new Set([v.id.trim().toUpperCase()]);
    for (const r of Array.isArray(v.references) ? v.references : []) if (isRecord(r) && typeof r.id === 'string') ids.add(r.id.trim().toUpperCase());
    const affects = Array.isArray(v.affects) ? v.affects : [];
    if (!affects.length) throw new Error(`${at}: no affects`);
    const products = affects.flatMap((a, j) => {
      if (!isRecord(a) || typeof a.ref !== 'string') throw new Error(`${at}.affects[${j}]: no ref`);
      const p = cdxProduct(a.ref, components, `${at}.affects[${j}]`);
      return p ? [p] : [];
    });
    if (!products.length) return [];
    const t = analysis.lastUpdated !== undefined ? vexTime(analysis.lastUpdated, `${at}.analysis.lastUpdated`) : analysis.firstIssued !== undefined ? vexTime(analysis.firstIssued, `${at}.analysis.firstIssued`) : docTime;
    const justification = typeof analysis.justification === 'string' ? analysis.justification : undefined;
    const impactStatement = typeof analysis.detail === 'string' ? analysis.detail : undefined;
    return [{ ids: [...ids], products, status, ...(justification ? { justification } : {}), ...(impactStatement ? { impactStatement } : {}), time: Number.isNaN(t) ? 0 : t, source: at }];
  });
}

/** CSAF `product_status` buckets → VEX status (CSAF 2.0 §3.2.3.9, VEX profile §4.5). */
const CSAF_STATUS: Record<string, VexStatement['status']> = {
  known_not_affected: 'not_affected',
  fixed: 'fixed',
  first_fixed: 'fixed',
  known_affected: 'affected',
  first_affected: 'affected',
  last_affected: 'affected',
  under_investigation: 'under_investigation',
};

/**
 * Parses a CSAF 2.0 VEX document (`document.category: csaf_vex`). Products are recognized by their
 * `product_identification_helper.purl`; a relationship `X default_component_of Y` is package X inside
 * Y (an image when Y's purl is `pkg:oci/…@sha256:…`, else package X). Justification from `flags`, impact
 * statement from `threats` of category `impact`, both per product.
 * @throws Error naming the vulnerability or product that is wrong.
 */
export function parseCsafVex(doc: Record<string, unknown>, source: string): VexStatement[] {
  const purls = new Map<string, string>();
  const composite = new Map<string, { component: string; parent: string }>();
  // Iterative: branches nest as deep as the document says (a 4 MB body nests ~300k levels).
  const visit = (top: unknown): void => {
    const stack: unknown[] = [top];
    while (stack.length) {
      const node = stack.pop();
      if (!isRecord(node)) continue;
      const product = isRecord(node.product) ? node.product : node;
      if (typeof product.product_id === 'string' && isRecord(product.product_identification_helper) && typeof product.product_identification_helper.purl === 'string') {
        purls.set(product.product_id, product.product_identification_helper.purl);
      }
      if (Array.isArray(node.branches)) for (let i = node.branches.length - 1; i >= 0; i--) stack.push(node.branches[i]);
    }
  };
  const tree = isRecord(doc.product_tree) ? doc.product_tree : {};
  for (const b of Array.isArray(tree.branches) ? tree.branches : []) visit(b);
  for (const p of Array.isArray(tree.full_product_names) ? tree.full_product_names : []) visit(p);
  for (const r of Array.isArray(tree.relationships) ? tree.relationships : []) {
    if (isRecord(r) && r.category === 'default_component_of' && typeof r.product_reference === 'string' && typeof r.relates_to_product_reference === 'string' && isRecord(r.full_product_name) && typeof r.full_product_name.product_id === 'string') {
      composite.set(r.full_product_name.product_id, { component: r.product_reference, parent: r.relates_to_product_reference });
    }
  }
  const product = (id: string, at: string): VexProduct | undefined => {
    const key = (pid: string) => {
      const purl = purls.get(pid);
      if (!purl) return undefined;
      const k = purlKey(purl);
      if (!k) throw new Error(`${at}: product ${pid} has purl ${JSON.stringify(purl)}, not a package URL`);
      return k;
    };
    const c = composite.get(id);
    if (c) {
      const component = key(c.component);
      const parent = key(c.parent);
      if (!component) return undefined;
      const digests = parent ? productDigests(undefined, parent, undefined) : [];
      return digests.length ? { digests, subcomponents: [component] } : { digests: [], purl: component, subcomponents: [] };
    }
    const k = key(id);
    if (!k) return undefined;
    const digests = productDigests(undefined, k, undefined);
    return { digests, ...(k.type !== 'oci' ? { purl: k } : {}), subcomponents: [] };
  };
  const tracking = isRecord(doc.document) && isRecord(doc.document.tracking) ? doc.document.tracking : {};
  const time = vexTime(tracking.current_release_date, `${source}: document.tracking.current_release_date`);
  const vulns = Array.isArray(doc.vulnerabilities) ? doc.vulnerabilities : [];
  return vulns.flatMap((v, i): VexStatement[] => {
    const at = `${source}#vulnerabilities[${i}]`;
    if (!isRecord(v)) throw new Error(`${at} is not an object`);
    const ids = new Set<string>();
    if (typeof v.cve === 'string') ids.add(v.cve.trim().toUpperCase());
    for (const x of Array.isArray(v.ids) ? v.ids : []) if (isRecord(x) && typeof x.text === 'string') ids.add(x.text.trim().toUpperCase());
    if (!ids.size) throw new Error(`${at}: neither cve nor ids`);
    const perProduct = (list: unknown, field: 'label' | 'details', pid: string): string | undefined => {
      for (const x of Array.isArray(list) ? list : []) {
        if (isRecord(x) && Array.isArray(x.product_ids) && x.product_ids.includes(pid) && typeof x[field] === 'string' && (field === 'label' || x.category === 'impact')) return x[field] as string;
      }
      return undefined;
    };
    const status = isRecord(v.product_status) ? v.product_status : {};
    const out: VexStatement[] = [];
    for (const [bucket, st] of Object.entries(CSAF_STATUS)) {
      const pids = Array.isArray(status[bucket]) ? (status[bucket] as unknown[]) : [];
      pids.forEach((pid, j) => {
        if (typeof pid !== 'string') throw new Error(`${at}.product_status.${bucket}[${j}] is not a product id`);
        const p = product(pid, `${at}.product_status.${bucket}[${j}]`);
        if (!p) return;
        const justification = perProduct(v.flags, 'label', pid);
        const impactStatement = perProduct(v.threats, 'details', pid);
        out.push({ ids: [...ids], products: [p], status: st, ...(justification ? { justification } : {}), ...(impactStatement ? { impactStatement } : {}), time: Number.isNaN(time) ? 0 : time, source: `${at} (${pid})` });
      });
    }
    return out;
  });
}

/**
 * Parses a VEX document of any supported format: OpenVEX (`@context` https://openvex.dev/ns…),
 * CycloneDX VEX (`bomFormat: CycloneDX`) or CSAF 2.0 VEX (`document.category: csaf_vex`).
 * @throws Error saying what is wrong, or that the format is not supported.
 */
export function parseVex(text: string, source: string): VexStatement[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON`, { cause: e });
  }
  if (isRecord(doc) && doc.bomFormat === 'CycloneDX') return parseCycloneDxVex(doc, source);
  if (isRecord(doc) && isRecord(doc.document) && typeof doc.document.csaf_version === 'string') {
    if (doc.document.category !== 'csaf_vex') throw new Error(`${source}: a CSAF document of category ${JSON.stringify(doc.document.category)}, not csaf_vex`);
    return parseCsafVex(doc, source);
  }
  return parseOpenVex(text, source);
}

/**
 * The author a VEX document names, for lists: OpenVEX `author`; CycloneDX `metadata.authors[].name`,
 * else `metadata.manufacturer.name` / `metadata.manufacture.name` / `metadata.supplier.name`; CSAF
 * `document.publisher.name`. `""` when it names none (or is not JSON).
 */
export function vexAuthor(text: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return '';
  }
  if (!isRecord(doc)) return '';
  const name = (o: unknown) => (isRecord(o) && typeof o.name === 'string' ? o.name : '');
  if (typeof doc.author === 'string') return doc.author;
  if (isRecord(doc.document)) return name(doc.document.publisher);
  if (isRecord(doc.metadata)) {
    const m = doc.metadata;
    const authors = Array.isArray(m.authors) ? m.authors.map(name).filter(Boolean) : [];
    return authors.length ? authors.join(', ') : name(m.manufacturer) || name(m.manufacture) || name(m.supplier);
  }
  return '';
}

/**
 * Reads every VEX document (OpenVEX or CycloneDX VEX) at `paths` (files, or directories whose `*.json` files are read in name
 * order).
 * @throws PushgateError BAD_CONFIG naming the file and statement that is wrong.
 */
export function loadVexFiles(paths: readonly string[]): VexStatement[] {
  const out: VexStatement[] = [];
  for (const p of paths) {
    let files: string[];
    try {
      files = fs.statSync(p).isDirectory() ? fs.readdirSync(p).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(p, f)) : [p];
    } catch (e) {
      throw new PushgateError('BAD_CONFIG', `vex.paths: cannot read ${p}: ${(e as Error).message}`, { cause: e });
    }
    for (const f of files) {
      try {
        out.push(...parseVex(fs.readFileSync(f, 'utf8'), f));
      } catch (e) {
        throw new PushgateError('BAD_CONFIG', `vex.paths: ${(e as Error).message}; fix or remove the document`, { cause: e });
      }
    }
  }
  return out;
}

/**
 * Restricts statements to one image: what a VEX document attached to an image (a referrer signed for its
 * digest) says, it says about that image only. A product naming a package becomes that package inside
 * the image; a product naming image digests stays only when one of them is `digest` (a statement about
 * another image is dropped, never widened); an image product without a digest (`pkg:oci/app`, no
 * version) is the image the document is attached to; a statement left without products is dropped.
 * @param digest the manifest (or index) digest the document was attached to and signed for.
 */
export function scopeToImage(statements: readonly VexStatement[], digest: string): VexStatement[] {
  return statements.flatMap((st) => {
    const products = st.products.flatMap((p): VexProduct[] => {
      if (p.purl) return [{ digests: [digest], subcomponents: [p.purl] }];
      return p.digests.length === 0 || p.digests.includes(digest) ? [{ digests: [digest], subcomponents: p.subcomponents }] : [];
    });
    return products.length ? [{ ...st, products }] : [];
  });
}
