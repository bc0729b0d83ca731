import { expect } from 'chai';
import { SCAN_KEY } from '../../../src/gate/gate.js';
import { ANALYZERS } from '../../../src/scan/analyzers/index.js';
import { imageScanVersion } from '../../../src/scan/engine.js';

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
});
