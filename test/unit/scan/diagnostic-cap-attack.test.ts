/**
 * The per-layer diagnostic cap must bound what one layer's analysis holds (it is kept in the layer
 * cache and stacked for every image using the layer), including the diagnostics analyzers put in
 * their per-file results: a jar of many archives nested past the depth limit says `archive-depth`
 * once per nested archive.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Digest } from '../../../src/core/index.js';
import { ANALYZERS } from '../../../src/scan/analyzers/index.js';
import { DIAGNOSTICS_PER_CODE } from '../../../src/scan/diagnostic-cap.js';
import { analyzerSetVersion } from '../../../src/scan/engine.js';
import { readLayer } from '../../../src/scan/layer-stream.js';
import { LayerWalker } from '../../../src/scan/walker.js';
import { makeTar, sha256, storedZip } from './layout-helper.js';


describe('scan (attack): the per-layer diagnostic cap bounds what the layer analysis holds', function () {
  this.timeout(120_000);
  it('20 jars, each with 2,000 archives nested past the depth limit: the layer analysis keeps at most 100 archive-depth diagnostics (and a summary), not 40,000', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-diag-attack-'));
    try {
      // depth 0 → 1 → 2 → 3 → 4: the archives inside the depth-4 one are past the limit
      let inner = storedZip(Array.from({ length: 2000 }, (_, i): [string, Buffer] => [`lib/x${i}.jar`, Buffer.from('PK')]));
      for (let d = 0; d < 4; d++) inner = storedZip([[`n${d}.jar`, inner]]);
      const tar = await makeTar(Array.from({ length: 20 }, (_, i) => ({ name: `opt/app${i}.jar`, content: inner })));
      const digest = sha256(tar) as Digest;
      const walker = new LayerWalker(ANALYZERS, { version: analyzerSetVersion(), digest, tmpDir: tmp });
      await readLayer(Readable.from([tar]), { digest, size: tar.length }, walker);
      const a = walker.result();
      const all = [...a.diagnostics, ...a.results.flatMap((r) => r.out.diagnostics ?? [])];
      const depth = all.filter((d) => d.code === 'archive-depth' && d.more === undefined);
      expect(depth.length, `${depth.length} archive-depth diagnostics held by the layer analysis`).to.be.at.most(DIAGNOSTICS_PER_CODE);
      expect(all.filter((d) => d.code === 'archive-depth' && d.more !== undefined).map((d) => d.more), 'the rest counted').to.deep.equal([40_000 - DIAGNOSTICS_PER_CODE]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('300 unreadable nested archives in one jar (incomplete each): 100 kept, the rest one incomplete summary; the layer stays incomplete', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pushgate-diag-attack-'));
    try {
      const jar = storedZip(Array.from({ length: 300 }, (_, i): [string, Buffer] => [`lib/x${i}.jar`, Buffer.from('PK not a zip')]));
      const tar = await makeTar([{ name: 'opt/app.jar', content: jar }]);
      const digest = sha256(tar) as Digest;
      const walker = new LayerWalker(ANALYZERS, { version: analyzerSetVersion(), digest, tmpDir: tmp });
      await readLayer(Readable.from([tar]), { digest, size: tar.length }, walker);
      const a = walker.result();
      const all = [...a.diagnostics, ...a.results.flatMap((r) => r.out.diagnostics ?? [])].filter((d) => d.code === 'parse-error');
      expect(all.filter((d) => d.more === undefined && d.incomplete)).to.have.length(DIAGNOSTICS_PER_CODE);
      expect(all.filter((d) => d.more !== undefined).map((d) => `${d.more} ${d.incomplete}`)).to.deep.equal([`${300 - DIAGNOSTICS_PER_CODE} true`]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
