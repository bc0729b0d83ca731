/**
 * A pusher hides a vulnerable Debian package while its files stay on disk: by writing its stanza's field
 * names in another case (`package:`, `VERSION:`; dpkg matches field names case-insensitively), or by
 * leaving it in a state dpkg reaches after unpacking its files (`install ok unpacked`, `half-configured`,
 * `triggers-pending`, …: libssl3 left `iU` is still the libssl.so.3 every program loads). The scanner
 * read only `Package`/`Version` spelt so and only `installed`. The oracle is the real dpkg-query reading
 * the same generated status files. Also a journal file in `/var/lib/dpkg/updates/` (dpkg and dpkg-query
 * replay it over the status file: a package only the journal names, or a version it changes, is what
 * dpkg sees) that the scanner never read.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { parseDpkgStatus } from '../../../src/scan/analyzers/dpkg.js';
import { scanTarget } from '../../../src/scan/engine.js';
import { gzLayer, makeTar, writeLayout } from './layout-helper.js';

/** dpkg(1) package states, and whether the package's files are on disk in it. */
const STATES: Record<string, boolean> = {
  'not-installed': false, 'config-files': false, 'half-installed': true, unpacked: true,
  'half-configured': true, 'triggers-awaited': true, 'triggers-pending': true, installed: true,
};

/** A field name in a random case, as dpkg reads it whatever the case. */
const fieldName = (name: string) => fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length })
  .map((up) => [...name].map((c, i) => (up[i] ? c.toUpperCase() : c.toLowerCase())).join(''));

const STANZA = fc.record({
  state: fc.constantFrom(...Object.keys(STATES)),
  want: fc.constantFrom('install', 'hold', 'deinstall'),
  version: fc.stringMatching(/^[0-9]{1,2}\.[0-9]{1,2}(-[0-9])?$/),
  names: fc.record({ pkg: fieldName('Package'), status: fieldName('Status'), version: fieldName('Version'), arch: fieldName('Architecture') }),
  order: fc.boolean(),
});

const STATUS = fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9]{1,8}$/), STANZA), { minLength: 1, maxLength: 8, selector: ([n]) => n }).map((list) => ({
  list,
  text: list.map(([pkg, s]) => {
    const lines = [`${s.names.pkg}: ${pkg}`, `${s.names.status}: ${s.want} ok ${s.state}`, `${s.names.version}: ${s.version}`, `${s.names.arch}: all`,
      'Maintainer: t <t@example.org>', `Description: ${pkg}`];
    if (s.state === 'triggers-pending') lines.push('Triggers-Pending: x');
    if (s.state === 'triggers-awaited') lines.push(`Triggers-Awaited: ${list[0]![0]}`);
    return `${(s.order ? lines.reverse() : lines).join('\n')}\n`;
  }).join('\n'),
}));

/** `name version` of every package dpkg-query lists in a state whose files are on disk. */
function dpkgOnDisk(admindir: string): string[] {
  const r = spawnSync('dpkg-query', [`--admindir=${admindir}`, '-W', '-f', '${db:Status-Status} ${Package} ${Version}\n'], { encoding: 'utf8' });
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout.split('\n').filter(Boolean).map((l) => l.split(' ')).filter(([st]) => STATES[st!]).map(([, n, v]) => `${n} ${v}`).sort();
}

describe('dpkg status: the packages whose files dpkg unpacked, however the stanza is spelt', () => {
  it('agrees with dpkg-query on generated status files: field-name case, every package state (fast-check, real dpkg)', function () {
    this.timeout(120_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-dpkg-'));
    try {
      fs.mkdirSync(path.join(dir, 'info'));
      fs.mkdirSync(path.join(dir, 'updates'));
      fs.writeFileSync(path.join(dir, 'available'), '');
      fc.assert(fc.property(STATUS, ({ text }) => {
        fs.writeFileSync(path.join(dir, 'status'), text);
        const got = parseDpkgStatus(text, '/var/lib/dpkg/status').packages.map((p) => `${p.name} ${p.version}`).sort();
        expect(got, text).to.deep.equal(dpkgOnDisk(dir));
      }), { numRuns: 120 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a vulnerable library left unpacked, or spelt in lower case, is reported', () => {
    const text = 'Package: libssl3\nStatus: install ok unpacked\nVersion: 3.0.11-1~deb12u1\nSource: openssl\n\npackage: libc6\nstatus: install ok installed\nversion: 2.36-9\n';
    expect(parseDpkgStatus(text, '/var/lib/dpkg/status').packages.map((p) => `${p.name} ${p.version} ${p.sourceName}`))
      .to.deep.equal(['libssl3 3.0.11-1~deb12u1 openssl', 'libc6 2.36-9 libc6']);
  });
});

describe('dpkg journal: /var/lib/dpkg/updates/NNNN is replayed over the status file by every dpkg run', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-dpkg-journal-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  let n = 0;

  /** Scans a one-layer image of these files with the real engine. */
  async function inventory(files: Record<string, string>) {
    const dir = path.join(tmp, `l${++n}`);
    writeLayout(dir, [gzLayer(await makeTar(Object.entries(files).map(([name, content]) => ({ name, content }))))]);
    const s = await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') });
    return s.platforms[0]!.inventory;
  }

  it('every package dpkg-query lists is in the inventory, and a journal makes the scan incomplete (fast-check, real dpkg)', async () => {
    const admin = path.join(tmp, 'admin');
    fs.mkdirSync(path.join(admin, 'info'), { recursive: true });
    fs.writeFileSync(path.join(admin, 'available'), '');
    await fc.assert(fc.asyncProperty(STATUS, fc.array(STATUS, { maxLength: 3 }), async (status, journal) => {
      fs.rmSync(path.join(admin, 'updates'), { recursive: true, force: true });
      fs.mkdirSync(path.join(admin, 'updates'));
      fs.writeFileSync(path.join(admin, 'status'), status.text);
      const files: Record<string, string> = { 'var/lib/dpkg/status': status.text };
      journal.forEach((j, i) => {
        const name = String(i).padStart(4, '0');
        fs.writeFileSync(path.join(admin, 'updates', name), j.text);
        files[`var/lib/dpkg/updates/${name}`] = j.text;
      });
      const inv = await inventory(files);
      const seen = new Set(inv.packages.filter((p) => p.analyzer === 'os/dpkg').map((p) => `${p.name} ${p.version}`));
      for (const p of dpkgOnDisk(admin)) expect(seen.has(p), `${p} (dpkg-query) not in the inventory`).to.equal(true);
      const d = inv.diagnostics.filter((x) => x.code === 'dpkg-journal');
      expect(d.length, 'one diagnostic per journal file').to.equal(journal.length);
      expect(d.every((x) => x.incomplete)).to.equal(true);
    }), { numRuns: 40 });
  });

  it('an empty updates directory, and a name dpkg does not read (tmp.i), change nothing', async () => {
    const inv = await inventory({ 'var/lib/dpkg/status': 'Package: a\nStatus: install ok installed\nVersion: 1.0\n', 'var/lib/dpkg/updates/tmp.i': 'Package: b\nStatus: install ok installed\nVersion: 1.0\n' });
    expect(inv.diagnostics.filter((x) => x.incomplete)).to.deep.equal([]);
    expect(inv.packages.map((p) => p.name)).to.deep.equal(['a']);
  });
});
