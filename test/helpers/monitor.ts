/**
 * Monitor test helpers: vulnerability databases built from chosen OSV records of test/fixtures/vulndb/osv
 * (`pushgate db update` code path, swapped in place like a real update), and images stored as the gate
 * stores them (complete scan under SCAN_KEY, report, verdict) without a registry.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Digest, Package, Verdict } from '../../src/core/index.js';
import { SCAN_KEY } from '../../src/gate/gate.js';
import { judgeScan } from '../../src/gate/judge.js';
import { summarize } from '../../src/gate/verdict-view.js';
import type { CompiledPolicy } from '../../src/policy/index.js';
import type { ImageScan } from '../../src/scan/engine.js';
import type { Store } from '../../src/store/index.js';
import { updateDb, VulnDb } from '../../src/vulndb/index.js';
import { ROOT } from './lab.js';

/** The OSV fixture folder. */
export const OSV = path.join(ROOT, 'test/fixtures/vulndb/osv');

/** Reads a fixture record (`npm/NSWG-NPM-458.json`). */
export function osvRecord(rel: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(OSV, rel), 'utf8')) as Record<string, unknown>;
}

/**
 * Builds the database at `dbPath` from exactly `records` (each written to a scratch folder), replacing
 * the one there (its changes since it are recorded), and opens it.
 */
export async function buildDb(dbPath: string, records: Array<Record<string, unknown>>): Promise<VulnDb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-osv-'));
  try {
    records.forEach((r, i) => fs.writeFileSync(path.join(dir, `${i}-${String(r.id)}.json`), JSON.stringify(r)));
    await updateDb({ path: dbPath, sources: [dir] });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return VulnDb.open(dbPath);
}

/** An npm package entry as the npm analyzer writes it. */
export function npmPackage(name: string, version: string, at = `/app/node_modules/${name}/package.json`): Package {
  return { ecosystem: 'npm', name, version, purl: `pkg:npm/${name}@${version}`, path: at, analyzer: 'lang/npm' };
}

/** A single-platform image scan holding `packages` (and a Debian 12 OS). */
export function scanOf(digest: Digest, packages: Package[]): ImageScan {
  return {
    target: `lab/app@${digest}`,
    digest,
    platforms: [{
      platform: 'linux/amd64',
      manifestDigest: digest,
      config: {},
      layers: [],
      inventory: { os: { id: 'debian', versionId: '12' }, packages, secrets: [], config: [], diagnostics: [] },
    }],
    diagnostics: [],
    bytesRead: 0,
  };
}

/** Stores an image as the gate does after judging a push: scan, report, verdict. */
export async function storeImage(store: Store, o: { registry?: string; repository: string; tag?: string; scan: ImageScan; db: VulnDb | undefined; policy: CompiledPolicy }): Promise<Verdict> {
  const registry = o.registry ?? 'lab';
  const digest = o.scan.digest!;
  const j = judgeScan(o.scan, o.db, o.policy, { registry, repository: o.repository, tag: o.tag });
  await store.putLayer(SCAN_KEY(digest), o.scan);
  await store.putReport(digest, j.report);
  const v = summarize(o.policy, {
    registry, repository: o.repository, digest, tags: o.tag ? [o.tag] : [], decision: 'allow', reasons: [], mode: 'enforce', complete: j.report.complete,
    policy: j.evaluation.policy, vulndb: { builtAt: j.report.vulndb?.builtAt ?? null, digest: j.report.vulndb?.digest ?? null }, evaluatedAt: new Date().toISOString(), evaluations: j.raw,
  });
  await store.putVerdict(v);
  return v;
}

/** A digest made from a number. */
export function digestOf(n: number): Digest {
  return `sha256:${n.toString(16).padStart(64, '0')}` as Digest;
}
