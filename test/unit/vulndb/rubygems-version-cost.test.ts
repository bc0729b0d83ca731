/**
 * A gem version is the pusher's text (a gemspec's `s.version`), compared with advisories on the thread
 * that judges. The validity pattern split a digit run between `[0-9]+` and `[0-9a-zA-Z]*` in every way:
 * 16,000 digits and a `!` took a second to refuse, a MiB of them an hour. The pattern now accepts the
 * same strings (property against the previous pattern) in linear time.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { compareGem, gemSegments } from '../../../src/vulndb/ecosystems/rubygems.js';

/** The previous pattern, as the reference for which strings are versions. */
const PREVIOUS = /^\s*([0-9]+[0-9a-zA-Z]*(?:\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)?\s*$/;

function valid(v: string): boolean {
  try {
    gemSegments(v);
    return true;
  } catch {
    return false;
  }
}

describe('rubygems versions: validity in linear time', () => {
  it('accepts exactly the strings the previous pattern accepted (fast-check)', () => {
    const ch = fc.constantFrom('0', '1', '9', 'a', 'Z', '.', '-', ' ', '\t', '!', '_');
    fc.assert(fc.property(fc.array(ch, { maxLength: 24 }).map((a) => a.join('')), (v) => {
      expect(valid(v), JSON.stringify(v)).to.equal(PREVIOUS.test(v));
    }), { numRuns: 3000 });
  });

  it('refuses a MiB of digits, dotted digits or a prerelease with a bad last character quickly', () => {
    const M = 1 << 20;
    for (const v of [' '.repeat(M) + '!', '1' + ' '.repeat(M) + '!', '1'.repeat(M) + '!', '1a'.repeat(M / 2) + '!', '1' + '.1a'.repeat(M / 3) + '!', '1-' + 'a1-'.repeat(M / 3) + '!']) {
      const t0 = performance.now();
      expect(valid(v)).to.equal(false);
      expect(performance.now() - t0, v.slice(0, 8)).to.be.below(2_000);
    }
    expect(compareGem('1.2.3', '1.2.10')).to.equal(-1);
  });
});
