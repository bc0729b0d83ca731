/**
 * Builders of policy inputs as the scanner and the vulnerability database produce them: findings are
 * made from real OSV records (test/fixtures/policy/lab) with their CVSS vectors scored by
 * ae-cvss-calculator, like src/vulndb does.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as cvssModule from 'ae-cvss-calculator';
import type { Finding, Severity } from '../../../src/core/finding.js';
import type { ImageConfig, ImageManifest } from '../../../src/core/manifest.js';
import type { PolicyInput } from '../../../src/policy/index.js';
import { ROOT } from '../../helpers/lab.js';

export const FIXTURES = path.join(ROOT, 'test/fixtures/policy');

type Ctor = new (v: string) => { calculateScores(): { base?: number; overall?: number } };
const cvssLib = ((cvssModule as unknown as { default?: unknown }).default ?? cvssModule) as Record<string, Ctor>;

interface OsvRecord {
  id: string;
  aliases?: string[];
  summary?: string;
  published?: string;
  modified?: string;
  severity?: Array<{ type: string; score: string }>;
  affected: Array<{ package: { ecosystem: string; name: string }; ranges?: Array<{ events: Array<Record<string, string>> }> }>;
}

/** Reads a fixture file (JSON). */
export function fixtureJson<T>(rel: string): T {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, rel), 'utf8')) as T;
}

/** The lab image configuration of `name` (debian-minbase, node-app, adm-zip). */
export function labConfig(name: string): ImageConfig {
  return fixtureJson<ImageConfig>(`lab/${name}.config.json`);
}

/** Size of the lab image: config + layers, from its manifest. */
export function labSize(name: string): number {
  const m = fixtureJson<ImageManifest>(`lab/${name}.manifest.json`);
  return m.config.size + m.layers.reduce((n, l) => n + l.size, 0);
}

function score(vector: string): number {
  const ctor = vector.startsWith('CVSS:3.1/') ? cvssLib.Cvss3P1 : cvssLib.Cvss3P0;
  const s = new ctor(vector).calculateScores();
  return (s.base ?? s.overall) as number;
}

/** A finding for an installed package matched by the OSV record `lab/<id>.json`. */
export function findingFrom(id: string, pkg: { name: string; version: string; path: string; layer?: string }): Finding {
  const rec = fixtureJson<OsvRecord>(`lab/${id}.json`);
  const aff = rec.affected[0];
  const fixed = (aff.ranges ?? []).flatMap((r) => r.events.filter((e) => e.fixed).map((e) => e.fixed));
  const vec = rec.severity?.find((s) => s.type.startsWith('CVSS_V3'))?.score;
  let severity: Severity = 'unknown';
  let cvss: Finding['cvss'];
  if (vec) {
    const sc = score(vec);
    cvss = { score: sc, vector: vec, version: vec.slice(5, 8) };
    severity = sc >= 9 ? 'critical' : sc >= 7 ? 'high' : sc >= 4 ? 'medium' : sc > 0 ? 'low' : 'negligible';
  }
  const f: Finding = {
    id: rec.id,
    aliases: rec.aliases ?? [],
    summary: rec.summary,
    ecosystem: aff.package.ecosystem.split(':')[0],
    package: pkg.name,
    installedVersion: pkg.version,
    fixedVersions: fixed,
    severity,
    published: rec.published,
    modified: rec.modified,
    path: pkg.path,
  };
  if (aff.package.name !== pkg.name) f.advisoryPackage = aff.package.name;
  if (cvss) f.cvss = cvss;
  if (pkg.layer) f.layer = pkg.layer;
  return f;
}

/** A synthetic finding with the given overrides (for rule tables). */
export function finding(over: Partial<Finding> = {}): Finding {
  return {
    id: 'TEST-1',
    aliases: ['CVE-2099-0001'],
    ecosystem: 'npm',
    package: 'pkg',
    installedVersion: '1.0.0',
    fixedVersions: ['1.0.1'],
    severity: 'high',
    published: '2024-01-01T00:00:00Z',
    path: '/app/node_modules/pkg/package.json',
    ...over,
  };
}

/** An empty, complete input with overrides. */
export function input(over: Partial<PolicyInput> = {}): PolicyInput {
  return { findings: [], secrets: [], config: [], diagnostics: [], packages: [], complete: true, now: new Date('2026-12-01T00:00:00Z'), ...over };
}
