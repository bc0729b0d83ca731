/**
 * dpkg refuses a status file with a field name of one byte (`2: x`, "user-defined field name too short")
 * or one starting with a hyphen (`-X: y`); the scanner read the rest of such a file and called it
 * complete. The oracle is the real dpkg-query: where it refuses the file, the scanner refuses it too;
 * where it reads it, the scanner lists the same packages.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parseDpkgStatus } from '../../../src/scan/analyzers/dpkg.js';
import { dpkgAdmindir, dpkgQuery } from '../../helpers/dpkg-query.js';

/** dpkg-query's `installed` only: the other records of these files are not installed ones. */
const INSTALLED: ReadonlySet<string> = new Set(['installed']);

describe('dpkg status: field names dpkg refuses', () => {
  let dir: string;
  before(() => {
    dir = dpkgAdmindir('pushgate-dpkg-names-');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('agrees with dpkg-query on stanzas with an extra field of a generated short name, or refuses them (fast-check, real dpkg)', function () {
    this.timeout(120_000);
    let dpkgRefused = 0;
    let read = 0;
    fc.assert(fc.property(fc.stringMatching(/^[-A-Za-z0-9#.]{1,3}$/), fc.nat(3), (name, at) => {
      const lines = ['Package: openssl', 'Status: install ok installed', 'Version: 1.1.1', 'Maintainer: m <m@example.org>'];
      lines.splice(at, 0, `${name}: x`);
      const text = `${lines.join('\n')}\n\nPackage: zlib1g\nStatus: install ok installed\nVersion: 1.2\n`;
      fs.writeFileSync(path.join(dir, 'status'), text);
      const want = dpkgQuery(dir, INSTALLED);
      const r = parseDpkgStatus(text, '/var/lib/dpkg/status');
      const refused = r.skipped.length + r.ambiguous.length > 0;
      if (want === undefined) {
        dpkgRefused++;
        expect(refused, `dpkg refuses ${JSON.stringify(text)}, pushgate judged it`).to.equal(true);
      } else if (!refused) {
        read++;
        // The epoch as a number: dpkg prints `00:` as `0:`; pushgate keeps the spelling and its matcher
        // compares epochs as numbers (the order is what counts, not the text).
        const epoch = (v: string) => v.replace(/^(\S+ )(\d+):/, (_m, n: string, e: string) => `${n}${Number(e)}:`);
        expect(r.packages.map((p) => epoch(`${p.name} ${p.version}`)).sort()).to.deep.equal(want.map(epoch));
      }
    }), { numRuns: 150 });
    expect(dpkgRefused, 'names dpkg refuses').to.be.greaterThan(10);
    expect(read, 'names both read').to.be.greaterThan(10);
  });
});

describe('dpkg status: versions dpkg refuses, in any record', () => {
  let dir: string;
  before(() => {
    dir = dpkgAdmindir('pushgate-dpkg-versions-');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a generated version on an installed record or on a record without Status: read as dpkg reads it, or refused (fast-check, real dpkg)', function () {
    this.timeout(120_000);
    let dpkgRefused = 0;
    let read = 0;
    fc.assert(fc.property(fc.stringMatching(/^[0-9a-z.:+~-]{1,7}$/), fc.boolean(), (version, selection) => {
      const text = selection
        ? `Package: decoy\nStatus: install ok installed\nVersion: 2.0\n\nPackage: openssl\nVersion: ${version}\n`
        : `Package: openssl\nStatus: install ok installed\nVersion: ${version}\nMaintainer: m <m@example.org>\nDescription: d\n`;
      fs.writeFileSync(path.join(dir, 'status'), text);
      const want = dpkgQuery(dir, INSTALLED);
      const r = parseDpkgStatus(text, '/var/lib/dpkg/status');
      const refused = r.skipped.length + r.ambiguous.length > 0;
      if (want === undefined) {
        dpkgRefused++;
        expect(refused, `dpkg refuses ${JSON.stringify(text)}, pushgate judged it`).to.equal(true);
      } else if (!refused) {
        read++;
        expect(r.packages.map((p) => `${p.name} ${p.version}`).sort()).to.deep.equal(want);
      }
    }), { numRuns: 200 });
    expect(dpkgRefused, 'versions dpkg refuses').to.be.greaterThan(10);
    expect(read, 'versions both read').to.be.greaterThan(10);
  });
});
