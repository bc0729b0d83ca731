/**
 * Hostile link layouts against name-dependent findings (a `.env` password, a jar's version from its
 * file name): what a runtime reads under a name must be reported there, or the scan must say it is
 * incomplete. Real layers (tar, gzip, OCI layout) through the real engine.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Inventory } from '../../../src/core/index.js';
import { createMemoryLayerCache, scanTarget } from '../../../src/scan/engine.js';
import { isEnvFile } from '../../../src/scan/analyzers/secrets.js';
import { gzLayer, makeTar, storedZip, type TarEntry, writeLayout } from './layout-helper.js';


const JAR = storedZip({ 'META-INF/MANIFEST.MF': 'Manifest-Version: 1.0\r\nImplementation-Vendor-Id: org.apache.logging.log4j\r\n\r\n' });
const ENV_TEXT = 'HOST=db\nDB_PASSWORD=s3cr3t-Value-77\n';
const LOG4J = 'org.apache.logging.log4j:log4j-core@2.14.1';

describe('scan (attack): name-dependent findings cannot be hidden by link layouts', function () {
  this.timeout(120_000);
  let tmp: string;
  let n = 0;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-link-attack-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function scan(layers: TarEntry[][]): Promise<Inventory> {
    const dir = path.join(tmp, `l${++n}`);
    writeLayout(dir, await Promise.all(layers.map(async (l) => gzLayer(await makeTar(l)))), { tag: 't' });
    return (await scanTarget(`oci:${dir}:t`, { layerCache: createMemoryLayerCache(16), inflateWorker: 'never', tmpDir: path.join(tmp, `s${n}`) })).platforms[0]!.inventory;
  }
  const maven = (inv: Inventory) => inv.packages.filter((p) => p.ecosystem === 'Maven').map((p) => `${p.path} ${p.name}@${p.version}`).sort();
  const envSecrets = (inv: Inventory) => inv.secrets.filter((s) => s.rule === 'env-password').map((s) => `${s.path}:${s.line}`).sort();
  const incomplete = (inv: Inventory) => inv.diagnostics.filter((d) => d.incomplete).map((d) => `${d.code} ${d.path ?? ''}`);
  const dirs: TarEntry[] = [{ name: 'opt/', type: 'directory' }, { name: 'app/', type: 'directory' }, { name: 'app/config/', type: 'directory' }];

  /** The `.env` password is reported at the `.env` name, or the scan says it did not judge it. */
  const seenOrIncomplete = (inv: Inventory, at: string): boolean => envSecrets(inv).some((s) => s.startsWith(`${at}:`)) || incomplete(inv).length > 0;
  /** The labels of the cases whose `.env` password at /app/.env went unreported in a complete scan. */
  const hidden = async (cases: Array<[string, TarEntry[][]]>): Promise<string[]> => {
    const out: string[] = [];
    for (const [label, layers] of cases) if (!seenOrIncomplete(await scan(layers), '/app/.env')) out.push(label);
    return out;
  };

  it('a .env hard-linked through an intermediate name of another layer (prod ← mid ← .env across three layers): reported or incomplete', async () => {
    const cases: Array<[string, TarEntry[][]]> = [
      ['hard, hard', [[...dirs, { name: 'app/config/prod', content: ENV_TEXT }], [{ name: 'app/config/mid', type: 'link', linkname: 'app/config/prod' }], [{ name: 'app/.env', type: 'link', linkname: 'app/config/mid' }]]],
      ['hard, then symlink', [[...dirs, { name: 'app/config/prod', content: ENV_TEXT }], [{ name: 'app/config/mid', type: 'link', linkname: 'app/config/prod' }, { name: 'app/.env', type: 'symlink', linkname: 'config/mid' }]]],
      ['hard, whiteout of the first name, hard', [[...dirs, { name: 'app/config/prod', content: ENV_TEXT }], [{ name: 'app/config/mid', type: 'link', linkname: 'app/config/prod' }], [{ name: 'app/config/.wh.prod', content: '' }, { name: 'app/.env', type: 'link', linkname: 'app/config/mid' }]]],
    ];
    expect(await hidden(cases)).to.deep.equal([]);
  });

  it('property: a chain of hard links across layers (each link in a layer of its own, to the previous name) reports the .env password at the first .env name of the chain, and only at .env names', async () => {
    const names = fc.constantFrom('mid', 'prod', 'x.conf', '.env', '.env.local', 'app.env', '.env.example');
    await fc.assert(fc.asyncProperty(fc.array(names, { minLength: 1, maxLength: 4 }), async (chain) => {
      const layers: TarEntry[][] = [[...dirs, { name: 'app/config/f0', content: ENV_TEXT }]];
      chain.forEach((nm, i) => layers.push([{ name: `app/config/l${i + 1}/`, type: 'directory' }, { name: `app/config/l${i + 1}/${nm}`, type: 'link', linkname: i ? `app/config/l${i}/${chain[i - 1]}` : 'app/config/f0' }]));
      const inv = await scan(layers);
      // Reported at the first .env name of the chain (a .env name right after another is not reported
      // again, as for symlinks), and only at .env names.
      const envNames = chain.flatMap((nm, i) => (isEnvFile(`/${nm}`) ? [`/app/config/l${i + 1}/${nm}:2`] : []));
      const got = envSecrets(inv);
      if (envNames.length) expect(got).to.include(envNames[0]);
      expect(got.filter((x) => !envNames.includes(x)), 'reports at other names').to.deep.equal([]);
    }), { numRuns: 25 });
  });

  it('held: a jar hard-linked through a non-archive name of another layer is reported or incomplete', async () => {
    const inv = await scan([[...dirs, { name: 'opt/x.jar', content: JAR }], [{ name: 'opt/blob', type: 'link', linkname: 'opt/x.jar' }], [{ name: 'opt/log4j-core-2.14.1.jar', type: 'link', linkname: 'opt/blob' }]]);
    expect(maven(inv).some((x) => x.endsWith(LOG4J)) || incomplete(inv).length > 0, `${maven(inv).join(', ')} / ${incomplete(inv).join(', ')}`).to.equal(true);
  });

  it('held: a jar whose first name is whited out, or replaced later in the layer, keeps its version under the link', async () => {
    const cases: Array<[string, TarEntry[][]]> = [
      ['whiteout of the first name', [[...dirs, { name: 'opt/x.jar', content: JAR }], [{ name: 'opt/log4j-core-2.14.1.jar', type: 'link', linkname: 'opt/x.jar' }], [{ name: 'opt/.wh.x.jar', content: '' }]]],
      ['first name replaced in the same layer', [[...dirs, { name: 'opt/x.jar', content: JAR }, { name: 'opt/log4j-core-2.14.1.jar', type: 'link', linkname: 'opt/x.jar' }, { name: 'opt/x.jar', content: 'not a zip at all, replaced' }]]],
      ['symlink chain', [[...dirs, { name: 'opt/x.jar', content: JAR }, { name: 'opt/a', type: 'symlink', linkname: 'x.jar' }, { name: 'opt/b', type: 'symlink', linkname: 'a' }, { name: 'opt/log4j-core-2.14.1.jar', type: 'symlink', linkname: 'b' }]]],
    ];
    for (const [label, layers] of cases) {
      const inv = await scan(layers);
      expect(maven(inv).some((x) => x.endsWith(LOG4J)) || incomplete(inv).length > 0, `${label}: ${maven(inv).join(', ')} / ${incomplete(inv).join(', ')}`).to.equal(true);
    }
  });

  it('a small layer of one jar of 1,000 packages and 600 hard links to it does not make 600,000 package records in a complete scan (a few hundred KB push held gigabytes: 10,000 links ran the scanning process out of memory)', async function () {
    this.timeout(300_000);
    const files: Record<string, string> = {};
    for (let i = 0; i < 1000; i++) files[`META-INF/maven/g${i}/a${i}/pom.properties`] = `groupId=g${i}\nartifactId=a${i}\nversion=1.0.${i}\n`;
    const entries: TarEntry[] = [{ name: 'opt/', type: 'directory' }, { name: 'opt/fat.jar', content: storedZip(files) }];
    for (let i = 0; i < 600; i++) entries.push({ name: `opt/l${i}.jar`, type: 'link', linkname: 'opt/fat.jar' });
    const inv = await scan([entries]);
    expect(inv.packages.length <= 500_000 || incomplete(inv).length > 0, `${inv.packages.length} package records, incomplete: ${incomplete(inv).join(', ')}`).to.equal(true);
    expect(incomplete(inv).some((d) => d.startsWith('too-many-packages')), incomplete(inv).join(', ')).to.equal(true);
    // the same links in a layer above the jar's: the merge's copies are bounded alike
    const upper = await scan([entries.slice(0, 2), entries.slice(2)]);
    expect(upper.packages.length, 'copies through links to a lower layer').to.be.at.most(501_000);
    expect(incomplete(upper).some((d) => d.startsWith('too-many-packages')), incomplete(upper).join(', ')).to.equal(true);
  });
});

describe('scan (attack): package records bounded per image, not only per layer', function () {
  this.timeout(600_000);
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-hlate-')); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('two small layers, each a fat jar and 300 hard links within the layer (each under the 500,000 per layer), do not make 602,000 records in a complete scan (N layers would make N × 500,000)', async () => {
    const layers: TarEntry[][] = [];
    for (const k of [0, 1]) {
      const files: Record<string, string> = {};
      for (let i = 0; i < 1000; i++) files[`META-INF/maven/g${k}x${i}/a${i}/pom.properties`] = `groupId=g${k}x${i}\nartifactId=a${i}\nversion=1.0.${i}\n`;
      const entries: TarEntry[] = [{ name: `opt${k}/`, type: 'directory' }, { name: `opt${k}/fat.jar`, content: storedZip(files) }];
      for (let i = 0; i < 300; i++) entries.push({ name: `opt${k}/l${i}.jar`, type: 'link', linkname: `opt${k}/fat.jar` });
      layers.push(entries);
    }
    const dir = path.join(tmp, 'two');
    writeLayout(dir, await Promise.all(layers.map(async (l) => gzLayer(await makeTar(l)))), { tag: 't' });
    const inv = (await scanTarget(`oci:${dir}:t`, { layerCache: createMemoryLayerCache(16), inflateWorker: 'never', tmpDir: path.join(tmp, 's') })).platforms[0]!.inventory;
    const inc = inv.diagnostics.filter((d) => d.incomplete).map((d) => d.code);
    expect(inv.packages.length <= 500_000 || inc.length > 0, `${inv.packages.length} package records in a complete scan`).to.equal(true);
    expect(inc).to.include('too-many-packages');
  });
});
