/**
 * A file is read under every name it is reachable by, for the analyzers whose findings depend on the
 * name: a jar whose version comes from its file name (no pom.properties, no version in the manifest),
 * and the `.env` password rule. A scanner of the unpacked tree (trivy or syft on the rootfs) meets a
 * hard link's every name as a file of its own, and a runtime opens a symlink's name; so `x.jar`
 * linked as `log4j-core-2.14.1.jar` is log4j-core 2.14.1, and `config/prod` linked as `.env` holds a
 * `.env` password. Debian's `foo-1.2.jar → foo.jar` links (the same package under both names) add
 * nothing and leave the scan complete. Real layers (tar, gzip, OCI layout) through the real engine.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Inventory } from '../../../src/core/index.js';
import { createMemoryLayerCache, scanTarget } from '../../../src/scan/engine.js';
import { isEnvFile } from '../../../src/scan/analyzers/secrets.js';
import { packageFromManifest } from '../../../src/scan/analyzers/java.js';
import { gzLayer, makeTar, storedZip, type TarEntry, writeLayout } from './layout-helper.js';


/** The manifest of a jar without pom.properties; `version` absent: the file name must supply it. */
const manifest = (version?: string) => ({ 'META-INF/MANIFEST.MF': `Manifest-Version: 1.0\r\nImplementation-Vendor-Id: org.apache.logging.log4j\r\n${version ? `Implementation-Version: ${version}\r\n` : ''}\r\n` });
const JAR = storedZip(manifest());
const ENV_TEXT = 'HOST=db\nDB_PASSWORD=s3cr3t-Value-77\n';

describe('scan: name-dependent findings under every name of a file (hard links, symlinks)', function () {
  this.timeout(120_000);
  let tmp: string;
  let n = 0;
  const cache = createMemoryLayerCache(256);
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-link-names-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function scan(layers: TarEntry[][]): Promise<Inventory> {
    const dir = path.join(tmp, `l${++n}`);
    writeLayout(dir, await Promise.all(layers.map(async (l) => gzLayer(await makeTar(l)))), { tag: 't' });
    return (await scanTarget(`oci:${dir}:t`, { layerCache: cache, inflateWorker: 'never', tmpDir: path.join(tmp, `s${n}`) })).platforms[0]!.inventory;
  }
  const maven = (inv: Inventory) => inv.packages.filter((p) => p.ecosystem === 'Maven').map((p) => `${p.path} ${p.name}@${p.version}`).sort();
  const envSecrets = (inv: Inventory) => inv.secrets.filter((s) => s.rule === 'env-password').map((s) => `${s.path}:${s.line}`).sort();
  const incomplete = (inv: Inventory) => inv.diagnostics.filter((d) => d.incomplete).map((d) => `${d.code} ${d.path ?? ''}`);

  const dirs: TarEntry[] = [{ name: 'opt/', type: 'directory' }, { name: 'app/', type: 'directory' }, { name: 'app/config/', type: 'directory' }];
  const LOG4J = 'org.apache.logging.log4j:log4j-core@2.14.1';

  it('x.jar linked as log4j-core-2.14.1.jar is log4j-core 2.14.1: hard link in the layer, hard link to a lower layer, symlink (absolute, relative)', async () => {
    const cases: Array<[string, TarEntry[][]]> = [
      ['hard link, same layer', [[...dirs, { name: 'opt/x.jar', content: JAR }, { name: 'opt/log4j-core-2.14.1.jar', type: 'link', linkname: 'opt/x.jar' }]]],
      ['hard link to a lower layer', [[...dirs, { name: 'opt/x.jar', content: JAR }], [{ name: 'opt/log4j-core-2.14.1.jar', type: 'link', linkname: 'opt/x.jar' }]]],
      ['symlink, relative', [[...dirs, { name: 'opt/x.jar', content: JAR }, { name: 'opt/log4j-core-2.14.1.jar', type: 'symlink', linkname: 'x.jar' }]]],
      ['symlink, absolute, upper layer', [[...dirs, { name: 'opt/x.jar', content: JAR }], [{ name: 'opt/log4j-core-2.14.1.jar', type: 'symlink', linkname: '/opt/x.jar' }]]],
      ['through a symlinked directory', [[...dirs, { name: 'srv/', type: 'directory' }, { name: 'srv/log4j-core-2.14.1.jar', content: JAR }], [{ name: 'opt/lib', type: 'symlink', linkname: '/srv' }]]],
    ];
    for (const [label, layers] of cases) {
      const inv = await scan(layers);
      expect(maven(inv).some((x) => x.endsWith(LOG4J)), `${label}: ${maven(inv).join(', ')}`).to.equal(true);
      expect(incomplete(inv), label).to.deep.equal([]);
    }
  });

  it("Debian's foo-1.2.jar → foo.jar links add nothing and leave the scan complete", async () => {
    const inv = await scan([[...dirs, { name: 'usr/', type: 'directory' }, { name: 'usr/share/', type: 'directory' }, { name: 'usr/share/java/', type: 'directory' },
      { name: 'usr/share/java/log4j-core.jar', content: storedZip(manifest('2.17.1')) }, { name: 'usr/share/java/log4j-core-2.17.1.jar', type: 'symlink', linkname: 'log4j-core.jar' }]]);
    expect(maven(inv)).to.deep.equal(['/usr/share/java/log4j-core.jar org.apache.logging.log4j:log4j-core@2.17.1']);
    expect(incomplete(inv)).to.deep.equal([]);
  });

  it('config/prod linked as .env holds a .env password: symlink, hard link in the layer and to a lower layer; a template name or no .env name holds none', async () => {
    const cases: Array<[string, TarEntry[][], string[]]> = [
      ['symlink', [[...dirs, { name: 'app/config/prod', content: ENV_TEXT }, { name: 'app/.env', type: 'symlink', linkname: 'config/prod' }]], ['/app/.env:2']],
      ['hard link, same layer', [[...dirs, { name: 'app/config/prod', content: ENV_TEXT }, { name: 'app/.env', type: 'link', linkname: 'app/config/prod' }]], ['/app/.env:2']],
      ['hard link to a lower layer', [[...dirs, { name: 'app/config/prod', content: ENV_TEXT }], [{ name: 'app/.env.production', type: 'link', linkname: 'app/config/prod' }]], ['/app/.env.production:2']],
      ['symlinked directory', [[...dirs, { name: 'srv/', type: 'directory' }, { name: 'srv/app.env', content: ENV_TEXT }], [{ name: 'opt/cfg', type: 'symlink', linkname: '/srv' }]], ['/srv/app.env:2']],
      ['.env file itself (once, not again under its link)', [[...dirs, { name: 'app/.env', content: ENV_TEXT }, { name: 'app/config/.env', type: 'symlink', linkname: '../.env' }]], ['/app/.env:2']],
      ['template name', [[...dirs, { name: 'app/config/prod', content: ENV_TEXT }, { name: 'app/.env.example', type: 'symlink', linkname: 'config/prod' }]], []],
      ['no .env name', [[...dirs, { name: 'app/config/prod', content: ENV_TEXT }, { name: 'app/settings', type: 'symlink', linkname: 'config/prod' }]], []],
    ];
    for (const [label, layers, want] of cases) {
      const inv = await scan(layers);
      expect(envSecrets(inv), label).to.deep.equal(want);
    }
  });

  it('property: the findings are the union of what each name of the file yields, however the names are linked', async () => {
    const jarName = fc.oneof(
      fc.constantFrom('x.jar', 'app.jar', 'log4j-core.jar'),
      fc.tuple(fc.constantFrom('log4j-core', 'lib', 'a-b'), fc.stringMatching(/^[0-9]{1,2}\.[0-9]{1,2}(?:\.[0-9]{1,2})?$/)).map(([a, v]) => `${a}-${v}.jar`),
    );
    const cfgName = fc.constantFrom('.env', 'prod', 'app.env', '.env.local', '.env.sample', 'settings.conf', 'x.env');
    const how = fc.constantFrom('hard-same', 'hard-lower', 'sym-rel', 'sym-abs-upper');
    await fc.assert(
      fc.asyncProperty(jarName, jarName, cfgName, cfgName, how, how, async (j1, j2, c1, c2, hj, hc) => {
        fc.pre(j1 !== j2 && c1 !== c2);
        const link = (kind: string, dir: string, from: string, to: string): { same: TarEntry[]; upper: TarEntry[] } => {
          const e: TarEntry = kind.startsWith('hard') ? { name: `${dir}/${from}`, type: 'link', linkname: `${dir}/${to}` } : { name: `${dir}/${from}`, type: 'symlink', linkname: kind === 'sym-rel' ? to : `/${dir}/${to}` };
          return kind === 'hard-same' || kind === 'sym-rel' ? { same: [e], upper: [] } : { same: [], upper: [e] };
        };
        const lj = link(hj, 'opt', j2, j1);
        const lc = link(hc, 'app', c2, c1);
        const inv = await scan([[...dirs, { name: `opt/${j1}`, content: JAR }, { name: `app/${c1}`, content: ENV_TEXT }, ...lj.same, ...lc.same], [...lj.upper, ...lc.upper]]);
        // The oracle: each name read on its own, as a scanner of the unpacked tree reads it.
        const coords = new Set([j1, j2].map((nm) => packageFromManifest({ 'Implementation-Vendor-Id': 'org.apache.logging.log4j' }, nm, nm)).filter((p) => p).map((p) => `${p!.name}@${p!.version}`));
        expect(new Set(maven(inv).map((x) => x.split(' ')[1]))).to.deep.equal(coords);
        expect(envSecrets(inv).length > 0).to.equal([c1, c2].some((nm) => isEnvFile(`/app/${nm}`)));
        expect(incomplete(inv)).to.deep.equal([]);
      }),
      { numRuns: 30 },
    );
  });
});
