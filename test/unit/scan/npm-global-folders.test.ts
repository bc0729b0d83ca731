/**
 * A pusher hides a vulnerable npm package from the scanner while Node still loads it: `require`
 * searches Node's global folders after every `node_modules` (Module.globalPaths: `$HOME/.node_modules`,
 * `$HOME/.node_libraries`, `$PREFIX/lib/node`), so `COPY lodash /root/.node_libraries/lodash` runs
 * lodash 4.17.4 for `require('lodash')` anywhere in the image, and the analyzer, which wanted only
 * `…/node_modules/…/package.json`, never read it. The oracle is the real node's resolution.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { npmAnalyzer } from '../../../src/scan/analyzers/npm.js';

const SEGMENT = fc.stringMatching(/^[a-z0-9_-]{1,8}$/);
const PACKAGE = fc.tuple(fc.option(SEGMENT, { nil: undefined }), SEGMENT.filter((s) => !s.startsWith('_'))).map(([scope, n]) => (scope ? `@${scope}/${n}` : n));

function wants(p: string): boolean {
  return npmAnalyzer.wants({ path: p, size: 100, mode: 0o644 });
}

describe('npm: packages in Node\'s global folders', () => {
  it('wants package.json of every package Node resolves from a global folder of a generated home (real node)', function () {
    this.timeout(60_000);
    const cases = fc.sample(fc.record({ home: fc.array(SEGMENT, { minLength: 1, maxLength: 3 }), dir: fc.constantFrom('.node_modules', '.node_libraries'), name: PACKAGE }), 30);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-npmg-'));
    try {
      const bad: string[] = [];
      cases.forEach((c, i) => {
        const home = path.join(root, `c${i}`, ...c.home);
        const pkg = path.join(home, c.dir, c.name);
        fs.mkdirSync(pkg, { recursive: true });
        fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: c.name, version: '4.17.4', main: 'index.js' }));
        fs.writeFileSync(path.join(pkg, 'index.js'), 'module.exports = 1;');
        const cwd = path.join(root, `c${i}`, 'app');
        fs.mkdirSync(cwd, { recursive: true });
        const r = spawnSync(process.execPath, ['-p', `require.resolve(${JSON.stringify(c.name)}) + '\\n' + require('module').globalPaths.join('\\n')`], { cwd, env: { PATH: process.env.PATH, HOME: home }, encoding: 'utf8' });
        expect(r.status, r.stderr).to.equal(0);
        const [resolved, ...globals] = r.stdout.trim().split('\n');
        expect(resolved).to.equal(path.join(pkg, 'index.js'));
        const imagePath = '/' + path.relative(root, path.join(pkg, 'package.json')).split(path.sep).join('/');
        if (!wants(imagePath)) bad.push(imagePath);
        // Every folder the real node searches globally (its prefix's lib/node too) is wanted.
        for (const g of globals) if (!wants(path.posix.join(g, c.name, 'package.json'))) bad.push(path.posix.join(g, c.name, 'package.json'));
      });
      expect(bad).to.deep.equal([]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('wants package.json beneath a global folder of any home and prefix (fast-check)', () => {
    fc.assert(fc.property(fc.array(SEGMENT, { maxLength: 4 }), fc.constantFrom('.node_modules', '.node_libraries', 'lib/node', 'node_modules'), PACKAGE, (base, dir, name) => {
      expect(wants(`/${[...base, dir, name, 'package.json'].join('/')}`)).to.equal(true);
    }), { numRuns: 500 });
  });
});
