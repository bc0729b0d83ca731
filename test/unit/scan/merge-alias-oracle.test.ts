/**
 * The symlink alias check of the layer stacking (files reached through a symlink, name-dependent
 * readings under the alias), made cheaper without changing what it finds: stacked by
 * src/scan/merge.ts and by the stacking as it was before (./oracle/merge-before.ts), generated
 * layers with files that have name-dependent readings (`.env` passwords, jar versions), directory
 * and file symlinks (relative, absolute, loops) must give the same placed results and diagnostics.
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
import { stackLayers as stackLayersBefore } from './oracle/merge-before.js';
import { storedZip } from './layout-helper.js';

const ENV_TEXT = Buffer.from('HOST=db\nDB_PASSWORD=s3cr3t-Value-77\n');
const JAR = storedZip({ 'META-INF/MANIFEST.MF': 'Manifest-Version: 1.0\r\nImplementation-Vendor-Id: org.apache.logging.log4j\r\nImplementation-Title: log4j-core\r\n\r\n' });
const STATUS = Buffer.from('Package: apt\nStatus: install ok installed\nVersion: 2.6.1\nArchitecture: amd64\n\n');

type Spec = Omit<WalkEntry, 'size' | 'mode'> & { content?: Buffer };

/** One layer's analysis by the real walker and analyzers, as the layer cache gives it back (JSON). */
async function analysed(entries: Spec[]): Promise<LayerAnalysis> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-alias-oracle-'));
  try {
    const w = new LayerWalker(ANALYZERS, { version: 't', tmpDir: tmp });
    for (const e of entries) await w.entry({ ...e, size: e.content?.length ?? 0, mode: 0o644 }, e.content ? Readable.from([e.content]) : null);
    return JSON.parse(JSON.stringify(w.result())) as LayerAnalysis;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** What a stacking shows: every placed result (sorted) and the diagnostics in their order. */
function shown(s: ReturnType<typeof stackLayers>): { placed: string[]; diagnostics: string[] } {
  return {
    placed: s.placed.map((x) => JSON.stringify([x.r.path, x.r.analyzer, x.layer ?? null, x.r.out])).sort(),
    diagnostics: s.diagnostics.map((d) => JSON.stringify(d)),
  };
}

describe('scan: the symlink alias check gives what the stacking before it gave', function () {
  this.timeout(120_000);

  it('property: generated layers with directory and file symlinks (loops too) over files read by name: same placed results and diagnostics', async () => {
    const seg = fc.constantFrom('app', 'config', 'lib', 'opt', 'usr', 'var', 'srv');
    const dir = fc.array(seg, { minLength: 0, maxLength: 3 }).map((s) => s.join('/'));
    const fileName = fc.constantFrom('.env', 'prod', 'app.env', '.env.sample', 'x.jar', 'log4j-core-2.14.1.jar', 'lib-1.2.jar', 'status', 'notes.txt');
    const content = (name: string): Buffer => (name.endsWith('.jar') ? JAR : name === 'status' ? STATUS : name === 'notes.txt' ? Buffer.from('hello\n') : ENV_TEXT);
    const file = fc.tuple(dir, fileName).map(([d, n]): Spec => ({ name: d ? `${d}/${n}` : n, type: 'file', content: content(n) }));
    const directory = dir.filter((d) => d.length > 0).map((d): Spec => ({ name: d, type: 'directory' }));
    // Link texts: to a directory or a file, relative or absolute, `.`/`..` loops, dangling, and the
    // names that make a file read by name (`.env`, a versioned jar, dpkg's status).
    const linkText = fc.oneof(
      fc.constantFrom('.', '..', '../..', '/', '/opt', '/srv/lib', 'config', '../config', '/app/config/prod', 'x.jar', '/nowhere', 'lib/../config'),
      fc.tuple(dir, fileName).map(([d, n]) => `/${d ? `${d}/` : ''}${n}`),
    );
    const linkName = fc.oneof(dir.filter((d) => d.length > 0), fc.tuple(dir, fc.constantFrom('.env', 'log4j-core-2.17.0.jar', 'current', 'var/lib/dpkg', 'status', 'lib'))
      .map(([d, n]) => (d ? `${d}/${n}` : n)));
    const symlink = fc.tuple(linkName, linkText).map(([name, linkname]): Spec => ({ name, type: 'symlink', linkname }));
    const entry = fc.oneof({ weight: 3, arbitrary: file }, { weight: 1, arbitrary: directory }, { weight: 3, arbitrary: symlink });
    let aliased = 0;
    await fc.assert(fc.asyncProperty(fc.array(fc.array(entry, { minLength: 1, maxLength: 14 }), { minLength: 1, maxLength: 2 }), async (specs) => {
      const layers = await Promise.all(specs.map(analysed));
      const input = layers.map((analysis, i) => ({ analysis, label: `sha256:${String(i).repeat(64)}` as const }));
      const got = shown(stackLayers(input, ANALYZERS));
      const want = shown(stackLayersBefore(input, ANALYZERS));
      expect(got).to.deep.equal(want);
      // How many runs placed a finding under a name only a symlink gives (checked below: the
      // generator reaches the path this test is about).
      if (got.placed.length !== new Set(layers.flatMap((l) => l.results.map((r) => r.path))).size) aliased++;
    }), { numRuns: 200 });
    expect(aliased, 'runs with a result placed under another name').to.be.greaterThan(5);
  });

  it('a merged /usr (/bin, /lib, /sbin → usr/…) with programs, a .env reached through a linked directory (and its own symlink) and a jar under a versioned alias: the same as before, and the aliases found', async () => {
    const entries: Spec[] = [
      { name: 'usr/bin/X11', type: 'symlink', linkname: '.' },
      { name: 'bin', type: 'symlink', linkname: 'usr/bin' },
      { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
      { name: 'sbin', type: 'symlink', linkname: 'usr/sbin' },
      { name: 'srv/config/prod', type: 'file', content: ENV_TEXT },
      { name: 'srv/.env', type: 'symlink', linkname: 'config/prod' },
      { name: 'app', type: 'symlink', linkname: '/srv' },
      { name: 'usr/share/java/x.jar', type: 'file', content: JAR },
      { name: 'opt/log4j-core-2.14.1.jar', type: 'symlink', linkname: '/usr/share/java/x.jar' },
      { name: 'var/lib/dpkg/status', type: 'file', content: STATUS },
    ];
    for (let i = 0; i < 300; i++) entries.push({ name: `usr/bin/prog${i}`, type: 'file', content: Buffer.from('#!/bin/sh\n') }, { name: `usr/lib/lib${i}.so.1`, type: 'file', content: Buffer.from('x') }, { name: `usr/lib/lib${i}.so`, type: 'symlink', linkname: `lib${i}.so.1` });
    const input = [{ analysis: await analysed(entries) }];
    const got = shown(stackLayers(input, ANALYZERS));
    expect(got).to.deep.equal(shown(stackLayersBefore(input, ANALYZERS)));
    // Placed once under one of its .env names (each file and finding is placed once, however many names reach it).
    expect(got.placed.filter((p) => p.includes('"/app/.env"') || p.includes('"/srv/.env"')), 'the .env password under an alias').to.have.length(1);
    expect(got.placed.some((p) => p.includes('2.14.1')), 'the jar version from the alias').to.equal(true);
  });
});
