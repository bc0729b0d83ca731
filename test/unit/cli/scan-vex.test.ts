/**
 * `pushgate scan --vex FILE` through the real CLI on the lab's adm-zip 0.4.7 image (OCI layout),
 * judged against the offline OSV fixtures under a policy that rejects any finding at or above low:
 * an OpenVEX `not_affected` statement for NSWG-NPM-458 (alias CVE-2018-1002204) for the adm-zip
 * package lifts the block, and every report format still shows the finding, marked as suppressed.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ScanReport } from '../../../src/core/index.js';
import { updateDb } from '../../../src/vulndb/index.js';
import { oneLine, runCli, type CliRun } from '../../helpers/cli.js';
import { labOci, ROOT } from '../../helpers/lab.js';

const openVex = (vulnerability: string, product: string, status = 'not_affected') => JSON.stringify({
  '@context': 'https://openvex.dev/ns/v0.2.0',
  '@id': 'https://example.com/vex/adm-zip-1',
  author: 'app team',
  timestamp: '2026-01-01T00:00:00Z',
  version: 1,
  statements: [{ vulnerability: { name: vulnerability }, products: [{ '@id': product }], status, justification: 'vulnerable_code_not_in_execute_path' }],
});

describe('cli: pushgate scan --vex', function () {
  this.timeout(180_000);
  let dir: string;
  let config: string;
  const image = labOci('adm-zip', '0.4.7');
  const scan = (args: string[]): CliRun => runCli(['scan', image, '--config', config, '--severity-threshold', 'low', ...args], { cwd: dir, timeoutMs: 90_000 });
  const vexFile = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-cli-vex-'));
    await updateDb({ path: path.join(dir, 'vulndb.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv')] });
    config = path.join(dir, 'pushgate.yaml');
    fs.writeFileSync(config, `vulndb:\n  path: ${path.join(dir, 'vulndb.sqlite')}\n`);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('without --vex the image is rejected for NSWG-NPM-458; a not_affected statement (by alias) makes it exit 0, the finding kept as suppressed', () => {
    const before = scan(['--format', 'json']);
    expect(before.status, before.stderr).to.equal(1);
    const rb = JSON.parse(before.stdout) as ScanReport;
    const target = rb.findings.filter((f) => f.id === 'NSWG-NPM-458');
    expect(target.length).to.be.greaterThan(0);
    expect(target[0].aliases).to.include('CVE-2018-1002204');
    // only the advisories this test suppresses may be what rejects it, or the exit status proves nothing
    const ids = [...new Set(rb.findings.map((f) => f.id))];

    const purl = target[0].purl!.replace(/@.*/, '');
    const files = ids.map((id, i) => vexFile(`v${i}.json`, openVex(id === 'NSWG-NPM-458' ? 'CVE-2018-1002204' : id, purl)));
    const after = scan(['--format', 'json', ...files.flatMap((f) => ['--vex', f])]);
    expect(after.status, after.stderr).to.equal(0);
    const ra = JSON.parse(after.stdout) as ScanReport;
    const kept = ra.findings.find((f) => f.id === 'NSWG-NPM-458');
    expect(kept?.vex?.status).to.equal('not_affected');
    expect(kept?.vex?.justification).to.equal('vulnerable_code_not_in_execute_path');
    expect(kept?.vex?.source).to.contain(files[ids.indexOf('NSWG-NPM-458')]);
    expect(ra.findings.length).to.equal(rb.findings.length);

    // the same judgement in every format: suppressed, not dropped
    const sarif = scan(['--format', 'sarif', ...files.flatMap((f) => ['--vex', f])]);
    expect(sarif.status, sarif.stderr).to.equal(0);
    expect(sarif.stdout).to.contain('NSWG-NPM-458');
    expect(sarif.stdout).to.match(/suppress/i);
    const cdx = scan(['--format', 'cyclonedx', ...files.flatMap((f) => ['--vex', f])]);
    expect(cdx.status, cdx.stderr).to.equal(0);
    expect(cdx.stdout).to.contain('not_affected');
    const table = scan(['--format', 'table', ...files.flatMap((f) => ['--vex', f])]);
    expect(table.status, table.stderr).to.equal(0);
    expect(table.stdout).to.match(/NSWG-NPM-458 .*SUPPRESSED by VEX \(not_affected, vulnerable_code_not_in_execute_path\)/);
    expect(table.stdout).to.match(/findings: \d+ \(\d+ suppressed by VEX\)/);
  });

  it('a statement for another package lifts nothing', () => {
    const other = vexFile('other.json', openVex('CVE-2018-1002204', 'pkg:npm/left-pad'));
    expect(scan(['--vex', other, '--format', 'json']).status).to.equal(1);
  });

  it('a document the parser refuses, or a missing file: exit 2 naming --vex, the file and what is wrong', () => {
    const bad = vexFile('bad.json', openVex('CVE-2018-1002204', 'pkg:npm/adm-zip', 'maybe'));
    expect(oneLine(scan(['--vex', bad]), 'bad status')).to.match(/--vex .*bad\.json#statements\[0\]: status "maybe" is not one of/);
    expect(oneLine(scan(['--vex', path.join(dir, 'nope.json')]), 'missing')).to.match(/--vex .*nope\.json: cannot read it/);
  });
});
