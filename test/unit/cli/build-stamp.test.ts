/**
 * bin/pushgate.js runs dist/ only while it is the build of the sources as they are (bin/build-stamp.js):
 * a stale dist/ is never run. A scratch checkout with the real bin/ files, a src/cli/main.ts and a
 * dist/cli/main.js that each print which one ran, and node_modules linked to this repository's
 * (for tsx); the stamp is written by the same function scripts/build.mjs uses.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../../helpers/lab.js';
// @ts-expect-error plain JavaScript module without type declarations
import { buildInputs, contentFingerprint, distIsCurrent, writeStamp } from '../../../bin/build-stamp.js';

describe('bin/pushgate.js: dist/ only while it matches the sources', function () {
  this.timeout(60_000);
  let root: string;

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-stamp-'));
    fs.mkdirSync(path.join(root, 'bin'));
    for (const f of ['pushgate.js', 'build-stamp.js', 'package.json']) fs.copyFileSync(path.join(ROOT, 'bin', f), path.join(root, 'bin', f));
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ type: 'module' }));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
    fs.mkdirSync(path.join(root, 'src/cli'), { recursive: true });
    fs.writeFileSync(path.join(root, 'src/cli/main.ts'), "const ran: string = 'sources';\nprocess.stdout.write(ran);\n");
    fs.writeFileSync(path.join(root, 'src/cli/other.ts'), 'export const x = 1;\n');
    fs.mkdirSync(path.join(root, 'dist/cli'), { recursive: true });
    fs.writeFileSync(path.join(root, 'dist/cli/main.js'), "process.stdout.write('dist');\n");
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const build = () => expect(writeStamp(root, contentFingerprint(root, buildInputs(root)))).to.equal(true);
  const ran = (env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin/pushgate.js')], { encoding: 'utf8', env: { ...process.env, PUSHGATE_USE_DIST: '', ...env } });
    expect(r.status, r.stderr).to.equal(0);
    return r.stdout;
  };

  it('no stamp (never built, or tsc failed): the sources run', () => {
    expect(ran()).to.equal('sources');
  });

  it('a current stamp: dist/ runs', () => {
    build();
    expect(distIsCurrent(root)).to.equal(true);
    expect(ran()).to.equal('dist');
  });

  it('a source edited after the build, even to the same size with its old mtime: the sources run', () => {
    build();
    const f = path.join(root, 'src/cli/other.ts');
    const st = fs.statSync(f);
    fs.writeFileSync(f, 'export const x = 2;\n');
    fs.utimesSync(f, st.atime, st.mtime);
    expect(distIsCurrent(root)).to.equal(false);
    expect(ran()).to.equal('sources');
  });

  it('a source added or removed, or tsconfig.json changed: the sources run', () => {
    build();
    fs.writeFileSync(path.join(root, 'src/cli/new.ts'), '');
    expect(ran()).to.equal('sources');
    fs.rmSync(path.join(root, 'src/cli/new.ts'));
    expect(ran()).to.equal('dist');
    fs.rmSync(path.join(root, 'src/cli/other.ts'));
    expect(ran()).to.equal('sources');
    build();
    fs.writeFileSync(path.join(root, 'tsconfig.json'), '{}');
    expect(ran()).to.equal('sources');
  });

  it('files touched or copied without a change (new mtime and ctime, same bytes): dist/ still runs', () => {
    build();
    const f = path.join(root, 'src/cli/other.ts');
    fs.writeFileSync(f, fs.readFileSync(f));
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(f, later, later);
    expect(ran()).to.equal('dist');
  });

  it('sources changed while compiling: no stamp is written', () => {
    const before = contentFingerprint(root, buildInputs(root));
    fs.writeFileSync(path.join(root, 'src/cli/other.ts'), 'export const x = 3;\n');
    expect(writeStamp(root, before)).to.equal(false);
    expect(ran()).to.equal('sources');
  });

  it('PUSHGATE_USE_DIST=1 runs dist/ without looking; a checkout with no dist/ runs the sources', () => {
    expect(ran({ PUSHGATE_USE_DIST: '1' })).to.equal('dist');
    fs.rmSync(path.join(root, 'dist'), { recursive: true });
    expect(ran()).to.equal('sources');
  });
});
