/**
 * The console (/ui/) end to end in headless Chromium (Debian's chromium, driven by playwright-core
 * through `executablePath`), against the server `pushgate serve` starts, a real Distribution
 * registry and the lab's adm-zip image pushed with skopeo: an administrator signs in by pasting a
 * JWT, sees the blocked push in the overview chart, opens the image and its finding, releases it
 * with a reason (the tag is back in the registry, the exception listed), finds the image from the
 * advisory's CVE alias and sees the release in the audit log under their subject.
 *
 * Every page is checked with axe-core (injected into the page; no serious or critical violation)
 * and saved as a screenshot under test-artifacts/console/ (gitignored). The JWT subject carries
 * markup: shown as text everywhere, never run. The page is also loaded at phone width.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Digest } from '../../../src/core/index.js';
import { startGatedLab, type GatedLab } from '../../helpers/gated-lab.js';
import { ensureTools, labOci, ROOT, skopeoCopy } from '../../helpers/lab.js';

const REG_PORT = 22410;
const SRV_PORT = 22411;
const TOKEN = 'console-e2e-webhook-token-0123456789';
const API = 'console-e2e-viewer-token';
const SECRET = 'console-e2e-jwt-secret-0123456789abcdef';
/** adm-zip < 0.4.9 (zip slip) in the offline OSV fixtures, and its CVE alias. */
const ADVISORY = 'NSWG-NPM-458';
const CVE = 'CVE-2018-1002204';
/** A subject with markup: the console must show it as text. */
const SUBJECT = 'alice<img src=x onerror="window.__pwned=1">';
const ZONE = 'Pacific/Chatham';
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'console');
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe-core in the page; returns serious and critical violations (rule id and first target). */
async function axe(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const r = await page.evaluate<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }> }>("axe.run(document, { resultTypes: ['violations'] })");
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes[0]?.target.join(' ')}`);
}

describe('console: end to end in headless Chromium', function () {
  this.timeout(120_000);
  let lab: GatedLab;
  let browser: Browser;
  let page: Page;
  const assetErrors: string[] = [];
  let gate: string;
  let digest: string;

  const shot = async (name: string) => {
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
    expect(await axe(page), `axe on ${name}`).to.deep.equal([]);
  };
  const go = async (hash: string, heading: string) => {
    await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  };

  before(async () => {
    ensureTools([['chromium', 'chromium'], ['skopeo', 'skopeo']]);
    // The page under test is dist/ui: built from the sources as they are (nothing when it is current).
    const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--if-needed'], { encoding: 'utf8' });
    expect(build.status, build.stderr).to.equal(0);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    lab = await startGatedLab({
      regPort: REG_PORT, srvPort: SRV_PORT, token: TOKEN, apiToken: API, tmpPrefix: 'pushgate-console-e2e-',
      policyYaml: [
        'apiVersion: pushgate.dev/v1', 'kind: Policy', 'metadata: {name: console}', 'spec:', '  ruleSets:', '    default:',
        '      rules:', '        - name: adm-zip', '          action: quarantine',
        `          match: {vulnerability: {ids: [${ADVISORY}]}}`, '  default: {ruleSet: default, mode: enforce}', '',
      ].join('\n'),
      configure: (c) => (c.api.jwt = { secret: SECRET }),
    });
    gate = `http://127.0.0.1:${SRV_PORT}`;
    skopeoCopy(labOci('adm-zip', '0.4.7'), `${lab.reg.host}/lab/adm-zip:0.4.7`);
    const v = await lab.verdict(`${lab.reg.host}/lab/adm-zip:0.4.7`);
    expect(v.decision).to.equal('quarantine');
    digest = v.digest;
    expect(await lab.tags('lab/adm-zip')).to.deep.equal([]);
    browser = await chromium.launch({ executablePath: process.env.PUSHGATE_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
    // A zone far from the server's (UTC+12:45/13:45): times must be shown in the viewer's.
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, timezoneId: ZONE, locale: 'en-US' });
    // Every answer outside the API that is an error (a missing asset, the icon); API refusals are tested as such.
    page.on('response', (r) => {
      if (r.status() >= 400 && !new URL(r.url()).pathname.startsWith('/api/')) assetErrors.push(`${r.status()} ${r.url()}`);
    });
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) assetErrors.push(`CSP: ${m.text()}`);
    });
  });
  after(async () => {
    await browser?.close();
    await lab?.stop();
  });

  it('no page asset answers an error or breaks the CSP; the icon is inline, so no /favicon.ico is asked for', async () => {
    await page.goto(`${gate}/ui/`);
    await page.getByLabel(/API token/).waitFor();
    expect(await page.evaluate("document.querySelector('link[rel=icon]')?.getAttribute('href')")).to.match(/^data:/);
    const icon = await fetch(`${gate}/favicon.ico`);
    expect(icon.status).to.equal(404); // what a browser would have met without the inline icon
    expect(assetErrors).to.deep.equal([]);
  });

  it('signs in with a pasted JWT (keyboard only); the token stays out of the URL', async () => {
    const token = jwt.sign({ sub: SUBJECT, role: 'admin' }, SECRET, { algorithm: 'HS256', expiresIn: '10m' });
    await page.goto(`${gate}/ui/`);
    await page.getByLabel(/API token/).waitFor();
    await shot('signin');
    // The token field has the focus; typed in, Tab reaches the button, Enter signs in.
    expect(await page.evaluate('document.activeElement?.id')).to.equal('token');
    await page.keyboard.insertText(token);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).to.equal('Sign in');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(page.url()).to.not.include(token.slice(-20));
    expect(await page.evaluate("sessionStorage.getItem('pushgate.token')")).to.equal(token);
    expect(await page.getByText(`${SUBJECT} (admin)`).count()).to.equal(1);
  });

  it('overview: the blocked push is in the chart by rule and registry; the image is newly failing', async () => {
    await page.locator('svg.chart rect[data-rule="adm-zip"][data-registry="lab"]').first().waitFor();
    expect(await page.getByText('adm-zip @ lab: 1').count()).to.equal(1);
    expect(await page.locator('main table').last().innerText()).to.include('lab/adm-zip');
    await shot('overview');
  });

  it('images: found by repository; its page groups the finding under adm-zip 0.4.7 with the fixed version', async () => {
    await go('#/images?repository=adm-zip', 'Images');
    await page.locator(`a[title="${digest}"]`).first().click();
    await page.getByRole('heading', { level: 3, name: /^adm-zip 0\.4\.7/ }).waitFor();
    const section = page.locator('section.pkg', { has: page.getByRole('heading', { level: 3, name: /^adm-zip 0\.4\.7/ }) });
    const text = await section.innerText();
    expect(text).to.include(ADVISORY);
    expect(text).to.include(CVE);
    expect(text).to.include('fired rule adm-zip');
    // Risk order: the high adm-zip finding comes before the Debian base's unrated ones.
    expect(await page.locator('section.pkg h3').first().innerText()).to.match(/^adm-zip 0\.4\.7/);
    expect(text).to.match(/0\.4\.9/);
    // The finding is in the layer the image's own build added, not in the Debian base.
    expect(text).to.include('app layer');
    // The base image section names how the base was found (no catalog here: the image history).
    expect(await page.getByText(/found by history · \d+ layer\(s\)/).count()).to.equal(1);
    expect(await page.getByText(/^\d+ findings in the base image's layers \(a newer base image fixes those\), [1-9]\d* in the layers the image's own build added\.$/).count()).to.equal(1);
    expect(await page.getByText(/Enforcement: quarantine \(done\)/).count()).to.be.greaterThan(0);
    await shot('image');
    await go('#/images', 'Images');
    await shot('images');
  });

  it('quarantine: released with a reason; the tag is back in the registry and the exception is listed', async () => {
    await go('#/quarantine', 'Quarantine');
    const form = page.getByRole('form', { name: 'Release lab/adm-zip:0.4.7' });
    await shot('quarantine');
    await form.getByLabel('Reason').fill('vendored copy is patched; tracked in SEC-42');
    await form.getByRole('button', { name: 'Release' }).click();
    await page.getByText(/^Released; exception \d+ until /).waitFor();
    expect(await lab.tags('lab/adm-zip')).to.deep.equal(['0.4.7']);
    await go('#/exceptions', 'Exceptions');
    const row = page.locator('tbody tr', { hasText: 'vendored copy is patched; tracked in SEC-42' });
    expect(await row.count()).to.equal(1);
    expect(await row.innerText()).to.include(digest);
    expect(await row.innerText()).to.include('in force');
    await shot('exceptions');
  });

  it('vulnerabilities: the CVE alias finds the image, where it is and the workloads that run it (as text)', async () => {
    // Usage records as the admission webhook writes them (its path is tested over HTTPS in
    // test/unit/admission/workload-usage-https.test.ts); a name with markup must stay text.
    const seen = Date.parse('2026-12-01T10:00:00Z');
    await lab.srv.store.workloads.recordUsage([
      { digest: digest as Digest, cluster: '', namespace: 'shop', kind: 'ReplicaSet', name: 'web-5d4f8b7c9', firstSeen: seen, lastSeen: seen },
      { digest: digest as Digest, cluster: '', namespace: 'shop', kind: 'Pod', name: '<img src=x onerror="window.__pwned=2">', firstSeen: seen - 1000, lastSeen: seen - 1000 },
    ]);
    await go('#/vulnerabilities', 'Vulnerabilities');
    await page.getByLabel('Advisory or CVE id').fill(CVE);
    await page.getByLabel('Advisory or CVE id').press('Enter');
    await page.locator(`main table a[title="${digest}"]`).waitFor();
    const table = await page.locator('main table').innerText();
    expect(table).to.include('lab/adm-zip:0.4.7 (lab)');
    expect(await page.locator('main table th', { hasText: 'Workloads' }).count()).to.equal(1);
    const items = await page.locator('main table ul.workloads li').allInnerTexts();
    // the most recently seen first, its time in the viewer's zone
    expect(items[0]).to.equal(`shop/ReplicaSet/web-5d4f8b7c9 (last admitted ${new Date(seen).toLocaleString('en-US', { timeZone: ZONE, dateStyle: 'medium', timeStyle: 'short' })})`);
    expect(items[1]).to.match(/^shop\/Pod\/<img src=x onerror="window.__pwned=2"> /);
    expect(await page.locator('main table img').count()).to.equal(0);
    expect(await page.evaluate('window.__pwned')).to.equal(undefined);
    await shot('vulnerabilities');
  });

  it('audit: the release is recorded under the signed-in subject, shown as text (never run)', async () => {
    await go('#/audit?action=release', 'Audit');
    const row = page.locator('tbody tr', { hasText: 'release' });
    expect(await row.count()).to.equal(1);
    expect(await row.innerText()).to.include(SUBJECT);
    expect(await page.evaluate('window.__pwned')).to.equal(undefined);
    expect(await page.locator('main img').count()).to.equal(0);
    // The record's instant, shown in the viewer's zone.
    const at = await row.locator('time').first().getAttribute('datetime');
    expect(await row.locator('time').first().innerText()).to.equal(new Date(at!).toLocaleString('en-US', { timeZone: ZONE, dateStyle: 'medium', timeStyle: 'short' }));
    await shot('audit');
  });

  it('a viewer sees the same pages without the actions; the API refuses them anyway', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel(/API token/).fill(API);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('API token (viewer)').waitFor();
    await go('#/quarantine?state=released', 'Quarantine');
    expect(await page.locator('main tbody tr').count()).to.equal(1);
    expect(await page.getByRole('button', { name: 'Release' }).count()).to.equal(0);
    await go('#/exceptions', 'Exceptions');
    expect(await page.getByRole('button', { name: 'Revoke' }).count()).to.equal(0);
    expect(await page.getByText('Only the admin role adds or revokes exceptions.').count()).to.equal(1);
    const refused = await fetch(`${gate}/api/v1/exceptions/1/revoke`, { method: 'POST', headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json' }, body: '{"reason":"x"}' });
    expect(refused.status).to.equal(403);
  });

  it('after every page: no asset answered an error and nothing broke the CSP', () => {
    expect(assetErrors).to.deep.equal([]);
  });

  it('at phone width the pages fit the screen (tables scroll inside their frame)', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [hash, heading] of [['#/overview', 'Overview'], ['#/quarantine?state=released', 'Quarantine']] as const) {
      await go(hash, heading);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth'), hash).to.be.at.most(392);
      await page.screenshot({ path: path.join(ARTIFACTS, `phone-${heading.toLowerCase()}.png`), fullPage: true });
    }
  });
});
