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
import { composerVersionsDisagree, parseComposerInstalled } from '../../../src/scan/analyzers/composer.js';
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

/** Composer's VersionParser::normalize of each version (null where Composer refuses it). */
const NORMALIZE_PHP = `<?php
require '/usr/share/php/Composer/autoload.php';
$p = new Composer\\Semver\\VersionParser();
$out = [];
foreach (json_decode(file_get_contents($argv[1])) as $v) { try { $out[] = $p->normalize($v); } catch (\\Throwable $e) { $out[] = null; } }
echo json_encode($out);
`;

/** PHP's version_compare of each pair (as Composer's Constraint compares normalized versions). */
const COMPARE_PHP = `<?php
echo json_encode(array_map(fn ($p) => version_compare($p[0], $p[1]), json_decode(file_get_contents($argv[1]))));
`;

const num = fc.oneof(fc.integer({ min: 0, max: 12 }).map(String), fc.constantFrom('00', '01', '2010', '99'));
/** Pretty versions as packages tag them: numbers, `v`, wildcards, stabilities, patches, builds, branches, dates. */
const pretty = fc.oneof(
  fc.tuple(fc.constantFrom('', 'v', 'V'), fc.array(num, { minLength: 1, maxLength: 4 }), fc.constantFrom('', '.x-dev', '-dev', '-beta1', '-RC2', '-p1', '+build.7', '-alpha.1', '.*', 'RC1', '-rc.3', '.beta', '-b2', '-a', '-pl4', '-patch', '-stable', '-STABLE', '-beta1-dev', '.RC2.dev', '_alpha', '-alpha2+b.1')).map(([v, parts, tail]) => `${v}${parts.join('.')}${tail}`),
  fc.constantFrom('dev-main', 'dev-master', 'dev-feature/x', '2010-01-02', '20100102', 'master'),
);

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

  it('version_normalized: Composer\'s own normalization agrees; another release than version is named (fast-check, real Composer)', () => {
    const versions = fc.sample(pretty, { numRuns: 400, seed: Date.now() % 2 ** 31 });
    const f = path.join(tmp, 'versions.json');
    fs.writeFileSync(f, JSON.stringify(versions));
    fs.writeFileSync(path.join(tmp, 'normalize.php'), NORMALIZE_PHP);
    const normalized = JSON.parse(execFileSync('php', [path.join(tmp, 'normalize.php'), f], { encoding: 'utf8' })) as Array<string | null>;
    // the numeric release, a branch's 9999999 wildcard read as the 0 it pads (`2010.x-dev` is of 2010)
    const release = (n: string | null) => /^(\d+\.\d+\.\d+\.\d+)(?![\d.])/.exec(n ?? '')?.[1]?.replace(/\b9999999\b/g, '0');
    versions.forEach((v, i) => {
      if (normalized[i] === null) return;
      // what Composer writes itself is never named
      expect(composerVersionsDisagree(v, normalized[i]), `${v} -> ${normalized[i]}`).to.equal(false);
      // another version's normalization: named whenever it is another numeric release
      versions.forEach((w, j) => {
        if (j % 7 !== i % 7 || normalized[j] === null || release(normalized[j]) === undefined) return;
        if (release(normalized[j]) !== release(normalized[i])) expect(composerVersionsDisagree(v, normalized[j]), `${v} with ${normalized[j]}`).to.equal(true);
      });
    });
    // another stability of the same release (6.3.0 normalized 6.3.0.0-RC1 is a release candidate to
    // Composer): named whenever Composer orders the normalized version below the pretty one's own
    // normalization (Constraint compares normalized versions with version_compare), so that pushgate
    // would judge a later version than Composer does; branches aside
    const pairs: Array<[number, number]> = [];
    versions.forEach((_, i) => versions.forEach((__, j) => {
      const a = normalized[i];
      const b = normalized[j];
      if (a !== null && b !== null && !/9999999/.test(a + b) && release(a) !== undefined && release(a) === release(b)) pairs.push([i, j]);
    }));
    fs.writeFileSync(path.join(tmp, 'pairs.json'), JSON.stringify(pairs.map(([i, j]) => [normalized[i], normalized[j]])));
    fs.writeFileSync(path.join(tmp, 'compare.php'), COMPARE_PHP);
    const order = JSON.parse(execFileSync('php', [path.join(tmp, 'compare.php'), path.join(tmp, 'pairs.json')], { encoding: 'utf8', maxBuffer: 1 << 26 })) as number[];
    expect(order.some((c) => c > 0), 'the sample holds stabilities Composer orders apart').to.equal(true);
    pairs.forEach(([i, j], k) => {
      if (order[k]! > 0) expect(composerVersionsDisagree(versions[i]!, normalized[j]), `${versions[i]} with ${normalized[j]} (of ${versions[j]})`).to.equal(true);
    });
  });

  it('a number or boolean version is spelled as PHP casts it, or the package is named unread (fast-check, real Composer)', () => {
    // JSON literals as written (JSON.parse keeps none): PHP casts a float with 14 significant digits
    // (6.30000000000001 is "6.3", 1e14 "1.0E+14", 1e400 "INF"), keeps integers to 2^63 exactly, and
    // casts false to "": with version_normalized set Composer loads every one of them.
    const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[1-9][0-9]{${min},${max}}$`));
    const literal = fc.oneof(
      digits(0, 20),
      fc.tuple(fc.constantFrom('', '-'), digits(0, 8), fc.stringMatching(/^[0-9]{1,12}$/)).map(([s, i, f]) => `${s}${i}.${f}`),
      fc.tuple(digits(0, 3), fc.stringMatching(/^[0-9]{0,16}$/), fc.integer({ min: -12, max: 400 })).map(([i, f, e]) => `${i}${f ? `.${f}` : ''}e${e}`),
      fc.constantFrom('true', 'false', '""', '0', '-0', '-0.0', '1.0', '100000000000000', '1e14', '0.0001', '0.00001', '9007199254740993'),
    );
    const docs = fc.sample(fc.array(literal, { minLength: 1, maxLength: 5 }), { numRuns: 120, seed: Date.now() % 2 ** 31 });
    const texts = docs.map((lits) => `{"packages": [${lits.map((l, i) => `{"name": "v/p${i}", "version": ${l}, "version_normalized": "6.3.0.0", "type": "library"}`).join(', ')}]}`);
    const files = texts.map((t, i) => {
      const f = path.join(tmp, `numbers-${i}.json`);
      fs.writeFileSync(f, t);
      return f;
    });
    const composer = JSON.parse(execFileSync('php', [path.join(tmp, 'read.php'), ...files], { encoding: 'utf8' })) as string[][];
    texts.forEach((t, i) => {
      const unread: string[] = [];
      const ours = parseComposerInstalled(t, '/app/vendor/composer/installed.json', [], unread).map((p) => `${p.name}\t${p.version}`);
      const unreadNames = new Set(unread.map((u) => u.split(' ')[0]));
      // never another spelling than Composer's, and each package Composer loads is listed or named unread
      for (const o of ours) expect(composer[i], `${t}: ${o}`).to.include(o);
      for (const c of composer[i]!) expect(ours.includes(c) || unreadNames.has(c.split('\t')[0]!), `${t}: ${c}`).to.equal(true);
    });
  });

  it('the engine names a package whose version_normalized is another release', async () => {
    const dir = path.join(tmp, 'layout-normalized');
    const installed = { packages: [{ name: 'guzzlehttp/guzzle', version: '99.0.0', version_normalized: '6.3.0.0', type: 'library' }] };
    writeLayout(dir, [gzLayer(await makeTar([{ name: 'app/vendor/composer/installed.json', content: JSON.stringify(installed) }]))]);
    const inv = (await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') })).platforms[0].inventory;
    expect(inv.diagnostics.filter((d) => d.incomplete).map((d) => d.code)).to.deep.equal(['composer-version-mismatch']);
  });

  it('the engine reports guzzle 6.3.0 from an installed.json whose packages are an object', async () => {
    const dir = path.join(tmp, 'layout');
    const installed = { packages: { guzzle: { name: 'guzzlehttp/guzzle', version: '6.3.0', type: 'library' } }, dev: false, 'dev-package-names': [] };
    writeLayout(dir, [gzLayer(await makeTar([{ name: 'app/vendor/composer/installed.json', content: JSON.stringify(installed) }]))]);
    const inv = (await scanTarget(`oci:${dir}:test`, { tmpDir: path.join(tmp, 'scratch') })).platforms[0].inventory;
    expect(inv.packages.filter((p) => p.ecosystem === 'Packagist').map((p) => `${p.name} ${p.version}`)).to.deep.equal(['guzzlehttp/guzzle 6.3.0']);
  });
});
