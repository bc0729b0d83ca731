/**
 * VEX documents of `vex.paths` on the server `pushgate serve` starts (startServer: real SQLite store,
 * PolicyControl): an edited, added or removed document is picked up by the watcher and re-judges stored
 * verdicts under a new revision; a document broken by an edit keeps the statements in force (as an invalid
 * policy does), is audited, and never throws out of the exception or release paths.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer } from '../../../src/server/serve.js';
import { labGateConfig, silentLogger } from '../../helpers/gate.js';

const doc = (id: string, vuln: string) => JSON.stringify({
  '@context': 'https://openvex.dev/ns/v0.2.0', '@id': `https://example.test/vex/${id}`, author: 'sec@example.test', timestamp: '2026-01-01T00:00:00Z', version: 1,
  statements: [{ vulnerability: { name: vuln }, products: [{ '@id': 'pkg:npm/adm-zip' }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' }],
});

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('VEX documents: reload by the watcher, a broken edit keeps the statements in force', function () {
  this.timeout(60_000);
  let dir: string;
  let vexDir: string;
  let srv: RunningServer;
  const statements = () => srv.control.effective().vex?.length ?? 0;
  const revision = () => srv.control.effective().revision;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-vex-reload-'));
    vexDir = path.join(dir, 'vex');
    fs.mkdirSync(vexDir);
    fs.writeFileSync(path.join(vexDir, 'a.json'), doc('a', 'CVE-2018-1002204'));
    const config = labGateConfig(dir, []);
    config.vex = { paths: [vexDir] };
    srv = await startServer(config, silentLogger, { policyWatchMs: 100 });
  });
  after(async () => {
    await srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reads the documents at start; a document added to the directory is picked up with a new revision', async () => {
    expect(statements()).to.equal(1);
    const before = revision();
    fs.writeFileSync(path.join(vexDir, 'b.json'), doc('b', 'CVE-2099-0001'));
    await until('the second statement in force', () => statements() === 2);
    expect(revision()).to.not.equal(before);
  });

  it('an edit in place that breaks a document keeps the statements in force, audits the rejection, and the exception API still works', async () => {
    const inForce = revision();
    fs.writeFileSync(path.join(vexDir, 'b.json'), '{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [');
    await until('the rejection audited', async () => (await srv.store.listAudit(50)).some((a) => a.action === 'vex-reload-rejected'));
    expect(statements()).to.equal(2);
    expect(revision()).to.equal(inForce);
    const r = await srv.control.reload();
    expect(r.ok).to.equal(false);
    expect(r.problems.join(' ')).to.match(/b\.json/);
  });

  it('a document removed is dropped: one statement left, the revision moves again', async () => {
    const was = revision();
    fs.rmSync(path.join(vexDir, 'b.json'));
    await until('one statement in force', () => statements() === 1);
    expect(revision()).to.not.equal(was);
  });
});
