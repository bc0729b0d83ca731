/**
 * Benchmark: the console (/ui/) with 10,000 stored verdicts, on SQLite and on PostgreSQL.
 *
 * The real server (`startServer`, as `pushgate serve` runs it) with the fixture vulnerability database,
 * its store seeded as the gate writes it: 10,000 verdicts over 200 repositories (a third quarantined or
 * rejected, tags v1..v3), one audit record per verdict (`verdict:<decision>`, with rules), 1,000
 * quarantine records and 50 exceptions. The baseline is the same server on an empty store, measured in
 * the same run.
 *
 * Printed per store, each beside the baseline and as a ratio:
 * - first load: headless Chromium (Debian's chromium via playwright-core), a fresh browser context each
 *   time (nothing cached), from navigation to the Overview page rendered with its data (the chart, the
 *   counts and the newly failing table: interactive), median of 7; also the Images page. Goal ≤ 1 s.
 * - API list calls: medians of 20 over real HTTP of every list the console pages through (first and a
 *   deep page of the image search, filtered searches, audit, quarantine, exceptions, overview, blocked
 *   pushes). Goal ≤ 50 ms each.
 * Run: `npx tsx bench/console.ts` (BENCH_VERDICTS=N; BENCH_STORES=sqlite or postgres). SQLite lives in
 * /dev/shm when it exists (the bench measures pushgate, not the disk); PostgreSQL at 127.0.0.1:5432
 * (PUSHGATE_TEST_PG), a fresh database dropped afterwards.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { chromium, type Browser } from 'playwright-core';
import type { Decision, Verdict } from '../src/core/index.js';
import { startServer, type RunningServer } from '../src/server/serve.js';
import { updateDb } from '../src/vulndb/index.js';
import { labGateConfig, silentLogger } from '../test/helpers/gate.js';
import { ROOT } from '../test/helpers/lab.js';
import { freshDatabase } from '../test/helpers/postgres.js';

const N = Number(process.env.BENCH_VERDICTS ?? 10_000);
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',');
const SECRET = 'console-bench-secret-0123456789abcdef';
const TOKEN = jwt.sign({ sub: 'bench', role: 'admin' }, SECRET, { algorithm: 'HS256', expiresIn: '2h' });
// The page measured is dist/ui: built from the sources as they are (nothing when it is current).
if (spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--if-needed'], { stdio: 'inherit' }).status !== 0) throw new Error('build failed');
const scratch = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
const dbDir = fs.mkdtempSync(path.join(scratch, 'pushgate-console-bench-db-'));
await updateDb({ path: path.join(dbDir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}` as const;
const DECISIONS: Decision[] = ['allow', 'allow', 'warn', 'quarantine', 'reject', 'allow'];

interface Server {
  srv: RunningServer;
  base: string;
  close(): Promise<void>;
}

async function server(kind: string): Promise<Server> {
  const dir = fs.mkdtempSync(path.join(scratch, 'pushgate-console-bench-'));
  fs.copyFileSync(path.join(dbDir, 'vulndb.sqlite'), path.join(dir, 'vulndb.sqlite'));
  const config = labGateConfig(dir, []);
  config.api.jwt = { secret: SECRET };
  let drop: (() => Promise<void>) | undefined;
  if (kind === 'postgres') {
    const db = await freshDatabase('pushgate_console_bench');
    config.store.url = db.url;
    drop = db.drop;
  }
  const srv = await startServer(config, silentLogger, { monitorIntervalMs: 3_600_000 });
  return {
    srv,
    base: `http://127.0.0.1:${srv.port}`,
    async close() {
      await srv.close();
      await drop?.();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function seed(srv: RunningServer): Promise<void> {
  const store = srv.store;
  const batch: Array<Promise<void>> = [];
  for (let i = 1; i <= N; i++) {
    const decision = DECISIONS[i % DECISIONS.length];
    const repository = `team-${i % 20}/service-${i % 200}`;
    const tags = [`v${i % 3 + 1}`];
    const reasons = decision === 'allow' ? [] : [{ rule: i % 2 ? 'fixable-high-vulns' : 'secrets', action: decision, message: `rule fired on ${repository}` }];
    const v: Verdict = {
      registry: i % 4 ? 'lab' : 'edge', repository, digest: digest(i), tags, decision, complete: true, reasons, mode: 'enforce',
      policy: { name: 'default', revision: 'r1' }, vulndb: { builtAt: null }, evaluatedAt: new Date().toISOString(),
    };
    batch.push(store.putVerdict(v));
    batch.push(store.audit({ actor: v.registry, action: `verdict:${decision}`, registry: v.registry, repository, digest: v.digest, tag: tags[0], detail: { reasons: reasons.map((r) => r.rule) } }));
    if (decision === 'quarantine' && i % 3 === 0) batch.push(store.recordQuarantine({ registry: v.registry, repository, tag: tags[0], digest: v.digest, quarantineRepository: `quarantine/${repository}` }).then(() => undefined));
    if (batch.length >= 200) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  for (let i = 0; i < 50; i++) await store.addException('bench', { reason: `accepted risk ${i}`, owner: 'team', expires: i % 5 ? '2099-01-01' : '2000-01-01', ids: [`CVE-2099-${1000 + i}`] });
}

/** Milliseconds from navigation to `page` rendered with its data, in a fresh context (cold cache). */
async function firstLoad(browser: Browser, base: string, hash: string, ready: string): Promise<number> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await ctx.addInitScript(`sessionStorage.setItem('pushgate.token', ${JSON.stringify(TOKEN)})`);
  const page = await ctx.newPage();
  const t0 = performance.now();
  await page.goto(`${base}/ui/${hash}`);
  await page.locator(ready).first().waitFor({ timeout: 30_000 });
  const ms = performance.now() - t0;
  await ctx.close();
  return ms;
}

async function apiMs(base: string, p: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 21; i++) {
    const t0 = performance.now();
    const r = await fetch(`${base}/api/v1/${p}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    if (!r.ok) throw new Error(`${p}: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
    if (i > 0) times.push(performance.now() - t0);
  }
  return median(times);
}

/** A cursor 40 pages deep into the unfiltered image search (limit 50). */
async function deepCursor(base: string): Promise<string | undefined> {
  let after: string | undefined;
  for (let i = 0; i < 40; i++) {
    const r = (await (await fetch(`${base}/api/v1/images?limit=50${after ? `&after=${after}` : ''}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { next?: string };
    if (!r.next) return after;
    after = r.next;
  }
  return after;
}

const browser = await chromium.launch({ executablePath: process.env.PUSHGATE_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
const fmt = (ms: number) => `${ms.toFixed(1).padStart(8)} ms`;
let failed = false;
for (const kind of STORES) {
  console.log(`\n== ${kind}: ${N} stored verdicts vs an empty store (baseline, same run)`);
  const empty = await server(kind);
  const full = await server(kind);
  const t0 = performance.now();
  await seed(full.srv);
  console.log(`seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const loads: Array<[string, string, string]> = [
    ['overview first load', '#/overview', 'h2:has-text("Newly failing images") + div table'],
    ['images first load', '#/images', 'nav.pager'],
  ];
  for (const [name, hash, ready] of loads) {
    await firstLoad(browser, full.base, hash, ready); // the server's own first answers (statement caches) are not the page's
    const b: number[] = [];
    const f: number[] = [];
    for (let i = 0; i < 7; i++) {
      b.push(await firstLoad(browser, empty.base, hash, ready));
      f.push(await firstLoad(browser, full.base, hash, ready));
    }
    const ok = median(f) <= 1000;
    failed ||= !ok;
    console.log(`${name.padEnd(40)} ${fmt(median(f))}  baseline ${fmt(median(b))}  ratio ${(median(f) / median(b)).toFixed(2)}  goal ≤ 1000 ms ${ok ? 'met' : 'MISSED'}`);
  }
  const deep = await deepCursor(full.base);
  const calls = [
    'images?limit=50',
    ...(deep ? [`images?limit=50&after=${deep}`] : []),
    'images?limit=50&decision=reject',
    'images?limit=50&repository=service-17',
    'images?limit=50&tag=v2&registry=edge',
    `images?limit=50&digest=${digest(N - 7)}`,
    'audit?limit=100',
    'audit?limit=100&action=verdict:quarantine',
    'quarantine?limit=100',
    'exceptions?limit=100',
    'overview',
    'stats/blocked?days=14',
  ];
  for (const c of calls) {
    const f = await apiMs(full.base, c);
    const b = await apiMs(empty.base, c.replace(/&after=[^&]+/, ''));
    const ok = f <= 50;
    failed ||= !ok;
    console.log(`GET /api/v1/${c.replace(/after=[^&]+/, 'after=<page 40>').slice(0, 60).padEnd(60)} ${fmt(f)}  baseline ${fmt(b)}  ratio ${(f / b).toFixed(2)}  goal ≤ 50 ms ${ok ? 'met' : 'MISSED'}`);
  }
  await empty.close();
  await full.close();
}
await browser.close();
fs.rmSync(dbDir, { recursive: true, force: true });
if (failed) process.exitCode = 1;
