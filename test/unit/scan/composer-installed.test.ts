/**
 * installed.json read as Composer reads it (Composer\Repository\FilesystemRepository and its
 * ArrayLoader): the oracle is Debian's composer package loading each generated file with PHP.
 * Composer takes the `packages` member when set, else the whole document, and iterates the values of
 * that JSON array or object; a scalar version is cast to a string.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { parseComposerInstalled } from '../../../src/scan/analyzers/composer.js';
import { scanTarget } from '../../../src/scan/engine.js';
import { gzLayer, makeTar, writeLayout } from './layout-helper.js';

/** Loads every file with Composer's own repository class; one `name<TAB>pretty version` list per file. */
const READ_PHP = `<?php
require '/usr/share/php/Composer/autoload.php';
$out = [];
foreach (array_slice($argv, 1) as $f) {
  $repo = new Composer\\Repository\\InstalledFilesystemRepository(new Composer\\Json\\JsonFile($f));
  $l = [];
  foreach ($repo->getPackages() as $p) $l[] = $p->getName() . "\\t" . $p->getPrettyVersion();
  $out[] = $l;
}
echo json_encode($out);
`;

const NAMES = ['guzzlehttp/guzzle', 'Symfony/Http-Kernel', 'monolog/monolog', 'laravel/framework'];
const pkg = fc.record({
  name: fc.constantFrom(...NAMES),
  version: fc.oneof(
    fc.constantFrom('6.3.0', 'v1.2.3', '2.0.0-beta1', 'dev-main'),
    fc.integer({ min: 0, max: 2 ** 40 }),
    fc.integer({ min: 1, max: 99_999 }).map((n) => n / 100),
    fc.constant(true),
  ),
  type: fc.constant('library'),
});
/** The shapes Composer reads a list from: its array, `packages` as an array or object, or the document as an object. */
const doc = fc.tuple(fc.array(pkg, { maxLength: 4 }), fc.constantFrom('array', 'packages-array', 'packages-object', 'object'), fc.boolean()).map(([list, shape, dev]) => {
  const obj = Object.fromEntries(list.map((p, i) => [`k${i}`, p]));
  if (shape === 'array') return list;
  if (shape === 'object') return obj;
  return { packages: shape === 'packages-array' ? list : obj, dev, 'dev-package-names': [] };
});

describe('scan: Composer installed.json as Composer reads it', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-composer-')); fs.writeFileSync(path.join(tmp, 'read.php'), READ_PHP); });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('lists the packages Composer loads, by name and pretty version (fast-check, real Composer)', () => {
    const docs = fc.sample(doc, { numRuns: 150, seed: Date.now() % 2 ** 31 });
    const files = docs.map((d, i) => {
      const f = path.join(tmp, `installed-${i}.json`);
      fs.writeFileSync(f, JSON.stringify(d));
      return f;
    });
    const composer = JSON.parse(execFileSync('php', [path.join(tmp, 'read.php'), ...files], { encoding: 'utf8' })) as string[][];
    docs.forEach((d, i) => {
      const ours = parseComposerInstalled(JSON.stringify(d), '/app/vendor/composer/installed.json').map((p) => `${p.name.toLowerCase()}\t${p.version}`).sort();
      expect(ours, JSON.stringify(d)).to.deep.equal([...composer[i]].sort());
    });
  });

  it('the engine reports guzzle 6.3.0 from an installed.json whose packages are an object', async () => {
    const dir = path.join(tmp, 'layout');
    const installed = { packages: { guzzle: { name: 'guzzlehttp/guzzle', version: '6.3.0', type: 'library' } }, dev: false, 'dev-package-names': [] };
    writeLayout(dir, [gzLayer(await makeTar([{ name: 'app/vendor/composer/installed.json', content: JSON.stringify(installed) }]))]);
    const inv = (await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') })).platforms[0].inventory;
    expect(inv.packages.filter((p) => p.ecosystem === 'Packagist').map((p) => `${p.name} ${p.version}`)).to.deep.equal(['guzzlehttp/guzzle 6.3.0']);
  });
});
