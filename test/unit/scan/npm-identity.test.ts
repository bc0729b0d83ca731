/**
 * An installed npm package is known by the folder Node loads it from as well as by its package.json name:
 * a renamed or nameless package.json in `node_modules/adm-zip` still reports adm-zip, and an npm alias
 * (`node_modules/zip` holding adm-zip) reports both. Checked on the analyzer and through the real engine
 * on generated OCI images.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { npmAnalyzer } from '../../../src/scan/analyzers/npm.js';
import { scanTarget } from '../../../src/scan/engine.js';
import { writeOciImage } from '../../helpers/oci-image.js';

const analyze = (p: string, json: object) =>
  npmAnalyzer.analyze!({ path: p, size: 0, mode: 0o644, content: Buffer.from(JSON.stringify(json)) } as never, {} as never) as { packages?: Array<{ name: string; version: string }>; diagnostics?: Array<{ code: string }> } | undefined;

describe('scan: lang/npm knows a package by the folder require() loads', () => {
  const cases: Array<[string, string, object, string[], boolean]> = [
    ['matching name', '/app/node_modules/adm-zip/package.json', { name: 'adm-zip', version: '0.4.7' }, ['adm-zip'], false],
    ['renamed package.json', '/app/node_modules/adm-zip/package.json', { name: 'zzz', version: '0.4.7' }, ['adm-zip', 'zzz'], true],
    ['no name', '/app/node_modules/adm-zip/package.json', { version: '0.4.7' }, ['adm-zip'], true],
    ['empty name', '/app/node_modules/adm-zip/package.json', { name: '', version: '0.4.7' }, ['adm-zip'], true],
    ['npm alias', '/app/node_modules/zip/package.json', { name: 'adm-zip', version: '0.4.7' }, ['adm-zip', 'zip'], true],
    ['scoped folder', '/app/node_modules/@acme/zip/package.json', { name: '@acme/zip', version: '1.0.0' }, ['@acme/zip'], false],
    ['scoped folder, other name', '/app/node_modules/@acme/zip/package.json', { name: 'adm-zip', version: '0.4.7' }, ['@acme/zip', 'adm-zip'], true],
    ['nested install', '/app/node_modules/a/node_modules/adm-zip/package.json', { name: 'x', version: '0.4.7' }, ['adm-zip', 'x'], true],
  ];
  for (const [what, p, json, names, noted] of cases) {
    it(`${what}: ${names.join(' + ')}`, () => {
      const out = analyze(p, json);
      expect(out?.packages?.map((x) => x.name).sort()).to.deep.equal(names);
      expect(out?.packages?.every((x) => x.version === (json as { version: string }).version)).to.equal(true);
      expect((out?.diagnostics ?? []).some((d) => d.code === 'npm-name-mismatch')).to.equal(noted);
    });
  }
  it('no version: nothing', () => {
    expect(analyze('/app/node_modules/adm-zip/package.json', { name: 'adm-zip' })).to.equal(undefined);
  });
  it('Debian\'s /usr/share/nodejs packages keep their package.json name', () => {
    expect(analyze('/usr/share/nodejs/foo/package.json', { name: 'bar', version: '1.0.0' })?.packages?.map((x) => x.name)).to.deep.equal(['bar']);
  });

  it('through the engine: a renamed adm-zip 0.4.7 is found as adm-zip', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-npm-id-'));
    try {
      const img = writeOciImage(dir, 'renamed', [{ files: { 'app/node_modules/adm-zip/package.json': JSON.stringify({ name: 'innocent', version: '0.4.7' }), 'app/node_modules/adm-zip/adm-zip.js': 'module.exports = {};\n' }, gzip: true }]);
      const inv = (await scanTarget(img.ref)).platforms[0].inventory;
      const npm = inv.packages.filter((p) => p.ecosystem === 'npm').map((p) => `${p.name}@${p.version}`).sort();
      expect(npm).to.deep.equal(['adm-zip@0.4.7', 'innocent@0.4.7']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
