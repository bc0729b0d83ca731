/**
 * `pushgate scan` as a user runs it: the real CLI in a child process on the real lab images, with
 * the offline OSV fixtures. Exit codes and stdout/stderr rules of DESIGN.md §3.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { updateDb } from '../../../src/vulndb/index.js';
import { labImages, ROOT } from '../../helpers/lab.js';

interface Run { status: number | null; stdout: string; stderr: string }

describe('cli: pushgate scan', function () {
  this.timeout(120_000);
  let dir: string;
  let images: string;
  let config: string;

  function scan(args: string[], cfg: string | null = config): Run {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/pushgate.js'), 'scan', ...args, ...(cfg ? ['--config', cfg] : [])], { encoding: 'utf8', cwd: dir });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** A real copy (no hard links: the test corrupts blobs) of a lab layout. */
  function copyLayout(name: string): string {
    const dst = path.join(dir, `${name}-copy-${Math.random().toString(36).slice(2, 6)}`);
    fs.cpSync(path.join(images, name), dst, { recursive: true, dereference: true });
    return dst;
  }

  function lastLayer(layout: string): string {
    const idx = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const m = JSON.parse(fs.readFileSync(path.join(layout, 'blobs/sha256', idx.manifests[0].digest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
    return path.join(layout, 'blobs/sha256', m.layers[m.layers.length - 1].digest.slice(7));
  }

  before(async () => {
    images = labImages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    config = path.join(dir, 'pushgate.yaml');
    fs.writeFileSync(config, `vulndb:\n  path: ${path.join(dir, 'vulndb.sqlite')}\nscan:\n  tmpDir: ${path.join(dir, 'tmp')}\n`);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('debian-minbase → warn, exit 0; stdout is the JSON report and nothing else', () => {
    const r = scan([`oci:${images}/debian-minbase:bookworm`, '--format', 'json']);
    expect(r.status, r.stderr).to.equal(0);
    const report = JSON.parse(r.stdout);
    expect(report.verdict.decision).to.equal('warn');
    expect(report.os).to.deep.include({ id: 'debian', versionId: '12' });
    expect(report.packages.filter((p: { ecosystem: string }) => p.ecosystem === 'Debian').length).to.be.greaterThan(80);
    expect(report.complete).to.equal(true);
    // Debian 12 findings come out of the Debian data, through source packages.
    expect(report.findings.some((f: { id: string; ecosystem: string }) => f.id.startsWith('DEBIAN-CL-') && f.ecosystem.startsWith('Debian'))).to.equal(true);
  });

  it('node-app:vuln → reject, exit 1, lodash 4.17.15 matched to NSWG-NPM-516 (medium)', () => {
    const r = scan([`oci:${images}/node-app:vuln`, '--format', 'json']);
    expect(r.status, r.stderr).to.equal(1);
    const report = JSON.parse(r.stdout);
    expect(report.verdict.decision).to.equal('reject');
    const lodash = report.findings.find((f: { id: string; package: string }) => f.id === 'NSWG-NPM-516' && f.package === 'lodash');
    expect(lodash).to.include({ installedVersion: '4.17.15', severity: 'medium' });
    expect(report.secrets.map((s: { rule: string }) => s.rule)).to.include.members(['private-key', 'aws-access-key-id']);
  });

  it('adm-zip 0.4.7 → quarantine (NSWG-NPM-458, fixed in 0.4.9), exit 1; table output names them', () => {
    const r = scan([`oci:${images}/adm-zip:0.4.7`]);
    expect(r.status, r.stderr).to.equal(1);
    expect(r.stdout).to.match(/DECISION: QUARANTINE/);
    expect(r.stdout).to.match(/NSWG-NPM-458.*0\.4\.9/);
  });

  it('--severity-threshold medium turns the lodash finding into a failure; --platform picks one platform', () => {
    const r = scan([`oci:${images}/node-app:vuln`, '--format', 'json', '--severity-threshold', 'medium']);
    const report = JSON.parse(r.stdout);
    expect(report.verdict.reasons.flatMap((x: { findings?: string[] }) => x.findings ?? [])).to.include('NSWG-NPM-516');
    const p = scan([`oci:${images}/multiarch:1.0`, '--format', 'json', '--platform', 'linux/amd64']);
    expect(JSON.parse(p.stdout).platforms).to.deep.equal(['linux/amd64']);
    const both = scan([`oci:${images}/multiarch:1.0`, '--format', 'json']);
    expect(JSON.parse(both.stdout).platforms).to.have.length(2);
  });

  it('without a vulnerability database the report is still printed: incomplete, vulndb-missing, onIncomplete decides', () => {
    const cfg = path.join(dir, 'nodb.yaml');
    fs.writeFileSync(cfg, `vulndb:\n  path: ${path.join(dir, 'nothing-here.sqlite')}\n`);
    const r = scan([`oci:${images}/debian-minbase:bookworm`, '--format', 'json'], cfg);
    const report = JSON.parse(r.stdout);
    expect(report.complete).to.equal(false);
    expect(report.diagnostics.map((d: { code: string }) => d.code)).to.include('vulndb-missing');
    // The way to a database that works without the network too: the `db update` that builds the file this
    // scan read (its --config names the path and sources), and `--source` for offline.
    const missing = report.diagnostics.find((d: { code: string }) => d.code === 'vulndb-missing') as { message: string };
    expect(missing.message).to.include(`\`pushgate db update --config ${cfg} --db ${path.join(dir, 'nothing-here.sqlite')}\``).and.to.include('`--source FILE|DIR`');
    expect(report.verdict.decision).to.equal('quarantine');
    expect(r.status).to.equal(1);
  });

  it('a layer whose digest does not match, and a truncated gzip: a diagnostic, never a stack trace', () => {
    const flipped = copyLayout('adm-zip');
    const blob = lastLayer(flipped);
    const b = fs.readFileSync(blob);
    b[Math.floor(b.length / 2)] ^= 0xff;
    fs.writeFileSync(blob, b);
    const r = scan([`oci:${flipped}:0.4.7`, '--format', 'json']);
    expect(r.stderr).not.to.match(/\n\s+at /);
    const report = JSON.parse(r.stdout);
    expect(report.complete).to.equal(false);
    expect(report.diagnostics.map((d: { code: string }) => d.code)).to.include('layer-digest-mismatch');

    const cut = copyLayout('adm-zip');
    const blob2 = lastLayer(cut);
    fs.truncateSync(blob2, Math.floor(fs.statSync(blob2).size / 2));
    const t = scan([`oci:${cut}:0.4.7`, '--format', 'json']);
    expect(t.stderr).not.to.match(/\n\s+at /);
    expect(JSON.parse(t.stdout).complete).to.equal(false);
  });

  it('a manifest that is not a usable image manifest is incomplete (manifest-invalid), never an empty complete scan', () => {
    for (const body of ['[]', '{"schemaVersion":2,"layers":"x","config":5}', '{"schemaVersion":2,"config":{"digest":"sha256:' + 'a'.repeat(64) + '"},"layers":[null]}']) {
      const layout = path.join(dir, `bad-manifest-${Math.random().toString(36).slice(2, 8)}`);
      fs.mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
      const bytes = Buffer.from(body);
      const hex = crypto.createHash('sha256').update(bytes).digest('hex');
      fs.writeFileSync(path.join(layout, 'blobs', 'sha256', hex), bytes);
      fs.writeFileSync(path.join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${hex}`, size: bytes.length, annotations: { 'org.opencontainers.image.ref.name': '1' } }] }));
      const r = scan([`oci:${layout}:1`, '--format', 'json']);
      expect(r.stderr, body).not.to.match(/\n\s+at /);
      const report = JSON.parse(r.stdout);
      expect(report.complete, body).to.equal(false);
      expect(report.diagnostics.map((d: { code: string }) => d.code), body).to.include('manifest-invalid');
      expect(r.status, body).to.equal(1);
    }
  });

  it('a missing blob is a diagnostic; a target that does not exist is one line on stderr and exit 2', () => {
    const missing = copyLayout('adm-zip');
    fs.rmSync(lastLayer(missing));
    const m = scan([`oci:${missing}:0.4.7`, '--format', 'json']);
    expect(JSON.parse(m.stdout).diagnostics.map((d: { code: string }) => d.code)).to.include('blob-missing');

    for (const target of [`oci:${dir}/no-such-layout:1`, `archive:${dir}/nothing.tar`, `dir:${dir}/nowhere`, 'oci:']) {
      const r = scan([target]);
      expect(r.status, target).to.equal(2);
      expect(r.stdout, target).to.equal('');
      expect(r.stderr.trim().split('\n'), target).to.have.length(1);
      expect(r.stderr, target).to.match(/^pushgate: /);
    }
    const bad = scan([`oci:${images}/debian-minbase:bookworm`, '--format', 'xml']);
    expect(bad.status).to.equal(2);
    const th = scan([`oci:${images}/debian-minbase:bookworm`, '--severity-threshold', 'huge']);
    expect(th.status).to.equal(2);
    expect(th.stderr).to.match(/severity-threshold/);
  });
});
