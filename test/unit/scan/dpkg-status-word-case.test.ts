/**
 * A pusher hides an installed Debian package by spelling its Status words in another case
 * (`install ok Installed`): dpkg matches them case-insensitively (lib/dpkg/namevalue.c
 * namevalue_find_by_name uses strncasecmp), so dpkg and dpkg-query see the package installed; the
 * scanner compared the state word as written and left the package out.
 */
import { expect } from 'chai';
import { parseDpkgStatus } from '../../../src/scan/analyzers/dpkg.js';

const stanza = (status: string) => `Package: openssl\nStatus: ${status}\nVersion: 3.0.11-1~deb12u2\n\n`;

describe('dpkg: status words in any case', () => {
  for (const status of ['install ok Installed', 'Install OK INSTALLED', 'hold ok Unpacked', 'install ok Half-Configured', 'install ok TRIGGERS-PENDING']) {
    it(`"${status}" counts as on disk`, () => {
      expect(parseDpkgStatus(stanza(status), '/var/lib/dpkg/status').packages.map((p) => p.name)).to.deep.equal(['openssl']);
    });
  }
  for (const status of ['deinstall ok Config-Files', 'purge ok NOT-INSTALLED']) {
    it(`"${status}" does not`, () => {
      expect(parseDpkgStatus(stanza(status), '/var/lib/dpkg/status').packages).to.deep.equal([]);
    });
  }
});
