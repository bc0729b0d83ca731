/**
 * The symlink-alias walk made cheaper in 1284f1d4 (per-directory dispatch, results asked of the
 * node) against the stacking just before it (./oracle/merge-a94069e8.ts): generated layer stacks
 * with what the alias oracle does not generate - whiteouts of link targets and of links, opaque
 * directories, hard links to links and files, link chains across layers, `..` and absolute links,
 * case variants, package databases reached under an alias - must give the same stacking.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ANALYZERS } from '../../../src/scan/analyzers/index.js';
import { stackLayers } from '../../../src/scan/merge.js';
import { LayerWalker, type LayerAnalysis, type WalkEntry } from '../../../src/scan/walker.js';
import { stackLayers as stackLayersBefore } from './oracle/merge-a94069e8.js';
import { storedZip } from './layout-helper.js';

const ENV_TEXT = Buffer.from('HOST=db\nDB_PASSWORD=s3cr3t-Value-77\n');
const JAR = storedZip({ 'META-INF/MANIFEST.MF': 'Manifest-Version: 1.0\r\nImplementation-Vendor-Id: org.apache.logging.log4j\r\nImplementation-Title: log4j-core\r\n\r\n' });
const STATUS = Buffer.from('Package: apt\nStatus: install ok installed\nVersion: 2.6.1\nArchitecture: amd64\n\nPackage: openssl\nStatus: install ok installed\nVersion: 3.0.2\nArchitecture: amd64\n\n');
const APK = Buffer.from('P:musl\nV:1.2.3-r0\nA:x86_64\n\nP:busybox\nV:1.36.1-r2\n\n');
const OS_RELEASE = Buffer.from('ID=debian\nVERSION_ID="12"\n');
const PKG_JSON = Buffer.from('{"name":"lodash","version":"4.17.20"}');

type Spec = Omit<WalkEntry, 'size' | 'mode'> & { content?: Buffer };

async function analysed(entries: Spec[]): Promise<LayerAnalysis> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-alias-walk-'));
  try {
    const w = new LayerWalker(ANALYZERS, { version: 't', tmpDir: tmp });
    for (const e of entries) await w.entry({ ...e, size: e.content?.length ?? 0, mode: 0o644 }, e.content ? Readable.from([e.content]) : null);
    return JSON.parse(JSON.stringify(w.result())) as LayerAnalysis;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function shown(s: ReturnType<typeof stackLayers>): unknown {
  return {
    placed: s.placed.map((x) => JSON.stringify([x.r.path, x.r.analyzer, x.layer ?? null, x.r.out])).sort(),
    diagnostics: s.diagnostics.map((d) => JSON.stringify(d)),
    rest: JSON.stringify({ ...s, placed: undefined, diagnostics: undefined }),
  };
}

describe('scan: the symlink-alias walk gives what the stacking before 1284f1d4 gave', function () {
  this.timeout(600_000);

  it('property: whiteouts, opaque dirs, hard links, cross-layer link chains, case, package databases under aliases: same stacking', async () => {
    const seg = fc.constantFrom('app', 'var', 'lib', 'dpkg', 'usr', 'etc', 'opt', 'Var', 'apk', 'db', 'node_modules', 'lodash');
    const dir = fc.array(seg, { minLength: 0, maxLength: 4 }).map((s) => s.join('/'));
    const fileName = fc.constantFrom('.env', 'log4j-core-2.14.1.jar', 'x.jar', 'status', 'installed', 'os-release', 'package.json', 'notes.txt');
    const content = (n: string): Buffer => n.endsWith('.jar') ? JAR : n === 'status' ? STATUS : n === 'installed' ? APK : n === 'os-release' ? OS_RELEASE : n === 'package.json' ? PKG_JSON : n === 'notes.txt' ? Buffer.from('x\n') : ENV_TEXT;
    const anyPath = fc.oneof(
      fc.tuple(dir, fileName).map(([d, n]) => (d ? `${d}/${n}` : n)),
      dir.filter((d) => d.length > 0),
      fc.constantFrom('var/lib/dpkg/status', 'var/lib/dpkg', 'var/lib', 'lib/apk/db/installed', 'lib/apk/db', 'etc/os-release', 'usr/lib/os-release', 'app/node_modules/lodash/package.json'),
    );
    const file = fc.oneof(
      fc.tuple(dir, fileName).map(([d, n]): Spec => ({ name: d ? `${d}/${n}` : n, type: 'file', content: content(n) })),
      fc.constantFrom('var/lib/dpkg/status', 'lib/apk/db/installed', 'etc/os-release', 'opt/status', 'opt/db/installed', 'app/node_modules/lodash/package.json')
        .map((p): Spec => ({ name: p, type: 'file', content: content(p.slice(p.lastIndexOf('/') + 1)) })),
    );
    const directory = dir.filter((d) => d.length > 0).map((d): Spec => ({ name: d, type: 'directory' }));
    const linkText = fc.oneof(
      fc.constantFrom('.', '..', '../..', '/', '/opt', 'opt', '../opt', '/usr/lib', 'usr/lib', '/var/lib/dpkg', '../../opt/status', '/opt/db', '/Var', 'lib/../lib', '/nowhere', 'dpkg/../..', '/app/../opt'),
      anyPath.map((p) => `/${p}`),
      anyPath,
    );
    const symlink = fc.tuple(anyPath, linkText).map(([name, linkname]): Spec => ({ name, type: 'symlink', linkname }));
    const hardlink = fc.tuple(anyPath, anyPath).map(([name, linkname]): Spec => ({ name, type: 'link', linkname }));
    const whiteout = fc.tuple(dir, fc.oneof(fileName, seg)).map(([d, n]): Spec => ({ name: d ? `${d}/.wh.${n}` : `.wh.${n}`, type: 'file' }));
    const opaque = dir.map((d): Spec => ({ name: d ? `${d}/.wh..wh..opq` : '.wh..wh..opq', type: 'file' }));
    const entry = fc.oneof({ weight: 3, arbitrary: file }, { weight: 1, arbitrary: directory }, { weight: 4, arbitrary: symlink }, { weight: 1, arbitrary: hardlink }, { weight: 1, arbitrary: whiteout }, { weight: 1, arbitrary: opaque });
    let aliased = 0;
    await fc.assert(fc.asyncProperty(fc.array(fc.array(entry, { minLength: 1, maxLength: 16 }), { minLength: 1, maxLength: 3 }), async (specs) => {
      const layers = await Promise.all(specs.map(analysed));
      const input = layers.map((analysis, i) => ({ analysis, label: `sha256:${String(i).repeat(64)}` as const }));
      const got = shown(stackLayers(input, ANALYZERS));
      const want = shown(stackLayersBefore(input, ANALYZERS));
      expect(got).to.deep.equal(want);
      if (JSON.stringify(got).includes('package-db-link') || (got as { placed: string[] }).placed.length > new Set(layers.flatMap((l) => l.results.map((r) => r.path))).size) aliased++;
    }), { numRuns: Number(process.env.RUNS ?? 400) });
    expect(aliased, 'runs with an alias finding').to.be.greaterThan(5);
  });
});
