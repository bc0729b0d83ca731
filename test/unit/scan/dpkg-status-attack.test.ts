/**
 * A pusher hides a vulnerable Debian package while its files stay on disk: by writing its stanza's field
 * names in another case (`package:`, `VERSION:`; dpkg matches field names case-insensitively), or by
 * leaving it in a state dpkg reaches after unpacking its files (`install ok unpacked`, `half-configured`,
 * `triggers-pending`, …: libssl3 left `iU` is still the libssl.so.3 every program loads). The scanner
 * read only `Package`/`Version` spelt so and only `installed`. The oracle is the real dpkg-query reading
 * the same generated status files.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { parseDpkgStatus } from '../../../src/scan/analyzers/dpkg.js';

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
