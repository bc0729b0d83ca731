/**
 * apk-tools 3 reads two installed databases: it opens every database layer (database.c `apk_db_open` calls
 * `apk_db_read_layer` for each of `APK_DB_LAYER_NUM`, named by `apk_db_layer_name`: `lib/apk/db` and
 * `lib/apk/db-uvol`) and lists the packages of both as installed. A pusher who moved the record of a
 * vulnerable package from `/lib/apk/db/installed` to `/lib/apk/db-uvol/installed` left it installed to
 * `apk info` (the files are on disk in either case) and unseen by the scan, which read only the first
 * file: complete, no finding. No apk-tools runs here (Debian has no package of it); the rule is its
 * source, at the commit named in the fixture README of the apk tests. The second layer's directory is
 * normally a symlink apk-tools makes to the uvol target (`setup_uvol_target`), so it is tried both ways.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scanTarget } from '../../../src/scan/engine.js';
import { gzLayer, makeTar, writeLayout, type TarEntry } from './layout-helper.js';

const PKGS = [['musl', '1.2.4-r2'], ['busybox', '1.36.1-r15'], ['libcrypto3', '3.1.0-r0'], ['libssl3', '3.1.0-r0'], ['zlib', '1.2.13-r1'], ['alpine-release', '3.19.1-r0']] as const;

function stanza([name, version]: readonly [string, string]): string {
  return `C:Q1${name.padEnd(27, 'a').slice(0, 27)}=\nP:${name}\nV:${version}\nA:x86_64\nS:1000\nI:4096\no:${name}\nF:usr/lib\nR:lib${name}.so\n`;
}

describe('apk: every installed database layer apk-tools reads', function () {
  this.timeout(120_000);
  let tmp: string;
  let n = 0;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-apk-layers-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('property: the packages of both databases are the image\'s, whichever holds each and however the second is reached (fast-check)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.boolean(), { minLength: PKGS.length, maxLength: PKGS.length }),
      fc.constantFrom('dir', 'symlink', 'absolute-symlink'),
      fc.boolean(),
      async (inUvol, how, twoLayers) => {
        const root = PKGS.filter((_, i) => !inUvol[i]).map(stanza).join('\n');
        const uvol = PKGS.filter((_, i) => inUvol[i]).map(stanza).join('\n');
        const base: TarEntry[] = [{ name: 'etc/os-release', content: 'ID=alpine\nVERSION_ID=3.19.1\n' }, { name: 'lib/apk/db/installed', content: root }];
        const second: TarEntry[] = how === 'dir'
          ? [{ name: 'lib/apk/db-uvol/installed', content: uvol }]
          : [{ name: 'lib/apk/db-uvol', type: 'symlink', linkname: how === 'symlink' ? '../../var/lib/uvol-db' : '/var/lib/uvol-db' }, { name: 'var/lib/uvol-db/installed', content: uvol }];
        const layers = twoLayers ? [base, second] : [[...base, ...second]];
        const dir = path.join(tmp, `i${n++}`);
        writeLayout(dir, await Promise.all(layers.map(async (l) => gzLayer(await makeTar(l)))));
        const inv = (await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') })).platforms[0]!.inventory;
        const got = [...new Set(inv.packages.filter((p) => p.ecosystem.startsWith('Alpine')).map((p) => `${p.name} ${p.version}`))].sort();
        const incomplete = inv.diagnostics.filter((d) => d.incomplete).map((d) => d.code);
        if (how === 'dir') {
          expect(got, `${how} ${twoLayers}`).to.deep.equal(PKGS.map(([a, b]) => `${a} ${b}`).sort());
          expect(incomplete, `${how} ${twoLayers}`).to.deep.equal([]);
        } else if (inUvol.some(Boolean)) {
          // A database reached through a directory symlink is not read under its name: never complete
          // without its packages (the link rule of merge.ts, package-db-link).
          expect(incomplete, `${how} ${twoLayers}`).to.include('package-db-link');
        }
      },
    ), { numRuns: 30 });
  });
});
