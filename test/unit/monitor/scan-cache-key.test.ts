import crypto from 'node:crypto';
import { expect } from 'chai';
import { SCAN_KEY } from '../../../src/gate/gate.js';
import { ANALYZERS } from '../../../src/scan/analyzers/index.js';
import { analyzerSetVersion, imageScanVersion } from '../../../src/scan/engine.js';

const D = `sha256:${'c'.repeat(64)}` as const;

describe('image scan cache key: keyed by the analyzer-set version', () => {
  it('an upgraded analyzer, an added or a removed one gives another key, so a stored inventory is not reused', () => {
    const now = imageScanVersion();
    expect(SCAN_KEY(D)).to.equal(`scan:${now}:${D}`);
    const bumped = ANALYZERS.map((a, i) => (i === 0 ? { ...a, version: a.version + 1 } : a));
    expect(imageScanVersion(bumped)).to.not.equal(now);
    expect(imageScanVersion(ANALYZERS.slice(1))).to.not.equal(now);
    expect(imageScanVersion([...ANALYZERS])).to.equal(now);
  });

  it('scans stored before the merge had a version (whiteouts beneath a lower symlink judged after opaque markers) are not reused', () => {
    // The key's form before MERGE_VERSION: a complete scan stored under it may be one the merge now calls incomplete.
    const before = crypto.createHash('sha256').update(`${analyzerSetVersion()};image:2`).digest('hex').slice(0, 16);
    expect(imageScanVersion()).to.not.equal(before);
  });
});
