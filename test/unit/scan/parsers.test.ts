/**
 * Analyzer parsers against test/fixtures/scan/parsers (inputs from trivy and go-rpmdb at pinned
 * commits; expected values produced by the real tools: dpkg-query, rpm, npm's arborist, Python's
 * email parser; see that folder's PROVENANCE.md).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../../helpers/lab.js';
import { parseDpkgStatus } from '../../../src/scan/analyzers/dpkg.js';
import { parseApkInstalled } from '../../../src/scan/analyzers/apk.js';
import { parsePackageLock } from '../../../src/scan/analyzers/npm-lock.js';
import { parsePythonMetadata } from '../../../src/scan/analyzers/python.js';
import { readRpmSqlite, rpmPackages } from '../../../src/scan/analyzers/rpm.js';
import { parseYarnLock } from '../../../src/scan/analyzers/yarn-lock.js';
import { parsePnpmLock } from '../../../src/scan/analyzers/pnpm-lock.js';
import { findSecrets } from '../../../src/scan/analyzers/secrets.js';
import { osvEcosystem, parseKeyValues } from '../../../src/scan/analyzers/os-release.js';
import { formatPurl, npmPurl } from '../../../src/scan/purl.js';
import { checkConfig, isRootUser } from '../../../src/scan/config-checks.js';
import { redactDocument } from '../../../src/scan/config-secrets.js';

const FIX = path.join(ROOT, 'test/fixtures/scan/parsers');
const cases = (kind: string) => fs.readdirSync(path.join(FIX, kind)).filter((d) => fs.existsSync(path.join(FIX, kind, d, 'expected.json')));
const expected = <T>(kind: string, c: string) => JSON.parse(fs.readFileSync(path.join(FIX, kind, c, 'expected.json'), 'utf8')) as T;

describe('scan analyzers: parser fixtures', () => {
  describe('dpkg status (expected by dpkg-query 1.21)', () => {
    for (const c of cases('dpkg')) {
      it(c, () => {
        const exp = expected<{ packages: Array<{ name: string; version: string; source_name: string; source_version: string; arch: string; installed: boolean }> }>('dpkg', c);
        const text = fs.readFileSync(path.join(FIX, 'dpkg', c, 'status'), 'utf8');
        const got = parseDpkgStatus(text, '/var/lib/dpkg/status').packages
          .map((p) => `${p.name} ${p.version} ${p.sourceName} ${p.sourceVersion} ${p.arch}`).sort();
        const want = exp.packages.filter((p) => p.installed).map((p) => `${p.name} ${p.version} ${p.source_name} ${p.source_version} ${p.arch}`).sort();
        expect(got).to.deep.equal(want);
      });
    }
  });

  describe('apk installed', () => {
    for (const c of cases('apk')) {
      it(c, () => {
        const exp = expected<{ packages: Array<{ name: string; version: string | null; arch: string | null; origin: string | null }> }>('apk', c);
        const { packages, owned } = parseApkInstalled(fs.readFileSync(path.join(FIX, 'apk', c, 'installed'), 'utf8'), '/lib/apk/db/installed');
        const want = exp.packages.filter((p) => p.version).map((p) => `${p.name} ${p.version} ${p.arch} ${p.origin ?? p.name}`).sort();
        expect(packages.map((p) => `${p.name} ${p.version} ${p.arch} ${p.sourceName}`).sort()).to.deep.equal(want);
        expect(owned.some((o) => o.files.some((f) => f.startsWith('/')))).to.equal(true);
      });
    }
  });

  describe('package-lock.json (expected by npm arborist loadVirtual)', () => {
    for (const c of cases('npm-lock')) {
      it(c, () => {
        const exp = expected<{ packages: Array<{ name: string; version: string | null; location: string; link: boolean }> }>('npm-lock', c);
        const got = parsePackageLock(fs.readFileSync(path.join(FIX, 'npm-lock', c, 'package-lock.json'), 'utf8'));
        const want = exp.packages.filter((p) => !p.link && p.version).map((p) => `${p.name}@${p.version} ${p.location}`).sort();
        expect(got.map((e) => `${e.name}@${e.version} ${e.location}`).sort()).to.deep.equal(want);
      });
    }
  });

  describe('Python core metadata (expected by Python email parser)', () => {
    for (const c of cases('python-metadata')) {
      it(c, () => {
        const exp = expected<{ name: string; version: string; normalized_name: string }>('python-metadata', c);
        const p = parsePythonMetadata(fs.readFileSync(path.join(FIX, 'python-metadata', c, 'METADATA'), 'utf8'), '/x/METADATA')!;
        // Python's parser keeps trailing blanks (`simple `); the analyzer trims them, as pip's canonical name does.
        expect([p.name, p.version]).to.deep.equal([exp.name.trim(), exp.version]);
        expect(p.purl).to.equal(formatPurl({ type: 'pypi', name: exp.normalized_name.trim(), version: exp.version }));
      });
    }
  });

  describe('rpm sqlite (expected by rpm 4.18 -qa)', () => {
    it('cbl-mariner-2.0/rpmdb.sqlite: 129 packages with epoch, version, release, arch, source rpm', () => {
      const exp = expected<{ packages: Array<{ name: string; epoch: number | null; version: string; release: string; arch: string; source_rpm: string }> }>('rpm', 'cbl-mariner-2.0');
      // A copy without the -wal/-shm files, as a layer would carry the database.
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-rpm-'));
      try {
        fs.copyFileSync(path.join(FIX, 'rpm/cbl-mariner-2.0/rpmdb.sqlite'), path.join(tmp, 'rpmdb.sqlite'));
        const headers = readRpmSqlite(path.join(tmp, 'rpmdb.sqlite'));
        const got = headers.map((h) => `${h.name} ${h.epoch ?? ''} ${h.version} ${h.release} ${h.arch} ${h.sourceRpm}`).sort();
        const want = exp.packages.map((p) => `${p.name} ${p.epoch ?? ''} ${p.version} ${p.release} ${p.arch} ${p.source_rpm}`).sort();
        expect(got).to.deep.equal(want);
        const pk = rpmPackages(headers, '/var/lib/rpm/rpmdb.sqlite');
        const glibc = pk.find((p) => p.name === 'glibc')!;
        expect(glibc.sourceName).to.equal('glibc');
        expect(headers.find((h) => h.name === 'glibc')!.files).to.include('/lib64/ld-linux-x86-64.so.2');
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    });
  });
});

describe('scan analyzers: small tables', () => {
  it('yarn.lock v1 and berry', () => {
    const v1 = '# yarn lockfile v1\n\n"@babel/core@^7.0.0", "@babel/core@^7.1.0":\n  version "7.2.0"\n  resolved "x"\n\nlodash@^4.17.0:\n  version "4.17.15"\n';
    expect(parseYarnLock(v1).map((e) => `${e.name}@${e.version}`)).to.deep.equal(['@babel/core@7.2.0', 'lodash@4.17.15']);
    const berry = '__metadata:\n  version: 6\n\n"lodash@npm:^4.17.0":\n  version: 4.17.21\n\n"app@workspace:.":\n  version: 0.0.0-use.local\n';
    expect(parseYarnLock(berry).map((e) => `${e.name}@${e.version}`)).to.deep.equal(['lodash@4.17.21']);
  });

  it('pnpm-lock.yaml v5, v6 and v9 keys', () => {
    expect(parsePnpmLock('lockfileVersion: 5.4\npackages:\n  /lodash/4.17.15:\n    resolution: {integrity: x}\n  /@types/node/18.0.0_foo@1.0.0:\n    dev: true\n').map((e) => `${e.name}@${e.version}`))
      .to.deep.equal(['lodash@4.17.15', '@types/node@18.0.0']);
    expect(parsePnpmLock("lockfileVersion: '9.0'\npackages:\n  minimist@1.2.0:\n    resolution: {integrity: x}\n  '@scope/a@2.0.0(react@18.0.0)':\n    resolution: {integrity: y}\n").map((e) => `${e.name}@${e.version}`))
      .to.deep.equal(['minimist@1.2.0', '@scope/a@2.0.0']);
  });

  it('secrets: each rule fires on its shape, generic password= does not, values are redacted', () => {
    const gh = 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8';
    const gl = 'glpat-' + 'Ab3dEf6hIj9lMn2pQr5t';
    const text = ['password=hunter2hunter2', `token: ${gh}`, `GITLAB=${gl}`, 'nothing here'].join('\n');
    const f = findSecrets(text, '/etc/app.conf');
    expect(f.map((s) => `${s.rule}:${s.line}`)).to.deep.equal(['github-token:2', 'gitlab-token:3']);
    expect(JSON.stringify(f)).to.not.include(gh.slice(4)).and.not.include(gl.slice(6));
    expect(findSecrets('-----BEGIN RSA PRIVATE KEY-----\n(see the manual)\n', '/doc')).to.deep.equal([]);
  });

  it('os-release → OSV ecosystem', () => {
    expect(parseKeyValues('ID="rocky"\nVERSION_ID="9.3"\n# c\nPRETTY_NAME=\'Rocky Linux 9.3\'\n')).to.deep.include({ ID: 'rocky', VERSION_ID: '9.3', PRETTY_NAME: 'Rocky Linux 9.3' });
    const t: Array<[string, string | undefined, string | undefined]> = [
      ['debian', '12', 'Debian:12'], ['ubuntu', '22.04', 'Ubuntu:22.04:LTS'], ['ubuntu', '24.10', 'Ubuntu:24.10'], ['alpine', '3.19.1', 'Alpine:v3.19'], ['rhel', '9.3', 'Red Hat:enterprise_linux:9'],
      ['rocky', '9.3', 'Rocky Linux:9'], ['almalinux', '9.2', 'AlmaLinux:9'], ['sles', '15.5', 'SUSE:Linux Enterprise Server 15 SP5'],
      ['wolfi', '20230201', 'Wolfi'], ['amzn', '2023', undefined], ['centos', '8', undefined], ['plan9', '4', undefined],
    ];
    for (const [id, v, eco] of t) expect(osvEcosystem(id, v), id).to.equal(eco);
  });

  it('purls: npm scopes, deb qualifiers', () => {
    expect(npmPurl('@babel/core', '7.2.0')).to.equal('pkg:npm/%40babel/core@7.2.0');
    expect(formatPurl({ type: 'deb', namespace: 'debian', name: 'libc6', version: '2.36-9+deb12u4', qualifiers: { distro: 'debian-12', arch: 'amd64' } }))
      .to.equal('pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12');
  });

  it('config checks: root users, admin and privileged ports, age, Env secrets', () => {
    for (const u of ['', 'root', '0', '0:0', 'root:root']) expect(isRootUser(u), u).to.equal(true);
    for (const u of ['1000', 'node', '1000:0']) expect(isRootUser(u), u).to.equal(false);
    const akid = 'AKIA' + 'ABCDEFGHJKLMNPQR';
    const cfg = redactDocument({ created: '2020-01-01T00:00:00Z', config: { User: 'app', ExposedPorts: { '22/tcp': {}, '80/tcp': {}, '8080/tcp': {} }, Env: [`AWS_ACCESS_KEY_ID=${akid}`] } }, 'config');
    const r = checkConfig(cfg.doc, { now: new Date('2026-01-01T00:00:00Z') });
    expect(r.config.map((c) => c.check)).to.deep.equal(['exposed-admin-port', 'exposed-privileged-port', 'no-healthcheck', 'image-age']);
    expect(cfg.secrets.map((s) => `${s.rule} ${s.path}`)).to.deep.equal(['aws-access-key-id config:Env[0]']);
    expect(JSON.stringify([r, cfg])).to.not.include(akid);
  });
});
