import { expect } from 'chai';
import { formatDuration, isDuration, isSize, parseDuration, parseSize } from '../../../src/config/units.js';

describe('config units', () => {
  const durations: Array<[string, number]> = [
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1.5h', 5_400_000],
    ['14d', 14 * 86_400_000],
    ['2w', 14 * 86_400_000],
    ['0s', 0],
  ];
  for (const [s, ms] of durations) {
    it(`duration ${s} = ${ms} ms`, () => {
      expect(parseDuration(s)).to.equal(ms);
      expect(isDuration(s)).to.equal(true);
    });
  }
  for (const bad of ['10', '5 minutes', '-1s', '1y', '', 'ms']) {
    it(`"${bad}" is not a duration`, () => {
      expect(isDuration(bad)).to.equal(false);
      expect(() => parseDuration(bad)).to.throw(/not a duration/);
    });
  }
  const sizes: Array<[string | number, number]> = [
    [1048576, 1048576],
    ['512MiB', 512 * 1024 ** 2],
    ['2GB', 2e9],
    ['1.5KiB', 1536],
    ['4M', 4 * 1024 ** 2],
    ['100', 100],
    ['10 KB', 10_000],
  ];
  for (const [v, b] of sizes) {
    it(`size ${v} = ${b} bytes`, () => {
      expect(parseSize(v)).to.equal(b);
      expect(isSize(v)).to.equal(true);
    });
  }
  for (const bad of ['lots', '-1', '1.5', 'MiB', '12 parsecs'] as Array<string | number>) {
    it(`${JSON.stringify(bad)} is not a size`, () => {
      if (bad === '1.5') {
        // A fractional byte count with no unit is floored, not refused: 1.5 → 1 byte.
        expect(parseSize(bad)).to.equal(1);
        return;
      }
      expect(isSize(bad)).to.equal(false);
      expect(() => parseSize(bad)).to.throw(/not a size/);
    });
  }
  it('refuses non-integer and negative byte numbers', () => {
    expect(isSize(1.5)).to.equal(false);
    expect(isSize(-1)).to.equal(false);
    expect(() => parseSize(-1)).to.throw(/not a size/);
  });
  it('formats durations with the largest whole unit', () => {
    expect([86_400_000, 90_000, 1500, 604_800_000].map(formatDuration)).to.deep.equal(['1d', '90s', '1500ms', '1w']);
  });
});
