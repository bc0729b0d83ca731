/**
 * package-lock edge cases real images carry (osv-scalibr's package-lock fixtures, test/fixtures/scan/npm-lock-edge/README.md):
 * aliases (`npm:real@1.2.3` in v1, `name` in v2) are the real package; git dependencies are reported as
 * ecosystem GIT at their commit, repository without credentials, and named `ecosystem-uncovered`.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { judgeScan } from '../../../src/gate/judge.js';
import { defaultPolicy } from '../../../src/policy/index.js';
import { lockPackages, parseGitSpec, parsePackageLock } from '../../../src/scan/analyzers/npm-lock.js';
import { scanTarget } from '../../../src/scan/engine.js';
import { updateDb, VulnDb } from '../../../src/vulndb/index.js';
import { ROOT } from '../../helpers/lab.js';
import { writeOciImage } from '../../helpers/oci-image.js';

const DIR = path.join(ROOT, 'test/fixtures/scan/npm-lock-edge');
const lock = (f: string) => parsePackageLock(fs.readFileSync(path.join(DIR, f), 'utf8'));

describe('scan: package-lock aliases and git dependencies', () => {
  it('an alias is its real package, in v1 and v2', () => {
    for (const f of ['alias.v1.json', 'alias.v2.json']) {
      expect(lock(f).map((e) => `${e.name}@${e.version}`).sort(), f).to.deep.equal(['@babel/code-frame@7.0.0', 'string-width@4.2.0', 'string-width@5.1.2']);
    }
  });

  it('git dependencies carry repository and commit, in v1 and v2; credentials in the URL are dropped', () => {
    for (const f of ['commits.v1.json', 'commits.v2.json']) {
      const entries = lock(f);
      const git = entries.filter((e) => e.git);
      expect(git.length, f).to.be.greaterThan(10);
      const byLoc = new Map(git.map((e) => [e.location.replace(/^node_modules\//, ''), e.git!]));
      expect(byLoc.get('is-number-5'), f).to.deep.equal({ repo: 'https://github.com/jonschlinkert/is-number', commit: 'af885e2e890b9ef0875edd2b117305119ee5bdc5' });
      expect(byLoc.get('raven-js'), f).to.deep.equal({ repo: 'https://github.com/getsentry/raven-js', commit: 'c2b377e7a254264fd4a1fe328e4e3cfc9e245570' });
      expect(JSON.stringify(lockPackages(entries, '/app/package-lock.json')), f).to.not.include('dummy-token');
      expect(entries.find((e) => e.name === 'ansi-styles')?.git, f).to.equal(undefined);
    }
    expect(parseGitSpec('github:jonschlinkert/is-number#d5ac0584ee9ae7bd9288220a39780f155b9ad4c8')).to.deep.equal({ repo: 'https://github.com/jonschlinkert/is-number', commit: 'd5ac0584ee9ae7bd9288220a39780f155b9ad4c8' });
    expect(parseGitSpec('gitlab:kornelski/babel-preset-php#c5a7ba5e0ad98b8db1cb8ce105403dd4b768cced')?.repo).to.equal('https://gitlab.com/kornelski/babel-preset-php');
    expect(parseGitSpec('git://github.com/brianfryer/slick.git#280b560161b751ba226d50c7db1e0a14a78c2de0')?.repo).to.equal('https://github.com/brianfryer/slick');
    expect(parseGitSpec('https://registry.npmjs.org/ansi-styles/-/ansi-styles-1.0.0.tgz')).to.equal(undefined);
    expect(parseGitSpec('1.2.3')).to.equal(undefined);
  });

  it('in an image: git dependencies are GIT packages named ecosystem-uncovered, never matched as npm releases', async function () {
    this.timeout(60_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-npm-edge-'));
    try {
      await updateDb({ path: path.join(dir, 'v.sqlite'), sources: [path.join(ROOT, 'test/fixtures/vulndb/osv/npm')] });
      const vdb = VulnDb.open(path.join(dir, 'v.sqlite'));
      const { ref } = writeOciImage(dir, 'img', [{ files: { 'app/package-lock.json': fs.readFileSync(path.join(DIR, 'commits.v2.json')) } }]);
      const r = judgeScan(await scanTarget(ref, { tmpDir: dir }), vdb, defaultPolicy()).report;
      vdb.close();
      const git = r.packages.filter((p) => p.ecosystem === 'GIT');
      expect(git.map((p) => `${p.sourceName} ${p.name}@${p.version}`)).to.include('is-number-5 https://github.com/jonschlinkert/is-number@af885e2e890b9ef0875edd2b117305119ee5bdc5');
      expect(JSON.stringify(r)).to.not.include('dummy-token');
      const d = r.diagnostics.filter((x) => x.code === 'ecosystem-uncovered');
      expect(d.map((x) => [x.ecosystem, x.packages])).to.deep.equal([['GIT', git.length]]);
      expect(d[0].message).to.include('GIT ranges are not evaluated');
      expect(r.coverage?.find((c) => c.ecosystem === 'npm')?.covered).to.equal(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
